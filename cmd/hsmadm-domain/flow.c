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
#include "hsmadm/cjson.h"
#include "hsmadm/evlog.h"
#include "hsmadm/recover.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/group.h"
#include "hsmadm/x509util.h"
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

static void
print_report(const json_t *rep)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(rep, "members"), i, e) {
		const json_t *err = json_object_get(e, "error");
		const json_t *ca = json_object_get(e, "counter_after");
		printf("  %s domain %lld: %-15s counter %lld%s",
		    json_string_value(json_object_get(e, "module")),
		    (long long)json_integer_value(json_object_get(e, "domain")),
		    json_string_value(json_object_get(e, "status")),
		    (long long)json_integer_value(json_object_get(e, "counter_before")),
		    ca ? " -> " : "");
		if (ca)
			printf("%lld", (long long)json_integer_value(ca));
		if (json_is_true(json_object_get(e, "recovered")))
			printf("  (%s; its receipt was fetched again)",
			    err ? "applied earlier" : "its answer was lost");
		else if (err)
			printf("  (%s)", json_string_value(json_object_get(err, "message")));
		printf("\n");
	}
	printf("%s\n", json_string_value(json_object_get(rep, "message")));
	if (json_is_true(json_object_get(rep, "group_equal")))
		printf("The group's members are configured the same.\n");
	else if (json_object_get(rep, "compare"))
		printf("The group's members now DIFFER; see: " PROG " group compare\n");
}

/* ---- signers ---- */

struct card_sess {
	pcsc_ctx *ctx;
	piv      *card;
};

static void
card_close(struct card_sess *cs)
{
	piv_free(&cs->card);
	pcsc_close(&cs->ctx);
}

static hsm_rc
card_signer(const char *reader, int pin_fd, struct card_sess *cs, hsm_signer **s)
{
	char *name = NULL, label[512];
	cardprofile prof;
	hsm_rc rc;

	memset(cs, 0, sizeof(*cs));
	if ((rc = pcsc_open(&cs->ctx)) != HSM_OK ||
	    (rc = pcsc_find_reader(cs->ctx, reader, &name)) != HSM_OK ||
	    (rc = piv_connect(cs->ctx, name, &cs->card)) != HSM_OK)
		goto out;
	if (cardprofile_read(cs->card, &prof) == HSM_OK)
		snprintf(label, sizeof(label), "the card of %s", prof.holder);
	else
		snprintf(label, sizeof(label), "the card in %s", name);
	rc = cardsigner_new(cs->card, pin_fd, label, s);
out:
	free(name);
	if (rc != HSM_OK)
		card_close(cs);
	return rc;
}

/* admin.add params from an admin card: its 9C public key, its holder as the
 * name, and as identity the card id of the primary card (a backup card
 * names its primary in backup-of), so primary and backup count once. */
static hsm_rc
card_admin_params(const struct sopts *o, json_t **params)
{
	struct card_sess cs = { NULL, NULL };
	char *name = NULL, *hex = NULL;
	EVP_PKEY *pub = NULL;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	cardprofile prof;
	hsm_rc rc;

	*params = NULL;
	if ((rc = pcsc_open(&cs.ctx)) != HSM_OK ||
	    (rc = pcsc_find_reader(cs.ctx, o->reader, &name)) != HSM_OK ||
	    (rc = piv_connect(cs.ctx, name, &cs.card)) != HSM_OK)
		goto out;
	if ((rc = cardprofile_read(cs.card, &prof)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "the card in %s has no hsmadm profile; initialize it "
		    "with: hsmadm-card init --role admin", name);
		goto out;
	}
	if ((rc = cardsigner_slot_pub(cs.card, PIV_SLOT_SIGN, &pub)) != HSM_OK ||
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
	card_close(&cs);
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
		    "thresholds.set, zeroize, importer.generate, mk.load_part, mk.commit, "
		    "mk.activate, mk.clear_pending, mk.destroy_old)", pos[1]);
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

/* Ask on the terminal (or fd) for the next card; 0 = go on, 1 = stop.
 * Byte by byte, so that nothing after the line is consumed from fd. */
static int
ask_next_card(unsigned missing, int fd)
{
	int in = fd, opened = 0, stop = 0, first = 1;
	char ch;

	if (in < 0) {
		if ((in = open("/dev/tty", O_RDONLY | O_CLOEXEC)) < 0)
			return 1;
		opened = 1;
	}
	fprintf(stderr, "%u more signature(s) needed. Insert the card of another "
	    "administrator and press Enter (q to stop): ", missing);
	fflush(stderr);
	for (;;) {
		ssize_t r = read(in, &ch, 1);
		if (r <= 0) {
			stop = 1;
			break;
		}
		if (ch == '\n')
			break;
		if (first && ch == 'q')
			stop = 1;
		first = 0;
	}
	if (opened)
		close(in);
	return stop;
}

/* One record into the evidence log (created if missing). */
static hsm_rc
ev_append(const char *path, const char *type, const json_t *actor, const json_t *body)
{
	evlog *log = NULL;
	hsm_rc rc;

	if ((rc = evlog_open(path, NULL, &log)) == HSM_OK)
		rc = evlog_append(log, type, actor, body, NULL);
	evlog_close(&log);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "evidence log %s", path);
	return HSM_OK;
}

/* The same module, domain, counter and command as a receipt in the log? */
static int
same_receipt(const json_t *a, const json_t *b)
{
	static const char *const keys[] = { "module", "domain", "counter_before",
	    "command_digest" };
	const json_t *x = json_object_get(a, "body"), *y = json_object_get(b, "body");
	size_t k;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (!json_equal(json_object_get(x, keys[k]), json_object_get(y, keys[k])))
			return 0;
	return x != NULL;
}

/* Drop from receipts those the log already holds: a roll-forward fetches
 * again the receipts of members that were past the command's counter, and
 * the log must not list a change twice (the audit would see a replay).
 * A log that does not exist yet holds none. */
static hsm_rc
drop_logged(const char *path, json_t *receipts)
{
	evlog_reader *rd = NULL;
	evlog_record rec;
	const json_t *r;
	size_t i, k;
	hsm_rc rc;

	memset(&rec, 0, sizeof(rec));
	if (access(path, F_OK) != 0)
		return HSM_OK;
	if ((rc = evlog_reader_open(path, &rd)) != HSM_OK)
		return hsm_fail_wrap(rc, "evidence log %s", path);
	while ((rc = evlog_reader_next(rd, &rec)) == HSM_OK) {
		if (strcmp(rec.type, EV_COMMAND_APPLIED) != 0)
			continue;
		json_array_foreach(json_object_get(rec.body, "receipts"), i, r)
			for (k = 0; k < json_array_size(receipts); k++)
				if (same_receipt(json_array_get(receipts, k), r)) {
					json_array_remove(receipts, k);
					break;
				}
	}
	evlog_record_clear(&rec);
	evlog_reader_free(&rd);
	/* a torn last line is the writer's to repair (evlog_open); it holds
	 * no complete record to compare with */
	if (rc == HSM_ERR_NOT_FOUND || rc == HSM_ERR_FORMAT)
		return HSM_OK;
	return hsm_fail_wrap(rc, "evidence log %s", path);
}

/* command.applied with every receipt the modules gave (also when the group
 * was left partly applied: those receipts are what happened), including the
 * receipts the engine fetched again for answers that were lost, less those
 * the log already holds. */
static hsm_rc
ev_applied(const char *path, const admincmd *c, const json_t *rep)
{
	json_t *receipts = json_array(), *e, *file = NULL, *body = NULL, *actor = NULL;
	size_t i;
	hsm_rc rc;

	json_array_foreach(json_object_get(rep, "members"), i, e)
		if (json_object_get(e, "receipt"))
			json_array_append(receipts, json_object_get(e, "receipt"));
	if ((rc = drop_logged(path, receipts)) != HSM_OK) {
		json_decref(receipts);
		return rc;
	}
	if (json_array_size(receipts) == 0) {
		json_decref(receipts);
		return HSM_OK;
	}
	if ((rc = admincmd_to_json(c, &file)) != HSM_OK) {
		json_decref(receipts);
		return rc;
	}
	body = json_pack("{s:o, s:o}", "command", file, "receipts", receipts);
	actor = json_pack("{s:s, s:s}", "name", PROG, "role", "system");
	rc = (body && actor) ? ev_append(path, EV_COMMAND_APPLIED, actor, body)
	    : hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_decref(body);
	json_decref(actor);
	return rc;
}

/*
 * Before a command is submitted with --evidence: a member that applied an
 * earlier command of this log whose answer (and receipt) was lost, and that
 * was not rolled forward, is past what the log holds. Record those receipts
 * first (fetched again, verified), or the log would have a counter gap.
 */
static hsm_rc
ev_fill_gaps(const char *path, const group_member *m, size_t n)
{
	json_t *bodies = NULL, *body, *actor = NULL;
	char what[256];
	size_t i;
	hsm_rc rc;

	/* a torn last line is the writer's to repair (evlog_open); what came
	 * before it is what the log holds */
	if ((rc = recover_lost_receipts(path, m, n, 1, &bodies)) != HSM_OK)
		goto out;
	if (json_array_size(bodies) > 0 &&
	    (actor = json_pack("{s:s, s:s}", "name", PROG, "role", "system")) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(bodies, i, body) {
		if ((rc = ev_append(path, EV_COMMAND_APPLIED, actor, body)) != HSM_OK)
			goto out;
		recover_receipt_text(body, what, sizeof(what));
		fprintf(stderr, PROG ": recorded the receipt of %s, whose answer was lost: "
		    "fetched again from the module and verified\n", what);
	}
out:
	json_decref(bodies);
	json_decref(actor);
	return rc;
}

static int
submit_and_print(const struct gopts *g, group_member *m, size_t n, const admincmd *c,
                 int roll_forward, const char *evidence)
{
	json_t *rep = NULL;
	hsm_rc rc, erc = HSM_OK;

	if (evidence != NULL && (rc = ev_fill_gaps(evidence, m, n)) != HSM_OK)
		return cmd_fail(PROG, hsm_fail_wrap(rc, "evidence log %s: nothing was sent",
		    evidence));
	rc = group_submit(m, n, c, (int64_t)time(NULL), roll_forward, &rep);
	if (rep != NULL) {
		if (g->json)
			cmd_print_json(rep);
		else
			print_report(rep);
		if (evidence != NULL) {
			char keep[1024];
			snprintf(keep, sizeof(keep), "%s", hsm_errmsg());
			erc = ev_applied(evidence, c, rep);
			if (erc != HSM_OK)
				fprintf(stderr, PROG ": %s\n", hsm_errmsg());
			if (rc != HSM_OK)
				hsm_fail(rc, "%s", keep);
		}
		json_decref(rep);
	}
	if (rc != HSM_OK)
		return cmd_fail(PROG, rc);
	if (erc != HSM_OK)
		return hsm_exit_code(erc);
	return 0;
}

/* command.signed for the signature just added by s. */
static hsm_rc
ev_signed(const char *path, const admincmd *c, hsm_signer *s)
{
	json_t *file = NULL, *sig, *body = NULL, *actor = NULL;
	char *hex = NULL;
	hsm_rc rc;

	if ((rc = admincmd_to_json(c, &file)) != HSM_OK ||
	    (rc = admincmd_digest_text(c, &hex, NULL)) != HSM_OK)
		goto out;
	sig = json_array_get(json_object_get(file, "signatures"),
	    json_array_size(json_object_get(file, "signatures")) - 1);
	body = json_pack("{s:O, s:s, s:O, s:O}", "command_body", json_object_get(file, "body"),
	    "digest", hex, "ski", json_object_get(sig, "ski"),
	    "signature", json_object_get(sig, "signature"));
	actor = json_pack("{s:s, s:s, s:O}", "name", signer_label(s), "role", "admin",
	    "ski", json_object_get(sig, "ski"));
	rc = (body && actor) ? ev_append(path, EV_COMMAND_SIGNED, actor, body)
	    : hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	json_decref(file);
	json_decref(body);
	json_decref(actor);
	free(hex);
	return rc;
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
	char need[512];
	int next_key = 0, ret = 0;
	hsm_rc rc;

	if ((rc = build_params(op, o, &params)) != HSM_OK) {
		ret = cmd_fail(PROG, rc);
		goto done;
	}
	if ((rc = open_config(g, &cfg)) != HSM_OK ||
	    (rc = wsconfig_group_open(cfg, group, g->timeout_ms, &m, &n)) != HSM_OK ||
	    (rc = group_propose(m, n, op, params, (int64_t)time(NULL), o->valid_for, &c)) != HSM_OK)
		goto out;
	if (!run) {
		if ((rc = admincmd_save(c, o->out)) != HSM_OK)
			goto out;
		need_text(m, n, c, need, sizeof(need));
		if (g->json) {
			json_t *j = command_json(c);
			json_object_set_new(j, "file", json_string(o->out));
			json_object_set_new(j, "next", json_string(need));
			cmd_print_json(j);
			json_decref(j);
		} else {
			print_command(c, stdout);
			printf("Proposal written to %s. %s\nEach administrator signs it with: "
			    PROG " sign %s --card\n", o->out, need, o->out);
		}
		goto out;
	}
	/* Interactive: collect signatures until every member would accept. */
	print_command(c, g->json ? stderr : stdout);
	if (strcmp(op, ADMINCMD_OP_ZEROIZE) == 0 && !o->yes) {
		char q[512];
		/* In imprint mode no signature stands between a typo and the erase. */
		snprintf(q, sizeof(q), "This erases the administrators, thresholds and master "
		    "keys of every member of group %s.", group);
		if ((rc = cmd_confirm_typed(q, group, o->confirm_fd)) != HSM_OK)
			goto out;
	}
	for (;;) {
		hsm_signer *s = NULL;
		struct card_sess cs = { NULL, NULL };
		unsigned missing = 0;

		hsm_err_clear();
		rc = group_preflight(m, n, c, (int64_t)time(NULL), &missing);
		if (rc == HSM_OK)
			break;
		if (rc != HSM_ERR_QUORUM)
			goto out;
		if (next_key < o->nkeys) {
			if ((rc = signer_from_keyfile(o->key_files[next_key++], &s)) != HSM_OK)
				goto out;
		} else if (o->card) {
			if (ask_next_card(missing, o->confirm_fd)) {
				rc = hsm_fail(HSM_ERR_QUORUM, "stopped with %u signature(s) still "
				    "needed; nothing was changed", missing);
				goto out;
			}
			if ((rc = card_signer(o->reader, o->pin_fd, &cs, &s)) != HSM_OK) {
				fprintf(stderr, PROG ": %s\n", hsm_errmsg());
				continue;
			}
		} else {
			rc = hsm_fail(HSM_ERR_QUORUM, "%u more signature(s) needed; give more "
			    "--key-file or use --card. Nothing was changed", missing);
			goto out;
		}
		rc = admincmd_sign(c, s);
		if (rc == HSM_OK) {
			/* at once, not at exit: stdout into a pipe or file is
			 * block-buffered, and the next card prompt goes to stderr */
			fprintf(g->json ? stderr : stdout, "Signed by %s.\n", signer_label(s));
			fflush(stdout);
		}
		if (rc == HSM_OK && o->evidence != NULL)
			rc = ev_signed(o->evidence, c, s);
		signer_free(&s);
		card_close(&cs);
		if (rc == HSM_ERR_EXISTS) {
			fprintf(stderr, PROG ": %s; use another administrator's card\n", hsm_errmsg());
			continue;
		}
		if (rc != HSM_OK)
			goto out;
	}
	if (o->out != NULL && (rc = admincmd_save(c, o->out)) != HSM_OK)
		goto out;
	ret = submit_and_print(g, m, n, c, 0, o->evidence);
	rc = HSM_OK;
out:
	if (rc != HSM_OK)
		ret = cmd_fail(PROG, rc);
done:
	json_decref(params);
	admincmd_free(&c);
	wsconfig_group_close(&m, n);
	wsconfig_free(&cfg);
	return ret;
}

int
cmd_sign(const struct gopts *g, int argc, char **argv)
{
	struct sopts o;
	char *pos[32];
	int npos, r;
	admincmd *c = NULL;
	hsm_signer *s = NULL;
	struct card_sess cs = { NULL, NULL };
	hsm_rc rc;

	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos != 1)
		return cmd_usage_error(PROG, "usage: sign FILE (--card | --key-file KEY)");
	if ((o.nkeys == 1) == (o.card != 0) || o.nkeys > 1)
		return cmd_usage_error(PROG, "sign needs exactly one of --card or --key-file KEY");
	if ((rc = admincmd_load(pos[0], &c)) != HSM_OK)
		goto out;
	/* What will change, and the digest, before any PIN is asked. */
	print_command(c, g->json ? stderr : stdout);
	if (o.nkeys == 1)
		rc = signer_from_keyfile(o.key_files[0], &s);
	else
		rc = card_signer(o.reader, o.pin_fd, &cs, &s);
	if (rc != HSM_OK)
		goto out;
	if ((rc = admincmd_sign(c, s)) != HSM_OK ||
	    (rc = admincmd_save(c, pos[0])) != HSM_OK)
		goto out;
	if (o.evidence != NULL && (rc = ev_signed(o.evidence, c, s)) != HSM_OK)
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
	signer_free(&s);
	card_close(&cs);
	admincmd_free(&c);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

int
cmd_show(const struct gopts *g, int argc, char **argv)
{
	struct sopts o;
	char *pos[32];
	int npos, r;
	admincmd *c = NULL;
	hsm_rc rc;

	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos != 1)
		return cmd_usage_error(PROG, "usage: show FILE");
	if ((rc = admincmd_load(pos[0], &c)) != HSM_OK)
		return cmd_fail(PROG, rc);
	if (g->json) {
		json_t *j = command_json(c);
		cmd_print_json(j);
		json_decref(j);
	} else {
		size_t i;
		print_command(c, stdout);
		for (i = 0; i < admincmd_nsigs(c); i++) {
			uint8_t s[HSM_SKI_LEN];
			char h[2 * HSM_SKI_LEN + 1];
			if (admincmd_sig_ski(c, i, s) == HSM_OK) {
				hex_encode_buf(s, HSM_SKI_LEN, h);
				printf("  signed by SKI %s\n", h);
			}
		}
	}
	admincmd_free(&c);
	return 0;
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
	hsm_rc rc;

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
	ret = submit_and_print(g, m, n, c, o.roll_forward, o.evidence);
	if (ret == hsm_exit_code(HSM_ERR_DIVERGED))
		fprintf(stderr, "To complete the group: " PROG " submit %s --roll-forward\n",
		    pos[0]);
out:
	wsconfig_group_close(&m, n);
	wsconfig_free(&cfg);
	admincmd_free(&c);
	return ret;
}
