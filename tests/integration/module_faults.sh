#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# module_faults.sh - the test-only faults and crash safety: a dropped request
# changes nothing, a dropped answer still persisted its change, a crash right
# after persisting leaves the new state, and --delay-ms delays answers.
. "$(dirname "$0")/module_lib.sh"

"$SIMD" init --serial DC2-M01 --dir "$T/m" --domains 2 >/dev/null
"$SIMD" issue-client --dir "$T/m" --name ws --out-key "$T/ws.key" --out-cert "$T/ws.pem" >/dev/null
counter() {
	"$CLIENT" "${C[@]}" --op domain.query --params "{\"domain\":$1}" \
		| python3 -c 'import json,sys; print(json.load(sys.stdin)["counter"])'
}

# drop-before 1: the request is dropped unapplied.
start_simd a "$T/m" --drop-before 1
C=(--ca "$T/m/ca.pem" --cert "$T/ws.pem" --key "$T/ws.key" --addr "127.0.0.1:$PORT" --serial DC2-M01)
expect_rc 20 "$CLIENT" "${C[@]}" --imprint-add 0
[ "$(counter 0)" = 0 ] || fail "drop-before applied the command"
# drop-after 2 (counted over applied commands; the 1st is applied normally)
kill -TERM "$SIMD_PID"; wait "$SIMD_PID" || fail "stop"
start_simd b "$T/m" --drop-after 2
C=(--ca "$T/m/ca.pem" --cert "$T/ws.pem" --key "$T/ws.key" --addr "127.0.0.1:$PORT" --serial DC2-M01)
expect_rc 0 "$CLIENT" "${C[@]}" --imprint-add 0
expect_rc 20 "$CLIENT" "${C[@]}" --imprint-add 0
[ "$(counter 0)" = 2 ] || fail "drop-after did not persist"
kill -TERM "$SIMD_PID"; wait "$SIMD_PID" || fail "stop"

# crash-after 1 (from the environment): abort() right after persisting.
HSMADM_SIMD_CRASH_AFTER=1 start_simd c "$T/m"
C=(--ca "$T/m/ca.pem" --cert "$T/ws.pem" --key "$T/ws.key" --addr "127.0.0.1:$PORT" --serial DC2-M01)
expect_rc 20 "$CLIENT" "${C[@]}" --imprint-add 1
st=0
wait "$SIMD_PID" || st=$?
[ "$st" -ge 128 ] || fail "crash-after did not abort (exit $st)"
ls "$T/m/domains/" | grep -q tmp && fail "a temporary file was left behind"
start_simd d "$T/m" --delay-ms 300
C=(--ca "$T/m/ca.pem" --cert "$T/ws.pem" --key "$T/ws.key" --addr "127.0.0.1:$PORT" --serial DC2-M01)
[ "$(counter 1)" = 1 ] || fail "state after the crash is not the new one"
[ "$(counter 0)" = 2 ] || fail "other domain changed"
start=$(date +%s%N)
expect_rc 0 "$CLIENT" "${C[@]}" --op hello
el=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$el" -ge 300 ] || fail "--delay-ms not applied (${el} ms)"
# A damaged domain file: the module answers with an error, not a crash.
echo '{"v":1,' >"$T/m/domains/01.json"
kill -TERM "$SIMD_PID"; wait "$SIMD_PID" || fail "stop"
start_simd e "$T/m"
C=(--ca "$T/m/ca.pem" --cert "$T/ws.pem" --key "$T/ws.key" --addr "127.0.0.1:$PORT" --serial DC2-M01)
expect_rc 20 "$CLIENT" "${C[@]}" --op domain.query --params '{"domain":1}'
grep -q 'reason=io' "$T/last.out" || fail "damaged file reason"
expect_rc 0 "$CLIENT" "${C[@]}" --op domain.query --params '{"domain":0}'
echo "module_faults: ok"
