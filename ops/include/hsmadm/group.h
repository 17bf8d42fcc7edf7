/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * group.h - the domain-group engine (DESIGN §8): one signed command applied
 * to every member domain of a group, never leaving the group silently
 * divergent.
 *
 * group_submit: read every member (in parallel) -> compare the members the
 * command targets (admins, thresholds, registers, MKVPs) -> check that every
 * member would accept the command (admincmd_verify_for_domain against its
 * own admins, thresholds and counter) -> refuse, touching nothing, if any
 * member would refuse, if some members are already past the command's
 * counter (a partial apply: offer the roll-forward) or if the members differ
 * -> apply on all members in parallel, a thread per member, each verifying
 * its receipt against the member's pinned module CA -> report. A member
 * whose connection was lost is "no-answer": it may have applied the command;
 * the roll-forward finds out from its counter.
 * On a partial failure it stops and says exactly which members advanced
 * (HSM_ERR_DIVERGED) and that re-submitting the same signed command with
 * roll_forward completes the rest: the members that missed it still have the
 * counter the command names, those that applied it refuse it as a replay
 * and are skipped.
 *
 * Reports are JSON (printed as --json by hsmadm-domain, summarized in
 * words otherwise); see docs/man/hsmadm-domain.1.
 */
#ifndef HSMADM_GROUP_H
#define HSMADM_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/admincmd.h"
#include "hsmadm/moddriver.h"

typedef struct group_member {
	const char *module;   /* serial */
	unsigned    domain;
	moddrv     *drv;      /* a connection of its own (members run in parallel) */
	const char *ca_pem;   /* pinned module CA, for receipts */
} group_member;

/* Query every member in parallel; states[i] are new references. If any
 * member cannot be read, the first error is returned and states are NULL. */
hsm_rc group_read(const group_member *m, size_t n, json_t **states);

/* Compare states (admins by SKI/name/identity, imprint, thresholds,
 * registers with MKVPs and loaded parts; not counters or importer keys).
 * *report = {"equal": bool, "differences": [{"field", "values":[{module,
 * domain, value}]}]}. */
hsm_rc group_compare(const group_member *m, size_t n, json_t *const *states,
                     json_t **report);

/* One row per member for `group status`: counter, imprint, thresholds,
 * admins, register states and MKVPs; plus the comparison. */
hsm_rc group_status(const group_member *m, size_t n, json_t **report);

/*
 * Apply cmd to the members it targets. now = Unix seconds. *report (always
 * set when the call got as far as reading the members):
 *  {"op", "command_digest", "outcome": "applied"|"refused"|"diverged"|
 *   "nothing-to-do", "members": [{module, domain, status: "applied"|
 *   "already-applied"|"refused"|"failed"|"no-answer"|"not-attempted"|
 *   "not-targeted",
 *   counter_before, counter_after, error: {code, exit, message}, receipt}],
 *   "advanced": [..], "missed": [..], "group_equal": bool, "message"}
 * Returns HSM_OK when every targeted member applied it (or, with
 * roll_forward, already had), HSM_ERR_DIVERGED when some did and some did
 * not, and the refusal's code when none was touched.
 */
hsm_rc group_submit(const group_member *m, size_t n, const admincmd *cmd,
                    int64_t now, int roll_forward, json_t **report);

/*
 * Fill the gaps of an evidence log (DESIGN §10 inv. 5): logged[i] is the
 * counter up to which the caller's log holds member i's receipts (its last
 * counter_after; GROUP_LOGGED_UNKNOWN: the log never saw the member, skip
 * it). For each member whose module kept receipts from there on, each
 * receipt is taken, in counter order while they follow on without a hole,
 * if it is for one of the signed commands in `commands` (an array of command
 * files {body, signatures}, e.g. from the log's command.applied records)
 * that targets that member at that counter, and verifies against the
 * member's pinned module CA. *found = [{"command": file, "receipt"}], in
 * the order to record them. A member that cannot be reached is skipped
 * (whatever runs next reports it). Read-only on the modules.
 */
#define GROUP_LOGGED_UNKNOWN UINT64_MAX
hsm_rc group_recover(const group_member *m, size_t n, const uint64_t *logged,
                     const json_t *commands, json_t **found);

/* Build a command for every member: targets carry each member's current
 * counter (read now); valid from now - 300 s (clock skew) for valid_for
 * seconds. */
hsm_rc group_propose(const group_member *m, size_t n, const char *op,
                     const json_t *params, int64_t now, int64_t valid_for,
                     admincmd **out);

/* Pre-flight only: would every targeted member accept cmd now? Returns the
 * first member's refusal (HSM_ERR_QUORUM: "... 1 more needed"), with
 * *missing (may be NULL) = the most signatures any member still needs. */
hsm_rc group_preflight(const group_member *m, size_t n, const admincmd *cmd,
                       int64_t now, unsigned *missing);

/* Admins of a domain state as the verifier wants them; pubs are new
 * EVP_PKEYs freed by group_admins_free. Strings borrow from state. */
hsm_rc group_admins_from_state(const json_t *state, admincmd_admin **admins, size_t *n,
                               unsigned *sig_thr, unsigned *rev_thr, uint64_t *counter);
void   group_admins_free(admincmd_admin **admins, size_t n);

#endif
