/* SPDX-License-Identifier: BSD-2-Clause */
/* group_read.c - the group engine's first steps: reading every member (one
 * request per module, the modules in parallel, each answer parsed once and
 * each member's acceptance check made in its module's thread), comparing
 * the members, `group status`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"
#include "hsmadm/cjson.h"

struct readctx {
	const group_member   *m;
	const struct readopt *o;
	group_state          *st;
	hsm_rc               *rc;     /* per member */
	char                (*msg)[MODDRV_MSG_MAX];
};

/* In the module's thread, as soon as its answer is there. */
static void
read_each(void *vctx, size_t i, moddrv_result *res)
{
	struct readctx *c = vctx;
	const group_member *m = &c->m[i];

	hsm_err_clear();
	if (c->o->resv != NULL)
		c->o->resv[i] = res->resv;
	if ((c->rc[i] = res->rc) != HSM_OK) {
		snprintf(c->msg[i], MODDRV_MSG_MAX, "%s", res->msg);
		return;
	}
	if ((c->rc[i] = grp_state_parse(res->out, c->o->pc, c->o->pubkeys, &c->st[i])) != HSM_OK) {
		snprintf(c->msg[i], MODDRV_MSG_MAX, "%s", hsm_errmsg());
		return;
	}
	if (json_integer_value(json_object_get(res->out, "domain")) != (json_int_t)m->domain) {
		c->rc[i] = HSM_ERR_MODULE;
		snprintf(c->msg[i], MODDRV_MSG_MAX, "answered with the state of another domain");
		return;
	}
	if (c->o->pre != NULL && c->o->pres != NULL)
		grp_pre_check(m, c->o->pre, &c->st[i], &c->o->pres[i]);
}

hsm_rc
grp_read_typed(const group_member *m, size_t n, const struct readopt *o, group_state *st)
{
	moddrv_result *res = calloc(n ? n : 1, sizeof(*res));
	hsm_rc *rcs = calloc(n ? n : 1, sizeof(*rcs));
	char (*msg)[MODDRV_MSG_MAX] = calloc(n ? n : 1, sizeof(*msg));
	struct readctx c = { m, o, st, rcs, msg };
	struct bcall call = { BK_QUERY, NULL, read_each, &c, 0, NULL, 0 };
	struct gplan p;
	hsm_rc rc = HSM_OK;
	size_t i, k, j;

	memset(&p, 0, sizeof(p));
	if (o->reserve != NULL) {
		call.digest = o->digest;
		call.ballot = o->ballot;
	}
	if (m == NULL || n == 0 || st == NULL)
		rc = hsm_fail(HSM_ERR_USAGE, "group_read: bad arguments");
	else if (res == NULL || rcs == NULL || msg == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	else if ((rc = grp_plan(m, n, o->sel, &p)) == HSM_OK) {
		for (k = 0; o->reserve != NULL && k < p.nb; k++)
			for (j = 0; j < p.b[k].n; j++)
				p.b[k].from[j] = o->reserve[p.b[k].idx[j]];
		grp_run_batches(&p, &call, res);
	}
	for (i = 0; i < n && rc == HSM_OK; i++)
		if ((o->sel == NULL || o->sel[i]) && rcs[i] != HSM_OK)
			rc = hsm_fail(rcs[i], "module %s domain %u: %s", m[i].module, m[i].domain,
			    msg[i]);
	for (i = 0; i < n && rc != HSM_OK && st != NULL; i++)
		group_state_clear(&st[i]);
	moddrv_results_clear(res, n);
	grp_plan_free(&p);
	free(res);
	free(rcs);
	free(msg);
	return rc;
}

/* The JSON states as the modules sent them (callers that look at fields
 * the engine does not parse): only the domain is checked. */
hsm_rc
group_read(const group_member *m, size_t n, json_t **states)
{
	moddrv_result *res;
	struct bcall call = { BK_QUERY, NULL, NULL, NULL, 0, NULL, 0 };
	struct gplan p;
	hsm_rc rc = HSM_OK;
	size_t i;

	if (m == NULL || states == NULL || n == 0)
		return hsm_fail(HSM_ERR_USAGE, "group_read: bad arguments");
	if ((res = calloc(n, sizeof(*res))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = grp_plan(m, n, NULL, &p)) == HSM_OK) {
		grp_run_batches(&p, &call, res);
		grp_plan_free(&p);
	}
	for (i = 0; i < n && rc == HSM_OK; i++) {
		if (res[i].rc != HSM_OK)
			rc = hsm_fail(res[i].rc, "module %s domain %u: %s", m[i].module,
			    m[i].domain, res[i].msg);
		else if (!json_is_object(res[i].out) ||
		    json_integer_value(json_object_get(res[i].out, "domain")) != (json_int_t)m[i].domain)
			rc = hsm_fail(HSM_ERR_MODULE,
			    "module %s domain %u answered with the state of another domain",
			    m[i].module, m[i].domain);
	}
	for (i = 0; i < n; i++) {
		states[i] = rc == HSM_OK ? res[i].out : NULL;
		if (rc == HSM_OK)
			res[i].out = NULL;
	}
	moddrv_results_clear(res, n);
	free(res);
	return rc;
}

hsm_rc
group_compare(const group_member *m, size_t n, json_t *const *states, json_t **report)
{
	group_state *st;
	const group_state **sp;
	hsm_rc rc = HSM_OK;
	size_t i;

	if (m == NULL || states == NULL || report == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_compare: bad arguments");
	*report = NULL;
	st = calloc(n ? n : 1, sizeof(*st));
	sp = calloc(n ? n : 1, sizeof(*sp));
	if (st == NULL || sp == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < n && rc == HSM_OK; i++) {
		if ((rc = grp_state_parse(states[i], NULL, 0, &st[i])) != HSM_OK)
			rc = hsm_fail_wrap(rc, "module %s domain %u", m[i].module, m[i].domain);
		sp[i] = &st[i];
	}
	if (rc == HSM_OK &&
	    (*report = grp_compare_json(m, sp, n, NULL, grp_diff_mask(sp, n, NULL))) == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; st != NULL && i < n; i++)
		group_state_clear(&st[i]);
	free(st);
	free(sp);
	return rc;
}

hsm_rc
group_status(const group_member *m, size_t n, json_t **report)
{
	json_t **states = NULL, *rows = NULL, *cmp = NULL;
	size_t i;
	hsm_rc rc;

	*report = NULL;
	if ((states = calloc(n ? n : 1, sizeof(*states))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = group_read(m, n, states)) != HSM_OK)
		goto out;
	if ((rc = group_compare(m, n, states, &cmp)) != HSM_OK)
		goto out;
	rows = json_array();
	for (i = 0; i < n; i++) {
		json_t *s = states[i];
		json_array_append_new(rows, json_pack("{s:s, s:I, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
		    "module", m[i].module, "domain", (json_int_t)m[i].domain,
		    "counter", json_object_get(s, "counter"),
		    "imprint", json_object_get(s, "imprint"),
		    "thresholds", json_object_get(s, "thresholds"),
		    "admins", json_object_get(s, "admins"),
		    "registers", json_object_get(s, "registers"),
		    "state_digest", json_object_get(s, "state_digest")));
	}
	*report = json_pack("{s:o, s:O}", "members", rows, "compare", cmp);
	if (*report == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	for (i = 0; i < n && states; i++)
		json_decref(states[i]);
	free(states);
	json_decref(cmp);
	return rc;
}
