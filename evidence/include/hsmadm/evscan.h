/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evscan.h - one streaming pass over an evidence log that collects what the
 * workflows need from it, so that a command reads its log once:
 *
 *   - the key parts: part id, KPVP, the card it was generated onto, the
 *     backup cards it was copied to, whether it was destroyed;
 *   - per domain group, the last mk.loaded, mk.committed and mk.activated
 *     record and the MKVP each of its domains reported;
 *   - per (module serial, domain), the receipt high-water mark: the highest
 *     counter_after of that domain's receipts in command.applied and
 *     domain.baseline records;
 *   - the signed commands the log knows ({body, signatures}, from command.sent
 *     and command.applied), in log order, each once, with the seq that
 *     announced it and the last seq that recorded receipts for it.
 *
 * The chain is checked by the reader (evlog.h); signatures, receipts and
 * quorums are not checked here (that is evlog_verify's job): this is what the
 * log says, for a workflow to continue from. Members are plain (module,
 * domain) pairs: evidence/ knows nothing of the workflows' types.
 */
#ifndef HSMADM_EVSCAN_H
#define HSMADM_EVSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/evlog.h"

#define EVSCAN_VP_LEN 32
#define EVSCAN_NONE   UINT64_MAX   /* no receipt of that domain in the log */

typedef struct evscan_member {
	const char *module;
	unsigned    domain;
} evscan_member;

typedef struct evscan_part {
	char      *part_id;
	uint8_t    kpvp[EVSCAN_VP_LEN];
	char      *card_id;      /* generated onto (the latest keypart.generated) */
	char      *holder;       /* "" when not recorded */
	long long  seq;          /* of that keypart.generated */
	char     **copied_to;    /* backup card ids, in log order */
	size_t     ncopied;
	int        destroyed;    /* a keypart.destroyed came after it */
} evscan_part;

typedef struct evscan_mkdom {
	char     *module;
	unsigned  domain;
	uint8_t   mkvp[EVSCAN_VP_LEN];
} evscan_mkdom;

typedef struct evscan_mkpart {
	char    *part_id;
	uint8_t  kpvp[EVSCAN_VP_LEN];
} evscan_mkpart;

/* One mk.* record: seq 0 when the group has none of that type. */
typedef struct evscan_mkrec {
	long long      seq;
	evscan_mkdom  *doms;
	size_t         ndoms;
	evscan_mkpart *parts;      /* mk.loaded: the parts, in load order */
	size_t         nparts;
} evscan_mkrec;

typedef struct evscan_group {
	char         *group;       /* "" for records that name no group */
	evscan_mkrec  loaded, committed, activated;
} evscan_group;

typedef struct evscan_dom {
	char     *module;
	unsigned  domain;
	uint64_t  counter;         /* highest counter_after in its receipts */
} evscan_dom;

typedef struct evscan_cmd {
	json_t    *command;        /* {body, signatures} (owned) */
	uint8_t    digest[32];     /* SHA-256 of the canonical body */
	long long  sent_seq;       /* the command.sent that announced it; 0: none */
	long long  applied_seq;    /* the last command.applied for it; 0: no
	                              recorded outcome */
} evscan_cmd;

typedef struct evscan {
	char          log_id[132];
	long long     head_seq;    /* last record read */
	int           complete;    /* the last record is the completion */
	int           torn;        /* stopped at a torn last line (torn_ok) */
	evscan_part  *parts;
	size_t        nparts;
	evscan_group *groups;
	size_t        ngroups;
	evscan_dom   *doms;
	size_t        ndoms;
	evscan_cmd   *cmds;        /* log order, each command once */
	size_t        ncmds;
	json_t       *commands;    /* the same commands as a JSON array (owned) */
} evscan;

/* Scan the log at path. HSM_ERR_NOT_FOUND if it does not exist. With
 * torn_ok, a torn or unparsable last line ends the scan (s->torn = 1; the
 * writer repairs it on its next open) and what came before counts; without
 * it, that is HSM_ERR_FORMAT. A broken chain is HSM_ERR_AUDIT; a record the
 * scan needs that lacks its members is HSM_ERR_FORMAT naming its seq. */
hsm_rc evscan_path(const char *path, int torn_ok, evscan **out);
/* Scan a log this process holds open for writing, without opening it again. */
hsm_rc evscan_log(evlog *log, evscan **out);
/* Scan what a fresh reader gives (the reader is not freed). */
hsm_rc evscan_reader(evlog_reader *r, int torn_ok, evscan **out);
void   evscan_free(evscan **s);

const evscan_part  *evscan_find_part(const evscan *s, const char *part_id);
/* group NULL or "": the records that name no group. */
const evscan_group *evscan_find_group(const evscan *s, const char *group);
/* 1 and *counter if the log holds a receipt of that domain, else 0. */
int  evscan_hwm(const evscan *s, const char *module, unsigned domain, uint64_t *counter);
/* out[i] = the high-water mark of m[i], EVSCAN_NONE if the log has none. */
void evscan_hwm_members(const evscan *s, const evscan_member *m, size_t n, uint64_t *out);

#endif
