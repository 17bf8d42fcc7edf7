/* SPDX-License-Identifier: BSD-2-Clause */
/* group_state.c - a module's answer parsed once into C structs (a domain
 * state, a receipt), compared field by field, and rendered back to JSON only
 * for reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"
#include "hsmadm/cjson.h"

#define BAD(...) hsm_fail(HSM_ERR_MODULE, __VA_ARGS__)

/* A string member into a fixed buffer; NULL/absent allowed when opt. */
static hsm_rc
get_str(const json_t *o, const char *key, char *buf, size_t len, int opt)
{
	const json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);

	buf[0] = '\0';
	if (s == NULL) {
		if (opt && (v == NULL || json_is_null(v)))
			return HSM_OK;
		return BAD("the domain state has no string \"%s\"", key);
	}
	if (strlen(s) >= len)
		return BAD("the domain state's \"%s\" is too long", key);
	memcpy(buf, s, strlen(s) + 1);
	return HSM_OK;
}

static hsm_rc
get_uint(const json_t *o, const char *key, long long max, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return BAD("the module reports a bad %s", key);
	*out = (uint64_t)json_integer_value(v);
	return HSM_OK;
}

static hsm_rc
parse_register(const json_t *regs, const char *name, group_register *r)
{
	const json_t *o = json_object_get(regs, name), *pl, *e;
	uint64_t v;
	size_t i;
	hsm_rc rc;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return BAD("the domain state has no register %s", name);
	if ((rc = get_str(o, "state", r->state, sizeof(r->state), 0)) != HSM_OK ||
	    (rc = get_str(o, "mkvp", r->mkvp, sizeof(r->mkvp), 1)) != HSM_OK)
		return rc;
	if (json_object_get(o, "parts_total") != NULL) {
		if ((rc = get_uint(o, "parts_total", GROUP_MAX_PARTS, &v)) != HSM_OK)
			return rc;
		r->parts_total = (unsigned)v;
	}
	pl = json_object_get(o, "parts_loaded");
	if (pl != NULL && (!json_is_array(pl) || json_array_size(pl) > GROUP_MAX_PARTS))
		return BAD("the domain state's parts_loaded is not a list of at most %d parts",
		    GROUP_MAX_PARTS);
	json_array_foreach(pl, i, e) {
		if ((rc = get_uint(e, "index", GROUP_MAX_PARTS, &v)) != HSM_OK ||
		    (rc = get_str(e, "kpvp", r->parts[i].kpvp, GROUP_HEX32, 0)) != HSM_OK)
			return rc;
		r->parts[i].index = (unsigned)v;
	}
	r->nparts = json_array_size(pl);
	return HSM_OK;
}

static hsm_rc
parse_admins(const json_t *arr, struct pkcache *pc, int pubkeys, group_state *s)
{
	const json_t *e;
	const char *pk;
	size_t i;
	hsm_rc rc;

	if (!json_is_array(arr))
		return hsm_fail(HSM_ERR_FORMAT, "domain state from the module: no admins list");
	if (json_array_size(arr) > GROUP_MAX_ADMINS)
		return BAD("the module reports more than %d admins", GROUP_MAX_ADMINS);
	json_array_foreach(arr, i, e) {
		group_admin *a = &s->admins[i];
		if ((rc = get_str(e, "ski", a->ski, sizeof(a->ski), 1)) != HSM_OK ||
		    (rc = get_str(e, "name", a->name, sizeof(a->name), 1)) != HSM_OK ||
		    (rc = get_str(e, "identity", a->identity, sizeof(a->identity), 0)) != HSM_OK)
			return hsm_fail_wrap(HSM_ERR_MODULE, "admin %zu of the domain state", i);
		s->nadmins = i + 1;
		if (!pubkeys)
			continue;
		if ((pk = json_string_value(json_object_get(e, "pubkey"))) == NULL ||
		    grp_pubkey_cached(pc, pk, &a->pub, a->ski_of_key) != HSM_OK)
			return hsm_fail_wrap(HSM_ERR_MODULE, "admin %zu of the domain state", i);
	}
	return HSM_OK;
}

hsm_rc
grp_state_parse(const json_t *doc, struct pkcache *pc, int pubkeys, group_state *s)
{
	const json_t *thr, *regs, *imp;
	uint64_t v;
	hsm_rc rc;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(doc))
		return BAD("the module's domain state is not an object");
	if ((rc = parse_admins(json_object_get(doc, "admins"), pc, pubkeys, s)) != HSM_OK)
		goto fail;
	thr = json_object_get(doc, "thresholds");
	if (!json_is_object(thr)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "domain state from the module: no thresholds");
		goto fail;
	}
	if ((rc = get_uint(thr, "signature", 8, &v)) != HSM_OK)
		goto fail;
	s->sig_thr = (unsigned)v;
	if ((rc = get_uint(thr, "revocation", 8, &v)) != HSM_OK ||
	    (rc = get_uint(doc, "counter", INT64_MAX, &s->counter)) != HSM_OK)
		goto fail;
	s->rev_thr = (unsigned)v;
	s->imprint = json_object_get(doc, "imprint") ? json_is_true(json_object_get(doc, "imprint"))
	    : (s->sig_thr == 0 && s->rev_thr == 0);
	if (json_object_get(doc, "domain") != NULL) {
		if ((rc = get_uint(doc, "domain", 1000, &v)) != HSM_OK)
			goto fail;
		s->domain = (unsigned)v;
	}
	regs = json_object_get(doc, "registers");
	if ((rc = get_str(doc, "module", s->module, sizeof(s->module), 1)) != HSM_OK ||
	    (rc = get_str(doc, "state_digest", s->digest, sizeof(s->digest), 1)) != HSM_OK ||
	    (rc = parse_register(regs, "current", &s->current)) != HSM_OK ||
	    (rc = parse_register(regs, "pending", &s->pending)) != HSM_OK ||
	    (rc = parse_register(regs, "old", &s->old)) != HSM_OK)
		goto fail;
	imp = json_object_get(doc, "importer");
	if (json_is_object(imp)) {
		s->has_importer = 1;
		if ((rc = get_str(imp, "ski", s->importer_ski, GROUP_HEX32, 1)) != HSM_OK)
			goto fail;
	}
	s->doc = json_incref((json_t *)doc);
	return HSM_OK;
fail:
	group_state_clear(s);
	return rc;
}

hsm_rc
group_state_parse(const json_t *doc, int pubkeys, group_state *out)
{
	return grp_state_parse(doc, NULL, pubkeys, out);
}

void
group_state_clear(group_state *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < GROUP_MAX_ADMINS; i++)
		EVP_PKEY_free(s->admins[i].pub);
	json_decref(s->doc);
	memset(s, 0, sizeof(*s));
}

void
group_receipt_clear(group_receipt *r)
{
	if (r == NULL)
		return;
	group_state_clear(&r->state);
	json_decref(r->doc);
	memset(r, 0, sizeof(*r));
}

/* ---- comparing ---- */

static int
reg_equal(const group_register *a, const group_register *b)
{
	size_t i;

	if (strcmp(a->state, b->state) != 0 || strcmp(a->mkvp, b->mkvp) != 0 ||
	    a->parts_total != b->parts_total || a->nparts != b->nparts)
		return 0;
	for (i = 0; i < a->nparts; i++)
		if (a->parts[i].index != b->parts[i].index ||
		    strcmp(a->parts[i].kpvp, b->parts[i].kpvp) != 0)
			return 0;
	return 1;
}

static int
admins_equal(const group_state *a, const group_state *b)
{
	size_t i;

	if (a->nadmins != b->nadmins)
		return 0;
	for (i = 0; i < a->nadmins; i++)
		if (strcmp(a->admins[i].ski, b->admins[i].ski) != 0 ||
		    strcmp(a->admins[i].name, b->admins[i].name) != 0 ||
		    strcmp(a->admins[i].identity, b->admins[i].identity) != 0)
			return 0;
	return 1;
}

const char *const grp_cmp_fields[GRP_NCMP] = {
	"imprint", "thresholds", "admins",
	"registers.current", "registers.pending", "registers.old",
};

int
grp_field_equal(const group_state *a, const group_state *b, int f)
{
	switch (f) {
	case 0: return a->imprint == b->imprint;
	case 1: return a->sig_thr == b->sig_thr && a->rev_thr == b->rev_thr;
	case 2: return admins_equal(a, b);
	case 3: return reg_equal(&a->current, &b->current);
	case 4: return reg_equal(&a->pending, &b->pending);
	default: return reg_equal(&a->old, &b->old);
	}
}

static json_t *
reg_json(const group_register *r, int pending)
{
	json_t *o = json_pack("{s:s, s:s?}", "state", r->state, "mkvp",
	    r->mkvp[0] ? r->mkvp : NULL), *pl;
	size_t i;

	if (o == NULL || !pending)
		return o;
	json_object_set_new(o, "parts_total", json_integer(r->parts_total));
	pl = json_array();
	for (i = 0; i < r->nparts; i++)
		json_array_append_new(pl, json_pack("{s:i, s:s}", "index", (int)r->parts[i].index,
		    "kpvp", r->parts[i].kpvp));
	json_object_set_new(o, "parts_loaded", pl);
	return o;
}

/* The value of field f, for a report (admins without their public keys:
 * the SKI names the key, so the comparison reads well). */
json_t *
grp_field_json(const group_state *s, int f)
{
	json_t *a;
	size_t i;

	switch (f) {
	case 0: return json_boolean(s->imprint);
	case 1: return json_pack("{s:i, s:i}", "signature", (int)s->sig_thr, "revocation",
	    (int)s->rev_thr);
	case 2:
		a = json_array();
		for (i = 0; i < s->nadmins; i++)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "ski",
			    s->admins[i].ski, "name", s->admins[i].name, "identity",
			    s->admins[i].identity));
		return a;
	case 3: return reg_json(&s->current, 0);
	case 4: return reg_json(&s->pending, 1);
	default: return reg_json(&s->old, 0);
	}
}

/* Bit f set: members with sel[i] (NULL: all) differ in field f. */
unsigned
grp_diff_mask(const group_state *const *st, size_t n, const char *sel)
{
	size_t first, i;
	unsigned mask = 0;
	int f;

	for (first = 0; first < n && ((sel && !sel[first]) || st[first] == NULL); first++)
		;
	for (i = first + 1; i < n; i++) {
		if ((sel && !sel[i]) || st[i] == NULL)
			continue;
		for (f = 0; f < GRP_NCMP; f++)
			if (!grp_field_equal(st[first], st[i], f))
				mask |= 1u << f;
	}
	return mask;
}

/* {"equal", "differences": [{"field", "values": [{module, domain, value}]}]} */
json_t *
grp_compare_json(const group_member *m, const group_state *const *st, size_t n,
                 const char *sel, unsigned mask)
{
	json_t *diffs = json_array(), *vals;
	size_t i;
	int f;

	for (f = 0; f < GRP_NCMP && diffs != NULL; f++) {
		if (!(mask & (1u << f)))
			continue;
		vals = json_array();
		for (i = 0; i < n; i++)
			if ((sel == NULL || sel[i]) && st[i] != NULL)
				json_array_append_new(vals, json_pack("{s:s, s:I, s:o}",
				    "module", m[i].module, "domain", (json_int_t)m[i].domain,
				    "value", grp_field_json(st[i], f)));
		json_array_append_new(diffs, json_pack("{s:s, s:o}", "field", grp_cmp_fields[f],
		    "values", vals));
	}
	return json_pack("{s:b, s:o}", "equal", mask == 0, "differences", diffs);
}
