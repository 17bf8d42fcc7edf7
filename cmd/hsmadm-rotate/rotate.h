/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rotate.h - hsmadm-rotate: the subcommands of a master-key rotation. Each
 * subcommand lives in its own file and is one entry of the dispatch table
 * in main.c: add a line there and a declaration here.
 *
 * A subcommand gets argv from its own name on (argv[0] = "reencipher"),
 * parses its options (getopt_long, optind reset by main) and returns the
 * process exit code (cmd_fail / cmd_usage_error, docs/exit-codes.md).
 */
#ifndef HSMADM_ROTATE_H
#define HSMADM_ROTATE_H

#define ROTATE_PROG "hsmadm-rotate"

typedef int (*rotate_cmd_fn)(int argc, char **argv);

struct rotate_cmd {
	const char   *name;
	rotate_cmd_fn run;
	const char   *summary;    /* one line for --help */
};

/* reenc.c */
int rotate_reencipher(int argc, char **argv);
/* blob.c */
int rotate_blob(int argc, char **argv);
/* life.c: the key's life after the ceremony */
int rotate_stage_main(int argc, char **argv);
int rotate_finalize_main(int argc, char **argv);
int rotate_backout_main(int argc, char **argv);
int rotate_destroy_main(int argc, char **argv);
int rotate_decom_main(int argc, char **argv);

/* Options every subcommand takes: --home DIR (workstation directory). */
struct wsconfig;
/* Open the workstation configuration (home NULL: $HSMADM_HOME or
 * ~/.config/hsmadm); returns an exit code, 0 on success. */
int rotate_open_config(const char *home, struct wsconfig **cfg);

#endif
