# SPDX-License-Identifier: BSD-2-Clause
# module_lib.sh - shared helpers for the module integration tests (sourced).
set -euo pipefail

: "${HSMADM_BUILD:?run through ctest}"
SIMD=${HSMADM_BIN:-$HSMADM_BUILD/bin}/hsmadm-simd
CLIENT=$HSMADM_BUILD/tests/module_client
T=$(mktemp -d "${TMPDIR:-/tmp}/hsmadm-module.XXXXXX")
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

. "${HSMADM_SRC:?}/tests/harness/check.sh"

# start_simd NAME DIR [options...]: sets PORT and SIMD_PID.
start_simd() {
	local name=$1 dir=$2
	shift 2
	rm -f "$T/$name.port"
	"$SIMD" serve --dir "$dir" --port-file "$T/$name.port" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" &
	SIMD_PID=$!
	PIDS+=("$SIMD_PID")
	for _ in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		kill -0 "$SIMD_PID" 2>/dev/null || { cat "$T/$name.err" >&2; fail "simd $name died at start"; }
		sleep 0.05
	done
	[ -s "$T/$name.port" ] || fail "simd $name did not start"
	PORT=$(cat "$T/$name.port")
	grep -q "^listening on 127.0.0.1:$PORT\$" "$T/$name.out" || fail "no 'listening on' line"
}

# expect_rc WANT cmd...: run, compare the exit code.
expect_rc() {
	local want=$1 got=0
	shift
	"$@" >"$T/last.out" 2>"$T/last.err" || got=$?
	if [ "$got" != "$want" ]; then
		cat "$T/last.out" "$T/last.err" >&2
		fail "exit $got, wanted $want: $*"
	fi
}
