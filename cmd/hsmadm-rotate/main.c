/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hsmadm-rotate - a master-key rotation on a domain group: the blobs of the
 * applications re-enciphered to the new key, and (by the lead's
 * subcommands) stage, finalize, backout, destroy-old, decommission. This
 * file is only the dispatcher: one line per subcommand in `cmds`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>

#include "hsmadm/secbuf.h"
#include "hsmadm/wsconfig.h"
#include "cmdutil.h"
#include "rotate.h"

static const struct rotate_cmd cmds[] = {
	{ "stage", rotate_stage_main, "load and commit a new master key beside the current one" },
	{ "reencipher", rotate_reencipher, "re-encipher key blobs to the pending or current key" },
	{ "finalize", rotate_finalize_main, "activate the new key; prove it with a fresh blob" },
	{ "backout", rotate_backout_main, "return to the old key before it is destroyed" },
	{ "destroy-old", rotate_destroy_main, "destroy the old key and its parts on the cards" },
	{ "decommission", rotate_decom_main, "zeroize every member; record each card's fate" },
	{ "blob", rotate_blob, "make, use and inspect key blobs (application side)" },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

int
rotate_open_config(const char *home, struct wsconfig **cfg)
{
	char *dir = NULL;
	hsm_rc rc;

	if ((rc = wsconfig_home(home, &dir)) == HSM_OK)
		rc = wsconfig_open(dir, cfg);
	free(dir);
	return rc == HSM_OK ? 0 : cmd_fail(ROTATE_PROG, rc);
}

static void
usage(FILE *fp)
{
	size_t i;

	fputs("Usage: hsmadm-rotate COMMAND [OPTIONS]   (COMMAND --help for its options)\n"
	      "A master-key rotation on a domain group.\n\nCommands:\n", fp);
	for (i = 0; i < NCMDS; i++)
		fprintf(fp, "  %-12s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\nExit codes: see hsmadm-rotate(1) and docs/exit-codes.md.\n", fp);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (secure_init() != HSM_OK)
		return cmd_fail(ROTATE_PROG, HSM_ERR_NOMEM);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		cmd_print_version(ROTATE_PROG);
		return 0;
	}
	/* --json anywhere on the line: the subcommand's own parser takes it after
	 * its name (argv has room: the flag was taken out of it) */
	if (cmd_take_flag(&argc, argv, "--json")) {
		argv[argc++] = "--json";
		argv[argc] = NULL;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			optind = 1;
			return cmds[i].run(argc - 1, argv + 1);
		}
	return cmd_usage_error(ROTATE_PROG, "unknown command \"%s\" (see --help)", argv[1]);
}
