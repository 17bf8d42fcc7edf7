/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rotate.c - stage, finalize, back out, destroy the old key, decommission
 * (rotate.h). The modules decide; this reads what they hold, sends the one
 * command the state calls for, and records what they report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/blob.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/rotate.h"

/* ---- what the group holds ---- */

/* One register of every member: agree on state and MKVP? */
static int
agree(const group_state *st, size_t n, size_t off, char *mkvp, char *state, size_t slen)
{
	const group_register *r0 = (const group_register *)((const char *)&st[0] + off);

	for (size_t i = 1; i < n; i++) {
		const group_register *r = (const group_register *)((const char *)&st[i] + off);
		if (strcmp(r->state, r0->state) != 0 || strcmp(r->mkvp, r0->mkvp) != 0)
			return 0;
	}
	snprintf(mkvp, GROUP_HEX32, "%s", strcmp(r0->state, "empty") == 0 ? "" : r0->mkvp);
	if (state != NULL)
		snprintf(state, slen, "%s", r0->state);
	return 1;
}

hsm_rc
rotate_view_read(const group_member *m, size_t n, rotate_view *v)
{
	json_t **states = NULL;
	group_state *st = NULL;
	size_t i, k = 0;
	hsm_rc rc;

	memset(v, 0, sizeof(*v));
	if ((states = calloc(n, sizeof(*states))) == NULL ||
	    (st = calloc(n, sizeof(*st))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = group_read(m, n, states)) != HSM_OK)
		goto out;
	for (k = 0; k < n; k++)
		if ((rc = group_state_parse(states[k], 0, &st[k])) != HSM_OK) {
			rc = hsm_fail_wrap(rc, "module %s domain %u", m[k].module, m[k].domain);
			goto out;
		}
	if (!agree(st, n, offsetof(group_state, current), v->current, NULL, 0) ||
	    !agree(st, n, offsetof(group_state, pending), v->pending, v->pending_state,
	           sizeof(v->pending_state)) ||
	    !agree(st, n, offsetof(group_state, old), v->old, NULL, 0)) {
		v->mixed = 1;
		snprintf(v->why, sizeof(v->why), "the members hold different keys: %s domain %u "
		         "has CURRENT %.16s, PENDING %s, OLD %.16s", m[0].module, m[0].domain,
		         st[0].current.mkvp[0] ? st[0].current.mkvp : "(empty)", st[0].pending.state,
		         st[0].old.mkvp[0] ? st[0].old.mkvp : "(empty)");
	}
out:
	for (i = 0; i < k; i++)
		group_state_clear(&st[i]);
	for (i = 0; states != NULL && i < n; i++)
		json_decref(states[i]);
	free(states);
	free(st);
	return rc;
}

static hsm_rc
need_same(const rotate_view *v)
{
	if (v->mixed)
		return hsm_fail(HSM_ERR_DIVERGED, "%s. Complete the group first "
		    "(hsmadm-domain group heal GROUP), then run this step again", v->why);
	return HSM_OK;
}

static void
rsay(const struct rotate_io *io, const char *line)
{
	if (io->g.say != NULL)
		io->g.say(io->g.ctx, line);
}

static int
logging(const struct rotate_io *io)
{
	return io->g.ev != NULL && io->g.ev->log != NULL;
}

/* The members, each with the MKVP mkvp (hex), for an mk.* record. */
static hsm_rc
doms_of(const group_member *m, size_t n, const char *mkvp, ev_mkdom **out)
{
	ev_mkdom *d = calloc(n ? n : 1, sizeof(*d));

	if (d == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		d[i].module = m[i].module;
		d[i].domain = m[i].domain;
		if (hex_decode_into(mkvp, d[i].mkvp, HSM_VP_LEN) != HSM_OK) {
			free(d);
			return hsm_fail(HSM_ERR_FORMAT, "a module reported a malformed MKVP");
		}
	}
	*out = d;
	return HSM_OK;
}

static json_t *
view_json(const char *step, const char *outcome, const rotate_view *v)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "step", step, "outcome", outcome,
	                 "current_mkvp", v->current, "pending", v->pending_state,
	                 "pending_mkvp", v->pending, "old_mkvp", v->old);
}

/* op with {"mkvp": mkvp} on every member (signed, sent, recorded), then what
 * the members hold now. */
static hsm_rc
mk_op(const group_member *m, size_t n, const char *op, const char *mkvp, const char *what,
      const struct rotate_io *io, rotate_view *v)
{
	json_t *params = json_pack("{s:s}", "mkvp", mkvp);
	hsm_rc rc;

	if (params == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = groupcmd_run(m, n, op, params, what, 0, &io->g, NULL);
	json_decref(params);
	if (rc == HSM_OK)
		rc = rotate_view_read(m, n, v);
	return rc;
}

/* ---- stage ---- */

hsm_rc
rotate_stage(const group_member *m, size_t n, const mkload_part *parts, size_t np,
             const uint8_t *known, const struct mkload_io *mkio, const struct rotate_io *io,
             json_t **report)
{
	rotate_view v;
	uint8_t cur[HSM_VP_LEN];
	hsm_rc rc;

	if ((rc = rotate_view_read(m, n, &v)) != HSM_OK || (rc = need_same(&v)) != HSM_OK)
		return rc;
	if (v.current[0] == '\0')
		return hsm_fail(HSM_ERR_STATE, "the group has no current master key to rotate; "
		    "load the first key with hsmadm-commit");
	if (v.old[0] != '\0')
		return hsm_fail(HSM_ERR_STATE, "the group still holds the old key %.16s... of an "
		    "earlier rotation; destroy it first (hsmadm-rotate destroy-old) or back out",
		    v.old);
	if (strcmp(v.pending_state, "empty") == 0 && logging(io)) {
		/* a fresh start: the request and the key it replaces */
		if ((rc = hex_decode_into(v.current, cur, HSM_VP_LEN)) != HSM_OK ||
		    (rc = evrec_rotation_begun(io->g.ev->log, &io->g.ev->system, io->group,
		                               io->req, cur, NULL)) != HSM_OK)
			return hsm_fail_wrap(rc, "recording the start of the rotation");
		rsay(io, "Rotation begun: the current key stays active while the new one is staged.");
	}
	return mkload_run(m, n, io->group, parts, np, MKLOAD_LOAD | MKLOAD_COMMIT, known, mkio,
	                  report);
}

/* ---- finalize ---- */

/* A fresh blob under the new key on every member: made, used to encrypt
 * and decrypt, and its MKVP prefix the new key's. */
static hsm_rc
prove_new_key(const group_member *m, size_t n, const char *mkvp_hex)
{
	static const uint8_t probe[] = "hsmadm finalize: the new key works";
	uint8_t blob[BLOB_LEN], mkvp[HSM_VP_LEN], want[HSM_VP_LEN];
	uint8_t *ct = NULL, *pt = NULL;
	size_t ctlen = 0, ptlen = 0;
	hsm_rc rc = HSM_OK;

	if ((rc = hex_decode_into(mkvp_hex, want, HSM_VP_LEN)) != HSM_OK)
		return rc;
	for (size_t i = 0; i < n && rc == HSM_OK; i++) {
		rc = moddrv_blob_generate(m[i].drv, m[i].domain, "all", "finalize-proof", 1, blob,
		                          mkvp);
		if (rc == HSM_OK && (memcmp(mkvp, want, HSM_VP_LEN) != 0 ||
		    memcmp(blob + 4, want, BLOB_PREFIX_LEN) != 0))
			rc = hsm_fail(HSM_ERR_VERIFY, "the fresh blob is not under the new key");
		if (rc == HSM_OK)
			rc = moddrv_blob_crypt(m[i].drv, m[i].domain, 1, blob, probe, sizeof(probe),
			                       &ct, &ctlen);
		if (rc == HSM_OK)
			rc = moddrv_blob_crypt(m[i].drv, m[i].domain, 0, blob, ct, ctlen, &pt, &ptlen);
		if (rc == HSM_OK && (ptlen != sizeof(probe) || memcmp(pt, probe, ptlen) != 0))
			rc = hsm_fail(HSM_ERR_VERIFY, "data encrypted with the fresh blob did not "
			    "decrypt to itself");
		if (rc != HSM_OK)
			rc = hsm_fail_wrap(rc, "the new key does not work on module %s domain %u",
			                   m[i].module, m[i].domain);
		free(ct);
		free(pt);
		ct = pt = NULL;
	}
	return rc;
}

hsm_rc
rotate_finalize(const group_member *m, size_t n, const char *reencipher,
                const struct rotate_io *io, json_t **report)
{
	rotate_view v;
	ev_mkdom *d = NULL;
	const char *outcome = "finalized";
	hsm_rc rc;

	if ((rc = rotate_view_read(m, n, &v)) != HSM_OK || (rc = need_same(&v)) != HSM_OK)
		return rc;
	if (strcmp(v.pending_state, "committed") == 0 && v.current[0] != '\0') {
		if (v.old[0] != '\0')
			return hsm_fail(HSM_ERR_STATE, "the group still holds the old key %.16s...; "
			    "destroy it first (hsmadm-rotate destroy-old)", v.old);
		if ((rc = mk_op(m, n, ADMINCMD_OP_MK_ACTIVATE, v.pending, "Finalize", io, &v)) !=
		    HSM_OK || (rc = need_same(&v)) != HSM_OK)
			return rc;
		if ((rc = doms_of(m, n, v.current, &d)) != HSM_OK)
			return rc;
		if (logging(io) && (rc = evrec_mk_activated(io->g.ev->log, &io->g.ev->system,
		    io->group, d, n, NULL)) != HSM_OK)
			goto out;
	} else if (!(strcmp(v.pending_state, "empty") == 0 && v.old[0] != '\0')) {
		return hsm_fail(HSM_ERR_STATE, "nothing to finalize: the group has no committed "
		    "new key (PENDING is %s); stage one first (hsmadm-rotate stage)",
		    v.pending_state);
	} else
		outcome = "finalized (it was active already)";
	rsay(io, "The new key is CURRENT on every member; proving it with a fresh blob on each.");
	if ((rc = prove_new_key(m, n, v.current)) != HSM_OK)
		goto out;
	if (d == NULL && (rc = doms_of(m, n, v.current, &d)) != HSM_OK)
		goto out;
	if (logging(io) && reencipher != NULL && (rc = evrec_mk_finalized(io->g.ev->log,
	    &io->g.ev->system, io->group, d, n, io->req, reencipher, NULL)) != HSM_OK)
		goto out;
	if (report != NULL)
		*report = view_json("finalize", outcome, &v);
out:
	free(d);
	return rc;
}

/* ---- backout ---- */

hsm_rc
rotate_backout(const group_member *m, size_t n, const struct rotate_io *io, json_t **report)
{
	rotate_view v;
	ev_mkdom *d = NULL;
	uint8_t aside[HSM_VP_LEN];
	hsm_rc rc;

	if ((rc = rotate_view_read(m, n, &v)) != HSM_OK || (rc = need_same(&v)) != HSM_OK)
		return rc;
	if (v.old[0] != '\0' && strcmp(v.pending_state, "empty") == 0) {
		/* finalized: the old key back to CURRENT, the new one aside */
		if ((rc = mk_op(m, n, ADMINCMD_OP_MK_BACKOUT, v.old, "Back out", io, &v)) != HSM_OK ||
		    (rc = need_same(&v)) != HSM_OK)
			return rc;
	} else if (strcmp(v.pending_state, "committed") == 0 && v.old[0] == '\0') {
		rsay(io, "The new key was never activated: nothing to change on the modules; it "
		    "stays committed in PENDING.");
	} else
		return hsm_fail(HSM_ERR_STATE, "nothing to back out of: the group holds no "
		    "finalized or staged new key beside the old one");
	if (strcmp(v.pending_state, "committed") != 0 || v.current[0] == '\0')
		return hsm_fail(HSM_ERR_MODULE, "after the backout the members report PENDING %s; "
		    "expected the new key set aside, committed", v.pending_state);
	if ((rc = doms_of(m, n, v.current, &d)) != HSM_OK ||
	    (rc = hex_decode_into(v.pending, aside, HSM_VP_LEN)) != HSM_OK)
		goto out;
	if (logging(io) && (rc = evrec_mk_backed_out(io->g.ev->log, &io->g.ev->system,
	    io->group, d, n, io->req, aside, NULL)) != HSM_OK)
		goto out;
	if (report != NULL)
		*report = view_json("backout", "backed out", &v);
out:
	free(d);
	return rc;
}

/* ---- destroy the old key ---- */

hsm_rc
rotate_destroy_old(const group_member *m, size_t n, const struct rotate_io *io,
                   uint8_t oldkey[HSM_VP_LEN], json_t **report)
{
	rotate_view v;
	hsm_rc rc;

	if ((rc = rotate_view_read(m, n, &v)) != HSM_OK || (rc = need_same(&v)) != HSM_OK)
		return rc;
	if (v.old[0] == '\0')
		return hsm_fail(HSM_ERR_STATE, "the group holds no old key (OLD is empty on every "
		    "member): finalize a rotation first, or it was destroyed already");
	if ((rc = hex_decode_into(v.old, oldkey, HSM_VP_LEN)) != HSM_OK)
		return rc;
	if ((rc = mk_op(m, n, ADMINCMD_OP_MK_DESTROY_OLD, v.old, "Destroy the old key", io, &v))
	    != HSM_OK)
		return rc;
	if (v.mixed || v.old[0] != '\0')
		return hsm_fail(HSM_ERR_MODULE, "after mk.destroy_old a member still reports an "
		    "old key; see hsmadm-domain group status");
	if (report != NULL)
		*report = view_json("destroy-old", "destroyed", &v);
	return HSM_OK;
}

/* ---- decommission ---- */

/* Read every member: its counter into z[i]; *left = members not zeroized. */
static hsm_rc
read_zeroized(const group_member *m, size_t n, ev_zdom *z, size_t *left)
{
	json_t **states = calloc(n, sizeof(*states));
	size_t i;
	hsm_rc rc;

	*left = 0;
	if (states == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = group_read(m, n, states)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		group_state st;

		if ((rc = group_state_parse(states[i], 0, &st)) != HSM_OK)
			goto out;
		z[i].module = m[i].module;
		z[i].domain = m[i].domain;
		z[i].counter = st.counter;
		if (st.nadmins > 0 || strcmp(st.current.state, "empty") != 0 ||
		    strcmp(st.old.state, "empty") != 0 || strcmp(st.pending.state, "empty") != 0)
			(*left)++;
		group_state_clear(&st);
	}
out:
	for (i = 0; i < n; i++)
		json_decref(states[i]);
	free(states);
	return rc;
}

hsm_rc
rotate_decommission(const group_member *m, size_t n, const struct rotate_io *io,
                    json_t **report)
{
	ev_zdom *z = NULL;
	size_t left = 0;
	hsm_rc rc;

	if ((z = calloc(n, sizeof(*z))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = read_zeroized(m, n, z, &left)) != HSM_OK)
		goto out;
	if (left > 0) {
		rc = groupcmd_run(m, n, ADMINCMD_OP_ZEROIZE, NULL, "Decommission", 0, &io->g, NULL);
		if (rc != HSM_OK || (rc = read_zeroized(m, n, z, &left)) != HSM_OK)
			goto out;
		if (left > 0) {
			rc = hsm_fail(HSM_ERR_MODULE, "%zu member%s still not zeroized after the "
			    "zeroize command; see hsmadm-domain group status", left,
			    left == 1 ? " is" : "s are");
			goto out;
		}
	} else
		rsay(io, "Every member is zeroized already.");
	if (logging(io) && (rc = evrec_group_decommissioned(io->g.ev->log, &io->g.ev->system,
	    io->group, io->req, z, n, NULL)) != HSM_OK)
		goto out;
	if (report != NULL)
		*report = json_pack("{s:s, s:s, s:I}", "step", "decommission", "outcome",
		                    "zeroized", "members", (json_int_t)n);
out:
	free(z);
	return rc;
}
