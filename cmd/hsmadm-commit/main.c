/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hsmadm-commit - custodians and administrators: load the key parts (n-of-n)
 * into the pending register of every domain of a group, commit the new
 * master key under the signature threshold, activate it, and record the
 * module-reported MKVPs in the evidence log. The work is in
 * ops/keypart_load.c; this file finds cards, signers and the log, and prints.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/cardsigner.h"
#include "hsmadm/codec.h"
#include "hsmadm/recover.h"
#include "hsmadm/keypart_load.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/signers.h"
#include "hsmadm/submit.h"
#include "hsmadm/wsconfig.h"
#include "cer.h"
#include "cer_run.h"
#include "cmdutil.h"

#define PROG "hsmadm-commit"

static const char usage_text[] =
"Usage: hsmadm-commit COMMAND --group NAME --part ID --part ID... --log FILE [OPTIONS]\n"
"Load a new master key into every domain of a group, commit and activate it.\n"
"\n"
"Commands (each continues from the register states it finds, so any of them\n"
"can simply be run again after an interruption):\n"
"  status     what is loaded where, and the next step (changes nothing)\n"
"  load       the quorum approves the parts by KPVP (one PIN each), then\n"
"             every part goes into PENDING (one custodian card per part);\n"
"             show each domain's MKVP\n"
"  commit     commit PENDING (signature threshold of administrators);\n"
"             with --activate also make it CURRENT: one decision, so each\n"
"             administrator types one PIN for both\n"
"  activate   make the committed key CURRENT (one administrator signature)\n"
"  run        load, commit and activate\n"
"  baseline --receipts FILE --log FILE\n"
"             record the domains' last module receipts (a JSON report of\n"
"             'hsmadm-domain --json submit/run', or a receipt, or a list of\n"
"             them) as the starting state of this log, so that the audit can\n"
"             replay quorums for domains set up before it\n"
"\n"
"Options:\n"
"  --group NAME           the domain group (hsmadm-domain group create)\n"
"  --part ID              a key part, in load order; give every part (2..20)\n"
"  --log FILE             the evidence log holding the parts' records (from\n"
"                         hsmadm-mkpart generate); every step is recorded in it\n"
"  --home DIR             workstation configuration (default $HSMADM_HOME or\n"
"                         ~/.config/hsmadm)\n"
"  --reader NAME          the reader custodians insert their cards into\n"
"                         (default: wait for the card that holds the part)\n"
"  --pin-fd N             custodian PINs from descriptor N, one line per use\n"
"  --admin-reader NAME    an administrator card to sign with (repeatable; used\n"
"                         in turn until each command has its signatures);\n"
"                         without it and --admin-key-file, the command waits\n"
"                         for administrator cards one after another\n"
"  --admin-pin-fd N       administrator PINs from descriptor N\n"
"  --admin-key-file FILE  rehearsals and tests: an administrator key file\n"
"                         (repeatable)\n"
"  --timeout SEC          how long to wait for a card (default 300)\n"
"  --module-timeout-ms N  module connection timeout (default 10000)\n"
"  --json                 print the result as JSON\n"
"  --help, --version\n"
"\n"
"Exit codes: 0 done, 2 usage, 4 a pattern differs (stop), 5 part not recorded,\n"
"6 wrong register state, 11 wrong card, 14 wrong PIN, 23 refused by a module,\n"
"24 not enough signatures, 27 group left partly applied (run again); see\n"
"hsmadm-commit(1) and docs/exit-codes.md.\n";

struct opts {
	struct cer_runopts r;
	const char *cmd, *receipts;
	int activate;
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_RECEIPTS = CER_O_END, O_ACTIVATE, O_HELP, O_VERSION };
	static const struct option lo[] = {
		CER_RUN_LONGOPTS,
		{ "receipts", required_argument, NULL, O_RECEIPTS },
		{ "activate", no_argument, NULL, O_ACTIVATE },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	int c, t;

	memset(o, 0, sizeof(*o));
	cer_runopts_init(&o->r, PROG);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if ((t = cer_runopts_take(&o->r, c, optarg)) != 0) {
			if (t < 0)
				return -t;
			continue;
		}
		switch (c) {
		case O_RECEIPTS: o->receipts = optarg; break;
		case O_ACTIVATE: o->activate = 1; break;
		case O_HELP: fputs(usage_text, stdout); return -1;
		case O_VERSION: cmd_print_version(PROG); return -1;
		default:
			return cmd_usage_error(PROG, "unknown or incomplete option '%s'",
			                       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(PROG, "say what to do: status, load, commit, activate or run");
	o->cmd = argv[optind++];
	if (optind < argc)
		return cmd_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
	if (strcmp(o->cmd, "status") != 0 && strcmp(o->cmd, "load") != 0 &&
	    strcmp(o->cmd, "commit") != 0 && strcmp(o->cmd, "activate") != 0 &&
	    strcmp(o->cmd, "run") != 0 && strcmp(o->cmd, "baseline") != 0)
		return cmd_usage_error(PROG, "unknown command '%s'", o->cmd);
	if (o->activate && strcmp(o->cmd, "commit") != 0)
		return cmd_usage_error(PROG, "--activate is for commit only");
	if (strcmp(o->cmd, "baseline") == 0) {
		if (o->receipts == NULL || o->r.log == NULL)
			return cmd_usage_error(PROG, "baseline needs --receipts FILE and --log FILE");
		return 0;
	}
	return cer_runopts_check(&o->r, MKLOAD_MIN_PARTS);
}

/* ---- the run ---- */

static unsigned
stages_of(const char *cmd, int activate)
{
	if (strcmp(cmd, "load") == 0)
		return MKLOAD_LOAD;
	if (strcmp(cmd, "commit") == 0)
		return activate ? MKLOAD_COMMIT | MKLOAD_ACTIVATE : MKLOAD_COMMIT;
	if (strcmp(cmd, "activate") == 0)
		return MKLOAD_ACTIVATE;
	return MKLOAD_ALL;
}


/* load / commit / activate / run: first the receipts an earlier run lost
 * (so the log has no counter gap), then the stages asked for. */
static hsm_rc
run_stages(struct cer_run *x, const char *cmd, int activate, json_t **rep)
{
	struct mkload_io io;
	hsm_rc rc;

	if ((rc = cer_run_prepare(x)) != HSM_OK)
		return rc;
	cer_run_mkio(x, &io);
	return mkload_run(x->m, x->n, x->o->group, x->parts, x->o->nparts, stages_of(cmd, activate),
	                  x->have_known ? x->known : NULL, &io, rep);
}

/* ---- output ---- */

static void
print_report(const json_t *rep)
{
	const json_t *e;
	const char *mk = json_string_value(json_object_get(rep, "mkvp"));
	size_t i;

	printf("Group %s:\n", json_string_value(json_object_get(rep, "group")));
	json_array_foreach(json_object_get(rep, "members"), i, e) {
		const char *pm = json_string_value(json_object_get(e, "pending_mkvp"));
		const char *cm = json_string_value(json_object_get(e, "current_mkvp"));
		const json_t *pl = json_object_get(e, "parts_loaded");
		uint8_t vp[HSM_VP_LEN];
		char t[HSM_VP_TEXT_LEN] = "-", c[HSM_VP_TEXT_LEN] = "-";

		if (pm != NULL && hex_decode_into(pm, vp, HSM_VP_LEN) == HSM_OK)
			vp_format(vp, t);
		if (cm != NULL && hex_decode_into(cm, vp, HSM_VP_LEN) == HSM_OK)
			vp_format(vp, c);
		printf("  %s domain %lld: pending %s (%zu part%s loaded), pending MKVP %s, "
		       "current MKVP %s\n",
		       json_string_value(json_object_get(e, "module")),
		       (long long)json_integer_value(json_object_get(e, "domain")),
		       json_string_value(json_object_get(e, "pending")), json_array_size(pl),
		       json_array_size(pl) == 1 ? "" : "s", t, c);
	}
	if (mk != NULL) {
		uint8_t vp[HSM_VP_LEN];
		char t[HSM_VP_TEXT_LEN];

		if (hex_decode_into(mk, vp, HSM_VP_LEN) == HSM_OK) {
			vp_format(vp, t);
			printf("New master key MKVP (as the modules report it): %s\n", t);
		}
	}
	if (json_is_string(json_object_get(rep, "next"))) {
		const char *nx = json_string_value(json_object_get(rep, "next"));

		if (strcmp(nx, "none") == 0 && mk != NULL)
			printf("Done: the new master key is active in every domain of the group.\n");
		else if (strcmp(nx, "none") == 0)
			printf("Nothing to load: no pending key in the group.\n");
		else
			printf("Next step: hsmadm-commit %s (same options).\n", nx);
	}
}

/* ---- baseline ---- */

/* Receipts from a report ({"members":[{"receipt"}]}), one receipt, or a list
 * of either, into arr. */
static void
collect_receipts(const json_t *v, json_t *arr)
{
	const json_t *e;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			collect_receipts(e, arr);
	} else if (json_is_object(v)) {
		if (json_object_get(v, "oa_cert") != NULL && json_object_get(v, "signature") != NULL)
			json_array_append(arr, (json_t *)v);
		else if (json_is_array(json_object_get(v, "members"))) {
			json_array_foreach(json_object_get(v, "members"), i, e)
				if (json_is_object(json_object_get(e, "receipt")))
					json_array_append(arr, json_object_get(e, "receipt"));
		} else if (json_is_object(json_object_get(v, "receipt")))
			json_array_append(arr, json_object_get(v, "receipt"));
	}
}

static hsm_rc
do_baseline(const struct opts *o)
{
	json_t *doc = NULL, *arr = json_array(), *r;
	ev_actor who = { PROG, "system", NULL, NULL };
	json_error_t je;
	evlog *log = NULL;
	size_t i;
	hsm_rc rc = HSM_OK;

	if (arr == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((doc = json_load_file(o->receipts, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "%s: %s (line %d)", o->receipts, je.text, je.line);
		goto out;
	}
	collect_receipts(doc, arr);
	if (json_array_size(arr) == 0) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "%s holds no module receipt", o->receipts);
		goto out;
	}
	if ((rc = cer_log_open(o->r.log, &log)) != HSM_OK)
		goto out;
	json_array_foreach(arr, i, r) {
		long long seq = 0;

		if ((rc = evrec_domain_baseline(log, &who, r, &seq)) != HSM_OK)
			goto out;
		if (!o->r.json)
			printf("Recorded the receipt of %s domain %lld as baseline (record %lld).\n",
			       json_string_value(json_object_get(json_object_get(r, "body"), "module")),
			       (long long)json_integer_value(json_object_get(json_object_get(r, "body"),
			       "domain")), seq);
	}
	if (o->r.json) {
		json_t *j = json_pack("{s:I}", "baselines", (json_int_t)json_array_size(arr));
		cmd_print_json(j);
		json_decref(j);
	}
out:
	evlog_close(&log);
	json_decref(doc);
	json_decref(arr);
	return rc;
}

/* ---- main ---- */

static void
print_result(const struct opts *o, json_t *rep, hsm_rc rc)
{
	if (rep == NULL)
		return;
	if (!o->r.json) {
		print_report(rep);
		return;
	}
	if (rc != HSM_OK)
		json_object_set_new(rep, "error", json_pack("{s:s, s:i}", "message",
		    hsm_errmsg(), "exit", hsm_exit_code(rc)));
	cmd_print_json(rep);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct cer_run x;
	json_t *rep = NULL;
	int r, ret = 0;
	hsm_rc rc;

	if ((r = parse_args(argc, argv, &o)) != 0)
		return r < 0 ? 0 : r;
	if ((rc = secure_init()) != HSM_OK)
		return cmd_fail(PROG, rc);
	/* A module that dies mid-write must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(o.cmd, "baseline") == 0)
		return (rc = do_baseline(&o)) == HSM_OK ? 0 : cmd_fail(PROG, rc);
	memset(&x, 0, sizeof(x));
	if ((rc = cer_run_open(&x, &o.r, strcmp(o.cmd, "status") == 0)) == HSM_OK) {
		if (strcmp(o.cmd, "status") == 0)
			rc = mkload_status(x.m, x.n, o.r.group, x.parts, o.r.nparts,
			                   x.have_known ? x.known : NULL, &rep);
		else
			rc = run_stages(&x, o.cmd, o.activate, &rep);
		print_result(&o, rep, rc);
	}
	if (rc != HSM_OK)
		ret = cmd_fail(PROG, rc);
	json_decref(rep);
	cer_run_close(&x);
	return ret;
}
