/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cardfind.h - the one way to get the card of a role and a person: an
 * administrator's or supervisor's signer, or a custodian's card for key
 * parts.
 *
 * A cardfind_want names what is wanted: a role (required) and optionally a
 * person (holder name, identity, card id: NULL = any), the installation, a
 * part the card must hold, cards that may not be used (they signed already,
 * or it is the primary being copied). The card is looked for in every
 * reader, including readers plugged in while waiting, for up to timeout_ms;
 * with a reader named, only that reader's card is checked, at once.
 *
 * Only public data is read to decide (the card profile, and the envelope
 * list for holds_part): a wrong card costs no PIN entry. A card that is not
 * the wanted one is refused with a plain message naming what it is and what
 * to insert ("the card in Reader 1 is a custodian card of Alice; insert an
 * admin card"); while waiting, each refusal is printed once on stderr and
 * the wait goes on, and a timeout repeats the last refusal.
 *
 * Backup cards: a backup card's profile names its primary card (backup_of);
 * the person's identity is the card id of the primary, so a backup counts as
 * its person wherever an identity is asked for, and is accepted unless
 * `which` asks for the primary only.
 */
#ifndef HSMADM_CARDFIND_H
#define HSMADM_CARDFIND_H

#include <stddef.h>
#include <openssl/evp.h>
#include "hsmadm/cardprofile.h"
#include "hsmadm/cardsigner.h"
#include "hsmadm/err.h"
#include "hsmadm/keypart.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"
#include "hsmadm/signer.h"

enum cardfind_which {
	CARDFIND_ANY = 0,          /* primary or backup card */
	CARDFIND_PRIMARY,          /* not a backup card */
	CARDFIND_BACKUP            /* a backup card only */
};

typedef struct cardfind_want {
	card_role   role;          /* required: admin, custodian or supervisor */
	const char *holder;        /* the holder name on the card, exactly */
	const char *identity;      /* the person: the card id of their primary card
	                              (that card and its backups match) */
	const char *card_id;       /* exactly this card */
	const char *installation;  /* the card's installation id */
	enum cardfind_which which;
	const char *not_card_id;   /* any card but this one (copying from it) */
	const char *const *exclude;/* card ids or identities already used ... */
	size_t      nexclude;      /* ... (e.g. persons who signed already) */
	const char *holds_part;    /* the card holds this key-part envelope */
	const char *reader;        /* only this reader (exact name or a part of
	                              one reader's name), checked at once */
	int         timeout_ms;    /* how long to wait; < 0 forever; 0 no wait */
	const char *prompt;        /* shown once when waiting; NULL: one naming
	                              the role and the person */
	int         quiet;         /* 1: do not print refusals while waiting */
} cardfind_want;

/* Check a connected card against w (public data only; no PIN). HSM_OK and
 * *prof filled if it is wanted; HSM_ERR_NO_CARD with the reason if not. */
hsm_rc cardfind_check(piv *card, const cardfind_want *w, cardprofile *prof);

/* Find the wanted card (see above) and connect to it. *reader is malloc'ed
 * (may be NULL if not wanted). HSM_ERR_TIMEOUT if none came in time,
 * HSM_ERR_NO_CARD if a named reader holds another card or none. */
hsm_rc cardfind_open(pcsc_ctx *ctx, const cardfind_want *w, piv **card,
                     cardprofile *prof, char **reader);

/* An admin's or supervisor's card and its slot-9C signer. The PIN is asked
 * at each signature (pin_fd < 0: on the terminal). */
typedef struct signer_card {
	piv         *piv;
	cardprofile  prof;
	char        *reader;
	char         label[200];   /* "the administrator card of Alice" */
	hsm_signer  *signer;       /* borrowed from this object */
} signer_card;

/* w->role must be admin or supervisor (HSM_ERR_USAGE otherwise). */
hsm_rc cardfind_signer(pcsc_ctx *ctx, const cardfind_want *w, int pin_fd,
                       signer_card **out);
/* The same, its PIN kept in pins for the run (cardsigner.h; NULL: not). */
hsm_rc cardfind_signer_kept(pcsc_ctx *ctx, const cardfind_want *w, int pin_fd,
                            cardsigner_pins *pins, signer_card **out);
/* Frees the signer, resets the card (no verified PIN left behind for other
 * programs) and disconnects. NULL-safe; sets *c to NULL. */
void   signer_card_free(signer_card **c);

/* A custodian's card as a keypart_card (lib/keypart.h): the 9D public key,
 * the 9D key agreement (PIN asked at each use) and the envelope store on
 * the card. Writing envelopes needs the management key, which the card
 * keeps PIN-protected: the PIN is asked once, at the first write. */
typedef struct custodian_card {
	piv           *piv;
	cardprofile    prof;
	EVP_PKEY      *pub9d;
	hsm_keyagree  *ka;
	int            pin_fd;
	int            allow_default;  /* accept the factory management key */
	int            authed;         /* management key authenticated */
	char          *reader;
	char           label[200];     /* "the custodian card of Carol (card 4f2a...)" */
	keypart_card   kc;
} custodian_card;

/* w->role must be custodian or none (taken as custodian). */
hsm_rc cardfind_custodian(pcsc_ctx *ctx, const cardfind_want *w, int pin_fd,
                          int allow_default, custodian_card **out);
void   custodian_card_free(custodian_card **c);

#endif
