/* SPDX-License-Identifier: BSD-2-Clause */
/* group_recover.c - receipts: checking one against the pinned module CA and
 * the command, fetching one again whose answer was lost (step 6 of a run),
 * and the receipts an evidence log lacks (group_recover). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_int.h"
#include "hsmadm/cjson.h"
#include "hsmadm/receipt.h"

/* Check a receipt: chain to the pinned CA, this module, this domain, this
 * command, counter advanced by one. */
hsm_rc
grp_check_receipt(const group_member *m, const json_t *receipt, const char *digest_hex,
              const char *op, uint64_t want, const json_t **body)
{
	const char *s;
	long long v;
	hsm_rc rc;

	if ((rc = receipt_verify_file(receipt, m->ca_pem, m->module, body)) != HSM_OK)
		return hsm_fail_wrap(rc, "receipt");
	if ((rc = cjson_get_int(*body, "domain", &v)) != HSM_OK || v != (long long)m->domain)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt is for another domain");
	if ((rc = cjson_get_str(*body, "command_digest", &s)) != HSM_OK ||
	    strcmp(s, digest_hex) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt is for another command");
	if ((rc = cjson_get_str(*body, "op", &s)) != HSM_OK || strcmp(s, op) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt names another operation");
	if ((rc = cjson_get_int(*body, "counter_before", &v)) != HSM_OK ||
	    (uint64_t)v != want ||
	    (rc = cjson_get_int(*body, "counter_after", &v)) != HSM_OK ||
	    (uint64_t)v != want + 1)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt's counters do not match the command");
	return HSM_OK;
}

/* The receipt of cmd on member m, fetched again from the receipts the module
 * keeps (its answer was lost, or the member was found past the command's
 * counter): the one with counter_before == want, checked like an answer's. */
static hsm_rc
recover_receipt(const group_member *m, const char *digest_hex, const char *op,
                uint64_t want, json_t **receipt, const json_t **body)
{
	json_t *arr = NULL, *r;
	size_t i;
	hsm_rc rc;

	*receipt = NULL;
	*body = NULL;
	hsm_err_clear();
	if ((rc = moddrv_receipts(m->drv, m->domain, want, &arr)) != HSM_OK)
		return hsm_fail_wrap(rc, "fetching the receipt again");
	rc = hsm_fail(HSM_ERR_NOT_FOUND, "the module keeps no receipt for counter %llu",
	    (unsigned long long)want);
	json_array_foreach(arr, i, r) {
		json_int_t b = json_integer_value(json_object_get(json_object_get(r, "body"),
		    "counter_before"));
		if (b != (json_int_t)want)
			continue;
		if ((rc = grp_check_receipt(m, r, digest_hex, op, want, body)) == HSM_OK)
			*receipt = json_incref(r);
		else
			*body = NULL;
		break;
	}
	json_decref(arr);
	return rc;
}

struct rjob {
	const group_member *m;
	const char         *digest_hex, *op;
	uint64_t            want;
	json_t             *receipt;
	const json_t       *rbody;
	hsm_rc              rc;
};

static void *
rworker(void *p)
{
	struct rjob *j = p;

	j->rc = recover_receipt(j->m, j->digest_hex, j->op, j->want, &j->receipt, &j->rbody);
	return NULL;
}

/* Step 6 of group_submit, a thread per member (a cut network makes each
 * reconnect wait for its timeout: they wait at the same time). */
void
grp_recover_rows(struct run *r)
{
	const group_member *m = r->m;
	struct mrow *row = r->row;
	const char *digest_hex = r->digest_hex, *op = admincmd_op(r->cmd);
	size_t n = r->n;
	int roll_forward = r->roll_forward;
	struct rjob *jobs = calloc(n ? n : 1, sizeof(*jobs));
	pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	char *started = calloc(n ? n : 1, 1);
	size_t i, k = 0;

	if (jobs == NULL || th == NULL || started == NULL)
		goto out;   /* nothing recovered: the members stay as they are */
	for (i = 0; i < n; i++) {
		if (row[i].st != M_NO_ANSWER && !(row[i].st == M_ALREADY && roll_forward))
			continue;
		jobs[k].m = &m[i];
		jobs[k].digest_hex = digest_hex;
		jobs[k].op = op;
		jobs[k].want = row[i].want;
		if (pthread_create(&th[k], NULL, rworker, &jobs[k]) == 0)
			started[k] = 1;
		else
			rworker(&jobs[k]);
		k++;
	}
	for (i = 0; i < k; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	for (i = 0, k = 0; i < n; i++) {
		struct rjob *j;

		if (row[i].st != M_NO_ANSWER && !(row[i].st == M_ALREADY && roll_forward))
			continue;
		j = &jobs[k++];
		if (j->rc != HSM_OK || j->receipt == NULL)
			continue;   /* still unknown: the roll-forward finds out */
		row[i].receipt = j->receipt;
		j->receipt = NULL;
		row[i].recovered = 1;
		if (row[i].st == M_NO_ANSWER) {
			row[i].st = M_APPLIED;
			row[i].rbody = j->rbody;
			row[i].rc = HSM_OK;
			row[i].msg[0] = '\0';
		}
	}
out:
	for (i = 0; jobs != NULL && i < n; i++)
		json_decref(jobs[i].receipt);
	free(jobs);
	free(th);
	free(started);
}

hsm_rc
group_recover(const group_member *m, size_t n, const uint64_t *logged,
              const json_t *commands, json_t **found)
{
	json_t *out = NULL, *arr = NULL, *r;
	char **dg = NULL;
	admincmd **cmds = NULL;
	size_t nc, i, k, c;
	hsm_rc rc = HSM_OK;

	if (found)
		*found = NULL;
	if (m == NULL || logged == NULL || !json_is_array(commands) || found == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_recover: bad arguments");
	nc = json_array_size(commands);
	dg = calloc(nc ? nc : 1, sizeof(*dg));
	cmds = calloc(nc ? nc : 1, sizeof(*cmds));
	if ((out = json_array()) == NULL || dg == NULL || cmds == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* commands that do not parse are no candidates */
	for (c = 0; c < nc; c++)
		if (admincmd_from_json(json_array_get(commands, c), &cmds[c]) != HSM_OK ||
		    admincmd_digest_text(cmds[c], &dg[c], NULL) != HSM_OK)
			admincmd_free(&cmds[c]);
	hsm_err_clear();
	for (i = 0; i < n; i++) {
		uint64_t cur = logged[i];

		if (cur == GROUP_LOGGED_UNKNOWN)
			continue;
		json_decref(arr);
		arr = NULL;
		if (moddrv_receipts(m[i].drv, m[i].domain, cur, &arr) != HSM_OK)
			continue;
		json_array_foreach(arr, k, r) {
			const json_t *rb = json_object_get(r, "body"), *vb = NULL;
			const char *rdg = json_string_value(json_object_get(rb, "command_digest"));
			uint64_t want;

			if ((uint64_t)json_integer_value(json_object_get(rb, "counter_before")) != cur ||
			    rdg == NULL)
				break;   /* a hole: nothing after it can be placed */
			for (c = 0; c < nc; c++)
				if (cmds[c] != NULL && strcmp(dg[c], rdg) == 0 &&
				    admincmd_target_for(cmds[c], m[i].module, m[i].domain, &want) ==
				    HSM_OK && want == cur)
					break;
			if (c == nc || grp_check_receipt(&m[i], r, dg[c], admincmd_op(cmds[c]), cur,
			    &vb) != HSM_OK)
				break;   /* a command the log does not know: a person must look */
			if (json_array_append_new(out, json_pack("{s:O, s:O}", "command",
			    json_array_get(commands, c), "receipt", r)) != 0) {
				rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
				goto out;
			}
			cur++;
		}
	}
	hsm_err_clear();
	*found = out;
	out = NULL;
out:
	for (c = 0; c < nc; c++) {
		if (cmds)
			admincmd_free(&cmds[c]);
		if (dg)
			free(dg[c]);
	}
	free(cmds);
	free(dg);
	json_decref(arr);
	json_decref(out);
	return rc;
}

