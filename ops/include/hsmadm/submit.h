/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * submit.h - send a signed command to a domain group and keep the evidence
 * log whole around it: the one home of what hsmadm-domain submit/run and the
 * master-key load do around group_submit.
 *
 * With a log (opened, and so locked, by the caller for the whole command):
 *   1. receipts the members kept past what the log holds, for commands the
 *      log knows (an answer lost in an earlier run), are recorded first, so
 *      the log has no counter gap (recover.h);
 *   2. the command in full, body and signatures, is made durable as
 *      command.sent (write-ahead intent): whatever happens next, a receipt
 *      a module keeps for it can be placed by the next run;
 *   3. the command is sent (group_submit);
 *   4. command.applied records every receipt the modules gave, also when the
 *      group was left partly applied, less those the log already holds (a
 *      roll-forward fetches the receipts of members that had applied it).
 * A command is never sent while its log cannot be written: the caller opens
 * the log before calling, and a failing gap record stops before step 2.
 */
#ifndef HSMADM_SUBMIT_H
#define HSMADM_SUBMIT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/admincmd.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evrec.h"
#include "hsmadm/evscan.h"
#include "hsmadm/group.h"

struct submit_marks;   /* what the log holds of each member (submit.c) */

struct submit_ev {
	evlog        *log;     /* NULL: no evidence is kept */
	const char   *path;    /* the log's path (scanned for what it holds) */
	ev_actor      system;  /* actor of records no person made (role "system") */
	/* One line for the people in the room (a receipt recorded late). */
	void        (*say)(void *ctx, const char *line);
	void         *ctx;
	/* The log as the command found it (evscan.h). The caller may set it
	 * from its own scan (it is then freed by submit_ev_clear too); else the
	 * first gap check scans the open log. */
	evscan       *scan;
	/* Filled by the first gap check, kept up to date by every record, so
	 * that the log is scanned once per command run, not once per command.
	 * Zero-initialize; free with submit_ev_clear. */
	struct submit_marks *marks;
};

void submit_ev_clear(struct submit_ev *ev);

/* Step 1 alone (hsmadm-commit runs it before anything else); submit_run
 * runs it only for members it has not checked yet in this run. */
hsm_rc submit_fill_gaps(struct submit_ev *ev, const group_member *m, size_t n);

/* Steps 1-4. actor (may be NULL: ev->system) is who sends the command.
 * Returns group_submit_report's code, or the evidence error if the command
 * itself went through; *report as group_submit_report (free it with
 * group_report_free). ev NULL or without a log: group_submit_report alone. */
hsm_rc submit_run(struct submit_ev *ev, const group_member *m, size_t n,
                  const admincmd *cmd, int roll_forward, const ev_actor *actor,
                  group_report **report);

#endif
