/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keypart_load.c - load, commit and activate a new master key on a domain
 * group, resuming from whatever register states the members are in.
 *
 * The workstation's part in the key: one part at a time is opened from its
 * custodian card, wrapped for each member's importer key (keypart_rewrap)
 * and wiped before the admin signature is even asked for. The MKVP shown is
 * always the one the modules report.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/keypart_load.h"
#include "hsmadm/groupcmd.h"
#include "hsmadm/quorum.h"

struct mst {
	char      pending[16];
	int       have_p, have_c, have_o;
	uint8_t   pmkvp[HSM_VP_LEN], cmkvp[HSM_VP_LEN], omkvp[HSM_VP_LEN];
	long long parts_total;
	uint8_t   loaded[MKLOAD_MAX_PARTS + 1];
	EVP_PKEY *importer;
	int       done;      /* CURRENT holds this key, PENDING empty */
	int       approved;  /* PENDING's approved load is exactly these parts */
};

struct run {
	const group_member      *m;
	size_t                   n;
	const char              *group;
	const mkload_part       *parts;
	size_t                   np;
	const struct mkload_io  *io;
	struct mst              *st;
	json_t                 **states;
	uint8_t                  target[HSM_VP_LEN];
	int                      have_target;
	const uint8_t           *known;
	json_t                  *did;
};

#define say(r, ...) quorum_sayf((r)->io ? (r)->io->say : NULL, (r)->io ? (r)->io->ctx : NULL, \
                               __VA_ARGS__)

static void
free_states(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->states != NULL)
			json_decref(r->states[i]);
		if (r->st != NULL)
			EVP_PKEY_free(r->st[i].importer);
	}
	if (r->states != NULL)
		memset(r->states, 0, r->n * sizeof(*r->states));
	if (r->st != NULL)
		memset(r->st, 0, r->n * sizeof(*r->st));
}

static int
get_vp(const json_t *reg, uint8_t out[HSM_VP_LEN])
{
	const json_t *v = json_object_get(reg, "mkvp");

	if (!json_is_string(v))
		return 0;
	return hex_decode_into(json_string_value(v), out, HSM_VP_LEN) == HSM_OK;
}

/* 1 if a member's approved load ([{index, part_id, kpvp}]) is these parts. */
static int
approval_matches(const struct run *r, const json_t *a)
{
	char hex[2 * HSM_VP_LEN + 1];
	size_t k;
	json_t *e;

	if (json_array_size(a) != r->np)
		return 0;
	json_array_foreach(a, k, e) {
		const char *id = json_string_value(json_object_get(e, "part_id"));
		const char *kp = json_string_value(json_object_get(e, "kpvp"));
		hex_encode_buf(r->parts[k].kpvp, HSM_VP_LEN, hex);
		if (id == NULL || kp == NULL || strcmp(id, r->parts[k].part_id) != 0 ||
		    strcmp(kp, hex) != 0)
			return 0;
	}
	return 1;
}

/* Parse one member's public state and check its PENDING against our parts. */
static hsm_rc
parse_member(struct run *r, size_t i)
{
	const group_member *gm = &r->m[i];
	struct mst *s = &r->st[i];
	json_t *regs, *pend, *imp, *pl, *e;
	const char *ps, *hex;
	size_t k;
	hsm_rc rc;

	regs = json_object_get(r->states[i], "registers");
	pend = json_object_get(regs, "pending");
	if (!json_is_object(pend) || cjson_get_str(pend, "state", &ps) != HSM_OK ||
	    strlen(ps) >= sizeof(s->pending))
		return hsm_fail(HSM_ERR_MODULE, "module %s domain %u reports no pending register",
		                gm->module, gm->domain);
	snprintf(s->pending, sizeof(s->pending), "%s", ps);
	s->have_p = get_vp(pend, s->pmkvp);
	s->have_c = get_vp(json_object_get(regs, "current"), s->cmkvp);
	s->have_o = get_vp(json_object_get(regs, "old"), s->omkvp);
	s->parts_total = json_integer_value(json_object_get(pend, "parts_total"));
	if (strcmp(ps, "empty") != 0 && s->parts_total != (long long)r->np)
		return hsm_fail(HSM_ERR_STATE,
		    "the pending register of module %s domain %u is being loaded with %lld "
		    "parts, not the %zu given here; it is not this key. An administrator "
		    "must clear it first (mk.clear_pending)", gm->module, gm->domain,
		    s->parts_total, r->np);
	pl = json_object_get(pend, "parts_loaded");
	json_array_foreach(pl, k, e) {
		long long idx = json_integer_value(json_object_get(e, "index"));
		uint8_t kp[HSM_VP_LEN];

		hex = json_string_value(json_object_get(e, "kpvp"));
		if (idx < 1 || idx > (long long)r->np || hex == NULL ||
		    hex_decode_into(hex, kp, HSM_VP_LEN) != HSM_OK)
			return hsm_fail(HSM_ERR_MODULE,
			    "module %s domain %u reports a malformed loaded part",
			    gm->module, gm->domain);
		if (!vp_equal(kp, r->parts[idx - 1].kpvp)) {
			char have[HSM_VP_TEXT_LEN];

			vp_format(kp, have);
			return hsm_fail(HSM_ERR_VERIFY,
			    "the pending register of module %s domain %u holds a part %lld with "
			    "pattern %s, which is not part %s of this key; stop, and have an "
			    "administrator clear the pending register (mk.clear_pending)",
			    gm->module, gm->domain, idx, have, r->parts[idx - 1].part_id);
		}
		s->loaded[idx] = 1;
	}
	s->approved = approval_matches(r, json_object_get(pend, "approved"));
	imp = json_object_get(r->states[i], "importer");
	if (json_is_object(imp) && (hex = json_string_value(json_object_get(imp, "pubkey"))) != NULL) {
		uint8_t pt[97];

		if (hex_decode_into(hex, pt, sizeof(pt)) != HSM_OK ||
		    (rc = crypto_ec_from_point(HSM_CURVE_P384, pt, sizeof(pt), &s->importer)) != HSM_OK)
			return hsm_fail(HSM_ERR_MODULE,
			    "module %s domain %u reports an importer key that is not a P-384 point",
			    gm->module, gm->domain);
	}
	return HSM_OK;
}

static int
pending_full(const struct mst *s)
{
	return strcmp(s->pending, "uncommitted") == 0 || strcmp(s->pending, "committed") == 0;
}

/* Read every member, parse, find the target MKVP and the members done. */
static hsm_rc
read_all(struct run *r)
{
	size_t i;
	hsm_rc rc;

	free_states(r);
	if ((rc = group_read(r->m, r->n, r->states)) != HSM_OK)
		return hsm_fail_wrap(rc, "reading the domain group");
	for (i = 0; i < r->n; i++)
		if ((rc = parse_member(r, i)) != HSM_OK)
			return rc;
	/* The target stays what this run saw loaded: after activation no
	 * PENDING holds it any more, CURRENT does. */
	for (i = 0; i < r->n; i++) {
		struct mst *s = &r->st[i];

		if (!pending_full(s) || !s->have_p)
			continue;
		if (!r->have_target) {
			memcpy(r->target, s->pmkvp, HSM_VP_LEN);
			r->have_target = 1;
		} else if (!vp_equal(r->target, s->pmkvp)) {
			return hsm_fail(HSM_ERR_VERIFY,
			    "the members' pending keys differ (module %s domain %u reports another "
			    "MKVP than the others); do not commit. Clear the pending registers and "
			    "load the parts again", r->m[i].module, r->m[i].domain);
		}
	}
	if (!r->have_target && r->known != NULL) {
		memcpy(r->target, r->known, HSM_VP_LEN);
		r->have_target = 1;
	}
	for (i = 0; i < r->n; i++) {
		struct mst *s = &r->st[i];

		s->done = r->have_target && strcmp(s->pending, "empty") == 0 && s->have_c &&
		          vp_equal(s->cmkvp, r->target);
	}
	return HSM_OK;
}

static json_t *
vp_json(const uint8_t *vp, int have)
{
	char hex[2 * HSM_VP_LEN + 1];

	if (!have)
		return json_null();
	hex_encode_buf(vp, HSM_VP_LEN, hex);
	return json_string(hex);
}

static hsm_rc
build_report(struct run *r, const char *outcome, const char *next, json_t **report)
{
	json_t *o, *mem, *parts;
	size_t i;

	if (report == NULL)
		return HSM_OK;
	o = json_pack("{s:s, s:o, s:[], s:[], s:O}", "group", r->group ? r->group : "",
	              "mkvp", vp_json(r->target, r->have_target), "members", "parts",
	              "did", r->did);
	if (o == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (outcome != NULL)
		json_object_set_new(o, "outcome", json_string(outcome));
	if (next != NULL)
		json_object_set_new(o, "next", json_string(next));
	mem = json_object_get(o, "members");
	parts = json_object_get(o, "parts");
	for (i = 0; i < r->np; i++)
		json_array_append_new(parts, json_pack("{s:i, s:s, s:o}", "index", (int)(i + 1),
		    "part_id", r->parts[i].part_id, "kpvp", vp_json(r->parts[i].kpvp, 1)));
	for (i = 0; i < r->n && r->st != NULL && r->states[i] != NULL; i++) {
		struct mst *s = &r->st[i];
		json_t *pl = json_array();

		for (size_t k = 1; k <= r->np; k++)
			if (s->loaded[k])
				json_array_append_new(pl, json_integer((json_int_t)k));
		json_array_append_new(mem, json_pack("{s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:b}",
		    "module", r->m[i].module, "domain", (int)r->m[i].domain,
		    "pending", s->pending, "pending_mkvp", vp_json(s->pmkvp, s->have_p),
		    "current_mkvp", vp_json(s->cmkvp, s->have_c),
		    "old_mkvp", vp_json(s->omkvp, s->have_o), "parts_loaded", pl,
		    "activated", s->done));
	}
	*report = o;
	return HSM_OK;
}

/* Both kinds of progress line go to the same place. */
static void
quorum_say(void *ctx, const char *line)
{
	const struct run *r = ctx;

	say(r, "%s", line);
}

/* Propose op for the members sel[], sign it, submit it, record it. */
static hsm_rc
run_command(struct run *r, const char *op, const json_t *params, const char *sel,
            const char *what)
{
	struct groupcmd_io gio = { r->io ? r->io->admins : NULL, r->io ? r->io->ev : NULL,
	                           quorum_say, r };
	group_member *sub = NULL;
	size_t ns = 0, i;
	hsm_rc rc;

	if ((sub = calloc(r->n, sizeof(*sub))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < r->n; i++)
		if (sel[i])
			sub[ns++] = r->m[i];
	rc = groupcmd_run(sub, ns, op, params, what, 0, &gio, NULL);
	if (rc == HSM_OK)
		json_array_append_new(r->did, json_pack("{s:s, s:s, s:I}", "op", op, "what", what,
		    "members", (json_int_t)ns));
	free(sub);
	return rc;
}

/* Members that still need anything loaded. */
static int
needs_load(const struct mst *s)
{
	return !s->done && (strcmp(s->pending, "empty") == 0 || strcmp(s->pending, "partial") == 0);
}

static hsm_rc
ensure_importers(struct run *r)
{
	char *sel;
	size_t i, k = 0;
	hsm_rc rc;

	if ((sel = calloc(r->n, 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < r->n; i++)
		if (needs_load(&r->st[i]) && r->st[i].importer == NULL)
			sel[i] = 1, k++;
	rc = HSM_OK;
	if (k > 0) {
		json_t *params = json_object();
		say(r, "%zu domain%s need%s an importer key first.", k, k == 1 ? "" : "s",
		    k == 1 ? "s" : "");
		rc = run_command(r, ADMINCMD_OP_IMPORTER_GENERATE, params, sel, "importer key");
		json_decref(params);
		if (rc == HSM_OK)
			rc = read_all(r);
	}
	free(sel);
	return rc;
}

/* The one decision of the load (mk.approve_load): the quorum approves
 * every part by id and KPVP on the members still to be loaded, which also
 * makes their importer keys; each part then loads with no signature. */
static hsm_rc
ensure_approval(struct run *r)
{
	char *sel, hex[2 * HSM_VP_LEN + 1], text[HSM_VP_TEXT_LEN];
	json_t *params = NULL, *parts;
	size_t i, k = 0;
	hsm_rc rc = HSM_OK;

	if ((sel = calloc(r->n, 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < r->n; i++)
		if (needs_load(&r->st[i]) && !r->st[i].approved)
			sel[i] = 1, k++;
	if (k == 0)
		goto out;
	if ((params = json_pack("{s:[]}", "parts")) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	parts = json_object_get(params, "parts");
	say(r, "The administrators approve loading these %zu parts, and no others:", r->np);
	for (i = 0; i < r->np; i++) {
		hex_encode_buf(r->parts[i].kpvp, HSM_VP_LEN, hex);
		vp_format(r->parts[i].kpvp, text);
		say(r, "  part %zu  %-16s KPVP %s", i + 1, r->parts[i].part_id, text);
		if (json_array_append_new(parts, json_pack("{s:i, s:s, s:s}", "index", (int)i + 1,
		        "part_id", r->parts[i].part_id, "kpvp", hex)) != 0) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((rc = run_command(r, ADMINCMD_OP_MK_APPROVE_LOAD, params, sel, "load approval")) == HSM_OK)
		rc = read_all(r);
out:
	json_decref(params);
	free(sel);
	return rc;
}

static hsm_rc
load_part(struct run *r, size_t idx /* 1-based */)
{
	const mkload_part *p = &r->parts[idx - 1];
	const keypart_card *card = NULL;
	keypart_target *t = NULL;
	json_t *params = NULL, *wrapped = NULL;
	char *sel = NULL, hex[2 * HSM_VP_LEN + 1], text[HSM_VP_TEXT_LEN];
	size_t i, k = 0;
	int no_importer = 0;
	hsm_rc rc;

	if ((sel = calloc(r->n, 1)) == NULL || (t = calloc(r->n, sizeof(*t))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < r->n; i++) {
		if (!needs_load(&r->st[i]) || r->st[i].loaded[idx])
			continue;
		sel[i] = 1;
		k++;
		no_importer |= r->st[i].importer == NULL;
	}
	if (k == 0) {
		rc = HSM_OK;
		goto out;
	}
	vp_format(p->kpvp, text);
	say(r, "Part %zu of %zu (%s, KPVP %s): for %zu domain%s.", idx, r->np, p->part_id,
	    text, k, k == 1 ? "" : "s");
	if (r->io == NULL || r->io->custodian == NULL) {
		rc = hsm_fail(HSM_ERR_USAGE, "no way to reach the custodian cards");
		goto out;
	}
	/* The card first: a wrong or missing card stops the run before
	 * anything, even an importer key, is asked of a module. */
	if ((rc = r->io->custodian(r->io->ctx, p, (unsigned)idx, &card)) != HSM_OK) {
		card = NULL;
		goto out;
	}
	if ((rc = keypart_check(card, p->part_id, p->kpvp)) != HSM_OK) {
		hsm_fail_wrap(rc, "this part was sent to no module");
		goto out;
	}
	if (no_importer && (rc = ensure_importers(r)) != HSM_OK)
		goto out;
	for (i = 0, k = 0; i < r->n; i++) {
		if (!sel[i])
			continue;
		if (r->st[i].importer == NULL) {
			rc = hsm_fail(HSM_ERR_STATE, "module %s domain %u has no importer key",
			              r->m[i].module, r->m[i].domain);
			goto out;
		}
		t[k].importer = r->st[i].importer;
		t[k].binding.module_serial = r->m[i].module;
		t[k].binding.domain = r->m[i].domain;
		t[k].binding.part_index = (uint32_t)idx;
		k++;
	}
	rc = keypart_rewrap(card, p->part_id, p->kpvp, t, k);
	if (r->io->custodian_done != NULL)
		r->io->custodian_done(r->io->ctx);
	card = NULL;
	if (rc != HSM_OK)
		goto out;
	if ((rc = kpwrap_group_new(&wrapped)) != HSM_OK)
		goto out;
	for (i = 0; i < k; i++)
		if ((rc = kpwrap_group_add(wrapped, t[i].binding.module_serial,
		                           t[i].binding.domain, &t[i].blob)) != HSM_OK)
			goto out;
	hex_encode_buf(p->kpvp, HSM_VP_LEN, hex);
	params = json_pack("{s:i, s:i, s:s, s:O}", "part_index", (int)idx, "parts", (int)r->np,
	                   "kpvp", hex, "wrapped", wrapped);
	if (params == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = run_command(r, ADMINCMD_OP_MK_LOAD_PART, params, sel, p->part_id);
	if (rc == HSM_ERR_MODULE || rc == HSM_ERR_DIVERGED || rc == HSM_ERR_TLS)
		hsm_fail_wrap(rc, "loading part %s (when every module answers again, run the "
		              "same command: it continues where this stopped)", p->part_id);
out:
	if (card != NULL && r->io->custodian_done != NULL)
		r->io->custodian_done(r->io->ctx);
	json_decref(params);
	json_decref(wrapped);
	free(sel);
	free(t);
	return rc;
}

enum mk_rec { MK_REC_LOADED, MK_REC_COMMITTED, MK_REC_ACTIVATED };

/* mk.* for the members in state in(), each with the key's MKVP; mk.loaded
 * also names the parts, in load order. */
static hsm_rc
record_mk(struct run *r, enum mk_rec kind, int (*in)(const struct mst *))
{
	ev_mkdom *d = NULL;
	ev_mkpart *p = NULL;
	struct submit_ev *ev = r->io ? r->io->ev : NULL;
	size_t i, k = 0;
	hsm_rc rc = HSM_OK;

	if (ev == NULL || ev->log == NULL)
		return HSM_OK;
	if ((d = calloc(r->n ? r->n : 1, sizeof(*d))) == NULL ||
	    (p = calloc(r->np ? r->np : 1, sizeof(*p))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < r->n; i++)
		if (in(&r->st[i])) {
			d[k].module = r->m[i].module;
			d[k].domain = r->m[i].domain;
			memcpy(d[k++].mkvp, r->target, HSM_VP_LEN);
		}
	for (i = 0; i < r->np; i++) {
		p[i].part_id = r->parts[i].part_id;
		memcpy(p[i].kpvp, r->parts[i].kpvp, HSM_VP_LEN);
	}
	if (k == 0)
		goto out;
	if (kind == MK_REC_LOADED)
		rc = evrec_mk_loaded(ev->log, &ev->system, r->group, d, k, p, r->np, NULL);
	else if (kind == MK_REC_COMMITTED)
		rc = evrec_mk_committed(ev->log, &ev->system, r->group, d, k, NULL);
	else
		rc = evrec_mk_activated(ev->log, &ev->system, r->group, d, k, NULL);
	if (rc != HSM_OK)
		rc = hsm_fail_wrap(rc, "recording the master key's patterns in the evidence log");
out:
	free(d);
	free(p);
	return rc;
}

static int in_full(const struct mst *s) { return pending_full(s); }
static int in_committed(const struct mst *s) { return strcmp(s->pending, "committed") == 0; }
static int in_done(const struct mst *s) { return s->done; }

/* After loading: every member full, one MKVP, not CURRENT or OLD. */
static hsm_rc
check_loaded(struct run *r, int verbose)
{
	char text[HSM_VP_TEXT_LEN];
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct mst *s = &r->st[i];

		if (s->done)
			continue;
		if (!pending_full(s) || !s->have_p)
			return hsm_fail(HSM_ERR_STATE,
			    "module %s domain %u: the pending register is %s after loading",
			    r->m[i].module, r->m[i].domain, s->pending);
		vp_format(s->pmkvp, text);
		if (verbose)
			say(r, "  module %s domain %u: pending %s, MKVP %s", r->m[i].module,
			    r->m[i].domain, s->pending, text);
		if (s->have_c && vp_equal(s->pmkvp, s->cmkvp))
			return hsm_fail(HSM_ERR_REFUSED,
			    "the new key of module %s domain %u equals its CURRENT master key; it "
			    "will not be committed. Generate new parts and clear the pending register",
			    r->m[i].module, r->m[i].domain);
		if (s->have_o && vp_equal(s->pmkvp, s->omkvp))
			return hsm_fail(HSM_ERR_REFUSED,
			    "the new key of module %s domain %u equals its OLD master key; it "
			    "will not be committed. Generate new parts and clear the pending register",
			    r->m[i].module, r->m[i].domain);
	}
	if (r->have_target && verbose) {
		vp_format(r->target, text);
		say(r, "All domains report the same pending MKVP: %s", text);
	}
	return HSM_OK;
}

static hsm_rc
stage_load(struct run *r)
{
	int loaded_now = 0, any = 0;
	size_t i, idx;
	hsm_rc rc;

	for (i = 0; i < r->n; i++)
		any |= needs_load(&r->st[i]);
	if (any && (rc = ensure_approval(r)) != HSM_OK)
		return rc;
	if (any) {
		for (idx = 1; idx <= r->np; idx++) {
			size_t before = json_array_size(r->did);

			if ((rc = load_part(r, idx)) != HSM_OK)
				return rc;
			if (json_array_size(r->did) > before) {
				loaded_now = 1;
				if ((rc = read_all(r)) != HSM_OK)
					return rc;
			}
		}
	}
	if ((rc = check_loaded(r, 1)) != HSM_OK)
		return rc;
	if (!loaded_now && r->known != NULL)
		return HSM_OK;   /* recorded by an earlier run */
	return record_mk(r, MK_REC_LOADED, in_full);
}

/* commit and activate: the same shape, one register step each. */
struct mk_step {
	const char *op, *what;
	const char *skip_state;   /* members past this step (besides done ones) */
	const char *need_state;   /* what PENDING must be for it */
	const char *first;        /* what to do first otherwise */
	int         check_loaded; /* one MKVP, not CURRENT or OLD, before it */
	enum mk_rec rec;
	int       (*in)(const struct mst *);
};

static const struct mk_step step_commit = { ADMINCMD_OP_MK_COMMIT, "commit", "committed",
	"uncommitted", "load all parts first", 1, MK_REC_COMMITTED, in_committed };
static const struct mk_step step_activate = { ADMINCMD_OP_MK_ACTIVATE, "activate", NULL,
	"committed", "commit it first", 0, MK_REC_ACTIVATED, in_done };

static hsm_rc
stage_mk(struct run *r, const struct mk_step *st)
{
	char *sel, hex[2 * HSM_VP_LEN + 1];
	size_t i, k = 0;
	json_t *params;
	hsm_rc rc = HSM_OK;

	if ((sel = calloc(r->n, 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < r->n; i++) {
		if (r->st[i].done ||
		    (st->skip_state != NULL && strcmp(r->st[i].pending, st->skip_state) == 0))
			continue;
		if (strcmp(r->st[i].pending, st->need_state) != 0) {
			rc = hsm_fail(HSM_ERR_STATE, "module %s domain %u: the pending register is "
			    "%s; %s", r->m[i].module, r->m[i].domain, r->st[i].pending, st->first);
			goto out;
		}
		sel[i] = 1;
		k++;
	}
	if (k == 0 || (st->check_loaded && (rc = check_loaded(r, 0)) != HSM_OK))
		goto out;
	hex_encode_buf(r->target, HSM_VP_LEN, hex);
	params = json_pack("{s:s}", "mkvp", hex);
	rc = run_command(r, st->op, params, sel, st->what);
	json_decref(params);
	if (rc == HSM_OK)
		rc = read_all(r);
	if (rc == HSM_OK)
		rc = record_mk(r, st->rec, st->in);
out:
	free(sel);
	return rc;
}

static hsm_rc
check_parts(const mkload_part *parts, size_t np)
{
	if (parts == NULL || np < MKLOAD_MIN_PARTS || np > MKLOAD_MAX_PARTS)
		return hsm_fail(HSM_ERR_USAGE, "a master key has %d to %d parts",
		                MKLOAD_MIN_PARTS, MKLOAD_MAX_PARTS);
	for (size_t i = 0; i < np; i++) {
		if (!envelope_id_valid(parts[i].part_id))
			return hsm_fail(HSM_ERR_USAGE, "part %zu has no valid part id", i + 1);
		for (size_t j = 0; j < i; j++)
			if (strcmp(parts[i].part_id, parts[j].part_id) == 0)
				return hsm_fail(HSM_ERR_USAGE, "part %s is named twice", parts[i].part_id);
	}
	return HSM_OK;
}

static hsm_rc
run_init(struct run *r, const group_member *m, size_t n, const char *group,
         const mkload_part *parts, size_t np, const uint8_t *known,
         const struct mkload_io *io)
{
	hsm_rc rc;

	memset(r, 0, sizeof(*r));
	if (m == NULL || n == 0)
		return hsm_fail(HSM_ERR_USAGE, "no domain group given");
	if ((rc = check_parts(parts, np)) != HSM_OK)
		return rc;
	r->m = m;
	r->n = n;
	r->group = group;
	r->parts = parts;
	r->np = np;
	r->io = io;
	r->known = known;
	r->st = calloc(n, sizeof(*r->st));
	r->states = calloc(n, sizeof(*r->states));
	r->did = json_array();
	if (r->st == NULL || r->states == NULL || r->did == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

static void
run_free(struct run *r)
{
	free_states(r);
	free(r->st);
	free(r->states);
	json_decref(r->did);
}

/* The step a run would take next, for status. */
static const char *
next_step(const struct run *r)
{
	int load = 0, commit = 0, activate = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct mst *s = &r->st[i];

		if (s->done)
			continue;
		if (needs_load(s))
			load = 1;
		else if (strcmp(s->pending, "uncommitted") == 0)
			commit = 1;
		else if (strcmp(s->pending, "committed") == 0)
			activate = 1;
	}
	return load ? "load" : commit ? "commit" : activate ? "activate" : "none";
}

hsm_rc
mkload_status(const group_member *m, size_t n, const char *group,
              const mkload_part *parts, size_t nparts, const uint8_t *known_mkvp,
              json_t **report)
{
	struct run r;
	hsm_rc rc;

	if ((rc = run_init(&r, m, n, group, parts, nparts, known_mkvp, NULL)) == HSM_OK &&
	    (rc = read_all(&r)) == HSM_OK)
		rc = build_report(&r, NULL, next_step(&r), report);
	run_free(&r);
	return rc;
}

hsm_rc
mkload_run(const group_member *m, size_t n, const char *group,
           const mkload_part *parts, size_t nparts, unsigned stages,
           const uint8_t *known_mkvp, const struct mkload_io *io, json_t **report)
{
	struct run r;
	const char *outcome = "nothing-to-do";
	hsm_rc rc, brc;

	if (report != NULL)
		*report = NULL;
	if ((rc = run_init(&r, m, n, group, parts, nparts, known_mkvp, io)) != HSM_OK)
		goto out;
	if ((rc = read_all(&r)) != HSM_OK)
		goto out;
	if ((stages & MKLOAD_LOAD) && (rc = stage_load(&r)) != HSM_OK)
		goto out;
	if ((stages & MKLOAD_COMMIT) && (rc = stage_mk(&r, &step_commit)) != HSM_OK)
		goto out;
	if ((stages & MKLOAD_ACTIVATE) && (rc = stage_mk(&r, &step_activate)) != HSM_OK)
		goto out;
	if (json_array_size(r.did) > 0)
		outcome = "done";
out:
	if (r.states != NULL && r.st != NULL) {
		const char *msg = rc == HSM_OK ? NULL : hsm_errmsg();
		char keep[1024];

		if (msg != NULL)
			snprintf(keep, sizeof(keep), "%s", msg);
		brc = build_report(&r, rc == HSM_OK ? outcome : "stopped",
		                   rc == HSM_OK ? next_step(&r) : NULL, report);
		if (rc == HSM_OK)
			rc = brc;
		else
			hsm_fail(rc, "%s", keep);   /* keep the first error's message */
	}
	run_free(&r);
	return rc;
}
