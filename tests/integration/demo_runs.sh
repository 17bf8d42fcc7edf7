#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# ctest demo_runs: run the demo (tests/demo.sh) against this build, as
# `make demo` does, and check what it claims rather than only its exit code:
#  - exit 0 and the closing "Done" line;
#  - both domains print a full MKVP (64 hex digits) and the two are equal,
#    and it is the MKVP the log's mk.activated record holds;
#  - hsmadm-audit verify said "verified", the text report says VERIFIED,
#    the HTML report was written where the demo said;
#  - the kept log verifies again here, offline, with the kept CA and
#    supervisor key;
#  - nothing secret is kept (no private/ dir, no PIN in any kept file) and
#    the module processes the demo started are gone.
# The demo's temp dirs go into a private TMPDIR removed on exit.
set -uo pipefail
: "${HSMADM_SRC:?}" "${HSMADM_BUILD:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/demo_runs.XXXXXX")
trap 'rm -rf "$T"' EXIT
. "${HSMADM_SRC:?}/tests/harness/check.sh"

rc=0
TMPDIR=$T bash "$HSMADM_SRC/tests/demo.sh" "$HSMADM_BUILD" >"$T/out" 2>&1 </dev/null || rc=$?
cat "$T/out"
echo "----"
[ "$rc" = 0 ] || fail "the demo exited with $rc"
grep -q '^== Done: the ceremony worked' "$T/out" || fail "no closing 'Done' line"
pass "the demo exited 0"

grep -q '^== Step 9 of 9: ' "$T/out" || fail "step 9 of 9 was not announced"
[ "$(grep -c '^== Step [0-9]* of 9: ' "$T/out")" = 9 ] || fail "not every step was announced"
pass "9 steps announced"

M1=$(sed -n 's/^  MKVP of DC1-M01 domain 3: \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
M2=$(sed -n 's/^  MKVP of DC2-M01 domain 3: \([0-9a-f]\{64\}\)$/\1/p' "$T/out")
[ -n "$M1" ] && [ "$(wc -l <<<"$M1")" = 1 ] || fail "no single full MKVP printed for DC1-M01 domain 3"
[ -n "$M2" ] && [ "$(wc -l <<<"$M2")" = 1 ] || fail "no single full MKVP printed for DC2-M01 domain 3"
[ "$M1" = "$M2" ] || fail "the MKVPs differ: $M1 / $M2"
pass "both domains printed the same MKVP $M1"

grep -q '^    ceremony.jsonl: verified\. ' "$T/out" || fail "hsmadm-audit verify did not say verified"
grep -q '^    Verdict:    VERIFIED$' "$T/out" || fail "the report's verdict is not VERIFIED"
pass "the audit says verified"

# The kept directory is the one the demo printed.
DEMO=$(sed -n 's/^  Kept in \(.*\):$/\1/p' "$T/out")
[ -n "$DEMO" ] && [ -d "$DEMO" ] || fail "the kept directory '$DEMO' does not exist"
case "$DEMO" in "$T"/hsmadm-demo.*) ;; *) fail "the kept directory $DEMO is not under TMPDIR" ;; esac
[ ! -e "$DEMO/private" ] || fail "$DEMO/private (keys, card files, PINs) was left behind"
grep -qi '<html' "$DEMO/report.html" || fail "report.html is not an HTML page"
grep -q 'VERIFIED' "$DEMO/report.txt" || fail "report.txt lacks the verdict"
pass "reports kept in $DEMO, nothing private kept"

# The log the demo kept verifies here too, and its activation record holds
# the MKVP the domains printed.
HSMADM_BIN=${HSMADM_BIN:-$HSMADM_BUILD/bin}
(cd "$DEMO" && "$HSMADM_BIN/hsmadm-audit" verify ceremony.jsonl --module-ca module-ca.pem \
	--supervisor-key supervisor.pub.pem) || fail "the kept log does not verify"
ACT=$(jq -r 'select(.type == "mk.activated") | .body.domains[].mkvp' "$DEMO/ceremony.jsonl" | sort -u)
[ "$ACT" = "$M1" ] || fail "mk.activated records '$ACT', the domains printed $M1"
pass "the kept log verifies; mk.activated holds the printed MKVP"

# The verifier on a real ceremony's log: each key and certificate chain done
# once, and a record costs at most 1.5x a synthetic record (audit_bench --demo,
# alternating rounds; the ratio is printed, a key or chain done twice fails).
"$HSMADM_BUILD/tests/audit_bench" --demo "$DEMO/ceremony.jsonl" "$DEMO/module-ca.pem" \
	>"$T/bench.out" 2>/dev/null || fail "audit_bench --demo: $(cat "$T/bench.out")"
cat "$T/bench.out"
grep -q "none decoded twice.*each once" "$T/bench.out" &&
	pass "the demo log's keys and certificate chains are each done once" ||
	fail "a key or chain was done more than once: $(cat "$T/bench.out")"

for pin in 11110000 22220000 33330000 87654321; do
	! grep -rqF "$pin" "$DEMO" || fail "a PIN or PUK is in a kept file: $(grep -rlF "$pin" "$DEMO")"
done
pass "no PIN or PUK in the kept files"

for pid in $(sed -n 's/^  Module .* serves on .* (pid \([0-9]*\))\.$/\1/p' "$T/out"); do
	! kill -0 "$pid" 2>/dev/null || fail "module process $pid is still running"
done
! ps -eo args= | grep -F "$T/" | grep -v grep >/dev/null || fail "a process of the demo is still running"
pass "every process the demo started is gone"
echo "PASS: demo_runs"
