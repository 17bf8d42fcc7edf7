/* SPDX-License-Identifier: BSD-2-Clause */
/* flow.c - hsmadm-domain signed commands: propose, sign, show, submit, and
 * the interactive run (and the admin/thresholds/zeroize shortcuts). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmdutil.h"
#include "domain.h"
#include "hsmadm/admincmd.h"
#include "hsmadm/adminlook.h"
#include "hsmadm/cjson.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evrec.h"
#include "hsmadm/quorum.h"
#include "hsmadm/signers.h"
#include "hsmadm/submit.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/group.h"
#include "hsmadm/x509util.h"
#include "hsmadm/cardfind.h"
#include "hsmadm/cardsigner.h"
#include "hsmadm/cardprofile.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"

/* ---- params of an operation from the options ---- */

static hsm_rc
pubkey_hex_from_file(const char *path, char **hex)
{
	FILE *f = fopen(path, "r");
	char buf[16384];
	size_t n;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	hsm_rc rc;

	*hex = NULL;
	if (f == NULL)
		return hsm_fail(HSM_ERR_IO, "cannot open %s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strstr(buf, "-----BEGIN PUBLIC KEY-----") != NULL)
		rc = crypto_pub_from_pem(buf, n, &k);
	else if (strstr(buf, "-----BEGIN CERTIFICATE-----") != NULL) {
		if ((rc = x509u_load_pem(path, &x)) == HSM_OK) {
			k = X509_get_pubkey(x);
			rc = k ? HSM_OK : hsm_fail(HSM_ERR_FORMAT, "%s: no public key", path);
		}
	} else
		rc = crypto_priv_load_pem(path, &k);   /* test key files */
	secure_wipe(buf, sizeof(buf));
	if (rc != HSM_OK)
		rc = hsm_fail_wrap(rc, "%s", path);
	else if ((rc = crypto_ec_point(k, &pt, &ptlen)) == HSM_OK)
		rc = hex_encode(pt, ptlen, hex);
	free(pt);
	EVP_PKEY_free(k);
	X509_free(x);
	return rc;
}

static hsm_rc card_admin_params(const struct sopts *o, json_t **params);

static hsm_rc
build_params(const char *op, const struct sopts *o, json_t **params)
{
	char *hex = NULL;
	hsm_rc rc = HSM_OK;

	*params = NULL;
	if (o->params != NULL) {
		if ((rc = cjson_parse(o->params, strlen(o->params), params)) != HSM_OK)
			return hsm_fail_wrap(HSM_ERR_USAGE, "--params");
	} else if (strcmp(op, ADMINCMD_OP_ADMIN_ADD) == 0 && o->card &&
	    o->pubkey_file == NULL && o->pubkey_hex == NULL) {
		if ((rc = card_admin_params(o, params)) != HSM_OK)
			return rc;
	} else if (strcmp(op, ADMINCMD_OP_ADMIN_ADD) == 0) {
		if (o->name == NULL || o->identity == NULL ||
		    (o->pubkey_file == NULL && o->pubkey_hex == NULL))
			return hsm_fail(HSM_ERR_USAGE, "admin add needs --pubkey-file FILE (or "
			    "--pubkey HEX), --name NAME and --identity ID");
		if (o->pubkey_file && (rc = pubkey_hex_from_file(o->pubkey_file, &hex)) != HSM_OK)
			return rc;
		*params = json_pack("{s:s, s:s, s:s}", "pubkey", hex ? hex : o->pubkey_hex,
		    "name", o->name, "identity", o->identity);
		free(hex);
	} else if (strcmp(op, ADMINCMD_OP_ADMIN_REMOVE) == 0) {
		if (o->ski == NULL)
			return hsm_fail(HSM_ERR_USAGE, "admin remove needs --ski HEX (see: admin list)");
		*params = json_pack("{s:s}", "ski", o->ski);
	} else if (strcmp(op, ADMINCMD_OP_THRESHOLDS_SET) == 0) {
		if (o->signature < 0 || o->revocation < 0)
			return hsm_fail(HSM_ERR_USAGE,
			    "thresholds set needs --signature N and --revocation N");
		*params = json_pack("{s:I, s:I}", "signature", (json_int_t)o->signature,
		    "revocation", (json_int_t)o->revocation);
	} else
		*params = json_object();
	if (*params == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = admincmd_check_params(op, *params)) != HSM_OK) {
		json_decref(*params);
		*params = NULL;
		return hsm_fail_wrap(HSM_ERR_USAGE, "%s", op);
	}
	return HSM_OK;
}

/* ---- printing ---- */

static void
print_command(const admincmd *c, FILE *f)
{
	char *sum = NULL, *hex = NULL, *words = NULL;
	char a[32], b[32];
	time_t t;
	struct tm tm;

	if (admincmd_summary(c, &sum) == HSM_OK)
		fprintf(f, "%s.\n", sum);
	if (admincmd_digest_text(c, &hex, &words) == HSM_OK)
		fprintf(f, "Command digest: %s\nRead aloud:     %s\n", hex, words);
	t = (time_t)admincmd_not_before(c);
	gmtime_r(&t, &tm);
	strftime(a, sizeof(a), "%Y-%m-%dT%H:%M:%SZ", &tm);
	t = (time_t)admincmd_not_after(c);
	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "Valid from %s until %s; %zu signature(s) attached.\n", a, b,
	    admincmd_nsigs(c));
	fflush(f);
	free(sum);
	free(hex);
	free(words);
}

static json_t *
command_json(const admincmd *c)
{
	char *sum = NULL, *hex = NULL, *words = NULL;
	json_t *sk = json_array(), *j;
	size_t i;

	(void)admincmd_summary(c, &sum);
	(void)admincmd_digest_text(c, &hex, &words);
	for (i = 0; i < admincmd_nsigs(c); i++) {
		uint8_t s[HSM_SKI_LEN];
		char h[2 * HSM_SKI_LEN + 1];
		if (admincmd_sig_ski(c, i, s) == HSM_OK) {
			hex_encode_buf(s, HSM_SKI_LEN, h);
			json_array_append_new(sk, json_string(h));
		}
	}
	j = json_pack("{s:s, s:s?, s:s?, s:s?, s:I, s:I, s:o, s:O}", "op", admincmd_op(c),
	    "summary", sum, "digest", hex, "digest_words", words,
	    "not_before", (json_int_t)admincmd_not_before(c),
	    "not_after", (json_int_t)admincmd_not_after(c), "signers", sk,
	    "targets", json_object_get(admincmd_body(c), "targets"));
	free(sum);
	free(hex);
	free(words);
	return j;
}

/* ---- cards ---- */

/* admin.add params from an admin card: its 9C public key, its holder as the
 * name, and as identity the card id of the primary card (a backup card
 * names its primary in backup-of), so primary and backup count once. */
static hsm_rc
card_admin_params(const struct sopts *o, json_t **params)
{
	cardfind_want w;
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	char *name = NULL, *hex = NULL;
	EVP_PKEY *pub = NULL;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	cardprofile prof;
	hsm_rc rc;

	*params = NULL;
	memset(&w, 0, sizeof(w));
	w.role = CARD_ROLE_ADMIN;
	w.reader = o->reader;
	if ((rc = pcsc_open(&ctx)) != HSM_OK ||
	    (rc = cardfind_open(ctx, &w, &card, &prof, &name)) != HSM_OK ||
	    (rc = cardsigner_slot_pub(card, PIV_SLOT_SIGN, &pub)) != HSM_OK ||
	    (rc = crypto_ec_point(pub, &pt, &ptlen)) != HSM_OK ||
	    (rc = hex_encode(pt, ptlen, &hex)) != HSM_OK)
		goto out;
	*params = json_pack("{s:s, s:s, s:s}", "pubkey", hex,
	    "name", o->name ? o->name : prof.holder,
	    "identity", o->identity ? o->identity :
	    (prof.backup_of[0] ? prof.backup_of : prof.card_id));
	if (*params == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	free(name);
	free(hex);
	free(pt);
	EVP_PKEY_free(pub);
	piv_free(&card);
	pcsc_close(&ctx);
	return rc;
}

/* ---- subcommands ---- */

static hsm_rc
need_text(const group_member *m, size_t n, const admincmd *c, char *buf, size_t len)
{
	unsigned missing = 0;
	hsm_rc rc = group_preflight(m, n, c, (int64_t)time(NULL), &missing);

	if (rc == HSM_OK)
		snprintf(buf, len, "Every member would accept it now.");
	else if (rc == HSM_ERR_QUORUM)
		snprintf(buf, len, "It needs %u more signature(s) from administrators of the "
		    "group.", missing);
	else
		snprintf(buf, len, "Note: %s", hsm_errmsg());
	return rc;
}

static int
do_propose(const struct gopts *g, const char *group, const char *op, const struct sopts *o,
           int run);

static int
op_shortcut(const struct gopts *g, int argc, char **argv, const char *op, int skip)
{
	struct sopts o;
	char *pos[32];
	int npos, r;

	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos != skip + 1)
		return cmd_usage_error(PROG, "give the domain group: %s GROUP [options]", argv[0]);
	return do_propose(g, pos[skip], op, &o, o.out == NULL);
}

int
cmd_admin(const struct gopts *g, int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error(PROG, "usage: admin add|remove|list GROUP");
	if (strcmp(argv[1], "list") == 0) {
		if (argc != 3)
			return cmd_usage_error(PROG, "usage: admin list GROUP");
		return cmd_admin_list(g, argv[2]);
	}
	if (strcmp(argv[1], "add") == 0)
		return op_shortcut(g, argc - 1, argv + 1, ADMINCMD_OP_ADMIN_ADD, 0);
	if (strcmp(argv[1], "remove") == 0)
		return op_shortcut(g, argc - 1, argv + 1, ADMINCMD_OP_ADMIN_REMOVE, 0);
	return cmd_usage_error(PROG, "unknown admin command \"%s\"", argv[1]);
}

int
cmd_thresholds(const struct gopts *g, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "set") != 0)
		return cmd_usage_error(PROG, "usage: thresholds set GROUP --signature N --revocation N");
	return op_shortcut(g, argc - 1, argv + 1, ADMINCMD_OP_THRESHOLDS_SET, 0);
}

int
cmd_zeroize(const struct gopts *g, int argc, char **argv)
{
	return op_shortcut(g, argc, argv, ADMINCMD_OP_ZEROIZE, 0);
}

static int
generic_op(const struct gopts *g, int argc, char **argv, int run)
{
	struct sopts o;
	char *pos[32];
	int npos, r;

	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos != 2)
		return cmd_usage_error(PROG, "usage: %s GROUP OP [options]", argv[0]);
	if (!run && o.out == NULL)
		return cmd_usage_error(PROG, "propose needs --out FILE");
	if (!admincmd_op_known(pos[1]))
		return cmd_usage_error(PROG, "unknown operation \"%s\" (admin.add, admin.remove, "
		    "thresholds.set, zeroize, importer.generate, mk.approve_load, mk.load_part, mk.commit, "
		    "mk.activate, mk.backout, mk.clear_pending, mk.destroy_old)", pos[1]);
	return do_propose(g, pos[0], pos[1], &o, run);
}

int
cmd_propose(const struct gopts *g, int argc, char **argv)
{
	return generic_op(g, argc, argv, 0);
}

int
cmd_run(const struct gopts *g, int argc, char **argv)
{
	return generic_op(g, argc, argv, 1);
}

/* ---- evidence and submission ---- */

static void
say_line(void *ctx, const char *line)
{
	FILE *f = *(const int *)ctx ? stderr : stdout;   /* ctx: the --json flag */

	/* at once, not at exit: stdout into a pipe or file is block-buffered,
	 * and the next card prompt goes to stderr */
	fprintf(f, "%s\n", line);
	fflush(f);
}

/* The evidence log of this command, opened (and locked) once for all of it,
 * before anything is signed or sent: a command never reaches a module while
 * its log cannot be written. */
static hsm_rc
ev_open(const struct gopts *g, const char *path, struct submit_ev *ev)
{
	hsm_rc rc;

	memset(ev, 0, sizeof(*ev));
	if (path == NULL)
		return HSM_OK;
	ev->path = path;
	ev->say = say_line;
	ev->ctx = (void *)&g->json;
	ev->system.name = PROG;
	ev->system.role = "system";
	if ((rc = evlog_open(path, NULL, &ev->log)) != HSM_OK)
		return hsm_fail_wrap(rc, "nothing was signed or sent");
	return HSM_OK;
}

static void
ev_close(struct submit_ev *ev)
{
	submit_ev_clear(ev);
	evlog_close(&ev->log);
}

/* file (may be NULL): the signed command's file, named in the way to
 * complete the group when this command reached only some members. */
static int
submit_and_print(const struct gopts *g, group_member *m, size_t n, const admincmd *c,
                 int roll_forward, struct submit_ev *ev, const char *file)
{
	group_report *rep = NULL;
	int partial = 0, ret;
	hsm_rc rc;

	rc = submit_run(ev, m, n, c, roll_forward, NULL, &rep);
	for (size_t i = 0; rep != NULL && i < rep->n; i++)
		if (rep->rows[i].status == GROUP_APPLIED || rep->rows[i].status == GROUP_ALREADY)
			partial = rc == HSM_ERR_DIVERGED;
	if (rep != NULL) {
		if (g->json) {
			json_t *j = group_report_json(rep);
			cmd_print_json(j);
			json_decref(j);
		} else {
			group_report_print(rep, stdout);
		}
		group_report_free(&rep);
	}
	if (rc == HSM_OK)
		return 0;
	ret = cmd_fail(PROG, rc);
	if (partial && file != NULL)
		fprintf(stderr, "To complete the group: " PROG " submit %s --roll-forward\n", file);
	return ret;
}

/* Where run's signatures come from: --key-file in order, then with --card
 * the card in --reader, each after Enter. */
static hsm_rc
open_signers(const struct sopts *o, signers **out)
{
	const char *readers[1] = { o->reader };
	struct signers_opts so = {
		.key_files = o->key_files, .nkeys = (size_t)o->nkeys,
		.cards = o->card ? SIGNERS_CARDS_ENTER : SIGNERS_CARDS_NONE,
		.readers = readers, .nreaders = 1,
		.pin_fd = o->pin_fd, .enter_fd = o->confirm_fd, .timeout_ms = 0,
	};

	return signers_new(&so, out);
}

/* propose without run: write the file and say what it still needs. */
static hsm_rc
save_proposal(const struct gopts *g, const group_member *m, size_t n, const admincmd *c,
              const char *out)
{
	char need[512];
	hsm_rc rc;

	if ((rc = admincmd_save(c, out)) != HSM_OK)
		return rc;
	need_text(m, n, c, need, sizeof(need));
	if (g->json) {
		json_t *j = command_json(c);
		json_object_set_new(j, "file", json_string(out));
		json_object_set_new(j, "next", json_string(need));
		cmd_print_json(j);
		json_decref(j);
	} else {
		print_command(c, stdout);
		printf("Proposal written to %s. %s\nEach administrator signs it with: "
		    PROG " sign %s --card\n", out, need, out);
	}
	return HSM_OK;
}

/* run: collect the signatures (every one recorded at once with --evidence),
 * then submit under the same open log. */
static hsm_rc
sign_and_submit(const struct gopts *g, const char *group, const struct sopts *o,
                group_member *m, size_t n, admincmd *c, int *ret)
{
	struct submit_ev ev;
	struct quorum_io qio = { say_line, (void *)&g->json, NULL };
	signers *src = NULL;
	hsm_rc rc;

	print_command(c, g->json ? stderr : stdout);
	if (strcmp(admincmd_op(c), ADMINCMD_OP_ZEROIZE) == 0 && !o->yes) {
		char q[512];
		/* In imprint mode no signature stands between a typo and the erase. */
		snprintf(q, sizeof(q), "This erases the administrators, thresholds and master "
		    "keys of every member of group %s.", group);
		if ((rc = cmd_confirm_typed(q, group, o->confirm_fd)) != HSM_OK)
			return rc;
	}
	if ((rc = ev_open(g, o->evidence, &ev)) != HSM_OK)
		goto out;
	qio.log = ev.log;
	if ((rc = open_signers(o, &src)) != HSM_OK ||
	    (rc = quorum_collect(m, n, c, src, &qio, NULL)) != HSM_OK)
		goto out;
	if (o->out != NULL && (rc = admincmd_save(c, o->out)) != HSM_OK)
		goto out;
	*ret = submit_and_print(g, m, n, c, 0, &ev, o->out);
out:
	signers_free(&src);
	ev_close(&ev);
	return rc;
}

/* admin.add: say so when the new name or identity looks like an admin's the
 * members have (stderr, before anything is signed). */
static void
warn_lookalike(const group_member *m, size_t n, const json_t *params)
{
	json_t **states = calloc(n ? n : 1, sizeof(*states));
	char notes[2048], *line, *save = NULL;

	if (states == NULL || group_read(m, n, states) != HSM_OK) {
		free(states);
		hsm_err_clear();
		return;   /* the command's own checks report an unreachable member */
	}
	if (adminlook_similar(states, n, json_string_value(json_object_get(params, "name")),
	    json_string_value(json_object_get(params, "identity")), notes, sizeof(notes)) > 0)
		for (line = strtok_r(notes, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			fprintf(stderr, PROG ": note: %s\n", line);
	for (size_t i = 0; i < n; i++)
		json_decref(states[i]);
	free(states);
}

static int
do_propose(const struct gopts *g, const char *group, const char *op, const struct sopts *o,
           int run)
{
	wsconfig *cfg = NULL;
	group_member *m = NULL;
	size_t n = 0;
	json_t *params = NULL;
	admincmd *c = NULL;
	int ret = 0;
	hsm_rc rc;

	if ((rc = build_params(op, o, &params)) != HSM_OK ||
	    (rc = open_config(g, &cfg)) != HSM_OK ||
	    (rc = wsconfig_group_open(cfg, group, g->timeout_ms, &m, &n)) != HSM_OK ||
	    (rc = group_propose(m, n, op, params, (int64_t)time(NULL), o->valid_for, &c)) != HSM_OK)
		goto out;
	if (strcmp(op, ADMINCMD_OP_ADMIN_ADD) == 0)
		warn_lookalike(m, n, params);
	if (!run)
		rc = save_proposal(g, m, n, c, o->out);
	else
		rc = sign_and_submit(g, group, o, m, n, c, &ret);
out:
	if (rc != HSM_OK)
		ret = cmd_fail(PROG, rc);
	json_decref(params);
	admincmd_free(&c);
	wsconfig_group_close(&m, n);
	wsconfig_free(&cfg);
	return ret;
}

/* command.signed for the signature s just added (sign --evidence). */
static hsm_rc
record_signed(evlog *log, const admincmd *c, const hsm_signer *s)
{
	uint8_t ski[HSM_SKI_LEN];
	char hex[2 * HSM_SKI_LEN + 1];
	ev_actor who = { signer_label(s), "admin", NULL, hex };
	hsm_rc rc;

	if ((rc = crypto_ski(signer_pub(s), ski)) != HSM_OK)
		return rc;
	hex_encode_buf(ski, HSM_SKI_LEN, hex);
	if ((rc = evrec_command_signed(log, &who, c, ski, NULL)) != HSM_OK)
		return hsm_fail_wrap(rc, "recording the signature in the evidence log");
	return HSM_OK;
}

int
cmd_sign(const struct gopts *g, int argc, char **argv)
{
	struct sopts o;
	char *pos[32];
	int npos, r;
	admincmd *c = NULL;
	hsm_signer *s = NULL;
	signers *src = NULL;
	struct submit_ev ev;
	hsm_rc rc;

	memset(&ev, 0, sizeof(ev));
	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos != 1)
		return cmd_usage_error(PROG, "usage: sign FILE (--card | --key-file KEY)");
	if ((o.nkeys == 1) == (o.card != 0) || o.nkeys > 1)
		return cmd_usage_error(PROG, "sign needs exactly one of --card or --key-file KEY");
	if ((rc = admincmd_load(pos[0], &c)) != HSM_OK ||
	    (rc = ev_open(g, o.evidence, &ev)) != HSM_OK)
		goto out;
	/* What will change, and the digest, before any PIN is asked. */
	print_command(c, g->json ? stderr : stdout);
	{
		const char *readers[1] = { o.reader };
		struct signers_opts so = { .key_files = o.key_files, .nkeys = (size_t)o.nkeys,
		    .cards = o.card ? SIGNERS_CARDS_READERS : SIGNERS_CARDS_NONE,
		    .readers = readers, .nreaders = 1, .pin_fd = o.pin_fd, .enter_fd = -1 };
		if ((rc = signers_new(&so, &src)) != HSM_OK ||
		    (rc = signers_next(src, admincmd_op(c), 1, &s)) != HSM_OK)
			goto out;
	}
	if ((rc = admincmd_sign(c, s)) != HSM_OK ||
	    (rc = admincmd_save(c, pos[0])) != HSM_OK)
		goto out;
	if (ev.log != NULL && (rc = record_signed(ev.log, c, s)) != HSM_OK)
		goto out;
	if (g->json) {
		json_t *j = command_json(c);
		json_object_set_new(j, "file", json_string(pos[0]));
		json_object_set_new(j, "signed_by", json_string(signer_label(s)));
		cmd_print_json(j);
		json_decref(j);
	} else
		printf("Signed by %s; %s now has %zu signature(s).\n", signer_label(s), pos[0],
		    admincmd_nsigs(c));
out:
	signers_free(&src);   /* frees s too */
	ev_close(&ev);
	admincmd_free(&c);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

static hsm_rc infer_group(const wsconfig *cfg, const admincmd *c, const char **name);

/* The admin of the members' states whose SKI is hex: its name and key. */
static const json_t *
admin_by_ski(json_t *const *states, size_t n, const char *hex)
{
	const json_t *a;
	size_t i, k;

	for (i = 0; i < n; i++)
		json_array_foreach(json_object_get(states[i], "admins"), k, a)
			if (json_is_string(json_object_get(a, "ski")) &&
			    strcmp(json_string_value(json_object_get(a, "ski")), hex) == 0)
				return a;
	return NULL;
}

/* Each signature's verdict against the group's own admin list: {ski,
 * signer (name or null), verdict: valid | invalid | not_an_admin |
 * not_checked, why (not_checked only)}. states NULL: the group could not be
 * read (why says so). *worst: HSM_ERR_VERIFY if any is bad or by no admin. */
static json_t *
sig_verdicts(const admincmd *c, json_t *const *states, size_t n, const char *why,
             hsm_rc *worst)
{
	json_t *arr = json_array();

	*worst = HSM_OK;
	for (size_t i = 0; arr != NULL && i < admincmd_nsigs(c); i++) {
		uint8_t ski[HSM_SKI_LEN], kski[HSM_SKI_LEN];
		char h[2 * HSM_SKI_LEN + 1];
		const json_t *a = NULL;
		const char *verdict = "not_checked";
		EVP_PKEY *pub = NULL;

		if (admincmd_sig_ski(c, i, ski) != HSM_OK)
			continue;
		hex_encode_buf(ski, HSM_SKI_LEN, h);
		if (states != NULL && (a = admin_by_ski(states, n, h)) == NULL)
			verdict = "not_an_admin";
		else if (states != NULL)
			verdict = admincmd_pubkey_from_hex(json_string_value(json_object_get(a,
			    "pubkey")), &pub, kski) == HSM_OK && admincmd_sig_verify(c, i, pub) ==
			    HSM_OK ? "valid" : "invalid";
		if (strcmp(verdict, "valid") != 0 && strcmp(verdict, "not_checked") != 0)
			*worst = HSM_ERR_VERIFY;
		json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:s?}", "ski", h, "signer",
		    a != NULL && json_is_string(json_object_get(a, "name")) ?
		    json_incref(json_object_get(a, "name")) : json_null(), "verdict",
		    verdict, "why", states == NULL ? why : NULL));
		EVP_PKEY_free(pub);
	}
	return arr;
}

/* One line per signature: who signed (by the group's admin list) and whether
 * it verifies. */
static void
print_verdicts(const json_t *v)
{
	const json_t *e;
	size_t i;

	json_array_foreach(v, i, e) {
		const char *h = json_string_value(json_object_get(e, "ski"));
		const char *who = json_string_value(json_object_get(e, "signer"));
		const char *vd = json_string_value(json_object_get(e, "verdict"));

		if (strcmp(vd, "not_checked") == 0)
			printf("  signed by SKI %.16s... (not checked: %s)\n", h,
			       json_string_value(json_object_get(e, "why")));
		else if (strcmp(vd, "not_an_admin") == 0)
			printf("  signed by SKI %.16s...: NOT an administrator of this group\n", h);
		else
			printf("  signed by %s (SKI %.16s...): signature %s\n", who ? who : "?", h,
			       strcmp(vd, "valid") == 0 ? "valid" : "INVALID");
	}
}

/* The states of the group holding every target of c (NULL: not reachable;
 * *why says so). */
static json_t **
show_states(const struct gopts *g, const admincmd *c, const char *group, size_t *n,
            char *why, size_t whylen)
{
	wsconfig *cfg = NULL;
	group_member *m = NULL;
	json_t **st = NULL;
	hsm_rc rc;

	*n = 0;
	if ((rc = open_config(g, &cfg)) != HSM_OK ||
	    (group == NULL && (rc = infer_group(cfg, c, &group)) != HSM_OK) ||
	    (rc = wsconfig_group_open(cfg, group, g->timeout_ms, &m, n)) != HSM_OK ||
	    (st = calloc(*n, sizeof(*st))) == NULL ||
	    (rc = group_read(m, *n, st)) != HSM_OK) {
		snprintf(why, whylen, "%s", rc != HSM_OK ? hsm_errmsg() : "out of memory");
		free(st);
		st = NULL;
	}
	wsconfig_group_close(&m, *n);
	wsconfig_free(&cfg);
	return st;
}

int
cmd_show(const struct gopts *g, int argc, char **argv)
{
	struct sopts o;
	char *pos[32], why[512] = "";
	int npos, r;
	admincmd *c = NULL;
	json_t **st = NULL, *v = NULL;
	size_t n = 0;
	hsm_rc rc = HSM_OK;

	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos != 1)
		return cmd_usage_error(PROG, "usage: show FILE [--group G]");
	if ((rc = admincmd_load(pos[0], &c)) != HSM_OK)
		return cmd_fail(PROG, rc);
	/* who signed, checked against the group's own admin list */
	st = show_states(g, c, o.group, &n, why, sizeof(why));
	if ((v = sig_verdicts(c, st, n, why, &rc)) == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	else if (g->json) {
		json_t *j = command_json(c);
		json_object_set(j, "signature_checks", v);
		cmd_print_json(j);
		json_decref(j);
	} else {
		print_command(c, stdout);
		print_verdicts(v);
	}
	json_decref(v);
	if (rc == HSM_ERR_VERIFY)
		hsm_fail(rc, "a signature of this command is not valid, or not an "
		    "administrator's: do not submit it");
	for (size_t i = 0; st != NULL && i < n; i++)
		json_decref(st[i]);
	free(st);
	admincmd_free(&c);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

/* The configured group whose members include every target of c. */
static hsm_rc
infer_group(const wsconfig *cfg, const admincmd *c, const char **name)
{
	json_t *gr;
	size_t i, k;

	json_array_foreach(json_object_get(wsconfig_json(cfg), "groups"), i, gr) {
		const char *gn = json_string_value(json_object_get(gr, "name"));
		wsc_member *ms = NULL;
		size_t nm = 0, j;
		int all = 1;
		if (gn == NULL || wsconfig_group_find(cfg, gn, &ms, &nm) != HSM_OK)
			continue;
		for (k = 0; k < admincmd_ntargets(c) && all; k++) {
			admincmd_target t;
			admincmd_target_at(c, k, &t);
			for (j = 0; j < nm; j++)
				if (ms[j].domain == t.domain && strcmp(ms[j].module, t.module) == 0)
					break;
			if (j == nm)
				all = 0;
		}
		free(ms);
		if (all) {
			*name = gn;
			return HSM_OK;
		}
	}
	return hsm_fail(HSM_ERR_NOT_FOUND, "no configured domain group holds every target of "
	    "this command; give --group NAME");
}

int
cmd_submit(const struct gopts *g, int argc, char **argv)
{
	struct sopts o;
	char *pos[32];
	int npos, r, ret = 0;
	admincmd *c = NULL;
	wsconfig *cfg = NULL;
	group_member *m = NULL;
	size_t n = 0;
	const char *group;
	struct submit_ev ev;
	hsm_rc rc;

	memset(&ev, 0, sizeof(ev));
	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos != 1)
		return cmd_usage_error(PROG, "usage: submit FILE [--group G] [--roll-forward]");
	group = o.group;
	if ((rc = admincmd_load(pos[0], &c)) != HSM_OK ||
	    (rc = open_config(g, &cfg)) != HSM_OK ||
	    (group == NULL && (rc = infer_group(cfg, c, &group)) != HSM_OK) ||
	    (rc = wsconfig_group_open(cfg, group, g->timeout_ms, &m, &n)) != HSM_OK) {
		ret = cmd_fail(PROG, rc);
		goto out;
	}
	if (!g->json)
		print_command(c, stdout);
	if ((rc = ev_open(g, o.evidence, &ev)) != HSM_OK) {
		ret = cmd_fail(PROG, rc);
		goto out;
	}
	ret = submit_and_print(g, m, n, c, o.roll_forward, &ev, pos[0]);
out:
	ev_close(&ev);
	wsconfig_group_close(&m, n);
	wsconfig_free(&cfg);
	admincmd_free(&c);
	return ret;
}
