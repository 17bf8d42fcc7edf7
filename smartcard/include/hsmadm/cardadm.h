/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cardadm.h - the card operations behind hsmadm-card: list readers and cards,
 * read a card's status, initialize a card for a role, and run the health
 * check. PIN change and unblock are piv_change()/piv_unblock().
 *
 * card_init() (DESIGN §6): verifies the current PIN, authenticates with the
 * management key, resets PIN/PUK tries to 3 and sets the new PIN and PUK,
 * sets a new management key (random unless given) kept PIN-protected on the
 * card, generates 9C (P-384, PIN always) and for custodians 9D (P-384, PIN
 * always) on the card, writes a self-signed 9C certificate naming the holder
 * (and a 9D certificate issued by the 9C key), and finally the profile. An
 * initialized card is refused unless force is set AND confirm() accepts.
 */
#ifndef HSMADM_CARDADM_H
#define HSMADM_CARDADM_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/piv.h"
#include "hsmadm/cardprofile.h"

#define CARD_SKI_HEX (2 * HSM_SKI_LEN)

/* One reader, as 'hsmadm-card list' shows it. */
typedef struct card_summary {
	char        reader[256];
	int         card_present;
	int         piv;              /* the card has a PIV application */
	int         initialized;      /* it has an hsmadm profile */
	cardprofile profile;
	int         have_serial;
	uint32_t    serial;
	char        note[256];        /* why a present card could not be read */
} card_summary;

hsm_rc card_list(pcsc_ctx *ctx, card_summary **out, size_t *n);

typedef struct card_key_info {
	int       present;            /* a certificate is in the slot's object */
	hsm_curve curve;
	char      ski[CARD_SKI_HEX + 1];
	char      subject_cn[128];
} card_key_info;

typedef struct card_status {
	char          reader[256];
	int           have_version;
	uint8_t       version[3];
	int           have_serial;
	uint32_t      serial;
	int           pin_tries;      /* -1 unknown */
	int           puk_tries;      /* -1 unknown (only YubiKey >= 5.3 tells) */
	card_key_info sign;           /* 9C */
	card_key_info keymgmt;        /* 9D */
	int           initialized;
	cardprofile   profile;
	int           envelopes;      /* custodian cards; -1 not read */
} card_status;

hsm_rc card_status_read(piv *card, card_status *st);

typedef hsm_rc (*card_confirm_fn)(void *arg, const char *question, const char *word);

typedef struct card_init_opts {
	card_role          role;
	const char        *holder;
	const char        *installation;   /* may be NULL */
	const char        *backup_of;      /* card id or NULL */
	int                force;
	int                allow_default_mgmt;
	const hsm_secbuf  *pin;            /* current PIN (a new card: 123456) */
	const hsm_secbuf  *puk;            /* current PUK, NULL: 12345678; used only if the
	                                      card cannot reset the tries (no YubiKey FA) */
	const hsm_secbuf  *new_pin;
	const hsm_secbuf  *new_puk;
	const hsm_secbuf  *mgmt_key;       /* current; NULL: stored PIN-protected or default */
	const hsm_secbuf  *new_mgmt_key;   /* NULL: a random 3DES key */
	card_confirm_fn    confirm;
	void              *confirm_arg;
	int                validity_days;  /* certificates; 0: 3650 */
} card_init_opts;

hsm_rc card_init(piv *card, const card_init_opts *o, card_status *result);

typedef struct card_check {
	int           initialized;
	cardprofile   profile;
	card_key_info sign;
	int           signature_ok;    /* a fresh challenge signed by 9C verified */
	int           cert_ok;         /* 9C certificate self-signed and names the holder */
	int           keymgmt_ok;      /* custodian: 9D certificate present, issued by 9C */
	int           envelopes;       /* custodian: envelopes found (-1 not checked) */
	int           envelopes_bad;   /* envelopes that do not parse or name another card */
} card_check;

/* Health check: asks the PIN (pin_fd or terminal) once for the signature.
 * HSM_OK only if every check passed; HSM_ERR_VERIFY naming the first that
 * failed otherwise (chk is filled in either way). */
hsm_rc card_verify(piv *card, int pin_fd, card_check *chk);

#endif
