/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * signers.h - where administrator signatures come from, for every command
 * that collects a quorum (hsmadm-domain run, hsmadm-commit): key files
 * first (rehearsals and tests), then administrator cards, one after another.
 *
 * Cards are taken in one of two ways:
 *  - named readers, used in turn (--admin-reader R, or hsmadm-domain --card
 *    with --reader R after the person at the workstation pressed Enter);
 *  - waiting: the next administrator card inserted in any reader that has not
 *    signed the current command yet (hsmadm-commit with no signer named).
 * A card that is not an administrator card is refused with a plain message.
 * The signer handed out is borrowed until the next call or signers_free.
 */
#ifndef HSMADM_SIGNERS_H
#define HSMADM_SIGNERS_H

#include <stddef.h>
#include "hsmadm/err.h"
#include "hsmadm/signer.h"

#define SIGNERS_MAX 16

enum signers_cards {
	SIGNERS_CARDS_NONE = 0,    /* key files only */
	SIGNERS_CARDS_READERS,     /* the named readers, each once, in order */
	SIGNERS_CARDS_ENTER,       /* ask for Enter, then the card in readers[0]
	                              (or the only reader), as often as needed */
	SIGNERS_CARDS_WAIT         /* wait for an unused admin card in any reader */
};

/* signers_new copies the two lists (a caller may build them in a local
 * array); the strings themselves are borrowed and must outlive the signers. */
struct signers_opts {
	const char *const *key_files;   /* may be NULL when nkeys is 0 */
	size_t              nkeys;
	enum signers_cards  cards;
	const char *const  *readers;    /* for READERS / ENTER */
	size_t              nreaders;
	int                 pin_fd;     /* admin PINs from this descriptor; -1: terminal */
	int                 enter_fd;   /* ENTER: read the Enter from here; -1: /dev/tty */
	int                 timeout_ms; /* WAIT: how long to wait for a card */
	int                 keep_pins;  /* a card that signs again in this run
	                                   uses the PIN it took (cardsigner.h) */
};

typedef struct signers signers;

hsm_rc signers_new(const struct signers_opts *o, signers **out);

/* A new command: cards that signed the previous one may sign again, and the
 * key files and named readers are offered again from the first. */
void   signers_restart(signers *s);

/* The next signer for a command of op that still needs `missing`
 * signatures. HSM_ERR_NOT_FOUND (no message) when nothing more is offered,
 * and then signers_ended() is 1 (a key file that does not exist is also
 * HSM_ERR_NOT_FOUND, with its message, and not the end);
 * HSM_ERR_QUORUM when the person at the workstation chose to stop. A card
 * problem (not an admin card, card removed) is returned with its message;
 * the caller may print it and ask again. */
hsm_rc signers_next(signers *s, const char *op, unsigned missing, hsm_signer **out);

/* 1 if a card problem should be shown and the person asked again (ENTER
 * mode: someone is at the workstation), 0 if it ends the collection. */
int    signers_interactive(const signers *s);

/* 1 if a PIN the card refused may be asked again: from the terminal, or in
 * ENTER mode (one person at the workstation, their PINs on the descriptor).
 * Not from a descriptor that holds the PINs of several people in turn: the
 * next line is another person's, and trying it would cost this card a try. */
int    signers_may_ask_again(const signers *s);
/* 1 if the last signers_next returned because nothing more is offered. */
int    signers_ended(const signers *s);

void   signers_free(signers **s);

#endif
