/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * groupcmd.h - one administrator command on a domain group, from proposal to
 * recorded receipts: propose it for the members (group_propose), collect the
 * signatures it needs (quorum.h), send it with the evidence kept around it
 * (submit.h). The master-key load and every hsmadm-rotate step run their
 * commands through here, so the sequence is written once.
 */
#ifndef HSMADM_GROUPCMD_H
#define HSMADM_GROUPCMD_H

#include <stddef.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/group.h"
#include "hsmadm/signers.h"
#include "hsmadm/submit.h"

/* How long a proposed command stays valid (seconds): long enough for the
 * signers in the room, far below the module's limit. */
#define GROUPCMD_VALID_FOR 3600

struct groupcmd_io {
	/* Where signatures come from. NULL: none are offered; a command that
	 * needs one stops with HSM_ERR_QUORUM ("N more signatures needed"). */
	signers          *admins;
	/* The evidence log around the command (NULL, or ev->log NULL: none). */
	struct submit_ev *ev;
	/* One line of progress for the people in the room (may be NULL). */
	void            (*say)(void *ctx, const char *line);
	void             *ctx;
};

/*
 * Propose op with params (borrowed; NULL = {}) for m[0..n), say its digest
 * and words ("what: command OP on N domains; digest ..."), sign it until
 * every member would accept it, then send it: roll_forward as submit_run.
 * *report (may be NULL) gets the group report; free with group_report_free.
 * Returns submit_run's code, or the proposal's or the quorum's.
 */
hsm_rc groupcmd_run(const group_member *m, size_t n, const char *op, const json_t *params,
                    const char *what, int roll_forward, const struct groupcmd_io *io,
                    group_report **report);

#endif
