/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ecdsa_twin.h - test helpers for the two forms of one ECDSA signature.
 * (r, s) and (r, n - s) both verify; hsmadm writes and accepts only the
 * low-S form (s <= n/2). Computed here with OpenSSL directly, not with the
 * code under test, so a test sees what the library really produced.
 */
#ifndef HSMADM_TEST_ECDSA_TWIN_H
#define HSMADM_TEST_ECDSA_TWIN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

/* 1 if the DER signature's s is above n/2, 0 if not, -1 if it does not parse. */
static inline int
ecdsa_is_high_s(EVP_PKEY *k, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	BIGNUM *n = NULL, *half = NULL;
	const BIGNUM *r, *s;
	int high = -1;

	if (sig != NULL && EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_ORDER, &n) == 1 &&
	    (half = BN_dup(n)) != NULL && BN_rshift1(half, n) == 1) {
		ECDSA_SIG_get0(sig, &r, &s);
		high = BN_cmp(s, half) > 0;
	}
	BN_free(n);
	BN_free(half);
	ECDSA_SIG_free(sig);
	return high;
}

/* The other form (r, n - s) of a DER signature, in malloc'ed memory; 0 on success. */
static inline int
ecdsa_twin(EVP_PKEY *k, const uint8_t *der, size_t len, uint8_t **out, size_t *outlen)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	BIGNUM *n = NULL, *r2 = NULL, *s2 = NULL;
	const BIGNUM *r, *s;
	unsigned char *enc = NULL;
	int elen = 0, rc = -1;

	*out = NULL;
	*outlen = 0;
	if (sig == NULL || EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_ORDER, &n) != 1)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if ((r2 = BN_dup(r)) == NULL || (s2 = BN_new()) == NULL || BN_sub(s2, n, s) != 1 ||
	    ECDSA_SIG_set0(sig, r2, s2) != 1)
		goto out;
	r2 = s2 = NULL;
	if ((elen = i2d_ECDSA_SIG(sig, &enc)) <= 0 || (*out = malloc((size_t)elen)) == NULL)
		goto out;
	memcpy(*out, enc, (size_t)elen);
	*outlen = (size_t)elen;
	rc = 0;
out:
	OPENSSL_free(enc);
	BN_free(n);
	BN_free(r2);
	BN_free(s2);
	ECDSA_SIG_free(sig);
	return rc;
}

#endif
