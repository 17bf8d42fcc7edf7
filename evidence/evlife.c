/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evlife.c - the verifier's rotation and decommissioning rules (evlife.h).
 * A rotation is: rotation.begun, the new key loaded and committed into
 * PENDING, its blobs re-enciphered (reencipher.progress done == total to the
 * new key), mk.finalized; then either mk.destroyed of the old key or
 * mk.backed_out. What happens out of that order is named here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/evrotation.h"
#include "evint.h"
#include "evlife.h"

int
ev_life_owns(const char *t)
{
	return strcmp(t, EV_ROTATION_BEGUN) == 0 || strcmp(t, EV_GROUP_DECOMMISSIONED) == 0 ||
	       strcmp(t, EV_CARD_DISPOSED) == 0;
}

static const char *
str_of(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

static const char *
hex32_of(const json_t *o, const char *k)
{
	const char *s = str_of(o, k);

	return s != NULL && ev_is_hex(s, 32) ? s : NULL;
}

static hsm_rc
need_request(const evlog_record *rec, const char **id)
{
	const json_t *r = json_object_get(rec->body, "request");

	*id = str_of(r, "id");
	if (*id == NULL || strlen(*id) > 128 || hex32_of(r, "sha256") == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "%s needs \"request\" {id, sha256}: the "
		    "reference of the customer's written request", rec->type);
	return HSM_OK;
}

/* The key an mk.* record names: its top-level MKVP, else every domain's. */
static const char *
mk_key(const evlog_record *rec)
{
	const json_t *doms = json_object_get(rec->body, "domains"), *e;
	const char *top = hex32_of(rec->body, "mkvp"), *k = NULL, *m;
	size_t i;

	if (top != NULL)
		return top;
	json_array_foreach(doms, i, e) {
		if ((m = hex32_of(e, "mkvp")) == NULL || (k != NULL && strcmp(k, m) != 0))
			return NULL;
		k = m;
	}
	return k;
}

/* Remember the domains a group's mk.* records name. */
static void
note_domains(struct ev_life *L, const evlog_record *rec)
{
	const char *g = str_of(rec->body, "group"), *mod;
	const json_t *e;
	size_t i, j;

	if (g == NULL)
		return;
	json_array_foreach(json_object_get(rec->body, "domains"), i, e) {
		long long d = json_integer_value(json_object_get(e, "domain"));

		if ((mod = str_of(e, "module")) == NULL)
			continue;
		for (j = 0; j < L->ndoms; j++)
			if (L->doms[j].domain == d && strcmp(L->doms[j].module, mod) == 0 &&
			    strcmp(L->doms[j].group, g) == 0)
				break;
		if (j < L->ndoms || L->ndoms >= EV_LIFE_MAX_DOMS)
			continue;
		snprintf(L->doms[j].group, sizeof(L->doms[j].group), "%s", g);
		snprintf(L->doms[j].module, sizeof(L->doms[j].module), "%s", mod);
		L->doms[j].domain = d;
		L->ndoms++;
	}
}

static hsm_rc
on_begun(struct ev_life *L, const evlog_record *rec)
{
	const char *id, *from = hex32_of(rec->body, "mkvp_current");
	hsm_rc rc;

	if ((rc = need_request(rec, &id)) != HSM_OK)
		return rc;
	if (str_of(rec->body, "group") == NULL || from == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "rotation.begun needs \"group\" and "
		    "\"mkvp_current\"");
	if (L->finalized)
		return hsm_fail(HSM_ERR_AUDIT, "a rotation begins while the old key of the one "
		    "finalized at seq %lld is neither destroyed nor backed out", L->finalized_seq);
	if (L->open && (strcmp(L->request, id) != 0 || strcmp(L->mkvp_from, from) != 0))
		return hsm_fail(HSM_ERR_AUDIT, "a rotation begins while the one begun at seq %lld "
		    "(request %s) is not finished", L->begun_seq, L->request);
	if (!L->open) {
		L->open = 1;
		L->begun_seq = rec->seq;
		snprintf(L->request, sizeof(L->request), "%s", id);
		snprintf(L->mkvp_from, sizeof(L->mkvp_from), "%s", from);
		L->have_reenc = 0;
	}
	return HSM_OK;
}

static hsm_rc
on_finalized(struct ev_life *L, const evlog_record *rec)
{
	const char *id, *how = str_of(rec->body, "reencipher"), *key = mk_key(rec);
	hsm_rc rc;

	if ((rc = need_request(rec, &id)) != HSM_OK)
		return rc;
	if (how == NULL || (strcmp(how, "done") != 0 && strcmp(how, "none") != 0) || key == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "mk.finalized needs \"reencipher\" (done or none) "
		    "and one MKVP for every domain");
	if (!L->open)
		return hsm_fail(HSM_ERR_AUDIT, "mk.finalized, but no rotation was begun "
		    "(rotation.begun) or it was already finalized or backed out");
	if (strcmp(how, "done") == 0) {
		if (!L->have_reenc || strcmp(L->reenc_to, key) != 0)
			return hsm_fail(HSM_ERR_AUDIT, "the rotation begun at seq %lld was finalized "
			    "before its blobs were re-enciphered: no reencipher.progress to the new "
			    "key %.16s...", L->begun_seq, key);
		if (L->reenc_done != L->reenc_total)
			return hsm_fail(HSM_ERR_AUDIT, "the rotation begun at seq %lld was finalized "
			    "before its re-encipher finished: %lld of %lld blobs (seq %lld)",
			    L->begun_seq, L->reenc_done, L->reenc_total, L->reenc_seq);
	}
	L->open = 0;
	L->finalized = 1;
	L->finalized_seq = rec->seq;
	snprintf(L->mkvp_new, sizeof(L->mkvp_new), "%s", key);
	return HSM_OK;
}

static hsm_rc
on_backed_out(struct ev_life *L, const evlog_record *rec)
{
	const char *id, *key = mk_key(rec);
	hsm_rc rc;

	if ((rc = need_request(rec, &id)) != HSM_OK)
		return rc;
	if (key == NULL || hex32_of(rec->body, "mkvp_set_aside") == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "mk.backed_out needs one MKVP for every domain "
		    "and \"mkvp_set_aside\"");
	if (!L->finalized && !L->open)
		return hsm_fail(HSM_ERR_AUDIT, "mk.backed_out, but no rotation is open or "
		    "finalized to back out of");
	if (strcmp(key, L->mkvp_from) != 0)
		return hsm_fail(HSM_ERR_AUDIT, "mk.backed_out returns to MKVP %.16s..., but the "
		    "rotation begun at seq %lld replaced %.16s...", key, L->begun_seq, L->mkvp_from);
	L->open = L->finalized = 0;
	return HSM_OK;
}

static hsm_rc
on_destroyed(struct ev_life *L, const evlog_record *rec)
{
	const char *id, *key = mk_key(rec);
	hsm_rc rc;

	if (json_object_get(rec->body, "request") != NULL &&
	    (rc = need_request(rec, &id)) != HSM_OK)
		return rc;
	if (key == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "mk.destroyed needs one MKVP for every domain");
	if (!L->finalized)
		return hsm_fail(HSM_ERR_AUDIT, "the old key %.16s... was destroyed before %s", key,
		    L->open ? "the rotation that replaces it was finalized (mk.finalized)" :
		    "any rotation replaced it (no mk.finalized in this log)");
	if (strcmp(key, L->mkvp_from) != 0)
		return hsm_fail(HSM_ERR_AUDIT, "mk.destroyed names MKVP %.16s..., but the "
		    "rotation finalized at seq %lld replaced %.16s...", key, L->finalized_seq,
		    L->mkvp_from);
	L->finalized = 0;
	return HSM_OK;
}

/* Zeroized: no admins, every register empty. NULL if so, else what is left. */
static const char *
left_over(const json_t *st)
{
	static const char *const regs[] = { "current", "pending", "old" };
	const json_t *r = json_object_get(st, "registers");

	if (json_array_size(json_object_get(st, "admins")) > 0)
		return "administrators are still registered";
	for (size_t i = 0; i < 3; i++) {
		const char *s = str_of(json_object_get(r, regs[i]), "state");
		if (s != NULL && strcmp(s, "empty") != 0)
			return regs[i][0] == 'c' ? "the CURRENT register holds a key" :
			       regs[i][0] == 'p' ? "the PENDING register holds a key" :
			                           "the OLD register holds a key";
	}
	return NULL;
}

static int
listed(const json_t *doms, const char *module, long long domain)
{
	const json_t *e;
	size_t i;

	json_array_foreach(doms, i, e)
		if (json_integer_value(json_object_get(e, "domain")) == domain &&
		    str_of(e, "module") != NULL && strcmp(str_of(e, "module"), module) == 0)
			return 1;
	return 0;
}

static hsm_rc
on_decommissioned(struct ev_life *L, const evlog_record *rec, ev_life_state_fn state,
                  void *ctx)
{
	const json_t *doms = json_object_get(rec->body, "domains"), *e, *st;
	const char *id, *g = str_of(rec->body, "group"), *mod, *why;
	size_t i;
	hsm_rc rc;

	if ((rc = need_request(rec, &id)) != HSM_OK)
		return rc;
	if (g == NULL || json_array_size(doms) == 0)
		return hsm_fail(HSM_ERR_FORMAT, "group.decommissioned needs \"group\" and "
		    "\"domains\"");
	json_array_foreach(doms, i, e) {
		long long d = json_integer_value(json_object_get(e, "domain"));

		if ((mod = str_of(e, "module")) == NULL)
			return hsm_fail(HSM_ERR_FORMAT, "domains[%zu] needs \"module\"", i);
		if ((st = state(ctx, mod, d)) == NULL)
			return hsm_fail(HSM_ERR_AUDIT, "the decommissioning names %s domain %lld, "
			    "but no receipt in the log shows it zeroized", mod, d);
		if ((why = left_over(st)) != NULL)
			return hsm_fail(HSM_ERR_AUDIT, "the decommissioning left %s domain %lld "
			    "unzeroized: %s in its last receipt", mod, d, why);
	}
	for (i = 0; i < L->ndoms; i++)
		if (strcmp(L->doms[i].group, g) == 0 &&
		    !listed(doms, L->doms[i].module, L->doms[i].domain))
			return hsm_fail(HSM_ERR_AUDIT, "the decommissioning of group %s leaves out "
			    "%s domain %lld, which held its key", g, L->doms[i].module,
			    L->doms[i].domain);
	return HSM_OK;
}

static hsm_rc
on_disposed(const evlog_record *rec)
{
	const char *d = str_of(rec->body, "disposition"), *id;
	const json_t *w = json_object_get(rec->body, "witnesses"), *e;
	size_t i;
	hsm_rc rc;

	if (json_object_get(rec->body, "request") != NULL &&
	    (rc = need_request(rec, &id)) != HSM_OK)
		return rc;
	if (str_of(rec->body, "card_id") == NULL || d == NULL ||
	    (strcmp(d, "wiped-returned") != 0 && strcmp(d, "destroyed") != 0 &&
	     strcmp(d, "retained") != 0))
		return hsm_fail(HSM_ERR_FORMAT, "card.disposed needs \"card_id\" and "
		    "\"disposition\" (wiped-returned, destroyed or retained)");
	if (json_array_size(w) == 0)
		return hsm_fail(HSM_ERR_FORMAT, "card.disposed needs \"witnesses\"");
	json_array_foreach(w, i, e)
		if (!json_is_string(e) || json_string_length(e) == 0)
			return hsm_fail(HSM_ERR_FORMAT, "witnesses[%zu] is not a name", i);
	return HSM_OK;
}

static void
on_reencipher(struct ev_life *L, const evlog_record *rec)
{
	const char *to = hex32_of(rec->body, "mkvp_to");

	L->have_reenc = to != NULL;
	L->reenc_done = json_integer_value(json_object_get(rec->body, "done"));
	L->reenc_total = json_integer_value(json_object_get(rec->body, "total"));
	L->reenc_seq = rec->seq;
	snprintf(L->reenc_to, sizeof(L->reenc_to), "%s", to != NULL ? to : "");
}

hsm_rc
ev_life_record(struct ev_life *L, const evlog_record *rec, ev_life_state_fn state, void *ctx)
{
	const char *t = rec->type;

	if (strncmp(t, "mk.", 3) == 0)
		note_domains(L, rec);
	if (strcmp(t, EV_ROTATION_BEGUN) == 0)
		return on_begun(L, rec);
	if (strcmp(t, EV_REENCIPHER) == 0)
		on_reencipher(L, rec);
	else if (strcmp(t, EV_MK_FINALIZED) == 0)
		return on_finalized(L, rec);
	else if (strcmp(t, EV_MK_BACKED_OUT) == 0)
		return on_backed_out(L, rec);
	else if (strcmp(t, EV_MK_DESTROYED) == 0)
		return on_destroyed(L, rec);
	else if (strcmp(t, EV_GROUP_DECOMMISSIONED) == 0)
		return state != NULL ? on_decommissioned(L, rec, state, ctx) : HSM_OK;
	else if (strcmp(t, EV_CARD_DISPOSED) == 0)
		return on_disposed(rec);
	return HSM_OK;
}

hsm_rc
evrotation_read(const char *path, evrotation_status *out)
{
	struct ev_life *L = calloc(1, sizeof(*L));
	evlog_reader *r = NULL;
	evlog_record rec;
	hsm_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&rec, 0, sizeof(rec));
	if (L == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = evlog_reader_open(path, &r)) != HSM_OK)
		goto out;
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK)
		if ((rc = ev_life_record(L, &rec, NULL, NULL)) != HSM_OK) {
			rc = hsm_fail_wrap(rc, "%s: record %lld", path, rec.seq);
			goto out;
		}
	if (rc != HSM_ERR_NOT_FOUND)
		goto out;
	hsm_err_clear();
	rc = HSM_OK;
	out->open = L->open;
	out->finalized = L->finalized;
	snprintf(out->request, sizeof(out->request), "%s", L->request);
	snprintf(out->mkvp_from, sizeof(out->mkvp_from), "%s", L->mkvp_from);
	snprintf(out->mkvp_new, sizeof(out->mkvp_new), "%s", L->mkvp_new);
	out->have_reenc = L->have_reenc;
	out->reenc_done = L->reenc_done;
	out->reenc_total = L->reenc_total;
	snprintf(out->reenc_to, sizeof(out->reenc_to), "%s", L->reenc_to);
out:
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	free(L);
	return rc;
}
