/* SPDX-License-Identifier: BSD-2-Clause */
/* group_heal.c - roll a group forward without the original command file:
 * the modules keep, with each receipt, the command they applied in full
 * (module-protocol.md §2.4), so the command a member missed is fetched from
 * a member that applied it, checked against that member's receipt, and
 * submitted with roll_forward as the file would have been. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"
#include "hsmadm/cjson.h"

/* The command member i applied last (at counter - 1), if its receipt
 * verifies for that member and names that command's digest. */
static admincmd *
checked_command(const group_member *m, const group_state *st, const json_t *out)
{
	group_receipt got;
	admincmd *c = NULL;
	char *dg = NULL;

	if (admincmd_from_json(json_object_get(out, "command"), &c) != HSM_OK ||
	    admincmd_digest_text(c, &dg, NULL) != HSM_OK ||
	    grp_check_receipt(m, json_object_get(out, "receipt"), dg, admincmd_op(c),
	    st->counter - 1, &got) != HSM_OK)
		admincmd_free(&c);
	else
		group_receipt_clear(&got);
	free(dg);
	return c;
}

/* cands[i]: the last command member i applied, checked (or NULL). One
 * request per module; a module that keeps none is skipped. */
static void
last_commands(const group_member *m, size_t n, const group_state *st, admincmd **cands)
{
	char *sel = calloc(n, 1);
	moddrv_result *res = calloc(n, sizeof(*res));
	struct gplan p;
	size_t i, k, j;

	memset(&p, 0, sizeof(p));
	for (i = 0; sel != NULL && i < n; i++)
		sel[i] = st[i].counter > 0;
	if (sel == NULL || res == NULL || grp_plan(m, n, sel, &p) != HSM_OK)
		goto out;
	for (k = 0; k < p.nb; k++) {
		for (j = 0; j < p.b[k].n; j++)
			p.b[k].from[j] = st[p.b[k].idx[j]].counter - 1;
		(void)moddrv_applied_many(p.b[k].drv, p.b[k].domains, p.b[k].from, p.b[k].n, res);
		for (j = 0; j < p.b[k].n; j++) {
			size_t mi = p.b[k].idx[j];
			if (res[j].rc == HSM_OK && res[j].out != NULL)
				cands[mi] = checked_command(&m[mi], &st[mi], res[j].out);
		}
		moddrv_results_clear(res, p.b[k].n);
	}
	hsm_err_clear();
out:
	grp_plan_free(&p);
	free(res);
	free(sel);
}

/* A command one member applied that targets another one at that member's
 * current counter: the one it missed. HSM_ERR_NOT_FOUND: none (nothing to
 * heal); HSM_ERR_DIVERGED: two different ones (a person must decide). */
static hsm_rc
pick(const group_member *m, size_t n, const group_state *st, admincmd *const *cands,
     size_t *which)
{
	uint8_t d0[ADMINCMD_DIGEST_LEN], d1[ADMINCMD_DIGEST_LEN];
	size_t i, k, found = n;
	uint64_t want;

	for (i = 0; i < n; i++) {
		if (cands[i] == NULL)
			continue;
		for (k = 0; k < n; k++)
			if (k != i && admincmd_target_for(cands[i], m[k].module, m[k].domain, &want) ==
			    HSM_OK && want == st[k].counter)
				break;
		if (k == n)
			continue;   /* nobody missed it */
		if (found == n) {
			found = i;
			continue;
		}
		if (admincmd_digest(cands[found], d0) != HSM_OK ||
		    admincmd_digest(cands[i], d1) != HSM_OK || memcmp(d0, d1, sizeof(d0)) != 0)
			return hsm_fail(HSM_ERR_DIVERGED, "%s domain %u and %s domain %u hold "
			    "different commands that others missed: the group is split; see: "
			    "hsmadm-domain group compare", m[found].module, m[found].domain,
			    m[i].module, m[i].domain);
	}
	hsm_err_clear();
	if (found == n)
		return hsm_fail(HSM_ERR_NOT_FOUND, "no member missed a command another member "
		    "applied: nothing to heal");
	*which = found;
	return HSM_OK;
}

hsm_rc
group_heal(const group_member *m, size_t n, int64_t now, group_report **out)
{
	group_state *st = calloc(n ? n : 1, sizeof(*st));
	admincmd **cands = calloc(n ? n : 1, sizeof(*cands));
	struct readopt ro = { NULL, NULL, 0, NULL, NULL, NULL, NULL, 0, NULL };
	size_t i, which = 0;
	hsm_rc rc;

	if (out)
		*out = NULL;
	if (m == NULL || n == 0 || out == NULL)
		rc = hsm_fail(HSM_ERR_USAGE, "group_heal: bad arguments");
	else if (st == NULL || cands == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	else if ((rc = grp_read_typed(m, n, &ro, st)) == HSM_OK) {
		last_commands(m, n, st, cands);
		if ((rc = pick(m, n, st, cands, &which)) == HSM_OK)
			rc = group_submit_report(m, n, cands[which], now, 1, out);
		else if (rc == HSM_ERR_NOT_FOUND)
			rc = HSM_OK;   /* nothing to heal: *out stays NULL */
	}
	for (i = 0; i < n && st != NULL && cands != NULL; i++) {
		group_state_clear(&st[i]);
		admincmd_free(&cands[i]);
	}
	free(st);
	free(cands);
	return rc;
}
