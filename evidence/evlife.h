/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evlife.h - the verifier's rules for the key's life after the ceremony
 * (internal to evidence/): rotation.begun, reencipher.progress, mk.finalized,
 * mk.backed_out, mk.destroyed, group.decommissioned and card.disposed, in the
 * order a rotation or a decommissioning must happen. evverify.c feeds every
 * record through ev_life_record; the rules are in docs/formats/evidence.md,
 * "The key's life after the ceremony".
 */
#ifndef HSMADM_EVLIFE_H
#define HSMADM_EVLIFE_H

#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/evlog.h"

#define EV_LIFE_MAX_DOMS 256

struct ev_life {
	int       open;               /* a rotation began and is not finalized or backed out */
	long long begun_seq;
	char      request[129];       /* its request id */
	char      mkvp_from[65];      /* the key it replaces */
	int       finalized;          /* finalized, old key not destroyed or backed out yet */
	long long finalized_seq;
	char      mkvp_new[65];
	int       have_reenc;         /* the last reencipher.progress */
	long long reenc_done, reenc_total, reenc_seq;
	char      reenc_to[65];
	/* the domains each group's mk.* records named (for decommissioning) */
	struct { char group[64]; char module[64]; long long domain; } doms[EV_LIFE_MAX_DOMS];
	size_t    ndoms;
};

/* The public state of a domain after its last receipt in the log, or NULL. */
typedef const json_t *(*ev_life_state_fn)(void *ctx, const char *module, long long domain);

/* 1 if type is one of the records only these rules check. */
int    ev_life_owns(const char *type);
/* Check rec against what came before (HSM_ERR_AUDIT naming the record's
 * problem, HSM_ERR_FORMAT for a malformed body); records of other types
 * are only observed. */
hsm_rc ev_life_record(struct ev_life *L, const evlog_record *rec, ev_life_state_fn state,
                      void *ctx);

#endif
