/* SPDX-License-Identifier: BSD-2-Clause */
/* group_apply.c - group_submit, its steps in order: which members the
 * command names, read (with each member's pre-flight), compare, refuse
 * before touching anything, apply in parallel with each receipt checked,
 * fetch again the receipts of lost answers, summarize, report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"

/* The connection went away: the module may or may not have applied it. */
static int
lost_answer(hsm_rc rc)
{
	return rc == HSM_ERR_MODULE || rc == HSM_ERR_TLS || rc == HSM_ERR_TIMEOUT ||
	    rc == HSM_ERR_IO || rc == HSM_ERR_NOT_FOUND;
}

static void
run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (r->states)
			json_decref(r->states[i]);
		if (r->after)
			json_decref(r->after[i]);
		if (r->row)
			json_decref(r->row[i].receipt);
		if (r->jobs)
			json_decref(r->jobs[i].out);
	}
	json_decref(r->cmp);
	free(r->row);
	free(r->states);
	free(r->after);
	free(r->jobs);
	free(r->sel);
	free(r->digest_hex);
	free(r->pres);
	if (r->pre != NULL)
		grp_pkcache_done(&r->pre->pk);
	free(r->pre);
}

static hsm_rc
run_init(struct run *r, const group_member *m, size_t n, const admincmd *cmd, int64_t now,
         int roll_forward)
{
	memset(r, 0, sizeof(*r));
	r->m = m;
	r->n = n;
	r->cmd = cmd;
	r->now = now;
	r->roll_forward = roll_forward;
	r->outcome = "refused";
	r->t_start = grp_now_ms();
	r->row = calloc(n, sizeof(*r->row));
	r->states = calloc(n, sizeof(*r->states));
	r->after = calloc(n, sizeof(*r->after));
	r->jobs = calloc(n, sizeof(*r->jobs));
	r->sel = calloc(n, 1);
	r->pres = calloc(n, sizeof(*r->pres));
	if ((r->pre = calloc(1, sizeof(*r->pre))) != NULL)
		grp_pkcache_init(&r->pre->pk);
	if (r->row == NULL || r->states == NULL || r->after == NULL || r->jobs == NULL ||
	    r->sel == NULL || r->pres == NULL || r->pre == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return admincmd_digest_text(cmd, &r->digest_hex, NULL);
}

/* Which members does the command name; does it name strangers? */
static hsm_rc
run_targets(struct run *r)
{
	const group_member *m = r->m;
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		if (admincmd_target_for(r->cmd, m[i].module, m[i].domain, &r->row[i].want) ==
		    HSM_OK) {
			r->row[i].st = M_PENDING;
			r->sel[i] = 1;
			r->ntarget++;
		} else
			r->row[i].st = M_NOT_TARGETED;
	}
	hsm_err_clear();
	for (j = 0; j < admincmd_ntargets(r->cmd); j++) {
		admincmd_target t;
		if (admincmd_target_at(r->cmd, j, &t) != HSM_OK)
			continue;
		for (i = 0; i < r->n; i++)
			if (m[i].domain == t.domain && strcmp(m[i].module, t.module) == 0)
				break;
		if (i == r->n)
			return hsm_fail(HSM_ERR_REFUSED,
			    "the command names module %s domain %u, which is not a member of "
			    "this group; nothing was changed", t.module, t.domain);
	}
	if (r->ntarget == 0)
		return hsm_fail(HSM_ERR_REFUSED, "the command names no member of this group");
	return HSM_OK;
}

/* 1. read every member; each member's thread also checks (3.) whether it
 * would accept the command. 2. compare the targeted members. */
static hsm_rc
run_read(struct run *r)
{
	hsm_rc rc;

	r->pre->cmd = r->cmd;
	r->pre->now = r->now;
	r->pre->sel = r->sel;
	if ((rc = grp_read_members(r->m, r->n, r->states, r->pre, r->pres)) != HSM_OK)
		return hsm_fail_wrap(rc, "reading the group (nothing was changed)");
	r->t_read = grp_now_ms() - r->t_start;
	return grp_compare_sel(r->m, r->n, r->states, r->sel, &r->cmp);
}

/* 3. would every member accept it? Members past the command's counter are
 * "already applied"; the first refusal is kept for the message. */
static hsm_rc
run_classify(struct run *r)
{
	size_t i;
	hsm_rc rc;

	for (i = 0; i < r->n; i++) {
		struct mrow *row = &r->row[i];
		struct preres *p = &r->pres[i];

		if (row->st != M_PENDING)
			continue;
		if (!p->done)
			grp_pre_check(&r->m[i], r->pre, r->states[i], p);   /* not reached: read checks it */
		if ((rc = p->rc) == HSM_OK)
			continue;
		row->rc = rc;
		snprintf(row->msg, sizeof(row->msg), "%s", p->msg);
		if (rc == HSM_ERR_REPLAY && p->ctr > row->want) {
			row->st = M_ALREADY;
			r->nalready++;
			continue;
		}
		row->st = M_REFUSED;
		if (r->first_rc == HSM_OK) {
			r->first_rc = rc;
			snprintf(r->message, sizeof(r->message), "module %s domain %u: %s",
			    r->m[i].module, r->m[i].domain, row->msg);
		}
	}
	if (r->first_rc != HSM_OK)
		return hsm_fail(r->first_rc, "%s; nothing was changed", r->message);
	return HSM_OK;
}

/* Some members are past the command's counter and this is no roll-forward:
 * a replay (all of them) or a partial apply from an earlier run. */
static hsm_rc
run_refuse_partial(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (r->row[i].st == M_ALREADY)
			grp_name_list(&r->adv, &r->m[i]);
		else if (r->row[i].st == M_PENDING)
			grp_name_list(&r->miss, &r->m[i]);
	}
	if (r->nalready == r->ntarget) {
		/* Not a roll-forward: a plain replay, refused by every member. */
		for (i = 0; i < r->n; i++)
			if (r->row[i].st == M_ALREADY)
				r->row[i].st = M_REFUSED;
		return hsm_fail(HSM_ERR_REPLAY, "every member is already past this "
		    "command's counter: it was applied already (or is stale); nothing "
		    "was changed");
	}
	r->outcome = "diverged";
	return hsm_fail(HSM_ERR_DIVERGED,
	    "the group is divergent: %s already advanced past this command, "
	    "%s did not. Nothing was changed now. Re-submit the same signed "
	    "command with --roll-forward to complete %s.", r->adv.buf, r->miss.buf,
	    r->miss.buf);
}

/* 4. apply on every pending member in parallel (each thread checks its
 * receipt), 5. take each answer. */
static void
run_apply(struct run *r)
{
	size_t i, j;
	long long t0;

	for (i = 0; i < r->n; i++) {
		if (r->row[i].st != M_PENDING)
			continue;
		r->jobs[r->napply].m = &r->m[i];
		r->jobs[r->napply].cmd = r->cmd;
		r->jobs[r->napply].digest_hex = r->digest_hex;
		r->jobs[r->napply].want = r->row[i].want;
		r->napply++;
	}
	r->touched = r->napply > 0;
	t0 = grp_now_ms();
	r->t_pre = t0 - r->t_start - r->t_read;
	grp_run_jobs(r->jobs, r->napply);
	r->t_apply = grp_now_ms() - t0;
	for (i = 0; i < r->napply; i++) {
		if (r->jobs[i].t_call > r->t_call_max)
			r->t_call_max = r->jobs[i].t_call;
		if (r->jobs[i].t_verify > r->t_verify_max)
			r->t_verify_max = r->jobs[i].t_verify;
	}
	for (i = 0, j = 0; i < r->n; i++) {
		struct mrow *row = &r->row[i];
		struct job *jb;

		if (row->st != M_PENDING)
			continue;
		jb = &r->jobs[j++];
		if (jb->rc != HSM_OK) {
			row->st = lost_answer(jb->rc) ? M_NO_ANSWER : M_FAILED;
			row->rc = jb->rc;
			snprintf(row->msg, sizeof(row->msg), "%s", jb->msg);
			continue;
		}
		row->receipt = jb->out;
		jb->out = NULL;
		if (jb->vrc != HSM_OK) {
			row->st = M_FAILED;
			row->rc = jb->vrc;
			snprintf(row->msg, sizeof(row->msg),
			    "the module answered but its receipt does not verify: %.900s",
			    jb->vmsg);
			continue;
		}
		row->rbody = jb->rbody;
		row->st = M_APPLIED;
	}
}

/* Who advanced, who missed it; the outcome and its message. */
static hsm_rc
run_summarize(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct mrow *row = &r->row[i];
		if (row->st == M_APPLIED || row->st == M_ALREADY) {
			grp_name_list(&r->adv, &r->m[i]);
			r->nadv++;
		} else if (row->st == M_FAILED || row->st == M_NO_ANSWER) {
			grp_name_list(&r->miss, &r->m[i]);
			r->nmiss++;
			if (r->first_rc == HSM_OK) {
				r->first_rc = row->rc;
				snprintf(r->message, sizeof(r->message), "module %s domain %u: %s",
				    r->m[i].module, r->m[i].domain, row->msg);
			}
		}
	}
	if (r->nmiss == 0) {
		r->outcome = r->napply ? "applied" : "nothing-to-do";
		if (r->napply == 0)
			snprintf(r->message, sizeof(r->message),
			    "every member had already applied this command");
		else
			snprintf(r->message, sizeof(r->message), "applied on %s", r->adv.buf);
		return HSM_OK;
	}
	if (r->nadv > 0) {
		r->outcome = "diverged";
		return hsm_fail(HSM_ERR_DIVERGED,
		    "the group is divergent: applied on %s; not confirmed on %s (%s). "
		    "Re-submit the same signed command with --roll-forward to complete %s: "
		    "members that missed it apply it, members that already have it are "
		    "skipped.", r->adv.buf, r->miss.buf, r->message, r->miss.buf);
	}
	r->outcome = "failed";
	return hsm_fail(r->first_rc, "%s; no member applied the command", r->message);
}

/* Everything up to the report: returns the run's outcome code. */
static hsm_rc
run_steps(struct run *r)
{
	hsm_rc rc;

	if ((rc = run_read(r)) != HSM_OK)
		return rc;
	if ((rc = run_classify(r)) != HSM_OK)
		return rc;
	if (r->nalready > 0 && !r->roll_forward)
		return run_refuse_partial(r);
	/* Members that differ (and are not explained by a partial apply that
	 * the roll-forward completes) are refused before anything is sent. */
	if (!r->roll_forward && r->ntarget > 1 &&
	    !json_is_true(json_object_get(r->cmp, "equal"))) {
		json_t *d0 = json_array_get(json_object_get(r->cmp, "differences"), 0);
		return hsm_fail(HSM_ERR_STATE,
		    "the members are not configured the same (first difference: %s); "
		    "nothing was changed. See: hsmadm-domain group compare",
		    json_string_value(json_object_get(d0, "field")));
	}
	run_apply(r);
	/* 6. no receipt may be lost (DESIGN §10 inv. 5): a member that did not
	 * answer may have applied it, and a member found past the command's
	 * counter when rolling forward may have applied it without the
	 * workstation ever seeing the receipt. Ask the module for the receipt
	 * it kept; a verified one counts as the answer. The caller writes only
	 * the receipts its evidence log does not hold yet. */
	grp_recover_rows(r);
	return run_summarize(r);
}

hsm_rc
group_submit(const group_member *m, size_t n, const admincmd *cmd, int64_t now,
             int roll_forward, json_t **report)
{
	struct run r;
	hsm_rc rc;

	if (report)
		*report = NULL;
	if (m == NULL || n == 0 || cmd == NULL || report == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_submit: bad arguments");
	if ((rc = run_init(&r, m, n, cmd, now, roll_forward)) != HSM_OK ||
	    (rc = run_targets(&r)) != HSM_OK)
		goto out;
	rc = run_steps(&r);
	if (rc == HSM_ERR_DIVERGED)
		r.outcome = "diverged";
	if (rc != HSM_OK)
		snprintf(r.message, sizeof(r.message), "%s", hsm_errmsg());
	if (r.states[0] == NULL && rc != HSM_OK)
		goto out;   /* the members could not be read: no report */
	grp_after_compare(&r);
	/* A member skipped as "already applied" may have applied another
	 * command with the same counter: only equal states prove the roll-forward. */
	if (rc == HSM_OK && roll_forward && r.nalready > 0 && !r.group_equal && r.ntarget > 1) {
		rc = hsm_fail(HSM_ERR_DIVERGED, "the roll-forward finished, but the members "
		    "still differ: a member that was past this command's counter may have "
		    "applied a different command. See: hsmadm-domain group compare");
		snprintf(r.message, sizeof(r.message), "%s", hsm_errmsg());
		r.outcome = "diverged";
	}
	(void)grp_build_report(&r, report);
	if (rc != HSM_OK)
		hsm_fail(rc, "%s", r.message);
out:
	run_free(&r);
	return rc;
}
