#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# ctest demo_runs: run the demo (tests/demo.sh) against this build, as
# `make demo` does, and check what it claims rather than only its exit code:
#  - exit 0 and the closing "Done" line; its three parts announced;
#  - the ceremony was run by hsmadm-ceremony run from
#    ceremony-scripts/initial-master-key.script: each of the script's steps
#    announced, begun (step.begin) and ended ok (step.end) in the log, with
#    the witness's acknowledgement, and the runner said it ran to its end;
#  - both domains print a full MKVP (64 hex digits) and the two are equal,
#    and it is the MKVP the log's mk.activated record holds;
#  - hsmadm-audit verify said "verified" with the plan fulfilled and the
#    completion signed by the pinned supervisor; the text report says
#    VERIFIED; the HTML report was written where the demo said;
#  - the kept log verifies again here, offline, against the kept plan, CA
#    and supervisor key;
#  - nothing secret is kept (no private/ dir, no PIN in any kept file or in
#    the output) and no process the demo started is still running.
# The demo's temp dirs go into a private TMPDIR removed on exit.
set -uo pipefail
: "${HSMADM_SRC:?}" "${HSMADM_BUILD:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/demo_runs.XXXXXX")
trap 'rm -rf "$T"' EXIT
. "${HSMADM_SRC:?}/tests/harness/check.sh"
SCRIPT=$HSMADM_SRC/ceremony-scripts/initial-master-key.script

rc=0
t0=$SECONDS
TMPDIR=$T bash "$HSMADM_SRC/tests/demo.sh" "$HSMADM_BUILD" >"$T/out" 2>&1 </dev/null || rc=$?
cat "$T/out"
echo "----"
[ "$rc" = 0 ] || fail "the demo exited with $rc"
grep -q '^== Done: the ceremony worked' "$T/out" || fail "no closing 'Done' line"
pass "the demo exited 0 in $((SECONDS - t0)) s"

[ "$(grep -c '^== Demo part [1-3] of 3: ' "$T/out")" = 3 ] || fail "not every part of the demo was announced"
grep -qF "  \$ hsmadm-ceremony run $SCRIPT --plan plan.json --log ceremony.jsonl --rehearsal private/answers" "$T/out" ||
	fail "the demo did not show hsmadm-ceremony run of initial-master-key in rehearsal"
grep -q '^    The script ran to its end\.' "$T/out" || fail "the runner did not say it ran to its end"
pass "3 parts announced; the ceremony ran from its script"

DEMO=$(sed -n 's/^  Kept in \(.*\):$/\1/p' "$T/out")
[ -n "$DEMO" ] && [ -d "$DEMO" ] || fail "the kept directory '$DEMO' does not exist"
case "$DEMO" in "$T"/hsmadm-demo.*) ;; *) fail "the kept directory $DEMO is not under TMPDIR" ;; esac
L=$DEMO/ceremony.jsonl

# Each step of the script: announced by the runner, begun and ended ok in
# the log, once, and acknowledged by the witness.
NSTEPS=$(grep -c '^step [0-9]' "$SCRIPT")
[ "$NSTEPS" = 7 ] || fail "initial-master-key.script has $NSTEPS steps, this test expects 7"
n=0
for id in $(sed -n 's/^step [0-9][0-9]* \([a-z0-9_-]*\) .*/\1/p' "$SCRIPT"); do
	n=$((n + 1))
	grep -q "^    == Step $n of 7: " "$T/out" || fail "the runner did not announce step $n ($id)"
	b=$(jq -c --arg s "$id" 'select(.type == "step.begin" and .body.step == $s) | .seq' "$L" | wc -l)
	e=$(jq -r --arg s "$id" 'select(.type == "step.end" and .body.step == $s) | .body.result' "$L")
	[ "$b" = 1 ] || fail "step $id: $b step.begin records in the log, expected 1"
	[ "$e" = ok ] || fail "step $id: the log's step.end says '$e', expected one 'ok'"
done
[ "$(jq -c 'select(.type == "witness.ack")' "$L" | wc -l)" = 7 ] || fail "not 7 witness.ack records"
[ "$(jq -c 'select(.type == "exception")' "$L" | wc -l)" = 0 ] || fail "the log records an exception"
pass "each of the 7 steps announced, begun and ended ok in the log, witnessed; no exception"

# The PIN target: after setting up their cards, no administrator or
# custodian types a PIN more than 3 times (the runner counts what it hands).
TYPED=$(sed -n 's/^ *PINs typed in this rehearsal: //p' "$T/out")
[ -n "$TYPED" ] || fail "the runner printed no PIN counts"
for kv in $TYPED; do
	case "$kv" in admin.*=*|custodian.*=*) [ "${kv#*=}" -le 3 ] || fail "$kv: more than 3 PINs" ;; esac
done
pass "PINs typed per person: $TYPED"

M1=$(sed -n 's/^  MKVP of DC1-M01 domain 3: \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
M2=$(sed -n 's/^  MKVP of DC2-M01 domain 3: \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
[ -n "$M1" ] && [ "$(wc -l <<<"$M1")" = 1 ] || fail "no single full MKVP printed for DC1-M01 domain 3"
[ -n "$M2" ] && [ "$(wc -l <<<"$M2")" = 1 ] || fail "no single full MKVP printed for DC2-M01 domain 3"
[ "$M1" = "$M2" ] || fail "the MKVPs differ: $M1 / $M2"
ACT=$(jq -r 'select(.type == "mk.activated") | .body.domains[].mkvp' "$L" | sort -u)
[ "$ACT" = "$M1" ] || fail "mk.activated records '$ACT', the domains printed $M1"
pass "both domains printed the same MKVP $M1, the one mk.activated records"

# The demo's own verify (not the runner's, in step 7, before the completion).
grep -A6 -F '  $ hsmadm-audit verify ceremony.jsonl --module-ca module-ca.pem --supervisor-key supervisor.pub.pem --plan plan.json' \
	"$T/out" >"$T/verify" || fail "the demo did not run hsmadm-audit verify with the plan"
grep -q '^    Plan plan.json: fulfilled ' "$T/verify" || fail "verify did not find the plan fulfilled"
grep -q '^    ceremony.jsonl: verified\. ' "$T/verify" || fail "hsmadm-audit verify did not say verified"
grep -q '^    Completed and signed by pinned supervisor Sue Supervisor ' "$T/verify" ||
	fail "verify did not find the completion signed by the pinned supervisor"
grep -q '^    Verdict:    VERIFIED$' "$T/out" || fail "the report's verdict is not VERIFIED"
pass "the audit says verified, the plan fulfilled"

[ ! -e "$DEMO/private" ] || fail "$DEMO/private (keys, card files, PINs) was left behind"
grep -qi '<html' "$DEMO/report.html" || fail "report.html is not an HTML page"
grep -q 'VERIFIED' "$DEMO/report.txt" || fail "report.txt lacks the verdict"
for f in plan.json module-ca.pem supervisor.pub.pem trust.json thresholds.json; do
	[ -s "$DEMO/$f" ] || fail "$f was not kept"
done
pass "reports, plan and anchors kept in $DEMO, nothing private kept"

# The log the demo kept verifies here too, against the kept plan and anchors.
HSMADM_BIN=${HSMADM_BIN:-$HSMADM_BUILD/bin}
(cd "$DEMO" && "$HSMADM_BIN/hsmadm-audit" verify ceremony.jsonl --module-ca module-ca.pem \
	--supervisor-key supervisor.pub.pem --plan plan.json) || fail "the kept log does not verify"
(cd "$DEMO" && "$HSMADM_BIN/hsmadm-audit" verify ceremony.jsonl --trust trust.json) ||
	fail "the kept log does not verify against the kept trust file"
pass "the kept log verifies, with the plan and with the trust file"

# The verifier on a real ceremony's log: each key and certificate chain done
# once, and a record costs at most 1.5x a synthetic record (audit_bench --demo,
# alternating rounds; the ratio is printed, a key or chain done twice fails).
"$HSMADM_BUILD/tests/audit_bench" --demo "$L" "$DEMO/module-ca.pem" \
	>"$T/bench.out" 2>/dev/null || fail "audit_bench --demo: $(cat "$T/bench.out")"
cat "$T/bench.out"
grep -q "none decoded twice.*each once" "$T/bench.out" &&
	pass "the demo log's keys and certificate chains are each done once" ||
	fail "a key or chain was done more than once: $(cat "$T/bench.out")"

for pin in 11110000 22220000 33330000 87654321; do
	! grep -rqF "$pin" "$DEMO" || fail "a PIN or PUK is in a kept file: $(grep -rlF "$pin" "$DEMO")"
	! grep -qF "$pin" "$T/out" || fail "a PIN or PUK is in the demo's output"
done
pass "no PIN or PUK in the kept files or in the output"

for pid in $(sed -n 's/^  Module .* serves on .* (pid \([0-9]*\))\.$/\1/p' "$T/out"); do
	! kill -0 "$pid" 2>/dev/null || fail "module process $pid is still running"
done
! ps -eo args= | grep -F "$T/" | grep -v grep >/dev/null || fail "a process of the demo is still running"
pass "every process the demo started is gone"
echo "PASS: demo_runs"
