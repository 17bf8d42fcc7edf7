/* SPDX-License-Identifier: BSD-2-Clause */
/* submit.c - a group command with its evidence around it (submit.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/recover.h"
#include "hsmadm/submit.h"

/* One member's receipt high-water mark in the log (GROUP_LOGGED_UNKNOWN:
 * the log holds none of its receipts). */
struct submit_marks {
	struct mark { char *module; unsigned domain; uint64_t logged; } *v;
	size_t n;
};

void
submit_ev_clear(struct submit_ev *ev)
{
	if (ev == NULL)
		return;
	evscan_free(&ev->scan);
	if (ev->marks == NULL)
		return;
	for (size_t i = 0; i < ev->marks->n; i++)
		free(ev->marks->v[i].module);
	free(ev->marks->v);
	free(ev->marks);
	ev->marks = NULL;
}

static struct mark *
mark_find(const struct submit_ev *ev, const char *module, unsigned domain)
{
	for (size_t i = 0; ev->marks != NULL && i < ev->marks->n; i++)
		if (ev->marks->v[i].domain == domain && strcmp(ev->marks->v[i].module, module) == 0)
			return &ev->marks->v[i];
	return NULL;
}

static hsm_rc
mark_set(struct submit_ev *ev, const char *module, unsigned domain, uint64_t logged)
{
	struct mark *k = mark_find(ev, module, domain), *v;

	if (k != NULL) {
		if (k->logged == GROUP_LOGGED_UNKNOWN || (logged != GROUP_LOGGED_UNKNOWN &&
		    logged > k->logged))
			k->logged = logged;
		return HSM_OK;
	}
	if (ev->marks == NULL && (ev->marks = calloc(1, sizeof(*ev->marks))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((v = realloc(ev->marks->v, (ev->marks->n + 1) * sizeof(*v))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	ev->marks->v = v;
	if ((v[ev->marks->n].module = strdup(module)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	v[ev->marks->n].domain = domain;
	v[ev->marks->n++].logged = logged;
	return HSM_OK;
}

static hsm_rc
recorded(const struct submit_ev *ev, const char *what, hsm_rc rc)
{
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "recording %s in the evidence log %s", what, ev->path);
	return HSM_OK;
}

/* A member the log has never seen, already in use: its module-signed
 * receipt as the log's starting point (domain.baseline), or the log could
 * never replay its quorums. */
static hsm_rc
record_baselines(struct submit_ev *ev, const group_member *m, size_t n, uint64_t *logged)
{
	json_t *receipts = NULL, *r;
	char line[300];
	size_t i;
	hsm_rc rc;

	if ((rc = recover_baselines(m, n, logged, &receipts)) != HSM_OK)
		return rc;
	json_array_foreach(receipts, i, r) {
		const json_t *b = json_object_get(r, "body");
		rc = evrec_domain_baseline(ev->log, &ev->system, r, NULL);
		if ((rc = recorded(ev, "a domain's baseline", rc)) != HSM_OK)
			break;
		snprintf(line, sizeof(line), "Recorded the baseline of %s domain %lld (counter "
		    "%lld): the log had nothing of it before.",
		    json_string_value(json_object_get(b, "module")),
		    (long long)json_integer_value(json_object_get(b, "domain")),
		    (long long)json_integer_value(json_object_get(b, "counter_after")));
		if (ev->say != NULL)
			ev->say(ev->ctx, line);
	}
	json_decref(receipts);
	return rc;
}

hsm_rc
submit_fill_gaps(struct submit_ev *ev, const group_member *m, size_t n)
{
	json_t *bodies = NULL, *body;
	uint64_t *logged = calloc(n ? n : 1, sizeof(*logged));
	char what[256], line[400];
	size_t i;
	hsm_rc rc;

	if (logged == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	/* the log was opened (a torn tail repaired) before: any bad line is an error */
	if (ev->scan == NULL && (rc = evscan_log(ev->log, &ev->scan)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "reading the evidence log %s", ev->path);
		goto out;
	}
	if ((rc = recover_lost_receipts(ev->scan, m, n, &bodies, logged)) != HSM_OK)
		goto out;
	json_array_foreach(bodies, i, body) {
		rc = evrec_command_applied_json(ev->log, &ev->system, json_object_get(body, "command"),
		    json_object_get(body, "receipts"), NULL);
		if ((rc = recorded(ev, "a receipt fetched again", rc)) != HSM_OK)
			goto out;
		recover_receipt_text(body, what, sizeof(what));
		snprintf(line, sizeof(line), "Recorded the receipt of %s, whose answer was lost: "
		    "fetched again from the module and verified.", what);
		if (ev->say != NULL)
			ev->say(ev->ctx, line);
	}
	if ((rc = record_baselines(ev, m, n, logged)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++)
		if ((rc = mark_set(ev, m[i].module, m[i].domain, logged[i])) != HSM_OK)
			goto out;
out:
	free(logged);
	json_decref(bodies);
	return rc;
}

/* Is receipt r of a change the log holds already (below its member's mark)? */
static int
logged_already(const struct submit_ev *ev, const json_t *r)
{
	const json_t *b = json_object_get(r, "body");
	const char *mod = json_string_value(json_object_get(b, "module"));
	json_int_t dom = json_integer_value(json_object_get(b, "domain"));
	json_int_t before = json_integer_value(json_object_get(b, "counter_before"));
	const struct mark *k;

	if (mod == NULL || dom < 0 || before < 0 ||
	    (k = mark_find(ev, mod, (unsigned)dom)) == NULL)
		return 0;
	return k->logged != GROUP_LOGGED_UNKNOWN && (uint64_t)before < k->logged;
}

/* Raise the marks past the receipts just recorded. */
static hsm_rc
note_recorded(struct submit_ev *ev, const json_t *receipts)
{
	const json_t *r;
	size_t i;
	hsm_rc rc;

	json_array_foreach(receipts, i, r) {
		const json_t *b = json_object_get(r, "body");
		const char *mod = json_string_value(json_object_get(b, "module"));
		json_int_t dom = json_integer_value(json_object_get(b, "domain"));
		json_int_t after = json_integer_value(json_object_get(b, "counter_after"));

		if (mod != NULL && dom >= 0 && after >= 0 &&
		    (rc = mark_set(ev, mod, (unsigned)dom, (uint64_t)after)) != HSM_OK)
			return rc;
	}
	return HSM_OK;
}

/* command.applied with the receipts of rep the log does not hold yet. */
static hsm_rc
record_applied(struct submit_ev *ev, const admincmd *cmd, const group_report *rep,
               const ev_actor *actor)
{
	json_t *receipts = json_array(), *r;
	size_t i;
	hsm_rc rc = HSM_OK;

	if (receipts == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < rep->n; i++)
		if (json_is_object(r = rep->rows[i].receipt) && !logged_already(ev, r))
			json_array_append(receipts, r);
	if (json_array_size(receipts) > 0) {
		rc = evrec_command_applied(ev->log, actor ? actor : &ev->system, cmd, receipts, NULL);
		if ((rc = recorded(ev, "the receipts", rc)) == HSM_OK)
			rc = note_recorded(ev, receipts);
	}
	json_decref(receipts);
	return rc;
}

/* The members whose marks this run has not taken yet. */
static hsm_rc
fill_unchecked(struct submit_ev *ev, const group_member *m, size_t n)
{
	group_member *todo = calloc(n ? n : 1, sizeof(*todo));
	size_t k = 0;
	hsm_rc rc = HSM_OK;

	if (todo == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (mark_find(ev, m[i].module, m[i].domain) == NULL)
			todo[k++] = m[i];
	if (k > 0)
		rc = submit_fill_gaps(ev, todo, k);
	free(todo);
	return rc;
}

hsm_rc
submit_run(struct submit_ev *ev, const group_member *m, size_t n,
           const admincmd *cmd, int roll_forward, const ev_actor *actor,
           group_report **report)
{
	char keep[1024];
	hsm_rc rc, erc;

	*report = NULL;
	if (ev == NULL || ev->log == NULL)
		return group_submit_report(m, n, cmd, (int64_t)time(NULL), roll_forward, report);
	if ((rc = fill_unchecked(ev, m, n)) != HSM_OK)
		return hsm_fail_wrap(rc, "nothing was sent");
	rc = evrec_command_sent(ev->log, actor ? actor : &ev->system, cmd, NULL, NULL);
	if ((rc = recorded(ev, "the command before sending it", rc)) != HSM_OK)
		return hsm_fail_wrap(rc, "nothing was sent");
	rc = group_submit_report(m, n, cmd, (int64_t)time(NULL), roll_forward, report);
	if (*report == NULL)
		return rc;
	snprintf(keep, sizeof(keep), "%s", hsm_errmsg());
	erc = record_applied(ev, cmd, *report, actor);
	if (rc == HSM_OK)
		return erc;
	/* the group's failure is the answer; the evidence one is said too */
	if (erc != HSM_OK && ev->say != NULL)
		ev->say(ev->ctx, hsm_errmsg());
	return hsm_fail(rc, "%s", keep);
}
