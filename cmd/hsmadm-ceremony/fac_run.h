/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_run.h - a ceremony run from its script and plan: print it for the
 * room (fac_print), run it step by step recording the steps, witness
 * acknowledgements and exceptions (fac_run), pick it up after a crash at
 * the first unfinished step (resume). Whether a log fulfilled its plan is
 * cer_plan_check (cmd/common/cer_plan.h), shared with hsmadm-audit.
 */
#ifndef HSMADM_FAC_RUN_H
#define HSMADM_FAC_RUN_H

#include <stdio.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "fac.h"
#include "fac_script.h"

struct fac_runopts {
	const char *script, *plan, *log, *html, *rehearsal;
	int         dry_run, resume, json;
	struct fac_who who;
};

/* PINs and card insertions the script asks of each person: counted from the
 * commands as the runner expands them. *out = {script, plan, people[{who,
 * name, role, pins, insertions}]}. */
hsm_rc fac_counts(const fsc_script *s, const fpl_plan *p, json_t **out);

/* print: Markdown on f, or HTML into o->html; with o->json the counts. */
hsm_rc fac_print(const struct fac_runopts *o, FILE *f);

/* run / resume (o->resume) / dry run. A command that fails stops the run:
 * the step ends "failed" with an exception recorded, and *cmd_exit gets the
 * command's exit code (the runner exits with it). */
hsm_rc fac_run(const struct fac_runopts *o, int *cmd_exit);

/* ---- the command line of these (fac_cli.c) ---- */

/* print, run, resume and check-plan take a file before their options. */
int    fac_cli_takes_file(const char *cmd);
/* open, with --script and --plan recorded by their digests. */
hsm_rc fac_cli_open(const char *log, const char *title, const char *installation,
                    const char *site, const char *script, const char *plan,
                    const struct fac_who *who, json_t **out);
/* Run cmd; *res: what main prints (fac_cli_print). */
hsm_rc fac_cli(const char *cmd, const struct fac_runopts *o, json_t **res);
hsm_rc fac_cli_print(const char *cmd, const json_t *res, int json);
/* The exit code of the command that stopped run or resume (0: none). */
int    fac_cli_cmd_exit(void);

#endif
