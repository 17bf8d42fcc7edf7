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
"  show FILE                             summary, digest and signatures\n"
"  submit FILE [--group G] [--roll-forward]\n"
"\n"
"Options: --valid-for SECONDS (default 86400), --help, --version.\n"
"Exit codes: docs/exit-codes.md (0 ok, 2 usage, 23 refused, 24 not enough\n"
"signatures, 25 replay, 26 expired, 27 group left divergent, ...).\n"
"See hsmadm-domain(1).\n");
}

int
main(int argc, char **argv)
{
	struct gopts g = { NULL, 0, 10000 };
	int i;
	hsm_rc rc;

	if ((rc = secure_init()) != HSM_OK)
		return cmd_fail(PROG, rc);
	/* A module that dies while we write must give an error, not kill us
	 * half-way through a group report. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			cmd_print_version(PROG);
			return 0;
		} else if (strcmp(argv[i], "--json") == 0) {
			g.json = 1;
		} else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
			g.home = argv[++i];
		} else if (strncmp(argv[i], "--home=", 7) == 0) {
			g.home = argv[i] + 7;
		} else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end != '\0' || v < 100 || v > 600000)
				return cmd_usage_error(PROG, "--timeout-ms must be 100..600000");
			g.timeout_ms = (int)v;
		} else if (argv[i][0] == '-') {
			return cmd_usage_error(PROG, "unknown option %s before the command", argv[i]);
		} else
			break;
	}
	if (i >= argc)
		return cmd_usage_error(PROG, "no command given");
	argc -= i;
	argv += i;
	if (strcmp(argv[0], "client") == 0)
		return cmd_client(&g, argc, argv);
	if (strcmp(argv[0], "module") == 0)
		return cmd_module(&g, argc, argv);
	if (strcmp(argv[0], "group") == 0)
		return cmd_group(&g, argc, argv);
	if (strcmp(argv[0], "admin") == 0)
		return cmd_admin(&g, argc, argv);
	if (strcmp(argv[0], "thresholds") == 0)
		return cmd_thresholds(&g, argc, argv);
	if (strcmp(argv[0], "zeroize") == 0)
		return cmd_zeroize(&g, argc, argv);
	if (strcmp(argv[0], "propose") == 0)
		return cmd_propose(&g, argc, argv);
	if (strcmp(argv[0], "run") == 0)
		return cmd_run(&g, argc, argv);
	if (strcmp(argv[0], "sign") == 0)
		return cmd_sign(&g, argc, argv);
	if (strcmp(argv[0], "submit") == 0)
		return cmd_submit(&g, argc, argv);
	if (strcmp(argv[0], "show") == 0)
		return cmd_show(&g, argc, argv);
	return cmd_usage_error(PROG, "unknown command \"%s\"", argv[0]);
}
