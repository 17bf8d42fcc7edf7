/* SPDX-License-Identifier: BSD-2-Clause */
/* cardsigner.c - signer/keyagree on a PIV card (see cardsigner.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>

#include "hsmadm/cardsigner.h"

struct cs_ctx {
	piv      *card;      /* borrowed */
	int       pin_fd;
	uint8_t   slot;
	hsm_curve curve;
	char      prompt[200];
};

hsm_rc
cardsigner_slot_pub(piv *card, uint8_t slot, EVP_PKEY **pub)
{
	X509 *x = NULL;
	EVP_PKEY *k;
	hsm_rc rc;

	*pub = NULL;
	if ((rc = piv_read_cert(card, slot, &x)) != HSM_OK)
		return rc;
	if ((k = X509_get_pubkey(x)) == NULL) {
		X509_free(x);
		return hsm_fail(HSM_ERR_FORMAT, "the certificate of slot %02X has no usable public key",
		    slot);
	}
	X509_free(x);
	*pub = k;
	return HSM_OK;
}

/* Ask for the PIN, verify it, run op: all in one card transaction so no
 * other program can slip between VERIFY and the private-key operation
 * (PIN policy "always" consumes the verification). */
static hsm_rc
with_pin(struct cs_ctx *c, hsm_secbuf **pin)
{
	hsm_rc rc;

	*pin = NULL;
	if ((rc = secure_read_line(c->prompt, c->pin_fd, PIV_PIN_MAX, pin)) != HSM_OK)
		return hsm_fail_wrap(rc, "reading the PIN");
	return HSM_OK;
}

static hsm_rc
cs_sign(void *ctx, const uint8_t *dg, size_t dglen, uint8_t **sig, size_t *siglen)
{
	struct cs_ctx *c = ctx;
	hsm_secbuf *pin = NULL;
	hsm_rc rc;

	if ((rc = with_pin(c, &pin)) != HSM_OK)
		return rc;
	if ((rc = piv_begin(c->card)) != HSM_OK)
		goto out;
	if ((rc = piv_verify_pin(c->card, pin)) == HSM_OK)
		rc = piv_sign(c->card, c->slot, c->curve, dg, dglen, sig, siglen);
	piv_end(c->card);
out:
	secbuf_free(&pin);
	return rc;
}

static hsm_rc
cs_ecdh(void *ctx, EVP_PKEY *peer, hsm_secbuf **shared)
{
	struct cs_ctx *c = ctx;
	hsm_secbuf *pin = NULL;
	hsm_rc rc;

	if ((rc = with_pin(c, &pin)) != HSM_OK)
		return rc;
	if ((rc = piv_begin(c->card)) != HSM_OK)
		goto out;
	if ((rc = piv_verify_pin(c->card, pin)) == HSM_OK)
		rc = piv_ecdh(c->card, c->slot, c->curve, peer, shared);
	piv_end(c->card);
out:
	secbuf_free(&pin);
	return rc;
}

static void
cs_free(void *ctx)
{
	free(ctx);
}

static const struct hsm_signer_ops card_signer_ops = { cs_sign, cs_free };
static const struct hsm_keyagree_ops card_keyagree_ops = { cs_ecdh, cs_free };

static hsm_rc
make_ctx(piv *card, int pin_fd, uint8_t slot, const char *label, struct cs_ctx **out,
         EVP_PKEY **pub, char *lbl, size_t lblsz)
{
	struct cs_ctx *c = NULL;
	hsm_rc rc;

	*out = NULL;
	*pub = NULL;
	if ((rc = cardsigner_slot_pub(card, slot, pub)) != HSM_OK)
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	c->card = card;
	c->pin_fd = pin_fd;
	c->slot = slot;
	if ((rc = crypto_ec_curve(*pub, &c->curve)) != HSM_OK)
		goto fail;
	if (piv_curve_alg(c->curve) == 0) {
		rc = hsm_fail(HSM_ERR_CARD, "the key in slot %02X is not P-256 or P-384", slot);
		goto fail;
	}
	if (label != NULL)
		snprintf(lbl, lblsz, "%s", label);
	else
		snprintf(lbl, lblsz, "card in \"%s\"", piv_reader(card));
	snprintf(c->prompt, sizeof(c->prompt), "PIN of the %s (slot %02X %s): ", lbl, slot,
	    slot == PIV_SLOT_SIGN ? "signature" : "key management");
	*out = c;
	return HSM_OK;
fail:
	free(c);
	EVP_PKEY_free(*pub);
	*pub = NULL;
	return rc;
}

hsm_rc
cardsigner_new(piv *card, int pin_fd, const char *label, hsm_signer **out)
{
	struct cs_ctx *c = NULL;
	EVP_PKEY *pub = NULL;
	char lbl[160];
	hsm_rc rc;

	*out = NULL;
	if ((rc = make_ctx(card, pin_fd, PIV_SLOT_SIGN, label, &c, &pub, lbl, sizeof(lbl))) != HSM_OK)
		return rc;
	/* signer_new owns c from here on, also when it fails. */
	rc = signer_new(&card_signer_ops, c, pub, lbl, out);
	EVP_PKEY_free(pub);
	return rc;
}

hsm_rc
cardkeyagree_new(piv *card, int pin_fd, const char *label, hsm_keyagree **out)
{
	struct cs_ctx *c = NULL;
	EVP_PKEY *pub = NULL;
	char lbl[160];
	hsm_rc rc;

	*out = NULL;
	if ((rc = make_ctx(card, pin_fd, PIV_SLOT_KM, label, &c, &pub, lbl, sizeof(lbl))) != HSM_OK)
		return rc;
	rc = keyagree_new(&card_keyagree_ops, c, pub, lbl, out);
	EVP_PKEY_free(pub);
	return rc;
}
