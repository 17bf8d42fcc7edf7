/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hsmadm-ceremony - the facilitator's command: open a ceremony's evidence
 * log, keep its roster, begin and end steps, record witness
 * acknowledgements and exceptions, and show what has been recorded. The
 * record keeping is in fac_*.c; this file parses options and prints.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/pcsc.h"
#include "hsmadm/secbuf.h"
#include "cmdutil.h"
#include "fac.h"
#include "fac_run.h"

#define PROG "hsmadm-ceremony"

static const char usage_text[] =
"Usage: hsmadm-ceremony COMMAND --log FILE [OPTIONS]\n"
"The facilitator's record of a key ceremony, in its evidence log.\n"
"\n"
"Commands:\n"
"  open --title T --installation ID [--site S]\n"
"                            start a new evidence log (ceremony.open)\n"
"  roster add --role ROLE --name NAME (--card [--reader R] | --cert FILE)\n"
"                            put a person on the roster; ROLE is admin,\n"
"                            custodian, supervisor, witness or facilitator;\n"
"                            with --card the key, card id and holder come\n"
"                            from the person's card (no PIN is asked)\n"
"  step begin --step ID [--title T]\n"
"  step end --step ID [--result ok|failed|skipped]\n"
"  witness --name N --statement TEXT\n"
"                            a witness on the roster acknowledges what they saw\n"
"  exception --text TEXT [--reason R] [--resolution R]\n"
"                            something did not go to plan\n"
"  show                      what has been recorded: roster, steps, open steps\n"
"  print SCRIPT --plan FILE [--html OUT] [--json]\n"
"                            the script for paper (Markdown, or HTML into OUT):\n"
"                            every step, checkboxes, signature lines, and the PINs\n"
"                            and card insertions it asks of each person\n"
"  run SCRIPT --plan FILE --log LOG [--dry-run] [--rehearsal ANSWERS]\n"
"                            run the ceremony step by step, recording each step,\n"
"                            the witnesses' acknowledgements and any exception\n"
"  resume SCRIPT --plan FILE --log LOG [--dry-run] [--rehearsal ANSWERS]\n"
"                            after an interruption: from the first unfinished step\n"
"  check-plan LOG --plan FILE  what the log did not fulfil of the plan\n"
"\n"
"Options:\n"
"  --log FILE                the evidence log (required)\n"
"  --card                    roster add: read the person's card\n"
"  --reader NAME             the card's reader (default: the only reader with a card)\n"
"  --cert FILE               roster add: the person's PEM signing certificate\n"
"  --key-file FILE           roster add: a PEM key file (tests and rehearsals)\n"
"  --facilitator NAME        who writes the record (default: facilitator)\n"
"  --json                    print the result as JSON\n"
"  --plan FILE               the ceremony plan (docs/formats/ceremony-plan.md)\n"
"  --dry-run                 say all that would happen; do nothing\n"
"  --rehearsal ANSWERS       PINs and answers from that file; every card must be\n"
"                            virtual (hsmadm-vcard)\n"
"  --help, --version\n"
"\n"
"Exit codes: 0 recorded, 2 usage, 3 malformed file, 4 card certificate does not\n"
"verify, 5 log or person missing / already there, 6 not allowed now (step state,\n"
"completed log), 10 no smart card service, 11 wrong or uninitialized card,\n"
"28 log locked by another writer, 30 log chain broken; run and resume exit with\n"
"the exit code of a command that failed; see hsmadm-ceremony(1).\n";

enum { O_LOG = 256, O_TITLE, O_INSTALL, O_SITE, O_ROLE, O_NAME, O_CARD, O_READER,
       O_CERT, O_KEYFILE, O_STEP, O_RESULT, O_STATEMENT, O_TEXT, O_REASON,
       O_RESOLUTION, O_FACIL, O_JSON, O_PLAN, O_SCRIPT, O_HTML, O_DRYRUN, O_REHEARSAL,
       O_HELP, O_VERSION };

#define BIT(o) (1u << ((o) - O_LOG))

struct opts {
	const char *log, *title, *installation, *site, *role, *name, *reader, *cert,
	           *key_file, *step, *result, *statement, *text, *reason, *resolution;
	const char *plan, *script, *html, *rehearsal;
	int dry_run;
	const char *cmd, *sub;
	int card, json;
	unsigned given;
	struct fac_who who;
};

static const struct option lo[] = {
	{ "log", required_argument, NULL, O_LOG },
	{ "title", required_argument, NULL, O_TITLE },
	{ "installation", required_argument, NULL, O_INSTALL },
	{ "site", required_argument, NULL, O_SITE },
	{ "role", required_argument, NULL, O_ROLE },
	{ "name", required_argument, NULL, O_NAME },
	{ "card", no_argument, NULL, O_CARD },
	{ "reader", required_argument, NULL, O_READER },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key-file", required_argument, NULL, O_KEYFILE },
	{ "step", required_argument, NULL, O_STEP },
	{ "result", required_argument, NULL, O_RESULT },
	{ "statement", required_argument, NULL, O_STATEMENT },
	{ "text", required_argument, NULL, O_TEXT },
	{ "reason", required_argument, NULL, O_REASON },
	{ "resolution", required_argument, NULL, O_RESOLUTION },
	{ "facilitator", required_argument, NULL, O_FACIL },
	{ "json", no_argument, NULL, O_JSON },
	{ "plan", required_argument, NULL, O_PLAN },
	{ "script", required_argument, NULL, O_SCRIPT },
	{ "html", required_argument, NULL, O_HTML },
	{ "dry-run", no_argument, NULL, O_DRYRUN },
	{ "rehearsal", required_argument, NULL, O_REHEARSAL },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	int c, npos;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c >= O_LOG && c <= O_VERSION)
			o->given |= BIT(c);
		switch (c) {
		case O_LOG: o->log = optarg; break;
		case O_TITLE: o->title = optarg; break;
		case O_INSTALL: o->installation = optarg; break;
		case O_SITE: o->site = optarg; break;
		case O_ROLE: o->role = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_CARD: o->card = 1; break;
		case O_READER: o->reader = optarg; break;
		case O_CERT: o->cert = optarg; break;
		case O_KEYFILE: o->key_file = optarg; break;
		case O_STEP: o->step = optarg; break;
		case O_RESULT: o->result = optarg; break;
		case O_STATEMENT: o->statement = optarg; break;
		case O_TEXT: o->text = optarg; break;
		case O_REASON: o->reason = optarg; break;
		case O_RESOLUTION: o->resolution = optarg; break;
		case O_FACIL: o->who.facilitator = optarg; break;
		case O_JSON: o->json = 1; break;
		case O_PLAN: o->plan = optarg; break;
		case O_SCRIPT: o->script = optarg; break;
		case O_HTML: o->html = optarg; break;
		case O_DRYRUN: o->dry_run = 1; break;
		case O_REHEARSAL: o->rehearsal = optarg; break;
		case O_HELP: fputs(usage_text, stdout); return -1;
		case O_VERSION: cmd_print_version(PROG); return -1;
		default:
			return cmd_usage_error(PROG, "unknown or incomplete option '%s'",
			                       argv[optind - 1]);
		}
	}
	npos = argc - optind;
	if (npos < 1)
		return cmd_usage_error(PROG, "no command given (open, roster add, step begin, "
		                       "step end, witness, exception, show)");
	o->cmd = argv[optind];
	if (fac_cli_takes_file(o->cmd)) {
		if (npos < 2)
			return cmd_usage_error(PROG, "'%s' needs a file (%s)", o->cmd,
			                       strcmp(o->cmd, "check-plan") == 0 ? "the log" : "the script");
		o->sub = argv[optind + 1];
		npos--;
	} else if (strcmp(o->cmd, "roster") == 0 || strcmp(o->cmd, "step") == 0) {
		if (npos < 2)
			return cmd_usage_error(PROG, "'%s' needs a subcommand (%s)", o->cmd,
			                       strcmp(o->cmd, "roster") == 0 ? "add" : "begin or end");
		o->sub = argv[optind + 1];
		npos--;
	}
	if (npos > 1)
		return cmd_usage_error(PROG, "unexpected argument '%s'", argv[argc - 1]);
	return 0;
}

/* Each command takes only its own options, so a mistyped command line is
 * not silently recorded as something else. */
/* A usage error found after parsing: printed here, exit code 2. */
static int usage_printed;

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	usage_printed = 1;
	return cmd_usage_error(PROG, "%s", msg);
}

static int
check_allowed(const struct opts *o, unsigned allowed)
{
	unsigned extra = o->given & ~(allowed | BIT(O_LOG) | BIT(O_JSON) | BIT(O_FACIL));
	const struct option *p;

	if (extra == 0)
		return 0;
	for (p = lo; p->name != NULL; p++)
		if (extra & BIT(p->val))
			break;
	return usage_error("--%s does not go with '%s%s%s'", p->name != NULL ?
	                       p->name : "?", o->cmd, o->sub ? " " : "", o->sub ? o->sub : "");
}

static void
print_recorded(const json_t *r)
{
	printf("Recorded %s as seq %lld in %s.\n",
	       json_string_value(json_object_get(r, "type")),
	       (long long)json_integer_value(json_object_get(r, "seq")),
	       json_string_value(json_object_get(r, "log")));
}

static hsm_rc
run(struct opts *o, json_t **res)
{
	struct fac_member_src src;

	if (strcmp(o->cmd, "open") == 0) {
		if (check_allowed(o, BIT(O_TITLE) | BIT(O_INSTALL) | BIT(O_SITE) | BIT(O_PLAN) |
		                     BIT(O_SCRIPT)))
			return HSM_ERR_USAGE;
		return fac_cli_open(o->log, o->title, o->installation, o->site, o->script,
		                    o->plan, &o->who, res);
	}
	if (strcmp(o->cmd, "roster") == 0) {
		if (strcmp(o->sub, "add") != 0) {
			usage_error("unknown roster command '%s' (there is: add)", o->sub);
			return HSM_ERR_USAGE;
		}
		if (check_allowed(o, BIT(O_ROLE) | BIT(O_NAME) | BIT(O_CARD) | BIT(O_READER) |
		                     BIT(O_CERT) | BIT(O_KEYFILE)))
			return HSM_ERR_USAGE;
		if (o->reader != NULL && !o->card) {
			usage_error("--reader goes with --card");
			return HSM_ERR_USAGE;
		}
		memset(&src, 0, sizeof(src));
		src.card = o->card;
		src.reader = o->reader;
		src.cert_file = o->cert;
		src.key_file = o->key_file;
		return fac_roster_add(o->log, o->role, o->name, &src, &o->who, res);
	}
	if (strcmp(o->cmd, "step") == 0) {
		int begin = strcmp(o->sub, "begin") == 0;
		if (!begin && strcmp(o->sub, "end") != 0) {
			usage_error("unknown step command '%s' (there are: begin, end)",
			                o->sub);
			return HSM_ERR_USAGE;
		}
		if (check_allowed(o, BIT(O_STEP) | (begin ? BIT(O_TITLE) : BIT(O_RESULT))))
			return HSM_ERR_USAGE;
		return fac_step(o->log, begin, o->step, o->title, o->result, &o->who, res);
	}
	if (strcmp(o->cmd, "witness") == 0) {
		if (check_allowed(o, BIT(O_NAME) | BIT(O_STATEMENT)))
			return HSM_ERR_USAGE;
		return fac_witness(o->log, o->name, o->statement, res);
	}
	if (strcmp(o->cmd, "exception") == 0) {
		if (check_allowed(o, BIT(O_TEXT) | BIT(O_REASON) | BIT(O_RESOLUTION)))
			return HSM_ERR_USAGE;
		return fac_exception(o->log, o->text, o->reason, o->resolution, &o->who, res);
	}
	if (fac_cli_takes_file(o->cmd)) {
		struct fac_runopts ro = { o->sub, o->plan, o->log, o->html, o->rehearsal,
		                          o->dry_run, strcmp(o->cmd, "resume") == 0, o->json, o->who };
		unsigned allowed = strcmp(o->cmd, "print") == 0 ? BIT(O_PLAN) | BIT(O_HTML) :
		    strcmp(o->cmd, "check-plan") == 0 ? BIT(O_PLAN) :
		    BIT(O_PLAN) | BIT(O_DRYRUN) | BIT(O_REHEARSAL);
		if (check_allowed(o, allowed))
			return HSM_ERR_USAGE;
		return fac_cli(o->cmd, &ro, res);
	}
	if (strcmp(o->cmd, "show") == 0) {
		if (check_allowed(o, 0))
			return HSM_ERR_USAGE;
		if (o->log == NULL)
			return hsm_fail(HSM_ERR_USAGE, "no evidence log given (--log FILE)");
		return fac_scan(o->log, res);
	}
	usage_error("unknown command '%s' (open, roster add, step begin, step end, "
	                "witness, exception, show)", o->cmd);
	return HSM_ERR_USAGE;
}

int
main(int argc, char **argv)
{
	struct opts o;
	json_t *res = NULL;
	hsm_rc rc;
	int r;

	if ((r = parse_args(argc, argv, &o)) != 0)
		return r < 0 ? 0 : r;
	/* No secret passes through this command, but card readers and logs are
	 * handled the same way as in the commands that do. */
	if ((rc = secure_init()) != HSM_OK)
		return cmd_fail(PROG, rc);
	if (o.who.facilitator != NULL && (o.who.facilitator[0] == '\0' ||
	    strlen(o.who.facilitator) > FAC_TITLE_MAX))
		return usage_error("--facilitator needs a name of 1 to %d bytes",
		                       FAC_TITLE_MAX);
	if ((rc = run(&o, &res)) != HSM_OK) {
		/* check-plan --json: what is missing, for a script, besides exit 4 */
		if (res != NULL && o.json && strcmp(o.cmd, "check-plan") == 0)
			(void)cmd_print_json(res);
		json_decref(res);
		/* Usage errors from option checks were printed already. */
		if (usage_printed)
			return hsm_exit_code(HSM_ERR_USAGE);
		/* run/resume stopped by a command: its exit code, after the why */
		r = cmd_fail(PROG, rc);
		return fac_cli_cmd_exit() != 0 ? fac_cli_cmd_exit() : r;
	}
	if (fac_cli_takes_file(o.cmd))
		rc = fac_cli_print(o.cmd, res, o.json);
	else if (o.json)
		rc = cmd_print_json(res);
	else if (strcmp(o.cmd, "show") == 0)
		fac_print_show(stdout, res);
	else {
		print_recorded(res);
		if (strcmp(o.cmd, "open") == 0)
			printf("Log id %s. Next: put people on the roster with "
			       "hsmadm-ceremony roster add.\n",
			       json_string_value(json_object_get(res, "log_id")));
		else if (strcmp(o.cmd, "roster") == 0) {
			json_t *m = json_object_get(res, "member");
			const char *ski = json_string_value(json_object_get(m, "ski"));
			printf("%s is on the roster as %s", json_string_value(json_object_get(m,
			       "name")), json_string_value(json_object_get(m, "role")));
			if (ski != NULL)
				printf(" (key %.16s...)", ski);
			printf(".\n");
		}
	}
	json_decref(res);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}
