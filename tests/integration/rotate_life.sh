#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# rotate_life.sh - the master key's whole life on a pair of domains, with
# custodian cards and their backups in a private pcscd:
#   1. the initial ceremony (key 1 from two parts, each copied to a backup
#      card), blobs made under key 1;
#   2. key 2 staged beside it (parts generated on the same cards, copied to
#      the backups), blobs re-enciphered, finalize (refused before the
#      re-encipher), old and new blobs work on both members, destroy-old
#      (the OLD register and key 1's parts on all four cards), blobs still
#      under key 1 refused naming key 1's MKVP; the log verifies;
#   3. on a second group: stage, re-encipher, finalize (a module killed in
#      the middle of it; the next run completes the group), then back out: key 1
#      CURRENT again, key 2 set aside, blobs re-enciphered back;
#   4. on a third group: decommission, with the cards' fate recorded; the
#      report prints the decommissioning certificate.
. "${HSMADM_SRC:?}/tests/integration/domain_common.sh"
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"

CPIN=22220000
cer_setup 4
trap 'harness_stop 2>/dev/null || true; cleanup' EXIT
init_module m1 DC1-M01 --domains 12
init_module m2 DC2-M01 --domains 12
start_module m1
start_module m2
setup_workstation m1 m2
keyfile a1
keyfile a2
cer_card 0 custodian "Carol Custodian" $CPIN
cer_card 1 custodian "Carol Custodian" $CPIN --backup-of "$CARDID_0"
cer_card 2 custodian "Dave Custodian" $CPIN
cer_card 3 custodian "Dave Custodian" $CPIN --backup-of "$CARDID_2"
PINS=$(pins $CPIN 400)
R() { harness_reader_name "$1"; }
# grp HEX: a pattern as the tools print it (first 16 bytes, groups of 4)
grp() { sed 's/\(....\)/\1 /g; s/ $//' <<<"${1:0:32}"; }
AK=(--admin-key-file "$T/a1.pem" --admin-key-file "$T/a2.pem")
echo "Change request CR-17: rotate the master key of the payments domains." >"$W/cr17.txt"
echo "Decommissioning request DR-3." >"$W/dr3.txt"
REQ=(--request-id CR-17 --request-doc "$W/cr17.txt")
# has TEXT WHAT: the last expect_exit's output (stdout and stderr) holds TEXT.
has() { grep -qF -- "$1" "$T/out" && ok "$2" || { sed 's/^/    | /' "$T/out" >&2; fail "$2: output lacks \"$1\""; }; }
# p11 CHECK... WHAT: run through p11_run.sh (modules on SoftHSMv2 tokens),
# check the tokens with pkcs11-tool (p11_objects.sh); nothing on files.
p11() {
	[ -n "${HSMADM_P11_CHECK:-}" ] || return 0
	local what=${*: -1}
	"$HSMADM_P11_CHECK" "${@:1:$#-1}" >/dev/null && ok "pkcs11: $what" || fail "pkcs11: $what"
}

# life GROUP DOMAIN LOG: a group with two admins (2-of-2) and key 1 active,
# its parts K1p1 (slot 0, copied to 1) and K1p2 (slot 2, copied to 3).
life() {
	local g=$1 dom=$2 log=$3 k=$1
	expect_exit 0 "open the log of $g" -- hsmadm-ceremony --log "$log" --facilitator Fay \
		open --title "life of $g" --installation TEST
	expect_exit 0 "group $g" -- hsmadm-domain group create "$g" m1:"$dom" m2:"$dom"
	for a in a1 a2; do
		expect_exit 0 "admin $a" -- hsmadm-domain admin add "$g" --pubkey-file "$T/$a.pem" \
			--name "$a" --identity "$a" --evidence "$log"
	done
	expect_exit 0 "2-of-2" -- hsmadm-domain run "$g" thresholds.set --signature 2 \
		--revocation 1 --key-file "$T/a1.pem" --key-file "$T/a2.pem" --evidence "$log"
	parts "$log" "${k}k1"
	expect_exit 0 "initial ceremony of $g" -- hsmadm-commit run --group "$g" \
		--part "${k}k1p1" --part "${k}k1p2" --log "$log" "${AK[@]}" --pin-fd 4 4<"$PINS"
}

# parts LOG PREFIX: PREFIXp1 on slot 0 copied to 1, PREFIXp2 on 2 copied to 3.
parts() {
	local log=$1 p=$2
	for i in 1 2; do
		local s=$(((i - 1) * 2))
		expect_exit 0 "generate $p p$i" -- hsmadm-mkpart generate --part "${p}p$i" \
			--reader "$(R $s)" --log "$log" --pin-fd 3 3<<<$CPIN
		expect_exit 0 "copy $p p$i to the backup" -- hsmadm-mkpart copy --part "${p}p$i" \
			--reader "$(R $s)" --to-reader "$(R $((s + 1)))" --log "$log" --pin-fd 3 \
			--backup-pin-fd 4 3<<<$CPIN 4<<<$CPIN
	done
}

stage() {   # stage GROUP LOG PREFIX
	parts "$2" "$3"
	expect_exit 0 "stage $3 on $1" -- hsmadm-rotate stage --group "$1" --part "$3p1" \
		--part "$3p2" --log "$2" "${REQ[@]}" "${AK[@]}" --pin-fd 4 4<"$PINS"
}

# ---- 1 and 2: a whole life ----
LOG=$W/life.jsonl
life ga 3 "$LOG"
MK1=$(jq -r 'select(.type=="mk.activated") | .body.mkvp' "$LOG" | tail -1)
[ ${#MK1} = 64 ] && ok "key 1 active: ${MK1:0:16}" || fail "no mk.activated for key 1"
p11 attrs DC1-M01 DC2-M01 "registers and private keys sensitive, not extractable"
expect_exit 0 "20 blobs under key 1" -- hsmadm-rotate blob generate ga --count 20 \
	--output "$W/ga.jsonl" --id-prefix b
expect_exit 0 "data under blob 1" -- hsmadm-rotate blob encrypt ga --blob-file "$W/ga.jsonl" \
	--data "ledger 2026" --out "$W/ct1"
cp "$W/ga.jsonl" "$W/ga-keep.jsonl"   # left under key 1 on purpose

expect_exit 2 "stage without the request" -- hsmadm-rotate stage --group ga --part x1 \
	--part x2 --log "$LOG"
# a new part on one card only is refused before anything is loaded
expect_exit 0 "a part without its backup copy" -- hsmadm-mkpart generate --part gax1 \
	--reader "$(R 0)" --log "$LOG" --pin-fd 3 3<<<$CPIN
expect_exit 6 "stage refuses a part that has no backup copy" -- hsmadm-rotate stage --group ga \
	--part gax1 --part gak1p2 --log "$LOG" "${REQ[@]}" "${AK[@]}" --pin-fd 4 4<"$PINS"
has "copy it to its custodian's backup card first" "stage names the missing copy"
stage ga "$LOG" gak2
has "Rotation begun" "stage says the rotation began"
MK2=$(jq -r 'select(.type=="mk.committed") | .body.mkvp' "$LOG" | tail -1)
[ "$MK2" != "$MK1" ] && ok "key 2 committed: ${MK2:0:16}" || fail "key 2 not committed"
expect_exit 0 "key 1 still works while key 2 is staged" -- hsmadm-rotate blob decrypt ga \
	--blob-file "$W/ga.jsonl" --in "$W/ct1"
has "ledger 2026" "decrypts under key 1"

expect_exit 6 "finalize before the re-encipher is refused" -- hsmadm-rotate finalize \
	--group ga --log "$LOG" "${REQ[@]}" "${AK[@]}"
has "not re-enciphered" "finalize says the blobs come first"
expect_exit 0 "re-encipher to pending" -- hsmadm-rotate reencipher ga --to pending \
	--input "$W/ga.jsonl" --log "$LOG"
expect_exit 0 "finalize" -- hsmadm-rotate finalize --group ga --log "$LOG" "${REQ[@]}" "${AK[@]}"
has "CURRENT master key MKVP: $(grp "$MK2")" "finalize names key 2 as CURRENT"
has "OLD master key MKVP:     $(grp "$MK1")" "and key 1 as OLD"
expect_exit 0 "old blob works after finalize" -- hsmadm-rotate blob decrypt ga \
	--blob-file "$W/ga-keep.jsonl" --in "$W/ct1"
has "DC2-M01 domain 3: decrypted" "on both members"
expect_exit 0 "re-enciphered blob works" -- hsmadm-rotate blob decrypt ga \
	--blob-file "$W/ga.reenciphered.jsonl" --in "$W/ct1"
has "ledger 2026" "same data under key 2"
has "DC2-M01 domain 3: decrypted" "on both members"
expect_exit 0 "finalize again changes nothing" -- hsmadm-rotate finalize --group ga \
	--log "$LOG" "${REQ[@]}" "${AK[@]}"

# Dave's backup card is away: the members' OLD is cleared and three cards are
# wiped, then the run stops; run again with the card back, it finishes the
# fourth card and only then records mk.destroyed.
harness_remove 3
rc=0
hsmadm-rotate destroy-old --group ga --part gak1p1 --part gak1p2 --log "$LOG" "${REQ[@]}" \
	"${AK[@]}" --pin-fd 4 --timeout 2 4<"$PINS" >"$T/out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "not every card is wiped yet" "$T/out" &&
	ok "destroy-old stops at the missing card (exit $rc), saying so" ||
	{ sed 's/^/    | /' "$T/out" >&2; fail "destroy-old without the fourth card: exit $rc"; }
[ "$(jq -r 'select(.type=="mk.destroyed") | .type' "$LOG" | wc -l)" = 0 ] &&
	ok "no mk.destroyed while a card still holds a part" || fail "mk.destroyed written too early"
harness_insert "$CARDFILE_3" 3
expect_exit 0 "destroy-old again: the fourth card" -- hsmadm-rotate destroy-old \
	--group ga --part gak1p1 --part gak1p2 --log "$LOG" "${REQ[@]}" "${AK[@]}" \
	--pin-fd 4 4<"$PINS"
has "destroyed on every member already; finishing its cards" "the members are not asked again"
[ "$(grep -c '^Part gak1p. was removed from .* already' "$T/out")" = 3 ] &&
	[ "$(grep -c '^Part gak1p2 removed from' "$T/out")" = 1 ] && ok "three cards done before, one now" ||
	fail "cards: $(grep '^Part' "$T/out")"
jq -e 'select(.type=="mk.destroyed") | .body.cards | length == 4' "$LOG" >/dev/null &&
	ok "mk.destroyed names the four cards" || fail "mk.destroyed lacks the cards"
p11 gone-from-log "$LOG" "the objects destroy-old's receipts name are gone from the tokens"
expect_exit 5 "a blob still under key 1 is refused" -- hsmadm-rotate blob decrypt ga \
	--blob-file "$W/ga-keep.jsonl" --in "$W/ct1"
has "${MK1:0:16}" "the refusal names key 1's MKVP"
expect_exit 0 "re-enciphered blob still works" -- hsmadm-rotate blob decrypt ga \
	--blob-file "$W/ga.reenciphered.jsonl" --in "$W/ct1"
expect_exit 0 "cards keep key 2's parts" -- hsmadm-mkpart verify --part gak2p1 \
	--reader "$(R 1)" --log "$LOG" --pin-fd 3 3<<<$CPIN
expect_exit 0 "the life's log verifies" -- hsmadm-audit verify "$LOG" --module-ca "$T/ca.pem" \
	--allow-incomplete
expect_exit 0 "every record matches its schema" -- "$HSMADM_BUILD/tests/test_evlog_schema" "$LOG"
expect_exit 0 "replay understands the rotation" -- hsmadm-audit replay "$LOG" \
	--module-ca "$T/ca.pem" --allow-incomplete
# a forged order: the old key destroyed before the rotation was finalized
python3 - "$LOG" "$W/forged.jsonl" <<'PY'
import hashlib, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
fin = next(i for i, r in enumerate(recs) if r["type"] == "mk.finalized")
des = next(i for i, r in enumerate(recs) if r["type"] == "mk.destroyed")
recs.insert(fin, recs.pop(des))      # mk.destroyed moved before mk.finalized
prev = recs[0]["prev"]
with open(sys.argv[2], "w") as f:
    for i, r in enumerate(recs):
        r["seq"] = i + 1
        r["prev"] = prev
        line = json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        prev = hashlib.sha256(line.encode()).hexdigest()
        f.write(line)
PY
expect_exit 30 "a log whose old key was destroyed before finalize fails" -- hsmadm-audit verify \
	"$W/forged.jsonl" --module-ca "$T/ca.pem" --allow-incomplete
has "destroyed before the rotation that replaces it was finalized" "the verifier names it"

# ---- 3: back out ----
LOGB=$W/backout.jsonl
life gb 4 "$LOGB"
MB1=$(jq -r 'select(.type=="mk.activated") | .body.mkvp' "$LOGB" | tail -1)
expect_exit 0 "blobs under key 1" -- hsmadm-rotate blob generate gb --count 10 \
	--output "$W/gb.jsonl" --id-prefix b
expect_exit 0 "data under blob 1" -- hsmadm-rotate blob encrypt gb --blob-file "$W/gb.jsonl" \
	--data "payroll" --out "$W/ct2"
stage gb "$LOGB" gbk2
expect_exit 0 "re-encipher" -- hsmadm-rotate reencipher gb --to pending --input "$W/gb.jsonl" \
	--log "$LOGB"
# A member dies right after it applied mk.activate (its answer lost; the
# other member may or may not have it): the next finalize completes the group
# from the command the module kept, records the lost receipts, and ends.
stop_module m1
start_module m1 --crash-after 1
rc=0
hsmadm-rotate finalize --group gb --log "$LOGB" "${REQ[@]}" "${AK[@]}" >"$T/out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && ok "finalize stops when a module dies mid-command (exit $rc)" ||
	fail "finalize succeeded although a module died"
wait_gone m1
start_module m1
expect_exit 0 "finalize again: the roll-forward completes" -- hsmadm-rotate finalize \
	--group gb --log "$LOGB" "${REQ[@]}" "${AK[@]}"
# the other member either never got it (healed from the one that applied it)
# or applied it too (its lost answer fetched again): the engine decides the order
grep -qE "completed from the member that applied it|whose answer was lost" "$T/out" &&
	ok "the interrupted command was completed and recorded" ||
	fail "finalize did not say how it completed the interrupted command"
expect_exit 0 "the group compares equal" -- hsmadm-domain group compare gb
expect_exit 0 "back out" -- hsmadm-rotate backout --group gb --log "$LOGB" "${REQ[@]}" "${AK[@]}"
has "CURRENT master key MKVP: $(grp "$MB1")" "key 1 is CURRENT again"
expect_exit 0 "blobs re-enciphered back to key 1" -- hsmadm-rotate reencipher gb --to current \
	--input "$W/gb.reenciphered.jsonl" --log "$LOGB"
expect_exit 0 "the backed-out blob works" -- hsmadm-rotate blob decrypt gb \
	--blob-file "$W/gb.reenciphered.reenciphered.jsonl" --in "$W/ct2"
has "payroll" "same data under key 1 again"
expect_exit 6 "destroy-old after the backout: no old key" -- hsmadm-rotate destroy-old \
	--group gb --part gbk1p1 --log "$LOGB" "${REQ[@]}" "${AK[@]}" --pin-fd 4 4<"$PINS"
expect_exit 0 "the backout's log verifies" -- hsmadm-audit verify "$LOGB" \
	--module-ca "$T/ca.pem" --allow-incomplete

# ---- 4: decommission ----
LOGD=$W/decom.jsonl
life gd 5 "$LOGD"
expect_exit 2 "cards without a witness" -- hsmadm-rotate decommission --group gd --log "$LOGD" \
	--request-id DR-3 --request-doc "$W/dr3.txt" "${AK[@]}" --card "$CARDID_0=destroyed"
expect_exit 0 "decommission" -- hsmadm-rotate decommission --group gd --log "$LOGD" \
	--request-id DR-3 --request-doc "$W/dr3.txt" "${AK[@]}" \
	--card "$CARDID_0=destroyed" --card "$CARDID_1=retained" --witness "Wanda Witness" \
	--witness "Sue Supervisor"
has "zeroized" "every member zeroized"
p11 gone-from-log "$LOGD" "the objects the zeroize receipts name are gone from the tokens"
p11 empty DC1-M01 5 "no object of DC1-M01 domain 5 is left"
p11 empty DC2-M01 5 "no object of DC2-M01 domain 5 is left"
expect_exit 0 "decommission again: already zeroized" -- hsmadm-rotate decommission --group gd \
	--log "$LOGD" --request-id DR-3 --request-doc "$W/dr3.txt" "${AK[@]}"
has "zeroized already" "a re-run sends nothing"
# --json: standard output is one JSON document, the progress lines go to stderr
hsmadm-rotate decommission --group gd --log "$LOGD" --request-id DR-3 --request-doc "$W/dr3.txt" \
	"${AK[@]}" --card "$CARDID_2=retained" --witness "Wanda Witness" --json 2>/dev/null |
	jq -e '.outcome == "zeroized"' >/dev/null && ok "--json prints only JSON on stdout" ||
	fail "decommission --json: stdout is not one JSON document"
expect_exit 0 "the decommissioning log verifies" -- hsmadm-audit verify "$LOGD" \
	--module-ca "$T/ca.pem" --allow-incomplete
expect_exit 0 "the report" -- hsmadm-audit report "$LOGD" --module-ca "$T/ca.pem" \
	--allow-incomplete
has "Decommissioning certificate" "the report prints the decommissioning certificate"
has "DR-3" "naming the request"
[ "$(grep -c "zeroized at counter [0-9]*; module-signed zeroize receipt, record" "$T/out")" = 2 ] &&
	ok "both domains zeroized, each with its receipt" ||
	{ grep -A8 "^Decommissioning" "$T/out" >&2; fail "certificate lacks a domain proof"; }
if [ -n "${HSMADM_P11_CHECK:-}" ]; then
	[ "$(grep -c "record [0-9]*, naming [1-9][0-9]* PKCS#11 token objects destroyed" "$T/out")" = 2 ] &&
		ok "pkcs11: the certificate counts the token objects each zeroize receipt names" ||
		fail "pkcs11: the certificate does not count the destroyed token objects"
	grep -q "keys on a PKCS#11 token" "$T/out" && ! grep -q "keys in the module's files" "$T/out" &&
		ok "pkcs11: the report says the receipts' key store" || fail "pkcs11: report key store"
else
	grep -q "keys in the module's files (rehearsal)" "$T/out" && ! grep -q "PKCS#11" "$T/out" &&
		ok "the report says the receipts come from a rehearsal key store" ||
		fail "report key store"
fi
has "card $CARDID_0: destroyed, witnessed by Wanda Witness, Sue Supervisor" "card 1's fate"
has "card $CARDID_1: retained" "card 2's fate"
expect_exit 0 "the report as HTML" -- hsmadm-audit report "$LOGD" --module-ca "$T/ca.pem" \
	--allow-incomplete --html "$W/decom.html"
grep -q "<h2>Decommissioning certificate</h2>" "$W/decom.html" && ok "HTML certificate" ||
	fail "HTML report lacks the certificate"
finish
