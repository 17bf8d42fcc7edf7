/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmdutil.h - what every cmd/ main() shares: --version text, error printing
 * with the documented exit code, confirmation prompts, --json output, and
 * the checked parsing of numeric options and small text files.
 */
#ifndef HSMADM_CMDUTIL_H
#define HSMADM_CMDUTIL_H

#include <stddef.h>
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

/* The whole of s as a decimal number in [lo, hi] into *v: 0, or -1 (and *v
 * untouched) for anything else (empty, trailing characters, out of range).
 * The caller says what was wrong in its own words. */
int cmd_parse_int(const char *s, long lo, long hi, int *v);

/* Highest descriptor number a *-fd option takes. */
#define CMD_FD_MAX 1024

/* The descriptor number given to option `name` (e.g. "--pin-fd"): 0 to
 * CMD_FD_MAX, and open. Returns 0, or prints a usage error and returns its
 * exit code (2). The open check catches a secret typed where the number
 * belongs (getopt also takes "--pin" for "--pin-fd"): such a number is
 * never an open descriptor. */
int cmd_parse_fd(const char *prog, const char *name, const char *s, int *fd);

/* Take every `flag` (e.g. "--json") out of argv, wherever it stands before a
 * "--"; argv and *argc are shortened in place. 1 if it was there. So that
 * the options every command shares are accepted anywhere on the line. */
int cmd_take_flag(int *argc, char **argv, const char *flag);

/* A text file of at most max bytes, NUL-terminated (malloc'ed), or NULL if
 * it cannot be read or is longer; the caller says so in its own words. */
char *cmd_read_text(const char *path, size_t max);

#endif
