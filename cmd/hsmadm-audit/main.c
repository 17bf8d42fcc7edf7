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
#include <unistd.h>

#include "cer_plan.h"
#include "cmdutil.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evreport.h"
#include "hsmadm/evtsa.h"
#include "hsmadm/evverify.h"
#include "hsmadm/fileio.h"
#include "hsmadm/livecmp.h"
#include "hsmadm/moddriver.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"
#include "hsmadm/cardsigner.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/signer.h"
#include "tsahttp.h"

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
"  export-trust LOG --module-ca FILE --out FILE\n"
"                        at the close: write the trust file the auditors pin\n"
"  timestamp LOG --query-out FILE [--hash sha256|sha384]\n"
"                        write the RFC 3161 query for the completion (for a TSA)\n"
"  timestamp LOG --query FILE --reply FILE [--tsa-ca FILE]\n"
"                        check the TSA's reply against the query, record the token\n"
"  timestamp LOG --tsa-url http://HOST[:PORT]/PATH [--hash H] [--tsa-ca FILE]\n"
"                        both, asking the TSA over HTTP (RFC 3161 section 3.4)\n"
"\n"
"Trust anchors (from outside the log; verify, replay and report need both):\n"
"  --module-ca FILE      pinned module CA certificate (PEM); repeat for several\n"
"  --supervisor-key FILE the completion must be signed by this key (PEM public key\n"
"                        or certificate); repeat for several\n"
"  --trust FILE          a trust file (export-trust) holding both\n"
"  --no-anchors          check internal consistency only; never \"verified\" (exit 22)\n"
"  --tsa-ca FILE         check every RFC 3161 time-stamp token against this TSA CA\n"
"  --plan FILE           verify: the ceremony plan the log must fulfil (every person\n"
"                        and card, the thresholds, each pair's domains with one key)\n"
"\n"
"Other options:\n"
"  --allow-incomplete    accept a log without a completion record (still running)\n"
"  --jobs N              signature checks on N threads (default: every online core;\n"
"                        1: on the reading thread); the answer is the same\n"
"  --json                machine-readable output\n"
"  --help, --version\n"
"\n"
"Exit codes: 0 verified; 30 the log failed verification (the message names the\n"
"first bad seq); 22 consistent but not verified (--no-anchors); 2 usage (also:\n"
"no anchors given); 3 malformed input; 5 file not found; see\n"
"docs/exit-codes.md and hsmadm-audit(1).\n";

enum { O_CA = 256, O_SUP, O_INCOMPLETE, O_JSON, O_HTML, O_AGAINST, O_CCERT, O_CKEY,
       O_KEYFILE, O_CARD, O_READER, O_PINFD, O_NAME, O_CERT, O_HELP, O_VERSION,
       O_TRUST, O_NOANCHORS, O_OUT, O_TSACA, O_QUERYOUT, O_QUERY, O_REPLY, O_HASH,
       O_JOBS, O_TSAURL, O_PLAN };

struct opts {
	const char *cmd, *log;
	const char *ca[MAX_FILES];
	size_t nca;
	const char *sup[MAX_FILES];
	size_t nsup;
	int incomplete, json, card, pin_fd, no_anchors, jobs;
	const char *html, *against, *ccert, *ckey, *keyfile, *reader, *name, *cert;
	const char *trust, *out;
	const char *tsa_ca, *query_out, *query, *reply, *hash, *tsa_url, *plan;
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
		{ "trust", required_argument, NULL, O_TRUST },
		{ "no-anchors", no_argument, NULL, O_NOANCHORS },
		{ "out", required_argument, NULL, O_OUT },
		{ "tsa-ca", required_argument, NULL, O_TSACA },
		{ "plan", required_argument, NULL, O_PLAN },
		{ "query-out", required_argument, NULL, O_QUERYOUT },
		{ "query", required_argument, NULL, O_QUERY },
		{ "reply", required_argument, NULL, O_REPLY },
		{ "hash", required_argument, NULL, O_HASH },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "tsa-url", required_argument, NULL, O_TSAURL },
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
		case O_TRUST: o->trust = optarg; break;
		case O_NOANCHORS: o->no_anchors = 1; break;
		case O_OUT: o->out = optarg; break;
		case O_TSACA: o->tsa_ca = optarg; break;
		case O_PLAN: o->plan = optarg; break;
		case O_QUERYOUT: o->query_out = optarg; break;
		case O_QUERY: o->query = optarg; break;
		case O_REPLY: o->reply = optarg; break;
		case O_HASH: o->hash = optarg; break;
		case O_TSAURL: o->tsa_url = optarg; break;
		case O_JOBS:
			if (cmd_parse_int(optarg, 1, 256, &o->jobs) != 0)
				return cmd_usage_error(PROG, "--jobs takes 1 to 256 threads");
			break;
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
	v->trust_file = o->trust;
	v->no_anchors = o->no_anchors;
	v->tsa_ca_file = o->tsa_ca;
	/* every online core unless told: the answer does not depend on it */
	v->jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* The answer must rest on keys from outside the log: refuse to start
 * without them, naming what to give. sign-completion's supervisor anchor is
 * the signing key itself; it needs the module CA. 0 or the exit code. */
static int
check_anchors(const struct opts *o)
{
	int sign = strcmp(o->cmd, "sign-completion") == 0;
	int export = strcmp(o->cmd, "export-trust") == 0;

	/* a time-stamp is checked against the query and the log's completion
	 * (and --tsa-ca); the log's own anchors are verify's job */
	if (strcmp(o->cmd, "timestamp") == 0)
		return 0;

	if (o->no_anchors) {
		if (o->nca > 0 || o->nsup > 0 || o->trust != NULL)
			return cmd_usage_error(PROG, "--no-anchors or anchors (--module-ca, "
			    "--supervisor-key, --trust), not both");
		if (sign || export)
			return cmd_usage_error(PROG, "--no-anchors is only for verify, replay "
			    "and report");
		return 0;
	}
	/* sign-completion's supervisor anchor is the signing key; a log's
	 * receipts need the module CA, which the verifier asks for (exit 2) */
	if (o->trust != NULL || sign || export)
		return 0;
	if (o->nsup == 0 && (!o->incomplete || o->nca == 0))
		return cmd_usage_error(PROG, "%s needs trust anchors from outside the log: "
		    "give --supervisor-key FILE (the supervisor's public key%s) and "
		    "--module-ca FILE (the module CA), or --trust FILE (written by "
		    "export-trust at the ceremony's close); a key found only in the log "
		    "proves nothing. --no-anchors checks internal consistency only",
		    o->cmd, o->incomplete ? "; or only --module-ca for an unfinished log" : "");
	return 0;
}

/* The anchors line: what "verified" rests on. */
static void
print_anchors(FILE *f, const evlog_verify_result *res)
{
	if (!res->anchored && res->ca_anchors == 0 && res->supervisor_anchors == 0) {
		fprintf(f, "NOT verified: no trust anchors were given (--no-anchors); every "
		    "key it was checked with came from the log itself.\n");
		return;
	}
	if (!res->anchored && res->complete && !res->supervisor_pinned)
		fprintf(f, "NOT verified: the completion is signed by a key found only in the "
		    "log; give the supervisor's key (--supervisor-key FILE or --trust FILE).\n");
	else if (!res->anchored)
		fprintf(f, "NOT verified: nothing in this log was checked against the anchors "
		    "given (no module receipt, no completion by a pinned supervisor key).\n");
	fprintf(f, "Anchors: module CA SHA-256 %.16s... (%d CA(s)), %d supervisor key(s)%s; "
	    "from %s.\n", res->anchor_ca_fp, res->ca_anchors, res->supervisor_anchors,
	    res->supervisor_pinned ? ", the completion's signer among them" : "",
	    res->anchor_source);
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
	printf("%s: %s. %lld records, %lld signatures, %lld module receipts, "
	    "%lld commands, %lld exceptions.\n", o->log, res->anchored ? "verified" :
	    "consistent (NOT verified)", res->records, res->signatures,
	    res->receipts, res->commands, res->exceptions);
	if (res->complete)
		printf("Completed and signed by %s %s (SKI %.16s...).\n",
		    res->supervisor_pinned ? "pinned supervisor" : "the log's own supervisor",
		    res->supervisor_name, res->supervisor_ski);
	else
		printf("Not completed yet: no supervisor completion record.\n");
	printf("Head: seq %lld, SHA-256 %s\n", res->head_seq, res->head_hash);
	print_anchors(stdout, res);
	if (res->recoveries > 0)
		printf("Note: %lld torn record(s) were cut off after a crash; see the "
		    "log.recovered records.\n", res->recoveries);
	if (res->sent > 0)
		printf("Commands sent: %lld; %lld with no recorded outcome (sent, but no "
		    "receipt in the log says whether a module applied it).\n", res->sent,
		    res->sent_no_outcome);
	if (res->timestamps > 0 && res->timestamps_checked == res->timestamps)
		printf("Time-stamp: trusted time %s from %s (RFC 3161 token checked against "
		    "the TSA CA; %lld token(s)).\n", res->tsa_time, res->tsa_name,
		    res->timestamps);
	else if (res->timestamps > 0)
		printf("Time-stamp: %s from %s, not checked (no --tsa-ca).\n", res->tsa_time,
		    res->tsa_name);
	else if (o->tsa_ca != NULL)
		printf("Time-stamp: none in the log (nothing to check with --tsa-ca).\n");
}

/* The plan the log must fulfil: what is missing fails the verification
 * (HSM_ERR_AUDIT, each miss named; res->ok cleared). */
static hsm_rc
check_plan(const struct opts *o, evlog_verify_result *res)
{
	json_t *out = NULL;
	hsm_rc rc = cer_plan_check(o->log, o->plan, &out);

	if (rc == HSM_ERR_VERIFY && out != NULL) {
		res->ok = 0;
		rc = hsm_fail(HSM_ERR_AUDIT, "the plan (%s), which is not fulfilled: %s", o->plan,
		              hsm_errmsg());
	} else if (rc == HSM_OK && !o->json)
		printf("Plan %s: fulfilled (every person and card, the thresholds, each pair's "
		       "domains with one key).\n", o->plan);
	json_decref(out);
	return rc;
}

static int
do_verify(const struct opts *o)
{
	struct evlog_verify_opts v;
	evlog_verify_result res;
	hsm_rc rc;
	int anchored;

	vopts(o, &v);
	rc = evlog_verify(o->log, &v, &res);
	/* a verified log must also be the ceremony its plan declared */
	if (rc == HSM_OK && o->plan != NULL)
		rc = check_plan(o, &res);
	if (rc == HSM_OK || rc == HSM_ERR_AUDIT)
		print_result(o, &res);
	anchored = res.anchored;
	evlog_verify_result_clear(&res);
	if (rc == HSM_ERR_AUDIT && !o->json)
		fprintf(stderr, "%s: %s: FAILED verification at %s\n", PROG, o->log,
		    hsm_errmsg());
	/* consistent is not verified: its own exit code, never 0 */
	if (rc == HSM_OK)
		return anchored ? 0 : hsm_exit_code(HSM_ERR_TRUST);
	return rc == HSM_ERR_AUDIT ? hsm_exit_code(rc) : cmd_fail(PROG, rc);
}

/* The module CA a live comparison pins: --module-ca, or the trust file's
 * (written to a private temporary file, *tmp, for the TLS set-up). */
static hsm_rc
against_ca(const struct opts *o, char *tmp, size_t n, const char **ca)
{
	char *pem = NULL;
	int fd;
	hsm_rc rc;

	tmp[0] = '\0';
	if (o->nca > 0) {
		*ca = o->ca[0];
		return HSM_OK;
	}
	if ((rc = evlog_trust_module_ca(o->trust, &pem)) != HSM_OK)
		return rc;
	/* a public certificate, removed after the comparison; the system's
	 * temporary folder, not $TMPDIR: the tools read no environment */
	snprintf(tmp, n, "%s/hsmadm-audit-ca.XXXXXX", P_tmpdir);
	if ((fd = mkstemp(tmp)) < 0) {
		free(pem);
		tmp[0] = '\0';
		return hsm_fail(HSM_ERR_IO, "cannot make a temporary file for the module CA");
	}
	rc = hsm_write_all(fd, pem, strlen(pem));
	close(fd);
	free(pem);
	*ca = tmp;
	return rc;
}

static int
do_replay(const struct opts *o)
{
	struct evlog_verify_opts v;
	json_t *state = NULL, *cmp = NULL;
	moddrv *drv = NULL;
	char tmpca[300] = "";
	const char *ca = NULL;
	hsm_rc rc;
	int ex, anchored;

	if (o->against != NULL && ((o->nca == 0 && o->trust == NULL) || o->ccert == NULL ||
	    o->ckey == NULL))
		return cmd_usage_error(PROG, "--against needs --module-ca (or --trust, whose "
		    "module CA it pins), --client-cert and --client-key");
	vopts(o, &v);
	if ((rc = evlog_replay(o->log, &v, &state)) != HSM_OK) {
		if (rc == HSM_ERR_AUDIT)
			fprintf(stderr, "%s: %s: FAILED verification at %s\n", PROG, o->log,
			    hsm_errmsg());
		else
			cmd_fail(PROG, rc);
		return hsm_exit_code(rc);
	}
	anchored = json_is_true(json_object_get(state, "anchored"));
	if (o->against != NULL) {
		if ((rc = against_ca(o, tmpca, sizeof(tmpca), &ca)) == HSM_OK &&
		    (rc = modclient_sim_open(o->against, NULL, ca, o->ccert, o->ckey,
		    10000, &drv)) == HSM_OK)
			rc = live_compare(state, drv, &cmp);
		if (tmpca[0] != '\0')
			(void)unlink(tmpca);
		if (cmp != NULL)
			json_object_set(state, "against", cmp);
	}
	if (o->json) {
		cmd_print_json(state);
	} else {
		json_t *d, *a;
		size_t i, j;
		printf("%s: %s; replayed state at seq %lld:\n", o->log, !anchored ?
		    "consistent (NOT verified: nothing checked against trust anchors)" :
		    "verified",
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
	ex = anchored ? 0 : hsm_exit_code(HSM_ERR_TRUST);
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
	int ex, anchored;

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
		anchored = res.anchored;
		if (j != NULL && res.state != NULL)
			json_object_set(j, "state", res.state);
		if (j != NULL)
			cmd_print_json(j);
		json_decref(j);
		evlog_verify_result_clear(&res);
		if (rc == HSM_OK)
			return anchored ? 0 : hsm_exit_code(HSM_ERR_TRUST);
		return rc == HSM_ERR_AUDIT ? hsm_exit_code(rc) : cmd_fail(PROG, rc);
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
			printf("Report written to %s (%s).\n", o->html, rc != HSM_OK ?
			    "log FAILED verification" : !res.anchored ?
			    "log consistent, NOT verified: nothing checked against trust "
			    "anchors" : "log verified");
		}
	}
	anchored = res.anchored;
	evlog_verify_result_clear(&res);
	if (rc == HSM_ERR_AUDIT) {
		fprintf(stderr, "%s: %s: FAILED verification at %s\n", PROG, o->log,
		    hsm_errmsg());
		return hsm_exit_code(rc);
	}
	ex = rc == HSM_OK ? (anchored ? 0 : hsm_exit_code(HSM_ERR_TRUST)) :
	    cmd_fail(PROG, rc);
	return ex;
}

/* RFC 3161: the query for the completion, or the TSA's reply recorded. */
static int
do_timestamp(const struct opts *o)
{
	struct evtsa_info ti;
	char *q = NULL, *rp = NULL;
	uint8_t *der = NULL;
	size_t ql = 0, rl = 0, dl = 0;
	hsm_rc rc;
	int ex = 0;

	if ((o->query_out != NULL) + (o->reply != NULL) + (o->tsa_url != NULL) != 1 ||
	    (o->reply != NULL) != (o->query != NULL))
		return cmd_usage_error(PROG, "timestamp needs --query-out FILE (write the "
		    "query), or --query FILE and --reply FILE (record the TSA's answer), or "
		    "--tsa-url URL (both, over HTTP)");
	if (o->tsa_url != NULL) {
		/* the query made here, sent, and its answer checked and recorded */
		if ((rc = evtsa_query(o->log, o->hash, &der, &dl, &ti)) != HSM_OK ||
		    (rc = tsa_http_post(o->tsa_url, der, dl, 30000, (uint8_t **)&rp, &rl)) != HSM_OK ||
		    (rc = evtsa_record(o->log, der, dl, (uint8_t *)rp, rl, o->tsa_ca, &ti)) != HSM_OK) {
			ex = cmd_fail(PROG, rc);
			goto out;
		}
		goto done;
	}
	if (o->query_out != NULL) {
		if ((rc = evtsa_query(o->log, o->hash, &der, &dl, &ti)) == HSM_OK)
			rc = hsm_file_replace(o->query_out, der, dl, 0644);
		free(der);
		if (rc != HSM_OK)
			return cmd_fail(PROG, rc);
		printf("Time-stamp query (%s) for the completion at seq %lld (head %s) written "
		    "to %s.\nSend it to the TSA, then: %s timestamp %s --query %s --reply "
		    "REPLY.tsr\n", ti.hash_alg, ti.seq, ti.head_hash, o->query_out, PROG, o->log,
		    o->query_out);
		return 0;
	}
	if ((rc = hsm_file_read(o->query, 1 << 20, &q, &ql)) != HSM_OK ||
	    (rc = hsm_file_read(o->reply, 1 << 20, &rp, &rl)) != HSM_OK ||
	    (rc = evtsa_record(o->log, (uint8_t *)q, ql, (uint8_t *)rp, rl, o->tsa_ca,
	    &ti)) != HSM_OK) {
		ex = cmd_fail(PROG, rc);
		goto out;
	}
done:
	if (o->json) {
		json_t *j = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:b}", "record_seq",
		    (json_int_t)ti.record_seq, "seq", (json_int_t)ti.seq, "head_hash",
		    ti.head_hash, "hash_alg", ti.hash_alg, "gen_time", ti.gen_time, "tsa", ti.tsa,
		    "checked", ti.checked);
		if (j != NULL)
			cmd_print_json(j);
		json_decref(j);
	} else {
		printf("Time-stamp recorded at seq %lld: %s by %s over the completion (seq "
		    "%lld, head %.16s...)%s.\n", ti.record_seq, ti.gen_time, ti.tsa, ti.seq,
		    ti.head_hash, ti.checked ? "; token checked against the TSA CA" :
		    "; token not checked (no --tsa-ca)");
	}
out:
	free(der);
	free(q);
	free(rp);
	return ex;
}

/* The trust file for the auditors, at the ceremony's close. */
static int
do_export(const struct opts *o)
{
	struct evlog_verify_opts v;
	json_t *t = NULL;
	char *txt = NULL;
	uint8_t dg[32];
	char hex[65];
	hsm_rc rc;
	int ex = 0;

	if (o->out == NULL)
		return cmd_usage_error(PROG, "export-trust needs --out FILE");
	vopts(o, &v);
	if ((rc = evlog_export_trust(o->log, &v, &t)) != HSM_OK)
		return rc == HSM_ERR_AUDIT ? (fprintf(stderr, "%s: %s: %s\n", PROG, o->log,
		    hsm_errmsg()), hsm_exit_code(rc)) : cmd_fail(PROG, rc);
	if ((txt = json_dumps(t, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		ex = cmd_fail(PROG, hsm_fail(HSM_ERR_NOMEM, "out of memory"));
		goto out;
	}
	if ((rc = hsm_file_replace(o->out, txt, strlen(txt), 0644)) != HSM_OK ||
	    (rc = crypto_sha256(txt, strlen(txt), dg)) != HSM_OK) {
		ex = cmd_fail(PROG, rc);
		goto out;
	}
	hex_encode_buf(dg, 32, hex);
	printf("Trust file written to %s: module CA(s) and %zu supervisor key(s) of log %s.\n"
	    "SHA-256 %s: record it in the minutes; hand the file to the auditors apart "
	    "from the log.\n", o->out, json_array_size(json_object_get(t, "supervisors")),
	    json_string_value(json_object_get(t, "log_id")), hex);
out:
	free(txt);
	json_decref(t);
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
		    "Run 'hsmadm-audit verify %s' with the module CA and the supervisor's "
		    "key (or 'export-trust' for the auditors) to check it.\n", seq, res.head_seq,
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
	if (strcmp(o.cmd, "verify") != 0 && strcmp(o.cmd, "replay") != 0 &&
	    strcmp(o.cmd, "report") != 0 && strcmp(o.cmd, "sign-completion") != 0 &&
	    strcmp(o.cmd, "export-trust") != 0 && strcmp(o.cmd, "timestamp") != 0)
		return cmd_usage_error(PROG, "unknown command \"%s\" (verify, replay, report, "
		    "sign-completion, export-trust, timestamp)", o.cmd);
	if ((r = check_anchors(&o)) != 0)
		return r;
	if (strcmp(o.cmd, "verify") == 0)
		return do_verify(&o);
	if (strcmp(o.cmd, "replay") == 0)
		return do_replay(&o);
	if (strcmp(o.cmd, "report") == 0)
		return do_report(&o);
	if (strcmp(o.cmd, "sign-completion") == 0)
		return do_sign(&o);
	if (strcmp(o.cmd, "timestamp") == 0)
		return do_timestamp(&o);
	return do_export(&o);
}
