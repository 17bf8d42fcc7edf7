/* SPDX-License-Identifier: BSD-2-Clause */
/* reenc.c - hsmadm-rotate reencipher: the re-encipher job (reencipher.h). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/codec.h"
#include "hsmadm/reencipher.h"
#include "hsmadm/wsconfig.h"
#include "hsmadm/evrec.h"
#include "cer.h"
#include "cmdutil.h"
#include "rotate.h"

static const char usage_text[] =
"Usage: hsmadm-rotate reencipher GROUP --to pending|current --input FILE|DIR|-\n"
"       hsmadm-rotate reencipher --module M --domain D --to ... --input ...\n"
"Re-encipher key blobs to the group's pending key (before finalize) or current key\n"
"(after finalize or backout), spread over all members in parallel. Writes\n"
"IN.reenciphered.jsonl and IN.failed.jsonl beside each input, never in place, and\n"
"a journal: a job that was stopped resumes when run again with the same input.\n"
"\n"
"  --to pending|current   the register to re-encipher to\n"
"  --input FILE|DIR|-     a JSON Lines file of blobs, a folder of *.jsonl, or stdin\n"
"  --output FILE          the output file (required with --input -)\n"
"  --batch N              blobs per request (1..8192, default 2048)\n"
"  --module M --domain D  one module and domain instead of a group\n"
"  --home DIR             workstation directory (default $HSMADM_HOME, ~/.config/hsmadm)\n"
"  --timeout SEC          per connection and answer (default 30)\n"
"  --quiet                no progress   --json  the summary as JSON\n"
"  --log FILE             the rotation's evidence log: opened (and locked) before\n"
"                         the job, then reencipher.progress records how many of\n"
"                         the input's blobs are under the target key, which\n"
"                         hsmadm-rotate finalize requires\n"
"\n"
"Exit codes: 0 every blob re-enciphered, 3 unreadable lines, 4 a blob that does\n"
"not verify, 5 blobs whose key no member holds (see IN.failed.jsonl), 6 the target\n"
"register holds no (committed) key or the journal is another job's, 20 a module\n"
"failed (run again to resume), 27 the members hold different keys.\n";

struct ropts {
	reenc_opts r;
	const char *home, *log;
	int json, quiet, domain_set;
};

static int
parse(int argc, char **argv, struct ropts *o)
{
	enum { O_TO = 256, O_INPUT, O_OUTPUT, O_BATCH, O_MODULE, O_DOMAIN, O_HOME, O_TIMEOUT,
	       O_QUIET, O_JSON, O_HELP, O_LOG };
	static const struct option lo[] = {
		{ "to", required_argument, NULL, O_TO }, { "input", required_argument, NULL, O_INPUT },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "module", required_argument, NULL, O_MODULE },
		{ "domain", required_argument, NULL, O_DOMAIN },
		{ "home", required_argument, NULL, O_HOME },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "quiet", no_argument, NULL, O_QUIET }, { "json", no_argument, NULL, O_JSON },
		{ "log", required_argument, NULL, O_LOG },
		{ "help", no_argument, NULL, O_HELP }, { NULL, 0, NULL, 0 }
	};
	int c, v;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_TO: o->r.to = optarg; break;
		case O_INPUT: o->r.input = optarg; break;
		case O_OUTPUT: o->r.output = optarg; break;
		case O_BATCH:
			if (cmd_parse_int(optarg, 1, 8192, &v) != 0)
				return cmd_usage_error(ROTATE_PROG, "--batch takes 1 to 8192 blobs");
			o->r.batch = (size_t)v;
			break;
		case O_MODULE: o->r.module = optarg; break;
		case O_DOMAIN:
			if (cmd_parse_int(optarg, 0, 84, &v) != 0)
				return cmd_usage_error(ROTATE_PROG, "--domain takes 0 to 84");
			o->r.domain = (unsigned)v;
			o->domain_set = 1;
			break;
		case O_HOME: o->home = optarg; break;
		case O_LOG: o->log = optarg; break;
		case O_TIMEOUT:
			if (cmd_parse_int(optarg, 1, 3600, &v) != 0)
				return cmd_usage_error(ROTATE_PROG, "--timeout takes 1 to 3600 seconds");
			o->r.timeout_ms = v * 1000;
			break;
		case O_QUIET: o->quiet = 1; break;
		case O_JSON: o->json = 1; break;
		case O_HELP: fputs(usage_text, stdout); return -1;
		default: return cmd_usage_error(ROTATE_PROG, "reencipher: unknown option %s (see --help)",
		                                argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->r.group = argv[optind++];
	if (optind < argc || (o->r.group == NULL) == (o->r.module == NULL) ||
	    (o->r.module != NULL && !o->domain_set) || o->r.to == NULL || o->r.input == NULL)
		return cmd_usage_error(ROTATE_PROG, "reencipher: give GROUP (or --module and --domain), --to and --input (see --help)");
	return 0;
}

static int
exit_for(const reenc_summary *s)
{
	hsm_rc rc = HSM_OK;
	size_t i;

	for (i = 0; i < s->nreasons; i++) {
		if (strcmp(s->reasons[i].reason, "blob_verify") == 0)
			rc = HSM_ERR_VERIFY;
		else if (strcmp(s->reasons[i].reason, "no_such_key") == 0 && rc != HSM_ERR_VERIFY)
			rc = HSM_ERR_NOT_FOUND;
		else if (rc == HSM_OK)
			rc = HSM_ERR_FORMAT;
	}
	return hsm_exit_code(rc);
}

static int
print_json(const reenc_summary *s, const char *to)
{
	char mk[65], in[65], out[65];
	json_t *j, *why = json_object();
	size_t i;
	int r;

	hex_encode_buf(s->target_mkvp, 32, mk);
	hex_encode_buf(s->in_digest, 32, in);
	hex_encode_buf(s->out_digest, 32, out);
	for (i = 0; why != NULL && i < s->nreasons; i++)
		json_object_set_new(why, s->reasons[i].reason, json_integer((json_int_t)s->reasons[i].n));
	j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:I, s:b, s:s, s:s, s:s, s:s, s:f}",
	              "to", to, "target_mkvp", mk, "in", (json_int_t)s->in, "out", (json_int_t)s->out,
	              "failed", (json_int_t)s->failed, "resumed", (json_int_t)s->resumed,
	              "reasons", why, "files", (json_int_t)s->files, "already_done", s->already_done,
	              "input", s->input, "output", s->output, "input_sha256", in,
	              "output_sha256", out, "seconds", s->seconds);
	r = j != NULL && cmd_print_json(j) == HSM_OK ? 0 : cmd_fail(ROTATE_PROG, HSM_ERR_NOMEM);
	json_decref(j);
	return r;
}

static void
print_text(const reenc_summary *s, const char *to)
{
	char mk[17];
	size_t i;

	hex_encode_buf(s->target_mkvp, 8, mk);
	if (s->already_done)
		printf("Already done earlier (the journal says so); nothing was sent.\n");
	printf("Re-enciphered to the %s key %s...\n", to, mk);
	printf("  in       %" PRIu64 "\n  out      %" PRIu64 "\n  failed   %" PRIu64 "\n",
	       s->in, s->out, s->failed);
	for (i = 0; i < s->nreasons; i++)
		printf("    %-14s %" PRIu64 "\n", s->reasons[i].reason, s->reasons[i].n);
	if (s->resumed > 0)
		printf("  resumed  %" PRIu64 " were done by an earlier run\n", s->resumed);
	printf("  files    %zu (last output: %s)\n", s->files, s->output);
	printf("  time     %.1f s, %.0f blobs/s\n", s->seconds,
	       s->seconds > 0 ? (double)(s->in - s->resumed) / s->seconds : 0.0);
}

/* reencipher.progress: of the input's lines, those not failed are under the
 * target key now (including those an earlier run did). */
static hsm_rc
record_progress(evlog *log, const reenc_summary *s)
{
	ev_actor who = { ROTATE_PROG, "system", NULL, NULL };

	return evrec_reencipher(log, &who, (long long)(s->in - s->failed), (long long)s->in,
	                        NULL, s->target_mkvp, NULL);
}

int
rotate_reencipher(int argc, char **argv)
{
	struct ropts o;
	reenc_summary sum;
	wsconfig *cfg = NULL;
	evlog *log = NULL;
	hsm_rc rc;
	int r;

	memset(&o, 0, sizeof(o));
	if ((r = parse(argc, argv, &o)) != 0)
		return r < 0 ? 0 : r;
	if ((r = rotate_open_config(o.home, &cfg)) != 0)
		return r;
	o.r.cfg = cfg;
	o.r.progress = o.quiet ? NULL : stderr;
	/* the log first: a job whose outcome cannot be recorded does not start */
	if (o.log != NULL && (rc = cer_log_open(o.log, &log)) != HSM_OK)
		goto out;
	rc = reencipher_run(&o.r, &sum);
	if (rc == HSM_OK && log != NULL && (rc = record_progress(log, &sum)) != HSM_OK)
		rc = hsm_fail_wrap(rc, "the blobs are re-enciphered, but the evidence log %s could "
		                   "not record it; run the same command again", o.log);
out:
	evlog_close(&log);
	wsconfig_free(&cfg);
	if (rc != HSM_OK)
		return cmd_fail(ROTATE_PROG, rc);
	if (o.json)
		r = print_json(&sum, o.r.to);
	else
		print_text(&sum, o.r.to);
	return r != 0 ? r : exit_for(&sum);
}
