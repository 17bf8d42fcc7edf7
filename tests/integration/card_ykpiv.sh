#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A card set up by yubico-piv-tool alone (PIN, management key, a 9C key and
# its self-signed certificate) works with hsmadm-card status and verify; and
# an hsmadm card is readable by yubico-piv-tool (the certificate names the
# holder) and signs for it with the PIN.
. "${HSMADM_SRC:?}/tests/integration/card_common.sh"
command -v yubico-piv-tool >/dev/null || { echo "yubico-piv-tool missing: skipped"; exit 0; }
card_setup 2
new_card 0
new_card 1
R=$(harness_reader_name 0)
K=0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778
yk() { yubico-piv-tool -r "$R" "$@"; }

# Set up with yubico-piv-tool only.
yk -a change-pin --pin=123456 --new-pin=47114711 >/dev/null 2>&1 || fail "ykpiv change-pin"
yk -a set-mgm-key -n "$K" >/dev/null 2>&1 || fail "ykpiv set-mgm-key"
yk --key="$K" -a generate -s 9c -A ECCP256 -o "$W/pub.pem" >/dev/null 2>&1 || fail "ykpiv generate"
# yubico-piv-tool 2.2.0's selfsign-certificate fails locally with OpenSSL 3
# ("Failed signing certificate", no APDU sent), so the certificate comes from
# a small CA, as many PIV deployments do.
openssl ecparam -name prime256v1 -genkey -noout -out "$W/ca.key" 2>/dev/null
openssl req -new -x509 -key "$W/ca.key" -subj "/CN=Test CA" -days 30 -out "$W/ca.crt" 2>/dev/null
openssl req -new -key "$W/ca.key" -subj "/CN=Yuki Yubico" -out "$W/tmp.csr" 2>/dev/null
openssl x509 -req -in "$W/tmp.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial \
	-force_pubkey "$W/pub.pem" -days 30 -out "$W/cert.pem" 2>/dev/null || fail "openssl cert"
yk --key="$K" -a import-certificate -s 9c -i "$W/cert.pem" >/dev/null 2>&1 || fail "ykpiv import-certificate"
pass "card set up by yubico-piv-tool"

run 0 "status of a yubico-piv-tool card" hsmadm-card status --reader "$R" --json
jq_is .initialized false
jq_is '.keys["9c"].curve' P-256
jq_is '.keys["9c"].subject_cn' "Yuki Yubico"
run 0 "verify of a yubico-piv-tool card" hsmadm-card verify --reader "$R" --json --pin-fd 3 3<<<47114711
jq_is .ok true
jq_is .signature_ok true
jq_is .initialized false
run 14 "wrong PIN on it" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<12341234
err_has "wrong PIN: 2 tries left"
# A new key behind the old certificate: the signature no longer matches.
yk --key="$K" -a generate -s 9c -A ECCP256 -o "$W/pub2.pem" >/dev/null 2>&1 || fail "ykpiv generate 2"
run 4 "key and certificate that do not belong together" hsmadm-card verify --reader "$R" \
	--pin-fd 3 3<<<47114711
err_has "do not belong together"
run 16 "its management key is not the default" hsmadm-card init --reader "$R" --role admin \
	--holder "Yuki Yubico" --allow-default-mgmt-key --pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 \
	3<<<47114711 4<<<47114711 5<<<12345678
err_has "management key"
run 0 "init with its management key given on an fd" hsmadm-card init --reader "$R" --role admin \
	--holder "Yuki Yubico" --json --pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 --mgmt-key-fd 6 \
	3<<<47114711 4<<<47114711 5<<<12345678 6<<<"$K"
jq_is '.keys["9c"].curve' P-384

# The other way round: an hsmadm card seen and used by yubico-piv-tool.
R1=$(harness_reader_name 1)
init_card 1 admin "Hilde Hsmadm" 55556666 77778888
yubico-piv-tool -r "$R1" -a status >"$W/st" 2>&1 || fail "ykpiv status"
grep -q "CN=Hilde Hsmadm" "$W/st" || { cat "$W/st" >&2; fail "ykpiv does not see the holder"; }
grep -q "ECCP384" "$W/st" || fail "ykpiv does not see a P-384 key"
pass "yubico-piv-tool reads the hsmadm card"
yubico-piv-tool -r "$R1" -a read-certificate -s 9c -o "$W/h.pem" >/dev/null 2>&1 || fail "read-certificate"
yubico-piv-tool -r "$R1" --pin=55556666 -a verify-pin -a test-signature -s 9c -i "$W/h.pem" \
	>"$W/ts" 2>&1 || { cat "$W/ts" >&2; fail "ykpiv test-signature with the hsmadm card"; }
pass "yubico-piv-tool signs with the hsmadm card"
echo "card_ykpiv: all passed"
