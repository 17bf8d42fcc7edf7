#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-ceremony run of ceremony-scripts/initial-master-key in rehearsal on
# 13 virtual cards and two emulated modules: the whole ceremony, the log
# verifies and check-plan finds the plan fulfilled; the PINs each person
# typed equal what print counts.
. "${HSMADM_SRC:?}/tests/integration/ceremony_script_lib.bash"
cs_setup
C=hsmadm-ceremony
run 0 "dry run" $C run "$S/initial-master-key.script" --plan "$PLAN" --log "$LOG" --dry-run
out_has "== Step 7 of 7"
[ ! -e "$LOG" ] || fail "a dry run wrote the log"
# The commands as they would run in the room: words with spaces quoted, and
# no PIN options, since each command then asks its person itself.
out_has "  \$ hsmadm-card init --reader '$(harness_reader_name 0)' --role admin --holder 'Admin 1' --installation test-bank --allow-default-mgmt-key"
! grep -qE -- '--[a-z-]*-fd' <<<"$OUT" || fail "a dry run shows a descriptor option: $(grep -E -- '--[a-z-]*-fd' <<<"$OUT" | head -1)"
pass "a dry run shows the commands as they run in the room"
run 0 "rehearsal" $C run "$S/initial-master-key.script" --plan "$PLAN" --log "$LOG" --rehearsal "$ANSWERS"
out_has "The script ran to its end"
# As they run in a rehearsal: each PIN option names the pipe it comes on.
out_has "  \$ hsmadm-card init --reader '$(harness_reader_name 0)' --role admin --holder 'Admin 1' --installation test-bank --allow-default-mgmt-key --pin-fd 20 --new-pin-fd 21 --new-puk-fd 22"
! grep -qE -- '-fd -1' <<<"$OUT" || fail "a rehearsal shows a descriptor as -1"
ASKED=$(grep '^PINs typed in this rehearsal:' <<<"$OUT" | cut -d: -f2)
CHOSEN=$(grep '^New PINs chosen in this rehearsal:' <<<"$OUT" | cut -d: -f2)
run 0 "print --json" $C print "$S/initial-master-key.script" --plan "$PLAN" --json
PRINTED=$(jq -r '[.people[] | "\(.who)=\(.pins)"] | join(" ")' <<<"$OUT")
PCHOSEN=$(jq -r '[.people[] | "\(.who)=\(.new_pins)"] | join(" ")' <<<"$OUT")
[ "$ASKED" = " $PRINTED" ] || fail "PINs asked ($ASKED) differ from printed ($PRINTED)"
[ "$CHOSEN" = " $PCHOSEN" ] || fail "new PINs chosen ($CHOSEN) differ from printed ($PCHOSEN)"
pass "the printed PIN counts equal what the rehearsal asked:$ASKED; new PINs:$CHOSEN"
# The ceremony's target (one decision, one PIN): once the cards are set up,
# no administrator and no custodian types their PIN more than 3 times; each
# chose a PIN for their card and its backup. The rehearsal hands each person
# exactly the PINs printed, so a command that asked once more would fail.
for who in admin.1 admin.2 admin.3 custodian.1 custodian.2 custodian.3; do
	n=$(tr ' ' '\n' <<<"$ASKED" | sed -n "s/^$who=//p")
	[ -n "$n" ] && [ "$n" -le 3 ] || fail "$who typed their PIN ${n:-?} times (target: at most 3)"
	[ "$(tr ' ' '\n' <<<"$CHOSEN" | sed -n "s/^$who=//p")" = 2 ] || fail "$who did not choose 2 new PINs"
done
[ "$(tr ' ' '\n' <<<"$ASKED" | sed -n 's/^admin\.1=//p')" = 3 ] || fail "admin 1 should type 3 PINs"
pass "no administrator or custodian types a PIN more than 3 times"
run 0 "print (Markdown)" $C print "$S/initial-master-key.script" --plan "$PLAN"
out_has "| Admin 1 | admin | 3 | 2 |"
out_has "Admin 1 chooses a new PIN and types it (nobody else sees it)."
run 0 "export the trust file" hsmadm-audit export-trust "$LOG" --module-ca "$W/module-ca.pem" --out "$W/trust.json"
run 0 "the log verifies" hsmadm-audit verify "$LOG" --trust "$W/trust.json"
[ "$(head -1 "$LOG" | jq -r .body.plan)" = "test-bank-2026 sha256 $(sha256sum "$PLAN" | cut -c1-64)" ] ||
	fail "ceremony.open does not record the plan's digest"
[ "$(head -1 "$LOG" | jq -r .body.script)" = "initial-master-key version 2 sha256 $(sha256sum "$S/initial-master-key.script" | cut -c1-64)" ] ||
	fail "ceremony.open does not record the script's digest"
pass "ceremony.open records the script's and the plan's SHA-256"
run 0 "check-plan" $C check-plan "$LOG" --plan "$PLAN"
out_has "fulfils the plan"
echo "PASS: ceremony_script_run"
