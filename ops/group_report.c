/* SPDX-License-Identifier: BSD-2-Clause */
/* group_report.c - the last steps of a group_submit run: the group as it is
 * afterwards, and the report (per member: status, counters, error, receipt;
 * the outcome, who advanced and who missed it, the engine's timing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"

static const char *const mstat_name[] = {
	"not-targeted", "not-attempted", "already-applied", "refused", "applied", "failed",
	"no-answer",
};

void
grp_name_list(struct sb_list *l, const group_member *m)
{
	int k = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%s domain %u",
	    l->len ? ", " : "", m->module, m->domain);
	if (k > 0 && (size_t)k < sizeof(l->buf) - l->len)
		l->len += (size_t)k;
}

static json_t *
err_json(hsm_rc rc, const char *msg)
{
	return json_pack("{s:i, s:s, s:s}", "exit", hsm_exit_code(rc), "code",
	    hsm_strerror(rc), "message", msg);
}

/* The group after the run: receipts' states where applied, read states
 * elsewhere; replaces the comparison made before applying. */
void
grp_after_compare(struct run *r)
{
	json_t *cmp2 = NULL;
	size_t i;

	if (r->states[0] == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		const json_t *s = r->row[i].rbody ?
		    json_object_get(r->row[i].rbody, "state") : NULL;
		r->after[i] = s ? json_incref((json_t *)s) : json_incref(r->states[i]);
	}
	if (grp_compare_sel(r->m, r->n, r->after, r->sel, &cmp2) == HSM_OK) {
		r->group_equal = json_is_true(json_object_get(cmp2, "equal"));
		json_decref(r->cmp);
		r->cmp = cmp2;
	}
}

static json_t *
member_json(const struct run *r, size_t i)
{
	const struct mrow *row = &r->row[i];
	json_t *e = json_pack("{s:s, s:I, s:s}", "module", r->m[i].module,
	    "domain", (json_int_t)r->m[i].domain, "status", mstat_name[row->st]);

	if (e == NULL)
		return NULL;
	if (row->st != M_NOT_TARGETED)
		json_object_set_new(e, "command_counter", json_integer((json_int_t)row->want));
	if (r->states[i])
		json_object_set(e, "counter_before", json_object_get(r->states[i], "counter"));
	if (row->rbody)
		json_object_set(e, "counter_after", json_object_get(row->rbody, "counter_after"));
	if (row->st == M_REFUSED || row->st == M_FAILED || row->st == M_ALREADY ||
	    row->st == M_NO_ANSWER)
		json_object_set_new(e, "error", err_json(row->rc, row->msg));
	if (row->receipt)
		json_object_set(e, "receipt", row->receipt);
	if (row->recovered)
		json_object_set_new(e, "recovered", json_true());
	return e;
}

hsm_rc
grp_build_report(struct run *r, json_t **report)
{
	json_t *members = json_array();
	size_t i;

	for (i = 0; i < r->n && members != NULL; i++)
		json_array_append_new(members, member_json(r, i));
	*report = json_pack("{s:s, s:s, s:s, s:b, s:b, s:o, s:s, s:s, s:b, s:O*}",
	    "op", admincmd_op(r->cmd), "command_digest", r->digest_hex ? r->digest_hex : "",
	    "outcome", r->outcome, "roll_forward", r->roll_forward, "touched", r->touched,
	    "members", members, "advanced", r->adv.buf, "missed", r->miss.buf,
	    "group_equal", r->group_equal, "compare", r->cmp);
	if (*report == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_object_set_new(*report, "message", json_string(r->message));
	/* How long the engine took (reading, applying in parallel, all of it
	 * including receipt checks), for the fan-out benchmark. */
	json_object_set_new(*report, "timing_ms", json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I}",
	    "read", (json_int_t)r->t_read, "preflight", (json_int_t)r->t_pre,
	    "apply", (json_int_t)r->t_apply, "apply_call_max", (json_int_t)r->t_call_max,
	    "verify_max", (json_int_t)r->t_verify_max,
	    "total", (json_int_t)(grp_now_ms() - r->t_start)));
	return HSM_OK;
}
