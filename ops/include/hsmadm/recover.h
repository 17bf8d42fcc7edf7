/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * recover.h - what an evidence log already holds of a domain group's
 * receipts, for filling its gaps (group_recover, DESIGN §10 inv. 5).
 *
 * A run that stopped because a module died right after applying a command
 * (its answer, with the receipt, never came) leaves the log short of that
 * receipt. Before the next command, the caller scans the log with
 * recover_scan_log, asks group_recover for the receipts the members kept
 * past that point, and records those. Read-only on the log; one pass with
 * the streaming reader (evlog.h), constant memory per record.
 */
#ifndef HSMADM_RECOVER_H
#define HSMADM_RECOVER_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/group.h"
#include "hsmadm/evlog.h"

/*
 * Scan the log at path:
 *   - cmds (an array, appended to): the "command" of every command.applied
 *     record, in log order (the commands group_recover may match receipts to);
 *   - logged[i] (n entries, all overwritten): the highest counter_after of
 *     member m[i]'s receipts in command.applied and domain.baseline records,
 *     GROUP_LOGGED_UNKNOWN if the log holds none for it.
 * Returns HSM_OK at the clean end of the log. A line that does not parse
 * (HSM_ERR_FORMAT, e.g. a torn last line that the writer repairs on its next
 * evlog_open) stops the scan: cmds and logged then hold what came before it,
 * and the caller decides whether that is enough. Other codes: the log could
 * not be opened or read.
 */
hsm_rc recover_scan_log(const char *path, const group_member *m, size_t n,
                           json_t *cmds, uint64_t *logged);

/*
 * The whole gap check both commands run before their next command: scan the
 * log (a missing log holds nothing), ask group_recover for what the members
 * kept past it, and give back *bodies, a new array of command.applied record
 * bodies {command, receipts: [receipt]} in the order to append them (empty
 * when nothing was lost). With torn_ok, a line that does not parse ends the
 * scan and what came before it counts (the writer repairs a torn tail on its
 * next open); without it, that is an error. The caller appends each body with
 * its own writer and may describe it with recover_receipt_text. logged (n
 * entries, may be NULL) = what the log holds of each member once those
 * bodies are appended, as recover_scan_log counts it.
 */
hsm_rc recover_lost_receipts(const char *path, const group_member *m, size_t n,
                             int torn_ok, json_t **bodies, uint64_t *logged);

/* "mk.load_part on DC2-M01 domain 3 (counter 4 -> 5)" for one such body. */
void recover_receipt_text(const json_t *body, char *buf, size_t len);

#endif
