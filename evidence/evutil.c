/* SPDX-License-Identifier: BSD-2-Clause */
/* evutil.c - small checked helpers shared by writer, reader and verifier. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hsmadm/codec.h"
#include "hsmadm/cjson.h"
#include "hsmadm/crypto.h"
#include "evint.h"

hsm_rc
ev_sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;
	hsm_rc rc = HSM_OK;

	if (ctx == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory hashing a log line");
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    (an > 0 && EVP_DigestUpdate(ctx, a, an) != 1) ||
	    (bn > 0 && EVP_DigestUpdate(ctx, b, bn) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &olen) != 1 || olen != 32)
		rc = hsm_fail(HSM_ERR_CRYPTO, "SHA-256 failed");
	EVP_MD_CTX_free(ctx);
	return rc;
}

hsm_rc
ev_head_signed_bytes(const json_t *record, char **out, size_t *len)
{
	json_t *copy = NULL, *body;
	hsm_rc rc;

	*out = NULL;
	body = json_object_get(record, "body");
	if (!json_is_object(record) || !json_is_object(body))
		return hsm_fail(HSM_ERR_FORMAT, "signed head is not a record with a body");
	if ((copy = json_copy((json_t *)record)) == NULL ||
	    json_object_set_new(copy, "body", json_copy(body)) != 0) {
		json_decref(copy);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory copying a signed head");
	}
	json_object_del(json_object_get(copy, "body"), "signature");
	rc = cjson_dump(copy, out, len);
	json_decref(copy);
	return rc;
}

hsm_rc
ev_pub_to_hex(const EVP_PKEY *k, char **out)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	hsm_rc rc;

	*out = NULL;
	if ((rc = crypto_ec_point(k, &pt, &n)) != HSM_OK)
		return rc;
	rc = hex_encode(pt, n, out);
	free(pt);
	return rc;
}

int
ev_is_hex(const char *s, size_t n)
{
	size_t i;

	if (s == NULL || strlen(s) != 2 * n)
		return 0;
	for (i = 0; i < 2 * n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
digits(const char *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
ev_is_rfc3339_utc(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n < 20 || n > 40)
		return 0;
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
	    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return 0;
	if (s[n - 1] != 'Z')
		return 0;
	if (n > 20) {
		if (s[19] != '.' || n < 22 || !digits(s + 20, (int)(n - 21)))
			return 0;
	}
	return 1;
}

int
ev_is_type_name(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}
