/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_int.h - what the files of hsmadm-ceremony share inside (not for
 * other commands): a writer session on a log (lock held, state read).
 */
#ifndef HSMADM_FAC_INT_H
#define HSMADM_FAC_INT_H

#include <jansson.h>
#include "hsmadm/evlog.h"
#include "hsmadm/evrec.h"
#include "fac.h"

typedef struct fac_ctx {
	evlog  *log;   /* writer lock held */
	json_t *st;    /* fac_scan of the log, read under the lock */
} fac_ctx;

/* Open an existing log for writing and read it; refuses a completed log
 * (HSM_ERR_STATE) and a missing one (HSM_ERR_NOT_FOUND). */
hsm_rc  fac_begin(const char *path, fac_ctx *c);
void    fac_end(fac_ctx *c);
/* What the writer just recorded, for the caller to show: *out (may be NULL)
 * = {log, type, seq, body}. */
hsm_rc  fac_recorded(const fac_ctx *c, const char *path, json_t **out);
/* The facilitator as the actor of a record (role "facilitator"). */
ev_actor fac_actor(const struct fac_who *who);
hsm_rc  fac_check_text(const char *what, const char *s, size_t max);

#endif
