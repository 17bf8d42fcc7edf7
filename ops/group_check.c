/* SPDX-License-Identifier: BSD-2-Clause */
/* group_check.c - the pre-flight: would a member accept a command (the
 * check the module runs, admincmd_verify_for_domain, on the member's typed
 * state, with each admin set's signature check made once), proposing a
 * command for every member, and admins out of a JSON state for callers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"
#include "hsmadm/cjson.h"
#include "hsmadm/crypto.h"

void
group_admins_free(admincmd_admin **admins, size_t n)
{
	size_t i;

	if (admins == NULL || *admins == NULL)
		return;
	for (i = 0; i < n; i++)
		EVP_PKEY_free((*admins)[i].pub);
	free(*admins);
	*admins = NULL;
}

hsm_rc
group_admins_from_state(const json_t *state, admincmd_admin **admins, size_t *n,
                        unsigned *sig_thr, unsigned *rev_thr, uint64_t *counter)
{
	group_state s;
	admincmd_admin *a;
	size_t i;
	hsm_rc rc;

	*admins = NULL;
	*n = 0;
	if ((rc = grp_state_parse(state, NULL, 1, &s)) != HSM_OK)
		return rc;
	if ((a = calloc(s.nadmins + 1, sizeof(*a))) == NULL) {
		group_state_clear(&s);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	for (i = 0; i < s.nadmins; i++) {
		memcpy(a[i].ski, s.admins[i].ski_of_key, HSM_SKI_LEN);
		a[i].pub = s.admins[i].pub;
		s.admins[i].pub = NULL;   /* moved */
		/* strings borrow from the caller's state, as they always did */
		a[i].identity = json_string_value(json_object_get(json_array_get(
		    json_object_get(state, "admins"), i), "identity"));
		a[i].name = json_string_value(json_object_get(json_array_get(
		    json_object_get(state, "admins"), i), "name"));
	}
	*sig_thr = s.sig_thr;
	*rev_thr = s.rev_thr;
	*counter = s.counter;
	*admins = a;
	*n = s.nadmins;
	group_state_clear(&s);
	return HSM_OK;
}

/* The admins of a typed state as the verifier wants them (borrowed). */
static void
verifier_admins(const group_state *s, admincmd_admin *a)
{
	size_t i;

	for (i = 0; i < s->nadmins; i++) {
		memcpy(a[i].ski, s->admins[i].ski_of_key, HSM_SKI_LEN);
		a[i].pub = s->admins[i].pub;
		a[i].identity = s->admins[i].identity;
		a[i].name = s->admins[i].name;
	}
}

/* The load approved on the member's PENDING (mk.approve_load), or NULL. */
static const json_t *
approved_of(const group_state *s)
{
	const json_t *a = json_object_get(json_object_get(json_object_get(s->doc, "registers"),
	    "pending"), "approved");

	return json_array_size(a) > 0 ? a : NULL;
}

static hsm_rc
verify_member(const group_member *m, struct pre *pre, const group_state *s, unsigned *counted)
{
	admincmd_admin a[GROUP_MAX_ADMINS];

	verifier_admins(s, a);
	return admincmd_verify_memo(pre->memo, pre->cmd, m->module, m->domain, s->counter,
	    pre->now, a, s->nadmins, s->sig_thr, s->rev_thr, approved_of(s), counted);
}

/* Would member m accept pre->cmd, given its state? Runs in the member's
 * read thread; members with the same admins and thresholds share one
 * signature check (admincmd_verify_memo). */
void
grp_pre_check(const group_member *m, struct pre *pre, const group_state *s, struct preres *r)
{
	hsm_err_clear();
	r->counted = 0;
	r->rc = verify_member(m, pre, s, &r->counted);
	if (r->rc != HSM_OK)
		snprintf(r->msg, sizeof(r->msg), "%s", hsm_errmsg());
	r->done = 1;
}

hsm_rc
group_propose(const group_member *m, size_t n, const char *op, const json_t *params,
              int64_t now, int64_t valid_for, admincmd **out)
{
	json_t **states = NULL;
	admincmd_target *t = NULL;
	size_t i;
	hsm_rc rc;

	*out = NULL;
	if (m == NULL || n == 0 || valid_for <= 0)
		return hsm_fail(HSM_ERR_USAGE, "group_propose: bad arguments");
	states = calloc(n, sizeof(*states));
	t = calloc(n, sizeof(*t));
	if (states == NULL || t == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Only the counters matter here: the JSON states, not the typed ones
	 * (which would refuse a state the proposal does not need whole). */
	if ((rc = group_read(m, n, states)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		long long c;
		if ((rc = cjson_get_int(states[i], "counter", &c)) != HSM_OK || c < 0) {
			rc = hsm_fail(HSM_ERR_MODULE, "module %s domain %u reports no counter",
			    m[i].module, m[i].domain);
			goto out;
		}
		t[i].module = m[i].module;
		t[i].domain = m[i].domain;
		t[i].counter = (uint64_t)c;
	}
	rc = admincmd_new(op, params, t, n, now - 300, now + valid_for, out);
out:
	for (i = 0; i < n && states; i++)
		json_decref(states[i]);
	free(states);
	free(t);
	return rc;
}

/* The most signatures member i still needs (0 unless a quorum refusal). */
static unsigned
still_needed(const admincmd *cmd, const group_state *s, const struct preres *p)
{
	unsigned needed = 0;

	if (p->rc != HSM_ERR_QUORUM ||
	    admincmd_required_sigs(admincmd_op(cmd), admincmd_params(cmd), s->sig_thr,
	    s->rev_thr, &needed) != HSM_OK || needed <= p->counted)
		return 0;
	return needed - p->counted;
}

hsm_rc
group_preflight(const group_member *m, size_t n, const admincmd *cmd, int64_t now,
                unsigned *missing)
{
	group_state *st = calloc(n ? n : 1, sizeof(*st));
	struct preres *pres = calloc(n ? n : 1, sizeof(*pres));
	char *sel = calloc(n ? n : 1, 1);
	struct pkcache pk;
	struct pre pre;
	struct readopt ro = { sel, &pk, 1, &pre, pres, NULL, NULL, 0, NULL };
	hsm_rc rc, first = HSM_OK;
	char msg[1024] = "";
	size_t i;

	if (missing)
		*missing = 0;
	memset(&pre, 0, sizeof(pre));
	pre.cmd = cmd;
	pre.now = now;
	grp_pkcache_init(&pk);
	if (admincmd_memo_new(&pre.memo) != HSM_OK)
		hsm_err_clear();   /* each member checks alone */
	if (st == NULL || pres == NULL || sel == NULL || m == NULL || cmd == NULL) {
		rc = hsm_fail(st && pres && sel ? HSM_ERR_USAGE : HSM_ERR_NOMEM,
		    "group_preflight: bad arguments or out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		sel[i] = admincmd_target_for(cmd, m[i].module, m[i].domain, NULL) == HSM_OK;
	hsm_err_clear();
	if ((rc = grp_read_typed(m, n, &ro, st)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if (!sel[i])
			continue;
		if (missing && still_needed(cmd, &st[i], &pres[i]) > *missing)
			*missing = still_needed(cmd, &st[i], &pres[i]);
		if (pres[i].rc != HSM_OK && first == HSM_OK) {
			first = pres[i].rc;
			/* A long reason is cut on purpose; checking the result
			 * keeps gcc's -Wformat-truncation (Debug) quiet. */
			char who[128];
			snprintf(who, sizeof(who), "module %s domain %u: ", m[i].module, m[i].domain);
			/* Some reasons name the member already: not twice. */
			if (snprintf(msg, sizeof(msg), "%s%s", strncmp(pres[i].msg, who,
			    strlen(who)) == 0 ? "" : who, pres[i].msg) < 0)
				msg[0] = '\0';
		}
	}
	rc = first;
	if (rc != HSM_OK)
		hsm_fail(rc, "%s", msg);
out:
	for (i = 0; i < n && st; i++)
		group_state_clear(&st[i]);
	free(st);
	free(pres);
	free(sel);
	admincmd_memo_free(&pre.memo);
	grp_pkcache_done(&pk);
	return rc;
}
