/* SPDX-License-Identifier: BSD-2-Clause */
/* cardsigner.c - signer/keyagree on a PIV card (see cardsigner.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>

#include "hsmadm/cardsigner.h"

#define PINS_MAX 16

struct cardsigner_pins {
	char        card_id[PINS_MAX][72];
	hsm_secbuf *pin[PINS_MAX];
	size_t      n;
};

struct cs_ctx {
	piv         *card;      /* borrowed */
	int          pin_fd;
	uint8_t      slot;
	hsm_curve    curve;
	char         prompt[200];
	hsm_secbuf **kept;      /* the run's PIN of this card, or NULL */
};

hsm_rc
cardsigner_pins_new(cardsigner_pins **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

void
cardsigner_pins_free(cardsigner_pins **p)
{
	if (p == NULL || *p == NULL)
		return;
	for (size_t i = 0; i < (*p)->n; i++)
		secbuf_free(&(*p)->pin[i]);
	free(*p);
	*p = NULL;
}

/* The slot of card_id (made on first use); NULL when the table is full. */
static hsm_secbuf **
pins_slot(cardsigner_pins *p, const char *card_id)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->card_id[i], card_id) == 0)
			return &p->pin[i];
	if (p->n == PINS_MAX || strlen(card_id) >= sizeof(p->card_id[0]))
		return NULL;
	snprintf(p->card_id[p->n], sizeof(p->card_id[0]), "%s", card_id);
	return &p->pin[p->n++];
}

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
	if (c->kept != NULL && *c->kept != NULL) {
		if ((rc = secbuf_new((*c->kept)->len, pin)) != HSM_OK)
			return rc;
		memcpy((*pin)->data, (*c->kept)->data, (*c->kept)->len);
		(*pin)->len = (*c->kept)->len;
		return HSM_OK;
	}
	if ((rc = secure_read_line(c->prompt, c->pin_fd, PIV_PIN_MAX, pin)) != HSM_OK)
		return hsm_fail_wrap(rc, "reading the PIN");
	return HSM_OK;
}

/* After the card's answer to pin: keep it for the run when the card took
 * it, forget a kept one it refused (the next use asks the person). */
static void
after_verify(struct cs_ctx *c, hsm_rc verify_rc, hsm_secbuf **pin)
{
	if (c->kept == NULL)
		return;
	if (verify_rc != HSM_OK)
		secbuf_free(c->kept);
	else if (*c->kept == NULL) {
		*c->kept = *pin;
		*pin = NULL;
	}
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
	rc = piv_verify_pin(c->card, pin);
	after_verify(c, rc, &pin);
	if (rc == HSM_OK)
		rc = piv_sign(c->card, c->slot, c->curve, dg, dglen, sig, siglen);
	piv_end(c->card);
out:
	secbuf_free(&pin);
	return rc;
}

/* A custodian who mistypes the PIN on the terminal is asked again (twice
 * at most; the card blocks itself when the tries run out), and the step goes
 * on. Not from a descriptor: its next line may be another custodian's PIN,
 * and trying it would cost this card a try. */
static hsm_rc
cs_ecdh(void *ctx, EVP_PKEY *peer, hsm_secbuf **shared)
{
	struct cs_ctx *c = ctx;
	hsm_secbuf *pin = NULL;
	hsm_rc rc = HSM_OK;
	char wrong[256] = "";

	for (int tries = 0; tries < 3; tries++) {
		hsm_rc r;
		if ((r = with_pin(c, &pin)) != HSM_OK)   /* no second PIN: the wrong one's error */
			return tries > 0 ? hsm_fail(rc, "%s", wrong) : r;
		if ((rc = piv_begin(c->card)) != HSM_OK)
			break;
		if ((rc = piv_verify_pin(c->card, pin)) == HSM_OK)
			rc = piv_ecdh(c->card, c->slot, c->curve, peer, shared);
		piv_end(c->card);
		secbuf_free(&pin);
		if (rc != HSM_ERR_PIN_WRONG || c->pin_fd >= 0)
			break;
		snprintf(wrong, sizeof(wrong), "%s", hsm_errmsg());
		if (tries < 2)
			fprintf(stderr, "%s; the PIN is asked again.\n", hsm_errmsg());
	}
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
	return cardsigner_new_cached(card, pin_fd, label, NULL, NULL, out);
}

hsm_rc
cardsigner_new_cached(piv *card, int pin_fd, const char *label, const char *card_id,
                      cardsigner_pins *pins, hsm_signer **out)
{
	struct cs_ctx *c = NULL;
	EVP_PKEY *pub = NULL;
	char lbl[160];
	hsm_rc rc;

	*out = NULL;
	if ((rc = make_ctx(card, pin_fd, PIV_SLOT_SIGN, label, &c, &pub, lbl, sizeof(lbl))) != HSM_OK)
		return rc;
	if (pins != NULL && card_id != NULL)
		c->kept = pins_slot(pins, card_id);
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
