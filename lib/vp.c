/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vp.c - verification patterns (MKVP/KPVP) as EP11 computes them:
 * SHA-256(0x01 || key) with bytes 28..31 set to zero (DESIGN §4).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "hsmadm/vp.h"
#include "hsmadm/secbuf.h"

hsm_rc
vp_compute(const uint8_t key[HSM_KEY_LEN], uint8_t vp[HSM_VP_LEN])
{
	static const uint8_t prefix = 0x01;
	EVP_MD_CTX *ctx = NULL;
	unsigned int len = 0;
	hsm_rc rc = HSM_OK;

	if (key == NULL || vp == NULL)
		return hsm_fail(HSM_ERR_USAGE, "verification pattern: bad arguments");
	/* Two updates instead of a 33-byte copy: the key is never duplicated
	 * outside its secbuf. */
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, &prefix, 1) ||
	    !EVP_DigestUpdate(ctx, key, HSM_KEY_LEN) ||
	    !EVP_DigestFinal_ex(ctx, vp, &len) || len != HSM_VP_LEN) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot compute the verification pattern");
		goto out;
	}
	memset(vp + 28, 0, 4);
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

void
vp_xor_into(uint8_t acc[HSM_KEY_LEN], const uint8_t part[HSM_KEY_LEN])
{
	for (size_t i = 0; i < HSM_KEY_LEN; i++)
		acc[i] ^= part[i];
}

void
vp_format(const uint8_t vp[HSM_VP_LEN], char out[HSM_VP_TEXT_LEN])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;

	for (size_t i = 0; i < 16; i++) {
		if (i > 0 && i % 2 == 0)
			*p++ = ' ';
		*p++ = hex[vp[i] >> 4];
		*p++ = hex[vp[i] & 0x0f];
	}
	*p = '\0';
}

int
vp_equal(const uint8_t a[HSM_VP_LEN], const uint8_t b[HSM_VP_LEN])
{
	return secure_equal(a, b, HSM_VP_LEN);
}

hsm_rc
vp_parse(const char *text, uint8_t out[HSM_VP_LEN], size_t *n)
{
	size_t digits = 0;
	int hi = -1;

	*n = 0;
	for (const char *p = text; p != NULL && *p; p++) {
		int v;

		if (*p == ' ' || *p == '-')
			continue;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			v = (*p | 0x20) - 'a' + 10;
		else
			return hsm_fail(HSM_ERR_USAGE, "a pattern is hex digits, grouped by spaces "
			    "or not; '%c' is not one", *p);
		if (digits >= 2 * HSM_VP_LEN)
			return hsm_fail(HSM_ERR_USAGE, "a pattern has at most 64 hex digits");
		if (hi < 0)
			hi = v;
		else {
			out[digits / 2] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
		digits++;
	}
	if (digits != 2 * HSM_VP_LEN && digits != HSM_VP_LEN)
		return hsm_fail(HSM_ERR_USAGE, "a pattern is either the 32 hex digits shown "
		    "(8 groups of 4) or the full 64; this one has %zu", digits);
	*n = digits / 2;
	return HSM_OK;
}
