#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Interoperability: OpenSC (opensc-tool, piv-tool, pkcs11-tool with
# opensc-pkcs11.so) against hsmadm-vcard.
set -euo pipefail
. "${HSMADM_SRC:?}/tests/interop/common.sh"
interop_setup 31337
make_ca
M=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
[ -e "$M" ] || M=$(find /usr/lib -name opensc-pkcs11.so 2>/dev/null | head -n1)
[ -n "$M" ] || fail "opensc-pkcs11.so not found (package opensc-pkcs11)"
P11() { pkcs11-tool --module "$M" "$@"; }
Y() { yubico-piv-tool -r "$R" "$@"; }

expect_ok "opensc-tool -n" opensc-tool -r "$R" -n
expect_out "^Personal Identity Verification Card$"
expect_ok "opensc-tool -a (YubiKey 5 ATR)" opensc-tool -r "$R" -a
expect_out "3b:fd:13:00:00:81:31:fe:15:80:73:c0:21:c0:57:59:75:62:69:4b:65:79:40"

# Keys as OpenSC's CI puts them on a PIV card: generate, certificate, import.
Y -a generate -s 9c -A ECCP256 -o "$W/9c.pub" >/dev/null 2>&1
Y -a generate -s 9d -A ECCP384 -o "$W/9d.pub" >/dev/null 2>&1
cert_for "$W/9c.pub" "Signer" "$W/9c.crt"
cert_for "$W/9d.pub" "Key manager" "$W/9d.crt"
Y -a import-certificate -s 9c -i "$W/9c.crt" >/dev/null 2>&1
Y -a import-certificate -s 9d -i "$W/9d.crt" >/dev/null 2>&1

# OpenSC's own management-key authentication (mutual, 3DES): write the 9E
# certificate object with piv-tool. (piv-tool's exit status is not usable
# here: it returns non-zero after a successful -C; check the card instead.
# piv-tool -G and -A A:9B are broken on the host side in OpenSC 0.23 with
# OpenSSL 3, before or after the card is asked.)
cert_for "$W/9c.pub" "Card auth" "$W/9e.crt"
echo 010203040506070801020304050607080102030405060708 >"$W/mgm.hex"
echo 111213141516171811121314151617181112131415161718 >"$W/bad.hex"
PIV_EXT_AUTH_KEY="$W/bad.hex" piv-tool -r "$R" -A M:9B:03 -C 9E -i "$W/9e.crt" >"$W/piv.out" 2>&1 || true
hsmadm-vcard show "$CARD" | grep -q "object 5fc101" && fail "piv-tool wrote with a wrong management key"
pass "piv-tool refused with a wrong management key"
PIV_EXT_AUTH_KEY="$W/mgm.hex" piv-tool -r "$R" -A M:9B:03 -C 9E -i "$W/9e.crt" >"$W/piv.out" 2>&1 || true
hsmadm-vcard show "$CARD" | grep -q "object 5fc101" || { cat "$W/piv.out"; fail "piv-tool mutual auth + write 9E certificate"; }
pass "piv-tool mutual auth + write 9E certificate"

expect_ok "pkcs11-tool -L" P11 -L
expect_out "token manufacturer +: piv_II"
expect_out "login required, rng, token initialized, PIN initialized"
expect_ok "pkcs11-tool -O" P11 -O
expect_out "label: +Certificate for Digital Signature"
expect_out "subject: +DN: CN=Signer"
expect_out "ID: +03"

expect_ok "pkcs11-tool -l -O (private keys after login)" P11 -l -p 123456 -O
expect_out "Private Key Object; EC"
expect_out "Access: +always authenticate"
expect_ok "pkcs15-tool --dump" pkcs15-tool -r "$R" --dump
expect_out "Private EC Key \\[SIGN key\\]"
expect_out "Private EC Key \\[KEY MAN key\\]"

# ECDSA with the 9C key (id 02, always-authenticate), verified by openssl.
printf 'a message for the card\n' >"$W/msg"
openssl dgst -sha256 -binary "$W/msg" >"$W/msg.sha256"
expect_ok "pkcs11-tool --sign ECDSA id 02" \
	P11 -l -p 123456 --sign --id 02 -m ECDSA -i "$W/msg.sha256" -o "$W/sig" --signature-format openssl
openssl x509 -in "$W/9c.crt" -pubkey -noout >"$W/9c.pem"
expect_ok "openssl verifies the card's signature" \
	openssl dgst -sha256 -verify "$W/9c.pem" -signature "$W/sig" "$W/msg"
expect_out "Verified OK"
expect_fail "pkcs11-tool --sign with a wrong PIN" \
	P11 -l -p 999999 --sign --id 02 -m ECDSA -i "$W/msg.sha256" -o "$W/sig2"

# ECDH with the 9D key (id 03) against an openssl-side key.
openssl ecparam -name secp384r1 -genkey -noout -out "$W/peer.key" 2>/dev/null
openssl pkey -in "$W/peer.key" -pubout -outform DER -out "$W/peer.der"
expect_ok "pkcs11-tool --derive ECDH1-DERIVE id 03" \
	P11 -l -p 123456 --derive -m ECDH1-DERIVE --id 03 -i "$W/peer.der" -o "$W/z.card"
openssl x509 -in "$W/9d.crt" -pubkey -noout >"$W/9d.pem"
openssl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$W/9d.pem" -out "$W/z.openssl"
cmp -s "$W/z.card" "$W/z.openssl" || fail "card and openssl ECDH secrets differ"
[ "$(stat -c %s "$W/z.card")" = 48 ] || fail "ECDH secret is not 48 bytes"
pass "ECDH secret equals openssl's"

expect_ok "pkcs11-tool --generate-random" P11 --generate-random 32 -o "$W/rnd"
[ "$(stat -c %s "$W/rnd")" = 32 ] || fail "random output is not 32 bytes"

# PIN change and unblock through OpenSC's PKCS#15 layer.
expect_ok "pkcs15-tool --change-pin" pkcs15-tool -r "$R" --change-pin --pin 123456 --new-pin 135791
for i in 1 2 3; do pkcs15-tool -r "$R" --verify-pin --pin 000000 >/dev/null 2>&1 || true; done
expect_fail "PIN blocked" P11 -l -p 135791 --sign --id 02 -m ECDSA -i "$W/msg.sha256" -o "$W/sig3"
expect_ok "pkcs15-tool --unblock-pin with the PUK" pkcs15-tool -r "$R" -u --puk 12345678 --new-pin 123456
expect_ok "sign after unblock" P11 -l -p 123456 --sign --id 02 -m ECDSA -i "$W/msg.sha256" -o "$W/sig4"

# Speed: the vpcd path must not fall into the ~44 ms Nagle/delayed-ACK trap.
args=()
for i in $(seq 200); do args+=(-s 00FD000000); done
start=$(date +%s%N)
opensc-tool -r "$R" -c default "${args[@]}" >"$W/apdus.out" 2>&1 || { cat "$W/apdus.out"; fail "opensc-tool -s failed"; }
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(grep -c "05 04 03" "$W/apdus.out")" = 200 ] || fail "not every GET VERSION answered"
echo "200 APDUs in $ms ms"
[ "$ms" -lt 2000 ] || fail "200 APDUs took $ms ms (TCP_QUICKACK not working?)"
pass "APDU round trips are fast"
echo "PASS: OpenSC interop"
