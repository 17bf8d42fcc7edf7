/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evkeys.c - public keys met in a log, each decoded once per run. A real log
 * names the same few admin keys in every receipt's state; decoding them again
 * for every receipt (with a full public-key validity check) was most of the
 * verifier's work. The curves are P-256, P-384 and P-521, of cofactor 1, so
 * the quick check (the point is on the curve and not at infinity) is the
 * whole check.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "evint.h"

/* Distinct keys kept; past this the oldest goes (callers hold references,
 * so an evicted key stays valid for them). */
#define EV_KEYCACHE_MAX 4096

struct ev_key {
	char     *hex;
	EVP_PKEY *pub;
	uint8_t   ski[32];
};

static hsm_rc
import_point(const uint8_t *pt, size_t n, EVP_PKEY **out)
{
	const char *group = n == 65 ? "P-256" : n == 97 ? "P-384" : n == 133 ? "P-521" : NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *k = NULL;
	hsm_rc rc;

	*out = NULL;
	if (group == NULL || pt[0] != 0x04)
		return hsm_fail(HSM_ERR_FORMAT, "the public key must be an uncompressed "
		    "point (04||X||Y) on P-256, P-384 or P-521");
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, n) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "public key import set-up failed");
		goto out;
	}
	if (EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0 ||
	    (chk = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) == NULL ||
	    EVP_PKEY_public_check_quick(chk) != 1) {
		ERR_clear_error();
		rc = hsm_fail(HSM_ERR_FORMAT, "the public key is not a point on its curve");
		goto out;
	}
	*out = k;
	k = NULL;
	rc = HSM_OK;
out:
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

static void
key_clear(struct ev_key *k)
{
	free(k->hex);
	EVP_PKEY_free(k->pub);
	memset(k, 0, sizeof(*k));
}

hsm_rc
ev_key_get(struct ev_keycache *c, const char *hex, EVP_PKEY **pub, uint8_t ski[32])
{
	struct ev_key k;
	uint8_t *pt = NULL;
	size_t n = 0, i;
	hsm_rc rc;

	if (pub != NULL)
		*pub = NULL;
	if (hex == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "no public key");
	for (i = 0; i < c->n; i++)
		if (strcmp(c->k[i].hex, hex) == 0)
			goto found;
	memset(&k, 0, sizeof(k));
	if ((rc = hex_decode(hex, &pt, &n)) != HSM_OK) {
		free(pt);
		return hsm_fail_wrap(rc, "public key");
	}
	c->imports++;
	rc = import_point(pt, n, &k.pub);
	free(pt);
	if (rc != HSM_OK)
		return rc;
	if ((rc = crypto_ski(k.pub, k.ski)) != HSM_OK || (k.hex = strdup(hex)) == NULL) {
		key_clear(&k);
		return rc != HSM_OK ? rc : hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	if (c->n == EV_KEYCACHE_MAX) {
		key_clear(&c->k[0]);
		memmove(&c->k[0], &c->k[1], (c->n - 1) * sizeof(c->k[0]));
		c->n--;
	}
	{
		void *np = realloc(c->k, (c->n + 1) * sizeof(*c->k));
		if (np == NULL) {
			key_clear(&k);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
		c->k = np;
	}
	i = c->n++;
	c->k[i] = k;
found:
	if (ski != NULL)
		memcpy(ski, c->k[i].ski, 32);
	if (pub != NULL) {
		if (EVP_PKEY_up_ref(c->k[i].pub) != 1)
			return hsm_fail(HSM_ERR_CRYPTO, "cannot reference a key");
		*pub = c->k[i].pub;
	}
	return HSM_OK;
}

void
ev_keycache_free(struct ev_keycache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		key_clear(&c->k[i]);
	free(c->k);
	memset(c, 0, sizeof(*c));
}
