/* SPDX-License-Identifier: BSD-2-Clause */
/* group_check.c - the pre-flight: admins and thresholds out of a member's
 * state, would the member accept a command (the check the module runs),
 * proposing a command for every member. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"
#include "hsmadm/cjson.h"

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

/* A public key from its hex, through the cache when there is one. */
static hsm_rc
pubkey_cached(struct pkcache *pc, const char *hex, EVP_PKEY **pub, uint8_t ski[HSM_SKI_LEN])
{
	size_t i;
	hsm_rc rc;

	*pub = NULL;
	if (pc == NULL)
		return admincmd_pubkey_from_hex(hex, pub, ski);
	pthread_mutex_lock(&pc->lock);
	for (i = 0; i < pc->n; i++)
		if (strcmp(pc->e[i].hex, hex) == 0 && EVP_PKEY_up_ref(pc->e[i].pub) == 1) {
			*pub = pc->e[i].pub;
			memcpy(ski, pc->e[i].ski, HSM_SKI_LEN);
			break;
		}
	pthread_mutex_unlock(&pc->lock);
	if (*pub != NULL)
		return HSM_OK;
	/* Decoded outside the lock: other threads may decode the same key at
	 * the same moment; the first one to finish is kept. */
	if ((rc = admincmd_pubkey_from_hex(hex, pub, ski)) != HSM_OK)
		return rc;
	pthread_mutex_lock(&pc->lock);
	for (i = 0; i < pc->n; i++)
		if (strcmp(pc->e[i].hex, hex) == 0)
			break;
	if (i == pc->n && pc->n < PKCACHE_MAX && (pc->e[i].hex = strdup(hex)) != NULL) {
		if (EVP_PKEY_up_ref(*pub) == 1) {
			pc->e[i].pub = *pub;
			memcpy(pc->e[i].ski, ski, HSM_SKI_LEN);
			pc->n++;
		} else {
			free(pc->e[i].hex);
			pc->e[i].hex = NULL;
		}
	}
	pthread_mutex_unlock(&pc->lock);
	return HSM_OK;
}

void
grp_pkcache_init(struct pkcache *pc)
{
	memset(pc, 0, sizeof(*pc));
	pthread_mutex_init(&pc->lock, NULL);
}

void
grp_pkcache_done(struct pkcache *pc)
{
	size_t i;

	for (i = 0; i < pc->n; i++) {
		EVP_PKEY_free(pc->e[i].pub);
		free(pc->e[i].hex);
	}
	pc->n = 0;
	pthread_mutex_destroy(&pc->lock);
}

static hsm_rc
admins_from_state(const json_t *state, struct pkcache *pc, admincmd_admin **admins,
                  size_t *n, unsigned *sig_thr, unsigned *rev_thr, uint64_t *counter)
{
	json_t *arr, *thr, *e;
	admincmd_admin *a = NULL;
	long long v;
	size_t i;
	hsm_rc rc;

	*admins = NULL;
	*n = 0;
	if ((rc = cjson_get_arr(state, "admins", &arr)) != HSM_OK ||
	    (rc = cjson_get_obj(state, "thresholds", &thr)) != HSM_OK)
		return hsm_fail_wrap(rc, "domain state from the module");
	if (json_array_size(arr) > ADMINCMD_MAX_ADMINS)
		return hsm_fail(HSM_ERR_MODULE, "the module reports more than %d admins",
		    ADMINCMD_MAX_ADMINS);
	if ((rc = cjson_get_int(thr, "signature", &v)) != HSM_OK || v < 0 || v > 8)
		return hsm_fail(HSM_ERR_MODULE, "the module reports a bad signature threshold");
	*sig_thr = (unsigned)v;
	if ((rc = cjson_get_int(thr, "revocation", &v)) != HSM_OK || v < 0 || v > 8)
		return hsm_fail(HSM_ERR_MODULE, "the module reports a bad revocation threshold");
	*rev_thr = (unsigned)v;
	if ((rc = cjson_get_int(state, "counter", &v)) != HSM_OK || v < 0)
		return hsm_fail(HSM_ERR_MODULE, "the module reports a bad counter");
	*counter = (uint64_t)v;
	if ((a = calloc(json_array_size(arr) + 1, sizeof(*a))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, e) {
		const char *pk;
		if ((rc = cjson_get_str(e, "pubkey", &pk)) != HSM_OK ||
		    (rc = pubkey_cached(pc, pk, &a[i].pub, a[i].ski)) != HSM_OK ||
		    (rc = cjson_get_str(e, "identity", &a[i].identity)) != HSM_OK) {
			group_admins_free(&a, i + 1);
			return hsm_fail_wrap(HSM_ERR_MODULE, "admin %zu of the domain state", i);
		}
		a[i].name = json_string_value(json_object_get(e, "name"));
	}
	*admins = a;
	*n = json_array_size(arr);
	return HSM_OK;
}

hsm_rc
group_admins_from_state(const json_t *state, admincmd_admin **admins, size_t *n,
                        unsigned *sig_thr, unsigned *rev_thr, uint64_t *counter)
{
	return admins_from_state(state, NULL, admins, n, sig_thr, rev_thr, counter);
}

/* Would member m accept pre->cmd, given its state? Runs in the member's
 * read thread. */
void
grp_pre_check(const group_member *m, struct pre *pre, const json_t *state, struct preres *r)
{
	admincmd_admin *ad = NULL;
	size_t nad = 0;

	hsm_err_clear();
	r->rc = admins_from_state(state, &pre->pk, &ad, &nad, &r->st, &r->rt, &r->ctr);
	if (r->rc == HSM_OK)
		r->rc = admincmd_verify_for_domain(pre->cmd, m->module, m->domain, r->ctr,
		    pre->now, ad, nad, r->st, r->rt, &r->counted);
	group_admins_free(&ad, nad);
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

hsm_rc
group_preflight(const group_member *m, size_t n, const admincmd *cmd, int64_t now,
                unsigned *missing)
{
	json_t **states = NULL;
	struct pre *pre = NULL;
	struct preres *pres = NULL;
	char *sel = NULL;
	hsm_rc rc, first = HSM_OK;
	char msg[1024] = "";
	size_t i;

	if (missing)
		*missing = 0;
	states = calloc(n ? n : 1, sizeof(*states));
	pres = calloc(n ? n : 1, sizeof(*pres));
	sel = calloc(n ? n : 1, 1);
	if ((pre = calloc(1, sizeof(*pre))) != NULL)
		grp_pkcache_init(&pre->pk);
	if (states == NULL || pres == NULL || sel == NULL || pre == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		sel[i] = admincmd_target_for(cmd, m[i].module, m[i].domain, NULL) == HSM_OK;
	hsm_err_clear();
	pre->cmd = cmd;
	pre->now = now;
	pre->sel = sel;
	if ((rc = grp_read_members(m, n, states, pre, pres)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		unsigned needed = 0;

		if (!sel[i])
			continue;
		if (!pres[i].done)
			grp_pre_check(&m[i], pre, states[i], &pres[i]);
		rc = pres[i].rc;
		if (rc == HSM_ERR_QUORUM && missing &&
		    admincmd_required_sigs(admincmd_op(cmd), admincmd_params(cmd), pres[i].st,
		    pres[i].rt, &needed) == HSM_OK && needed > pres[i].counted &&
		    needed - pres[i].counted > *missing)
			*missing = needed - pres[i].counted;
		if (rc != HSM_OK && first == HSM_OK) {
			first = rc;
			/* A long reason is cut on purpose; checking the result
			 * keeps gcc's -Wformat-truncation (Debug) quiet. */
			if (snprintf(msg, sizeof(msg), "module %s domain %u: %s", m[i].module,
			    m[i].domain, pres[i].msg) < 0)
				msg[0] = '\0';
		}
	}
	rc = first;
	if (rc != HSM_OK)
		hsm_fail(rc, "%s", msg);
out:
	for (i = 0; i < n && states; i++)
		json_decref(states[i]);
	free(states);
	free(pres);
	free(sel);
	if (pre != NULL)
		grp_pkcache_done(&pre->pk);
	free(pre);
	return rc;
}
