/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hsmadm-audit - verify, replay and report evidence logs; the supervisor's
 * completion signature. Options and printing only: the work is in
 * evidence/ (evverify.h, evreport.h).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evreport.h"
#include "hsmadm/evverify.h"
#include "hsmadm/fileio.h"
#include "hsmadm/livecmp.h"
#include "hsmadm/moddriver.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"
#include "hsmadm/cardsigner.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/signer.h"

#define PROG "hsmadm-audit"
#define MAX_FILES 16

static const char usage_text[] =
"Usage: hsmadm-audit COMMAND LOG [options]\n"
"\n"
"Check an evidence log offline and say yes or no, with the reason.\n"
"\n"
"Commands:\n"
"  verify LOG            check chain, signatures, receipts, quorums, completeness\n"
"  replay LOG            verify, then print the state of every domain the log touched\n"
"        [--against HOST:PORT --client-cert F --client-key F]\n"
"                        ... and compare it with what that live module says now\n"
"  report LOG [--html OUT]\n"
"                        who did what, when, with which card; MKVPs; exceptions\n"
"  sign-completion LOG (--key-file K | --card [--reader R] [--pin-fd N])\n"
"        [--name NAME] [--cert FILE]\n"
"                        supervisor: verify the log and append the signed completion\n"
"\n"
"Options for every command:\n"
"  --module-ca FILE      pinned module CA certificate (PEM); repeat for several\n"
"  --supervisor-key FILE the completion must be signed by this key (PEM public key\n"
"                        or certificate); repeat for several\n"
"  --allow-incomplete    accept a log without a completion record (still running)\n"
"  --json                machine-readable output\n"
"  --help, --version\n"
"\n"
"Exit codes: 0 verified; 30 the log failed verification (the message names the\n"
"first bad seq); 2 usage; 3 malformed input; 5 file not found; see\n"
"docs/exit-codes.md and hsmadm-audit(1).\n";

enum { O_CA = 256, O_SUP, O_INCOMPLETE, O_JSON, O_HTML, O_AGAINST, O_CCERT, O_CKEY,
       O_KEYFILE, O_CARD, O_READER, O_PINFD, O_NAME, O_CERT, O_HELP, O_VERSION };

struct opts {
	const char *cmd, *log;
	const char *ca[MAX_FILES];
	size_t nca;
	const char *sup[MAX_FILES];
	size_t nsup;
	int incomplete, json, card, pin_fd;
	const char *html, *against, *ccert, *ckey, *keyfile, *reader, *name, *cert;
};

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "module-ca", required_argument, NULL, O_CA },
		{ "supervisor-key", required_argument, NULL, O_SUP },
		{ "allow-incomplete", no_argument, NULL, O_INCOMPLETE },
		{ "json", no_argument, NULL, O_JSON },
		{ "html", required_argument, NULL, O_HTML },
		{ "against", required_argument, NULL, O_AGAINST },
		{ "client-cert", required_argument, NULL, O_CCERT },
		{ "client-key", required_argument, NULL, O_CKEY },
		{ "key-file", required_argument, NULL, O_KEYFILE },
		{ "card", no_argument, NULL, O_CARD },
		{ "reader", required_argument, NULL, O_READER },
		{ "pin-fd", required_argument, NULL, O_PINFD },
		{ "name", required_argument, NULL, O_NAME },
		{ "cert", required_argument, NULL, O_CERT },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->pin_fd = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1 || optind < argc) {
		if (c == -1) {
			/* a positional argument: command, then log */
			if (o->cmd == NULL)
				o->cmd = argv[optind];
			else if (o->log == NULL)
				o->log = argv[optind];
			else
				return cmd_usage_error(PROG, "unexpected argument \"%s\"",
				    argv[optind]);
			optind++;
			continue;
		}
		switch (c) {
		case O_CA:
			if (o->nca == MAX_FILES)
				return cmd_usage_error(PROG, "at most %d --module-ca", MAX_FILES);
			o->ca[o->nca++] = optarg;
			break;
		case O_SUP:
			if (o->nsup == MAX_FILES)
				return cmd_usage_error(PROG, "at most %d --supervisor-key", MAX_FILES);
			o->sup[o->nsup++] = optarg;
			break;
		case O_INCOMPLETE: o->incomplete = 1; break;
		case O_JSON: o->json = 1; break;
		case O_HTML: o->html = optarg; break;
		case O_AGAINST: o->against = optarg; break;
		case O_CCERT: o->ccert = optarg; break;
		case O_CKEY: o->ckey = optarg; break;
		case O_KEYFILE: o->keyfile = optarg; break;
		case O_CARD: o->card = 1; break;
		case O_READER: o->reader = optarg; break;
		case O_PINFD:
			if (cmd_parse_fd(PROG, "--pin-fd", optarg, &o->pin_fd) != 0)
				return 2;
			break;
		case O_NAME: o->name = optarg; break;
		case O_CERT: o->cert = optarg; break;
		case O_HELP:
			fputs(usage_text, stdout);
			return -1;
		case O_VERSION:
			cmd_print_version(PROG);
			return -1;
		default:
			return cmd_usage_error(PROG, "unknown or incomplete option \"%s\"",
			    argv[optind - 1]);
		}
	}
	if (o->cmd == NULL)
		return cmd_usage_error(PROG, "no command given (verify, replay, report, "
		    "sign-completion)");
	if (o->log == NULL)
		return cmd_usage_error(PROG, "no evidence log given");
	return 0;
}

static void
vopts(const struct opts *o, struct evlog_verify_opts *v)
{
	memset(v, 0, sizeof(*v));
	v->module_ca_files = o->ca;
	v->n_module_ca = o->nca;
	v->supervisor_key_files = o->sup;
	v->n_supervisor_keys = o->nsup;
	v->allow_incomplete = o->incomplete;
}

/* Plain words for people; the JSON for programs. */
static void
print_result(const struct opts *o, const evlog_verify_result *res)
{
	json_t *j;

	if (o->json) {
		if ((j = evlog_verify_result_json(res)) != NULL)
			cmd_print_json(j);
		json_decref(j);
		return;
	}
	if (!res->ok)
		return;   /* the failure goes to stderr via cmd_fail */
	printf("%s: verified. %lld records, %lld signatures, %lld module receipts, "
	    "%lld commands, %lld exceptions.\n", o->log, res->records, res->signatures,
	    res->receipts, res->commands, res->exceptions);
	if (res->complete)
		printf("Completed and signed by supervisor %s (SKI %.16s...).\n",
		    res->supervisor_name, res->supervisor_ski);
	else
		printf("Not completed yet: no supervisor completion record.\n");
	printf("Head: seq %lld, SHA-256 %s\n", res->head_seq, res->head_hash);
	if (res->recoveries > 0)
		printf("Note: %lld torn record(s) were cut off after a crash; see the "
		    "log.recovered records.\n", res->recoveries);
	if (res->sent > 0)
		printf("Commands sent: %lld; %lld with no recorded outcome (sent, but no "
		    "receipt in the log says whether a module applied it).\n", res->sent,
		    res->sent_no_outcome);
}

static int
do_verify(const struct opts *o)
{
	struct evlog_verify_opts v;
	evlog_verify_result res;
	hsm_rc rc;

	vopts(o, &v);
	rc = evlog_verify(o->log, &v, &res);
	if (rc == HSM_OK || rc == HSM_ERR_AUDIT)
		print_result(o, &res);
	evlog_verify_result_clear(&res);
	if (rc == HSM_ERR_AUDIT && !o->json)
		fprintf(stderr, "%s: %s: FAILED verification at %s\n", PROG, o->log,
		    hsm_errmsg());
	return rc == HSM_OK ? 0 : (rc == HSM_ERR_AUDIT ? hsm_exit_code(rc) : cmd_fail(PROG, rc));
}

static int
do_replay(const struct opts *o)
{
	struct evlog_verify_opts v;
	json_t *state = NULL, *cmp = NULL;
	moddrv *drv = NULL;
	hsm_rc rc;
	int ex;

	if (o->against != NULL && (o->nca == 0 || o->ccert == NULL || o->ckey == NULL))
		return cmd_usage_error(PROG, "--against needs --module-ca, --client-cert and "
		    "--client-key");
	vopts(o, &v);
	if ((rc = evlog_replay(o->log, &v, &state)) != HSM_OK) {
		if (rc == HSM_ERR_AUDIT)
			fprintf(stderr, "%s: %s: FAILED verification at %s\n", PROG, o->log,
			    hsm_errmsg());
		else
			cmd_fail(PROG, rc);
		return hsm_exit_code(rc);
	}
	if (o->against != NULL) {
		if ((rc = modclient_sim_open(o->against, NULL, o->ca[0], o->ccert, o->ckey,
		    10000, &drv)) == HSM_OK)
			rc = live_compare(state, drv, &cmp);
		if (cmp != NULL)
			json_object_set(state, "against", cmp);
	}
	if (o->json) {
		cmd_print_json(state);
	} else {
		json_t *d, *a;
		size_t i, j;
		printf("%s: verified; replayed state at seq %lld:\n", o->log,
		    (long long)json_integer_value(json_object_get(state, "head_seq")));
		json_array_foreach(json_object_get(state, "domains"), i, d) {
			json_t *thr = json_object_get(d, "thresholds");
			json_t *regs = json_object_get(d, "registers");
			printf("  %s domain %lld: counter %lld, thresholds %lld/%lld, admins:",
			    json_string_value(json_object_get(d, "module")),
			    (long long)json_integer_value(json_object_get(d, "domain")),
			    (long long)json_integer_value(json_object_get(d, "counter")),
			    (long long)json_integer_value(json_object_get(thr, "signature")),
			    (long long)json_integer_value(json_object_get(thr, "revocation")));
			json_array_foreach(json_object_get(d, "admins"), j, a)
				printf("%s %s", j ? "," : "",
				    json_string_value(json_object_get(a, "name")));
			printf("\n    current %s, pending %s, old %s\n",
			    json_string_value(json_object_get(json_object_get(regs, "current"), "state")),
			    json_string_value(json_object_get(json_object_get(regs, "pending"), "state")),
			    json_string_value(json_object_get(json_object_get(regs, "old"), "state")));
		}
		if (cmp != NULL) {
			json_array_foreach(json_object_get(cmp, "domains"), i, d)
				printf("  live %s domain %lld: %s\n",
				    json_string_value(json_object_get(cmp, "module")),
				    (long long)json_integer_value(json_object_get(d, "domain")),
				    json_is_true(json_object_get(d, "in_step")) ? "in step with the log"
				    : "DIFFERS from the log");
		}
	}
	ex = 0;
	if (rc != HSM_OK)
		ex = cmd_fail(PROG, rc);
	json_decref(cmp);
	json_decref(state);
	moddrv_free(&drv);
	return ex;
}

static int
do_report(const struct opts *o)
{
	struct evlog_verify_opts v;
	evlog_verify_result res;
	FILE *out = stdout;
	char *rep = NULL;
	size_t replen = 0;
	hsm_rc rc;
	int ex;

	vopts(o, &v);
	if (o->html != NULL) {
		/* built in memory, then written by the one file writer (temp,
		 * fsync, rename): never a half report */
		if ((out = open_memstream(&rep, &replen)) == NULL) {
			hsm_fail(HSM_ERR_NOMEM, "out of memory for the report");
			return cmd_fail(PROG, HSM_ERR_NOMEM);
		}
	} else if (o->json) {
		out = NULL;
	}
	if (out == NULL) {
		/* --json without --html: the verdict and the replayed state */
		json_t *j;
		rc = evlog_verify(o->log, &v, &res);
		if (rc != HSM_OK && rc != HSM_ERR_AUDIT) {
			evlog_verify_result_clear(&res);
			return cmd_fail(PROG, rc);
		}
		j = evlog_verify_result_json(&res);
		if (j != NULL && res.state != NULL)
			json_object_set(j, "state", res.state);
		if (j != NULL)
			cmd_print_json(j);
		json_decref(j);
		evlog_verify_result_clear(&res);
		return rc == HSM_OK ? 0 : hsm_exit_code(rc);
	}
	rc = evlog_report(o->log, &v, o->html ? EVREPORT_HTML : EVREPORT_TEXT, out, &res);
	if (o->html != NULL) {
		if (fclose(out) != 0 && (rc == HSM_OK || rc == HSM_ERR_AUDIT))
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory for the report");
		if (rc == HSM_OK || rc == HSM_ERR_AUDIT) {
			hsm_rc wrc = hsm_file_replace(o->html, rep, replen, 0644);
			if (wrc != HSM_OK)
				rc = wrc;
		}
		free(rep);
		if (o->json && (rc == HSM_OK || rc == HSM_ERR_AUDIT)) {
			json_t *j = evlog_verify_result_json(&res);
			if (j != NULL) {
				json_object_set_new(j, "html", json_string(o->html));
				cmd_print_json(j);
			}
			json_decref(j);
		} else if (rc == HSM_OK || rc == HSM_ERR_AUDIT) {
			printf("Report written to %s (%s).\n", o->html,
			    rc == HSM_OK ? "log verified" : "log FAILED verification");
		}
	}
	evlog_verify_result_clear(&res);
	if (rc == HSM_ERR_AUDIT) {
		fprintf(stderr, "%s: %s: FAILED verification at %s\n", PROG, o->log,
		    hsm_errmsg());
		return hsm_exit_code(rc);
	}
	ex = rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
	return ex;
}

static int
do_sign(const struct opts *o)
{
	struct evlog_verify_opts v;
	evlog_verify_result res;
	hsm_signer *s = NULL;
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	char *reader = NULL, *cert = NULL;
	long long seq = 0;
	hsm_rc rc;
	int ex = 0;

	memset(&res, 0, sizeof(res));
	if ((o->keyfile != NULL) == (o->card != 0))
		return cmd_usage_error(PROG, "sign-completion needs exactly one of "
		    "--key-file FILE or --card");
	if ((rc = secure_init()) != HSM_OK)
		return cmd_fail(PROG, rc);
	if (o->cert != NULL && (cert = cmd_read_text(o->cert, 65536)) == NULL) {
		hsm_fail(HSM_ERR_NOT_FOUND, "cannot read certificate %s (at most 64 KiB)", o->cert);
		return cmd_fail(PROG, HSM_ERR_NOT_FOUND);
	}
	if (o->keyfile != NULL) {
		rc = signer_from_keyfile(o->keyfile, &s);
	} else {
		if ((rc = pcsc_open(&ctx)) == HSM_OK &&
		    (rc = pcsc_find_reader(ctx, o->reader, &reader)) == HSM_OK &&
		    (rc = piv_connect(ctx, reader, &card)) == HSM_OK)
			rc = cardsigner_new(card, o->pin_fd, NULL, &s);
	}
	if (rc != HSM_OK) {
		ex = cmd_fail(PROG, rc);
		goto out;
	}
	vopts(o, &v);
	rc = evlog_sign_completion(o->log, &v, s, o->name, cert, &seq, &res);
	if (rc != HSM_OK) {
		ex = cmd_fail(PROG, rc);
		goto out;
	}
	if (o->json) {
		json_t *j = json_pack("{s:s, s:I, s:s}", "log", o->log, "completion_seq",
		    (json_int_t)seq, "signed_head_hash", res.head_hash);
		if (j != NULL)
			cmd_print_json(j);
		json_decref(j);
	} else {
		printf("Completion signed: seq %lld covers the log up to seq %lld (SHA-256 %s).\n"
		    "Run 'hsmadm-audit verify %s' to check it.\n", seq, res.head_seq,
		    res.head_hash, o->log);
	}
out:
	evlog_verify_result_clear(&res);
	signer_free(&s);
	piv_free(&card);
	free(reader);
	pcsc_close(&ctx);
	free(cert);
	return ex;
}

int
main(int argc, char **argv)
{
	struct opts o;
	int r;

	/* replay --against talks TLS to modules: a module dying mid-write must be
	 * a reported error, not a silent SIGPIPE death. */
	signal(SIGPIPE, SIG_IGN);
	if ((r = parse(argc, argv, &o)) != 0)
		return r < 0 ? 0 : r;
	if (strcmp(o.cmd, "verify") == 0)
		return do_verify(&o);
	if (strcmp(o.cmd, "replay") == 0)
		return do_replay(&o);
	if (strcmp(o.cmd, "report") == 0)
		return do_report(&o);
	if (strcmp(o.cmd, "sign-completion") == 0)
		return do_sign(&o);
	return cmd_usage_error(PROG, "unknown command \"%s\" (verify, replay, report, "
	    "sign-completion)", o.cmd);
}
