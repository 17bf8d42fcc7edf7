/* SPDX-License-Identifier: BSD-2-Clause */
/* group_past.c - members already past the command's counter. Such a member
 * holds this command only if its receipt for that counter names this
 * command's digest; a member that holds another command there (a second
 * workstation's, for the same counter) must never be "completed" with this
 * one: the others would then hold this command and that member the other,
 * for good. So the engine asks for those receipts before anything is sent,
 * and refuses whatever would split the group, naming the command each
 * member holds and how to heal it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"

static void
past_each(void *vctx, size_t i, moddrv_result *res)
{
	struct run *r = vctx;
	struct mrow *row = &r->row[i];
	group_receipt got;

	hsm_err_clear();
	row->past = PAST_UNKNOWN;
	if (res->rc != HSM_OK || grp_receipt_at(&r->m[i], res->out, row->want, &got) != HSM_OK)
		return;
	if (strcmp(got.command_digest, r->digest_hex) == 0 &&
	    strcmp(got.op, admincmd_op(r->cmd)) == 0 && got.counter_after == row->want + 1) {
		row->past = PAST_SAME;
		group_receipt_clear(&row->rc_ok);
		row->rc_ok = got;
		row->recovered = 1;
		return;
	}
	row->past = PAST_OTHER;
	snprintf(row->other_op, sizeof(row->other_op), "%s", got.op);
	snprintf(row->other_digest, sizeof(row->other_digest), "%s", got.command_digest);
	group_receipt_clear(&got);
}

/* The receipt of every member past the command's counter, for that
 * counter: one request per module, the modules at once. */
void
grp_fetch_past(struct run *r)
{
	char *sel = calloc(r->n, 1);
	struct bcall call = { BK_RECEIPTS, NULL, past_each, r, 0, NULL, 0 };
	size_t i;

	for (i = 0; i < r->n; i++)
		r->row[i].past = PAST_NO;
	for (i = 0; sel != NULL && i < r->n; i++)
		sel[i] = r->row[i].st == GROUP_ALREADY;
	if (sel == NULL || grp_fetch_receipts(r, sel, &call) != HSM_OK)
		for (i = 0; i < r->n; i++)   /* cannot tell: treat as unknown */
			if (r->row[i].st == GROUP_ALREADY)
				r->row[i].past = PAST_UNKNOWN;
	free(sel);
}

struct sb { char *buf; size_t cap, len; };

static void
sb_add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (k > 0)
		b->len = (size_t)k < b->cap - b->len ? b->len + (size_t)k : b->cap - 1;
}

/* One clause per targeted member: what it holds at the command's counter. */
static void
holdings(struct run *r, struct sb *b)
{
	const char *sep = "";
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct mrow *row = &r->row[i];
		const group_member *m = &r->m[i];

		if (!r->sel[i])
			continue;
		if (row->past == PAST_OTHER)
			sb_add(b, "%s%s domain %u holds another command at counter %llu (%s, "
			    "digest %s)", sep, m->module, m->domain, (unsigned long long)row->want,
			    row->other_op, row->other_digest);
		else if (row->past == PAST_UNKNOWN)
			sb_add(b, "%s%s domain %u is past counter %llu and keeps no receipt that "
			    "says which command it applied there", sep, m->module, m->domain,
			    (unsigned long long)row->want);
		else if (row->past == PAST_SAME)
			sb_add(b, "%s%s domain %u holds this command", sep, m->module, m->domain);
		else
			sb_add(b, "%s%s domain %u is still at counter %llu", sep, m->module,
			    m->domain, (unsigned long long)row->want);
		sep = "; ";
	}
}

/* Members past the counter with another command (or none that can be
 * shown): mark them refused, say what each one holds. */
static void
mark_others(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		struct mrow *row = &r->row[i];
		if (row->past != PAST_OTHER && row->past != PAST_UNKNOWN)
			continue;
		row->st = GROUP_REFUSED;
		row->rc = HSM_ERR_DIVERGED;
		if (row->past == PAST_OTHER)
			snprintf(row->msg, sizeof(row->msg), "holds another command at counter "
			    "%llu (%s, digest %s)", (unsigned long long)row->want, row->other_op,
			    row->other_digest);
		else
			snprintf(row->msg, sizeof(row->msg), "past counter %llu with no receipt "
			    "for it", (unsigned long long)row->want);
		r->nalready--;
	}
}

hsm_rc
grp_refuse_split(struct run *r)
{
	size_t i, npend = 0, nsame = 0, nother = 0, nunk = 0;
	const char *other = NULL;
	int several = 0;
	char *msg;
	struct sb b;
	hsm_rc rc;

	for (i = 0; i < r->n; i++) {
		const struct mrow *row = &r->row[i];
		if (!r->sel[i])
			continue;
		npend += row->st == GROUP_NOT_ATTEMPTED;
		nsame += row->past == PAST_SAME;
		nunk += row->past == PAST_UNKNOWN;
		if (row->past == PAST_OTHER) {
			nother++;
			several |= other != NULL && strcmp(other, row->other_digest) != 0;
			other = row->other_digest;
		}
	}
	if (nother + nunk == 0)
		return HSM_OK;
	mark_others(r);
	if ((msg = malloc(8192)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	b.buf = msg;
	b.cap = 8192;
	b.len = 0;
	msg[0] = '\0';
	if (npend == 0 && nsame == 0 && !several) {
		/* Every member moved on (with one other command): a stale one. */
		holdings(r, &b);
		rc = hsm_fail(HSM_ERR_REPLAY, "every member is already past this command's "
		    "counter: %s. Nothing was changed.", msg);
		goto out;
	}
	sb_add(&b, "the group is divergent at this command's counter: ");
	holdings(r, &b);
	if (several || (nother > 0 && nsame > 0))
		sb_add(&b, ". The members hold different commands at one counter: the group is "
		    "split; see: hsmadm-domain group compare. Nothing was changed.");
	else if (other != NULL)
		sb_add(&b, ". Nothing was changed: the members still differ, and applying this "
		    "command now would split the group for good. Heal it with the command that was applied: re-submit the "
		    "signed command with digest %s with --roll-forward; then propose this "
		    "change again if it is still wanted.", other);
	else
		sb_add(&b, ". Nothing was changed: without that receipt it cannot be shown that "
		    "this command is the one applied there; see: hsmadm-domain group status.");
	r->outcome = "diverged";
	rc = hsm_fail(HSM_ERR_DIVERGED, "%s", msg);
out:
	free(msg);
	return rc;
}
