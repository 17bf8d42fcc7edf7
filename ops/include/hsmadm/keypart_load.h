/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keypart_load.h - the master-key ceremony on a domain group (DESIGN §4, §7,
 * §8): load every key part (n-of-n) into PENDING of every member, show the
 * module-reported PENDING MKVP of each member (all must agree; the
 * workstation never holds all parts and never computes the MKVP), commit
 * under the signature threshold, activate.
 *
 * Resumable: every call reads the register states of all members and does
 * only what is missing. A part is sent only to members whose PENDING does
 * not list its index yet, so no part is ever loaded twice into the same
 * PENDING (the module refuses that too). A member whose PENDING holds a
 * part with another KPVP than the recorded one stops the run: that PENDING
 * is not this key, and must be cleared by an administrator.
 *
 * Custodian cards are reached through a callback (the command finds them);
 * administrator signatures come from signers.h through the one quorum loop
 * (quorum.h), and the evidence is written around every command by submit.h.
 */
#ifndef HSMADM_KEYPART_LOAD_H
#define HSMADM_KEYPART_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/group.h"
#include "hsmadm/keypart.h"
#include "hsmadm/signer.h"
#include "hsmadm/signers.h"
#include "hsmadm/submit.h"
#include "hsmadm/vp.h"

#define MKLOAD_MIN_PARTS 2
#define MKLOAD_MAX_PARTS 20

/* One part of the new key, as recorded when it was generated. */
typedef struct mkload_part {
	const char *part_id;
	uint8_t     kpvp[HSM_VP_LEN];
	const char *card_id;   /* the card it was generated on (or NULL) */
	const char *holder;    /* for prompts (or NULL) */
} mkload_part;

struct mkload_io {
	void *ctx;
	/* The custodian card that holds part p (index is 1-based). The card is
	 * borrowed until custodian_done. Nothing has been sent yet when this
	 * fails. */
	hsm_rc (*custodian)(void *ctx, const mkload_part *p, unsigned index,
	                    const keypart_card **card);
	void   (*custodian_done)(void *ctx);
	/* Where administrator signatures come from (NULL: none are offered, a
	 * command that needs one stops with HSM_ERR_QUORUM). */
	signers *admins;
	/* The evidence log (NULL, or ev->log NULL: nothing is recorded). */
	struct submit_ev *ev;
	/* One line of progress for the people in the room. May be NULL. */
	void   (*say)(void *ctx, const char *line);
};

#define MKLOAD_LOAD     1u
#define MKLOAD_COMMIT   2u
#define MKLOAD_ACTIVATE 4u
#define MKLOAD_ALL      7u

/*
 * Run the stages asked for, from the state the members are in.
 * known_mkvp (may be NULL): the MKVP these parts were loaded as earlier (from
 * the evidence log); a member whose PENDING is empty and whose CURRENT has
 * it counts as done, so a re-run after activation loads nothing.
 * *report (may be NULL) = {"group", "parts", "mkvp", "members": [{module,
 * domain, pending, pending_mkvp, current_mkvp, parts_loaded}], "did": [...],
 * "outcome": "done"|"loaded"|"committed"|"activated"|"nothing-to-do"}.
 * A member that reports another PENDING MKVP than the others: HSM_ERR_VERIFY;
 * a key equal to CURRENT or OLD: HSM_ERR_REFUSED, before any commit.
 */
hsm_rc mkload_run(const group_member *m, size_t n, const char *group,
                  const mkload_part *parts, size_t nparts, unsigned stages,
                  const uint8_t *known_mkvp, const struct mkload_io *io,
                  json_t **report);

/* Read-only: the same report with "next" naming the step that would run. */
hsm_rc mkload_status(const group_member *m, size_t n, const char *group,
                     const mkload_part *parts, size_t nparts,
                     const uint8_t *known_mkvp, json_t **report);

#endif
