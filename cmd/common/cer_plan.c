/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cer_plan.c - the ceremony plan (docs/formats/ceremony-plan.md): one JSON
 * file naming the installation, sites, modules, domain pairs, people, their
 * cards, the thresholds and the number of parts. Read strictly: an unknown
 * member is refused (a typo in "backups" must not quietly mean "no backup
 * card"), and what the ceremony cannot do (a pair inside one site, a
 * threshold above the number of admins, a custodian without a part) is
 * refused before anybody is in the room.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/fileio.h"
#include "cer_plan.h"

#define FPL_FORMAT   "hsmadm-ceremony-plan 1"
#define FPL_FILE_MAX (256 * 1024)

static const char *const card_roles[] = { "admin", "custodian", "supervisor", NULL };

static int
role_in(const char *const *set, const char *r)
{
	size_t i;

	for (i = 0; set[i] != NULL; i++)
		if (strcmp(set[i], r) == 0)
			return 1;
	return 0;
}

/* Only the members allowed[], each of the given JSON type. */
static hsm_rc
only(const json_t *o, const char *path, const char *const *allowed)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return hsm_fail(HSM_ERR_FORMAT, "plan: %s must be a JSON object", path);
	json_object_foreach((json_t *)o, k, v)
		if (!role_in(allowed, k))
			return hsm_fail(HSM_ERR_FORMAT, "plan: %s has an unknown member \"%s\"",
			    path, k);
	return HSM_OK;
}

static hsm_rc
str(const json_t *o, const char *path, const char *k, int required, const char **out)
{
	const json_t *v = json_object_get(o, k);

	*out = NULL;
	if (v == NULL && !required)
		return HSM_OK;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 128 ||
	    strpbrk(json_string_value(v), "\n\r\t") != NULL)
		return hsm_fail(HSM_ERR_FORMAT, "plan: %s.%s must be a text of 1 to 128 "
		    "characters on one line", path, k);
	*out = json_string_value(v);
	return HSM_OK;
}

static hsm_rc
num(const json_t *o, const char *path, const char *k, int lo, int hi, int *out)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return hsm_fail(HSM_ERR_FORMAT, "plan: %s.%s must be a whole number from %d to %d",
		    path, k, lo, hi);
	*out = (int)json_integer_value(v);
	return HSM_OK;
}

static hsm_rc
card(const json_t *o, const char *path, fpl_card *c)
{
	static const char *const keys[] = { "label", "reader", "virtual", NULL };
	const json_t *v = json_object_get(o, "virtual");
	hsm_rc rc;

	if ((rc = only(o, path, keys)) != HSM_OK ||
	    (rc = str(o, path, "label", 1, &c->label)) != HSM_OK ||
	    (rc = str(o, path, "reader", 1, &c->reader)) != HSM_OK)
		return rc;
	if (v != NULL && !json_is_boolean(v))
		return hsm_fail(HSM_ERR_FORMAT, "plan: %s.virtual must be true or false", path);
	c->is_virtual = json_is_true(v);
	return HSM_OK;
}

static hsm_rc
person(const fpl_plan *p, const json_t *o, size_t i, fpl_person *m)
{
	static const char *const keys[] = { "role", "name", "card", "backups", "part",
		"previous_part", NULL };
	static const char *const roles[] = { "admin", "custodian", "supervisor", "witness",
		"auditor", NULL };
	const json_t *b = json_object_get(o, "backups"), *e;
	char path[64], sub[96];
	size_t j;
	hsm_rc rc;

	snprintf(path, sizeof(path), "people[%zu]", i);
	if ((rc = only(o, path, keys)) != HSM_OK || (rc = str(o, path, "role", 1, &m->role)) ||
	    (rc = str(o, path, "name", 1, &m->name)) || (rc = str(o, path, "part", 0, &m->part)) ||
	    (rc = str(o, path, "previous_part", 0, &m->previous_part)))
		return rc;
	if (!role_in(roles, m->role))
		return hsm_fail(HSM_ERR_FORMAT, "plan: %s.role must be admin, custodian, "
		    "supervisor, witness or auditor, not \"%s\"", path, m->role);
	if (role_in(card_roles, m->role) != (json_object_get(o, "card") != NULL))
		return hsm_fail(HSM_ERR_FORMAT, "plan: %s (%s): %s", path, m->name,
		    role_in(card_roles, m->role) ? "an admin, custodian or supervisor needs a "
		    "card" : "a witness or auditor has no hsmadm card");
	if ((m->part != NULL) != (strcmp(m->role, "custodian") == 0))
		return hsm_fail(HSM_ERR_FORMAT, "plan: %s (%s): every custodian, and only a "
		    "custodian, holds a part (\"part\")", path, m->name);
	m->index = (int)fpl_count(p, m->role) + 1;
	if (json_object_get(o, "card") != NULL) {
		snprintf(sub, sizeof(sub), "%s.card", path);
		if ((rc = card(json_object_get(o, "card"), sub, &m->card)) != HSM_OK)
			return rc;
	}
	if (b == NULL)
		return HSM_OK;
	if (!json_is_array(b) || json_array_size(b) > 4 || m->card.label == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "plan: %s.backups must be a list of at most 4 "
		    "cards, for a person who has a card", path);
	if ((m->backups = calloc(json_array_size(b) + 1, sizeof(*m->backups))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_array_foreach(b, j, e) {
		snprintf(sub, sizeof(sub), "%s.backups[%zu]", path, j);
		if ((rc = card(e, sub, &m->backups[j])) != HSM_OK)
			return rc;
		m->nbackups++;
	}
	return HSM_OK;
}

static hsm_rc
modules_pairs(fpl_plan *p)
{
	static const char *const mkeys[] = { "name", "serial", "site", "address", "ca", NULL };
	static const char *const pkeys[] = { "group", "domains", NULL };
	static const char *const dkeys[] = { "module", "domain", NULL };
	const json_t *ms = json_object_get(p->doc, "modules"), *ps = json_object_get(p->doc, "pairs");
	const json_t *e, *d;
	char path[64];
	size_t i, j, k;
	int dom;
	hsm_rc rc;

	if (!json_is_array(ms) || json_array_size(ms) == 0 || json_array_size(ms) > 64 ||
	    !json_is_array(ps) || json_array_size(ps) == 0 || json_array_size(ps) > 32)
		return hsm_fail(HSM_ERR_FORMAT, "plan: \"modules\" and \"pairs\" must be "
		    "non-empty lists");
	if ((p->modules = calloc(json_array_size(ms), sizeof(*p->modules))) == NULL ||
	    (p->pairs = calloc(json_array_size(ps), sizeof(*p->pairs))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_array_foreach(ms, i, e) {
		fpl_module *m = &p->modules[i];
		snprintf(path, sizeof(path), "modules[%zu]", i);
		if ((rc = only(e, path, mkeys)) || (rc = str(e, path, "name", 1, &m->name)) ||
		    (rc = str(e, path, "serial", 1, &m->serial)) ||
		    (rc = str(e, path, "site", 1, &m->site)) ||
		    (rc = str(e, path, "address", 1, &m->address)) ||
		    (rc = str(e, path, "ca", 1, &m->ca)))
			return rc;
		for (j = 0; j < i; j++)
			if (strcmp(p->modules[j].name, m->name) == 0)
				return hsm_fail(HSM_ERR_FORMAT, "plan: module name %s twice", m->name);
		p->nmodules++;
	}
	json_array_foreach(ps, i, e) {
		fpl_pair *q = &p->pairs[i];
		snprintf(path, sizeof(path), "pairs[%zu]", i);
		if ((rc = only(e, path, pkeys)) || (rc = str(e, path, "group", 1, &q->group)))
			return rc;
		d = json_object_get(e, "domains");
		if (!json_is_array(d) || json_array_size(d) != 2)
			return hsm_fail(HSM_ERR_FORMAT, "plan: %s.domains must list exactly two "
			    "domains (a pair)", path);
		for (j = 0; j < 2; j++) {
			const json_t *x = json_array_get(d, j);
			const char *mn;
			char sub[96];
			snprintf(sub, sizeof(sub), "%s.domains[%zu]", path, j);
			if ((rc = only(x, sub, dkeys)) || (rc = str(x, sub, "module", 1, &mn)) ||
			    (rc = num(x, sub, "domain", 0, 255, &dom)))
				return rc;
			for (k = 0; k < p->nmodules && strcmp(p->modules[k].name, mn) != 0; k++)
				;
			if (k == p->nmodules)
				return hsm_fail(HSM_ERR_FORMAT, "plan: %s names module %s, which "
				    "\"modules\" does not list", sub, mn);
			q->dom[j] = (int)k;
			q->domain[j] = (unsigned)dom;
		}
		if (strcmp(p->modules[q->dom[0]].site, p->modules[q->dom[1]].site) == 0)
			return hsm_fail(HSM_ERR_FORMAT, "plan: pair %s has both domains in site %s; "
			    "a pair spans two sites", q->group, p->modules[q->dom[0]].site);
		p->npairs++;
	}
	return HSM_OK;
}

/* Sites: a list of {id, name}; every module stands in one of them. */
static hsm_rc
check_sites(const json_t *doc)
{
	static const char *const skeys[] = { "id", "name", NULL };
	const json_t *ss = json_object_get(doc, "sites"), *e, *m;
	const char *id, *nm;
	char path[64];
	size_t i, j;
	int found;
	hsm_rc rc;

	if (!json_is_array(ss) || json_array_size(ss) < 2 || json_array_size(ss) > 16)
		return hsm_fail(HSM_ERR_FORMAT, "plan: \"sites\" must list 2 to 16 sites "
		    "(a pair spans two)");
	json_array_foreach(ss, i, e) {
		snprintf(path, sizeof(path), "sites[%zu]", i);
		if ((rc = only(e, path, skeys)) || (rc = str(e, path, "id", 1, &id)) ||
		    (rc = str(e, path, "name", 1, &nm)))
			return rc;
	}
	json_array_foreach(json_object_get(doc, "modules"), i, m) {
		found = 0;
		json_array_foreach(ss, j, e)
			found |= json_equal(json_object_get(e, "id"), json_object_get(m, "site"));
		if (!found && json_is_string(json_object_get(m, "site")))
			return hsm_fail(HSM_ERR_FORMAT, "plan: modules[%zu] stands in site %s, "
			    "which \"sites\" does not list", i,
			    json_string_value(json_object_get(m, "site")));
	}
	return HSM_OK;
}

static hsm_rc
people(fpl_plan *p)
{
	const json_t *ps = json_object_get(p->doc, "people"), *e;
	size_t i, j, nadm;
	hsm_rc rc;

	if (!json_is_array(ps) || json_array_size(ps) == 0 || json_array_size(ps) > 64)
		return hsm_fail(HSM_ERR_FORMAT, "plan: \"people\" must be a list of 1 to 64 people");
	if ((p->people = calloc(json_array_size(ps), sizeof(*p->people))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_array_foreach(ps, i, e) {
		if ((rc = person(p, e, i, &p->people[i])) != HSM_OK)
			return rc;
		p->npeople++;
		for (j = 0; j < i; j++) {
			const fpl_person *a = &p->people[j], *b = &p->people[i];
			if (strcmp(a->name, b->name) == 0 && strcmp(a->role, b->role) == 0)
				return hsm_fail(HSM_ERR_FORMAT, "plan: %s is listed twice as %s",
				    b->name, b->role);
			if (a->part != NULL && b->part != NULL && strcmp(a->part, b->part) == 0)
				return hsm_fail(HSM_ERR_FORMAT, "plan: part %s is held by %s and %s",
				    a->part, a->name, b->name);
		}
	}
	nadm = fpl_count(p, "admin");
	if (nadm == 0 || fpl_count(p, "supervisor") == 0)
		return hsm_fail(HSM_ERR_FORMAT, "plan: a ceremony needs at least one admin and "
		    "one supervisor");
	if ((size_t)p->sig > nadm || (size_t)p->rev > nadm)
		return hsm_fail(HSM_ERR_FORMAT, "plan: the thresholds (signature %d, revocation "
		    "%d) are above the number of admins (%zu)", p->sig, p->rev, nadm);
	if (fpl_count(p, "custodian") != (size_t)p->parts)
		return hsm_fail(HSM_ERR_FORMAT, "plan: %d parts, but %zu custodians; each "
		    "custodian holds one part", p->parts, fpl_count(p, "custodian"));
	return HSM_OK;
}

hsm_rc
fpl_parse(const char *buf, size_t len, fpl_plan **out)
{
	static const char *const keys[] = { "format", "name", "title", "installation", "sites",
		"modules", "pairs", "people", "thresholds", "parts", "request", NULL };
	static const char *const rkeys[] = { "id", "doc", NULL };
	static const char *const tkeys[] = { "signature", "revocation", NULL };
	json_error_t je;
	fpl_plan *p;
	const char *fmt;
	const json_t *t;
	uint8_t dg[32];
	hsm_rc rc;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((p->doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "plan: not JSON (line %d, column %d: %s)", je.line,
		    je.column, je.text);
		goto out;
	}
	t = json_object_get(p->doc, "thresholds");
	if ((rc = only(p->doc, "the plan", keys)) || (rc = str(p->doc, "plan", "format", 1, &fmt)))
		goto out;
	if (strcmp(fmt, FPL_FORMAT) != 0) {
		rc = hsm_fail(HSM_ERR_FORMAT, "plan: format must be \"%s\"", FPL_FORMAT);
		goto out;
	}
	if ((rc = str(p->doc, "plan", "name", 1, &p->name)) ||
	    (rc = str(p->doc, "plan", "title", 1, &p->title)) ||
	    (rc = str(p->doc, "plan", "installation", 1, &p->installation)) ||
	    (rc = num(p->doc, "plan", "parts", 2, 20, &p->parts)) ||
	    (rc = only(t, "plan.thresholds", tkeys)) ||
	    (rc = num(t, "plan.thresholds", "signature", 1, 16, &p->sig)) ||
	    (rc = num(t, "plan.thresholds", "revocation", 1, 16, &p->rev)) ||
	    (json_object_get(p->doc, "request") != NULL &&
	     ((rc = only(json_object_get(p->doc, "request"), "plan.request", rkeys)) ||
	      (rc = str(json_object_get(p->doc, "request"), "plan.request", "id", 1,
	                &p->request_id)) ||
	      (rc = str(json_object_get(p->doc, "request"), "plan.request", "doc", 1,
	                &p->request_doc)))) ||
	    (rc = check_sites(p->doc)) ||
	    (rc = modules_pairs(p)) || (rc = people(p)) ||
	    (rc = crypto_sha256(buf, len, dg)))
		goto out;
	hex_encode_buf(dg, 32, p->hex);
out:
	if (rc != HSM_OK)
		fpl_free(&p);
	*out = p;
	return rc;
}

hsm_rc
fpl_load(const char *path, fpl_plan **out)
{
	char *buf = NULL;
	size_t len = 0;
	hsm_rc rc;

	*out = NULL;
	if ((rc = hsm_file_read(path, FPL_FILE_MAX, &buf, &len)) != HSM_OK)
		return hsm_fail_wrap(rc, "plan %s", path);
	if ((rc = fpl_parse(buf, len, out)) != HSM_OK)
		hsm_fail_wrap(rc, "plan %s", path);
	free(buf);
	return rc;
}

void
fpl_free(fpl_plan **pp)
{
	fpl_plan *p = pp != NULL ? *pp : NULL;
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->npeople; i++)
		free(p->people[i].backups);
	if (p->people != NULL && p->npeople < json_array_size(json_object_get(p->doc, "people")))
		free(p->people[p->npeople].backups);
	free(p->people);
	free(p->modules);
	free(p->pairs);
	json_decref(p->doc);
	free(p);
	*pp = NULL;
}

size_t
fpl_count(const fpl_plan *p, const char *role)
{
	size_t i, n = 0;

	for (i = 0; i < p->npeople; i++)
		n += strcmp(p->people[i].role, role) == 0;
	return n;
}

const fpl_person *
fpl_person_at(const fpl_plan *p, const char *role, int n)
{
	size_t i;

	for (i = 0; i < p->npeople; i++)
		if (strcmp(p->people[i].role, role) == 0 && p->people[i].index == n)
			return &p->people[i];
	return NULL;
}
