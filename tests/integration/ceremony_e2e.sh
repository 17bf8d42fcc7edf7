#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end, no person: a master-key ceremony on a domain pair (two
# hsmadm-simd modules) with virtual cards: 3 admin cards + their backups
# (registered under the same identities), 3 custodian cards + backups, and a
# supervisor card. Thresholds 2-of-3; 3 key parts generated and copied to the
# backups; loaded, committed and activated with hsmadm-commit. On the way:
#  - a wrong custodian card is refused before anything is sent;
#  - a part whose KPVP differs from its record is refused before anything is sent;
#  - a load interrupted by a module that dies right after applying part 1
#    (its answer and receipt never arrive), and then by a custodian card
#    pulled while its PIN is asked, resumes without loading any part twice,
#    and records the lost receipt (fetched again from the module) so the log
#    has no gap;
# and at the end: the MKVP is equal on both domains and equal to
# SHA-256(0x01 || p1^p2^p3) with its last 4 bytes zeroed (recomputed here
# from the virtual cards' files), the supervisor signs, hsmadm-audit verify
# passes, replay --against agrees, and no PIN or key part appears in the log
# or in any file the commands wrote.
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"

APIN=11110000 CPIN=22220000 SPIN=33330000
cer_setup 13
declare -A MPID MPORT
cer_stop_modules() {
	local m
	for m in "${!MPID[@]}"; do
		[ -n "${MPID[$m]}" ] && kill "${MPID[$m]}" 2>/dev/null && wait "${MPID[$m]}" 2>/dev/null
	done
	return 0
}
trap 'cer_stop_modules; harness_stop' EXIT
export HSMADM_HOME="$W/home"

# ---- modules: two, one module CA, one client CA ----
hsmadm-simd init --serial DC1-M01 --dir "$W/m1" --domains 8 >/dev/null
hsmadm-simd init --serial DC2-M01 --dir "$W/m2" --domains 8 --module-ca-key "$W/m1/ca.key" \
	--module-ca-cert "$W/m1/ca.pem" --client-ca "$W/m1/client-ca.pem" >/dev/null
start_module() {
	local m=$1 listen=127.0.0.1:0 i
	shift
	[ -n "${MPORT[$m]:-}" ] && listen=127.0.0.1:${MPORT[$m]}
	rm -f "$W/$m.port"
	hsmadm-simd serve --dir "$W/$m" --listen "$listen" --port-file "$W/$m.port" "$@" \
		>>"$W/$m.log" 2>&1 &
	MPID[$m]=$!
	for i in $(seq 1 100); do [ -s "$W/$m.port" ] && break; sleep 0.05; done
	[ -s "$W/$m.port" ] || { cat "$W/$m.log" >&2; fail "module $m did not start"; }
	MPORT[$m]=$(tr -dc '0-9' <"$W/$m.port")
}
stop_module() {
	kill "${MPID[$1]}" 2>/dev/null || true
	wait "${MPID[$1]}" 2>/dev/null || true
	MPID[$1]=
}
start_module m1
start_module m2
D=hsmadm-domain
hsmadm-simd issue-client --dir "$W/m1" --name ws1 --out-key "$W/ws.key" --out-cert "$W/ws.pem" >/dev/null
run 0 "workstation client" $D client set --cert "$W/ws.pem" --key "$W/ws.key"
run 0 "trust DC1-M01" $D module add m1 "127.0.0.1:${MPORT[m1]}" --ca "$W/m1/ca.pem" --yes
run 0 "trust DC2-M01" $D module add m2 "127.0.0.1:${MPORT[m2]}" --ca "$W/m1/ca.pem" --yes
run 0 "group of a domain pair" $D group create pair m1:3 m2:3

# ---- cards: readers 0-2 admins, 3-5 their backups, 6-8 custodians,
# 9-11 their backups, 12 the supervisor ----
for i in 0 1 2; do
	cer_card $i admin "Admin $((i + 1))" $APIN
	eval "cer_card $((i + 3)) admin \"Admin $((i + 1))\" $APIN --backup-of \$CARDID_$i"
	cer_card $((i + 6)) custodian "Custodian $((i + 1))" $CPIN
	eval "cer_card $((i + 9)) custodian \"Custodian $((i + 1))\" $CPIN --backup-of \$CARDID_$((i + 6))"
done
cer_card 12 supervisor "Sue Supervisor" $SPIN
R() { harness_reader_name "$1"; }
# A card's slot-9C public key (the virtual card file holds it; tests only).
pub9c() {
	local f
	eval "f=\$CARDFILE_$1"
	jq -r '.keys["9c"].private_key_pem' "$f" | openssl pkey -pubout -out "$W/pub$1.pem"
	echo "$W/pub$1.pem"
}

# ---- admins: each identity with its primary and backup card ----
for i in 0 1 2; do
	run 0 "add admin $((i + 1)) (imprint mode)" $D admin add pair --pubkey-file "$(pub9c $i)" \
		--name "Admin $((i + 1))" --identity "admin$((i + 1))"
	run 0 "add admin $((i + 1))'s backup card, same identity" $D admin add pair \
		--pubkey-file "$(pub9c $((i + 3)))" --name "Admin $((i + 1)) backup" --identity "admin$((i + 1))"
done
run 0 "propose thresholds 2-of-3" $D thresholds set pair --signature 2 --revocation 2 --out "$W/thr.json"
run 0 "admin 1 signs with the card" $D sign "$W/thr.json" --card --reader "$(R 0)" --pin-fd 3 3<<<$APIN
run 0 "admin 2 signs with the backup card" $D sign "$W/thr.json" --card --reader "$(R 4)" --pin-fd 3 3<<<$APIN
run 0 "thresholds applied on both" $D --json submit "$W/thr.json"
echo "$OUT" >"$W/thr-report.json"

# ---- the key parts ----
LOG=$W/ceremony.jsonl
# The facilitator opens the log and puts people on the roster from their
# cards (the supervisor's key is how the verifier knows her signature).
FAC=(hsmadm-ceremony --log "$LOG" --facilitator "Fay Facilitator")
run 0 "the facilitator opens the ceremony's log" "${FAC[@]}" open \
	--title "Master key ceremony, domain pair" --installation ACME-TEST
run 0 "supervisor on the roster, read from her card" "${FAC[@]}" roster add --role supervisor \
	--card --reader "$(R 12)" --json
# SKI = SHA-256 of the uncompressed point, the last 97 bytes of the P-384 SPKI.
jq_is .member.ski "$(openssl pkey -pubin -in "$(pub9c 12)" -outform DER | tail -c 97 |
	openssl dgst -sha256 -r | cut -c1-64)"
jq_is .member.card_id "$CARDID_12"
jq_is .member.name "Sue Supervisor"
run 0 "administrator 1 on the roster, from the card" "${FAC[@]}" roster add --role admin \
	--name "Admin 1" --card --reader "$(R 0)"
run 0 "a witness on the roster" "${FAC[@]}" roster add --role witness --name "Walt Witness"
run 0 "step: key parts begins" "${FAC[@]}" step begin --step parts --title "Generate and back up the key parts"
run 0 "baseline: the domains' last receipts" hsmadm-commit baseline --receipts "$W/thr-report.json" --log "$LOG"
for i in 1 2 3; do
	run 0 "custodian $i generates part p$i" hsmadm-mkpart generate --part p$i --reader "$(R $((i + 5)))" \
		--log "$LOG" --pin-fd 3 3<<<$CPIN
	run 0 "custodian $i copies p$i to the backup card" hsmadm-mkpart copy --part p$i \
		--reader "$(R $((i + 5)))" --to-reader "$(R $((i + 8)))" --log "$LOG" \
		--pin-fd 3 --backup-pin-fd 4 3<<<$CPIN 4<<<$CPIN
done
run 0 "step: key parts ends" "${FAC[@]}" step end --step parts
run 0 "step: load begins" "${FAC[@]}" step begin --step load --title "Load, commit, activate"
P1=$(open_part "$CARDFILE_6" p1) P2=$(open_part "$CARDFILE_7" p2) P3=$(open_part "$CARDFILE_8" p3)
[ "$(open_part "$CARDFILE_10" p2)" = "$P2" ] || fail "backup of p2 differs"

# Wait until process $1 blocks reading a pipe (the PIN), at most 20 s.
wait_pin_read() {
	local i
	for i in $(seq 1 400); do
		grep -q pipe_read "/proc/$1/wchan" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "process $1 never waited for a PIN"
}
COMMIT=(hsmadm-commit --group pair --part p1 --part p2 --part p3 --log "$LOG")
ADMINS=(--admin-reader "$(R 0)" --admin-reader "$(R 1)" --admin-pin-fd 5)
APINS=$(pins $APIN 40)
CPINS=$(pins $CPIN 40)
counters() { $D --json group status pair | jq -c '[.. | objects | .counter? // empty]'; }
C0=$(counters)

# The administrators approve the three parts by KPVP first (one decision:
# mk.approve_load); a wrong custodian card is then refused before its part
# is sent anywhere.
run 11 "wrong custodian card refused" "${COMMIT[@]}" load --reader "$(R 8)" --pin-fd 4 \
	"${ADMINS[@]}" 4<"$CPINS" 5<"$APINS"
err_has "part p1 was sent to no module"
$D --json group status pair >"$W/approved.json"
[ "$(jq -c '[.. | objects | select(has("approved")) | .approved | map(.part_id) | join(",")] | unique' "$W/approved.json")" = '["p1,p2,p3"]' ] ||
	fail "the load of p1, p2, p3 is not approved on both domains: $(cat "$W/approved.json")"
[ "$(jq -c '[.. | objects | .parts_loaded? // empty | length] | unique' "$W/approved.json")" = '[0]' ] ||
	fail "a part was loaded after the wrong card"
pass "the load approved on both domains; no part sent after the wrong card"
C0=$(counters)

# A part whose KPVP does not match its record is refused before anything is
# sent: custodian 1's backup card gets another "p1" (made outside the log).
run 0 "replace p1 on the backup card (no record)" hsmadm-mkpart destroy --part p1 \
	--reader "$(R 9)" --yes --pin-fd 3 3<<<$CPIN
run 0 "a different p1 on the backup card" hsmadm-mkpart generate --part p1 --reader "$(R 9)" \
	--pin-fd 3 3<<<$CPIN
run 4 "part with another KPVP than its record refused" "${COMMIT[@]}" load --reader "$(R 9)" \
	--pin-fd 4 "${ADMINS[@]}" 4<"$CPINS" 5<"$APINS"
err_has "the record says"
[ "$(counters)" = "$C0" ] || fail "a module changed after the KPVP mismatch"
pass "nothing sent after the KPVP mismatch"
run 0 "remove the stray p1" hsmadm-mkpart destroy --part p1 --reader "$(R 9)" --yes \
	--pin-fd 3 3<<<$CPIN
run 0 "copy the real p1 back to the backup card" hsmadm-mkpart copy --part p1 \
	--reader "$(R 6)" --to-reader "$(R 9)" --log "$LOG" --pin-fd 3 --backup-pin-fd 4 \
	3<<<$CPIN 4<<<$CPIN

# The module DC2-M01 dies right after applying part 1 (the approval was
# applied above): the answer with its receipt never comes.
stop_module m2
start_module m2 --crash-after 1
run 27 "load interrupted by a module" "${COMMIT[@]}" load --pin-fd 4 --timeout 20 \
	"${ADMINS[@]}" 4<"$CPINS" 5<"$APINS"
stop_module m2
start_module m2
# Custodian 2's card is pulled while the command waits for its PIN (the
# backup card is away): DC2's lost part-1 receipt is recorded first, part 1
# is not sent again (both have it), then the run stops.
harness_remove 10
mkfifo "$W/pin.fifo"
"${COMMIT[@]}" load --pin-fd 4 --timeout 20 "${ADMINS[@]}" 4<"$W/pin.fifo" 5<"$APINS" \
	>"$W/pulled.out" 2>"$W/pulled.err" &
LPID=$!
exec 7>"$W/pin.fifo"
for i in $(seq 1 200); do grep -q "Part 2 of 3" "$W/pulled.out" && break; sleep 0.05; done
grep -q "Part 2 of 3" "$W/pulled.out" || { cat "$W/pulled.out" "$W/pulled.err" >&2; fail "no part 2"; }
wait_pin_read $LPID                 # card 2 opened, its PIN being read
harness_remove 7
echo $CPIN >&7
exec 7>&-
rc=0
wait $LPID || rc=$?
[ "$rc" = 12 ] || { cat "$W/pulled.out" "$W/pulled.err" >&2; fail "pulled card: exit $rc, expected 12"; }
grep -q "card" "$W/pulled.err" || fail "no message about the card"
sed 's/^/    | /' "$W/pulled.err"
pass "card pulled during the load: exit 12"
grep -q "Recorded the receipt of mk.load_part on DC2-M01 domain 3" "$W/pulled.out" ||
	{ cat "$W/pulled.out" >&2; fail "the lost part-1 receipt of DC2 was not recorded"; }
pass "the receipt lost with the crash was fetched again and recorded"
run 0 "status" "${COMMIT[@]}" status --json
jq_is '[.members[].parts_loaded | length] | join(",")' "1,1"
jq_is .next load
harness_insert "$CARDFILE_7" 7

# DC2-M01 is killed (SIGKILL) while custodian 2's PIN is asked: part 2 is
# applied nowhere, the run stops; after a restart the next run continues.
rm -f "$W/pin.fifo"
mkfifo "$W/pin.fifo"
"${COMMIT[@]}" load --pin-fd 4 --timeout 20 --module-timeout-ms 2000 "${ADMINS[@]}" \
	4<"$W/pin.fifo" 5<"$APINS" >"$W/killed.out" 2>"$W/killed.err" &
LPID=$!
exec 7>"$W/pin.fifo"
for i in $(seq 1 200); do grep -q "Part 2 of 3" "$W/killed.out" && break; sleep 0.05; done
grep -q "Part 2 of 3" "$W/killed.out" || { cat "$W/killed.out" "$W/killed.err" >&2; fail "no part 2"; }
wait_pin_read $LPID
kill -KILL "${MPID[m2]}"
wait "${MPID[m2]}" 2>/dev/null || true
MPID[m2]=
echo $CPIN >&7
exec 7>&-
rc=0
wait $LPID || rc=$?
[ "$rc" = 20 ] || { cat "$W/killed.out" "$W/killed.err" >&2; fail "killed module: exit $rc, expected 20"; }
sed 's/^/    | /' "$W/killed.err"
pass "module killed during the load: exit 20"
start_module m2
run 0 "the facilitator records the module failure" "${FAC[@]}" exception \
	--text "DC2-M01 was killed during the load" --resolution "restarted; the load resumes"
run 0 "status after the restart" "${COMMIT[@]}" status --json
jq_is '[.members[].parts_loaded | length] | join(",")' "1,1"
harness_insert "$CARDFILE_10" 10

# Run to the end: load the rest, commit (2 signatures), activate.
# (no --admin-reader: it waits for administrator cards that have not signed yet)
run 0 "load, commit, activate" "${COMMIT[@]}" run --pin-fd 4 --admin-pin-fd 5 --json \
	4<"$CPINS" 5<"$APINS"
jq_is '[.members[].activated] | all' true
MKVP=$(jq -r .mkvp <<<"$OUT")
run 0 "nothing left to do" "${COMMIT[@]}" run --pin-fd 4 "${ADMINS[@]}" --json 4<"$CPINS" 5<"$APINS"
jq_is .outcome nothing-to-do

# Every part went exactly once into each domain's PENDING.
LOADS=$(jq -r 'select(.type=="command.applied") | .body.receipts[].body |
	select(.op=="mk.load_part") | "\(.module):\(.domain):\(.result.part_index)"' "$LOG" | sort)
[ "$(wc -l <<<"$LOADS")" = 6 ] || { echo "$LOADS" >&2; fail "expected 6 part loads"; }
[ "$(uniq <<<"$LOADS" | wc -l)" = 6 ] || { echo "$LOADS" >&2; fail "a part was loaded twice"; }
pass "each part loaded once per domain"
NSIG=$(jq -r 'select(.type=="command.applied" and .body.command.body.op=="mk.commit") |
	.body.command.signatures | length' "$LOG")
[ "$NSIG" = 2 ] || fail "mk.commit carries $NSIG signatures, expected 2"
pass "commit signed by two administrators (cards found by waiting)"

# The MKVP: equal on both domains, and as EP11 computes it from p1^p2^p3.
run 0 "group status" $D --json group status pair
CUR=$(jq -r '[.. | objects | select(has("current")) | .current.mkvp] | unique | join(" ")' <<<"$OUT")
[ "$CUR" = "$MKVP" ] || fail "current MKVPs '$CUR' differ from $MKVP"
KEY=
for ((i = 0; i < 64; i += 2)); do
	KEY+=$(printf '%02x' $((0x${P1:i:2} ^ 0x${P2:i:2} ^ 0x${P3:i:2})))
done
WANT=$( (printf '\001'; hexbytes "$KEY") | openssl dgst -sha256 -r | cut -c1-56)00000000
[ "$WANT" = "$MKVP" ] || fail "MKVP $MKVP is not SHA-256(01||p1^p2^p3) with 4 zero bytes ($WANT)"
pass "MKVP equal on both domains and equal to SHA-256(01||p1^p2^p3), last 4 bytes 0"

run 0 "step: load ends" "${FAC[@]}" step end --step load
run 0 "the witness acknowledges" "${FAC[@]}" witness --name "Walt Witness" \
	--statement "I saw the parts loaded and the same MKVP on both domains"
run 0 "show: what the facilitator recorded" "${FAC[@]}" show --json
jq_is '[.roster[].role] | join(",")' "supervisor,admin,witness"
jq_is '[.steps[] | "\(.step)=\(.result)"] | join(",")' "parts=ok,load=ok"
jq_is '.open_steps | length' 0
jq_is '.exceptions | length' 1
# Supervisor signs; the log verifies; replay agrees with the modules.
run 0 "supervisor signs the completion" hsmadm-audit sign-completion "$LOG" --card \
	--reader "$(R 12)" --pin-fd 3 --module-ca "$W/m1/ca.pem" --name "Sue Supervisor" 3<<<$SPIN
run 0 "audit verify" hsmadm-audit verify "$LOG" --module-ca "$W/m1/ca.pem" \
	--supervisor-key "$(pub9c 12)"
run 6 "a completed log takes no more records" "${FAC[@]}" step begin --step late
err_has "is completed"
for m in m1 m2; do
	run 0 "replay agrees with $m" hsmadm-audit replay "$LOG" --module-ca "$W/m1/ca.pem" \
		--supervisor-key "$(pub9c 12)" \
		--against "127.0.0.1:${MPORT[$m]}" --client-cert "$W/ws.pem" --client-key "$W/ws.key"
done

# No PIN and no key part in the log, the workstation's files or the command
# outputs kept here (the module and card files hold keys by design).
for s in $APIN $CPIN $SPIN "$P1" "$P2" "$P3" "$KEY"; do
	! grep -rq "$s" "$LOG" "$HSMADM_HOME" "$W/thr-report.json" "$W/thr.json" ||
		fail "a secret is in a file the commands wrote"
done
pass "no PIN or key part in the log or the workstation's files"
# Run through p11_run.sh, the modules keep their keys on SoftHSMv2 tokens:
# then no part, no master key and no blob wrapping key (HKDF of it) is in
# any file of their state folders, no private key is in a domain file, and
# every register and private key on the tokens is sensitive, not extractable.
if [ -n "${HSMADM_P11_CHECK:-}" ]; then
	WK=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "hexkey:$KEY" \
		-kdfopt "info:hsmadm blob wrap key v1" HKDF | tr -d ':' | tr 'A-F' 'a-f')
	"$HSMADM_P11_CHECK" nosecret "$W/m1" "$W/m2" -- "$P1" "$P2" "$P3" "$KEY" "$WK" ||
		fail "a key is in a pkcs11 module's files"
	pass "pkcs11: no part, master key, wrapping key or private key in the modules' files"
	"$HSMADM_P11_CHECK" attrs DC1-M01 DC2-M01 || fail "a token key is readable"
	pass "pkcs11: every register and private key on the tokens is sensitive, not extractable"
	run 0 "module show: the token" $D module show m1
	out_has 'key store    pkcs11 token "hs-DC1-M01"'
	out_has "done in the module's memory:"
	run 0 "module show --json" $D --json module show m2
	jq_is '.info.keystore.backend' pkcs11
	jq_is '.info.keystore.in_token | length > 3' true
else
	run 0 "module show: a rehearsal module" $D module show m1
	out_has "key store    file (rehearsal: keys in clear in the module's files)"
fi
KS=$(jq -rs '[.. | objects | select(has("keystore")) | .keystore.backend] | unique | join(",")' \
	"$LOG")
KSWANT=file
[ -z "${HSMADM_P11_CHECK:-}" ] || KSWANT=pkcs11
[ "$KS" = "$KSWANT" ] || fail "the log's receipts name key store(s) '$KS', not $KSWANT"
pass "every receipt names the module's key store ($KSWANT)"
# A key equal to CURRENT is refused before any commit: load the same parts
# again with a log cut before their mk.loaded record (so the run does not
# know they were loaded already).
N=$(grep -n '"type":"mk.loaded"' "$LOG" | head -1 | cut -d: -f1)
head -n $((N - 1)) "$LOG" >"$W/again.jsonl"
run 23 "a key equal to CURRENT is refused" hsmadm-commit run --group pair --part p1 --part p2 \
	--part p3 --log "$W/again.jsonl" --pin-fd 4 "${ADMINS[@]}" 4<"$CPINS" 5<"$APINS"
err_has "equals its CURRENT master key"
run 0 "status after the refusal" $D --json group status pair
jq_is '[.. | objects | select(has("pending")) | .pending.state] | unique | join(",")' uncommitted
echo "PASS: ceremony_e2e"
