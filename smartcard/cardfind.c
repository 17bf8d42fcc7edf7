/* SPDX-License-Identifier: BSD-2-Clause */
/* cardfind.c - find the card of a role and a person (see cardfind.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/cardfind.h"
#include "hsmadm/cardsigner.h"

/* "an admin card" / "a custodian card": messages read as sentences. */
static const char *
article(card_role r)
{
	return r == CARD_ROLE_ADMIN ? "an" : "a";
}

static const char *
role_label(card_role r)
{
	switch (r) {
	case CARD_ROLE_ADMIN:      return "administrator";
	case CARD_ROLE_CUSTODIAN:  return "custodian";
	case CARD_ROLE_SUPERVISOR: return "supervisor";
	default:                   return "hsmadm";
	}
}

/* The person a card belongs to: its primary card's id. */
static const char *
identity_of(const cardprofile *p)
{
	return p->backup_of[0] ? p->backup_of : p->card_id;
}

static int
excluded(const cardfind_want *w, const cardprofile *p)
{
	for (size_t i = 0; i < w->nexclude; i++)
		if (w->exclude[i] != NULL && (strcmp(w->exclude[i], p->card_id) == 0 ||
		    strcmp(w->exclude[i], identity_of(p)) == 0))
			return 1;
	return 0;
}

/* Role, person and installation: the profile alone decides. */
static hsm_rc
check_person(const char *rd, const cardfind_want *w, const cardprofile *p)
{
	const char *want = card_role_name(w->role);

	if (p->role != w->role)
		return hsm_fail(HSM_ERR_NO_CARD, "the card in %s is %s %s card of %s; insert %s %s card",
		    rd, article(p->role), card_role_name(p->role), p->holder, article(w->role), want);
	if (w->holder != NULL && strcmp(p->holder, w->holder) != 0)
		return hsm_fail(HSM_ERR_NO_CARD, "the card in %s is the %s card of %s, not of %s; "
		    "insert the %s card of %s", rd, want, p->holder, w->holder, want, w->holder);
	if (w->card_id != NULL && strcmp(p->card_id, w->card_id) != 0)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s is card %s of %s, not the expected card %s",
		    rd, p->card_id, p->holder, w->card_id);
	if (w->identity != NULL && strcmp(identity_of(p), w->identity) != 0 &&
	    strcmp(p->card_id, w->identity) != 0)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s is card %s of %s; it is neither card %s nor one of its backups",
		    rd, p->card_id, p->holder, w->identity);
	if (w->installation != NULL && strcmp(p->installation, w->installation) != 0)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s (card %s of %s) belongs to installation \"%s\", not \"%s\"",
		    rd, p->card_id, p->holder, p->installation, w->installation);
	if (w->which == CARDFIND_PRIMARY && p->backup_of[0])
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s is a backup card of %s (of card %s); insert the primary card",
		    rd, p->holder, p->backup_of);
	if (w->which == CARDFIND_BACKUP && !p->backup_of[0])
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s (card %s of %s) is not a backup card%s%s",
		    rd, p->card_id, p->holder, w->identity ? " of card " : "",
		    w->identity ? w->identity : "");
	if (w->not_card_id != NULL && strcmp(p->card_id, w->not_card_id) == 0)
		return hsm_fail(HSM_ERR_NO_CARD,
		    "the card in %s is card %s itself; insert the other card", rd, p->card_id);
	if (excluded(w, p))
		return hsm_fail(HSM_ERR_NO_CARD, "the card in %s (card %s of %s) has been used "
		    "already; insert the card of another person", rd, p->card_id, p->holder);
	return HSM_OK;
}

hsm_rc
cardfind_check(piv *card, const cardfind_want *w, cardprofile *prof)
{
	const char *rd = piv_reader(card);
	uint8_t *env = NULL;
	size_t n = 0;
	hsm_rc rc;

	rc = cardprofile_read(card, prof);
	if (rc == HSM_ERR_NOT_FOUND)
		return hsm_fail(HSM_ERR_NO_CARD, "the card in %s is not set up for hsmadm (no card "
		    "profile; hsmadm-card init sets one up); insert %s %s card", rd,
		    article(w->role), card_role_name(w->role));
	if (rc != HSM_OK)
		return rc;
	if ((rc = check_person(rd, w, prof)) != HSM_OK || w->holds_part == NULL)
		return rc;
	rc = cardenv_get(card, w->holds_part, &env, &n);
	free(env);
	if (rc == HSM_ERR_NOT_FOUND)
		return hsm_fail(HSM_ERR_NO_CARD, "the card in %s (card %s of %s) holds no key part %s",
		    rd, prof->card_id, prof->holder, w->holds_part);
	return rc;
}

struct wait_arg {
	const cardfind_want *w;
	char last[512];            /* the last refusal, for the timeout message */
};

/* pcsc_wait_card's predicate: HSM_ERR_NO_CARD keeps waiting. */
static hsm_rc
pred(pcsc_ctx *ctx, const char *reader, void *arg)
{
	struct wait_arg *a = arg;
	cardprofile prof;
	piv *p = NULL;
	hsm_rc rc;

	if ((rc = piv_connect(ctx, reader, &p)) == HSM_OK) {
		rc = cardfind_check(p, a->w, &prof);
		piv_free(&p);
	}
	if (rc == HSM_OK || rc == HSM_ERR_NOMEM || rc == HSM_ERR_PCSC)
		return rc;
	/* Any other trouble with one card (not PIV, pulled out, a damaged
	 * profile) only means it is not the one: say why, keep waiting for the
	 * right card in any reader. */
	if (rc == HSM_ERR_NO_CARD)
		snprintf(a->last, sizeof(a->last), "%s", hsm_errmsg());
	else
		snprintf(a->last, sizeof(a->last), "the card in %s cannot be used: %s", reader,
		    hsm_errmsg());
	rc = HSM_ERR_NO_CARD;
	if (!a->w->quiet) {
		fprintf(stderr, "%s\n", a->last);
		fflush(stderr);
	}
	return rc;
}

static void
default_prompt(const cardfind_want *w, char *buf, size_t n)
{
	snprintf(buf, n, "Insert %s %s card%s%s.", article(w->role), card_role_name(w->role),
	    w->holder ? " of " : "", w->holder ? w->holder : "");
}

/* Wait in every reader for the wanted card; *name is malloc'ed. */
static hsm_rc
wait_for(pcsc_ctx *ctx, const cardfind_want *w, char **name)
{
	struct wait_arg a;
	char prompt[300];
	hsm_rc rc;

	a.w = w;
	a.last[0] = '\0';
	if (w->prompt == NULL)
		default_prompt(w, prompt, sizeof(prompt));
	rc = pcsc_wait_card(ctx, NULL, pred, &a, w->prompt ? w->prompt : prompt,
	                    w->timeout_ms, name);
	if (rc == HSM_ERR_TIMEOUT && w->timeout_ms == 0)
		return hsm_fail(HSM_ERR_NO_CARD, "no %s card%s%s is in a reader%s%s",
		    card_role_name(w->role), w->holder ? " of " : "", w->holder ? w->holder : "",
		    a.last[0] ? ": " : "", a.last);
	if (rc == HSM_ERR_TIMEOUT && a.last[0])
		return hsm_fail_wrap(rc, "%s", a.last);
	return rc;
}

hsm_rc
cardfind_open(pcsc_ctx *ctx, const cardfind_want *w, piv **card, cardprofile *prof,
              char **reader)
{
	char *name = NULL;
	hsm_rc rc;

	if (card == NULL || prof == NULL)
		return hsm_fail(HSM_ERR_USAGE, "cardfind_open: bad arguments");
	*card = NULL;
	if (reader != NULL)
		*reader = NULL;
	if (ctx == NULL || w == NULL || w->role == CARD_ROLE_NONE)
		return hsm_fail(HSM_ERR_USAGE, "cardfind_open: no role given");
	if (w->reader != NULL)
		rc = pcsc_find_reader(ctx, w->reader, &name);
	else
		rc = wait_for(ctx, w, &name);
	if (rc != HSM_OK)
		goto out;
	/* Checked again on the connection that is kept: the card seen while
	 * waiting may have been swapped since. */
	if ((rc = piv_connect(ctx, name, card)) != HSM_OK ||
	    (rc = cardfind_check(*card, w, prof)) != HSM_OK)
		goto out;
	if (reader != NULL) {
		*reader = name;
		name = NULL;
	}
out:
	if (rc != HSM_OK)
		piv_free(card);
	free(name);
	return rc;
}

hsm_rc
cardfind_signer(pcsc_ctx *ctx, const cardfind_want *w, int pin_fd, signer_card **out)
{
	return cardfind_signer_kept(ctx, w, pin_fd, NULL, out);
}

hsm_rc
cardfind_signer_kept(pcsc_ctx *ctx, const cardfind_want *w, int pin_fd, cardsigner_pins *pins,
                     signer_card **out)
{
	signer_card *c = NULL;
	hsm_rc rc;

	if (out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "cardfind_signer: bad arguments");
	*out = NULL;
	if (w == NULL || (w->role != CARD_ROLE_ADMIN && w->role != CARD_ROLE_SUPERVISOR))
		return hsm_fail(HSM_ERR_USAGE, "a signer card is an admin or supervisor card");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = cardfind_open(ctx, w, &c->piv, &c->prof, &c->reader)) != HSM_OK)
		goto out;
	snprintf(c->label, sizeof(c->label), "the %s card of %s", role_label(c->prof.role),
	    c->prof.holder);
	if ((rc = cardsigner_new_cached(c->piv, pin_fd, c->label, c->prof.card_id, pins,
	    &c->signer)) != HSM_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	signer_card_free(&c);
	return rc;
}

void
signer_card_free(signer_card **cp)
{
	signer_card *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	signer_free(&c->signer);
	if (c->piv != NULL) {
		pcsc_reset_on_close(piv_pcsc(c->piv));
		piv_free(&c->piv);
	}
	free(c->reader);
	free(c);
	*cp = NULL;
}
