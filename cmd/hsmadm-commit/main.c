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
#include "cer_logscan.h"
#include "cmdutil.h"

#define PROG "hsmadm-commit"
#define MAX_KEYS 16

static const char usage_text[] =
"Usage: hsmadm-commit COMMAND --group NAME --part ID --part ID... --log FILE [OPTIONS]\n"
"Load a new master key into every domain of a group, commit and activate it.\n"
"\n"
"Commands (each continues from the register states it finds, so any of them\n"
"can simply be run again after an interruption):\n"
"  status     what is loaded where, and the next step (changes nothing)\n"
"  load       load every part into PENDING (one custodian card and one\n"
"             administrator signature per part); show each domain's MKVP\n"
"  commit     commit PENDING (signature threshold of administrators)\n"
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
	const char *cmd, *group, *log, *home, *reader, *receipts;
	const char *parts[MKLOAD_MAX_PARTS + 1];
	size_t nparts;
	const char *admin_readers[MAX_KEYS], *key_files[MAX_KEYS];
	size_t nadmin_readers, nkeys;
	int pin_fd, admin_pin_fd, json, timeout_s, module_timeout_ms;
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_GROUP = 256, O_RECEIPTS, O_PART, O_LOG, O_HOME, O_READER, O_PIN_FD, O_AREADER,
	       O_APIN_FD, O_KEY, O_TIMEOUT, O_MTIMEOUT, O_JSON, O_HELP, O_VERSION };
	static const struct option lo[] = {
		{ "group", required_argument, NULL, O_GROUP },
		{ "part", required_argument, NULL, O_PART },
		{ "receipts", required_argument, NULL, O_RECEIPTS },
		{ "log", required_argument, NULL, O_LOG },
		{ "home", required_argument, NULL, O_HOME },
		{ "reader", required_argument, NULL, O_READER },
		{ "pin-fd", required_argument, NULL, O_PIN_FD },
		{ "admin-reader", required_argument, NULL, O_AREADER },
		{ "admin-pin-fd", required_argument, NULL, O_APIN_FD },
		{ "admin-key-file", required_argument, NULL, O_KEY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "module-timeout-ms", required_argument, NULL, O_MTIMEOUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->pin_fd = o->admin_pin_fd = -1;
	o->timeout_s = 300;
	o->module_timeout_ms = 10000;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_GROUP: o->group = optarg; break;
		case O_RECEIPTS: o->receipts = optarg; break;
		case O_PART:
			if (o->nparts >= MKLOAD_MAX_PARTS)
				return cmd_usage_error(PROG, "at most %d parts", MKLOAD_MAX_PARTS);
			o->parts[o->nparts++] = optarg;
			break;
		case O_LOG: o->log = optarg; break;
		case O_HOME: o->home = optarg; break;
		case O_READER: o->reader = optarg; break;
		case O_PIN_FD:
			if ((c = cmd_parse_fd(PROG, "--pin-fd", optarg, &o->pin_fd)) != 0)
				return c;
			break;
		case O_APIN_FD:
			if ((c = cmd_parse_fd(PROG, "--admin-pin-fd", optarg, &o->admin_pin_fd)) != 0)
				return c;
			break;
		case O_AREADER:
			if (o->nadmin_readers >= MAX_KEYS)
				return cmd_usage_error(PROG, "at most %d --admin-reader", MAX_KEYS);
			o->admin_readers[o->nadmin_readers++] = optarg;
			break;
		case O_KEY:
			if (o->nkeys >= MAX_KEYS)
				return cmd_usage_error(PROG, "at most %d --admin-key-file", MAX_KEYS);
			o->key_files[o->nkeys++] = optarg;
			break;
		case O_TIMEOUT:
			if (cmd_parse_int(optarg, 1, 86400, &o->timeout_s) != 0)
				return cmd_usage_error(PROG, "--timeout needs seconds between 1 and 86400");
			break;
		case O_MTIMEOUT:
			if (cmd_parse_int(optarg, 100, 600000, &o->module_timeout_ms) != 0)
				return cmd_usage_error(PROG, "--module-timeout-ms must be 100..600000");
			break;
		case O_JSON: o->json = 1; break;
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
	if (strcmp(o->cmd, "baseline") == 0) {
		if (o->receipts == NULL || o->log == NULL)
			return cmd_usage_error(PROG, "baseline needs --receipts FILE and --log FILE");
		return 0;
	}
	if (o->group == NULL)
		return cmd_usage_error(PROG, "give the domain group: --group NAME");
	if (o->log == NULL)
		return cmd_usage_error(PROG, "give the evidence log: --log FILE");
	if (o->nparts < MKLOAD_MIN_PARTS)
		return cmd_usage_error(PROG, "give every key part in load order: at least %d --part",
		                       MKLOAD_MIN_PARTS);
	for (size_t i = 0; i < o->nparts; i++) {
		if (!envelope_id_valid(o->parts[i]))
			return cmd_usage_error(PROG, "'%s' is not a valid part id", o->parts[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->parts[i], o->parts[j]) == 0)
				return cmd_usage_error(PROG, "part %s is given twice", o->parts[i]);
	}
	return 0;
}

/* ---- the run ---- */

static unsigned
stages_of(const char *cmd)
{
	if (strcmp(cmd, "load") == 0)
		return MKLOAD_LOAD;
	if (strcmp(cmd, "commit") == 0)
		return MKLOAD_COMMIT;
	if (strcmp(cmd, "activate") == 0)
		return MKLOAD_ACTIVATE;
	return MKLOAD_ALL;
}


struct run_ctx {
	const struct opts *o;
	pcsc_ctx          *pc;       /* custodian cards; NULL: PC/SC not running */
	cer_card          *cust;
	signers           *admins;
	struct submit_ev   ev;
	wsconfig          *cfg;
	group_member      *m;
	size_t             n;
	mkload_part        parts[MKLOAD_MAX_PARTS];
	struct cer_partrec recs[MKLOAD_MAX_PARTS];
	uint8_t            known[HSM_VP_LEN];
	int                have_known;
};

static hsm_rc
io_custodian(void *ctx, const mkload_part *p, unsigned index, const keypart_card **card)
{
	struct run_ctx *x = ctx;
	struct cer_want w = { .owner_id = p->card_id, .holds_part = p->part_id };
	char prompt[300];
	hsm_rc rc;

	if (x->pc == NULL)
		return hsm_fail(HSM_ERR_PCSC, "part %s needs its custodian card, but the smart "
		                "card service is not running; start pcscd and run again", p->part_id);
	snprintf(prompt, sizeof(prompt), "Part %u: insert the custodian card of %s "
	         "(card %.8s..., or its backup) that holds part %s.", index,
	         p->holder != NULL && p->holder[0] ? p->holder : "its custodian",
	         p->card_id != NULL ? p->card_id : "?", p->part_id);
	rc = cer_card_open(x->pc, x->o->reader, &w, prompt, x->o->timeout_s * 1000,
	                   x->o->pin_fd, 0, &x->cust);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "part %s: nothing was sent to any module", p->part_id);
	*card = &x->cust->kc;
	return HSM_OK;
}

static void
io_custodian_done(void *ctx)
{
	struct run_ctx *x = ctx;

	cer_card_free(&x->cust);
}

static void
io_say(void *ctx, const char *line)
{
	struct run_ctx *x = ctx;

	fprintf(x->o->json ? stderr : stdout, "%s\n", line);
	fflush(x->o->json ? stderr : stdout);
}

/* Administrator signers: key files, then the named readers in turn; with
 * neither, wait for administrator cards one after another. */
static hsm_rc
open_admins(struct run_ctx *x)
{
	const struct opts *o = x->o;
	struct signers_opts so = {
		.key_files = o->key_files, .nkeys = o->nkeys,
		.cards = (o->nadmin_readers > 0 || o->nkeys > 0) ? SIGNERS_CARDS_READERS
		                                                : SIGNERS_CARDS_WAIT,
		.readers = o->admin_readers, .nreaders = o->nadmin_readers,
		.pin_fd = o->admin_pin_fd, .enter_fd = -1, .timeout_ms = o->timeout_s * 1000,
	};

	return signers_new(&so, &x->admins);
}

/* The records of the parts (and of an earlier load of them), from the one
 * scan of the log this run makes. */
static hsm_rc
read_parts(struct run_ctx *x, const evscan *scan)
{
	const struct opts *o = x->o;
	hsm_rc rc;

	for (size_t i = 0; i < o->nparts; i++) {
		if ((rc = cer_scan_find_part(scan, o->log, o->parts[i], &x->recs[i])) != HSM_OK)
			return rc;
		x->parts[i].part_id = o->parts[i];
		memcpy(x->parts[i].kpvp, x->recs[i].kpvp, HSM_VP_LEN);
		x->parts[i].card_id = x->recs[i].card_id;
		x->parts[i].holder = x->recs[i].holder;
	}
	rc = cer_scan_find_loaded(scan, x->parts, o->nparts, x->known);
	if (rc == HSM_OK)
		x->have_known = 1;
	else if (rc != HSM_ERR_NOT_FOUND)
		return rc;
	hsm_err_clear();
	return HSM_OK;
}

/* Everything a run needs before it acts: the log (opened for writing first,
 * so a torn tail is repaired and recorded before anything reads it), the
 * parts' records, the group's members. status only reads. */
static hsm_rc
run_open(struct run_ctx *x)
{
	const struct opts *o = x->o;
	char *home = NULL;
	hsm_rc rc;

	x->ev.path = o->log;
	x->ev.say = io_say;
	x->ev.ctx = x;
	x->ev.system.name = PROG;
	x->ev.system.role = "system";
	if (strcmp(o->cmd, "status") == 0)
		rc = evscan_path(o->log, 0, &x->ev.scan);
	else if ((rc = cer_log_open(o->log, &x->ev.log)) == HSM_OK)
		rc = evscan_log(x->ev.log, &x->ev.scan);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "reading the evidence log %s", o->log);
	if ((rc = read_parts(x, x->ev.scan)) != HSM_OK ||
	    (rc = wsconfig_home(o->home, &home)) != HSM_OK ||
	    (rc = wsconfig_open(home, &x->cfg)) != HSM_OK)
		goto out;
	rc = wsconfig_group_open(x->cfg, o->group, o->module_timeout_ms, &x->m, &x->n);
out:
	free(home);
	return rc;
}

/* load / commit / activate / run: first the receipts an earlier run lost
 * (so the log has no counter gap), then the stages asked for. */
static hsm_rc
run_stages(struct run_ctx *x, json_t **rep)
{
	struct mkload_io io = { .ctx = x, .custodian = io_custodian,
	    .custodian_done = io_custodian_done, .say = io_say, .ev = &x->ev };
	hsm_rc rc;

	if ((rc = submit_fill_gaps(&x->ev, x->m, x->n)) != HSM_OK ||
	    (rc = open_admins(x)) != HSM_OK)
		return rc;
	/* key files alone need no smart card service */
	if ((rc = pcsc_open(&x->pc)) != HSM_OK && x->o->nkeys == 0)
		return rc;
	hsm_err_clear();
	io.admins = x->admins;
	return mkload_run(x->m, x->n, x->o->group, x->parts, x->o->nparts,
	                  stages_of(x->o->cmd), x->have_known ? x->known : NULL, &io, rep);
}

static void
run_close(struct run_ctx *x)
{
	signers_free(&x->admins);
	cer_card_free(&x->cust);
	pcsc_close(&x->pc);
	submit_ev_clear(&x->ev);
	evlog_close(&x->ev.log);
	wsconfig_group_close(&x->m, x->n);
	wsconfig_free(&x->cfg);
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
	if ((rc = cer_log_open(o->log, &log)) != HSM_OK)
		goto out;
	json_array_foreach(arr, i, r) {
		long long seq = 0;

		if ((rc = evrec_domain_baseline(log, &who, r, &seq)) != HSM_OK)
			goto out;
		if (!o->json)
			printf("Recorded the receipt of %s domain %lld as baseline (record %lld).\n",
			       json_string_value(json_object_get(json_object_get(r, "body"), "module")),
			       (long long)json_integer_value(json_object_get(json_object_get(r, "body"),
			       "domain")), seq);
	}
	if (o->json) {
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
	if (!o->json) {
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
	struct run_ctx x;
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
	x.o = &o;
	if ((rc = run_open(&x)) == HSM_OK) {
		if (strcmp(o.cmd, "status") == 0)
			rc = mkload_status(x.m, x.n, o.group, x.parts, o.nparts,
			                   x.have_known ? x.known : NULL, &rep);
		else
			rc = run_stages(&x, &rep);
		print_result(&o, rep, rc);
	}
	if (rc != HSM_OK)
		ret = cmd_fail(PROG, rc);
	json_decref(rep);
	run_close(&x);
	return ret;
}
