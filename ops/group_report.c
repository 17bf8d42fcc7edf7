/* SPDX-License-Identifier: BSD-2-Clause */
/* group_report.c - the report of a group_submit run: a C struct (per
 * member: status, counters, error, receipt; the outcome, who advanced and
 * who missed it, the group afterwards, the engine's timing), rendered to
 * JSON or words only where a command prints it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"

static const char *const mstat_name[] = {
	"not-targeted", "not-attempted", "already-applied", "refused", "applied", "failed",
	"no-answer",
};

const char *
group_mstatus_name(group_mstatus s)
{
	return (unsigned)s < sizeof(mstat_name) / sizeof(mstat_name[0]) ? mstat_name[s] : "?";
}

void
grp_name_list(struct sb_list *l, const group_member *m)
{
	int k = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%s domain %u",
	    l->len ? ", " : "", m->module, m->domain);
	if (k > 0 && (size_t)k < sizeof(l->buf) - l->len)
		l->len += (size_t)k;
}

/* The group after the run: receipts' states where applied, read states
 * elsewhere. */
static json_t *
after_compare(const struct run *r, int *equal)
{
	const group_state **sp = calloc(r->n, sizeof(*sp));
	json_t *cmp = NULL;
	unsigned mask;
	size_t i;

	*equal = 0;
	if (sp == NULL)
		return NULL;
	for (i = 0; i < r->n; i++)
		sp[i] = r->row[i].st == GROUP_APPLIED && r->row[i].rc_ok.doc ?
		    &r->row[i].rc_ok.state : &r->st[i];
	mask = grp_diff_mask(sp, r->n, r->sel);
	*equal = mask == 0;
	cmp = grp_compare_json(r->m, sp, r->n, r->sel, mask);
	free(sp);
	return cmp;
}

static void
fill_row(const struct run *r, size_t i, group_row *o)
{
	const struct mrow *row = &r->row[i];

	o->module = r->m[i].module;
	o->domain = r->m[i].domain;
	o->status = row->st;
	o->command_counter = row->want;
	o->has_before = r->st[i].doc != NULL;
	o->counter_before = r->st[i].counter;
	o->has_after = row->rc_ok.doc != NULL && row->st == GROUP_APPLIED;
	o->counter_after = row->rc_ok.counter_after;
	o->rc = row->rc;
	snprintf(o->msg, sizeof(o->msg), "%s", row->msg);
	o->receipt = row->rc_ok.doc ? json_incref(row->rc_ok.doc) : NULL;
	o->recovered = row->recovered;
}

hsm_rc
grp_build_report(struct run *r, group_report **out)
{
	group_report *g = calloc(1, sizeof(*g));
	size_t i;

	*out = NULL;
	if (g == NULL || (g->rows = calloc(r->n, sizeof(*g->rows))) == NULL) {
		free(g);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	snprintf(g->op, sizeof(g->op), "%s", admincmd_op(r->cmd));
	snprintf(g->command_digest, sizeof(g->command_digest), "%s",
	    r->digest_hex ? r->digest_hex : "");
	g->outcome = r->outcome;
	g->roll_forward = r->roll_forward;
	g->touched = r->touched;
	g->n = r->n;
	for (i = 0; i < r->n; i++)
		fill_row(r, i, &g->rows[i]);
	snprintf(g->advanced, sizeof(g->advanced), "%s", r->adv.buf);
	snprintf(g->missed, sizeof(g->missed), "%s", r->miss.buf);
	snprintf(g->message, sizeof(g->message), "%s", r->message);
	g->compare = after_compare(r, &g->group_equal);
	g->ms.read = r->t_read;
	g->ms.preflight = r->t_pre;
	g->ms.apply = r->t_apply;
	g->ms.apply_call_max = r->t_call_max;
	g->ms.verify_max = r->t_verify_max;
	g->ms.total = grp_now_ms() - r->t_start;
	*out = g;
	return HSM_OK;
}

void
group_report_free(group_report **r)
{
	size_t i;

	if (r == NULL || *r == NULL)
		return;
	for (i = 0; i < (*r)->n; i++)
		json_decref((*r)->rows[i].receipt);
	json_decref((*r)->compare);
	free((*r)->rows);
	free(*r);
	*r = NULL;
}

static json_t *
row_json(const group_row *o)
{
	json_t *e = json_pack("{s:s, s:I, s:s}", "module", o->module,
	    "domain", (json_int_t)o->domain, "status", group_mstatus_name(o->status));

	if (e == NULL)
		return NULL;
	if (o->status != GROUP_NOT_TARGETED)
		json_object_set_new(e, "command_counter", json_integer((json_int_t)o->command_counter));
	if (o->has_before)
		json_object_set_new(e, "counter_before", json_integer((json_int_t)o->counter_before));
	if (o->has_after)
		json_object_set_new(e, "counter_after", json_integer((json_int_t)o->counter_after));
	if (o->status == GROUP_REFUSED || o->status == GROUP_FAILED ||
	    o->status == GROUP_ALREADY || o->status == GROUP_NO_ANSWER)
		json_object_set_new(e, "error", json_pack("{s:i, s:s, s:s}", "exit",
		    hsm_exit_code(o->rc), "code", hsm_strerror(o->rc), "message", o->msg));
	if (o->receipt)
		json_object_set(e, "receipt", o->receipt);
	if (o->recovered)
		json_object_set_new(e, "recovered", json_true());
	return e;
}

json_t *
group_report_json(const group_report *r)
{
	json_t *members = json_array(), *j;
	size_t i;

	if (r == NULL)
		return NULL;
	for (i = 0; i < r->n && members != NULL; i++)
		json_array_append_new(members, row_json(&r->rows[i]));
	j = json_pack("{s:s, s:s, s:s, s:b, s:b, s:o, s:s, s:s, s:b, s:O*, s:s}",
	    "op", r->op, "command_digest", r->command_digest, "outcome", r->outcome,
	    "roll_forward", r->roll_forward, "touched", r->touched, "members", members,
	    "advanced", r->advanced, "missed", r->missed, "group_equal", r->group_equal,
	    "compare", r->compare, "message", r->message);
	/* How long the engine took (reading, applying in parallel, all of it
	 * including receipt checks), for the fan-out benchmark. */
	if (j != NULL)
		json_object_set_new(j, "timing_ms", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
		    "read", (json_int_t)r->ms.read, "preflight", (json_int_t)r->ms.preflight,
		    "apply", (json_int_t)r->ms.apply, "apply_call_max",
		    (json_int_t)r->ms.apply_call_max, "verify_max", (json_int_t)r->ms.verify_max,
		    "total", (json_int_t)r->ms.total));
	return j;
}

void
group_report_print(const group_report *r, FILE *f)
{
	const group_row *o;
	size_t i;

	for (i = 0; r != NULL && i < r->n; i++) {
		o = &r->rows[i];
		fprintf(f, "  %s domain %u: %-15s counter %llu", o->module, o->domain,
		    group_mstatus_name(o->status), (unsigned long long)o->counter_before);
		if (o->has_after)
			fprintf(f, " -> %llu", (unsigned long long)o->counter_after);
		if (o->recovered)
			fprintf(f, "  (%s; its receipt was fetched again)",
			    o->status == GROUP_ALREADY ? "applied earlier" : "its answer was lost");
		else if (o->status == GROUP_REFUSED || o->status == GROUP_FAILED ||
		    o->status == GROUP_ALREADY || o->status == GROUP_NO_ANSWER)
			fprintf(f, "  (%s)", o->msg);
		fprintf(f, "\n");
	}
	if (r == NULL)
		return;
	fprintf(f, "%s\n", r->message);
	if (r->group_equal)
		fprintf(f, "The group's members are configured the same.\n");
	else if (r->compare)
		fprintf(f, "The group's members now DIFFER; see: hsmadm-domain group compare\n");
}
