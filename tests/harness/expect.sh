# SPDX-License-Identifier: BSD-2-Clause
# expect.sh - the counting check of the audit tests (sourced; bash only):
# each failed check is reported and counted in $fails, and the test says at
# the end how many failed, so one run shows every broken case at once.
fails=${fails:-0}

# expect CODE PATTERN -- command...: exit code CODE and PATTERN (grep) on
# stdout+stderr together.
expect() {
	local want=$1 pat=$2 out rc
	shift 3
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
	if [ "$rc" -ne "$want" ] || ! grep -q -- "$pat" <<<"$out"; then
		echo "FAIL: $* -> exit $rc (want $want), output:"
		echo "$out" | sed 's/^/    /'
		fails=$((fails + 1))
	else
		echo "ok: $* -> $rc"
	fi
}
