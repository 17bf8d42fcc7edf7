/* SPDX-License-Identifier: BSD-2-Clause */
/* signers.c - administrator signers from key files and cards (signers.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/cardfind.h"
#include "hsmadm/signers.h"

struct signers {
	struct signers_opts o;
	/* the lists of o, copied: a caller may hand them in a local array */
	const char **key_files, **readers;
	size_t       next_key, next_reader;
	pcsc_ctx    *pc;          /* opened at the first card */
	signer_card *card;        /* the card behind cur, if any */
	hsm_signer  *cur;         /* a key file's signer, or the card's */
	/* the persons (identities) whose cards signed the current command */
	char         used[SIGNERS_MAX][CARD_ID_HEX + 1];
	const char  *usedp[SIGNERS_MAX];
	size_t       nused;
	cardsigner_pins *pins;    /* o.keep_pins: the run's PINs per card */
	int          ended;       /* the last signers_next found nothing more */
};

hsm_rc
signers_new(const struct signers_opts *o, signers **out)
{
	signers *s;

	*out = NULL;
	if (o == NULL || (o->nkeys > 0 && o->key_files == NULL) ||
	    (o->nreaders > 0 && o->readers == NULL))
		return hsm_fail(HSM_ERR_USAGE, "signers_new: bad arguments");
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->key_files = calloc(o->nkeys + 1, sizeof(*s->key_files))) == NULL ||
	    (s->readers = calloc(o->nreaders + 1, sizeof(*s->readers))) == NULL) {
		if (s != NULL)
			free(s->key_files);
		free(s);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	s->o = *o;
	if (o->keep_pins && cardsigner_pins_new(&s->pins) != HSM_OK) {
		free(s->key_files);
		free(s->readers);
		free(s);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < o->nkeys; i++)
		s->key_files[i] = o->key_files[i];
	for (size_t i = 0; i < o->nreaders; i++)
		s->readers[i] = o->readers[i];
	s->o.key_files = s->key_files;
	s->o.readers = s->readers;
	*out = s;
	return HSM_OK;
}

/* Let go of the signer handed out last; the card is reset so that no PIN
 * state is left for other programs. */
static void
release(signers *s)
{
	if (s->card != NULL) {
		s->cur = NULL;   /* borrowed from the card */
		signer_card_free(&s->card);
	}
	signer_free(&s->cur);
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
	cardsigner_pins_free(&(*s)->pins);
	pcsc_close(&(*s)->pc);
	free((*s)->key_files);
	free((*s)->readers);
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

/* The next administrator card, per the card mode: in the next named reader,
 * in the reader after Enter, or waited for in any reader; never one of a
 * person who signed this command already (a backup counts as its person). */
static hsm_rc
card_signer(signers *s, const char *op, unsigned missing)
{
	cardfind_want w;
	char prompt[200];
	const char *id;
	hsm_rc rc;

	memset(&w, 0, sizeof(w));
	w.role = CARD_ROLE_ADMIN;
	w.exclude = s->usedp;
	w.nexclude = s->nused;
	if (s->o.cards == SIGNERS_CARDS_READERS) {
		w.reader = s->o.readers[s->next_reader++];
	} else if (s->o.cards == SIGNERS_CARDS_ENTER) {
		if ((rc = ask_enter(s, missing)) != HSM_OK)
			return rc;
		w.reader = s->o.nreaders ? s->o.readers[0] : NULL;
	} else {
		if (s->nused >= SIGNERS_MAX)
			return HSM_ERR_NOT_FOUND;
		snprintf(prompt, sizeof(prompt), "%s needs %u more administrator signature%s: "
		    "insert an administrator card that has not signed it yet.", op, missing,
		    missing == 1 ? "" : "s");
		w.prompt = prompt;
		w.timeout_ms = s->o.timeout_ms;
	}
	if (s->pc == NULL && (rc = pcsc_open(&s->pc)) != HSM_OK)
		return rc;
	if ((rc = cardfind_signer_kept(s->pc, &w, s->o.pin_fd, s->pins, &s->card)) != HSM_OK)
		return rc;
	id = s->card->prof.backup_of[0] ? s->card->prof.backup_of : s->card->prof.card_id;
	if (s->nused < SIGNERS_MAX) {
		snprintf(s->used[s->nused], sizeof(s->used[0]), "%s", id);
		s->usedp[s->nused] = s->used[s->nused];
		s->nused++;
	}
	s->cur = s->card->signer;
	return HSM_OK;
}

hsm_rc
signers_next(signers *s, const char *op, unsigned missing, hsm_signer **out)
{
	hsm_rc rc;

	*out = NULL;
	release(s);
	s->ended = 0;
	if (s->next_key >= s->o.nkeys && (s->o.cards == SIGNERS_CARDS_NONE ||
	    (s->o.cards == SIGNERS_CARDS_READERS && s->next_reader >= s->o.nreaders))) {
		s->ended = 1;
		return HSM_ERR_NOT_FOUND;   /* before opening PC/SC: none may be running */
	}
	if (s->next_key < s->o.nkeys) {
		if ((rc = signer_from_keyfile(s->o.key_files[s->next_key++], &s->cur)) != HSM_OK)
			return rc;
	} else if ((rc = card_signer(s, op, missing)) != HSM_OK)
		return rc;
	*out = s->cur;
	return HSM_OK;
}

int
signers_ended(const signers *s)
{
	return s != NULL && s->ended;
}

int
signers_may_ask_again(const signers *s)
{
	return s != NULL && (s->o.pin_fd < 0 || s->o.cards == SIGNERS_CARDS_ENTER);
}

int
signers_interactive(const signers *s)
{
	return s != NULL && s->o.cards == SIGNERS_CARDS_ENTER;
}
