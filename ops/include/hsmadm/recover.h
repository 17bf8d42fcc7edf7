/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * recover.h - the receipts an evidence log lacks, for filling its gaps
 * (DESIGN §10 inv. 5).
 *
 * A run that stopped after a module applied a command but before its receipt
 * was recorded (the answer was lost, or the workstation died) leaves the log
 * short of that receipt. Before the next command the caller scans the log
 * once (evscan.h: what it holds of each member, and every signed command it
 * knows, announced by command.sent or recorded by command.applied), asks the
 * members for the receipts they kept past that point (group_recover), and
 * records those.
 */
#ifndef HSMADM_RECOVER_H
#define HSMADM_RECOVER_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evscan.h"
#include "hsmadm/group.h"

/*
 * The bodies of the command.applied records the log at scan lacks, as
 * *bodies, a new array of {command, receipts: [receipt]} in the order to
 * append them (empty when nothing was lost). scan NULL: a new log, nothing
 * can be missing. logged (n entries, may be NULL) = what the log holds of
 * each member once those bodies are appended (GROUP_LOGGED_UNKNOWN: none).
 * A member that cannot be reached is skipped (whatever runs next reports
 * it). Read-only on the modules.
 */
hsm_rc recover_lost_receipts(const evscan *scan, const group_member *m, size_t n,
                             json_t **bodies, uint64_t *logged);

/*
 * The baselines a log lacks: for each member the log holds nothing of
 * (logged[i] == GROUP_LOGGED_UNKNOWN) that is not new (counter > 0), the
 * module-signed receipt that brought it to its counter, fetched from the
 * module and verified against the member's pinned CA, so that the auditor can
 * replay quorums from there (a domain.baseline record). *receipts = a new
 * array, in member order; logged[i] is raised to the counter each one
 * brings (and to 0 for a new domain). A member whose module no longer keeps
 * that receipt: HSM_ERR_STATE naming it and the way to record its baseline
 * by hand (nothing is returned then, nothing should be sent).
 */
hsm_rc recover_baselines(const group_member *m, size_t n, uint64_t *logged,
                         json_t **receipts);

/* "mk.load_part on DC2-M01 domain 3 (counter 4 -> 5)" for one such body. */
void recover_receipt_text(const json_t *body, char *buf, size_t len);

#endif
