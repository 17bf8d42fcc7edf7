/* SPDX-License-Identifier: BSD-2-Clause */
/* group_apply.c - group_submit, its steps in order: which members the
 * command names, read (with each member's pre-flight), compare, refuse
 * before touching anything, apply (one request per module, the modules in
 * parallel, each receipt checked as it arrives; all members at once when
 * every one is reserved for this run), fetch again the receipts
 * of lost answers, summarize, report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

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
		if (r->st)
			group_state_clear(&r->st[i]);
		if (r->row)
			group_receipt_clear(&r->row[i].rc_ok);
	}
	free(r->row);
	free(r->st);
	free(r->sel);
	free(r->digest_hex);
	free(r->pres);
	free(r->reserve);
	free(r->resv);
	admincmd_memo_free(&r->pre.memo);
	grp_pkcache_done(&r->pk);
	pthread_mutex_destroy(&r->tlock);
}

/* A reservation's ballot (module-protocol.md §2.7): the time in ms, so
 * that a later run takes over the reservation of an abandoned one, and 10
 * random bits, so that two workstations in one millisecond differ. */
static hsm_rc
new_ballot(long long *ballot)
{
	struct timespec ts;
	unsigned short rnd = 0;

	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		return hsm_fail(HSM_ERR_CRYPTO, "no random bits for the command's reservation; "
		    "nothing was sent");
	clock_gettime(CLOCK_REALTIME, &ts);
	*ballot = ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000) * 1024 + (rnd & 1023) + 1;
	return HSM_OK;
}

static hsm_rc
run_init(struct run *r, const group_member *m, size_t n, const admincmd *cmd, int64_t now,
         int roll_forward)
{
	hsm_rc rc;

	memset(r, 0, sizeof(*r));
	r->m = m;
	r->n = n;
	r->cmd = cmd;
	r->now = now;
	r->roll_forward = roll_forward;
	r->outcome = "refused";
	r->t_start = grp_now_ms();
	grp_pkcache_init(&r->pk);
	if (admincmd_memo_new(&r->pre.memo) != HSM_OK)
		hsm_err_clear();   /* each member checks alone */
	pthread_mutex_init(&r->tlock, NULL);
	r->pre.cmd = cmd;
	r->pre.now = now;
	r->row = calloc(n, sizeof(*r->row));
	r->st = calloc(n, sizeof(*r->st));
	r->sel = calloc(n, 1);
	r->pres = calloc(n, sizeof(*r->pres));
	r->reserve = calloc(n, sizeof(*r->reserve));
	r->resv = calloc(n, sizeof(*r->resv));
	if (r->row == NULL || r->st == NULL || r->sel == NULL || r->pres == NULL ||
	    r->reserve == NULL || r->resv == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = new_ballot(&r->ballot)) != HSM_OK)
		return rc;
	return admincmd_digest_text(cmd, &r->digest_hex, NULL);
}

/* Which members does the command name; does it name strangers? */
static hsm_rc
run_targets(struct run *r)
{
	const group_member *m = r->m;
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		r->reserve[i] = MODDRV_NO_COUNTER;
		if (admincmd_target_for(r->cmd, m[i].module, m[i].domain, &r->row[i].want) ==
		    HSM_OK) {
			r->row[i].st = GROUP_NOT_ATTEMPTED;
			r->sel[i] = 1;
			r->reserve[i] = r->row[i].want;
			r->ntarget++;
		} else
			r->row[i].st = GROUP_NOT_TARGETED;
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

/* 1. read every member (each one checked in its module's thread: would it
 * accept the command?), reserving each targeted member's counter for this
 * command (module-protocol.md §2.7); 2. compare the targeted members. */
static hsm_rc
run_read(struct run *r)
{
	struct readopt o = { NULL, &r->pk, 1, &r->pre, r->pres, r->reserve, r->digest_hex,
	                     r->ballot, r->resv };
	const group_state **sp = calloc(r->n, sizeof(*sp));
	struct grp_warm warm;
	size_t i;
	hsm_rc rc;

	if (sp == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	grp_oa_warm_start(r->m, r->n, &warm);
	rc = grp_read_typed(r->m, r->n, &o, r->st);
	grp_oa_warm_join(&warm);
	if (rc != HSM_OK) {
		free(sp);
		return hsm_fail_wrap(rc, "reading the group (nothing was changed)");
	}
	r->t_read = grp_now_ms() - r->t_start;
	r->read_ok = 1;
	for (i = 0; i < r->n; i++)
		sp[i] = &r->st[i];
	r->diff = grp_diff_mask(sp, r->n, r->sel);
	free(sp);
	return HSM_OK;
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

		if (row->st != GROUP_NOT_ATTEMPTED)
			continue;
		if (!p->done)
			grp_pre_check(&r->m[i], &r->pre, &r->st[i], p);   /* not reached: read checks it */
		if ((rc = p->rc) == HSM_OK)
			continue;
		row->rc = rc;
		snprintf(row->msg, sizeof(row->msg), "%s", p->msg);
		if (rc == HSM_ERR_REPLAY && r->st[i].counter > row->want) {
			row->st = GROUP_ALREADY;
			r->nalready++;
			continue;
		}
		row->st = GROUP_REFUSED;
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
		if (r->row[i].st == GROUP_ALREADY)
			grp_name_list(&r->adv, &r->m[i]);
		else if (r->row[i].st == GROUP_NOT_ATTEMPTED)
			grp_name_list(&r->miss, &r->m[i]);
	}
	if (r->nalready == r->ntarget) {
		/* Not a roll-forward: a plain replay, refused by every member. */
		for (i = 0; i < r->n; i++)
			if (r->row[i].st == GROUP_ALREADY)
				r->row[i].st = GROUP_REFUSED;
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

/* In the module's thread, as each answer arrives: check its receipt. */
static void
apply_each(void *vctx, size_t i, moddrv_result *res)
{
	struct run *r = vctx;
	struct mrow *row = &r->row[i];
	long long t0 = grp_now_ms(), t;

	hsm_err_clear();
	if (res->rc != HSM_OK) {
		row->st = lost_answer(res->rc) ? GROUP_NO_ANSWER : GROUP_FAILED;
		row->rc = res->rc;
		snprintf(row->msg, sizeof(row->msg), "%s", res->msg);
		return;
	}
	row->answered = 1;
	if ((row->rc = grp_check_receipt(&r->m[i], res->out, r->digest_hex,
	    admincmd_op(r->cmd), row->want, &row->rc_ok)) != HSM_OK) {
		row->st = GROUP_FAILED;
		snprintf(row->msg, sizeof(row->msg),
		    "the module answered but its receipt does not verify: %.900s", hsm_errmsg());
	} else
		row->st = GROUP_APPLIED;
	t = grp_now_ms() - t0;
	pthread_mutex_lock(&r->tlock);
	if (t > r->t_verify_max)
		r->t_verify_max = t;
	pthread_mutex_unlock(&r->tlock);
}

/* 4. apply on the members still to do, one request per module, all
 * modules at once; 5. each receipt is checked as it arrives. */
static hsm_rc
run_apply(struct run *r, const char *which, long long ballot)
{
	moddrv_result *res = calloc(r->n, sizeof(*res));
	struct bcall call = { BK_APPLY, r->cmd, apply_each, r, 0, NULL, ballot };
	struct gplan p;
	long long t0 = grp_now_ms();
	size_t i;
	hsm_rc rc;

	if (res == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < r->n; i++)
		r->napply += which[i] != 0;
	r->touched |= r->napply > 0;
	if ((rc = grp_plan(r->m, r->n, which, &p)) == HSM_OK) {
		grp_run_batches(&p, &call, res);
		grp_plan_free(&p);
	}
	r->t_apply += grp_now_ms() - t0;
	if (call.t_call_max > r->t_call_max)
		r->t_call_max = call.t_call_max;
	moddrv_results_clear(res, r->n);
	free(res);
	return rc;
}

/* Who advanced, who missed it; the outcome and its message. */
static hsm_rc
run_summarize(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct mrow *row = &r->row[i];
		if (row->st == GROUP_APPLIED || row->st == GROUP_ALREADY) {
			grp_name_list(&r->adv, &r->m[i]);
			r->nadv++;
		} else if (row->st == GROUP_FAILED || row->st == GROUP_NO_ANSWER) {
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
	for (i = 0; i < r->n && r->row[i].st != GROUP_NOT_ATTEMPTED; i++)
		;
	return hsm_fail(r->first_rc, "%s; no member applied the command%s", r->message,
	    i < r->n ? " (it was sent to the first member only: the others were not touched)" : "");
}

/* Before anything new is applied: every member still to do at the
 * command's counter and configured the same (when rolling forward, those
 * members among themselves: the ones that applied it differ on purpose). */
static hsm_rc
run_same_state(struct run *r)
{
	const group_state **sp = calloc(r->n, sizeof(*sp));
	char *todo = calloc(r->n, 1);
	unsigned diff;
	size_t i, ntodo = 0;

	if (sp == NULL || todo == NULL) {
		free(sp);
		free(todo);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	for (i = 0; i < r->n; i++) {
		sp[i] = &r->st[i];
		todo[i] = r->row[i].st == GROUP_NOT_ATTEMPTED;
		ntodo += todo[i] != 0;
	}
	diff = r->roll_forward ? grp_diff_mask(sp, r->n, todo) : r->diff;
	free(sp);
	free(todo);
	if ((r->roll_forward ? ntodo : r->ntarget) < 2 || diff == 0)
		return HSM_OK;
	for (i = 0; !(diff & (1u << i)); i++)
		;
	return hsm_fail(HSM_ERR_STATE,
	    "the members are not configured the same (first difference: %s); "
	    "nothing was changed. See: hsmadm-domain group compare", grp_cmp_fields[i]);
}

/* The member applied first, alone: the lowest (module serial, domain) of
 * those still to do. Two workstations racing on one group both start
 * there; the module takes one command per counter, so the loser is
 * refused before it has touched anything. */
static size_t
first_member(const struct run *r)
{
	size_t i, f = r->n;

	for (i = 0; i < r->n; i++) {
		int c;
		if (r->row[i].st != GROUP_NOT_ATTEMPTED)
			continue;
		c = f == r->n ? -1 : strcmp(r->m[i].module, r->m[f].module);
		if (c < 0 || (c == 0 && r->m[i].domain < r->m[f].domain))
			f = i;
	}
	return f;
}

/* Did the read reserve every member still to do for this run (1), does a
 * module keep no reservations (0: the ordered way), or does another
 * command's reservation hold a member (refused, nothing sent)? */
static hsm_rc
run_reserved(struct run *r, int *all)
{
	size_t i;

	*all = 1;
	for (i = 0; i < r->n; i++)
		if (r->row[i].st == GROUP_NOT_ATTEMPTED && r->resv[i].state == 0)
			*all = 0;
	for (i = 0; i < r->n && *all; i++) {
		struct mrow *row = &r->row[i];
		if (row->st != GROUP_NOT_ATTEMPTED || r->resv[i].state == 1)
			continue;
		row->st = GROUP_REFUSED;
		row->rc = HSM_ERR_REFUSED;
		snprintf(row->msg, sizeof(row->msg), "reserved for command %.16s... by another "
		    "workstation (%lld s more)", r->resv[i].digest,
		    (r->resv[i].expires_ms + 999) / 1000);
		return hsm_fail(HSM_ERR_REFUSED, "module %s domain %u is %s: another workstation is "
		    "submitting a command to this group; nothing was sent. Submit again once it "
		    "is done (hsmadm-domain group status shows the counters).", r->m[i].module,
		    r->m[i].domain, row->msg);
	}
	return HSM_OK;
}

/* 4. apply. Every member still to do reserved for this run: all at once,
 * each claiming its reservation (two workstations cannot both hold every
 * reservation, docs/domain-groups.md). Else the ordered way: the first
 * member alone, then (once it has accepted) the rest, one request per
 * module, all modules at once. 6. no receipt may be lost (DESIGN §10 inv.
 * 5): a member that did not answer may have applied it, so the module is
 * asked for the receipt it kept, and a verified one counts as the answer. */
static hsm_rc
run_apply_members(struct run *r)
{
	char *which = calloc(r->n, 1);
	size_t i, f = first_member(r);
	int all = 0;
	hsm_rc rc;

	if (which == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	r->t_pre = grp_now_ms() - r->t_start - r->t_read;
	if ((rc = run_reserved(r, &all)) != HSM_OK || f == r->n)
		goto out;
	for (i = 0; i < r->n; i++)
		which[i] = all ? r->row[i].st == GROUP_NOT_ATTEMPTED : i == f;
	if ((rc = run_apply(r, which, all ? r->ballot : 0)) == HSM_OK)
		grp_recover_rows(r);
	/* accepted: applied, or answered with a receipt that does not verify
	 * (the module took the command; the receipt is a trust matter) */
	if (rc == HSM_OK && !all && (r->row[f].st == GROUP_APPLIED || r->row[f].answered)) {
		for (i = 0; i < r->n; i++)
			which[i] = r->row[i].st == GROUP_NOT_ATTEMPTED;
		if ((rc = run_apply(r, which, 0)) == HSM_OK)
			grp_recover_rows(r);
	}
out:
	free(which);
	return rc;
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
	/* Past the counter: with this command, or with another one? */
	if (r->nalready > 0) {
		grp_fetch_past(r);
		if ((rc = grp_refuse_split(r)) != HSM_OK)
			return rc;
	}
	if (r->nalready > 0 && !r->roll_forward)
		return run_refuse_partial(r);
	if ((rc = run_same_state(r)) != HSM_OK || (rc = run_apply_members(r)) != HSM_OK)
		return rc;
	return run_summarize(r);
}

hsm_rc
group_submit_report(const group_member *m, size_t n, const admincmd *cmd, int64_t now,
                    int roll_forward, group_report **out)
{
	struct run r;
	hsm_rc rc, brc;

	if (out)
		*out = NULL;
	if (m == NULL || n == 0 || cmd == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_submit: bad arguments");
	if ((rc = run_init(&r, m, n, cmd, now, roll_forward)) != HSM_OK ||
	    (rc = run_targets(&r)) != HSM_OK)
		goto out;
	rc = run_steps(&r);
	if (rc == HSM_ERR_DIVERGED)
		r.outcome = "diverged";
	if (rc != HSM_OK)
		snprintf(r.message, sizeof(r.message), "%s", hsm_errmsg());
	if (rc != HSM_OK && !r.read_ok)
		goto out;   /* the members could not be read: no report */
	if ((brc = grp_build_report(&r, out)) != HSM_OK && rc == HSM_OK)
		/* the members changed: saying "done" without a report would leave
		 * the caller unable to record their receipts */
		rc = hsm_fail_wrap(brc, "the command was sent, but its report could not be "
		    "made; the receipts the modules keep are recorded by the next command "
		    "on the log (or see: hsmadm-domain group status)");
	/* A member skipped as "already applied" may have applied another
	 * command with the same counter: only equal states prove the roll-forward. */
	if (rc == HSM_OK && *out != NULL && roll_forward && r.nalready > 0 &&
	    !(*out)->group_equal && r.ntarget > 1) {
		rc = hsm_fail(HSM_ERR_DIVERGED, "the roll-forward finished, but the members "
		    "still differ: a member that was past this command's counter may have "
		    "applied a different command. See: hsmadm-domain group compare");
		snprintf((*out)->message, sizeof((*out)->message), "%s", hsm_errmsg());
		(*out)->outcome = "diverged";
	}
	if (rc != HSM_OK)
		hsm_fail(rc, "%s", *out ? (*out)->message : r.message);
out:
	run_free(&r);
	return rc;
}

hsm_rc
group_submit(const group_member *m, size_t n, const admincmd *cmd, int64_t now,
             int roll_forward, json_t **report)
{
	group_report *rep = NULL;
	char keep[8192];
	hsm_rc rc;

	if (report)
		*report = NULL;
	if (report == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_submit: bad arguments");
	rc = group_submit_report(m, n, cmd, now, roll_forward, &rep);
	snprintf(keep, sizeof(keep), "%s", hsm_errmsg());
	if (rep != NULL)
		*report = group_report_json(rep);
	group_report_free(&rep);
	if (rc != HSM_OK)
		hsm_fail(rc, "%s", keep);
	return rc;
}
