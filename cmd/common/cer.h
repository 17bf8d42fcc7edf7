/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cer.h - glue shared by hsmadm-mkpart and hsmadm-commit: a custodian card
 * seen as a keypart_card, and the key-part records of the evidence log. The key-part logic itself is in
 * lib/keypart.c; this only connects it to PC/SC cards and the log.
 */
#ifndef HSMADM_CER_H
#define HSMADM_CER_H

#include <jansson.h>
#include <openssl/evp.h>
#include "hsmadm/cardfind.h"
#include "hsmadm/cardprofile.h"
#include "hsmadm/evlog.h"
#include "hsmadm/keypart.h"
#include "hsmadm/keypart_load.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"

/* A custodian card as a keypart_card: smartcard/'s custodian_card
 * (cardfind.h), under the name the ceremony commands know. */
typedef custodian_card cer_card;

/* Which custodian card is wanted (NULL fields: any). */
struct cer_want {
	const char *card_id;       /* exactly this card */
	const char *owner_id;      /* this card or a backup of it */
	const char *backup_of;     /* a backup of this card */
	const char *not_card_id;   /* not this one (the primary, when copying) */
	const char *holds_part;    /* holds this part id */
};

/* Find the wanted custodian card (cardfind_custodian). With a reader: that
 * reader's card, which must match (HSM_ERR_NO_CARD saying why if not:
 * nothing is sent to it). Without: wait up to timeout_ms for a matching card
 * in any reader, prompting once. pin_fd < 0 asks on the terminal when the
 * PIN is needed. */
hsm_rc cer_card_open(pcsc_ctx *ctx, const char *reader, const struct cer_want *w,
                     const char *prompt, int timeout_ms, int pin_fd,
                     int allow_default, cer_card **out);
void   cer_card_free(cer_card **c);

/* The actor object of a card's holder: {"name","role":"custodian","card_id"}. */
json_t *cer_card_actor(const cer_card *c);

/* 64 lowercase hex digits of a pattern; out has 65 bytes. */
void cer_vp_hex(const uint8_t vp[HSM_VP_LEN], char out[2 * HSM_VP_LEN + 1]);

/* The most recent keypart.generated record of part_id in the log at path:
 * its KPVP, card id and holder. HSM_ERR_NOT_FOUND if the log has none. */
struct cer_partrec {
	uint8_t kpvp[HSM_VP_LEN];
	char    card_id[ENVELOPE_ID_MAX + 1];
	char    holder[128];
	long long seq;
};
hsm_rc cer_log_find_part(const char *path, const char *part_id, struct cer_partrec *rec);

/* Append a keypart.* record (type EV_KEYPART_*). backup_card_id may be NULL. */
hsm_rc cer_log_keypart(evlog *log, const char *type, const cer_card *c,
                       const char *part_id, const uint8_t kpvp[HSM_VP_LEN],
                       const char *backup_card_id, long long *seq);

/* Open (or create) the evidence log for appending. A new log's opening
 * record names the ceremony "master key ceremony". */
hsm_rc cer_log_open(const char *path, evlog **log);

/* The MKVP of the last mk.loaded record for exactly these parts (same ids
 * and patterns, same order). HSM_ERR_NOT_FOUND if none. */
hsm_rc cer_log_find_loaded(const char *path, const mkload_part *parts, size_t n,
                           uint8_t mkvp[HSM_VP_LEN]);

#endif
