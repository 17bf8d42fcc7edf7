/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * life.c - hsmadm-rotate stage, finalize, backout, destroy-old and
 * decommission: the options, the log and the group (cer_run.h), one
 * ops/rotate.c call, the cards where a step touches them, and the printout.
 * Every step first completes a command a member missed (group heal) and
 * records receipts an earlier run lost, then does only what is missing.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evrotation.h"
#include "hsmadm/fileio.h"
#include "hsmadm/rotate.h"
#include "cer_run.h"
#include "cmdutil.h"
#include "rotate.h"

#define MAX_CARDS 32

struct life_opts {
	struct cer_runopts r;
	const char *step, *req_id, *req_doc;
	int         no_blobs;
	const char *cards[MAX_CARDS];        /* CARD=DISPOSITION */
	size_t      ncards;
	const char *witnesses[MAX_CARDS];
	size_t      nwitnesses;
};

static const char usage_text[] =
"Usage: hsmadm-rotate STEP --group NAME --log FILE --request-id ID --request-doc FILE\n"
"                     [OPTIONS]\n"
"The master key after the ceremony, on the customer's written request. Steps:\n"
"  stage --part ID...   new parts (made with hsmadm-mkpart generate, copied to\n"
"                       the backup cards) loaded into PENDING on every member\n"
"                       and committed; the current key stays active\n"
"  finalize             PENDING becomes CURRENT, CURRENT becomes OLD on every\n"
"                       member; a fresh blob proves the new key on each. Needs\n"
"                       the blobs re-enciphered first (hsmadm-rotate reencipher\n"
"                       --to pending --log FILE), or --no-blobs\n"
"  backout              the old key CURRENT again, the new one set aside\n"
"  destroy-old --part ID...\n"
"                       OLD cleared on every member, then the old key's parts\n"
"                       removed from their custodian and backup cards\n"
"  decommission [--card ID=DISPOSITION... --witness NAME...]\n"
"                       every member zeroized; what became of each card\n"
"                       (wiped-returned, destroyed, retained) and who saw it\n"
"\n"
"Options:\n"
"  --request-id ID        the reference of the customer's written request\n"
"  --request-doc FILE     that document (its SHA-256 is recorded)\n"
"  --part ID              stage: the new key's parts in load order;\n"
"                         destroy-old: the old key's parts\n"
"  --reader NAME          the reader custodians insert their cards into\n"
"  --pin-fd N             custodian PINs from descriptor N, one line per use\n"
"  --no-blobs             finalize: the customer declared it has no key blobs\n"
CER_RUN_USAGE
"\n"
"Exit codes: 0 done, 2 usage, 4 a pattern differs, 6 wrong register state,\n"
"14 wrong PIN, 23 refused by a module, 24 not enough signatures, 27 group left\n"
"partly applied (run again); see hsmadm-rotate(1) and docs/exit-codes.md.\n";

static int
parse(int argc, char **argv, struct life_opts *o)
{
	enum { O_REQID = CER_O_END, O_REQDOC, O_NOBLOBS, O_CARD, O_WITNESS, O_HELP };
	static const struct option lo[] = {
		CER_RUN_LONGOPTS,
		{ "request-id", required_argument, NULL, O_REQID },
		{ "request-doc", required_argument, NULL, O_REQDOC },
		{ "no-blobs", no_argument, NULL, O_NOBLOBS },
		{ "card", required_argument, NULL, O_CARD },
		{ "witness", required_argument, NULL, O_WITNESS },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int c, t;

	cer_runopts_init(&o->r, ROTATE_PROG);
	o->step = argv[0];
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if ((t = cer_runopts_take(&o->r, c, optarg)) != 0) {
			if (t < 0)
				return -t;
			continue;
		}
		switch (c) {
		case O_REQID: o->req_id = optarg; break;
		case O_REQDOC: o->req_doc = optarg; break;
		case O_NOBLOBS: o->no_blobs = 1; break;
		case O_CARD:
			if (o->ncards >= MAX_CARDS || strchr(optarg, '=') == NULL)
				return cmd_usage_error(ROTATE_PROG, "--card CARD_ID=DISPOSITION "
				    "(wiped-returned, destroyed or retained), at most %d", MAX_CARDS);
			o->cards[o->ncards++] = optarg;
			break;
		case O_WITNESS:
			if (o->nwitnesses >= MAX_CARDS)
				return cmd_usage_error(ROTATE_PROG, "at most %d --witness", MAX_CARDS);
			o->witnesses[o->nwitnesses++] = optarg;
			break;
		case O_HELP: fputs(usage_text, stdout); return -1;
		default:
			return cmd_usage_error(ROTATE_PROG, "unknown or incomplete option '%s'",
			                       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error(ROTATE_PROG, "unexpected argument '%s'", argv[optind]);
	if (o->req_id == NULL || o->req_doc == NULL)
		return cmd_usage_error(ROTATE_PROG, "give the customer's written request: "
		    "--request-id ID --request-doc FILE");
	if (o->ncards > 0 && o->nwitnesses == 0)
		return cmd_usage_error(ROTATE_PROG, "name who witnessed the cards: --witness NAME");
	if (strcmp(o->step, "stage") == 0 || strcmp(o->step, "destroy-old") == 0)
		return cer_runopts_check(&o->r, strcmp(o->step, "stage") == 0 ?
		                         MKLOAD_MIN_PARTS : 1);
	return cer_runopts_check(&o->r, 0);
}

/* ---- the steps ---- */

struct life {
	struct cer_run    x;
	struct life_opts *o;
	ev_request        req;
	struct rotate_io  io;
};

/* The scan's record of a part, or NULL. */
static const evscan_part *
scan_part(const evscan *s, const char *id)
{
	for (size_t i = 0; i < s->nparts; i++)
		if (strcmp(s->parts[i].part_id, id) == 0)
			return &s->parts[i];
	return NULL;
}

static hsm_rc
step_stage(struct life *L, json_t **rep)
{
	struct mkload_io mkio;

	/* a new key's part exists twice before it is loaded: on its custodian's
	 * card and on a backup card, as the first key's parts did */
	for (size_t i = 0; i < L->o->r.nparts; i++) {
		const evscan_part *p = scan_part(L->x.ev.scan, L->o->r.parts[i]);

		if (p != NULL && p->ncopied == 0)
			return hsm_fail(HSM_ERR_STATE, "part %s is on one card only: copy it to its "
			    "custodian's backup card first (hsmadm-mkpart copy --part %s); nothing "
			    "was loaded", p->part_id, p->part_id);
	}
	cer_run_mkio(&L->x, &mkio);
	return rotate_stage(L->x.m, L->x.n, L->x.parts, L->o->r.nparts,
	                    L->x.have_known ? L->x.known : NULL, &mkio, &L->io, rep);
}

static hsm_rc
step_finalize(struct life *L, json_t **rep)
{
	evrotation_status s;
	hsm_rc rc;

	if ((rc = evrotation_read(L->o->r.log, &s)) != HSM_OK)
		return rc;
	if (!s.open && !s.finalized)
		return hsm_fail(HSM_ERR_STATE, "the log records no rotation to finalize "
		    "(hsmadm-rotate stage begins one)");
	if (s.open && !L->o->no_blobs && (!s.have_reenc || s.reenc_done != s.reenc_total))
		return hsm_fail(HSM_ERR_STATE, "the blobs are not re-enciphered to the new key yet "
		    "(%lld of %lld recorded): run hsmadm-rotate reencipher --to pending --log %s "
		    "first, or give --no-blobs if the customer has none",
		    s.have_reenc ? s.reenc_done : 0, s.have_reenc ? s.reenc_total : 0, L->o->r.log);
	if (!s.open) {
		cer_run_say(&L->x, "This rotation was finalized already; checking the new key again.");
		return rotate_finalize(L->x.m, L->x.n, NULL, &L->io, rep);
	}
	return rotate_finalize(L->x.m, L->x.n, L->o->no_blobs ? "none" : "done", &L->io, rep);
}

static hsm_rc
step_backout(struct life *L, json_t **rep)
{
	return rotate_backout(L->x.m, L->x.n, &L->io, rep);
}

/* Remove part p of the old key from card card_id (its PIN), record it. */
static hsm_rc
wipe_card(struct life *L, const evscan_part *p, const char *card_id, int backup,
          ev_cardwipe *w, size_t *nw)
{
	/* by card id alone: a card an interrupted run wiped already is found too */
	struct cer_want want = { .card_id = card_id };
	cer_card *c = NULL;
	uint8_t kpvp[HSM_VP_LEN];
	char prompt[300];
	hsm_rc rc;

	if (L->x.pc == NULL)
		return hsm_fail(HSM_ERR_PCSC, "the old key's parts are on custodian cards, but the "
		    "smart card service is not running; start pcscd and run again");
	snprintf(prompt, sizeof(prompt), "Insert the %scard %.12s... of %s: part %s of the old "
	         "key is removed from it.", backup ? "backup " : "", card_id,
	         p->holder[0] ? p->holder : "its custodian", p->part_id);
	rc = cer_card_open(L->x.pc, L->o->r.reader, &want, prompt, L->o->r.timeout_s * 1000,
	                   L->o->r.pin_fd, 0, &c);
	if (rc == HSM_OK && (rc = keypart_destroy(&c->kc, p->part_id, p->kpvp, kpvp)) ==
	    HSM_ERR_NOT_FOUND) {
		/* removed by an earlier, interrupted run (its record is in the log) */
		hsm_err_clear();
		rc = HSM_OK;
		snprintf(prompt, sizeof(prompt), "Part %s was removed from %s already.", p->part_id,
		         c->label);
	} else if (rc == HSM_OK &&
	           (rc = cer_log_keypart(L->x.ev.log, EV_KEYPART_DESTROYED, c, p->part_id, kpvp,
	                                 NULL, NULL)) == HSM_OK)
		snprintf(prompt, sizeof(prompt), "Part %s removed from %s.", p->part_id, c->label);
	if (rc == HSM_OK) {
		w[*nw].card_id = card_id;
		w[*nw].part_id = p->part_id;
		w[(*nw)++].backup = backup;
		/* progress goes where cer_run_say puts it: stderr under --json */
		cer_run_say(&L->x, prompt);
	}
	cer_card_free(&c);
	return rc == HSM_OK ? HSM_OK : hsm_fail_wrap(rc, "part %s on card %.12s...", p->part_id,
	                                             card_id);
}

/* OLD cleared on every member; or, when an interrupted destroy-old cleared it
 * already (the log's rotation is finalized, its mk.destroyed not written),
 * the key it destroyed, so that the cards are finished. */
static hsm_rc
destroy_on_members(struct life *L, uint8_t old[HSM_VP_LEN], json_t **rep)
{
	evrotation_status st;
	rotate_view v;
	hsm_rc rc;

	if ((rc = rotate_view_read(L->x.m, L->x.n, &v)) != HSM_OK)
		return rc;
	if (v.mixed || v.old[0] != '\0' || evrotation_read(L->o->r.log, &st) != HSM_OK ||
	    !st.finalized)
		return rotate_destroy_old(L->x.m, L->x.n, &L->io, old, rep);
	cer_run_say(&L->x, "The old key is destroyed on every member already; finishing its "
	    "cards.");
	return hex_decode_into(st.mkvp_from, old, HSM_VP_LEN);
}

static hsm_rc
step_destroy_old(struct life *L, json_t **rep)
{
	ev_cardwipe w[MKLOAD_MAX_PARTS * 4];
	ev_mkdom *d = NULL;
	uint8_t old[HSM_VP_LEN];
	size_t nw = 0, i, k;
	hsm_rc rc;

	for (i = 0; i < L->o->r.nparts; i++)
		if (scan_part(L->x.ev.scan, L->o->r.parts[i]) == NULL)
			return hsm_fail(HSM_ERR_NOT_FOUND, "part %s is not in the log %s",
			                L->o->r.parts[i], L->o->r.log);
	if ((rc = destroy_on_members(L, old, rep)) != HSM_OK)
		return rc;
	for (i = 0; i < L->o->r.nparts && rc == HSM_OK; i++) {
		const evscan_part *p = scan_part(L->x.ev.scan, L->o->r.parts[i]);

		rc = wipe_card(L, p, p->card_id, 0, w, &nw);
		for (k = 0; k < p->ncopied && k < 3 && rc == HSM_OK; k++)
			rc = wipe_card(L, p, p->copied_to[k], 1, w, &nw);
	}
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "the old key is destroyed on every member, but not every "
		    "card is wiped yet; run destroy-old again with the same parts");
	if ((d = calloc(L->x.n, sizeof(*d))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < L->x.n; i++) {
		d[i].module = L->x.m[i].module;
		d[i].domain = L->x.m[i].domain;
		memcpy(d[i].mkvp, old, HSM_VP_LEN);
	}
	rc = evrec_mk_destroyed(L->x.ev.log, &L->x.ev.system, L->o->r.group, d, L->x.n, &L->req,
	                        w, nw, NULL);
	free(d);
	return rc;
}

static hsm_rc
step_decommission(struct life *L, json_t **rep)
{
	char card[128], line[200];
	hsm_rc rc;

	if ((rc = rotate_decommission(L->x.m, L->x.n, &L->io, rep)) != HSM_OK)
		return rc;
	for (size_t i = 0; i < L->o->ncards; i++) {
		const char *eq = strchr(L->o->cards[i], '=');

		snprintf(card, sizeof(card), "%.*s", (int)(eq - L->o->cards[i]), L->o->cards[i]);
		rc = evrec_card_disposed(L->x.ev.log, &L->x.ev.system, card, eq + 1, NULL,
		                         L->o->witnesses, L->o->nwitnesses, &L->req, NULL);
		if (rc != HSM_OK)
			return hsm_fail_wrap(rc, "card %s", card);
		snprintf(line, sizeof(line), "Card %s: %s (witnessed).", card, eq + 1);
		cer_run_say(&L->x, line);
	}
	return HSM_OK;
}

/* ---- the run ---- */

static hsm_rc
read_request(struct life *L)
{
	char *buf = NULL;
	size_t len = 0;
	hsm_rc rc;

	L->req.id = L->o->req_id;
	if ((rc = hsm_file_read(L->o->req_doc, 64u << 20, &buf, &len)) != HSM_OK)
		return hsm_fail_wrap(rc, "the request document %s", L->o->req_doc);
	rc = crypto_sha256(buf, len, L->req.sha256);
	free(buf);
	return rc;
}

/* A command a member missed is completed first; its receipts are then
 * recorded with the ones an earlier run lost (cer_run_prepare). */
static hsm_rc
heal_first(struct life *L)
{
	group_report *rep = NULL;
	hsm_rc rc = group_heal(L->x.m, L->x.n, (int64_t)time(NULL), &rep);

	if (rep != NULL && rc == HSM_OK)
		cer_run_say(&L->x, "A member had missed the group's last command; it was "
		    "completed from the member that applied it.");
	group_report_free(&rep);
	return rc;
}

/* An MKVP in the one printed form (vp_format), when there is one. */
static void
print_mkvp(const char *label, const json_t *hex)
{
	uint8_t vp[HSM_VP_LEN];
	char text[HSM_VP_TEXT_LEN];

	/* an empty register prints nothing, and must not touch the error a failed
	 * step leaves for cmd_fail */
	if (!json_is_string(hex) || json_string_length(hex) != 2 * HSM_VP_LEN ||
	    hex_decode_into(json_string_value(hex), vp, HSM_VP_LEN) != HSM_OK)
		return;
	vp_format(vp, text);
	printf("%s%s\n", label, text);
}

static void
print_result(const struct life *L, json_t *rep)
{
	const char *v;

	if (rep == NULL)
		return;
	if (L->o->r.json) {
		cmd_print_json(rep);
		return;
	}
	if ((v = json_string_value(json_object_get(rep, "outcome"))) != NULL)
		printf("%s: %s.\n", L->o->step, v);
	print_mkvp("CURRENT master key MKVP: ", json_object_get(rep, "current_mkvp"));
	print_mkvp("PENDING master key MKVP: ", json_object_get(rep, "pending_mkvp"));
	print_mkvp("OLD master key MKVP:     ", json_object_get(rep, "old_mkvp"));
}

static int
life_run(int argc, char **argv, hsm_rc (*step)(struct life *, json_t **))
{
	struct life_opts o;
	struct life L;
	json_t *rep = NULL;
	int r;
	hsm_rc rc;

	memset(&o, 0, sizeof(o));
	memset(&L, 0, sizeof(L));
	if ((r = parse(argc, argv, &o)) != 0)
		return r < 0 ? 0 : r;
	signal(SIGPIPE, SIG_IGN);
	L.o = &o;
	if ((rc = read_request(&L)) == HSM_OK && (rc = cer_run_open(&L.x, &o.r, 0)) == HSM_OK &&
	    (rc = heal_first(&L)) == HSM_OK && (rc = cer_run_prepare(&L.x)) == HSM_OK) {
		L.io.g.admins = L.x.admins;
		L.io.g.ev = &L.x.ev;
		L.io.g.say = cer_run_say;
		L.io.g.ctx = &L.x;
		L.io.req = &L.req;
		L.io.group = o.r.group;
		rc = step(&L, &rep);
		if (rc == HSM_OK)   /* a step that stopped half-way says so in its error */
			print_result(&L, rep);
	}
	json_decref(rep);
	cer_run_close(&L.x);
	return rc == HSM_OK ? 0 : cmd_fail(ROTATE_PROG, rc);
}

int rotate_stage_main(int argc, char **argv) { return life_run(argc, argv, step_stage); }
int rotate_finalize_main(int argc, char **argv) { return life_run(argc, argv, step_finalize); }
int rotate_backout_main(int argc, char **argv) { return life_run(argc, argv, step_backout); }
int rotate_destroy_main(int argc, char **argv) { return life_run(argc, argv, step_destroy_old); }
int rotate_decom_main(int argc, char **argv) { return life_run(argc, argv, step_decommission); }
