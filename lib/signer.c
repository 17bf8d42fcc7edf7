/*
 * signer.c - the signer and key-agreement wrappers around "where the private
 * key lives", plus the PEM key-file implementation used by tests and by the
 * module emulator. A PIV card implementation lives in smartcard/.
 */
#include <stdlib.h>
#include <string.h>

#include "hsmadm/crypto.h"
#include "hsmadm/signer.h"

struct hsm_signer {
	const struct hsm_signer_ops *ops;
	void     *ctx;
	EVP_PKEY *pub;
	hsm_curve curve;
	char     *label;
};

struct hsm_keyagree {
	const struct hsm_keyagree_ops *ops;
	void     *ctx;
	EVP_PKEY *pub;
	hsm_curve curve;
	char     *label;
};

/* Shared by both constructors: check pub, take a reference, copy label. */
static hsm_rc
wrap_pub(EVP_PKEY *pub, const char *label, hsm_curve *curve, EVP_PKEY **pubout,
         char **labelout)
{
	hsm_rc rc;

	*pubout = NULL;
	*labelout = NULL;
	if (pub == NULL)
		return hsm_fail(HSM_ERR_USAGE, "no public key given");
	if ((rc = crypto_ec_curve(pub, curve)) != HSM_OK)
		return rc;
	if ((*labelout = strdup(label != NULL ? label : "unnamed key")) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (!EVP_PKEY_up_ref(pub)) {
		free(*labelout);
		*labelout = NULL;
		return hsm_fail(HSM_ERR_INTERNAL, "cannot take a reference on a key");
	}
	*pubout = pub;
	return HSM_OK;
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

/* ---- signer ------------------------------------------------------------ */

hsm_rc
signer_new(const struct hsm_signer_ops *ops, void *ctx, EVP_PKEY *pub,
           const char *label, hsm_signer **out)
{
	hsm_signer *s = NULL;
	hsm_rc rc;

	*out = NULL;
	if (ops == NULL || ops->sign_digest == NULL) {
		rc = hsm_fail(HSM_ERR_USAGE, "signer without a signing function");
		goto fail;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = wrap_pub(pub, label, &s->curve, &s->pub, &s->label)) != HSM_OK)
		goto fail;
	s->ops = ops;
	s->ctx = ctx;
	*out = s;
	return HSM_OK;
fail:
	/* ctx is ours from the call on, also when the call fails. */
	if (ops != NULL && ops->free_ctx != NULL && ctx != NULL)
		ops->free_ctx(ctx);
	free(s);
	return rc;
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
	if ((rc = crypto_priv_load_pem(path, &priv)) != HSM_OK)
		return rc;
	if ((rc = public_copy(priv, &pub)) != HSM_OK) {
		EVP_PKEY_free(priv);
		return rc;
	}
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
	md = crypto_curve_md(s->curve);
	if ((rc = crypto_digest(md, msg, n, dg)) != HSM_OK)
		return rc;
	if ((rc = s->ops->sign_digest(s->ctx, dg, crypto_md_len(md), sig, siglen)) != HSM_OK)
		return hsm_fail_wrap(rc, "signing with %s", s->label);
	/* Check before anyone relies on it: a card that holds another key than
	 * the one registered, or a faulty computation, is caught here, not by an
	 * auditor later. */
	if ((rc = crypto_ecdsa_verify_digest(s->pub, dg, crypto_md_len(md), *sig,
	    *siglen)) != HSM_OK) {
		free(*sig);
		*sig = NULL;
		*siglen = 0;
		return hsm_fail(HSM_ERR_CRYPTO,
		    "the signature made with %s does not verify with its public key; "
		    "the key may not be the one registered", s->label);
	}
	return HSM_OK;
}

EVP_PKEY *
signer_pub(const hsm_signer *s)
{
	return s != NULL ? s->pub : NULL;
}

const char *
signer_label(const hsm_signer *s)
{
	return s != NULL ? s->label : "";
}

void
signer_free(hsm_signer **sp)
{
	hsm_signer *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	if (s->ops->free_ctx != NULL && s->ctx != NULL)
		s->ops->free_ctx(s->ctx);
	EVP_PKEY_free(s->pub);
	free(s->label);
	free(s);
	*sp = NULL;
}

/* ---- key agreement ------------------------------------------------------- */

hsm_rc
keyagree_new(const struct hsm_keyagree_ops *ops, void *ctx, EVP_PKEY *pub,
             const char *label, hsm_keyagree **out)
{
	hsm_keyagree *k = NULL;
	hsm_rc rc;

	*out = NULL;
	if (ops == NULL || ops->ecdh == NULL) {
		rc = hsm_fail(HSM_ERR_USAGE, "key agreement without an ECDH function");
		goto fail;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = wrap_pub(pub, label, &k->curve, &k->pub, &k->label)) != HSM_OK)
		goto fail;
	k->ops = ops;
	k->ctx = ctx;
	*out = k;
	return HSM_OK;
fail:
	if (ops != NULL && ops->free_ctx != NULL && ctx != NULL)
		ops->free_ctx(ctx);
	free(k);
	return rc;
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
	if ((rc = crypto_priv_load_pem(path, &priv)) != HSM_OK)
		return rc;
	if ((rc = public_copy(priv, &pub)) != HSM_OK) {
		EVP_PKEY_free(priv);
		return rc;
	}
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
		return hsm_fail_wrap(rc, "peer key for %s", k->label);
	if (pc != k->curve)
		return hsm_fail(HSM_ERR_FORMAT,
		    "the peer key is on P-%d but %s is on P-%d; both must use the same curve",
		    (int)pc, k->label, (int)k->curve);
	if ((rc = k->ops->ecdh(k->ctx, peer, shared)) != HSM_OK)
		return hsm_fail_wrap(rc, "key agreement with %s", k->label);
	return HSM_OK;
}

EVP_PKEY *
keyagree_pub(const hsm_keyagree *k)
{
	return k != NULL ? k->pub : NULL;
}

const char *
keyagree_label(const hsm_keyagree *k)
{
	return k != NULL ? k->label : "";
}

void
keyagree_free(hsm_keyagree **kp)
{
	hsm_keyagree *k;

	if (kp == NULL || (k = *kp) == NULL)
		return;
	if (k->ops->free_ctx != NULL && k->ctx != NULL)
		k->ops->free_ctx(k->ctx);
	EVP_PKEY_free(k->pub);
	free(k->label);
	free(k);
	*kp = NULL;
}
