#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A rehearsal in which a custodian types a wrong PIN: the command's own
# message says how many tries are left, the runner records an exception,
# ends the step "failed" and exits with the command's exit code (14); with
# the right PIN, resume finishes the ceremony. Then check-plan against plans
# the log does not fulfil (a backup card never made, a domain of the pair
# left without the master key, thresholds below the plan's): exit 4, each
# missing thing named, and the same list in --json.
. "${HSMADM_SRC:?}/tests/integration/ceremony_script_lib.bash"
cs_setup
C=hsmadm-ceremony
ARGS=("$S/initial-master-key.script" --plan "$PLAN" --log "$LOG" --rehearsal "$ANSWERS")

# Stop at the start of step 5 (keyparts), then plant a wrong PIN for
# custodian 2: the card was given 22220000 in step 3.
run 137 "run to step 5" env HSMADM_CEREMONY_KILL_AT=keyparts:0 $C run "${ARGS[@]}" </dev/null
sed -i 's/^pin custodian\.2 .*/pin custodian.2 99990000/' "$ANSWERS"
run 14 "resume: custodian 2's PIN is wrong" $C resume "${ARGS[@]}" </dev/null
err_has "2 tries left"
err_has "step 5 (keyparts) stopped: hsmadm-mkpart exited with code 14"
[ "$(grep -c 'step 5 (keyparts) stopped' <<<"$ERR")" = 1 ] || fail "the step's failure is said more than once"
# The resume it suggests is the same rehearsal.
err_has "hsmadm-ceremony resume $S/initial-master-key.script --plan $PLAN --log $LOG --rehearsal $ANSWERS"
out_has "PINs typed in this rehearsal:"
run 0 "show" $C show --log "$LOG" --json
jq_is '[.steps[] | select(.step == "keyparts") | .result] | join(",")' "failed,failed"
jq_is '[.exceptions[] | select(.what | test("step 5 \\(keyparts\\) stopped"))] | length' 1
jq_is '.open_steps | length' 0
# The PIN was asked once: a rehearsal does not retry on its own.
run 0 "custodian 2's card: status" hsmadm-card status --reader "$(harness_reader_name 7)" --json
jq_is .pin_tries 2

sed -i 's/^pin custodian\.2 .*/pin custodian.2 22220000/' "$ANSWERS"
run 0 "resume with the right PIN" $C resume "${ARGS[@]}" </dev/null
out_has "The script ran to its end"
run 0 "check-plan: fulfilled" $C check-plan "$LOG" --plan "$PLAN"
out_has "fulfils the plan"

# plan_with NAME JQ: the plan changed by JQ, in $W/NAME.json.
plan_with() { jq "$2" "$PLAN" >"$W/$1.json" || fail "jq $2"; }

plan_with backup '.people |= map(if .role == "supervisor" then
	.backups = [{"label":"S1B","reader":"Virtual PCD A 00 05","virtual":true}] else . end)'
run 4 "check-plan: a backup card never made" $C check-plan "$LOG" --plan "$W/backup.json"
err_has "does not fulfil the plan $W/backup.json"
err_has "Sue Supervisor (supervisor): backup card S1B is not on the roster (never made?)"
err_has "the log was not opened with this plan"

plan_with domain '.pairs[0].domains[1].domain = 2'
run 4 "check-plan: a domain of the pair without the key" $C check-plan "$LOG" --plan "$W/domain.json"
err_has "pair pair: DC2-M01 domain 2 has no active master key in this log"
err_has "DC2-M01 domain 2: no thresholds were set"
err_has "DC2-M01 domain 2: 0 of Admin 1's 2 card keys registered"
grep -qF "DC1-M01 domain 3" <<<"$ERR" && fail "check-plan blames DC1 domain 3, which has the key"
pass "DC1 domain 3, which has everything, is not named"

plan_with thr '.thresholds.signature = 3'
run 4 "check-plan: thresholds below the plan's" $C check-plan "$LOG" --plan "$W/thr.json"
err_has "DC1-M01 domain 3: thresholds signature 2, revocation 2 are below the plan's 3 and 2"
err_has "DC2-M01 domain 3: thresholds signature 2, revocation 2 are below the plan's 3 and 2"
run 4 "check-plan --json: the same, as JSON" $C check-plan "$LOG" --plan "$W/thr.json" --json
jq_is .fulfilled false
jq_is '[.missing[] | select(test("below the plan"))] | length' 2

# The auditor's verify checks the plan too: a log that verifies but does not
# fulfil its plan fails verification, naming what is missing.
run 0 "export the trust file" hsmadm-audit export-trust "$LOG" --module-ca "$W/module-ca.pem" \
	--out "$W/trust.json"
run 0 "verify --plan: fulfilled" hsmadm-audit verify "$LOG" --trust "$W/trust.json" --plan "$PLAN"
out_has "fulfilled (every person and card"
run 30 "verify --plan: thresholds below the plan's" hsmadm-audit verify "$LOG" \
	--trust "$W/trust.json" --plan "$W/thr.json"
err_has "the plan ($W/thr.json), which is not fulfilled"
err_has "below the plan's 3 and 2"
run 30 "verify --plan: a backup card never made" hsmadm-audit verify "$LOG" \
	--trust "$W/trust.json" --plan "$W/backup.json"
err_has "backup card S1B is not on the roster"

run 5 "check-plan: no such log" $C check-plan "$W/none.jsonl" --plan "$PLAN"
run 2 "check-plan: no plan" $C check-plan "$LOG"
err_has "no plan given (--plan FILE)"
echo '{"format":"hsmadm-ceremony-plan 1"' >"$W/bad.json"
run 3 "check-plan: a malformed plan" $C check-plan "$LOG" --plan "$W/bad.json"
echo "PASS: ceremony_script_plan"
