/* SPDX-License-Identifier: BSD-2-Clause */
/* group_recover.c - receipts: checking one against the pinned module CA and
 * the command, fetching again the receipts of answers that were lost (step
 * 6 of a run, one request per module), and the receipts an evidence log
 * lacks (group_recover). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/x509util.h"

/* The receipt's OA certificate is the one confirmed at `module add`: a module
 * whose OA key changed (same CA) is not taken on trust silently. */
static hsm_rc
oa_pinned(const group_member *m, const json_t *receipt)
{
	const char *b64 = json_string_value(json_object_get(receipt, "oa_cert"));
	uint8_t *der = NULL, fp[32];
	size_t n = 0;
	char hex[65];
	X509 *x = NULL;
	hsm_rc rc;

	if (m->oa_fingerprint == NULL)
		return HSM_OK;
	if (b64 != NULL && grp_oa_fingerprint(m->ca_pem, m->module, b64, hex))
		rc = HSM_OK;   /* hex from the cache: one decoding per certificate */
	else if (b64 == NULL || (rc = b64_decode(b64, &der, &n)) != HSM_OK ||
	    (rc = x509u_from_der(der, n, &x)) != HSM_OK || (rc = x509u_fingerprint(x, fp)) != HSM_OK)
		rc = hsm_fail(HSM_ERR_TRUST, "the receipt's OA certificate cannot be read");
	else
		hex_encode_buf(fp, 32, hex);
	if (rc == HSM_OK && strcmp(hex, m->oa_fingerprint) != 0)
		rc = hsm_fail(HSM_ERR_TRUST, "module %s signed with an OA certificate "
		    "(SHA-256 %.16s...) other than the one confirmed when it was added "
		    "(%.16s...); if its OA key was replaced on purpose, compare and confirm "
		    "the new fingerprint again (hsmadm-domain module add)", m->module, hex,
		    m->oa_fingerprint);
	X509_free(x);
	free(der);
	return rc;
}

hsm_rc
group_receipt_trusted(const group_member *m, const json_t *receipt)
{
	const json_t *b = NULL;
	hsm_rc rc;

	if ((rc = grp_receipt_verify(m->ca_pem, m->module, receipt, &b)) != HSM_OK)
		return rc;
	return oa_pinned(m, receipt);
}

/* A receipt of member m, whatever command it is for: chain to the pinned
 * CA, signed by this module's OA key (the confirmed one), for this domain;
 * parsed. */
static hsm_rc
receipt_of_member(const group_member *m, const json_t *receipt, group_receipt *out)
{
	const json_t *b = NULL;
	long long v;
	const char *s;
	hsm_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = grp_receipt_verify(m->ca_pem, m->module, receipt, &b)) != HSM_OK ||
	    (rc = oa_pinned(m, receipt)) != HSM_OK)
		return hsm_fail_wrap(rc, "receipt");
	if ((rc = cjson_get_int(b, "domain", &v)) != HSM_OK || v != (long long)m->domain)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt is for another domain");
	out->domain = m->domain;
	snprintf(out->module, sizeof(out->module), "%s", m->module);
	if (cjson_get_str(b, "command_digest", &s) != HSM_OK || strlen(s) >= GROUP_HEX32)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt names no command");
	memcpy(out->command_digest, s, strlen(s) + 1);
	if (cjson_get_str(b, "op", &s) != HSM_OK || strlen(s) >= sizeof(out->op))
		return hsm_fail(HSM_ERR_VERIFY, "the receipt names no operation");
	memcpy(out->op, s, strlen(s) + 1);
	if (cjson_get_int(b, "counter_before", &v) != HSM_OK || v < 0)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt has no counters");
	out->counter_before = (uint64_t)v;
	if (cjson_get_int(b, "counter_after", &v) != HSM_OK || v < 0)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt has no counters");
	out->counter_after = (uint64_t)v;
	if ((rc = grp_state_parse(json_object_get(b, "state"), NULL, 0, &out->state)) != HSM_OK)
		return hsm_fail_wrap(HSM_ERR_VERIFY, "the receipt's state");
	out->doc = json_incref((json_t *)receipt);
	return HSM_OK;
}

/* Check a receipt: chain to the pinned CA, this module, this domain, this
 * command, counter advanced by one. */
hsm_rc
grp_check_receipt(const group_member *m, const json_t *receipt, const char *digest_hex,
                  const char *op, uint64_t want, group_receipt *out)
{
	hsm_rc rc;

	if ((rc = receipt_of_member(m, receipt, out)) != HSM_OK)
		goto fail;
	if (strcmp(out->command_digest, digest_hex) != 0) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the receipt is for another command");
		goto fail;
	}
	if (strcmp(out->op, op) != 0) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the receipt names another operation");
		goto fail;
	}
	if (out->counter_before != want || out->counter_after != want + 1) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the receipt's counters do not match the command");
		goto fail;
	}
	return HSM_OK;
fail:
	group_receipt_clear(out);
	return rc;
}

/* The verified receipt for counter `want` among arr (whatever command it
 * is for): HSM_ERR_NOT_FOUND when the module keeps none. */
hsm_rc
grp_receipt_at(const group_member *m, const json_t *arr, uint64_t want, group_receipt *out)
{
	const json_t *r;
	size_t i;

	memset(out, 0, sizeof(*out));
	json_array_foreach(arr, i, r) {
		json_int_t b = json_integer_value(json_object_get(json_object_get(r, "body"),
		    "counter_before"));
		if (b == (json_int_t)want)
			return receipt_of_member(m, r, out);
	}
	return hsm_fail(HSM_ERR_NOT_FOUND, "the module keeps no receipt for counter %llu",
	    (unsigned long long)want);
}

static int
wants_receipt(const struct run *r, size_t i)
{
	return r->row[i].st == GROUP_NO_ANSWER ||
	    (r->row[i].st == GROUP_ALREADY && r->roll_forward && r->row[i].rc_ok.doc == NULL);
}

static void
recover_each(void *vctx, size_t i, moddrv_result *res)
{
	struct run *r = vctx;
	struct mrow *row = &r->row[i];
	group_receipt got;

	hsm_err_clear();
	if (res->rc != HSM_OK || grp_receipt_at(&r->m[i], res->out, row->want, &got) != HSM_OK)
		return;   /* still unknown: the roll-forward finds out */
	if (strcmp(got.command_digest, r->digest_hex) != 0 ||
	    strcmp(got.op, admincmd_op(r->cmd)) != 0 || got.counter_after != row->want + 1) {
		group_receipt_clear(&got);   /* another command at that counter */
		return;
	}
	row->rc_ok = got;
	row->recovered = 1;
	if (row->st == GROUP_NO_ANSWER) {
		row->st = GROUP_APPLIED;
		row->rc = HSM_OK;
		row->msg[0] = '\0';
	}
}

/* Step 6 of group_submit: one request per module (a cut network makes each
 * reconnect wait for its timeout: the modules wait at the same time). */
void
grp_recover_rows(struct run *r)
{
	char *sel = NULL;
	struct bcall call = { BK_RECEIPTS, NULL, recover_each, r, 0, NULL, 0 };
	size_t i, any = 0;

	for (i = 0; i < r->n; i++)
		any += wants_receipt(r, i) != 0;
	if (any == 0)
		return;   /* nothing to recover */
	/* Without memory the members whose answer was lost stay "no-answer",
	 * and the run reports the group divergent: nothing is taken for done. */
	if ((sel = calloc(r->n, 1)) == NULL)
		return;
	for (i = 0; i < r->n; i++)
		sel[i] = (char)wants_receipt(r, i);
	(void)grp_fetch_receipts(r, sel, &call);   /* failing: they stay no-answer */
	free(sel);
}

hsm_rc
grp_fetch_receipts(struct run *r, const char *sel, struct bcall *call)
{
	moddrv_result *res = calloc(r->n, sizeof(*res));
	struct gplan p;
	size_t k, j;
	hsm_rc rc;

	memset(&p, 0, sizeof(p));
	if (res == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = grp_plan(r->m, r->n, sel, &p)) == HSM_OK) {
		for (k = 0; k < p.nb; k++)
			for (j = 0; j < p.b[k].n; j++)
				p.b[k].from[j] = r->row[p.b[k].idx[j]].want;
		grp_run_batches(&p, call, res);
	}
	grp_plan_free(&p);
	moddrv_results_clear(res, r->n);
	free(res);
	return rc;
}

/* ---- group_recover: the receipts an evidence log lacks ---- */

struct logctx {
	const group_member *m;
	const uint64_t     *logged;
	json_t             *commands;   /* the candidates, as given */
	admincmd          **cmds;       /* parsed (NULL: does not parse) */
	char              **dg;
	size_t              nc;
	json_t            **found;      /* per member: [{command, receipt}] */
};

/* The receipts of member i in counter order from logged[i], while they
 * follow on without a hole and are for a known command targeting it there. */
static void
log_each(void *vctx, size_t i, moddrv_result *res)
{
	struct logctx *c = vctx;
	const group_member *m = &c->m[i];
	uint64_t cur = c->logged[i], want;
	group_receipt got;
	size_t c0;

	if (res->rc != HSM_OK || (c->found[i] = json_array()) == NULL)
		return;
	hsm_err_clear();
	while (grp_receipt_at(m, res->out, cur, &got) == HSM_OK) {
		for (c0 = 0; c0 < c->nc; c0++)
			if (c->cmds[c0] != NULL && strcmp(c->dg[c0], got.command_digest) == 0 &&
			    strcmp(admincmd_op(c->cmds[c0]), got.op) == 0 &&
			    admincmd_target_for(c->cmds[c0], m->module, m->domain, &want) ==
			    HSM_OK && want == cur)
				break;
		if (c0 == c->nc || got.counter_after != cur + 1) {
			group_receipt_clear(&got);
			break;   /* a command the log does not know: a person must look */
		}
		json_array_append_new(c->found[i], json_pack("{s:O, s:O}", "command",
		    json_array_get(c->commands, c0), "receipt", got.doc));
		group_receipt_clear(&got);
		cur++;
	}
	hsm_err_clear();
}

hsm_rc
group_recover(const group_member *m, size_t n, const uint64_t *logged,
              const json_t *commands, json_t **found)
{
	struct logctx c;
	struct bcall call = { BK_RECEIPTS, NULL, log_each, &c, 0, NULL, 0 };
	moddrv_result *res = NULL;
	struct gplan p;
	char *sel = NULL;
	json_t *out = NULL;
	size_t i, k, j;
	hsm_rc rc = HSM_OK;

	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	if (found)
		*found = NULL;
	if (m == NULL || logged == NULL || !json_is_array(commands) || found == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_recover: bad arguments");
	c.m = m;
	c.logged = logged;
	c.commands = (json_t *)commands;
	c.nc = json_array_size(commands);
	c.dg = calloc(c.nc ? c.nc : 1, sizeof(*c.dg));
	c.cmds = calloc(c.nc ? c.nc : 1, sizeof(*c.cmds));
	c.found = calloc(n ? n : 1, sizeof(*c.found));
	res = calloc(n ? n : 1, sizeof(*res));
	sel = calloc(n ? n : 1, 1);
	if ((out = json_array()) == NULL || c.dg == NULL || c.cmds == NULL || c.found == NULL ||
	    res == NULL || sel == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* commands that do not parse are no candidates */
	for (k = 0; k < c.nc; k++)
		if (admincmd_from_json(json_array_get(commands, k), &c.cmds[k]) != HSM_OK ||
		    admincmd_digest_text(c.cmds[k], &c.dg[k], NULL) != HSM_OK)
			admincmd_free(&c.cmds[k]);
	for (i = 0; i < n; i++)
		sel[i] = logged[i] != GROUP_LOGGED_UNKNOWN;
	if ((rc = grp_plan(m, n, sel, &p)) != HSM_OK)
		goto out;
	for (k = 0; k < p.nb; k++)
		for (j = 0; j < p.b[k].n; j++)
			p.b[k].from[j] = logged[p.b[k].idx[j]];
	grp_run_batches(&p, &call, res);
	/* in member order, each member's in counter order; a member that
	 * cannot be reached is skipped (whatever runs next reports it) */
	for (i = 0; i < n; i++)
		if (c.found[i] != NULL)
			json_array_extend(out, c.found[i]);
	hsm_err_clear();
	*found = out;
	out = NULL;
out:
	for (k = 0; c.cmds != NULL && c.dg != NULL && k < c.nc; k++) {
		admincmd_free(&c.cmds[k]);
		free(c.dg[k]);
	}
	for (i = 0; c.found != NULL && i < n; i++)
		json_decref(c.found[i]);
	moddrv_results_clear(res, res ? n : 0);
	grp_plan_free(&p);
	free(c.cmds);
	free(c.dg);
	free(c.found);
	free(res);
	free(sel);
	json_decref(out);
	return rc;
}
