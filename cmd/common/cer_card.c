/* SPDX-License-Identifier: BSD-2-Clause */
/* cer_card.c - a custodian card (PIV) as a keypart_card. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/cardsigner.h"
#include "cer.h"

/* Public checks only: profile and envelope list, no PIN. */
static hsm_rc
match(piv *p, const struct cer_want *w, cardprofile *prof)
{
	uint8_t *env = NULL;
	size_t n = 0;
	hsm_rc rc;

	rc = cardprofile_read(p, prof);
	if (rc == HSM_ERR_NOT_FOUND)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s is not set up for hsmadm (no card profile); "
		    "insert a custodian card", piv_reader(p));
	if (rc != HSM_OK)
		return rc;
	if (prof->role != CARD_ROLE_CUSTODIAN)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s is the %s card of %s, not a custodian card",
		    piv_reader(p), card_role_name(prof->role), prof->holder);
	if (w == NULL)
		return HSM_OK;
	if (w->card_id != NULL && strcmp(prof->card_id, w->card_id) != 0)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s is card %s of %s, not the expected card %s",
		    piv_reader(p), prof->card_id, prof->holder, w->card_id);
	if (w->owner_id != NULL && strcmp(prof->card_id, w->owner_id) != 0 &&
	    strcmp(prof->backup_of, w->owner_id) != 0)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s is card %s of %s; it is neither card %s nor one of its backups",
		    piv_reader(p), prof->card_id, prof->holder, w->owner_id);
	if (w->backup_of != NULL && strcmp(prof->backup_of, w->backup_of) != 0)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s (card %s of %s) is not a backup card of card %s",
		    piv_reader(p), prof->card_id, prof->holder, w->backup_of);
	if (w->not_card_id != NULL && strcmp(prof->card_id, w->not_card_id) == 0)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s is card %s itself; insert the other card",
		    piv_reader(p), prof->card_id);
	if (w->holds_part != NULL) {
		rc = cardenv_get(p, w->holds_part, &env, &n);
		free(env);
		if (rc == HSM_ERR_NOT_FOUND)
			return hsm_fail(HSM_ERR_NO_CARD,
			    "the card in %s (card %s of %s) holds no key part %s",
			    piv_reader(p), prof->card_id, prof->holder, w->holds_part);
		if (rc != HSM_OK)
			return rc;
	}
	return HSM_OK;
}

struct pred_arg {
	const struct cer_want *w;
};

static hsm_rc
pred(pcsc_ctx *ctx, const char *reader, void *arg)
{
	struct pred_arg *a = arg;
	cardprofile prof;
	piv *p = NULL;
	hsm_rc rc;

	if ((rc = piv_connect(ctx, reader, &p)) != HSM_OK)
		return HSM_ERR_NO_CARD;   /* not a PIV card: keep waiting */
	rc = match(p, a->w, &prof);
	piv_free(&p);
	if (rc != HSM_OK && rc != HSM_ERR_NO_CARD && rc != HSM_ERR_CARD_REMOVED)
		return rc;
	return rc == HSM_ERR_CARD_REMOVED ? HSM_ERR_NO_CARD : rc;
}

/* Envelope store on the card. Writes need the management key, which the
 * card keeps PIN-protected: the PIN is asked once, at the first write. */
static hsm_rc
ensure_auth(cer_card *c)
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
	cer_card *c = ctx;
	hsm_rc rc;

	if ((rc = ensure_auth(c)) != HSM_OK)
		return rc;
	return cardenv_put(c->piv, id, env, n);
}

static hsm_rc
st_get(void *ctx, const char *id, uint8_t **env, size_t *n)
{
	cer_card *c = ctx;

	return cardenv_get(c->piv, id, env, n);
}

static hsm_rc
st_del(void *ctx, const char *id)
{
	cer_card *c = ctx;
	hsm_rc rc;

	if ((rc = ensure_auth(c)) != HSM_OK)
		return rc;
	return cardenv_delete(c->piv, id);
}

static hsm_rc
st_list(void *ctx, char ***ids, size_t *n)
{
	cer_card *c = ctx;

	return cardenv_list(c->piv, ids, n);
}

static const keypart_store_ops card_store = { st_put, st_get, st_del, st_list };

hsm_rc
cer_card_open(pcsc_ctx *ctx, const char *reader, const struct cer_want *w,
              const char *prompt, int timeout_ms, int pin_fd, int allow_default,
              cer_card **out)
{
	struct pred_arg a = { w };
	cer_card *c = NULL;
	char *name = NULL;
	hsm_rc rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	c->pin_fd = pin_fd;
	c->allow_default = allow_default;
	if (reader != NULL) {
		if ((rc = pcsc_find_reader(ctx, reader, &name)) != HSM_OK)
			goto out;
	} else {
		rc = pcsc_wait_card(ctx, NULL, pred, &a,
		                    prompt != NULL ? prompt : "Insert the custodian card.",
		                    timeout_ms, &name);
		if (rc != HSM_OK)
			goto out;
	}
	c->reader = name;
	if ((rc = piv_connect(ctx, name, &c->piv)) != HSM_OK)
		goto out;
	if ((rc = match(c->piv, w, &c->prof)) != HSM_OK)
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
	cer_card_free(&c);
	return rc;
}

void
cer_card_free(cer_card **cp)
{
	cer_card *c;

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

json_t *
cer_card_actor(const cer_card *c)
{
	return json_pack("{s:s, s:s, s:s}", "name", c->prof.holder, "role", "custodian",
	                 "card_id", c->prof.card_id);
}
