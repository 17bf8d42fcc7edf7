#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-mkpart on virtual custodian cards: generate, list, verify, copy to
# the backup card, destroy, each recorded in the evidence log; and every
# refusal: bad command lines, a part id used twice, a wrong pattern, a wrong
# card, a card that is not the backup, a wrong PIN, an unconfirmed destroy.
# Nothing secret may reach the log or the output.
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"
cer_setup 3
cer_card 0 custodian "Carol Custodian" 11112222
cer_card 1 custodian "Carol Custodian" 11113333 --backup-of "$CARDID_0"
cer_card 2 custodian "Dave Custodian" 22223333
R0=$(harness_reader_name 0) R1=$(harness_reader_name 1) R2=$(harness_reader_name 2)
LOG=$W/ceremony.jsonl

# Command lines: exit 2 and nothing touched.
run 2 "no command" hsmadm-mkpart
run 2 "unknown command" hsmadm-mkpart frobnicate --part p1
run 2 "no part" hsmadm-mkpart generate
run 2 "part id with a space" hsmadm-mkpart generate --part "p 1"
run 2 "verify needs a record" hsmadm-mkpart verify --part p1
err_has "--log FILE or --kpvp HEX"
run 2 "short --kpvp" hsmadm-mkpart verify --part p1 --kpvp abcd
run 2 "--to-reader outside copy and generate" hsmadm-mkpart verify --part p1 --to-reader "$R1" \
	--kpvp "$(printf '0%.0s' $(seq 64))"
run 0 "--help" hsmadm-mkpart --help
out_has "Usage: hsmadm-mkpart"
run 0 "--version" hsmadm-mkpart --version
out_has "hsmadm-mkpart 0."

# Generate onto Carol's card.
run 0 "generate p1" hsmadm-mkpart generate --part p1 --reader "$R0" --log "$LOG" \
	--json --pin-fd 3 3<<<11112222
jq_is .card_id "$CARDID_0"
KPVP=$(jq -r .kpvp <<<"$OUT")
[[ "$KPVP" =~ ^[0-9a-f]{56}00000000$ ]] || fail "KPVP $KPVP is not an EP11 pattern"
grep -q "\"type\":\"keypart.generated\"" "$LOG" || fail "no keypart.generated record"
grep -q "\"kpvp\":\"$KPVP\"" "$LOG" || fail "the record lacks the KPVP"
# The envelope opens (with the card file's key, outside hsmadm) to a part
# whose EP11 pattern is the KPVP.
P1=$(open_part "$CARDFILE_0" p1)
WANT=$( (printf '\001'; hexbytes "$P1") | openssl dgst -sha256 -r | cut -c1-56)00000000
[ "$WANT" = "$KPVP" ] || fail "KPVP $KPVP is not SHA-256(01||part) with 4 zero bytes ($WANT)"
pass "KPVP recomputed from the envelope with openssl"

run 5 "the same part id twice in one log" hsmadm-mkpart generate --part p1 --reader "$R0" \
	--log "$LOG" --pin-fd 3 3<<<11112222
err_has "already records a key part p1"

run 0 "list" hsmadm-mkpart list --reader "$R0" --json
jq_is '.parts | length' 1
jq_is '.parts[0].part_id' p1
jq_is '.parts[0].kpvp' "$KPVP"

run 0 "verify against the log" hsmadm-mkpart verify --part p1 --reader "$R0" --log "$LOG" \
	--pin-fd 3 3<<<11112222
out_has "matches its record"
OTHER=$(printf '%064d' 7)
run 4 "verify against another pattern" hsmadm-mkpart verify --part p1 --reader "$R0" \
	--kpvp "$OTHER" --pin-fd 3 3<<<11112222
err_has "the record says"
run 4 "--kpvp that contradicts the log" hsmadm-mkpart verify --part p1 --reader "$R0" \
	--kpvp "$OTHER" --log "$LOG" --pin-fd 3 3<<<11112222
# The pattern as the tools print it (8 groups of 4, any case) is accepted
# where the log holds the full one to check it against.
SHOWN=$(sed 's/\(....\)/\1 /g' <<<"${KPVP:0:32}" | tr a-f A-F)
run 0 "verify with the printed pattern" hsmadm-mkpart verify --part p1 --reader "$R0" \
	--kpvp "$SHOWN" --log "$LOG" --pin-fd 3 3<<<11112222
run 4 "a printed pattern that differs" hsmadm-mkpart verify --part p1 --reader "$R0" \
	--kpvp "0000 ${SHOWN:5}" --log "$LOG" --pin-fd 3 3<<<11112222
run 2 "the printed pattern needs the log" hsmadm-mkpart verify --part p1 --reader "$R0" \
	--kpvp "$SHOWN" --pin-fd 3 3<<<11112222
err_has "needs --log"
run 11 "verify on the wrong custodian's card" hsmadm-mkpart verify --part p1 --reader "$R2" \
	--log "$LOG" --pin-fd 3 3<<<22223333
err_has "Dave Custodian"
run 14 "wrong PIN" hsmadm-mkpart verify --part p1 --reader "$R0" --log "$LOG" --pin-fd 3 3<<<99999999
err_has "tries left"
# A PIN from a descriptor is tried once: its next line may be someone else's.
run 14 "wrong PIN from a descriptor: not tried again" hsmadm-mkpart verify --part p1 \
	--reader "$R0" --log "$LOG" --pin-fd 3 3< <(printf '99999999\n11112222\n')
run 0 "one more try spent, no more" hsmadm-card status --reader "$R0" --json
jq_is .pin_tries 1
run 0 "the right PIN resets the tries" hsmadm-mkpart verify --part p1 --reader "$R0" \
	--log "$LOG" --pin-fd 3 3<<<11112222
# On the terminal a mistyped PIN is asked again with the tries left, and the
# right one goes on (and resets the tries).
printf '%s\t%s\n' "PIN of the " 99999999 "PIN of the " 11112222 >"$W/pin.answers"
python3 "$HSMADM_SRC/tests/harness/pty_run.py" "$W/pin.tty" "$W/pin.answers" \
	hsmadm-mkpart verify --part p1 --reader "$R0" --log "$LOG" ||
	{ cat -v "$W/pin.tty" >&2; fail "verify on the terminal with a wrong PIN first"; }
grep -q "wrong PIN: 2 tries left; the PIN is asked again." "$W/pin.tty" ||
	fail "the wrong PIN was not asked again: $(cat -v "$W/pin.tty")"
! grep -qe 99999999 -e 11112222 "$W/pin.tty" || fail "a PIN typed is on the screen"
run 0 "asked again, then taken" hsmadm-card status --reader "$R0" --json
jq_is .pin_tries 3

# Copy to Carol's backup card; not to Dave's.
run 11 "copy to a card that is not the backup" hsmadm-mkpart copy --part p1 --reader "$R0" \
	--to-reader "$R2" --log "$LOG" --pin-fd 3 --backup-pin-fd 4 3<<<11112222 4<<<22223333
err_has "nor one of its backups"
run 0 "copy to the backup card" hsmadm-mkpart copy --part p1 --reader "$R0" --to-reader "$R1" \
	--log "$LOG" --json --pin-fd 3 --backup-pin-fd 4 3<<<11112222 4<<<11113333
jq_is .backup_card_id "$CARDID_1"
jq_is .kpvp "$KPVP"
run 5 "copy again" hsmadm-mkpart copy --part p1 --reader "$R0" --to-reader "$R1" \
	--log "$LOG" --pin-fd 3 --backup-pin-fd 4 3<<<11112222 4<<<11113333
[ "$(open_part "$CARDFILE_1" p1)" = "$P1" ] || fail "the backup holds another part"
pass "backup card opens to the same part"
run 0 "verify on the backup" hsmadm-mkpart verify --part p1 --reader "$R1" --log "$LOG" \
	--pin-fd 3 3<<<11113333

# Generate onto the card and its backup in one step: the primary is never
# opened, so only the backup's PIN is asked (one line on each descriptor;
# a second read would find the pipe empty and fail).
run 11 "generate with a backup that is not Carol's" hsmadm-mkpart generate --part p2 \
	--reader "$R0" --to-reader "$R2" --log "$LOG" --pin-fd 3 --backup-pin-fd 4 \
	3<<<11112222 4<<<22223333
run 0 "p2 is nowhere after the refusal" hsmadm-mkpart list --reader "$R0" --json
jq_is '[.parts[].part_id] | join(",")' "p1"
run 0 "generate p2 on card and backup" hsmadm-mkpart generate --part p2 --reader "$R0" \
	--to-reader "$R1" --log "$LOG" --json --pin-fd 3 --backup-pin-fd 4 3<<<11112222 4<<<11113333
jq_is .backup_card_id "$CARDID_1"
K2=$(jq -r .kpvp <<<"$OUT")
[ "$(open_part "$CARDFILE_0" p2)" = "$(open_part "$CARDFILE_1" p2)" ] ||
	fail "card and backup hold different parts p2"
[ "$(jq -c 'select(.body.part_id? == "p2") | [.type, .body.kpvp]' "$LOG" | sort | tr -d '\n')" = \
	"[\"keypart.copied\",\"$K2\"][\"keypart.generated\",\"$K2\"]" ] ||
	fail "p2 is not recorded as generated and copied with its KPVP"
run 5 "generate onto a backup that holds the part" hsmadm-mkpart generate --part p2 \
	--reader "$R0" --to-reader "$R1" --pin-fd 3 --backup-pin-fd 4 3<<<11112222 4<<<11113333
pass "a part made on the card and its backup at once"

# Destroy on the backup: confirmation typed, recorded.
run 7 "destroy not confirmed" hsmadm-mkpart destroy --part p1 --reader "$R1" --log "$LOG" \
	--confirm-fd 3 --pin-fd 4 3<<<no 4<<<11113333
run 0 "still there" hsmadm-mkpart list --reader "$R1" --json
jq_is '[.parts[].part_id] | sort | join(",")' "p1,p2"
run 0 "destroy" hsmadm-mkpart destroy --part p1 --reader "$R1" --log "$LOG" \
	--confirm-fd 3 --pin-fd 4 3<<<p1 4<<<11113333
run 0 "gone from the backup" hsmadm-mkpart list --reader "$R1" --json
jq_is '[.parts[].part_id] | join(",")' "p2"
run 0 "still on the primary" hsmadm-mkpart list --reader "$R0" --json
jq_is '[.parts[].part_id] | sort | join(",")' "p1,p2"
for t in keypart.generated keypart.verified keypart.copied keypart.destroyed; do
	grep -q "\"type\":\"$t\"" "$LOG" || fail "no $t record"
done
pass "every step recorded"
# no receipt and no completion yet: nothing from outside the log can anchor
# it, so it is consistent (exit 22), never "verified"
run 22 "the log is consistent" hsmadm-audit verify "$LOG" --allow-incomplete --no-anchors
# No PIN and no part in the log or in anything the commands printed.
for s in 11112222 11113333 22223333 "$P1"; do
	! grep -q "$s" "$LOG" || fail "a secret is in the log"
done
pass "no PIN or key part in the log"
# hsmadm-commit's command line (the ceremony itself: ceremony_e2e.sh).
C=hsmadm-commit
run 2 "commit: no command" $C
run 2 "commit: unknown command" $C frobnicate --group g --part a --part b --log "$LOG"
run 2 "commit: no group" $C load --part a --part b --log "$LOG"
run 2 "commit: no log" $C load --group g --part a --part b
run 2 "commit: one part only" $C load --group g --part a --log "$LOG"
err_has "at least 2"
run 2 "commit: a part twice" $C load --group g --part a --part a --log "$LOG"
run 2 "commit: baseline without receipts" $C baseline --log "$LOG"
run 2 "commit: --activate outside commit" $C load --activate --group g --part a --part b --log "$LOG"
err_has "--activate is for commit only"
run 0 "commit: --help" $C --help
out_has "Usage: hsmadm-commit"
run 0 "commit: --version" $C --version
run 5 "commit: a part the log does not know" $C status --group g --part p1 --part p9 --log "$LOG"
err_has "no record of key part p9"
echo '{"members":[]}' >"$W/empty.json"
run 5 "commit: baseline from a file without receipts" $C baseline --receipts "$W/empty.json" --log "$LOG"
echo "PASS: ceremony_mkpart"
