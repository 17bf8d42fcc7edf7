/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * group.h - the domain-group engine (DESIGN §8): one signed command applied
 * to every member domain of a group, never leaving the group silently
 * divergent.
 *
 * group_submit: read every member (one request per module, the modules in
 * parallel; each answer parsed once into a group_state) -> compare the
 * members the command targets (admins, thresholds, registers, MKVPs) ->
 * check that every member would accept the command (admincmd_verify_for_domain
 * against its own admins, thresholds and counter; once per admin set) ->
 * for members past the command's counter, fetch their receipt for it: this
 * command (already applied) or another one -> refuse, touching nothing, if
 * any member would refuse, if a member holds another command at that
 * counter (completing the group would split it), if some members are past
 * it and this is no roll-forward, or if the members differ -> apply: to
 * every member at once when the read reserved each one's counter for this
 * command (module-protocol.md §2.7), refused when another command holds a
 * reservation, else to the first member (module serial, domain) alone,
 * then to the others (one request per module), each receipt verified
 * against the member's pinned module CA -> fetch again the receipts of
 * lost answers -> report (a
 * group_report, rendered by group_report_json / group_report_print).
 * On a partial failure it stops and says exactly which members advanced
 * (HSM_ERR_DIVERGED) and that re-submitting the same signed command with
 * roll_forward completes the rest: the members that missed it still have the
 * counter the command names, those that applied it are skipped.
 * docs/domain-groups.md has the steps and their cost in round trips.
 */
#ifndef HSMADM_GROUP_H
#define HSMADM_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "hsmadm/admincmd.h"
#include "hsmadm/moddriver.h"

/* ---- typed module answers (parsed once, at the edge) ---- */

#define GROUP_MAX_ADMINS 8
#define GROUP_MAX_PARTS  20
#define GROUP_HEX32      65   /* 32 bytes in hex + NUL */

typedef struct group_admin {
	char      ski[GROUP_HEX32];   /* as the module reports it */
	char      name[64];
	char      identity[65];
	uint8_t   ski_of_key[32];     /* SHA-256 of the decoded point */
	EVP_PKEY *pub;                /* decoded once (shared through the run's cache) */
} group_admin;

typedef struct group_register {
	char     state[16];           /* empty|valid|partial|uncommitted|committed */
	char     mkvp[GROUP_HEX32];   /* "" when none */
	unsigned parts_total;         /* pending only */
	size_t   nparts;
	struct { unsigned index; char kpvp[GROUP_HEX32]; } parts[GROUP_MAX_PARTS];
} group_register;

/* A domain's public state (domain.query, or a receipt's "state"). */
typedef struct group_state {
	char           module[64];
	unsigned       domain;
	uint64_t       counter;
	int            imprint;
	unsigned       sig_thr, rev_thr;
	size_t         nadmins;
	group_admin    admins[GROUP_MAX_ADMINS];
	group_register current, pending, old;
	int            has_importer;
	char           importer_ski[GROUP_HEX32];
	char           digest[GROUP_HEX32];   /* state_digest ("" in a receipt's state) */
	json_t        *doc;                   /* the answer as received (for --json) */
} group_state;

/* Parse a domain state. Admins' public keys are decoded (pubkeys = 0: not,
 * for reports that need no check). HSM_ERR_MODULE for a state a module
 * should never send (the message says what is wrong). doc is kept (a
 * reference is taken). */
hsm_rc group_state_parse(const json_t *doc, int pubkeys, group_state *out);
void   group_state_clear(group_state *s);

/* A verified receipt, parsed. */
typedef struct group_receipt {
	char        module[64];
	unsigned    domain;
	char        op[32];
	char        command_digest[GROUP_HEX32];
	uint64_t    counter_before, counter_after;
	group_state state;                    /* the state after the change */
	json_t     *doc;                      /* the module-signed receipt as received */
} group_receipt;

void group_receipt_clear(group_receipt *r);

typedef struct group_member {
	const char *module;   /* serial */
	unsigned    domain;
	moddrv     *drv;      /* its module's connection; the members of one module
	                       * may share one: the engine sends one request per
	                       * connection, carrying all of its members' domains */
	const char *ca_pem;   /* pinned module CA (a PEM file path), for receipts */
	const char *oa_fingerprint; /* hex SHA-256 of the OA certificate confirmed at
	                               `module add`; receipts signed under another
	                               are refused. NULL: not pinned (tests) */
	const char *oa_cert;  /* that certificate (base64 DER), or NULL: verified
	                         while the read waits, before its receipts come */
} group_member;

/* A module-signed receipt as member m's: it chains to m's pinned CA, names
 * m's module, and (when pinned) is signed under the OA certificate that was
 * confirmed when the module was added. HSM_ERR_TRUST / HSM_ERR_VERIFY. */
hsm_rc group_receipt_trusted(const group_member *m, const json_t *receipt);

/* A module's OA certificate (base64 DER, as receipts and module.info carry
 * it) checked as a receipt's is: issued by the pinned CA ca_pem, an OA
 * certificate for serial, a P-384 key. Checked once per process: the
 * receipts signed under it then only have their signature checked.
 * HSM_ERR_TRUST (HSM_ERR_IO: no CA file). */
hsm_rc group_oa_trust(const char *ca_pem, const char *serial, const char *oa_b64);

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

/* ---- group_submit: apply a signed command to the members it targets ---- */

typedef enum group_mstatus {
	GROUP_NOT_TARGETED, GROUP_NOT_ATTEMPTED, GROUP_ALREADY, GROUP_REFUSED,
	GROUP_APPLIED, GROUP_FAILED, GROUP_NO_ANSWER,
} group_mstatus;
/* "not-targeted", "not-attempted", "already-applied", "refused", "applied",
 * "failed", "no-answer" */
const char *group_mstatus_name(group_mstatus s);

typedef struct group_row {
	const char   *module;           /* borrowed from the members */
	unsigned      domain;
	group_mstatus status;
	uint64_t      command_counter;  /* targeted members only */
	int           has_before, has_after;
	uint64_t      counter_before, counter_after;
	hsm_rc        rc;               /* refused, failed, no-answer, already-applied */
	char          msg[1024];
	json_t       *receipt;          /* the module-signed receipt, verified (or NULL) */
	int           recovered;        /* fetched again (domain.receipts) */
} group_row;

typedef struct group_report {
	char          op[32];
	char          command_digest[65];
	const char   *outcome;          /* applied|refused|diverged|failed|nothing-to-do */
	int           roll_forward, touched, group_equal;
	size_t        n;
	group_row    *rows;             /* one per member, in member order */
	char          advanced[4096], missed[4096];
	char          message[8192];
	json_t       *compare;          /* the group afterwards, as group_compare reports */
	struct { long long read, preflight, apply, apply_call_max, verify_max, total; } ms;
} group_report;

/*
 * Apply cmd to the members it targets. now = Unix seconds. *out (always set
 * when the call got as far as reading the members) is the report: per
 * member status, counters, error, receipt; the outcome, the members that
 * advanced and missed, the group comparison afterwards, the engine's timing.
 * Returns HSM_OK when every targeted member applied it (or, with
 * roll_forward, already had), HSM_ERR_DIVERGED when some did and some did
 * not, and the refusal's code when none was touched.
 */
hsm_rc group_submit_report(const group_member *m, size_t n, const admincmd *cmd,
                           int64_t now, int roll_forward, group_report **out);
void   group_report_free(group_report **r);
/* The report as --json prints it:
 *  {"op", "command_digest", "outcome", "roll_forward", "touched", "members":
 *   [{module, domain, status, command_counter, counter_before, counter_after,
 *     error: {code, exit, message}, receipt, recovered}],
 *   "advanced", "missed", "group_equal", "compare", "message", "timing_ms"} */
json_t *group_report_json(const group_report *r);
/* In words: a line per member, the message, whether the members now differ. */
void    group_report_print(const group_report *r, FILE *f);

/*
 * Heal a group left partly applied without the original command file: the
 * last command each member applied is fetched from its module (kept with
 * the receipt, module-protocol.md §2.4) and checked against that receipt;
 * one that another member missed (it targets that member at its current
 * counter) is submitted with roll_forward. HSM_OK with *out NULL: nothing
 * to heal. HSM_ERR_DIVERGED: members hold different such commands.
 */
hsm_rc group_heal(const group_member *m, size_t n, int64_t now, group_report **out);

/* The same as group_submit_report, with the report as group_report_json. */
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
