/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * crypto.h - the cryptography hsmadm uses, on OpenSSL 3 EVP (nothing
 * deprecated). Keys are EVP_PKEY; secrets that leave OpenSSL go into a secbuf.
 * Signatures are DER ECDSA; the message digest follows the curve:
 * P-256 -> SHA-256, P-384 -> SHA-384, P-521 -> SHA-512.
 */
#ifndef HSMADM_CRYPTO_H
#define HSMADM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"

typedef enum hsm_curve {
	HSM_CURVE_NONE = 0,
	HSM_CURVE_P256 = 256,
	HSM_CURVE_P384 = 384,
	HSM_CURVE_P521 = 521
} hsm_curve;

typedef enum hsm_md {
	HSM_MD_SHA256 = 256,
	HSM_MD_SHA384 = 384,
	HSM_MD_SHA512 = 512
} hsm_md;

#define HSM_SKI_LEN 32

/* Digests. out must hold md/8 bytes. */
hsm_rc crypto_digest(hsm_md md, const void *in, size_t n, uint8_t *out);
hsm_rc crypto_sha256(const void *in, size_t n, uint8_t out[32]);
size_t crypto_md_len(hsm_md md);
/* The digest that goes with a curve's signatures. */
hsm_md crypto_curve_md(hsm_curve c);

hsm_rc crypto_hmac(hsm_md md, const uint8_t *key, size_t keylen,
                   const void *in, size_t n, uint8_t *out /* md/8 bytes */);
/* RFC 5869 HKDF (extract + expand). */
hsm_rc crypto_hkdf(hsm_md md, const uint8_t *salt, size_t saltlen,
                   const uint8_t *ikm, size_t ikmlen,
                   const uint8_t *info, size_t infolen,
                   uint8_t *out, size_t outlen);

/* RAND_priv_bytes: for keys and key parts. */
hsm_rc crypto_random(void *out, size_t n);

/* EC keys. */
hsm_rc crypto_ec_generate(hsm_curve c, EVP_PKEY **out);
hsm_rc crypto_ec_curve(const EVP_PKEY *k, hsm_curve *out);
/* Uncompressed point 0x04||X||Y, malloc'ed. */
hsm_rc crypto_ec_point(const EVP_PKEY *k, uint8_t **out, size_t *outlen);
/* Public key from an uncompressed point; HSM_ERR_FORMAT if the length or
 * form is wrong or the point is not on the curve. */
hsm_rc crypto_ec_from_point(hsm_curve c, const uint8_t *pt, size_t n, EVP_PKEY **out);
/* SKI = SHA-256(0x04||X||Y). */
hsm_rc crypto_ski(const EVP_PKEY *k, uint8_t out[HSM_SKI_LEN]);

/* ECDSA over a message (hashed with the curve's digest) or a given digest.
 * A given digest must have the curve's digest length (HSM_ERR_USAGE if not).
 * Signatures are malloc'ed DER. */
hsm_rc crypto_ecdsa_sign(EVP_PKEY *priv, const void *msg, size_t n,
                         uint8_t **sig, size_t *siglen);
hsm_rc crypto_ecdsa_sign_digest(EVP_PKEY *priv, const uint8_t *dg, size_t dglen,
                                uint8_t **sig, size_t *siglen);
/* HSM_OK if valid, HSM_ERR_VERIFY if not, HSM_ERR_FORMAT if sig is not one
 * canonical DER ECDSA signature, other codes for bad input. */
hsm_rc crypto_ecdsa_verify(EVP_PKEY *pub, const void *msg, size_t n,
                           const uint8_t *sig, size_t siglen);
hsm_rc crypto_ecdsa_verify_digest(EVP_PKEY *pub, const uint8_t *dg, size_t dglen,
                                  const uint8_t *sig, size_t siglen);
/* Convert between DER and fixed-size r||s (for PIV/raw interop).
 * der_to_raw: HSM_ERR_FORMAT if der is not one canonical DER signature or
 * r/s do not fit the curve. raw_to_der: rawlen must be 2*field bytes; *der
 * is malloc'ed. */
hsm_rc crypto_ecdsa_der_to_raw(hsm_curve c, const uint8_t *der, size_t n,
                               uint8_t *raw /* 2*field bytes */);
hsm_rc crypto_ecdsa_raw_to_der(hsm_curve c, const uint8_t *raw, size_t rawlen,
                               uint8_t **der, size_t *derlen);

/* ECDH: shared x-coordinate (field size bytes) into a new secbuf.
 * HSM_ERR_FORMAT if the peer is on another curve or not a valid point. */
hsm_rc crypto_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, hsm_secbuf **shared);

/* AES-256-GCM, 12-byte IV, 16-byte tag. ct has ptlen bytes. open returns
 * HSM_ERR_VERIFY if the tag does not match (and writes nothing usable). */
hsm_rc crypto_gcm_seal(const uint8_t key[32], const uint8_t iv[12],
                       const uint8_t *aad, size_t aadlen,
                       const uint8_t *pt, size_t ptlen,
                       uint8_t *ct, uint8_t tag[16]);
hsm_rc crypto_gcm_open(const uint8_t key[32], const uint8_t iv[12],
                       const uint8_t *aad, size_t aadlen,
                       const uint8_t *ct, size_t ctlen, const uint8_t tag[16],
                       uint8_t *pt);

/* RFC 5649 AES key wrap with padding. kek is 16/24/32 bytes.
 * wrap: out holds ((n+7)/8)*8 + 8 bytes. unwrap: out holds inlen - 8 bytes;
 * HSM_ERR_VERIFY if the integrity check fails. */
hsm_rc crypto_kwp_wrap(const uint8_t *kek, size_t keklen,
                       const uint8_t *in, size_t n, uint8_t *out, size_t *outlen);
hsm_rc crypto_kwp_unwrap(const uint8_t *kek, size_t keklen,
                         const uint8_t *in, size_t n, uint8_t *out, size_t *outlen);

/* Public keys <-> SubjectPublicKeyInfo DER / PEM (malloc'ed). Readers accept
 * only P-256/384/521 keys that are valid points (HSM_ERR_FORMAT otherwise),
 * refuse trailing bytes after DER, and return a public-only key in
 * uncompressed form. */
hsm_rc crypto_pub_to_der(const EVP_PKEY *k, uint8_t **out, size_t *outlen);
hsm_rc crypto_pub_from_der(const uint8_t *der, size_t n, EVP_PKEY **out);
hsm_rc crypto_pub_to_pem(const EVP_PKEY *k, char **out);
hsm_rc crypto_pub_from_pem(const char *pem, size_t n, EVP_PKEY **out);
/* Private key PEM file I/O, for test key files and module keys only.
 * load: PKCS#8 or SEC1 ("EC PRIVATE KEY"), unencrypted; HSM_ERR_NOT_FOUND if
 * the file is missing, HSM_ERR_FORMAT if it is not such a key.
 * save: PKCS#8, mode 0600, appears complete or not at all; HSM_ERR_EXISTS if
 * path exists (a key file is never overwritten). */
hsm_rc crypto_priv_load_pem(const char *path, EVP_PKEY **out);
hsm_rc crypto_priv_save_pem(const char *path, EVP_PKEY *k /* written 0600 */);

#endif
