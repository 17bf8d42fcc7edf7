/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rotate.h - the master key's life after the ceremony, on a domain group
 * (docs/rotation.md): stage a new key beside the current one, finalize it,
 * back out to the old one, destroy the old one, decommission the group.
 *
 * Every step starts from the register states the members report and does
 * only what is missing, so an interrupted step is simply run again; every
 * admin command goes through groupcmd.h (signatures, write-ahead intent,
 * receipts), and every step ends with its evidence record carrying the
 * customer's written request (evrec.h).
 */
#ifndef HSMADM_OPS_ROTATE_H
#define HSMADM_OPS_ROTATE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/evrec.h"
#include "hsmadm/group.h"
#include "hsmadm/groupcmd.h"
#include "hsmadm/keypart_load.h"

struct rotate_io {
	struct groupcmd_io g;       /* signers, the evidence log, progress lines */
	const ev_request  *req;     /* the customer's written request */
	const char        *group;
};

/* What the group holds: each register's MKVP (hex) when every member agrees,
 * "" when it is empty everywhere; mixed = members disagree. */
typedef struct rotate_view {
	char current[GROUP_HEX32], pending[GROUP_HEX32], old[GROUP_HEX32];
	char pending_state[16];     /* empty|partial|uncommitted|committed */
	int  mixed;
	char why[256];              /* what differs, when mixed */
} rotate_view;

hsm_rc rotate_view_read(const group_member *m, size_t n, rotate_view *v);

/* stage: CURRENT valid and OLD empty everywhere; rotation.begun (when
 * PENDING is empty: a fresh start), then the parts loaded and committed
 * into PENDING (keypart_load.h, stages LOAD|COMMIT). */
hsm_rc rotate_stage(const group_member *m, size_t n, const mkload_part *parts, size_t np,
                    const uint8_t *known, const struct mkload_io *mkio,
                    const struct rotate_io *io, json_t **report);

/* finalize: mk.activate (PENDING -> CURRENT, CURRENT -> OLD) unless every
 * member did already; mk.activated; a fresh blob made and used on every
 * member under the new key; mk.finalized. reencipher: "done" or "none";
 * NULL when the log holds this rotation's mk.finalized already (a re-run
 * proves the key again and records nothing). */
hsm_rc rotate_finalize(const group_member *m, size_t n, const char *reencipher,
                       const struct rotate_io *io, json_t **report);

/* backout: the old key CURRENT again, the new one set aside committed in
 * PENDING (mk.backout; nothing to send when the new key was never
 * activated); mk.backed_out. */
hsm_rc rotate_backout(const group_member *m, size_t n, const struct rotate_io *io,
                      json_t **report);

/* destroy-old, module side: mk.destroy_old of the OLD key (oldkey: its MKVP
 * as bytes, for the record) on every member still holding it. The cards are
 * the caller's (evrec_mk_destroyed after them). */
hsm_rc rotate_destroy_old(const group_member *m, size_t n, const struct rotate_io *io,
                          uint8_t oldkey[HSM_VP_LEN], json_t **report);

/* decommission: zeroize on every member not zeroized yet; then
 * group.decommissioned with every member's counter. */
hsm_rc rotate_decommission(const group_member *m, size_t n, const struct rotate_io *io,
                           json_t **report);

#endif
