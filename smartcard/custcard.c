/* SPDX-License-Identifier: BSD-2-Clause */
/* custcard.c - a custodian card found by cardfind as a keypart_card: its 9D
 * key and the key-part envelopes it stores (see cardfind.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/cardfind.h"
#include "hsmadm/cardsigner.h"

/* Writes need the management key, which the card keeps PIN-protected: the
 * PIN is asked once, at the first write, so reading costs no PIN. */
static hsm_rc
ensure_auth(custodian_card *c)
{
	hsm_secbuf *pin = NULL;
	char prompt[260];
	hsm_rc rc;

	if (c->authed)
		return HSM_OK;
	snprintf(prompt, sizeof(prompt), "PIN of %s (to write to the card): ", c->label);
	if ((rc = secure_read_line(prompt, c->pin_fd, PIV_PIN_MAX, &pin)) != HSM_OK)
		return hsm_fail_wrap(rc, "reading the PIN");
	rc = cardmgmt_auth(c->piv, pin, NULL, c->allow_default);
	secbuf_free(&pin);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "%s", c->label);
	c->authed = 1;
	return HSM_OK;
}

static hsm_rc
st_put(void *ctx, const char *id, const uint8_t *env, size_t n)
{
	custodian_card *c = ctx;
	hsm_rc rc;

	if ((rc = ensure_auth(c)) != HSM_OK)
		return rc;
	return cardenv_put(c->piv, id, env, n);
}

static hsm_rc
st_get(void *ctx, const char *id, uint8_t **env, size_t *n)
{
	custodian_card *c = ctx;

	return cardenv_get(c->piv, id, env, n);
}

static hsm_rc
st_del(void *ctx, const char *id)
{
	custodian_card *c = ctx;
	hsm_rc rc;

	if ((rc = ensure_auth(c)) != HSM_OK)
		return rc;
	return cardenv_delete(c->piv, id);
}

static hsm_rc
st_list(void *ctx, char ***ids, size_t *n)
{
	custodian_card *c = ctx;

	return cardenv_list(c->piv, ids, n);
}

static const keypart_store_ops card_store = { st_put, st_get, st_del, st_list };

hsm_rc
cardfind_custodian(pcsc_ctx *ctx, const cardfind_want *w, int pin_fd, int allow_default,
                   custodian_card **out)
{
	cardfind_want cw;
	custodian_card *c = NULL;
	hsm_rc rc;

	if (out == NULL || w == NULL)
		return hsm_fail(HSM_ERR_USAGE, "cardfind_custodian: bad arguments");
	*out = NULL;
	if (w->role != CARD_ROLE_NONE && w->role != CARD_ROLE_CUSTODIAN)
		return hsm_fail(HSM_ERR_USAGE, "key parts are kept on custodian cards");
	cw = *w;
	cw.role = CARD_ROLE_CUSTODIAN;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	c->pin_fd = pin_fd;
	c->allow_default = allow_default;
	if ((rc = cardfind_open(ctx, &cw, &c->piv, &c->prof, &c->reader)) != HSM_OK)
		goto out;
	snprintf(c->label, sizeof(c->label), "the custodian card of %s (card %.8s...)",
	         c->prof.holder, c->prof.card_id);
	rc = cardsigner_slot_pub(c->piv, PIV_SLOT_KM, &c->pub9d);
	if (rc != HSM_OK) {
		hsm_fail_wrap(rc, "%s has no usable key-management key (slot 9D); "
		              "initialize it as a custodian card with hsmadm-card init", c->label);
		goto out;
	}
	if ((rc = cardkeyagree_new(c->piv, pin_fd, c->label, &c->ka)) != HSM_OK)
		goto out;
	c->kc.card_id = c->prof.card_id;
	c->kc.label = c->label;
	c->kc.pub9d = c->pub9d;
	c->kc.ka = c->ka;
	c->kc.store = &card_store;
	c->kc.store_ctx = c;
	*out = c;
	c = NULL;
out:
	custodian_card_free(&c);
	return rc;
}

void
custodian_card_free(custodian_card **cp)
{
	custodian_card *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	keyagree_free(&c->ka);
	EVP_PKEY_free(c->pub9d);
	if (c->piv != NULL) {
		/* Leave no verified PIN or authenticated management key behind. */
		pcsc_reset_on_close(piv_pcsc(c->piv));
		piv_free(&c->piv);
	}
	free(c->reader);
	free(c);
	*cp = NULL;
}
