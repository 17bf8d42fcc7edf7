/* SPDX-License-Identifier: BSD-2-Clause */
/* hsmadm-domain - administer crypto-module domains and domain groups:
 * trusted modules, groups, admins, thresholds, zeroize, and the signed
 * command flow (propose -> sign -> submit, or run). main() only dispatches. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "domain.h"
#include "hsmadm/secbuf.h"

void
usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [--home DIR] [--json] [--timeout-ms N] COMMAND ...\n"
"\n"
"Workstation and trust:\n"
"  client set --cert FILE --key FILE     this workstation's TLS client certificate\n"
"  module add NAME HOST:PORT --ca FILE [--yes | --confirm-fd N]\n"
"  module list | module show NAME\n"
"Domain groups:\n"
"  group create NAME MODULE:DOMAIN...    group list | show | compare | status NAME\n"
"  group heal NAME    complete a group left partly applied, from the command\n"
"                     the members that applied it keep (no file needed)\n"
"  admin list GROUP\n"
"Signed commands (with --out FILE: write a proposal; without: run now,\n"
"signing with --key-file (tests) or --card until the quorum is met):\n"
"  admin add GROUP --pubkey-file PEM --name NAME --identity ID\n"
"  admin remove GROUP --ski HEX\n"
"  thresholds set GROUP --signature N --revocation N\n"
"  zeroize GROUP\n"
"  propose GROUP OP [--params JSON] --out FILE   any operation\n"
"  run GROUP OP [op options]             ask for the cards still needed, then submit\n"
"  sign FILE (--card [--reader R] | --key-file KEY) [--pin-fd N]\n"
"  show FILE [--group G]                 summary, digest, signers checked\n"
"  submit FILE [--group G] [--roll-forward]\n"
"  run, submit, admin, thresholds, zeroize: --evidence LOG records the command,\n"
"  its signatures and the module receipts in that evidence log\n"
"\n"
"Options: --valid-for SECONDS (default 86400, at most 604800: 7 days),\n"
"         --help, --version.\n"
"Exit codes: docs/exit-codes.md (0 ok, 2 usage, 23 refused, 24 not enough\n"
"signatures, 25 replay, 26 expired, 27 group left divergent, ...).\n"
"See hsmadm-domain(1).\n");
}

/* The options before the command word. Returns 0 to go on (*next = index
 * of the command word), or exit status + 1 to stop with it. */
static int
parse_global(int argc, char **argv, struct gopts *g, int *next)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(argv[i], "--version") == 0) {
			cmd_print_version(PROG);
			return 1;
		} else if (strcmp(argv[i], "--json") == 0) {
			g->json = 1;
		} else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
			g->home = argv[++i];
		} else if (strncmp(argv[i], "--home=", 7) == 0) {
			g->home = argv[i] + 7;
		} else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
			if (cmd_parse_int(argv[++i], 100, 600000, &g->timeout_ms) != 0)
				return cmd_usage_error(PROG, "--timeout-ms must be 100..600000") + 1;
		} else if (argv[i][0] == '-') {
			return cmd_usage_error(PROG, "unknown option %s before the command",
			    argv[i]) + 1;
		} else
			break;
	}
	if (i >= argc)
		return cmd_usage_error(PROG, "no command given") + 1;
	*next = i;
	return 0;
}

static const struct {
	const char *word;
	int (*fn)(const struct gopts *g, int argc, char **argv);
} commands[] = {
	{ "client", cmd_client }, { "module", cmd_module }, { "group", cmd_group },
	{ "admin", cmd_admin }, { "thresholds", cmd_thresholds }, { "zeroize", cmd_zeroize },
	{ "propose", cmd_propose }, { "run", cmd_run }, { "sign", cmd_sign },
	{ "submit", cmd_submit }, { "show", cmd_show },
};

int
main(int argc, char **argv)
{
	struct gopts g = { NULL, 0, 10000 };
	int i = 0, r;
	hsm_rc rc;

	if ((rc = secure_init()) != HSM_OK)
		return cmd_fail(PROG, rc);
	/* A module that dies while we write must give an error, not kill us
	 * half-way through a group report. */
	signal(SIGPIPE, SIG_IGN);
	g.json = cmd_take_flag(&argc, argv, "--json");   /* anywhere on the line */
	if (cmd_take_flag(&argc, argv, "--help")) {        /* so is --help */
		usage(stdout);
		return 0;
	}
	if ((r = parse_global(argc, argv, &g, &i)) != 0)
		return r - 1;
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].word) == 0)
			return commands[k].fn(&g, argc - i, argv + i);
	return cmd_usage_error(PROG, "unknown command \"%s\"", argv[i]);
}
