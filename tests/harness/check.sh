# SPDX-License-Identifier: BSD-2-Clause
# check.sh - the one set of check helpers of the shell tests (sourced; bash
# only). Every line a check prints starts with "ok: " or "FAIL: ".
#
# Two ways to fail, chosen by the test before it sources this file:
#   - stop at the first failure (the default): fail() exits 1;
#   - report every failure, then say how many (CHECK_KEEP_GOING=1): fail()
#     counts in $FAILS and the test ends with check_done.
#
# Two exit-code checks, named for what their second argument does:
#   expect_output CODE PATTERN -- CMD...  asserts the exit code AND that
#                                         PATTERN (grep) is in the output;
#   expect_exit   CODE LABEL -- CMD...    asserts the exit code only; LABEL
#                                         names the check; the output is
#                                         kept in $CHECK_OUT for out_has.
FAILS=${FAILS:-0}
CHECK_KEEP_GOING=${CHECK_KEEP_GOING:-0}

ok()   { echo "ok: $*"; }
pass() { ok "$@"; }

fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
	[ "$CHECK_KEEP_GOING" = 1 ] || exit 1
}

# check_done: the end of a CHECK_KEEP_GOING test; exit 1 if a check failed.
check_done() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed" >&2
		exit 1
	fi
	echo "all checks passed"
}

expect_output() {
	local want=$1 pat=$2 out rc=0
	shift 3
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -q -- "$pat" <<<"$out"; then
		echo "$out" | sed 's/^/    | /' >&2
		fail "$* -> exit $rc (want $want), output (above) must match: $pat"
		return 0
	fi
	ok "$* -> $rc"
}

expect_exit() {
	local want=$1 what=$2 rc=0
	shift 3
	: "${CHECK_OUT:?set CHECK_OUT (a file for the output) before expect_exit}"
	"$@" >"$CHECK_OUT" 2>&1 || rc=$?
	if [ "$rc" -ne "$want" ]; then
		sed 's/^/    | /' "$CHECK_OUT" >&2
		fail "$what: exit $rc, wanted $want"
		return 0
	fi
	ok "$what (exit $rc)"
}
