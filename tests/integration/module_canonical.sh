#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# module_canonical.sh - hsmadm-simd refuses a frame whose JSON is not in
# RFC 8785 canonical form (module-protocol.md §1): a space, keys out of
# order or a needless escape get bad_request naming the rule, and the
# connection is closed (the canonical request after it is not answered).
# The canonical spelling of the same request is answered.
. "$(dirname "$0")/module_lib.sh"

"$SIMD" init --serial DC1-M01 --dir "$T/m1" --domains 2 >/dev/null
"$SIMD" issue-client --dir "$T/m1" --name ws1 --out-key "$T/ws1.key" --out-cert "$T/ws1.pem" >/dev/null
start_simd m1 "$T/m1"
GOOD=(--ca "$T/m1/ca.pem" --cert "$T/ws1.pem" --key "$T/ws1.key" --addr "127.0.0.1:$PORT")

python3 - "$T" <<'PY'
import struct, sys
t = sys.argv[1]
def frame(b): return struct.pack('>I', len(b)) + b
hello = b'{"id":6,"op":"hello","params":{}}'
bad = {
    'space': b'{"id":1, "op":"hello","params":{}}',
    'order': b'{"op":"hello","id":1,"params":{}}',
    'escape': b'{"id":1,"op":"h\\u0065llo","params":{}}',
    'newline': b'{"id":1,"op":"hello","params":{}}\n',
}
for name, b in bad.items():
    open(f'{t}/nc_{name}.bin', 'wb').write(frame(b) + frame(hello))
open(f'{t}/nc_good.bin', 'wb').write(frame(hello))
PY
for name in space order escape newline; do
	expect_rc 0 "$CLIENT" "${GOOD[@]}" --raw "$T/nc_$name.bin"
	grep -q '"reason":"bad_request"' "$T/last.out" || fail "$name: no bad_request answer"
	grep -q 'canonical' "$T/last.out" || fail "$name: the answer does not name the rule"
	grep -q '"id":6' "$T/last.out" && fail "$name: the connection was not closed"
	echo "ok: a non-canonical frame ($name) is refused and the connection closed"
done
expect_rc 0 "$CLIENT" "${GOOD[@]}" --raw "$T/nc_good.bin"
grep -q '"id":6,"ok":true' "$T/last.out" || fail "the canonical request is not answered"
echo "ok: the canonical request is answered"
kill -0 "$SIMD_PID" || fail "module died"
echo "module_canonical: all passed"
