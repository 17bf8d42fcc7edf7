#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# module_tls.sh - hsmadm-simd over real TLS 1.3: the module refuses
# workstations without a trusted client certificate; the workstation refuses
# a module that does not chain to its pinned CA or has another serial;
# garbage, empty and oversized frames get an error or a close, never a crash;
# several connections at once; SIGTERM stops cleanly.
. "$(dirname "$0")/module_lib.sh"

"$SIMD" --version | grep -q '^hsmadm-simd ' || fail "--version"
"$SIMD" --help | grep -q 'is for rehearsals only: private keys' || fail "--help says where keys are"
"$SIMD" --help | grep -q 'keystore pkcs11 keeps the OA key' || fail "--help says the token key store"
expect_rc 2 "$SIMD" frobnicate
expect_rc 2 "$SIMD" init --dir "$T/x"
expect_rc 2 "$SIMD" serve --dir "$T/m1" --delay-ms abc

"$SIMD" init --serial DC1-M01 --dir "$T/m1" --domains 4 >/dev/null
"$SIMD" init --serial DC1-M02 --dir "$T/m2" --domains 2 --json >"$T/m2.json"
grep -q '"serial": "DC1-M02"' "$T/m2.json" || fail "init --json"
expect_rc 5 "$SIMD" init --serial DC1-M01 --dir "$T/m1"
[ "$(stat -c %a "$T/m1/oa.key")" = 600 ] || fail "oa.key not 0600"
[ "$(stat -c %a "$T/m1/tls.key")" = 600 ] || fail "tls.key not 0600"
"$SIMD" issue-client --dir "$T/m1" --name ws1 --out-key "$T/ws1.key" --out-cert "$T/ws1.pem" >/dev/null
"$SIMD" issue-client --dir "$T/m2" --name stranger --out-key "$T/st.key" --out-cert "$T/st.pem" >/dev/null
[ "$(stat -c %a "$T/ws1.key")" = 600 ] || fail "client key not 0600"

start_simd m1 "$T/m1"
ADDR=127.0.0.1:$PORT
GOOD=(--ca "$T/m1/ca.pem" --cert "$T/ws1.pem" --key "$T/ws1.key" --addr "$ADDR")

# A trusted workstation talks.
expect_rc 0 "$CLIENT" "${GOOD[@]}" --serial DC1-M01 --op hello
grep -q '"module":"DC1-M01"' "$T/last.out" || fail "hello answer"
expect_rc 0 "$CLIENT" "${GOOD[@]}" --op domain.query --params '{"domain":3}'
grep -q '"state_digest"' "$T/last.out" || fail "query answer"
expect_rc 5 "$CLIENT" "${GOOD[@]}" --op domain.query --params '{"domain":4}'
grep -q 'reason=no_such_domain' "$T/last.out" || fail "no_such_domain"

# The workstation refuses: another serial than expected, a module CA it did not pin.
expect_rc 22 "$CLIENT" "${GOOD[@]}" --serial DC1-M02 --op hello
grep -q 'DC1-M01, not DC1-M02' "$T/last.err" || fail "serial message"
expect_rc 22 "$CLIENT" --ca "$T/m2/ca.pem" --cert "$T/ws1.pem" --key "$T/ws1.key" --addr "$ADDR" --op hello
grep -qi 'not trusted' "$T/last.err" || fail "wrong-CA message"

# The module refuses: a client certificate from a CA it does not trust
# (TLS 1.3: the refusal arrives as an alert on the first read).
got=0
"$CLIENT" --ca "$T/m1/ca.pem" --cert "$T/st.pem" --key "$T/st.key" --addr "$ADDR" --op hello \
	>"$T/last.out" 2>"$T/last.err" || got=$?
case $got in 20|21) ;; *) cat "$T/last.err" >&2; fail "untrusted client got exit $got";; esac
grep -q '"ok"' "$T/last.out" && fail "untrusted client got an answer"
# No client certificate at all (openssl s_client as an independent client).
python3 -c 'import struct,sys; m=b"{\"id\":1,\"op\":\"hello\",\"params\":{}}"; sys.stdout.buffer.write(struct.pack(">I",len(m))+m+b"xxxx")' >"$T/hello.bin"
timeout 10 openssl s_client -connect "$ADDR" -CAfile "$T/m1/ca.pem" -quiet \
	<"$T/hello.bin" >"$T/nocert.out" 2>"$T/nocert.err" || true
grep -q 'DC1-M01' "$T/nocert.out" && fail "a client without certificate got an answer"

# The same bytes with a good certificate do get an answer (so the refusals
# above and below are real), then the trailing "xxxx" header is too large.
timeout 10 openssl s_client -connect "$ADDR" -CAfile "$T/m1/ca.pem" \
	-cert "$T/ws1.pem" -key "$T/ws1.key" -quiet <"$T/hello.bin" >"$T/ok.out" 2>"$T/ok.err" || true
grep -q 'DC1-M01' "$T/ok.out" || fail "openssl s_client with a good certificate got no answer"
grep -q 'too_large' "$T/ok.out" || fail "no too_large answer to the trailing header"
# TLS 1.2 is refused even with a good certificate.
timeout 10 openssl s_client -connect "$ADDR" -tls1_2 -CAfile "$T/m1/ca.pem" \
	-cert "$T/ws1.pem" -key "$T/ws1.key" -quiet <"$T/hello.bin" >"$T/tls12.out" 2>"$T/tls12.err" || true
grep -q 'DC1-M01' "$T/tls12.out" && fail "a TLS 1.2 client got an answer"
grep -qi 'alert\|error' "$T/tls12.err" || fail "TLS 1.2 not refused with an alert"

# Garbage over TLS.
python3 - "$T" <<'PY'
import json, struct, sys, os
t = sys.argv[1]
def frame(b): return struct.pack('>I', len(b)) + b
open(f'{t}/g_json.bin', 'wb').write(frame(b'{not json') + frame(b'[1]') +
    frame(b'{"id":5,"op":"hello","params":{},"x":1}') + frame(b'{"id":6,"op":"hello","params":{}}'))
open(f'{t}/g_big.bin', 'wb').write(struct.pack('>I', 1024 * 1024 + 1) + b'A' * 4096)
open(f'{t}/g_zero.bin', 'wb').write(b'\0\0\0\0')
open(f'{t}/g_rand.bin', 'wb').write(os.urandom(3000))
open(f'{t}/g_trunc.bin', 'wb').write(struct.pack('>I', 100) + b'{"id":1')
open(f'{t}/g_float.bin', 'wb').write(frame(b'{"id":1.5,"op":"hello","params":{}}'))
PY
expect_rc 0 "$CLIENT" "${GOOD[@]}" --raw "$T/g_json.bin"
[ "$(grep -c '"reason":"bad_json"' "$T/last.out")" = 1 ] || fail "bad_json answer"
[ "$(grep -c '"reason":"bad_request"' "$T/last.out")" = 2 ] || fail "bad_request answers"
grep -q '"id":6,"ok":true' "$T/last.out" || fail "connection survives bad JSON"
expect_rc 0 "$CLIENT" "${GOOD[@]}" --raw "$T/g_big.bin"
grep -q '"reason":"too_large"' "$T/last.out" || fail "too_large answer"
expect_rc 0 "$CLIENT" "${GOOD[@]}" --raw "$T/g_zero.bin"
grep -q '"code":1' "$T/last.out" || fail "empty frame answer"
expect_rc 0 "$CLIENT" "${GOOD[@]}" --raw "$T/g_rand.bin"
expect_rc 0 "$CLIENT" "${GOOD[@]}" --raw "$T/g_float.bin"
grep -q '"reason":"bad_json"' "$T/last.out" || fail "non-integer number refused"
# A truncated frame then close: the module just drops the connection.
expect_rc 0 "$CLIENT" "${GOOD[@]}" --raw "$T/g_trunc.bin"
# Plain TCP garbage instead of TLS.
head -c 2000 /dev/urandom | timeout 5 bash -c "cat > /dev/tcp/127.0.0.1/$PORT" 2>/dev/null || true
kill -0 "$SIMD_PID" || fail "module died on garbage"

# Several connections at once.
for i in 1 2 3 4 5 6; do
	"$CLIENT" "${GOOD[@]}" --serial DC1-M01 --op domain.query --params "{\"domain\":$((i % 4))}" \
		>"$T/par$i.out" 2>&1 &
	CPIDS[$i]=$!
done
for i in 1 2 3 4 5 6; do
	wait "${CPIDS[$i]}" || fail "parallel client $i"
	grep -q '"counter":0' "$T/par$i.out" || fail "parallel answer $i"
done

# An unsigned imprint-mode admin.add over TLS, with a receipt.
expect_rc 0 "$CLIENT" "${GOOD[@]}" --serial DC1-M01 --imprint-add 1
grep -q '"receipt"' "$T/last.out" || fail "receipt"
grep -q '"counter_after":1' "$T/last.out" || fail "counter advanced"

# Racing commands on one domain: each applies at most once, the rest are
# replays (exit 25); the counter equals the number that succeeded.
for i in 1 2 3 4 5; do
	"$CLIENT" "${GOOD[@]}" --serial DC1-M01 --imprint-add 2 >"$T/race$i.out" 2>&1 &
	CPIDS[$i]=$!
done
okn=0
for i in 1 2 3 4 5; do
	st=0
	wait "${CPIDS[$i]}" || st=$?
	case $st in 0) okn=$((okn + 1));; 25) ;; *) cat "$T/race$i.out" >&2; fail "race client $i exit $st";; esac
done
[ "$okn" -ge 1 ] || fail "no racing command applied"
expect_rc 0 "$CLIENT" "${GOOD[@]}" --op domain.query --params '{"domain":2}'
grep -q "\"counter\":$okn," "$T/last.out" || fail "counter is not $okn after the race"

# SIGTERM: a clean stop, exit 0.
kill -TERM "$SIMD_PID"
st=0
wait "$SIMD_PID" || st=$?
[ "$st" = 0 ] || fail "exit $st after SIGTERM"
grep -q 'stopped' "$T/m1.err" || fail "no stop message"
echo "module_tls: ok"
