/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keypart.h - what a custodian does with master-key parts on cards:
 * generate a part onto a card, copy it to a backup card, verify it, list and
 * destroy it, and re-wrap it for the importer keys of the domains it is
 * loaded into. The clear part only ever exists in a secbuf inside one of these
 * calls; it is never returned, printed or written.
 *
 * A card is seen through keypart_card: its id, its slot-9D public key (to
 * seal for it), its 9D key-agreement party (to open; a real card asks for the
 * PIN right then) and an envelope store (the card's data objects; smartcard/
 * provides one, tests use memory). lib/ knows nothing about PC/SC.
 */
#ifndef HSMADM_KEYPART_H
#define HSMADM_KEYPART_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "hsmadm/envelope.h"
#include "hsmadm/err.h"
#include "hsmadm/kpwrap.h"
#include "hsmadm/signer.h"
#include "hsmadm/vp.h"

/* Envelope storage on one card, by part id. */
typedef struct keypart_store_ops {
	/* Store a new envelope. HSM_ERR_EXISTS if the part id is taken. */
	hsm_rc (*put)(void *ctx, const char *part_id, const uint8_t *env, size_t n);
	/* The envelope of part_id, malloc'ed. HSM_ERR_NOT_FOUND if none. */
	hsm_rc (*get)(void *ctx, const char *part_id, uint8_t **env, size_t *n);
	/* Remove it. HSM_ERR_NOT_FOUND if none. */
	hsm_rc (*del)(void *ctx, const char *part_id);
	/* Part ids held, malloc'ed array of malloc'ed strings. */
	hsm_rc (*list)(void *ctx, char ***ids, size_t *n);
} keypart_store_ops;

typedef struct keypart_card {
	const char              *card_id;    /* from the card's profile */
	const char              *label;      /* for messages: "card 4f2a... (Carol)" */
	EVP_PKEY                *pub9d;      /* slot 9D public key, P-384 */
	hsm_keyagree            *ka;         /* slot 9D ECDH; NULL if not needed */
	const keypart_store_ops *store;
	void                    *store_ctx;
} keypart_card;

/* A fresh 32-byte part from RAND_priv_bytes, sealed for card and stored
 * under part_id; the stored bytes are read back and compared. *kpvp gets the
 * part's pattern (the only thing that may be shown and recorded).
 * HSM_ERR_EXISTS if the card already holds part_id. */
hsm_rc keypart_generate(const keypart_card *card, const char *part_id,
                        uint8_t kpvp[HSM_VP_LEN]);
/* The same part sealed for card and for its backup card in one step (the
 * part is never opened again, so a copy asks no PIN of the primary). Both
 * are checked first: nothing is stored unless neither holds part_id. */
hsm_rc keypart_generate_pair(const keypart_card *card, const keypart_card *backup,
                             const char *part_id, uint8_t kpvp[HSM_VP_LEN]);

/* Open part_id on `from` (its PIN), check its pattern against expect_kpvp
 * (NULL: against the envelope only), seal it for `to` and store it there.
 * Refused before any PIN is asked when `to` is the same card, already holds
 * the part, or `from` does not hold it. */
hsm_rc keypart_copy(const keypart_card *from, const keypart_card *to,
                    const char *part_id, const uint8_t *expect_kpvp,
                    uint8_t kpvp[HSM_VP_LEN]);

/* Open part_id with the card and compare its pattern with expect_kpvp
 * (NULL: with the envelope's own). Reveals nothing; HSM_ERR_VERIFY on any
 * mismatch. */
hsm_rc keypart_verify(const keypart_card *card, const char *part_id,
                      const uint8_t *expect_kpvp, uint8_t kpvp[HSM_VP_LEN]);

/* Public check, no PIN: the card holds part_id, its envelope names this
 * card and part, and its pattern is expect_kpvp (HSM_ERR_VERIFY if not). */
hsm_rc keypart_check(const keypart_card *card, const char *part_id,
                     const uint8_t expect_kpvp[HSM_VP_LEN]);

/* What the card holds: the public header of every envelope. *out malloc'ed. */
hsm_rc keypart_list(const keypart_card *card, envelope_info **out, size_t *n);

/* Remove part_id from the card; *kpvp gets its pattern for the record.
 * expect_kpvp (may be NULL) must match the envelope's header. */
hsm_rc keypart_destroy(const keypart_card *card, const char *part_id,
                       const uint8_t *expect_kpvp, uint8_t kpvp[HSM_VP_LEN]);

/* One importer key a part is re-wrapped for. */
typedef struct keypart_target {
	EVP_PKEY       *importer;   /* the domain's importer public key */
	kpwrap_binding  binding;    /* module, domain, part index */
	kpwrap_blob     blob;       /* out */
} keypart_target;

/* Open part_id with the card ONCE, check its pattern equals expect_kpvp
 * (required: the recorded KPVP), wrap it for every target, wipe it. Nothing
 * is written to any target unless all wraps succeed. */
hsm_rc keypart_rewrap(const keypart_card *card, const char *part_id,
                      const uint8_t expect_kpvp[HSM_VP_LEN],
                      keypart_target *targets, size_t ntargets);

#endif
