/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cer_plancheck.c - did the ceremony do what its plan says? Every person on the
 * roster with their cards (backups included), every custodian's part made
 * and copied to each backup card, every admin key (backups included)
 * registered on every domain of every pair, thresholds no lower than the
 * plan's, and every domain of every pair holding one and the same active
 * master key. Reads the log through the evidence reader (chain checked) and
 * the one scan (evscan.h); signatures and receipts are hsmadm-audit's job.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/codec.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evscan.h"
#include "cer_plan.h"

struct seen {
	json_t *roster;     /* members */
	json_t *admins;     /* {"MODULE/DOMAIN": {"NAME": count}} of admin.add applied */
	json_t *thr;        /* {"MODULE/DOMAIN": {"signature", "revocation"}} last set */
	const char *plan;   /* ceremony.open's "plan" (NULL: none) */
	json_t *open;
};

static hsm_rc
note_command(struct seen *sn, const json_t *body)
{
	const json_t *cb = json_object_get(json_object_get(body, "command"), "body"), *t;
	const char *op = json_string_value(json_object_get(cb, "op"));
	const json_t *params = json_object_get(cb, "params");
	char key[160];
	size_t i;

	if (op == NULL)
		return HSM_OK;
	json_array_foreach(json_object_get(cb, "targets"), i, t) {
		snprintf(key, sizeof(key), "%s/%lld", json_string_value(json_object_get(t, "module")),
		    (long long)json_integer_value(json_object_get(t, "domain")));
		if (strcmp(op, "admin.add") == 0) {
			json_t *m = json_object_get(sn->admins, key);
			const char *nm = json_string_value(json_object_get(params, "name"));
			if (m == NULL && json_object_set_new(sn->admins, key, m = json_object()) != 0)
				return hsm_fail(HSM_ERR_NOMEM, "out of memory");
			if (nm != NULL && json_object_set_new(m, nm, json_integer(
			    json_integer_value(json_object_get(m, nm)) + 1)) != 0)
				return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		} else if (strcmp(op, "thresholds.set") == 0 &&
		           json_object_set(sn->thr, key, (json_t *)params) != 0) {
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
	}
	return HSM_OK;
}

static hsm_rc
read_log(const char *path, struct seen *sn)
{
	evlog_reader *r = NULL;
	evlog_record rec;
	json_t *m;
	size_t i;
	hsm_rc rc;

	memset(&rec, 0, sizeof(rec));
	if ((rc = evlog_reader_open(path, &r)) != HSM_OK)
		return hsm_fail_wrap(rc, "evidence log %s", path);
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK) {
		if (strcmp(rec.type, EV_CEREMONY_OPEN) == 0)
			sn->open = json_incref(rec.body);
		else if (strcmp(rec.type, EV_ROSTER) == 0)
			json_array_foreach(json_object_get(rec.body, "members"), i, m)
				json_array_append(sn->roster, m);
		else if (strcmp(rec.type, EV_COMMAND_APPLIED) == 0 &&
		         (rc = note_command(sn, rec.body)) != HSM_OK)
			break;
	}
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	if (rc != HSM_ERR_NOT_FOUND)
		return hsm_fail_wrap(rc, "evidence log %s", path);
	sn->plan = json_string_value(json_object_get(sn->open, "plan"));
	return HSM_OK;
}

static void
miss(json_t *list, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
miss(json_t *list, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(list, json_string(buf));
}

/* The roster member of this role and name that is (not) a backup card. */
static const json_t *
on_roster(const json_t *roster, const fpl_person *m, int backup, const char *primary)
{
	const json_t *e;
	size_t i;

	json_array_foreach(roster, i, e) {
		const char *bo = json_string_value(json_object_get(e, "backup_of"));
		if (strcmp(json_string_value(json_object_get(e, "role")), m->role) != 0 ||
		    strcmp(json_string_value(json_object_get(e, "name")), m->name) != 0)
			continue;
		if (!backup && bo == NULL)
			return e;
		if (backup && bo != NULL && primary != NULL && strcmp(bo, primary) == 0)
			return e;
	}
	return NULL;
}

static void
check_people(const fpl_plan *p, const struct seen *sn, const evscan *sc, json_t *ms)
{
	const json_t *prim, *e;
	const evscan_part *part;
	size_t i;

	for (i = 0; i < p->npeople; i++) {
		const fpl_person *m = &p->people[i];
		if ((prim = on_roster(sn->roster, m, 0, NULL)) == NULL) {
			miss(ms, "%s (%s) is not on the roster", m->name, m->role);
			continue;
		}
		e = m->nbackups > 0 ? on_roster(sn->roster, m, 1,
		    json_string_value(json_object_get(prim, "card_id"))) : prim;
		if (e == NULL)
			miss(ms, "%s (%s): backup card %s is not on the roster (never made?)", m->name,
			    m->role, m->backups[0].label);
		if (m->part == NULL)
			continue;
		if ((part = evscan_find_part(sc, m->part)) == NULL || part->destroyed)
			miss(ms, "%s: part %s was never generated (or was destroyed)", m->name, m->part);
		else if (part->ncopied < m->nbackups)
			miss(ms, "%s: part %s was copied to %zu backup card(s), the plan has %zu",
			    m->name, m->part, part->ncopied, m->nbackups);
	}
}

static void
check_domain(const fpl_plan *p, const struct seen *sn, const char *serial, unsigned dom,
             json_t *ms)
{
	char key[160];
	const json_t *t, *a;
	size_t i;

	snprintf(key, sizeof(key), "%s/%u", serial, dom);
	t = json_object_get(sn->thr, key);
	if (t == NULL)
		miss(ms, "%s domain %u: no thresholds were set (still in imprint mode?)", serial, dom);
	else if (json_integer_value(json_object_get(t, "signature")) < p->sig ||
	         json_integer_value(json_object_get(t, "revocation")) < p->rev)
		miss(ms, "%s domain %u: thresholds signature %lld, revocation %lld are below the "
		    "plan's %d and %d", serial, dom,
		    (long long)json_integer_value(json_object_get(t, "signature")),
		    (long long)json_integer_value(json_object_get(t, "revocation")), p->sig, p->rev);
	a = json_object_get(sn->admins, key);
	for (i = 0; i < p->npeople; i++) {
		const fpl_person *m = &p->people[i];
		json_int_t n = json_integer_value(json_object_get(a, m->name));
		if (strcmp(m->role, "admin") == 0 && n < (json_int_t)(1 + m->nbackups))
			miss(ms, "%s domain %u: %lld of %s's %zu card keys registered", serial, dom,
			    (long long)n, m->name, 1 + m->nbackups);
	}
}

static void
check_pairs(const fpl_plan *p, const struct seen *sn, const evscan *sc, json_t *ms)
{
	const uint8_t *first = NULL;
	size_t i, j, k;

	for (i = 0; i < p->npairs; i++) {
		const fpl_pair *q = &p->pairs[i];
		const evscan_group *g = evscan_find_group(sc, q->group);
		for (j = 0; j < 2; j++) {
			const char *serial = p->modules[q->dom[j]].serial;
			const evscan_mkdom *d = NULL;
			check_domain(p, sn, serial, q->domain[j], ms);
			for (k = 0; g != NULL && k < g->activated.ndoms; k++)
				if (strcmp(g->activated.doms[k].module, serial) == 0 &&
				    g->activated.doms[k].domain == q->domain[j])
					d = &g->activated.doms[k];
			if (d == NULL) {
				miss(ms, "pair %s: %s domain %u has no active master key in this log",
				    q->group, serial, q->domain[j]);
				continue;
			}
			if (first == NULL)
				first = d->mkvp;
			else if (memcmp(first, d->mkvp, EVSCAN_VP_LEN) != 0)
				miss(ms, "pair %s: %s domain %u holds another master key (MKVP) than the "
				    "first domain of the plan", q->group, serial, q->domain[j]);
		}
	}
}

hsm_rc
cer_plan_check(const char *path, const char *plan, json_t **out)
{
	struct seen sn = { json_array(), json_object(), json_object(), NULL, NULL };
	fpl_plan *p = NULL;
	evscan *sc = NULL;
	json_t *ms = json_array(), *m;
	char *txt = NULL;
	size_t i, len = 0;
	FILE *f;
	hsm_rc rc;

	*out = NULL;
	if (sn.roster == NULL || sn.admins == NULL || sn.thr == NULL || ms == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = fpl_load(plan, &p)) != HSM_OK || (rc = read_log(path, &sn)) != HSM_OK ||
	    (rc = evscan_path(path, 0, &sc)) != HSM_OK)
		goto out;
	if (sn.plan == NULL || strstr(sn.plan, p->hex) == NULL)
		miss(ms, "the log was not opened with this plan (it records %s)",
		    sn.plan ? sn.plan : "no plan");
	check_people(p, &sn, sc, ms);
	check_pairs(p, &sn, sc, ms);
	if ((*out = json_pack("{s:s, s:s, s:b, s:O}", "log", path, "plan", plan, "fulfilled",
	    json_array_size(ms) == 0, "missing", ms)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (json_array_size(ms) > 0 && (f = open_memstream(&txt, &len)) != NULL) {
		json_array_foreach(ms, i, m)
			fprintf(f, "\n  - %s", json_string_value(m));
		fclose(f);
		rc = hsm_fail(HSM_ERR_VERIFY, "the log %s does not fulfil the plan %s (%zu "
		    "thing(s) missing):%s", path, plan, json_array_size(ms), txt ? txt : "");
	}
out:
	free(txt);
	evscan_free(&sc);
	fpl_free(&p);
	json_decref(sn.roster);
	json_decref(sn.admins);
	json_decref(sn.thr);
	json_decref(sn.open);
	json_decref(ms);
	return rc;
}
