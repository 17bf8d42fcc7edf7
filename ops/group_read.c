/* SPDX-License-Identifier: BSD-2-Clause */
/* group_read.c - the group engine's first steps: a call per member in a
 * thread of its own, reading every member (with each member's acceptance
 * check in its read thread), comparing the members, `group status`. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "group_int.h"
#include "hsmadm/cjson.h"

long long
grp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
worker(void *p)
{
	struct job *j = p;

	long long t0 = grp_now_ms();

	hsm_err_clear();
	if (j->cmd == NULL)
		j->rc = moddrv_query(j->m->drv, j->m->domain, &j->out);
	else
		j->rc = moddrv_apply(j->m->drv, j->m->domain, j->cmd, &j->out);
	j->t_call = grp_now_ms() - t0;
	if (j->rc != HSM_OK) {
		snprintf(j->msg, sizeof(j->msg), "%s", hsm_errmsg());
		return NULL;
	}
	if (j->cmd == NULL && j->pre != NULL && j->pres != NULL)
		grp_pre_check(j->m, j->pre, j->out, j->pres);
	if (j->cmd != NULL) {
		hsm_err_clear();
		t0 = grp_now_ms();
		j->vrc = grp_check_receipt(j->m, j->out, j->digest_hex, admincmd_op(j->cmd),
		    j->want, &j->rbody);
		j->t_verify = grp_now_ms() - t0;
		if (j->vrc != HSM_OK) {
			snprintf(j->vmsg, sizeof(j->vmsg), "%s", hsm_errmsg());
			j->rbody = NULL;
		}
	}
	return NULL;
}

void
grp_run_jobs(struct job *jobs, size_t n)
{
	pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	char *started = calloc(n ? n : 1, 1);
	size_t i;

	for (i = 0; i < n; i++) {
		if (th != NULL && started != NULL && n > 1 &&
		    pthread_create(&th[i], NULL, worker, &jobs[i]) == 0)
			started[i] = 1;
		else
			worker(&jobs[i]);   /* one member, or no thread: run it here */
	}
	for (i = 0; i < n; i++)
		if (started != NULL && started[i])
			pthread_join(th[i], NULL);
	free(th);
	free(started);
}

/* Read every member in parallel; with pre, each thread also checks whether
 * its member would accept pre->cmd (results in pres[i]), so that no
 * per-member step runs one member after another. */
hsm_rc
grp_read_members(const group_member *m, size_t n, json_t **states, struct pre *pre,
             struct preres *pres)
{
	struct job *jobs;
	hsm_rc rc = HSM_OK;
	size_t i;

	if (m == NULL || states == NULL || n == 0)
		return hsm_fail(HSM_ERR_USAGE, "group_read: bad arguments");
	if ((jobs = calloc(n, sizeof(*jobs))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		jobs[i].m = &m[i];
		if (pre != NULL && pres != NULL && (pre->sel == NULL || pre->sel[i])) {
			jobs[i].pre = pre;
			jobs[i].pres = &pres[i];
		}
	}
	grp_run_jobs(jobs, n);
	for (i = 0; i < n && rc == HSM_OK; i++) {
		if (jobs[i].rc != HSM_OK)
			rc = hsm_fail(jobs[i].rc, "module %s domain %u: %s", m[i].module,
			    m[i].domain, jobs[i].msg);
		else if (!json_is_object(jobs[i].out) ||
		    json_integer_value(json_object_get(jobs[i].out, "domain")) != (json_int_t)m[i].domain)
			rc = hsm_fail(HSM_ERR_MODULE,
			    "module %s domain %u answered with the state of another domain",
			    m[i].module, m[i].domain);
	}
	for (i = 0; i < n; i++) {
		if (rc == HSM_OK)
			states[i] = jobs[i].out;
		else {
			json_decref(jobs[i].out);
			states[i] = NULL;
		}
	}
	free(jobs);
	return rc;
}

hsm_rc
group_read(const group_member *m, size_t n, json_t **states)
{
	return grp_read_members(m, n, states, NULL, NULL);
}

static const char *const cmp_fields[] = {
	"imprint", "thresholds", "admins",
	"registers.current", "registers.pending", "registers.old",
};
#define N_CMP (sizeof(cmp_fields) / sizeof(cmp_fields[0]))

/* The value of a field of a state; admins without their public keys' hex
 * (the SKI names the key), so the comparison reads well. */
static json_t *
field_of(const json_t *state, const char *field)
{
	const char *dot = strchr(field, '.');
	json_t *v;

	if (dot != NULL) {
		char head[32];
		snprintf(head, sizeof(head), "%.*s", (int)(dot - field), field);
		v = json_object_get(json_object_get(state, head), dot + 1);
	} else
		v = json_object_get(state, field);
	if (strcmp(field, "admins") == 0 && json_is_array(v)) {
		json_t *a = json_array(), *e;
		size_t i;
		json_array_foreach(v, i, e)
			json_array_append_new(a, json_pack("{s:O?, s:O?, s:O?}",
			    "ski", json_object_get(e, "ski"),
			    "name", json_object_get(e, "name"),
			    "identity", json_object_get(e, "identity")));
		return a;
	}
	return v ? json_incref(v) : json_null();
}

static int
json_canon_equal(const json_t *a, const json_t *b)
{
	char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	int eq = 0;

	if (cjson_dump(a, &x, &xl) == HSM_OK && cjson_dump(b, &y, &yl) == HSM_OK)
		eq = (xl == yl && memcmp(x, y, xl) == 0);
	else
		eq = json_equal((json_t *)a, (json_t *)b);
	free(x);
	free(y);
	return eq;
}

/* Compare only the members with sel[i] != 0 (sel NULL = all). */
hsm_rc
grp_compare_sel(const group_member *m, size_t n, json_t *const *states, const char *sel,
            json_t **report)
{
	json_t *diffs = json_array();
	size_t f, i, first;

	if (diffs == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (first = 0; first < n && sel && !sel[first]; first++)
		;
	for (f = 0; f < N_CMP && first < n; f++) {
		json_t *ref = field_of(states[first], cmp_fields[f]);
		int differ = 0;
		for (i = first + 1; i < n; i++) {
			json_t *v;
			if (sel && !sel[i])
				continue;
			v = field_of(states[i], cmp_fields[f]);
			if (!json_canon_equal(ref, v))
				differ = 1;
			json_decref(v);
		}
		if (differ) {
			json_t *vals = json_array();
			for (i = first; i < n; i++) {
				if (sel && !sel[i])
					continue;
				json_array_append_new(vals, json_pack("{s:s, s:I, s:o}",
				    "module", m[i].module, "domain", (json_int_t)m[i].domain,
				    "value", field_of(states[i], cmp_fields[f])));
			}
			json_array_append_new(diffs, json_pack("{s:s, s:o}", "field",
			    cmp_fields[f], "values", vals));
		}
		json_decref(ref);
	}
	*report = json_pack("{s:b, s:o}", "equal", json_array_size(diffs) == 0,
	    "differences", diffs);
	if (*report == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

hsm_rc
group_compare(const group_member *m, size_t n, json_t *const *states, json_t **report)
{
	if (m == NULL || states == NULL || report == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_compare: bad arguments");
	return grp_compare_sel(m, n, states, NULL, report);
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

