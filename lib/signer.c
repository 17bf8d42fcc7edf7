/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * signer.c - the signer and key-agreement wrappers around "where the private
 * key lives", plus the PEM key-file implementation used by tests and by the
 * module emulator. A PIV card implementation lives in smartcard/.
 */
#include <stdlib.h>
#include <string.h>

#include "hsmadm/crypto.h"
#include "hsmadm/ecdsa_lows.h"
#include "hsmadm/signer.h"

/* What a signer and a key agreement share: where the private key lives (ctx,
 * released with free_ctx), its public key, curve and label. Each of the two
 * types starts with one, so the constructor, the key-file loader and the
 * destructor below serve both. */
struct keyref {
	void     *ctx;
	void    (*free_ctx)(void *ctx);
	EVP_PKEY *pub;
	hsm_curve curve;
	char     *label;
};

struct hsm_signer {
	struct keyref k;  /* first: a keyref pointer is a signer pointer */
	const struct hsm_signer_ops *ops;
};

struct hsm_keyagree {
	struct keyref k;  /* first: a keyref pointer is a keyagree pointer */
	const struct hsm_keyagree_ops *ops;
};

static void
keyref_free(struct keyref *k)
{
	if (k == NULL)
		return;
	if (k->free_ctx != NULL && k->ctx != NULL)
		k->free_ctx(k->ctx);
	EVP_PKEY_free(k->pub);
	free(k->label);
	free(k);
}

/* Allocate size bytes (a struct that starts with a keyref) and fill the
 * keyref: check pub, take a reference on it, copy label. ctx is ours from
 * the call on, also when the call fails (no_op set: the ops lack their one
 * function, and no_op says so). */
static hsm_rc
keyref_new(size_t size, const char *no_op, void *ctx, void (*free_ctx)(void *),
           EVP_PKEY *pub, const char *label, struct keyref **out)
{
	struct keyref *k = NULL;
	hsm_rc rc;

	*out = NULL;
	if (no_op != NULL) {
		rc = hsm_fail(HSM_ERR_USAGE, "%s", no_op);
		goto out;
	}
	if ((k = calloc(1, size)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	k->ctx = ctx;
	k->free_ctx = free_ctx;
	ctx = NULL;  /* k owns it now */
	if (pub == NULL) {
		rc = hsm_fail(HSM_ERR_USAGE, "no public key given");
		goto out;
	}
	if ((rc = crypto_ec_curve(pub, &k->curve)) != HSM_OK)
		goto out;
	if ((k->label = strdup(label != NULL ? label : "unnamed key")) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!EVP_PKEY_up_ref(pub)) {
		rc = hsm_fail(HSM_ERR_INTERNAL, "cannot take a reference on a key");
		goto out;
	}
	k->pub = pub;
	*out = k;
	k = NULL;
out:
	if (free_ctx != NULL && ctx != NULL)
		free_ctx(ctx);
	keyref_free(k);
	return rc;
}

/* A public-only copy of a private key, so that signer_pub() and
 * keyagree_pub() never hand the private half around. */
static hsm_rc
public_copy(const EVP_PKEY *priv, EVP_PKEY **out)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	hsm_curve c;
	hsm_rc rc;

	*out = NULL;
	if ((rc = crypto_ec_curve(priv, &c)) != HSM_OK ||
	    (rc = crypto_ec_point(priv, &pt, &n)) != HSM_OK)
		return rc;
	rc = crypto_ec_from_point(c, pt, n, out);
	free(pt);
	return rc;
}

static void
keyfile_free(void *ctx)
{
	EVP_PKEY_free(ctx);
}

/* A PEM private key file: the private key (the ctx of the keyfile ops) and
 * a public-only copy of it. */
static hsm_rc
keyfile_load(const char *path, EVP_PKEY **priv, EVP_PKEY **pub)
{
	hsm_rc rc;

	*pub = NULL;
	if ((rc = crypto_priv_load_pem(path, priv)) != HSM_OK)
		return rc;
	if ((rc = public_copy(*priv, pub)) != HSM_OK) {
		EVP_PKEY_free(*priv);
		*priv = NULL;
	}
	return rc;
}

/* ---- signer ------------------------------------------------------------ */

hsm_rc
signer_new(const struct hsm_signer_ops *ops, void *ctx, EVP_PKEY *pub,
           const char *label, hsm_signer **out)
{
	struct keyref *k = NULL;
	hsm_rc rc;

	*out = NULL;
	rc = keyref_new(sizeof(hsm_signer),
	    ops == NULL || ops->sign_digest == NULL ? "signer without a signing function" : NULL,
	    ctx, ops != NULL ? ops->free_ctx : NULL, pub, label, &k);
	if (rc != HSM_OK)
		return rc;
	*out = (hsm_signer *)k;
	(*out)->ops = ops;
	return HSM_OK;
}

static hsm_rc
keyfile_sign(void *ctx, const uint8_t *dg, size_t dglen, uint8_t **sig, size_t *siglen)
{
	return crypto_ecdsa_sign_digest(ctx, dg, dglen, sig, siglen);
}

static const struct hsm_signer_ops keyfile_signer_ops = {
	.sign_digest = keyfile_sign,
	.free_ctx = keyfile_free,
};

hsm_rc
signer_from_keyfile(const char *path, hsm_signer **out)
{
	EVP_PKEY *priv = NULL, *pub = NULL;
	hsm_rc rc;

	*out = NULL;
	if ((rc = keyfile_load(path, &priv, &pub)) != HSM_OK)
		return rc;
	/* signer_new owns priv from here on, success or not. */
	rc = signer_new(&keyfile_signer_ops, priv, pub, path, out);
	EVP_PKEY_free(pub);
	return rc;
}

hsm_rc
signer_sign(hsm_signer *s, const void *msg, size_t n, uint8_t **sig, size_t *siglen)
{
	uint8_t dg[64];
	hsm_md md;
	hsm_rc rc;

	*sig = NULL;
	*siglen = 0;
	if (s == NULL || (msg == NULL && n > 0))
		return hsm_fail(HSM_ERR_USAGE, "sign: bad arguments");
	md = crypto_curve_md(s->k.curve);
	if ((rc = crypto_digest(md, msg, n, dg)) != HSM_OK)
		return rc;
	if ((rc = s->ops->sign_digest(s->k.ctx, dg, crypto_md_len(md), sig, siglen)) != HSM_OK)
		return hsm_fail_wrap(rc, "signing with %s", s->k.label);
	/* One accepted encoding (docs/crypto.md): a card may answer (r, n - s). */
	if ((rc = crypto_ecdsa_make_low_s(s->k.pub, sig, siglen)) != HSM_OK) {
		free(*sig);
		*sig = NULL;
		*siglen = 0;
		return rc;
	}
	/* Check before anyone relies on it: a card that holds another key than
	 * the one registered, or a faulty computation, is caught here, not by an
	 * auditor later. */
	if ((rc = crypto_ecdsa_verify_digest(s->k.pub, dg, crypto_md_len(md), *sig,
	    *siglen)) != HSM_OK) {
		free(*sig);
		*sig = NULL;
		*siglen = 0;
		return hsm_fail(HSM_ERR_CRYPTO,
		    "the signature made with %s does not verify with its public key; "
		    "the key may not be the one registered", s->k.label);
	}
	return HSM_OK;
}

EVP_PKEY *
signer_pub(const hsm_signer *s)
{
	return s != NULL ? s->k.pub : NULL;
}

const char *
signer_label(const hsm_signer *s)
{
	return s != NULL ? s->k.label : "";
}

void
signer_free(hsm_signer **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	keyref_free(&(*sp)->k);
	*sp = NULL;
}

/* ---- key agreement ------------------------------------------------------- */

hsm_rc
keyagree_new(const struct hsm_keyagree_ops *ops, void *ctx, EVP_PKEY *pub,
             const char *label, hsm_keyagree **out)
{
	struct keyref *k = NULL;
	hsm_rc rc;

	*out = NULL;
	rc = keyref_new(sizeof(hsm_keyagree),
	    ops == NULL || ops->ecdh == NULL ? "key agreement without an ECDH function" : NULL,
	    ctx, ops != NULL ? ops->free_ctx : NULL, pub, label, &k);
	if (rc != HSM_OK)
		return rc;
	*out = (hsm_keyagree *)k;
	(*out)->ops = ops;
	return HSM_OK;
}

static hsm_rc
keyfile_ecdh(void *ctx, EVP_PKEY *peer, hsm_secbuf **shared)
{
	return crypto_ecdh(ctx, peer, shared);
}

static const struct hsm_keyagree_ops keyfile_keyagree_ops = {
	.ecdh = keyfile_ecdh,
	.free_ctx = keyfile_free,
};

hsm_rc
keyagree_from_keyfile(const char *path, hsm_keyagree **out)
{
	EVP_PKEY *priv = NULL, *pub = NULL;
	hsm_rc rc;

	*out = NULL;
	if ((rc = keyfile_load(path, &priv, &pub)) != HSM_OK)
		return rc;
	/* keyagree_new owns priv from here on, success or not. */
	rc = keyagree_new(&keyfile_keyagree_ops, priv, pub, path, out);
	EVP_PKEY_free(pub);
	return rc;
}

hsm_rc
keyagree_ecdh(hsm_keyagree *k, EVP_PKEY *peer, hsm_secbuf **shared)
{
	hsm_curve pc;
	hsm_rc rc;

	*shared = NULL;
	if (k == NULL || peer == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key agreement: bad arguments");
	if ((rc = crypto_ec_curve(peer, &pc)) != HSM_OK)
		return hsm_fail_wrap(rc, "peer key for %s", k->k.label);
	if (pc != k->k.curve)
		return hsm_fail(HSM_ERR_FORMAT,
		    "the peer key is on P-%d but %s is on P-%d; both must use the same curve",
		    (int)pc, k->k.label, (int)k->k.curve);
	if ((rc = k->ops->ecdh(k->k.ctx, peer, shared)) != HSM_OK)
		return hsm_fail_wrap(rc, "key agreement with %s", k->k.label);
	return HSM_OK;
}

EVP_PKEY *
keyagree_pub(const hsm_keyagree *k)
{
	return k != NULL ? k->k.pub : NULL;
}

const char *
keyagree_label(const hsm_keyagree *k)
{
	return k != NULL ? k->k.label : "";
}

void
keyagree_free(hsm_keyagree **kp)
{
	if (kp == NULL || *kp == NULL)
		return;
	keyref_free(&(*kp)->k);
	*kp = NULL;
}
