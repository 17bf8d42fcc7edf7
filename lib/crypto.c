/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * crypto.c - hsmadm's cryptography on OpenSSL 3 EVP/provider APIs only.
 *
 * Every function clears OpenSSL's error queue on the way out so that a stale
 * OpenSSL error never leaks into a later, unrelated message. Public keys that
 * enter through this file (points, SPKI DER/PEM) are checked to be on one of
 * the three NIST curves and are normalised to uncompressed form, so that the
 * SKI (SHA-256 of 0x04||X||Y) of a key does not depend on how it arrived.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "hsmadm/crypto.h"
#include "hsmadm/ecdsa_lows.h"
#include "hsmadm/fileio.h"

/* Largest key file we read: a P-521 PKCS#8 PEM is about 400 bytes. */
#define KEYFILE_MAX (64 * 1024)

/* Text of the oldest OpenSSL error, for messages; then clear the queue. */
static const char *
ossl_reason(void)
{
	static _Thread_local char buf[256];
	unsigned long e = ERR_peek_error();

	if (e == 0)
		snprintf(buf, sizeof(buf), "no detail from OpenSSL");
	else
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static hsm_rc
ossl_fail(hsm_rc rc, const char *what)
{
	return hsm_fail(rc, "%s failed (%s)", what, ossl_reason());
}

/* ---- digests, MAC, KDF, random ---------------------------------------- */

static const char *
md_name(hsm_md md)
{
	switch (md) {
	case HSM_MD_SHA256: return "SHA256";
	case HSM_MD_SHA384: return "SHA384";
	case HSM_MD_SHA512: return "SHA512";
	}
	return NULL;
}

static const EVP_MD *
md_evp(hsm_md md)
{
	switch (md) {
	case HSM_MD_SHA256: return EVP_sha256();
	case HSM_MD_SHA384: return EVP_sha384();
	case HSM_MD_SHA512: return EVP_sha512();
	}
	return NULL;
}

size_t
crypto_md_len(hsm_md md)
{
	return md_name(md) != NULL ? (size_t)md / 8 : 0;
}

hsm_md
crypto_curve_md(hsm_curve c)
{
	switch (c) {
	case HSM_CURVE_P384: return HSM_MD_SHA384;
	case HSM_CURVE_P521: return HSM_MD_SHA512;
	case HSM_CURVE_P256:
	case HSM_CURVE_NONE:
		break;
	}
	return HSM_MD_SHA256;
}

hsm_rc
crypto_digest(hsm_md md, const void *in, size_t n, uint8_t *out)
{
	const EVP_MD *m = md_evp(md);
	unsigned int len = 0;

	if (m == NULL || out == NULL || (in == NULL && n > 0))
		return hsm_fail(HSM_ERR_USAGE, "digest: bad arguments");
	if (!EVP_Digest(n ? in : "", n, out, &len, m, NULL))
		return ossl_fail(HSM_ERR_CRYPTO, "digest");
	return HSM_OK;
}

hsm_rc
crypto_sha256(const void *in, size_t n, uint8_t out[32])
{
	return crypto_digest(HSM_MD_SHA256, in, n, out);
}

hsm_rc
crypto_hmac(hsm_md md, const uint8_t *key, size_t keylen,
            const void *in, size_t n, uint8_t *out)
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;
	hsm_rc rc = HSM_ERR_CRYPTO;

	if (md_name(md) == NULL || out == NULL || (key == NULL && keylen > 0) ||
	    (in == NULL && n > 0))
		return hsm_fail(HSM_ERR_USAGE, "HMAC: bad arguments");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)md_name(md), 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "HMAC set-up");
		goto out;
	}
	/* An empty key is legal HMAC; OpenSSL wants a non-NULL pointer for it. */
	if (!EVP_MAC_init(ctx, keylen ? key : (const uint8_t *)"", keylen, params) ||
	    (n > 0 && !EVP_MAC_update(ctx, in, n)) ||
	    !EVP_MAC_final(ctx, out, &outl, crypto_md_len(md))) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "HMAC");
		goto out;
	}
	rc = HSM_OK;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

hsm_rc
crypto_hkdf(hsm_md md, const uint8_t *salt, size_t saltlen,
            const uint8_t *ikm, size_t ikmlen,
            const uint8_t *info, size_t infolen,
            uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5], *p = params;
	hsm_rc rc = HSM_ERR_CRYPTO;

	if (md_name(md) == NULL || out == NULL || outlen == 0 ||
	    outlen > 255 * crypto_md_len(md) || ikm == NULL || ikmlen == 0 ||
	    (salt == NULL && saltlen > 0) || (info == NULL && infolen > 0))
		return hsm_fail(HSM_ERR_USAGE, "HKDF: bad arguments");
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)md_name(md), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)ikm, ikmlen);
	/* RFC 5869: an absent salt is HashLen zero bytes, which is what HMAC
	 * does with an empty key, and what OpenSSL does when none is given. */
	if (saltlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, saltlen);
	if (infolen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		    (void *)info, infolen);
	*p = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "HKDF set-up");
		goto out;
	}
	if (EVP_KDF_derive(ctx, out, outlen, params) <= 0) {
		secure_wipe(out, outlen);
		rc = ossl_fail(HSM_ERR_CRYPTO, "HKDF");
		goto out;
	}
	rc = HSM_OK;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

hsm_rc
crypto_random(void *out, size_t n)
{
	if (out == NULL || n > INT_MAX)
		return hsm_fail(HSM_ERR_USAGE, "random: bad arguments");
	if (n == 0)
		return HSM_OK;
	if (RAND_priv_bytes(out, (int)n) != 1)
		return ossl_fail(HSM_ERR_CRYPTO, "random number generator");
	return HSM_OK;
}

/* ---- EC keys ----------------------------------------------------------- */

static const char *
curve_group(hsm_curve c)
{
	switch (c) {
	case HSM_CURVE_P256: return "prime256v1";
	case HSM_CURVE_P384: return "secp384r1";
	case HSM_CURVE_P521: return "secp521r1";
	case HSM_CURVE_NONE: break;
	}
	return NULL;
}

static const char *
curve_text(hsm_curve c)
{
	switch (c) {
	case HSM_CURVE_P256: return "P-256";
	case HSM_CURVE_P384: return "P-384";
	case HSM_CURVE_P521: return "P-521";
	case HSM_CURVE_NONE: break;
	}
	return "no curve";
}

/* Bytes of one coordinate. */
static size_t
curve_field_len(hsm_curve c)
{
	return ((size_t)c + 7) / 8;
}

hsm_rc
crypto_ec_curve(const EVP_PKEY *k, hsm_curve *out)
{
	char name[64];
	size_t len = 0;

	*out = HSM_CURVE_NONE;
	if (k == NULL)
		return hsm_fail(HSM_ERR_USAGE, "no key given");
	if (!EVP_PKEY_is_a(k, "EC"))
		return hsm_fail(HSM_ERR_FORMAT,
		    "the key is not an elliptic-curve key; use a P-256, P-384 or P-521 key");
	if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
	    name, sizeof(name), &len)) {
		ERR_clear_error();
		return hsm_fail(HSM_ERR_FORMAT,
		    "the key's curve is not a named curve; use P-256, P-384 or P-521");
	}
	if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0)
		*out = HSM_CURVE_P256;
	else if (strcmp(name, "secp384r1") == 0 || strcmp(name, "P-384") == 0)
		*out = HSM_CURVE_P384;
	else if (strcmp(name, "secp521r1") == 0 || strcmp(name, "P-521") == 0)
		*out = HSM_CURVE_P521;
	else
		return hsm_fail(HSM_ERR_FORMAT,
		    "the key is on curve %s; only P-256, P-384 and P-521 are supported", name);
	return HSM_OK;
}

hsm_rc
crypto_ec_generate(hsm_curve c, EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx = NULL;
	hsm_rc rc = HSM_ERR_CRYPTO;

	*out = NULL;
	if (curve_group(c) == NULL)
		return hsm_fail(HSM_ERR_USAGE, "unsupported curve %d", (int)c);
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_group_name(ctx, curve_group(c)) <= 0 ||
	    EVP_PKEY_generate(ctx, out) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "EC key generation");
		*out = NULL;
		goto out;
	}
	rc = HSM_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

hsm_rc
crypto_ec_point(const EVP_PKEY *k, uint8_t **out, size_t *outlen)
{
	hsm_curve c;
	size_t fl, len = 0;
	uint8_t *pt = NULL;
	BIGNUM *x = NULL, *y = NULL;
	hsm_rc rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = crypto_ec_curve(k, &c)) != HSM_OK)
		return rc;
	fl = curve_field_len(c);
	if ((pt = malloc(1 + 2 * fl)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt,
	    1 + 2 * fl, &len) && len == 1 + 2 * fl && pt[0] == 0x04)
		goto done;
	/* A key imported in compressed form reports its point compressed;
	 * rebuild the uncompressed encoding from the affine coordinates. */
	ERR_clear_error();
	if (!EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y) ||
	    BN_bn2binpad(x, pt + 1, (int)fl) < 0 ||
	    BN_bn2binpad(y, pt + 1 + fl, (int)fl) < 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "reading the public point");
		free(pt);
		goto out;
	}
	pt[0] = 0x04;
done:
	*out = pt;
	*outlen = 1 + 2 * fl;
	rc = HSM_OK;
out:
	BN_free(x);
	BN_free(y);
	return rc;
}

/* The public-key check: coordinates in range, on the curve, not infinity.
 * That is the whole check here: P-256, P-384 and P-521 have cofactor 1, so
 * every other point on them has the group's prime order, and the order
 * check EVP_PKEY_public_check adds (a scalar multiplication, as dear as a
 * signature check) could never fail (SP 800-56A rev. 3 §5.6.2.3.4). */
static hsm_rc
check_public(EVP_PKEY *k)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) == NULL)
		return ossl_fail(HSM_ERR_CRYPTO, "public key check set-up");
	ok = EVP_PKEY_public_check_quick(ctx);
	EVP_PKEY_CTX_free(ctx);
	if (ok != 1) {
		ERR_clear_error();
		return hsm_fail(HSM_ERR_FORMAT, "the public key is not a valid point on its curve");
	}
	return HSM_OK;
}

hsm_rc
crypto_ec_from_point(hsm_curve c, const uint8_t *pt, size_t n, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *k = NULL;
	hsm_rc rc = HSM_ERR_CRYPTO;

	*out = NULL;
	if (curve_group(c) == NULL)
		return hsm_fail(HSM_ERR_USAGE, "unsupported curve %d", (int)c);
	if (pt == NULL || n != 1 + 2 * curve_field_len(c) || pt[0] != 0x04)
		return hsm_fail(HSM_ERR_FORMAT,
		    "a %s public point must be %zu bytes, uncompressed (04 || X || Y); got %zu bytes",
		    curve_text(c), 1 + 2 * curve_field_len(c), n);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	        curve_group(c), 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, n) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "public key import set-up");
		goto out;
	}
	if (EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		/* OpenSSL refuses a point that is not on the curve here. */
		ERR_clear_error();
		rc = hsm_fail(HSM_ERR_FORMAT, "the %s public point is not on the curve",
		    curve_text(c));
		goto out;
	}
	if ((rc = check_public(k)) != HSM_OK)
		goto out;
	*out = k;
	k = NULL;
	rc = HSM_OK;
out:
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

hsm_rc
crypto_ski(const EVP_PKEY *k, uint8_t out[HSM_SKI_LEN])
{
	uint8_t *pt = NULL;
	size_t n = 0;
	hsm_rc rc;

	if ((rc = crypto_ec_point(k, &pt, &n)) != HSM_OK)
		return rc;
	rc = crypto_sha256(pt, n, out);
	free(pt);
	return rc;
}

/* ---- ECDSA --------------------------------------------------------------- */

/* Parse a DER ECDSA signature strictly: one SEQUENCE of two INTEGERs, no
 * trailing bytes, and the encoding OpenSSL would produce (minimal lengths),
 * so that each signature has exactly one accepted form. */
static hsm_rc
sig_parse(const uint8_t *der, size_t n, ECDSA_SIG **out)
{
	const unsigned char *p = der;
	unsigned char *re = NULL;
	ECDSA_SIG *s = NULL;
	int relen;

	*out = NULL;
	if (der == NULL || n == 0 || n > 2 * 70 + 8)
		return hsm_fail(HSM_ERR_FORMAT,
		    "the signature is not a DER ECDSA signature (%zu bytes)", n);
	if ((s = d2i_ECDSA_SIG(NULL, &p, (long)n)) == NULL || p != der + n) {
		ERR_clear_error();
		ECDSA_SIG_free(s);
		return hsm_fail(HSM_ERR_FORMAT,
		    "the signature is not a well-formed DER ECDSA signature");
	}
	relen = i2d_ECDSA_SIG(s, &re);
	if (relen < 0 || (size_t)relen != n || memcmp(re, der, n) != 0) {
		OPENSSL_free(re);
		ECDSA_SIG_free(s);
		ERR_clear_error();
		return hsm_fail(HSM_ERR_FORMAT,
		    "the signature is not in canonical DER form");
	}
	OPENSSL_free(re);
	*out = s;
	return HSM_OK;
}

/* Is s above n/2 for k's curve? *high set on HSM_OK. */
static hsm_rc
sig_high_s(EVP_PKEY *k, const ECDSA_SIG *sig, BIGNUM **order, int *high)
{
	const BIGNUM *r, *s;
	BIGNUM *half = NULL;

	*high = 0;
	*order = NULL;
	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_ORDER, order) != 1 ||
	    (half = BN_new()) == NULL || BN_rshift1(half, *order) != 1) {
		BN_free(half);
		BN_free(*order);
		*order = NULL;
		return ossl_fail(HSM_ERR_CRYPTO, "the curve order of the key");
	}
	ECDSA_SIG_get0(sig, &r, &s);
	*high = BN_cmp(s, half) > 0;
	BN_free(half);
	return HSM_OK;
}

hsm_rc
crypto_ecdsa_check_low_s(EVP_PKEY *k, const uint8_t *sig, size_t siglen)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *order = NULL;
	int high = 0;
	hsm_rc rc;

	if (k == NULL)
		return hsm_fail(HSM_ERR_USAGE, "low-S check: no key");
	if ((rc = sig_parse(sig, siglen, &s)) != HSM_OK)
		return rc;
	rc = sig_high_s(k, s, &order, &high);
	if (rc == HSM_OK && high)
		rc = hsm_fail(HSM_ERR_FORMAT, "the signature is in its high-S form (s > n/2); "
		    "only the low-S form is accepted");
	BN_free(order);
	ECDSA_SIG_free(s);
	return rc;
}

hsm_rc
crypto_ecdsa_make_low_s(EVP_PKEY *k, uint8_t **sig, size_t *siglen)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *order = NULL, *r2 = NULL, *s2 = NULL;
	const BIGNUM *r, *sv;
	unsigned char *enc = NULL;
	uint8_t *out;
	int high = 0, len;
	hsm_rc rc;

	if (k == NULL || sig == NULL || siglen == NULL)
		return hsm_fail(HSM_ERR_USAGE, "low-S: bad arguments");
	if ((rc = sig_parse(*sig, *siglen, &s)) != HSM_OK)
		return rc;
	if ((rc = sig_high_s(k, s, &order, &high)) != HSM_OK || !high)
		goto out;
	ECDSA_SIG_get0(s, &r, &sv);
	if ((r2 = BN_dup(r)) == NULL || (s2 = BN_new()) == NULL ||
	    BN_sub(s2, order, sv) != 1 || ECDSA_SIG_set0(s, r2, s2) != 1) {
		rc = ossl_fail(HSM_ERR_NOMEM, "low-S signature");
		goto out;
	}
	r2 = s2 = NULL;   /* s owns them */
	if ((len = i2d_ECDSA_SIG(s, &enc)) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "low-S signature encoding");
		goto out;
	}
	/* Plain malloc memory, like every other *out of this API. */
	if ((out = malloc((size_t)len)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(out, enc, (size_t)len);
	free(*sig);
	*sig = out;
	*siglen = (size_t)len;
out:
	OPENSSL_free(enc);
	BN_free(r2);
	BN_free(s2);
	BN_free(order);
	ECDSA_SIG_free(s);
	return rc;
}

hsm_rc
crypto_ecdsa_der_to_raw(hsm_curve c, const uint8_t *der, size_t n, uint8_t *raw)
{
	ECDSA_SIG *s = NULL;
	const BIGNUM *r, *sv;
	size_t fl = curve_field_len(c);
	hsm_rc rc;

	if (curve_group(c) == NULL || raw == NULL)
		return hsm_fail(HSM_ERR_USAGE, "DER to raw: bad arguments");
	if ((rc = sig_parse(der, n, &s)) != HSM_OK)
		return rc;
	ECDSA_SIG_get0(s, &r, &sv);
	if (BN_is_negative(r) || BN_is_negative(sv) ||
	    (size_t)BN_num_bytes(r) > fl || (size_t)BN_num_bytes(sv) > fl) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the signature values do not fit curve %s",
		    curve_text(c));
		goto out;
	}
	BN_bn2binpad(r, raw, (int)fl);
	BN_bn2binpad(sv, raw + fl, (int)fl);
	rc = HSM_OK;
out:
	ECDSA_SIG_free(s);
	return rc;
}

hsm_rc
crypto_ecdsa_raw_to_der(hsm_curve c, const uint8_t *raw, size_t rawlen,
                        uint8_t **der, size_t *derlen)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *r = NULL, *sv = NULL;
	unsigned char *buf = NULL;
	size_t fl = curve_field_len(c);
	int len;
	hsm_rc rc = HSM_ERR_CRYPTO;

	*der = NULL;
	*derlen = 0;
	if (curve_group(c) == NULL || raw == NULL)
		return hsm_fail(HSM_ERR_USAGE, "raw to DER: bad arguments");
	if (rawlen != 2 * fl)
		return hsm_fail(HSM_ERR_FORMAT,
		    "a raw %s signature is %zu bytes (r || s); got %zu",
		    curve_text(c), 2 * fl, rawlen);
	if ((s = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(raw, (int)fl, NULL)) == NULL ||
	    (sv = BN_bin2bn(raw + fl, (int)fl, NULL)) == NULL) {
		rc = ossl_fail(HSM_ERR_NOMEM, "signature conversion");
		goto out;
	}
	if (!ECDSA_SIG_set0(s, r, sv)) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "signature conversion");
		goto out;
	}
	r = sv = NULL;
	if ((len = i2d_ECDSA_SIG(s, &buf)) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "signature encoding");
		goto out;
	}
	/* Hand out plain malloc memory, like every other *out of this API. */
	if ((*der = malloc((size_t)len)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*der, buf, (size_t)len);
	*derlen = (size_t)len;
	rc = HSM_OK;
out:
	OPENSSL_free(buf);
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(s);
	return rc;
}

hsm_rc
crypto_ecdsa_sign_digest(EVP_PKEY *priv, const uint8_t *dg, size_t dglen,
                         uint8_t **sig, size_t *siglen)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	hsm_curve c;
	hsm_rc rc;

	*sig = NULL;
	*siglen = 0;
	if ((rc = crypto_ec_curve(priv, &c)) != HSM_OK)
		return rc;
	if (dg == NULL || dglen != crypto_md_len(crypto_curve_md(c)))
		return hsm_fail(HSM_ERR_USAGE,
		    "a %s signature needs a %zu-byte digest; got %zu bytes",
		    curve_text(c), crypto_md_len(crypto_curve_md(c)), dglen);
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) == NULL ||
	    EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md_evp(crypto_curve_md(c))) <= 0 ||
	    EVP_PKEY_sign(ctx, NULL, &len, dg, dglen) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "ECDSA signature set-up");
		goto out;
	}
	if ((buf = malloc(len)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_PKEY_sign(ctx, buf, &len, dg, dglen) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "ECDSA signature");
		goto out;
	}
	/* OpenSSL writes s or n - s at random; we write only the low-S form,
	 * the one that commands accept (ecdsa_lows.h). */
	if ((rc = crypto_ecdsa_make_low_s(priv, &buf, &len)) != HSM_OK)
		goto out;
	*sig = buf;
	*siglen = len;
	buf = NULL;
	rc = HSM_OK;
out:
	free(buf);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

hsm_rc
crypto_ecdsa_sign(EVP_PKEY *priv, const void *msg, size_t n,
                  uint8_t **sig, size_t *siglen)
{
	uint8_t dg[64];
	hsm_curve c;
	hsm_md md;
	hsm_rc rc;

	*sig = NULL;
	*siglen = 0;
	if ((rc = crypto_ec_curve(priv, &c)) != HSM_OK)
		return rc;
	md = crypto_curve_md(c);
	if ((rc = crypto_digest(md, msg, n, dg)) != HSM_OK)
		return rc;
	return crypto_ecdsa_sign_digest(priv, dg, crypto_md_len(md), sig, siglen);
}

hsm_rc
crypto_ecdsa_verify_digest(EVP_PKEY *pub, const uint8_t *dg, size_t dglen,
                           const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *s = NULL;
	hsm_curve c;
	hsm_rc rc;
	int v;

	if ((rc = crypto_ec_curve(pub, &c)) != HSM_OK)
		return rc;
	if (dg == NULL || dglen != crypto_md_len(crypto_curve_md(c)))
		return hsm_fail(HSM_ERR_USAGE,
		    "a %s signature covers a %zu-byte digest; got %zu bytes",
		    curve_text(c), crypto_md_len(crypto_curve_md(c)), dglen);
	if ((rc = sig_parse(sig, siglen, &s)) != HSM_OK)
		return rc;
	ECDSA_SIG_free(s);
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) == NULL ||
	    EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md_evp(crypto_curve_md(c))) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "ECDSA verification set-up");
		goto out;
	}
	v = EVP_PKEY_verify(ctx, sig, siglen, dg, dglen);
	ERR_clear_error();
	/* The DER is well formed, so anything but 1 means "does not verify"
	 * (including r or s out of range). */
	rc = v == 1 ? HSM_OK :
	    hsm_fail(HSM_ERR_VERIFY, "the %s signature does not verify", curve_text(c));
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

hsm_rc
crypto_ecdsa_verify(EVP_PKEY *pub, const void *msg, size_t n,
                    const uint8_t *sig, size_t siglen)
{
	uint8_t dg[64];
	hsm_curve c;
	hsm_md md;
	hsm_rc rc;

	if ((rc = crypto_ec_curve(pub, &c)) != HSM_OK)
		return rc;
	md = crypto_curve_md(c);
	if ((rc = crypto_digest(md, msg, n, dg)) != HSM_OK)
		return rc;
	return crypto_ecdsa_verify_digest(pub, dg, crypto_md_len(md), sig, siglen);
}

/* ---- ECDH ---------------------------------------------------------------- */

hsm_rc
crypto_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, hsm_secbuf **shared)
{
	EVP_PKEY_CTX *ctx = NULL;
	hsm_secbuf *sb = NULL;
	hsm_curve c1, c2;
	size_t len = 0;
	hsm_rc rc;

	*shared = NULL;
	if ((rc = crypto_ec_curve(priv, &c1)) != HSM_OK ||
	    (rc = crypto_ec_curve(peer, &c2)) != HSM_OK)
		return rc;
	if (c1 != c2)
		return hsm_fail(HSM_ERR_FORMAT,
		    "the peer key is on %s but this key is on %s; both must use the same curve",
		    curve_text(c2), curve_text(c1));
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "ECDH set-up");
		goto out;
	}
	/* validate_peer = 1: OpenSSL checks the peer point again. */
	if (EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) <= 0) {
		ERR_clear_error();
		rc = hsm_fail(HSM_ERR_FORMAT, "the peer's public key is not a valid %s point",
		    curve_text(c2));
		goto out;
	}
	if (EVP_PKEY_derive(ctx, NULL, &len) <= 0 || len != curve_field_len(c1)) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "ECDH");
		goto out;
	}
	if ((rc = secbuf_new(len, &sb)) != HSM_OK)
		goto out;
	if (EVP_PKEY_derive(ctx, sb->data, &len) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "ECDH");
		goto out;
	}
	sb->len = len;
	*shared = sb;
	sb = NULL;
	rc = HSM_OK;
out:
	secbuf_free(&sb);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* ---- AES-256-GCM ----------------------------------------------------------- */

hsm_rc
crypto_gcm_seal(const uint8_t key[32], const uint8_t iv[12],
                const uint8_t *aad, size_t aadlen,
                const uint8_t *pt, size_t ptlen,
                uint8_t *ct, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t dummy[16];
	int len = 0;
	hsm_rc rc = HSM_ERR_CRYPTO;

	if (key == NULL || iv == NULL || tag == NULL || aadlen > INT_MAX ||
	    ptlen > INT_MAX || (aad == NULL && aadlen > 0) ||
	    ((pt == NULL || ct == NULL) && ptlen > 0))
		return hsm_fail(HSM_ERR_USAGE, "GCM seal: bad arguments");
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) ||
	    !EVP_EncryptInit_ex(ctx, NULL, NULL, key, iv) ||
	    (aadlen > 0 && !EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen)) ||
	    (ptlen > 0 && !EVP_EncryptUpdate(ctx, ct, &len, pt, (int)ptlen)) ||
	    !EVP_EncryptFinal_ex(ctx, dummy, &len) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag)) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "AES-GCM encryption");
		if (ct != NULL)
			secure_wipe(ct, ptlen);
		goto out;
	}
	rc = HSM_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

hsm_rc
crypto_gcm_open(const uint8_t key[32], const uint8_t iv[12],
                const uint8_t *aad, size_t aadlen,
                const uint8_t *ct, size_t ctlen, const uint8_t tag[16],
                uint8_t *pt)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t t[16], dummy[16];
	int len = 0;
	hsm_rc rc = HSM_ERR_CRYPTO;

	if (key == NULL || iv == NULL || tag == NULL || aadlen > INT_MAX ||
	    ctlen > INT_MAX || (aad == NULL && aadlen > 0) ||
	    ((pt == NULL || ct == NULL) && ctlen > 0))
		return hsm_fail(HSM_ERR_USAGE, "GCM open: bad arguments");
	memcpy(t, tag, sizeof(t));
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) ||
	    !EVP_DecryptInit_ex(ctx, NULL, NULL, key, iv) ||
	    (aadlen > 0 && !EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen)) ||
	    (ctlen > 0 && !EVP_DecryptUpdate(ctx, pt, &len, ct, (int)ctlen)) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, t)) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "AES-GCM decryption");
		goto fail;
	}
	if (EVP_DecryptFinal_ex(ctx, dummy, &len) <= 0) {
		ERR_clear_error();
		rc = hsm_fail(HSM_ERR_VERIFY,
		    "the encrypted data failed its integrity check (wrong key, or the data or "
		    "its context was changed)");
		goto fail;
	}
	rc = HSM_OK;
	goto out;
fail:
	/* Never hand out unauthenticated plaintext. */
	if (pt != NULL)
		secure_wipe(pt, ctlen);
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* ---- RFC 5649 key wrap with padding ------------------------------------------ */

static const EVP_CIPHER *
kwp_cipher(size_t keklen)
{
	switch (keklen) {
	case 16: return EVP_aes_128_wrap_pad();
	case 24: return EVP_aes_192_wrap_pad();
	case 32: return EVP_aes_256_wrap_pad();
	}
	return NULL;
}

/* Largest input we wrap; far above any key, far below INT_MAX. */
#define KWP_MAX (1u << 20)

static hsm_rc
kwp_run(int enc, const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n,
        uint8_t *out, size_t *outlen)
{
	const EVP_CIPHER *cipher = kwp_cipher(keklen);
	EVP_CIPHER_CTX *ctx = NULL;
	hsm_secbuf *tmp = NULL;
	uint8_t *dst = out;
	size_t cap = enc ? ((n + 7) / 8) * 8 + 8 : n - 8;
	int len = 0, fin = 0;
	hsm_rc rc = HSM_ERR_CRYPTO;

	/* OpenSSL 3.0's unwrap (CRYPTO_128_unwrap_pad) cleanses n bytes of its
	 * output on an integrity failure, 8 more than the caller's n - 8: unwrap
	 * into locked memory of n bytes and copy out only what checked. */
	if (!enc) {
		if ((rc = secbuf_new(n, &tmp)) != HSM_OK)
			return rc;
		dst = tmp->data;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		rc = ossl_fail(HSM_ERR_NOMEM, "key wrap set-up");
		goto out;
	}
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (!EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, enc)) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "key wrap set-up");
		goto out;
	}
	if (!EVP_CipherUpdate(ctx, dst, &len, in, (int)n) || len < 0 ||
	    (size_t)len > cap || !EVP_CipherFinal_ex(ctx, dst + len, &fin) || fin != 0) {
		if (enc) {
			rc = ossl_fail(HSM_ERR_CRYPTO, "key wrap");
			secure_wipe(out, cap);
		} else {
			ERR_clear_error();
			rc = hsm_fail(HSM_ERR_VERIFY,
			    "the wrapped key failed its integrity check (wrong key-encryption "
			    "key, or the wrapped data was changed)");
			secure_wipe(out, cap);
		}
		goto out;
	}
	if (!enc)
		memcpy(out, dst, (size_t)len);
	*outlen = (size_t)len;
	rc = HSM_OK;
out:
	secbuf_free(&tmp);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

hsm_rc
crypto_kwp_wrap(const uint8_t *kek, size_t keklen,
                const uint8_t *in, size_t n, uint8_t *out, size_t *outlen)
{
	*outlen = 0;
	if (kwp_cipher(keklen) == NULL || kek == NULL)
		return hsm_fail(HSM_ERR_USAGE,
		    "a key-encryption key is 16, 24 or 32 bytes; got %zu", keklen);
	if (in == NULL || out == NULL || n == 0 || n > KWP_MAX)
		return hsm_fail(HSM_ERR_USAGE, "key wrap: input of %zu bytes out of range", n);
	return kwp_run(1, kek, keklen, in, n, out, outlen);
}

hsm_rc
crypto_kwp_unwrap(const uint8_t *kek, size_t keklen,
                  const uint8_t *in, size_t n, uint8_t *out, size_t *outlen)
{
	*outlen = 0;
	if (kwp_cipher(keklen) == NULL || kek == NULL)
		return hsm_fail(HSM_ERR_USAGE,
		    "a key-encryption key is 16, 24 or 32 bytes; got %zu", keklen);
	if (in == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key unwrap: bad arguments");
	if (n < 16 || n % 8 != 0 || n > KWP_MAX + 16)
		return hsm_fail(HSM_ERR_FORMAT,
		    "a wrapped key is a multiple of 8 bytes and at least 16; got %zu bytes", n);
	return kwp_run(0, kek, keklen, in, n, out, outlen);
}

/* ---- public and private key files ----------------------------------------------- */

/* Accept a parsed key only if it is on a supported curve and valid, and
 * return a fresh public-only key in uncompressed form. */
static hsm_rc
normalize_pub(const EVP_PKEY *in, EVP_PKEY **out)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	hsm_curve c;
	hsm_rc rc;

	*out = NULL;
	if ((rc = crypto_ec_curve(in, &c)) != HSM_OK)
		return rc;
	if ((rc = crypto_ec_point(in, &pt, &n)) != HSM_OK)
		return rc;
	rc = crypto_ec_from_point(c, pt, n, out);
	free(pt);
	return rc;
}

hsm_rc
crypto_pub_to_der(const EVP_PKEY *k, uint8_t **out, size_t *outlen)
{
	unsigned char *buf = NULL;
	hsm_curve c;
	hsm_rc rc;
	int len;

	*out = NULL;
	*outlen = 0;
	if ((rc = crypto_ec_curve(k, &c)) != HSM_OK)
		return rc;
	if ((len = i2d_PUBKEY(k, &buf)) <= 0)
		return ossl_fail(HSM_ERR_CRYPTO, "public key encoding");
	if ((*out = malloc((size_t)len)) == NULL) {
		OPENSSL_free(buf);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	memcpy(*out, buf, (size_t)len);
	*outlen = (size_t)len;
	OPENSSL_free(buf);
	return HSM_OK;
}

hsm_rc
crypto_pub_from_der(const uint8_t *der, size_t n, EVP_PKEY **out)
{
	const unsigned char *p = der;
	EVP_PKEY *k = NULL;
	hsm_rc rc;

	*out = NULL;
	if (der == NULL || n == 0 || n > 4096)
		return hsm_fail(HSM_ERR_FORMAT, "not a public key (%zu bytes)", n);
	if ((k = d2i_PUBKEY(NULL, &p, (long)n)) == NULL) {
		ERR_clear_error();
		return hsm_fail(HSM_ERR_FORMAT,
		    "not a DER SubjectPublicKeyInfo public key");
	}
	if (p != der + n) {
		EVP_PKEY_free(k);
		return hsm_fail(HSM_ERR_FORMAT,
		    "%zu unexpected bytes after the DER public key", (size_t)(der + n - p));
	}
	rc = normalize_pub(k, out);
	EVP_PKEY_free(k);
	return rc;
}

hsm_rc
crypto_pub_to_pem(const EVP_PKEY *k, char **out)
{
	BIO *bio = NULL;
	char *data = NULL;
	long len;
	hsm_curve c;
	hsm_rc rc;

	*out = NULL;
	if ((rc = crypto_ec_curve(k, &c)) != HSM_OK)
		return rc;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PUBKEY(bio, k) ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "public key PEM encoding");
		goto out;
	}
	if ((*out = malloc((size_t)len + 1)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*out, data, (size_t)len);
	(*out)[len] = '\0';
	rc = HSM_OK;
out:
	BIO_free(bio);
	return rc;
}

hsm_rc
crypto_pub_from_pem(const char *pem, size_t n, EVP_PKEY **out)
{
	BIO *bio = NULL;
	EVP_PKEY *k = NULL;
	hsm_rc rc;

	*out = NULL;
	if (pem == NULL || n == 0 || n > 16384)
		return hsm_fail(HSM_ERR_FORMAT, "not a PEM public key (%zu bytes)", n);
	if ((bio = BIO_new_mem_buf(pem, (int)n)) == NULL)
		return ossl_fail(HSM_ERR_NOMEM, "PEM reader set-up");
	if ((k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		ERR_clear_error();
		rc = hsm_fail(HSM_ERR_FORMAT,
		    "not a PEM public key (expected -----BEGIN PUBLIC KEY-----)");
		goto out;
	}
	rc = normalize_pub(k, out);
out:
	EVP_PKEY_free(k);
	BIO_free(bio);
	return rc;
}

/* No passphrase prompts: an encrypted key file is refused, not asked about. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

hsm_rc
crypto_priv_load_pem(const char *path, EVP_PKEY **out)
{
	hsm_secbuf *sb = NULL;
	BIO *bio = NULL;
	EVP_PKEY *k = NULL;
	hsm_curve c;
	hsm_rc rc;

	*out = NULL;
	if (path == NULL)
		return hsm_fail(HSM_ERR_USAGE, "no key file given");
	/* Read into locked memory: the file holds a private key. */
	rc = hsm_file_read_secret(path, KEYFILE_MAX, &sb);
	if (rc == HSM_OK && sb->len == 0)
		rc = hsm_fail(HSM_ERR_FORMAT, "%s is empty", path);
	if (rc != HSM_OK && rc != HSM_ERR_NOT_FOUND && rc != HSM_ERR_NOMEM)
		rc = hsm_fail_wrap(HSM_ERR_FORMAT, "%s is not a key file", path);
	if (rc != HSM_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(sb->data, (int)sb->len)) == NULL) {
		rc = ossl_fail(HSM_ERR_NOMEM, "PEM reader set-up");
		goto out;
	}
	if ((k = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL) {
		ERR_clear_error();
		rc = hsm_fail(HSM_ERR_FORMAT,
		    "%s is not an unencrypted PEM private key (PKCS#8 or SEC1 EC)", path);
		goto out;
	}
	if ((rc = crypto_ec_curve(k, &c)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "key file %s", path);
		goto out;
	}
	*out = k;
	k = NULL;
	rc = HSM_OK;
out:
	EVP_PKEY_free(k);
	BIO_free(bio);
	secbuf_free(&sb);
	ERR_clear_error();
	return rc;
}

hsm_rc
crypto_priv_save_pem(const char *path, EVP_PKEY *k)
{
	BIO *bio = NULL;
	char *data = NULL;
	long len;
	hsm_curve c;
	hsm_rc rc;

	if (path == NULL || k == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key save: bad arguments");
	if ((rc = crypto_ec_curve(k, &c)) != HSM_OK)
		return rc;
	/* The PEM text is the private key: keep it in OpenSSL's secure heap
	 * when there is one (secure_init), wiped on free either way. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    !PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		rc = ossl_fail(HSM_ERR_CRYPTO, "private key PEM encoding");
		goto out;
	}
	/* Created beside the target and linked into place: the key file
	 * appears complete or not at all, and an existing key file is never
	 * replaced. */
	rc = hsm_file_create(path, data, (size_t)len, 0600);
	if (rc == HSM_ERR_EXISTS)
		rc = hsm_fail(HSM_ERR_EXISTS, "%s already exists; not overwriting a key file", path);
	else if (rc != HSM_OK)
		rc = hsm_fail_wrap(rc, "key file %s", path);
out:
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}
