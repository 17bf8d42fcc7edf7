/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evrotation.h - where a log stands in a rotation, for the commands that
 * continue one (hsmadm-rotate): the same rules the verifier applies
 * (docs/formats/evidence.md, "The key's life after the ceremony"), read
 * from the log's records.
 */
#ifndef HSMADM_EVROTATION_H
#define HSMADM_EVROTATION_H

#include "hsmadm/err.h"

typedef struct evrotation_status {
	int       open;              /* begun, not finalized or backed out */
	int       finalized;         /* finalized, old key neither destroyed nor backed out */
	char      request[129];      /* the request the rotation was begun on */
	char      mkvp_from[65];     /* the key it replaces (hex) */
	char      mkvp_new[65];      /* the key finalized (hex), when finalized */
	int       have_reenc;        /* a reencipher.progress was recorded */
	long long reenc_done, reenc_total;
	char      reenc_to[65];      /* its target key (hex) */
} evrotation_status;

/* Read the log at path. A log that breaks the rules is HSM_ERR_AUDIT. */
hsm_rc evrotation_read(const char *path, evrotation_status *out);

#endif
