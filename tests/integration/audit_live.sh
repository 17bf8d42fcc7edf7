#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-audit against a real module: a log written from a live hsmadm-simd's
# own receipts (over mutual TLS) verifies, and `replay --against` agrees with
# the module; after a change the log does not record, it says the module
# differs (exit 27). Also: the wrong module CA is refused.
set -euo pipefail
: "${HSMADM_BUILD:?run through ctest}"
T=$(mktemp -d "${TMPDIR:-/tmp}/audit-live.XXXXXX")
MPID=
cleanup() {
	[ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
live="$HSMADM_BUILD/tests/test_evlog_live"
# expect_output CODE PATTERN -- command...: tests/harness/check.sh
CHECK_KEEP_GOING=1
. "${HSMADM_SRC:?}/tests/harness/check.sh"

hsmadm-simd init --serial DC1-M01 --dir "$T/m1" --domains 4 >/dev/null
hsmadm-simd issue-client --dir "$T/m1" --name ws1 --out-key "$T/ws.key" --out-cert "$T/ws.pem" >/dev/null
hsmadm-simd serve --dir "$T/m1" --listen 127.0.0.1:0 --port-file "$T/port" >"$T/m1.log" 2>&1 &
MPID=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || { cat "$T/m1.log"; echo "FAIL: module did not start"; exit 1; }
HP=127.0.0.1:$(tr -dc '0-9' <"$T/port")
mkdir "$T/ws"

"$live" "$HP" "$T/m1/ca.pem" "$T/ws.pem" "$T/ws.key" "$T/ws"
L=$T/ws/live.log
# the supervisor's public key, the auditor's anchor beside the module CA
openssl pkey -in "$T/ws/supervisor.pem" -pubout -out "$T/ws/supervisor.pub.pem"
SUP=$T/ws/supervisor.pub.pem
# each command is announced (command.sent) before it goes to the module
expect_output 0 "verified. 9 records, 3 signatures, 3 module receipts, 3 commands" -- \
	hsmadm-audit verify "$L" --module-ca "$T/m1/ca.pem" --supervisor-key "$SUP"
expect_output 0 "Commands sent: 3; 0 with no recorded outcome" -- \
	hsmadm-audit verify "$L" --module-ca "$T/m1/ca.pem" --supervisor-key "$SUP"
expect_output 0 '"sent_no_outcome": 0' -- hsmadm-audit verify "$L" --module-ca "$T/m1/ca.pem" --supervisor-key "$SUP" --json
expect_output 0 "every record matches its schema" -- "$HSMADM_BUILD/tests/test_evlog_schema" "$L"
expect_output 0 "counter 3, thresholds 2/1, admins: .*Alice Example" -- \
	hsmadm-audit replay "$L" --module-ca "$T/m1/ca.pem" --supervisor-key "$SUP"
expect_output 0 "live DC1-M01 domain 1: in step with the log" -- \
	hsmadm-audit replay "$L" --module-ca "$T/m1/ca.pem" --supervisor-key "$SUP" --against "$HP" \
	--client-cert "$T/ws.pem" --client-key "$T/ws.key"
# a CA that did not issue this module's certificates
hsmadm-simd init --serial OTHER --dir "$T/other" --domains 1 >/dev/null
expect_output 30 "seq 4: command.applied: module receipt" -- \
	hsmadm-audit verify "$L" --module-ca "$T/other/ca.pem" --supervisor-key "$SUP"
expect_output 2 "needs --module-ca" -- hsmadm-audit replay "$L" --supervisor-key "$SUP" --against "$HP"

# the module moves on without the log
"$live" --diverge "$HP" "$T/m1/ca.pem" "$T/ws.pem" "$T/ws.key" "$T/ws"
expect_output 27 "DIFFERS from the log" -- \
	hsmadm-audit replay "$L" --module-ca "$T/m1/ca.pem" --supervisor-key "$SUP" --against "$HP" \
	--client-cert "$T/ws.pem" --client-key "$T/ws.key"
expect_output 27 '"in_step": false' -- \
	hsmadm-audit replay "$L" --module-ca "$T/m1/ca.pem" --supervisor-key "$SUP" --against "$HP" \
	--client-cert "$T/ws.pem" --client-key "$T/ws.key" --json

if [ "$FAILS" -ne 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
echo "all audit_live checks passed"
