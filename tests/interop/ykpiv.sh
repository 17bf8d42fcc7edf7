#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Interoperability: yubico-piv-tool (libykpiv 2.2.0) against hsmadm-vcard.
set -euo pipefail
. "${HSMADM_SRC:?}/tests/interop/common.sh"
interop_setup 4242
make_ca
Y() { yubico-piv-tool -r "$R" "$@"; }
DEFKEY=010203040506070801020304050607080102030405060708

expect_ok "status" Y -a status
expect_out "Version:	5\.4\.3"
expect_out "Serial Number:	4242"
expect_out "PIN tries left:	3"
expect_ok "version" Y -a version
expect_out "Application version 5\.4\.3 found"

# PIN and PUK
expect_ok "verify-pin" Y -a verify-pin -P 123456
expect_fail "verify-pin with a wrong PIN" Y -a verify-pin -P 999999
expect_out "2 tries left"
expect_ok "a right PIN resets the counter" Y -a verify-pin -P 123456
expect_ok "status after reset" Y -a status
expect_out "PIN tries left:	3"
expect_ok "change-pin" Y -a change-pin -P 123456 -N 24682468
expect_fail "old PIN refused after change" Y -a verify-pin -P 123456
expect_ok "new PIN accepted" Y -a verify-pin -P 24682468
expect_fail "change-pin to a 5-digit PIN" Y -a change-pin -P 24682468 -N 12345
expect_ok "change-puk" Y -a change-puk -P 12345678 -N 87654321
for i in 1 2 3; do
	Y -a verify-pin -P 000000 >/dev/null 2>&1 && fail "wrong PIN $i accepted"
done
expect_fail "PIN blocked after 3 wrong PINs" Y -a verify-pin -P 24682468
expect_out "blocked"
expect_fail "unblock-pin with the wrong PUK" Y -a unblock-pin -P 12345678 -N 111111
expect_ok "unblock-pin with the PUK" Y -a unblock-pin -P 87654321 -N 111111
expect_ok "PIN after unblock" Y -a verify-pin -P 111111

# Counters survive a restart of the card (saved to the card file).
Y -a verify-pin -P 000000 >/dev/null 2>&1 || true
harness_remove 0
harness_insert "$CARD" 0
expect_ok "status after reinsertion" Y -a status
expect_out "PIN tries left:	2"
expect_ok "PIN after reinsertion" Y -a verify-pin -P 111111

# Keys, certificates, signatures, ECDH
expect_ok "generate 9c ECCP256" Y -a generate -s 9c -A ECCP256 -o "$W/9c.pub"
openssl pkey -pubin -in "$W/9c.pub" -noout -text | grep -q "prime256v1" || fail "9c key is not P-256"
expect_ok "generate 9d ECCP256" Y -a generate -s 9d -A ECCP256 -o "$W/9d256.pub"
expect_ok "generate 9d ECCP384" Y -a generate -s 9d -A ECCP384 -o "$W/9d.pub"
openssl pkey -pubin -in "$W/9d.pub" -noout -text | grep -q "secp384r1" || fail "9d key is not P-384"
expect_ok "generate 9a ECCP384 pin-policy never" Y -a generate -s 9a -A ECCP384 --pin-policy=never -o "$W/9a.pub"
expect_fail "generate with a wrong management key" Y -k 000000000000000000000000000000000000000000000000 -a generate -s 9e -A ECCP256
# selfsign-certificate: Debian's yubico-piv-tool 2.2.0 with OpenSSL 3 fails
# on the host before it sends the signature APDU (Yubico/yubico-piv-tool#388).
# Accept success (a fixed tool) only with a certificate that verifies under
# the 9c key; otherwise require exactly that known failure.
if OUT=$(Y -a verify-pin -P 111111 -a selfsign-certificate -s 9c -S '/CN=Self 9c/' \
	-i "$W/9c.pub" -o "$W/self9c.crt" 2>&1); then
	openssl x509 -in "$W/self9c.crt" -noout 2>/dev/null || fail "selfsign wrote no certificate"
	openssl verify -partial_chain -trusted "$W/self9c.crt" "$W/self9c.crt" >/dev/null ||
		fail "selfsigned certificate does not verify"
	pass "selfsign-certificate 9c"
else
	expect_out "Failed signing certificate"
	echo "skip: selfsign-certificate 9c (yubico-piv-tool 2.2.0 + OpenSSL 3 host bug #388)"
fi
cert_for "$W/9c.pub" "Admin 9c" "$W/9c.crt"
cert_for "$W/9d.pub" "Custodian 9d" "$W/9d.crt"
cert_for "$W/9a.pub" "Auth 9a" "$W/9a.crt"
expect_ok "import-certificate 9c" Y -a import-certificate -s 9c -i "$W/9c.crt"
expect_ok "import-certificate 9d" Y -a import-certificate -s 9d -i "$W/9d.crt"
expect_ok "import-certificate 9a" Y -a import-certificate -s 9a -i "$W/9a.crt"
expect_ok "read-certificate 9c" Y -a read-certificate -s 9c -o "$W/9c.back"
cmp -s <(openssl x509 -in "$W/9c.crt" -outform DER) <(openssl x509 -in "$W/9c.back" -outform DER) ||
	fail "certificate read back differs"
expect_ok "status lists the certificates" Y -a status
expect_out "Subject DN:	CN=Admin 9c"
expect_out "Slot 9d:"
expect_ok "test-signature 9c (PIN always)" Y -a verify-pin -P 111111 -a test-signature -s 9c -i "$W/9c.crt"
expect_out "Successful ECDSA verification"
expect_fail "test-signature 9c without PIN" Y -a test-signature -s 9c -i "$W/9c.crt"
expect_ok "test-signature 9a (PIN never, P-384)" Y -a test-signature -s 9a -i "$W/9a.crt"
expect_ok "test-decipher 9d (ECDH P-384)" Y -a verify-pin -P 111111 -a test-decipher -s 9d -i "$W/9d.crt"
expect_out "Successfully performed ECDH exchange"

# Import of an EC private key (YubiKey FE)
openssl ecparam -name prime256v1 -genkey -noout -out "$W/imp.key" 2>/dev/null
openssl pkey -in "$W/imp.key" -pubout -out "$W/imp.pub"
cert_for "$W/imp.pub" "Imported 9e" "$W/9e.crt"
expect_ok "import-key 9e" Y -a import-key -s 9e -i "$W/imp.key"
expect_ok "import-certificate 9e" Y -a import-certificate -s 9e -i "$W/9e.crt"
expect_ok "test-signature 9e with the imported key" Y -a test-signature -s 9e -i "$W/9e.crt"

# Attestation (YubiKey F9): a certificate for the 9c key, signed by the F9
# key whose certificate is in object 5FFF01.
expect_ok "read-certificate f9" Y -a read-certificate -s f9 -o "$W/f9.crt"
expect_ok "attest 9c" Y -a attest -s 9c -o "$W/att9c.crt"
expect_ok "attestation verifies against the f9 certificate" \
	openssl verify -partial_chain -trusted "$W/f9.crt" "$W/att9c.crt"
openssl x509 -in "$W/att9c.crt" -noout -subject | grep -q "YubiKey PIV Attestation 9c" || fail "attestation subject"
cmp -s <(openssl x509 -in "$W/att9c.crt" -pubkey -noout) <(openssl pkey -pubin -in "$W/9c.pub") ||
	fail "attestation is not for the 9c key"
expect_fail "attest an imported key" Y -a attest -s 9e

# Management key
NEWKEY=0f0e0d0c0b0a09080706050403020100f0e1d2c3b4a59687
expect_ok "set-mgm-key" Y -a set-mgm-key -n "$NEWKEY"
expect_fail "old management key refused" Y -a generate -s 9e -A ECCP256
expect_ok "new management key accepted" Y -k"$NEWKEY" -a delete-certificate -s 9e
expect_ok "management key back to default" Y -k"$NEWKEY" -a set-mgm-key -n "$DEFKEY"

# YubiKey SET PIN RETRIES: also resets PIN and PUK to the defaults
expect_ok "pin-retries" Y -a verify-pin -P 111111 -a pin-retries --pin-retries=5 --puk-retries=4
expect_ok "status after pin-retries" Y -a status
expect_out "PIN tries left:	5"
expect_ok "default PIN after pin-retries" Y -a verify-pin -P 123456

# YubiKey RESET: only once PIN and PUK are blocked
expect_fail "reset refused while PIN works" Y -a reset
for i in 1 2 3 4 5; do Y -a verify-pin -P 000000 >/dev/null 2>&1 || true; done
for i in 1 2 3 4; do Y -a unblock-pin -P 00000000 -N 000000 >/dev/null 2>&1 || true; done
expect_ok "reset after blocking PIN and PUK" Y -a reset
expect_ok "status after reset" Y -a status
expect_out "PIN tries left:	3"
grep -q "Slot 9c" <<<"$OUT" && fail "certificate survived reset"
hsmadm-vcard show "$CARD" | grep -Eq "key (9a|9c|9d|9e)" && fail "keys survived reset"
yubico-piv-tool -r "$R" -a read-certificate -s f9 -o "$W/f9.after" >/dev/null 2>&1 ||
	fail "attestation certificate did not survive reset"
echo "PASS: yubico-piv-tool interop"
