/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac.h - the facilitator's record keeping behind hsmadm-ceremony: open a
 * ceremony's evidence log, put people on its roster (from their card, a
 * certificate or a key file), begin and end steps, record witness
 * acknowledgements and exceptions, and show what has been recorded.
 *
 * Every writer takes the log's writer lock first (evlog_open), reads what
 * the log already says while holding it (fac_scan), checks the new record
 * against that (a step begun twice, a key on the roster twice, a witness not
 * on the roster, a card of another installation) and only then appends:
 * a refused record leaves the log exactly as it was. Records hold public
 * values only; no PIN is ever asked (a card's profile and 9C certificate are
 * readable without one).
 */
#ifndef HSMADM_FAC_H
#define HSMADM_FAC_H

#include <stdio.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/pcsc.h"

#define FAC_TITLE_MAX   128   /* bytes of a title, step id, name */
#define FAC_TEXT_MAX    2000  /* bytes of a statement or exception text */

/* Who writes the facilitator's records (actor {"name", "role":"facilitator"}). */
struct fac_who {
	const char *facilitator;  /* NULL: "facilitator" */
};

/* A new log: ceremony.open with the title and installation id. HSM_ERR_EXISTS
 * if the file exists. *out (may be NULL) = {log, log_id, seq, ceremony,
 * installation}. */
hsm_rc fac_open(const char *path, const char *title, const char *installation,
                const char *site, const struct fac_who *who, json_t **out);

/* Where a roster member's public key comes from: exactly one of card (then
 * reader may be NULL: the only reader holding a card), cert_file (PEM
 * certificate) or key_file (PEM public or private key; tests). */
struct fac_member_src {
	int         card;
	const char *reader;
	const char *cert_file;
	const char *key_file;
	pcsc_ctx   *pc;           /* NULL: opened (and closed) when a card is read */
};

/* Roles a roster may name. */
hsm_rc fac_check_role(const char *role);

/* The same, recording the script and the plan the ceremony runs from (each
 * "NAME ... sha256 HEX"; NULL: none) in ceremony.open's "script" and "plan". */
hsm_rc fac_open_ex(const char *path, const char *title, const char *installation,
                   const char *site, const char *script, const char *plan,
                   const struct fac_who *who, json_t **out);

/* Add one person. name may be NULL with a card (the card's holder). *out
 * (may be NULL) = {seq, member}. */
hsm_rc fac_roster_add(const char *path, const char *role, const char *name,
                      const struct fac_member_src *src, const struct fac_who *who,
                      json_t **out);

/* step.begin / step.end. result: "ok", "failed" or "skipped" (end only). */
hsm_rc fac_step(const char *path, int begin, const char *step, const char *title,
                const char *result, const struct fac_who *who, json_t **out);

/* witness.ack by a witness on the roster. */
hsm_rc fac_witness(const char *path, const char *name, const char *statement,
                   json_t **out);

/* exception: what happened, why (reason may be NULL), and how it was
 * resolved (may be NULL). */
hsm_rc fac_exception(const char *path, const char *what, const char *reason,
                     const char *resolution, const struct fac_who *who, json_t **out);

/* What the log at path records, read line by line with the hash chain
 * checked (signatures are hsmadm-audit's job): {log_id, ceremony,
 * installation, records, head_seq, complete, roster[], steps[], open_steps[],
 * witnesses[], exceptions[], recoveries}. HSM_ERR_AUDIT names the first
 * record whose chain is broken. */
hsm_rc fac_scan(const char *path, json_t **state);

/* The same summary of a log this process holds open for writing (read
 * through the writer, without opening the file again). */
struct evlog;
hsm_rc fac_scan_log(struct evlog *log, const char *path, json_t **state);

/* The same summary from a log's bytes in memory (the fuzz target's entry). */
hsm_rc fac_scan_mem(const char *buf, size_t len, json_t **state);

/* Print the summary for people. */
void fac_print_show(FILE *f, const json_t *state);

#endif
