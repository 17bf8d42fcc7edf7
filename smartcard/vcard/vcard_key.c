/* SPDX-License-Identifier: BSD-2-Clause */
/* vcard_key.c - the virtual card's own cryptography: EC keys (P-256/P-384)
 * for GENERATE, IMPORT, ECDSA and ECDH, and the management-key block cipher.
 * OpenSSL 3 EVP only. The card does its own crypto, as a card would, instead of
 * going through lib/crypto.h: it must accept exactly what a PIV card accepts
 * (raw digests of any length, peer points as bytes). */
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "vcard_int.h"

static const char *
curve_name(uint8_t alg)
{
	switch (alg) {
	case VC_ALG_P256: return "P-256";
	case VC_ALG_P384: return "P-384";
	default: return NULL;
	}
}

static int
curve_nid(uint8_t alg)
{
	switch (alg) {
	case VC_ALG_P256: return NID_X9_62_prime256v1;
	case VC_ALG_P384: return NID_secp384r1;
	default: return NID_undef;
	}
}

size_t
vk_field_len(uint8_t alg)
{
	switch (alg) {
	case VC_ALG_P256: return 32;
	case VC_ALG_P384: return 48;
	default: return 0;
	}
}

hsm_rc
vk_random(uint8_t *out, size_t n)
{
	if (RAND_bytes(out, (int)n) != 1)
		return hsm_fail(HSM_ERR_CRYPTO, "random generator failed");
	return HSM_OK;
}

hsm_rc
vk_generate(uint8_t alg, EVP_PKEY **out)
{
	const char *name = curve_name(alg);

	*out = NULL;
	if (name == NULL)
		return hsm_fail(HSM_ERR_USAGE, "algorithm %02x is not an EC curve", alg);
	if ((*out = EVP_EC_gen(name)) == NULL)
		return hsm_fail(HSM_ERR_CRYPTO, "EC key generation failed");
	return HSM_OK;
}

/* An EVP_PKEY from a group, an optional private scalar and a public point. */
static hsm_rc
pkey_fromdata(uint8_t alg, const BIGNUM *priv, const uint8_t *pt, size_t ptlen,
              EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	hsm_rc rc = HSM_ERR_CRYPTO;

	*out = NULL;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	        curve_name(alg), 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen) ||
	    (priv != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv)) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, out, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
	        params) <= 0) {
		rc = hsm_fail(HSM_ERR_FORMAT, "not a valid %s key", curve_name(alg));
		goto out;
	}
	rc = HSM_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ERR_clear_error();
	return rc;
}

hsm_rc
vk_from_scalar(uint8_t alg, const uint8_t *d, size_t n, EVP_PKEY **out)
{
	EC_GROUP *grp = NULL;
	EC_POINT *pub = NULL;
	BIGNUM *priv = NULL;
	uint8_t pt[1 + 2 * 66];
	size_t ptlen;
	hsm_rc rc = HSM_ERR_FORMAT;

	*out = NULL;
	if (vk_field_len(alg) == 0 || n != vk_field_len(alg))
		return hsm_fail(HSM_ERR_FORMAT, "private scalar has the wrong length");
	if ((grp = EC_GROUP_new_by_curve_name(curve_nid(alg))) == NULL ||
	    (priv = BN_secure_new()) == NULL || (pub = EC_POINT_new(grp)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (BN_bin2bn(d, (int)n, priv) == NULL || BN_is_zero(priv) ||
	    BN_cmp(priv, EC_GROUP_get0_order(grp)) >= 0) {
		rc = hsm_fail(HSM_ERR_FORMAT, "private scalar out of range");
		goto out;
	}
	if (!EC_POINT_mul(grp, pub, priv, NULL, NULL, NULL) ||
	    (ptlen = EC_POINT_point2oct(grp, pub, POINT_CONVERSION_UNCOMPRESSED, pt,
	        sizeof(pt), NULL)) == 0) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot compute the public key");
		goto out;
	}
	rc = pkey_fromdata(alg, priv, pt, ptlen, out);
out:
	BN_clear_free(priv);
	EC_POINT_free(pub);
	EC_GROUP_free(grp);
	ERR_clear_error();
	return rc;
}

hsm_rc
vk_alg(EVP_PKEY *k, uint8_t *alg)
{
	char name[64];
	size_t n = 0;

	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name,
	        sizeof(name), &n))
		return hsm_fail(HSM_ERR_FORMAT, "key is not an EC key on a named curve");
	if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0)
		*alg = VC_ALG_P256;
	else if (strcmp(name, "secp384r1") == 0 || strcmp(name, "P-384") == 0)
		*alg = VC_ALG_P384;
	else
		return hsm_fail(HSM_ERR_FORMAT, "curve %s is not supported (P-256, P-384)", name);
	return HSM_OK;
}

hsm_rc
vk_point(EVP_PKEY *k, uint8_t *pt, size_t cap, size_t *n)
{
	if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	        pt, cap, n) || *n == 0 || pt[0] != 0x04) {
		ERR_clear_error();
		return hsm_fail(HSM_ERR_CRYPTO, "cannot encode the public key");
	}
	return HSM_OK;
}

hsm_rc
vk_sign(EVP_PKEY *k, const uint8_t *dg, size_t n, uint8_t *sig, size_t cap,
        size_t *siglen)
{
	EVP_PKEY_CTX *ctx = NULL;
	hsm_rc rc = HSM_OK;

	/* No digest is set: OpenSSL signs the input as a big-endian integer and
	 * keeps its leftmost field-size bits, as a PIV card does. */
	*siglen = cap;
	if ((ctx = EVP_PKEY_CTX_new(k, NULL)) == NULL ||
	    EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_sign(ctx, sig, siglen, dg, n) <= 0)
		rc = hsm_fail(HSM_ERR_CRYPTO, "ECDSA signature failed");
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

hsm_rc
vk_ecdh(EVP_PKEY *k, uint8_t alg, const uint8_t *pt, size_t n,
        uint8_t *out, size_t cap, size_t *outlen)
{
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	hsm_rc rc;

	if (n != 1 + 2 * vk_field_len(alg) || pt[0] != 0x04)
		return hsm_fail(HSM_ERR_FORMAT, "peer point is not an uncompressed point");
	if ((rc = pkey_fromdata(alg, NULL, pt, n, &peer)) != HSM_OK)
		return rc;
	*outlen = cap;
	if ((ctx = EVP_PKEY_CTX_new(k, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) <= 0 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) <= 0 ||
	    EVP_PKEY_derive(ctx, out, outlen) <= 0)
		rc = hsm_fail(HSM_ERR_FORMAT, "ECDH with the peer point failed");
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	ERR_clear_error();
	return rc;
}

hsm_rc
vk_to_pem(EVP_PKEY *k, char **pem)
{
	BIO *b = NULL;
	BUF_MEM *bm = NULL;
	hsm_rc rc = HSM_OK;

	*pem = NULL;
	if ((b = BIO_new(BIO_s_secmem())) == NULL ||
	    !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot encode a private key");
		goto out;
	}
	BIO_get_mem_ptr(b, &bm);
	if ((*pem = calloc(1, bm->length + 1)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*pem, bm->data, bm->length);
out:
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

hsm_rc
vk_from_pem(const char *pem, EVP_PKEY **out)
{
	BIO *b = NULL;
	hsm_rc rc = HSM_OK;
	uint8_t alg;

	*out = NULL;
	if ((b = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (*out = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "not a PEM private key");
		goto out;
	}
	if ((rc = vk_alg(*out, &alg)) != HSM_OK) {
		EVP_PKEY_free(*out);
		*out = NULL;
	}
out:
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

size_t
vk_block_len(uint8_t alg)
{
	switch (alg) {
	case VC_ALG_3DES: return 8;
	case VC_ALG_AES128: case VC_ALG_AES192: case VC_ALG_AES256: return 16;
	default: return 0;
	}
}

hsm_rc
vk_block(uint8_t alg, const uint8_t *key, size_t keylen, int encrypt,
         const uint8_t *in, uint8_t *out)
{
	const EVP_CIPHER *ciph;
	EVP_CIPHER_CTX *ctx = NULL;
	size_t bl = vk_block_len(alg);
	int n1 = 0, n2 = 0;
	hsm_rc rc = HSM_OK;

	switch (alg) {
	case VC_ALG_3DES: ciph = EVP_des_ede3_ecb(); break;
	case VC_ALG_AES128: ciph = EVP_aes_128_ecb(); break;
	case VC_ALG_AES192: ciph = EVP_aes_192_ecb(); break;
	case VC_ALG_AES256: ciph = EVP_aes_256_ecb(); break;
	default: return hsm_fail(HSM_ERR_USAGE, "not a management key algorithm");
	}
	if (keylen != (size_t)EVP_CIPHER_get_key_length(ciph))
		return hsm_fail(HSM_ERR_USAGE, "management key has the wrong length");
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_CipherInit_ex(ctx, ciph, NULL, key, NULL, encrypt) ||
	    !EVP_CIPHER_CTX_set_padding(ctx, 0) ||
	    !EVP_CipherUpdate(ctx, out, &n1, in, (int)bl) ||
	    !EVP_CipherFinal_ex(ctx, out + n1, &n2) || (size_t)(n1 + n2) != bl)
		rc = hsm_fail(HSM_ERR_CRYPTO, "management key cipher failed");
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}
