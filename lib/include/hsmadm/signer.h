/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * signer.h - where a private key lives is hidden behind two small interfaces:
 * a signer (ECDSA) and a key-agreement party (ECDH). smartcard/ provides the
 * PIV-card implementation (slot 9C signs, slot 9D agrees, PIN asked by it);
 * lib/ provides a PEM key-file implementation for tests and module keys.
 * The group engine, the evidence log and the ceremony code see only these.
 */
#ifndef HSMADM_SIGNER_H
#define HSMADM_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"

typedef struct hsm_signer hsm_signer;
typedef struct hsm_keyagree hsm_keyagree;

struct hsm_signer_ops {
	/* DER ECDSA over a digest already computed with the curve's hash. */
	hsm_rc (*sign_digest)(void *ctx, const uint8_t *dg, size_t dglen,
	                      uint8_t **sig, size_t *siglen);
	void   (*free_ctx)(void *ctx);
};

struct hsm_keyagree_ops {
	/* ECDH with peer; the shared x-coordinate into a new secbuf. */
	hsm_rc (*ecdh)(void *ctx, EVP_PKEY *peer, hsm_secbuf **shared);
	void   (*free_ctx)(void *ctx);
};

/* Takes ownership of ctx (freed by ops->free_ctx, also when the call fails)
 * and takes a reference on pub. label is for messages ("card 4F2A... of
 * Alice Example"). ops must outlive the signer. */
hsm_rc signer_new(const struct hsm_signer_ops *ops, void *ctx, EVP_PKEY *pub,
                  const char *label, hsm_signer **out);
/* Test/automation only: a P-256/384/521 private key in a PEM file. */
hsm_rc signer_from_keyfile(const char *path, hsm_signer **out);
/* Hash msg with the curve's digest and sign it. The signature is checked
 * against signer_pub() before it is returned (HSM_ERR_CRYPTO if it does not
 * verify). *sig is malloc'ed DER. */
hsm_rc signer_sign(hsm_signer *s, const void *msg, size_t n,
                   uint8_t **sig, size_t *siglen);
EVP_PKEY   *signer_pub(const hsm_signer *s);   /* borrowed */
const char *signer_label(const hsm_signer *s);
void        signer_free(hsm_signer **s);

hsm_rc keyagree_new(const struct hsm_keyagree_ops *ops, void *ctx, EVP_PKEY *pub,
                    const char *label, hsm_keyagree **out);
hsm_rc keyagree_from_keyfile(const char *path, hsm_keyagree **out);
/* HSM_ERR_FORMAT if peer is on another curve than the party's key. */
hsm_rc keyagree_ecdh(hsm_keyagree *k, EVP_PKEY *peer, hsm_secbuf **shared);
EVP_PKEY   *keyagree_pub(const hsm_keyagree *k);  /* borrowed */
const char *keyagree_label(const hsm_keyagree *k);
void        keyagree_free(hsm_keyagree **k);

#endif
