/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_crypto.c - the untrusted-bytes entry points of lib/crypto.c:
 * SPKI DER and PEM public keys, uncompressed points, DER ECDSA signatures
 * (parse and verify), and RFC 5649 unwrap. The first byte picks the entry.
 * Invariants checked: an accepted key re-encodes to DER that parses to the
 * same SKI; an accepted DER signature converts to raw and back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_key(EVP_PKEY *k)
{
	uint8_t *der = NULL, s1[HSM_SKI_LEN], s2[HSM_SKI_LEN];
	size_t derlen = 0;
	EVP_PKEY *again = NULL;

	if (crypto_ski(k, s1) != HSM_OK ||
	    crypto_pub_to_der(k, &der, &derlen) != HSM_OK ||
	    crypto_pub_from_der(der, derlen, &again) != HSM_OK ||
	    crypto_ski(again, s2) != HSM_OK || memcmp(s1, s2, sizeof(s1)) != 0)
		abort();
	free(der);
	EVP_PKEY_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *p384;
	static const uint8_t kek[32] = { 1, 2, 3 };
	EVP_PKEY *k = NULL;
	uint8_t raw[132], out[4096], *der = NULL;
	size_t outlen = 0, derlen = 0;

	if (p384 == NULL && crypto_ec_generate(HSM_CURVE_P384, &p384) != HSM_OK)
		abort();
	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0:
		if (crypto_pub_from_der(data + 1, size - 1, &k) == HSM_OK)
			check_key(k);
		break;
	case 1:
		if (crypto_pub_from_pem((const char *)data + 1, size - 1, &k) == HSM_OK)
			check_key(k);
		break;
	case 2:
		if (crypto_ec_from_point(HSM_CURVE_P256, data + 1, size - 1, &k) == HSM_OK)
			check_key(k);
		EVP_PKEY_free(k);
		k = NULL;
		if (crypto_ec_from_point(HSM_CURVE_P384, data + 1, size - 1, &k) == HSM_OK)
			check_key(k);
		break;
	case 3:
		if (crypto_ecdsa_der_to_raw(HSM_CURVE_P384, data + 1, size - 1, raw) == HSM_OK) {
			if (crypto_ecdsa_raw_to_der(HSM_CURVE_P384, raw, 96, &der, &derlen) != HSM_OK ||
			    derlen != size - 1 || memcmp(der, data + 1, derlen) != 0)
				abort();
		}
		break;
	case 4:
		/* A random signature must never verify. */
		if (crypto_ecdsa_verify(p384, "m", 1, data + 1, size - 1) == HSM_OK)
			abort();
		break;
	case 5:
		if (size - 1 <= sizeof(out) + 8)
			(void)crypto_kwp_unwrap(kek, sizeof(kek), data + 1, size - 1, out, &outlen);
		break;
	}
	free(der);
	EVP_PKEY_free(k);
	return 0;
}
