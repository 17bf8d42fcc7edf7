/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_log.c - the facilitator's records: open, step begin/end, witness
 * acknowledgement, exception. Each takes the writer lock, reads the log as it
 * stands (fac_scan) under that lock, checks, and appends one record; a
 * refusal writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hsmadm/cardprofile.h"
#include "hsmadm/evlog.h"
#include "fac_int.h"

ev_actor
fac_actor(const struct fac_who *who)
{
	ev_actor a = { .role = "facilitator" };

	a.name = who != NULL && who->facilitator != NULL ? who->facilitator : "facilitator";
	return a;
}

/* Printable text of 1..max bytes without control characters: what people
 * read aloud later from the report must look the same to everyone. */
hsm_rc
fac_check_text(const char *what, const char *s, size_t max)
{
	const unsigned char *p;

	if (s == NULL || *s == '\0')
		return hsm_fail(HSM_ERR_USAGE, "%s is empty; give it in words", what);
	if (strlen(s) > max)
		return hsm_fail(HSM_ERR_USAGE, "%s is longer than %zu bytes; shorten it", what, max);
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return hsm_fail(HSM_ERR_USAGE, "%s contains a control character "
			    "(a line break or tab); write it on one line", what);
	return HSM_OK;
}

hsm_rc
fac_begin(const char *path, fac_ctx *c)
{
	struct evlog_open_opts oo;
	struct stat st;
	hsm_rc rc;

	memset(c, 0, sizeof(*c));
	memset(&oo, 0, sizeof(oo));
	oo.must_exist = 1;
	if (path == NULL || *path == '\0')
		return hsm_fail(HSM_ERR_USAGE, "no evidence log given (--log FILE)");
	/* An empty file would be made a new log by the writer; only open does
	 * that, with the ceremony's name. */
	if (stat(path, &st) == 0 && st.st_size == 0)
		return hsm_fail(HSM_ERR_NOT_FOUND, "evidence log %s is empty; start the "
		    "ceremony first with hsmadm-ceremony open --log %s", path, path);
	if ((rc = evlog_open(path, &oo, &c->log)) != HSM_OK) {
		if (rc == HSM_ERR_NOT_FOUND)
			hsm_fail(rc, "evidence log %s does not exist; start the ceremony first "
			    "with hsmadm-ceremony open --log %s", path, path);
		return rc;
	}
	if ((rc = fac_scan_log(c->log, path, &c->st)) != HSM_OK) {
		evlog_close(&c->log);
		return rc;
	}
	if (json_is_true(json_object_get(c->st, "complete"))) {
		rc = hsm_fail(HSM_ERR_STATE, "evidence log %s is completed (the supervisor "
		    "signed it); nothing may be added; start a new log for a new ceremony", path);
		fac_end(c);
	}
	return rc;
}

void
fac_end(fac_ctx *c)
{
	evlog_close(&c->log);
	json_decref(c->st);
	c->st = NULL;
}

hsm_rc
fac_recorded(const fac_ctx *c, const char *path, json_t **out)
{
	const json_t *rec = evlog_last_record(c->log);

	if (out == NULL)
		return HSM_OK;
	if (rec == NULL)
		return hsm_fail(HSM_ERR_INTERNAL, "nothing was recorded");
	if ((*out = json_pack("{s:s, s:O, s:O, s:O}", "log", path,
	    "type", json_object_get(rec, "type"), "seq", json_object_get(rec, "seq"),
	    "body", json_object_get(rec, "body"))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

hsm_rc
fac_open(const char *path, const char *title, const char *installation, const char *site,
         const struct fac_who *who, json_t **out)
{
	return fac_open_ex(path, title, installation, site, NULL, NULL, who, out);
}

hsm_rc
fac_open_ex(const char *path, const char *title, const char *installation, const char *site,
            const char *script, const char *plan, const struct fac_who *who, json_t **out)
{
	struct evlog_open_opts oo;
	evlog *log = NULL;
	json_t *body = NULL, *actor = NULL;
	ev_actor who_a = fac_actor(who);
	long long seq = 0;
	uint8_t head[32];
	hsm_rc rc;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || *path == '\0')
		return hsm_fail(HSM_ERR_USAGE, "no evidence log given (--log FILE)");
	if ((rc = fac_check_text("the title (--title)", title, FAC_TITLE_MAX)) != HSM_OK)
		return rc;
	if (installation == NULL)
		return hsm_fail(HSM_ERR_USAGE, "no installation id given (--installation ID, "
		    "the id the cards of this installation carry)");
	if ((rc = cardprofile_check_installation(installation)) != HSM_OK ||
	    (*installation == '\0' &&
	     (rc = hsm_fail(HSM_ERR_USAGE, "the installation id is empty")) != HSM_OK))
		return hsm_fail_wrap(rc, "--installation");
	if (site != NULL && (rc = fac_check_text("the site (--site)", site,
	    FAC_TITLE_MAX)) != HSM_OK)
		return rc;
	if (who != NULL && who->facilitator != NULL &&
	    (rc = fac_check_text("the facilitator's name", who->facilitator,
	    FAC_TITLE_MAX)) != HSM_OK)
		return rc;
	body = json_pack("{s:s, s:s}", "ceremony", title, "installation", installation);
	actor = json_pack("{s:s, s:s}", "name", who_a.name, "role", who_a.role);
	/* The script's and the plan's digests: what this ceremony was run from,
	 * checked again by resume and by check-plan. */
	if (body == NULL || actor == NULL ||
	    (site != NULL && json_object_set_new(body, "site", json_string(site)) != 0) ||
	    (script != NULL && json_object_set_new(body, "script", json_string(script)) != 0) ||
	    (plan != NULL && json_object_set_new(body, "plan", json_string(plan)) != 0)) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&oo, 0, sizeof(oo));
	oo.must_create = 1;
	oo.actor = actor;
	oo.open_body = body;
	if ((rc = evlog_open(path, &oo, &log)) != HSM_OK)
		goto out;
	evlog_head(log, &seq, head);
	if (out != NULL &&
	    (*out = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "log", path,
	                      "type", EV_CEREMONY_OPEN, "seq", (json_int_t)seq,
	                      "log_id", evlog_id(log), "ceremony", title,
	                      "installation", installation)) == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	evlog_close(&log);
	json_decref(body);
	json_decref(actor);
	return rc;
}

hsm_rc
fac_step(const char *path, int begin, const char *step, const char *title,
         const char *result, const struct fac_who *who, json_t **out)
{
	fac_ctx c;
	ev_actor a = fac_actor(who);
	json_t *s;
	int is_open = 0;
	size_t i;
	hsm_rc rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = fac_check_text("the step id (--step)", step, FAC_TITLE_MAX)) != HSM_OK ||
	    (title != NULL &&
	     (rc = fac_check_text("the title (--title)", title, FAC_TITLE_MAX)) != HSM_OK))
		return rc;
	if (!begin && title != NULL)
		return hsm_fail(HSM_ERR_USAGE, "--title goes with step begin, not step end");
	if (begin && result != NULL)
		return hsm_fail(HSM_ERR_USAGE, "--result goes with step end, not step begin");
	if (result == NULL)
		result = "ok";
	if (!begin && strcmp(result, "ok") != 0 && strcmp(result, "failed") != 0 &&
	    strcmp(result, "skipped") != 0)
		return hsm_fail(HSM_ERR_USAGE, "--result must be ok, failed or skipped, "
		    "not \"%s\"", result);
	if ((rc = fac_begin(path, &c)) != HSM_OK)
		return rc;
	json_array_foreach(json_object_get(c.st, "open_steps"), i, s)
		if (strcmp(json_string_value(s), step) == 0)
			is_open = 1;
	if (begin && is_open) {
		rc = hsm_fail(HSM_ERR_STATE, "step %s is already open in %s; end it first "
		    "(hsmadm-ceremony step end --step %s)", step, path, step);
		goto out;
	}
	if (!begin && !is_open) {
		rc = hsm_fail(HSM_ERR_STATE, "step %s is not open in %s, so it cannot end; "
		    "'hsmadm-ceremony show --log %s' lists the open steps", step, path, path);
		goto out;
	}
	rc = begin ? evrec_step_begin(c.log, &a, step, title, NULL)
	           : evrec_step_end(c.log, &a, step, result, NULL);
	if (rc == HSM_OK)
		rc = fac_recorded(&c, path, out);
out:
	fac_end(&c);
	return rc;
}

hsm_rc
fac_witness(const char *path, const char *name, const char *statement, json_t **out)
{
	fac_ctx c;
	ev_actor a = { .name = name, .role = "witness" };
	json_t *m;
	int found = 0;
	size_t i;
	hsm_rc rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = fac_check_text("the witness's name (--name)", name, FAC_TITLE_MAX)) != HSM_OK ||
	    (rc = fac_check_text("the statement (--statement)", statement, FAC_TEXT_MAX)) != HSM_OK)
		return rc;
	if ((rc = fac_begin(path, &c)) != HSM_OK)
		return rc;
	/* Only a witness the roster names may acknowledge: the roster is the
	 * record of who was in the room. */
	json_array_foreach(json_object_get(c.st, "roster"), i, m) {
		if (strcmp(json_string_value(json_object_get(m, "role")), "witness") == 0 &&
		    strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
			found = 1;
	}
	if (!found) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "%s is not on the roster of %s as a witness; "
		    "add them first: hsmadm-ceremony roster add --log %s --role witness "
		    "--name \"%s\"", name, path, path, name);
		goto out;
	}
	if ((rc = evrec_witness_ack(c.log, &a, statement, NULL)) == HSM_OK)
		rc = fac_recorded(&c, path, out);
out:
	fac_end(&c);
	return rc;
}

hsm_rc
fac_exception(const char *path, const char *what, const char *reason,
              const char *resolution, const struct fac_who *who, json_t **out)
{
	fac_ctx c;
	ev_actor a = fac_actor(who);
	const char **open = NULL;
	json_t *steps, *s;
	size_t i, n;
	hsm_rc rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = fac_check_text("the text (--text)", what, FAC_TEXT_MAX)) != HSM_OK ||
	    (reason != NULL &&
	     (rc = fac_check_text("the reason (--reason)", reason, FAC_TEXT_MAX)) != HSM_OK) ||
	    (resolution != NULL &&
	     (rc = fac_check_text("the resolution (--resolution)", resolution,
	                          FAC_TEXT_MAX)) != HSM_OK))
		return rc;
	if ((rc = fac_begin(path, &c)) != HSM_OK)
		return rc;
	/* Which steps were running when it happened, for the auditor. */
	steps = json_object_get(c.st, "open_steps");
	n = json_array_size(steps);
	if (n > 0 && (open = calloc(n, sizeof(*open))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(steps, i, s)
		open[i] = json_string_value(s);
	rc = evrec_exception(c.log, &a, what,
	    reason != NULL ? reason : "recorded by the facilitator", resolution, open, n, NULL);
	if (rc == HSM_OK)
		rc = fac_recorded(&c, path, out);
out:
	free(open);
	fac_end(&c);
	return rc;
}
