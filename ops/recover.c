/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * recover.c - the receipts an evidence log lacks, fetched from the members
 * (recover.h). Shared by hsmadm-domain (submit --evidence) and
 * hsmadm-commit, through submit.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/recover.h"

/* Raise logged[i] to the receipt's counter_after if r is member i's. */
static void
note_receipt(const json_t *r, const group_member *m, size_t n, uint64_t *logged)
{
	const json_t *b = json_object_get(r, "body");
	const char *mod = json_string_value(json_object_get(b, "module"));
	json_int_t dom = json_integer_value(json_object_get(b, "domain"));
	json_int_t after = json_integer_value(json_object_get(b, "counter_after"));
	size_t i;

	for (i = 0; mod != NULL && i < n; i++)
		if (strcmp(m[i].module, mod) == 0 && (json_int_t)m[i].domain == dom && after >= 0 &&
		    (logged[i] == GROUP_LOGGED_UNKNOWN || (uint64_t)after > logged[i]))
			logged[i] = (uint64_t)after;
}

/* The log's marks of m[] (EVSCAN_NONE and GROUP_LOGGED_UNKNOWN agree). */
static hsm_rc
marks_of(const evscan *scan, const group_member *m, size_t n, uint64_t *logged)
{
	evscan_member *em = calloc(n ? n : 1, sizeof(*em));

	if (em == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		em[i].module = m[i].module;
		em[i].domain = m[i].domain;
	}
	evscan_hwm_members(scan, em, n, logged);
	free(em);
	return HSM_OK;
}

hsm_rc
recover_lost_receipts(const evscan *scan, const group_member *m, size_t n,
                      json_t **bodies, uint64_t *logged_out)
{
	json_t *found = NULL, *out = json_array(), *e;
	uint64_t *logged = calloc(n ? n : 1, sizeof(*logged));
	size_t i;
	hsm_rc rc = HSM_OK;

	*bodies = NULL;
	if (logged == NULL || out == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		logged[i] = GROUP_LOGGED_UNKNOWN;
	if (scan == NULL)
		goto done;   /* a new log: nothing can be missing from it */
	if ((rc = marks_of(scan, m, n, logged)) != HSM_OK ||
	    (rc = group_recover(m, n, logged, scan->commands, &found)) != HSM_OK)
		goto out;
	json_array_foreach(found, i, e) {
		json_t *body = json_pack("{s:O, s:[O]}", "command", json_object_get(e, "command"),
		    "receipts", json_object_get(e, "receipt"));
		if (body == NULL || json_array_append_new(out, body) != 0) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		note_receipt(json_object_get(e, "receipt"), m, n, logged);
	}
done:
	if (logged_out != NULL)
		memcpy(logged_out, logged, n * sizeof(*logged));
	*bodies = out;
	out = NULL;
out:
	json_decref(out);
	json_decref(found);
	free(logged);
	return rc;
}

/* The kept receipt of member mb that ends at counter, verified. */
static hsm_rc
last_receipt(const group_member *mb, uint64_t counter, json_t **out)
{
	json_t *arr = NULL, *r;
	size_t i;
	hsm_rc rc;

	*out = NULL;
	if ((rc = moddrv_receipts(mb->drv, mb->domain, counter - 1, &arr)) != HSM_OK)
		return rc;
	json_array_foreach(arr, i, r) {
		const json_t *b = json_object_get(r, "body");
		if ((uint64_t)json_integer_value(json_object_get(b, "counter_after")) == counter &&
		    group_receipt_trusted(mb, r) == HSM_OK) {
			*out = json_incref(r);
			break;
		}
	}
	json_decref(arr);
	if (*out == NULL)
		return hsm_fail(HSM_ERR_STATE, "the evidence log holds nothing of %s domain %u, "
		    "which is at counter %llu, and the module no longer keeps the receipt that "
		    "brought it there; record the domain's last receipt first (hsmadm-commit "
		    "baseline --receipts FILE --log LOG). Nothing was sent", mb->module,
		    mb->domain, (unsigned long long)counter);
	return HSM_OK;
}

hsm_rc
recover_baselines(const group_member *m, size_t n, uint64_t *logged, json_t **receipts)
{
	json_t **states = calloc(n ? n : 1, sizeof(*states)), *out = json_array(), *r;
	hsm_rc rc = HSM_OK;
	size_t i;

	*receipts = NULL;
	if (states == NULL || out == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n && logged[i] != GROUP_LOGGED_UNKNOWN; i++)
		;
	if (i == n)
		goto done;   /* the log knows every member: nothing to read */
	if ((rc = group_read(m, n, states)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		json_int_t ctr = json_integer_value(json_object_get(states[i], "counter"));
		if (logged[i] != GROUP_LOGGED_UNKNOWN || ctr < 0)
			continue;
		logged[i] = (uint64_t)ctr;
		if (ctr == 0)
			continue;   /* a new domain: its first receipt starts the story */
		if ((rc = last_receipt(&m[i], (uint64_t)ctr, &r)) != HSM_OK)
			goto out;
		json_array_append_new(out, r);
	}
done:
	*receipts = out;
	out = NULL;
out:
	for (i = 0; states != NULL && i < n; i++)
		json_decref(states[i]);
	free(states);
	json_decref(out);
	return rc;
}

void
recover_receipt_text(const json_t *body, char *buf, size_t len)
{
	const json_t *rb = json_object_get(json_array_get(json_object_get(body, "receipts"), 0),
	    "body");
	const char *op = json_string_value(json_object_get(rb, "op"));
	const char *mod = json_string_value(json_object_get(rb, "module"));

	snprintf(buf, len, "%s on %s domain %lld (counter %lld -> %lld)",
	    op ? op : "?", mod ? mod : "?",
	    (long long)json_integer_value(json_object_get(rb, "domain")),
	    (long long)json_integer_value(json_object_get(rb, "counter_before")),
	    (long long)json_integer_value(json_object_get(rb, "counter_after")));
}
