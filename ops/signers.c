/* SPDX-License-Identifier: BSD-2-Clause */
/* signers.c - administrator signers from key files and cards (signers.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/cardprofile.h"
#include "hsmadm/cardsigner.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"
#include "hsmadm/signers.h"

struct signers {
	struct signers_opts o;
	size_t      next_key, next_reader;
	pcsc_ctx   *pc;          /* opened at the first card */
	piv        *card;        /* the card behind cur, if any */
	hsm_signer *cur;
	/* WAIT: the cards that signed the current command */
	char        used[SIGNERS_MAX][CARD_ID_HEX + 1];
	size_t      nused;
};

hsm_rc
signers_new(const struct signers_opts *o, signers **out)
{
	signers *s;

	*out = NULL;
	if (o == NULL || (o->nkeys > 0 && o->key_files == NULL) ||
	    (o->nreaders > 0 && o->readers == NULL))
		return hsm_fail(HSM_ERR_USAGE, "signers_new: bad arguments");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	s->o = *o;
	*out = s;
	return HSM_OK;
}

/* Let go of the signer handed out last; the card is reset so that no PIN
 * state is left for other programs. */
static void
release(signers *s)
{
	signer_free(&s->cur);
	if (s->card != NULL) {
		pcsc_reset_on_close(piv_pcsc(s->card));
		piv_free(&s->card);
	}
}

void
signers_restart(signers *s)
{
	if (s == NULL)
		return;
	release(s);
	s->next_key = 0;
	s->next_reader = 0;
	s->nused = 0;
}

void
signers_free(signers **s)
{
	if (s == NULL || *s == NULL)
		return;
	release(*s);
	pcsc_close(&(*s)->pc);
	free(*s);
	*s = NULL;
}

/* Ask for Enter before the next card; byte by byte, so that nothing after
 * the line is consumed from the descriptor. */
static hsm_rc
ask_enter(const signers *s, unsigned missing)
{
	int in = s->o.enter_fd, opened = 0, stop = 0, first = 1;
	char ch;

	if (in < 0) {
		if ((in = open("/dev/tty", O_RDONLY | O_CLOEXEC)) < 0)
			return HSM_ERR_NOT_FOUND;
		opened = 1;
	}
	fprintf(stderr, "%u more signature(s) needed. Insert the card of another "
	    "administrator and press Enter (q to stop): ", missing);
	fflush(stderr);
	for (;;) {
		ssize_t r = read(in, &ch, 1);
		if (r <= 0) {
			stop = 1;
			break;
		}
		if (ch == '\n')
			break;
		if (first && ch == 'q')
			stop = 1;
		first = 0;
	}
	if (opened)
		close(in);
	if (stop)
		return hsm_fail(HSM_ERR_QUORUM, "stopped with %u signature(s) still needed; "
		    "nothing was changed", missing);
	return HSM_OK;
}

/* WAIT: an administrator card that has not signed this command. */
static hsm_rc
unused_admin(pcsc_ctx *ctx, const char *reader, void *arg)
{
	const signers *s = arg;
	cardprofile prof;
	piv *p = NULL;
	hsm_rc rc;

	if (piv_connect(ctx, reader, &p) != HSM_OK)
		return HSM_ERR_NO_CARD;
	rc = cardprofile_read(p, &prof);
	piv_free(&p);
	if (rc != HSM_OK || prof.role != CARD_ROLE_ADMIN)
		return HSM_ERR_NO_CARD;
	for (size_t i = 0; i < s->nused; i++)
		if (strcmp(s->used[i], prof.card_id) == 0)
			return HSM_ERR_NO_CARD;
	return HSM_OK;
}

/* The reader the next card is in, per the card mode; *name is new. */
static hsm_rc
next_reader(signers *s, const char *op, unsigned missing, char **name)
{
	char prompt[200];
	hsm_rc rc;

	switch (s->o.cards) {
	case SIGNERS_CARDS_READERS:
		if (s->next_reader >= s->o.nreaders)
			return HSM_ERR_NOT_FOUND;
		return pcsc_find_reader(s->pc, s->o.readers[s->next_reader++], name);
	case SIGNERS_CARDS_ENTER:
		if ((rc = ask_enter(s, missing)) != HSM_OK)
			return rc;
		return pcsc_find_reader(s->pc, s->o.nreaders ? s->o.readers[0] : NULL, name);
	case SIGNERS_CARDS_WAIT:
		if (s->nused >= SIGNERS_MAX)
			return HSM_ERR_NOT_FOUND;
		snprintf(prompt, sizeof(prompt), "%s needs %u more administrator signature%s: "
		    "insert an administrator card that has not signed it yet.", op, missing,
		    missing == 1 ? "" : "s");
		return pcsc_wait_card(s->pc, NULL, unused_admin, s, prompt, s->o.timeout_ms, name);
	default:
		return HSM_ERR_NOT_FOUND;
	}
}

static hsm_rc
card_signer(signers *s, const char *op, unsigned missing)
{
	cardprofile prof;
	char *name = NULL, label[300];
	hsm_rc rc;

	if (s->pc == NULL && (rc = pcsc_open(&s->pc)) != HSM_OK)
		return rc;
	if ((rc = next_reader(s, op, missing, &name)) != HSM_OK ||
	    (rc = piv_connect(s->pc, name, &s->card)) != HSM_OK)
		goto out;
	if (cardprofile_read(s->card, &prof) != HSM_OK || prof.role != CARD_ROLE_ADMIN) {
		rc = hsm_fail(HSM_ERR_NO_CARD, "the card in %s is not an administrator card; "
		    "insert an administrator card", name);
		goto out;
	}
	if (s->nused < SIGNERS_MAX)
		snprintf(s->used[s->nused++], sizeof(s->used[0]), "%s", prof.card_id);
	snprintf(label, sizeof(label), "the administrator card of %s", prof.holder);
	rc = cardsigner_new(s->card, s->o.pin_fd, label, &s->cur);
out:
	free(name);
	if (rc != HSM_OK)
		release(s);
	return rc;
}

hsm_rc
signers_next(signers *s, const char *op, unsigned missing, hsm_signer **out)
{
	hsm_rc rc;

	*out = NULL;
	release(s);
	if (s->next_key >= s->o.nkeys && (s->o.cards == SIGNERS_CARDS_NONE ||
	    (s->o.cards == SIGNERS_CARDS_READERS && s->next_reader >= s->o.nreaders)))
		return HSM_ERR_NOT_FOUND;   /* before opening PC/SC: none may be running */
	if (s->next_key < s->o.nkeys) {
		if ((rc = signer_from_keyfile(s->o.key_files[s->next_key++], &s->cur)) != HSM_OK)
			return rc;
	} else if ((rc = card_signer(s, op, missing)) != HSM_OK)
		return rc;
	*out = s->cur;
	return HSM_OK;
}

int
signers_interactive(const signers *s)
{
	return s != NULL && s->o.cards == SIGNERS_CARDS_ENTER;
}
