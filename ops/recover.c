/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * recover.c - how far an evidence log holds a group's receipts, and the
 * receipts the members kept past that point (recover.h).
 * Shared by hsmadm-domain (submit --evidence) and hsmadm-commit, which both
 * fill the gaps a lost answer leaves before they record the next command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/evlog.h"
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

hsm_rc
recover_scan_log(const char *path, const group_member *m, size_t n, json_t *cmds,
                    uint64_t *logged)
{
	evlog_reader *rd = NULL;
	evlog_record rec;
	const json_t *r;
	size_t i;
	hsm_rc rc;

	memset(&rec, 0, sizeof(rec));
	for (i = 0; i < n; i++)
		logged[i] = GROUP_LOGGED_UNKNOWN;
	if ((rc = evlog_reader_open(path, &rd)) != HSM_OK)
		return rc;
	while ((rc = evlog_reader_next(rd, &rec)) == HSM_OK) {
		if (strcmp(rec.type, EV_COMMAND_SENT) == 0) {
			/* write-ahead intent: its receipts may be all the log lacks */
			json_array_append(cmds, json_object_get(rec.body, "command"));
		} else if (strcmp(rec.type, EV_COMMAND_APPLIED) == 0) {
			json_array_append(cmds, json_object_get(rec.body, "command"));
			json_array_foreach(json_object_get(rec.body, "receipts"), i, r)
				note_receipt(r, m, n, logged);
		} else if (strcmp(rec.type, EV_DOMAIN_BASELINE) == 0)
			note_receipt(json_object_get(rec.body, "receipt"), m, n, logged);
	}
	evlog_record_clear(&rec);
	evlog_reader_free(&rd);
	return rc == HSM_ERR_NOT_FOUND ? HSM_OK : rc;
}

hsm_rc
recover_lost_receipts(const char *path, const group_member *m, size_t n, int torn_ok,
                      json_t **bodies, uint64_t *logged_out)
{
	json_t *cmds = json_array(), *found = NULL, *out = json_array(), *e;
	uint64_t *logged = calloc(n ? n : 1, sizeof(*logged));
	size_t i;
	hsm_rc rc;

	*bodies = NULL;
	if (cmds == NULL || logged == NULL || out == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		logged[i] = GROUP_LOGGED_UNKNOWN;
	if (access(path, F_OK) != 0) {
		rc = HSM_OK;   /* a new log: nothing can be missing from it */
		goto done;
	}
	rc = recover_scan_log(path, m, n, cmds, logged);
	if (rc != HSM_OK && !(torn_ok && rc == HSM_ERR_FORMAT))
		goto out;
	if ((rc = group_recover(m, n, logged, cmds, &found)) != HSM_OK)
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
	rc = HSM_OK;
out:
	json_decref(out);
	json_decref(cmds);
	json_decref(found);
	free(logged);
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
