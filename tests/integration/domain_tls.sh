#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Acceptance (invariant 4): the workstation talks only to modules whose
# certificate chains to the pinned CA, and a module only to workstations
# whose client certificate it trusts. The OA fingerprint is confirmed by
# typing its first 8 hex digits.
. "$(dirname "$0")/domain_common.sh"

init_module m1 DC1-M01
start_module m1
setup_workstation            # client certificate only, no module yet
D=hsmadm-domain

# A rogue module: its own module CA, but it trusts our client CA.
hsmadm-simd init --serial DC1-M01 --dir "$T/rogue" --domains 8 --client-ca "$T/client-ca.pem" >/dev/null
start_module rogue
expect_exit 22 "a module whose certificate does not chain to the pinned CA is refused" -- \
	$D module add rogue "127.0.0.1:${PORT[rogue]}" --ca "$T/ca.pem" --yes
out_has "127.0.0.1:${PORT[rogue]}" "message names the address"
expect_exit 0 "nothing was added" -- $D module list
out_has "No trusted modules yet" "module list is still empty"

# A module whose TLS certificate chains to the pinned CA, but whose OA
# certificate (same key, same serial) another CA issued: its receipts would
# all fail, so it is refused at module add, before anyone confirms it.
init_module oaforeign DC1-M09
hsmadm-simd init --serial DC1-M09 --dir "$T/xca" --domains 1 >/dev/null
openssl req -new -key "$T/oaforeign/oa.key" -out "$T/oa.csr" \
	-subj "/O=hsmadm/OU=hsmadm OA/CN=DC1-M09 OA/serialNumber=DC1-M09" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n' \
	>"$T/oa.ext"
openssl x509 -req -in "$T/oa.csr" -CA "$T/xca/ca.pem" -CAkey "$T/xca/ca.key" -CAcreateserial \
	-days 30 -sha384 -extfile "$T/oa.ext" -out "$T/oaforeign/oa.pem" 2>/dev/null
start_module oaforeign
expect_exit 22 "a module whose OA certificate does not chain to the pinned CA is refused" -- \
	$D module add oaforeign "127.0.0.1:${PORT[oaforeign]}" --ca "$T/ca.pem" --yes
out_has "OA certificate of module DC1-M09: certificate does not chain to the pinned CA" \
	"says it is the OA certificate"
stop_module oaforeign

# Fingerprint confirmation: a wrong answer adds nothing, the right one adds.
expect_exit 7 "wrong fingerprint answer cancels" -- \
	bash -c "echo nope | $D module add dc1 127.0.0.1:${PORT[m1]} --ca $T/ca.pem --confirm-fd 0"
fp=$(openssl x509 -in "$T/m1/oa.pem" -outform DER | openssl dgst -sha256 -r | cut -c1-8)
expect_exit 0 "typing the fingerprint start confirms" -- \
	bash -c "echo $fp | $D module add dc1 127.0.0.1:${PORT[m1]} --ca $T/ca.pem --confirm-fd 0"
out_has "OA certificate fingerprint" "the fingerprint was shown"
expect_exit 5 "the same module twice" -- $D module add dc1 "127.0.0.1:${PORT[m1]}" --ca "$T/ca.pem" --yes
expect_exit 0 "module show checks the OA fingerprint" -- $D module show dc1
# the confirmed certificate itself is kept, so that it is checked while the
# first read of a command waits on the modules
jq -e --arg c "$(openssl x509 -in "$T/m1/oa.pem" -outform DER | base64 -w0)" \
	'.modules[0].oa_cert == $c' "$HSMADM_HOME/config.json" >/dev/null &&
	ok "the confirmed OA certificate is kept" || fail "config.json lacks the OA certificate"

$D group create g dc1:1 >/dev/null
expect_exit 0 "trusted workstation reads the group" -- $D group status g

# The rogue answers on dc1's address: refused (chain), even with the right serial.
stop_module m1
PORT[rogue_saved]=${PORT[rogue]}
stop_module rogue
PORT[rogue]=${PORT[m1]}
start_module rogue
expect_exit 22 "an impostor at a trusted module's address is refused" -- $D group status g
stop_module rogue
PORT[rogue]=${PORT[rogue_saved]}
start_module m1

# The same serial under the same CA, but another OA key than the one whose
# fingerprint was confirmed at module add: its receipts are not trusted.
init_module m1new DC1-M01
stop_module m1
PORT[m1new]=${PORT[m1]}
start_module m1new
keyfile newadmin
rc=0
$D admin add g --pubkey-file "$T/newadmin.pem" --name New --identity new >"$T/out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && grep -q "other than the one confirmed when it was added" "$T/out"; then
	ok "a receipt under another OA certificate than the confirmed one is refused (exit $rc)"
else
	fail "replaced OA key: exit $rc"; sed 's/^/    | /' "$T/out" >&2
fi
stop_module m1new
start_module m1

# An untrusted workstation: a client certificate from another client CA.
hsmadm-simd init --serial OTHER --dir "$T/other" --domains 1 >/dev/null
hsmadm-simd issue-client --dir "$T/other" --name stranger --out-key "$T/x.key" --out-cert "$T/x.pem" >/dev/null
mkdir -m 700 "$T/home2"
HSMADM_HOME="$T/home2" $D client set --cert "$T/x.pem" --key "$T/x.key" >/dev/null
rc=0
HSMADM_HOME="$T/home2" $D module add dc1 "127.0.0.1:${PORT[m1]}" --ca "$T/ca.pem" --yes >"$T/out" 2>&1 || rc=$?
if [ "$rc" -eq 21 ] && grep -q "client certificate" "$T/out"; then ok "an untrusted client certificate is refused (exit $rc)"
else fail "untrusted client: exit $rc, wanted 21 (TLS)"; cat "$T/out" >&2; fi

# The workstation directory must be private.
chmod 755 "$HSMADM_HOME"
expect_exit 6 "a workstation directory others can read is refused" -- $D module list
out_has "chmod 700" "says how to fix it"
chmod 700 "$HSMADM_HOME"
expect_exit 0 "fixed" -- $D module list
finish
