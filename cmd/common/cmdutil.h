/*
 * cmdutil.h - what every cmd/ main() shares: --version text, error printing
 * with the documented exit code, confirmation prompts, --json output.
 */
#ifndef HSMADM_CMDUTIL_H
#define HSMADM_CMDUTIL_H

#include <jansson.h>
#include "hsmadm/err.h"

/* "hsmadm-card 0.1.0" on stdout. */
void cmd_print_version(const char *prog);

/* Print "prog: <context message>" on stderr and return hsm_exit_code(rc). */
int cmd_fail(const char *prog, hsm_rc rc);

/* Print "prog: <message>" (usage problems) and return exit code 2. */
int cmd_usage_error(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print v as indented JSON (keys sorted) on stdout, newline-terminated.
 * Steals nothing: the caller still owns v. */
hsm_rc cmd_print_json(const json_t *v);

/* Ask the person to type `word` exactly (e.g. the card serial) to confirm a
 * destructive step; reads from /dev/tty, or from fd if fd >= 0.
 * HSM_ERR_CANCELLED if anything else is typed. */
hsm_rc cmd_confirm_typed(const char *question, const char *word, int fd);

#endif
