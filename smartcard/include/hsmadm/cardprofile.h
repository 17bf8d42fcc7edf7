/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cardprofile.h - what hsmadm keeps in a PIV card's data objects
 * (docs/formats/card.md names each object and its layout):
 *
 *  - the card profile (role, holder, installation id, card id, backup-of),
 *    object 5FFF20, readable without the PIN;
 *  - key-part envelopes as opaque blobs, one per object in the 20 retired
 *    key-management certificate objects 5FC10D..5FC120, addressed by part id;
 *  - the card's management key, PIN-protected the way YubiKey Manager keeps
 *    it (object 5FC109 tag 88/89, flag in ADMIN DATA 5FFF00), so that
 *    custodians and admins only ever need their PIN.
 *
 * Writing anything needs management-key authentication: cardmgmt_auth().
 */
#ifndef HSMADM_CARDPROFILE_H
#define HSMADM_CARDPROFILE_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/piv.h"

#define CARDPROFILE_OBJ      0x5FFF20
#define CARDENV_OBJ_FIRST    0x5FC10D
#define CARDENV_SLOTS        20
#define CARDENV_BLOB_MAX     1024
#define CARDENV_ID_MAX       64
#define CARDMGMT_OBJ_PRINTED 0x5FC109
#define CARDMGMT_OBJ_ADMIN   0x5FFF00

#define CARD_HOLDER_MAX      30    /* characters */
#define CARD_INSTALL_MAX     64    /* bytes, printable ASCII */
#define CARD_ID_BYTES        16
#define CARD_ID_HEX          (2 * CARD_ID_BYTES)

typedef enum card_role {
	CARD_ROLE_NONE = 0,
	CARD_ROLE_ADMIN = 1,
	CARD_ROLE_CUSTODIAN = 2,
	CARD_ROLE_SUPERVISOR = 3
} card_role;

typedef struct cardprofile {
	card_role role;
	char holder[4 * CARD_HOLDER_MAX + 1];       /* UTF-8 */
	char installation[CARD_INSTALL_MAX + 1];    /* may be empty */
	char card_id[CARD_ID_HEX + 1];              /* 32 lowercase hex digits */
	char backup_of[CARD_ID_HEX + 1];            /* card id or empty */
} cardprofile;

const char *card_role_name(card_role r);          /* "admin", ...; "none" */
hsm_rc      card_role_parse(const char *s, card_role *r);

/* Field checks (HSM_ERR_USAGE with a message saying what is allowed). */
hsm_rc cardprofile_check_holder(const char *holder);
hsm_rc cardprofile_check_installation(const char *id);
hsm_rc cardprofile_check_card_id(const char *id);
hsm_rc cardprofile_check(const cardprofile *p);

/* Object contents <-> struct. decode is strict (HSM_ERR_FORMAT). */
hsm_rc cardprofile_encode(const cardprofile *p, uint8_t *out, size_t cap, size_t *len);
hsm_rc cardprofile_decode(const uint8_t *buf, size_t n, cardprofile *p);

/* Read the profile; HSM_ERR_NOT_FOUND if the card was never initialized. */
hsm_rc cardprofile_read(piv *card, cardprofile *p);
hsm_rc cardprofile_write(piv *card, const cardprofile *p);
hsm_rc cardprofile_erase(piv *card);

/* Envelope objects: one envelope per object, found by part id. */
hsm_rc cardenv_encode(const char *part_id, const uint8_t *blob, size_t n,
                      uint8_t *out, size_t cap, size_t *len);
/* Borrowed pointers into buf; strict. */
hsm_rc cardenv_decode(const uint8_t *buf, size_t n, char part_id[CARDENV_ID_MAX + 1],
                      const uint8_t **blob, size_t *bloblen);

/* Store an envelope. HSM_ERR_EXISTS if the part id is there already,
 * HSM_ERR_STATE if all CARDENV_SLOTS objects are used. */
hsm_rc cardenv_put(piv *card, const char *part_id, const uint8_t *blob, size_t n);
/* Blob malloc'ed. HSM_ERR_NOT_FOUND if absent. */
hsm_rc cardenv_get(piv *card, const char *part_id, uint8_t **blob, size_t *n);
/* Part ids (malloc'ed array of malloc'ed strings), in object order. */
hsm_rc cardenv_list(piv *card, char ***ids, size_t *n);
void   cardenv_list_free(char ***ids, size_t n);
hsm_rc cardenv_delete(piv *card, const char *part_id);
/* Delete every envelope object (card re-initialisation). */
hsm_rc cardenv_delete_all(piv *card);

/* Management-key authentication for writes:
 * key given -> use it (3DES for 24 bytes, AES-128/256 for 16/32);
 * else the PIN-protected key stored on the card (pin must be given; it is
 * verified first); else the default 3DES key if allow_default. */
hsm_rc cardmgmt_auth(piv *card, const hsm_secbuf *pin, const hsm_secbuf *key,
                     int allow_default);
/* Store key PIN-protected (5FC109 + ADMIN DATA flag). Needs mgmt auth. */
hsm_rc cardmgmt_store(piv *card, const hsm_secbuf *key);
/* The algorithm that goes with a key length (24 -> 3DES). */
uint8_t cardmgmt_alg(size_t keylen);

#endif
