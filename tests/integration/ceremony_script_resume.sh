#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# An interruption never means starting over: hsmadm-ceremony (and the
# command it is running) is killed (SIGKILL, the whole process group, as a
# power cut) during each step of initial-master-key in turn; each time
# resume records the interruption as an exception, runs the step again from
# its start and goes on. At the end the log verifies and the plan is
# fulfilled.
. "${HSMADM_SRC:?}/tests/integration/ceremony_script_lib.bash"
cs_setup
C=hsmadm-ceremony
SCRIPT=$S/initial-master-key.script
PG=
kill_run() { [ -z "$PG" ] || kill -KILL -- -"$PG" 2>/dev/null || true; PG=; }
trap 'kill_run; [ "${KEEP_OUT:-}" = "" ] || cp "$W/run.out" "$KEEP_OUT"; cs_cleanup' EXIT

# start CMD: the runner in its own process group, in the background.
start() { setsid "$@" >>"$W/run.out" 2>&1 & PG=$!; }

n=0
for id in start modules cards admins keyparts masterkey close; do
	n=$((n + 1))
	if [ $n = 1 ]; then
		start $C run "$SCRIPT" --plan "$PLAN" --log "$LOG" --rehearsal "$ANSWERS"
	else
		start $C resume "$SCRIPT" --plan "$PLAN" --log "$LOG" --rehearsal "$ANSWERS"
	fi
	for i in $(seq 1 600); do
		[ -s "$LOG" ] && jq -e --arg id "$id" 'select(.type == "step.begin" and .body.step == $id)' \
			"$LOG" >/dev/null 2>&1 && break
		kill -0 "$PG" 2>/dev/null || break
		sleep 0.05
	done
	sleep 0.$((RANDOM % 4 + 1))
	kill_run
	wait 2>/dev/null || true
	pass "killed during step $n ($id)"
done
run 0 "resume completes the ceremony" $C resume "$SCRIPT" --plan "$PLAN" --log "$LOG" --rehearsal "$ANSWERS"
out_has "The script ran to its end"
run 0 "resume again: nothing left" $C resume "$SCRIPT" --plan "$PLAN" --log "$LOG" --rehearsal "$ANSWERS"
out_has "is complete"
run 0 "show" $C show --log "$LOG" --json
jq_is '.open_steps | length' 0
[ "$(jq '[.exceptions[] | select(.what | test("interrupted during step"))] | length' <<<"$OUT")" -ge 1 ] ||
	fail "no interruption recorded"
pass "the interruptions are recorded as exceptions"
run 0 "export the trust file" hsmadm-audit export-trust "$LOG" --module-ca "$W/module-ca.pem" --out "$W/trust.json"
run 0 "the log verifies" hsmadm-audit verify "$LOG" --trust "$W/trust.json"
run 0 "check-plan" $C check-plan "$LOG" --plan "$PLAN"
out_has "fulfils the plan"
echo "PASS: ceremony_script_resume"
