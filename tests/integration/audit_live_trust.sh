#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-audit replay --against with the ceremony's trust file alone: the
# trust file carries the module CA, so it is all the auditor needs to pin the
# live module (no --module-ca). Without either, a usage error (exit 2); a
# trust file from another module's CA does not let the connection through.
set -euo pipefail
: "${HSMADM_BUILD:?run through ctest}"
T=$(mktemp -d "${TMPDIR:-/tmp}/audit-live-trust.XXXXXX")
MPID=
cleanup() {
	[ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
export TMPDIR=$T
live="$HSMADM_BUILD/tests/test_evlog_live"
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
CLIENT=(--client-cert "$T/ws.pem" --client-key "$T/ws.key")

# the trust file, made at the close with the module CA
expect_output 0 "Trust file written" -- hsmadm-audit export-trust "$L" --module-ca "$T/m1/ca.pem" --out "$T/trust.json"
# --trust alone is enough for the live comparison
expect_output 0 "live DC1-M01 domain 1: in step with the log" -- \
	hsmadm-audit replay "$L" --trust "$T/trust.json" --against "$HP" "${CLIENT[@]}"
expect_output 0 '"in_step": true' -- \
	hsmadm-audit replay "$L" --trust "$T/trust.json" --against "$HP" "${CLIENT[@]}" --json
# the CA is written to a private temporary file and removed afterwards
left=$(find "$T" -maxdepth 1 -name 'hsmadm-audit-ca.*' | wc -l)
[ "$left" = 0 ] || fail "the temporary module CA file was left behind"
# neither --module-ca nor --trust: usage error naming both
expect_output 2 "needs --module-ca (or --trust" -- \
	hsmadm-audit replay "$L" --supervisor-key "$T/ws/supervisor.pem" --against "$HP" "${CLIENT[@]}"
# a trust file whose module CA is not this module's: the log does not verify
# under it (its receipts), so nothing is compared
hsmadm-simd init --serial OTHER --dir "$T/other" --domains 1 >/dev/null
python3 - "$T/trust.json" "$T/other/ca.pem" "$T/bad-trust.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["module_ca"] = [open(sys.argv[2]).read()]
json.dump(t, open(sys.argv[3], "w"))
PY
expect_output 30 "module receipt" -- \
	hsmadm-audit replay "$L" --trust "$T/bad-trust.json" --against "$HP" "${CLIENT[@]}"

check_done
