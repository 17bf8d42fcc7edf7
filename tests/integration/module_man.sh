#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# module_man.sh - run the EXAMPLES of hsmadm-simd(1) as written: every
# example command must work. Servers are started in the background and
# stopped at the end.
. "$(dirname "$0")/module_lib.sh"

python3 - "$HSMADM_SRC/docs/man/hsmadm-simd.1" >"$T/examples.sh" <<'PY'
import sys
lines = open(sys.argv[1]).read().split('\n')
i = lines.index('.SH EXAMPLES')
out, inside, cont = [], False, ''
for l in lines[i + 1:]:
    if l.startswith('.SH'):
        break
    if l == '.nf':
        inside = True; continue
    if l == '.fi':
        inside = False; continue
    if not inside or l.startswith('.'):
        continue
    l = l.replace('\\-', '-').replace('\\e', '\\').strip()
    cont += l
    if cont.endswith('\\'):
        cont = cont[:-1] + ' '; continue
    cmd, cont = cont, ''
    if cmd.startswith('hsmadm-simd serve'):
        cmd = cmd.rstrip('&').strip()
        cmd += ' >>"$T/serve.out" 2>>"$T/serve.err" & PIDS+=($!)'
    print(cmd)
PY
grep -q 'hsmadm-simd init' "$T/examples.sh" || fail "no examples found"
cd "$T"
. "$T/examples.sh"
for _ in $(seq 1 100); do
	[ "$(grep -c '^listening on' "$T/serve.out" 2>/dev/null)" = 2 ] && break
	sleep 0.05
done
[ "$(grep -c '^listening on' "$T/serve.out")" = 2 ] || { cat "$T/serve.err"; fail "servers did not start"; }
[ -s dc1-m01.port ] || fail "no port file"
[ -f ws1.key ] && [ -f ws1.pem ] || fail "no client certificate"
openssl verify -CAfile dc1-m01/ca.pem dc2-m01/oa.pem >/dev/null || fail "DC2 OA not under the shared CA"
echo "module_man: ok"
