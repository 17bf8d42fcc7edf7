# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers of the vcard interop tests: a private pcscd with one virtual
# card, and small assertions. Source after setting `set -euo pipefail`.
. "${HSMADM_SRC:?}/tests/harness/pcsc.sh"

. "${HSMADM_SRC:?}/tests/harness/check.sh"

# expect_ok DESC CMD...: CMD must succeed; its output is kept in $OUT.
expect_ok() {
	local desc=$1
	shift
	if ! OUT=$("$@" 2>&1); then
		echo "$OUT" >&2
		fail "$desc: command failed: $*"
	fi
	pass "$desc"
}

# expect_fail DESC CMD...: CMD must fail; its output is kept in $OUT.
expect_fail() {
	local desc=$1
	shift
	if OUT=$("$@" 2>&1); then
		echo "$OUT" >&2
		fail "$desc: command should have failed: $*"
	fi
	pass "$desc"
}

# expect_out PATTERN: the last command's output matches the ERE PATTERN.
expect_out() {
	grep -Eq -- "$1" <<<"$OUT" || { echo "$OUT" >&2; fail "output does not match: $1"; }
}

# One reader, one new card; $CARD is its file, $R the reader name, $W a
# scratch dir that harness_stop removes.
interop_setup() {
	harness_start 1
	W=$HARNESS_DIR
	CARD=$W/card.json
	hsmadm-vcard create "$CARD" --serial "${1:-4242}" >/dev/null
	harness_insert "$CARD" 0
	R=$(harness_reader_name 0)
}

# A test CA, and certificates for card public keys signed by it. (Debian's
# yubico-piv-tool 2.2.0 cannot selfsign with OpenSSL 3: its EC_KEY_METHOD
# hook is bypassed by provider keys, Yubico/yubico-piv-tool#388; so the
# certificates come from openssl with -force_pubkey instead.)
make_ca() {
	openssl ecparam -name prime256v1 -genkey -noout -out "$W/ca.key" 2>/dev/null
	openssl req -x509 -new -key "$W/ca.key" -subj /CN=vcard-test-ca -days 30 \
		-out "$W/ca.crt" 2>/dev/null
}

# cert_for PUBKEY.pem CN OUT.crt
cert_for() {
	openssl req -new -key "$W/ca.key" -subj "/CN=$2" -out "$W/tmp.csr" 2>/dev/null
	openssl x509 -req -in "$W/tmp.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" \
		-CAcreateserial -force_pubkey "$1" -days 30 -out "$3" 2>/dev/null
}
