#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A power cut in the middle of a command: the runner and the hsmadm-commit it
# is running are killed together (SIGKILL to the whole process group, as a
# pulled plug does) while the key parts are being loaded, after the first part
# reached the modules and before the last. resume records the interruption,
# runs step 6 again (hsmadm-commit continues from the register states: the
# approval and the parts already loaded are not asked for again) and goes on;
# the log verifies and the plan is fulfilled.
. "${HSMADM_SRC:?}/tests/integration/ceremony_script_lib.bash"
# Each module answer 100 ms late: the three loads then span half a second or
# more, so the cut below (polled every 50 ms) falls between the first and the
# last on any machine; batched loads without it can all land in one poll.
export ROOM_MODULE_ARGS="--delay-ms 100"
cs_setup
C=hsmadm-ceremony
ARGS=("$S/initial-master-key.script" --plan "$PLAN" --log "$LOG" --rehearsal "$ANSWERS")

# Its own session, so that one kill reaches the runner and its command; the
# session leader execs the runner, so its PID is the group's.
setsid bash -c 'echo $$ >"$0"; exec "$@"' "$W/run.pid" $C run "${ARGS[@]}" \
	</dev/null >"$W/run.out" 2>"$W/run.err" &
for i in $(seq 1 100); do [ -s "$W/run.pid" ] && break; sleep 0.05; done
PID=$(cat "$W/run.pid")
loaded() {
	# Other records have a "command" that is not an object: look only at these.
	[ -s "$LOG" ] && jq -r 'select(.type == "command.applied" and
		(.body.command | objects | .body.op) == "mk.load_part") | .seq' "$LOG" 2>/dev/null |
		grep -q .
}
for i in $(seq 1 1200); do
	loaded && break
	kill -0 $PID 2>/dev/null || break
	sleep 0.05
done
loaded || { cat "$W/run.out" "$W/run.err" >&2; fail "no part was loaded before the run ended"; }
kill -KILL -- -$PID 2>/dev/null || fail "the run had ended before the cut"
for i in $(seq 1 100); do kill -0 $PID 2>/dev/null || break; sleep 0.05; done
n=$(jq -c 'select(.type == "command.applied" and (.body.command | objects | .body.op) == "mk.load_part")' "$LOG" | wc -l)
[ "$n" -ge 1 ] && [ "$n" -lt 3 ] || fail "$n parts were loaded before the cut; expected 1 or 2 of 3"
pass "the power went with $n of 3 parts loaded"

run 0 "resume after the cut" timeout 150 $C resume "${ARGS[@]}" </dev/null
out_has "Step 6 (load) was begun and not ended: the ceremony was interrupted there."
out_has "The script ran to its end"
# One approval in the whole log: the re-run found it on both domains.
[ "$(jq -c 'select(.type == "command.applied" and (.body.command | objects | .body.op) == "mk.approve_load")' "$LOG" | wc -l)" = 1 ] ||
	fail "the load was approved more than once"
# Each of the 3 parts went to each of the 2 domains exactly once.
jq -r 'select(.type == "command.applied" and (.body.command | objects | .body.op) == "mk.load_part") |
	.body.command.body.params.part_index as $p | .body.receipts[].body |
	"\(.module):\(.domain):\($p)"' "$LOG" | sort >"$W/loads"
[ "$(sort -u "$W/loads" | wc -l)" = 6 ] && [ "$(wc -l <"$W/loads")" = 6 ] ||
	fail "the parts were not applied once per domain: $(tr '\n' ' ' <"$W/loads")"
run 0 "show" $C show --log "$LOG" --json
jq_is '.open_steps | length' 0
jq_is '[.steps[] | select(.step == "load") | .result] | join(",")' "failed,ok"
pass "the load was finished by resume, the approval and the loaded parts kept"
run 0 "export the trust file" hsmadm-audit export-trust "$LOG" --module-ca "$W/module-ca.pem" --out "$W/trust.json"
run 0 "the log verifies" hsmadm-audit verify "$LOG" --trust "$W/trust.json"
run 0 "check-plan" $C check-plan "$LOG" --plan "$PLAN"
out_has "fulfils the plan"
echo "PASS: ceremony_script_powercut"
