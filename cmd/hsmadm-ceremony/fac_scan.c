/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_scan.c - what an evidence log records, as the facilitator needs it:
 * the roster, the steps (begun, ended, still open), witness acknowledgements
 * and exceptions. Reads line by line through the evidence reader, which
 * checks the hash chain on the way, so that "show" never presents an edited
 * log as if it were sound; signatures and receipts are left to hsmadm-audit
 * verify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"
#include "fac.h"

struct scan {
	json_t   *st;          /* the summary being built */
	long long seq;         /* last record seen */
	uint8_t   head[32];    /* hash of its line */
};

static const char *
str_or(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : dflt;
}

/* Copy the public string members keys[] of src into a new object. */
static json_t *
pick(const json_t *src, const char *const *keys)
{
	json_t *o = json_object();
	size_t i;

	if (o == NULL)
		return NULL;
	for (i = 0; keys[i] != NULL; i++) {
		json_t *v = json_object_get(src, keys[i]);
		if (json_is_string(v) && json_object_set(o, keys[i], v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static hsm_rc
push(json_t *st, const char *arr, json_t *v)
{
	if (v == NULL || json_array_append_new(json_object_get(st, arr), v) != 0)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

/* The open step with this id, or NULL. */
static json_t *
open_step(json_t *st, const char *id)
{
	json_t *steps = json_object_get(st, "steps"), *s;
	size_t i;

	json_array_foreach(steps, i, s) {
		if (json_object_get(s, "end_seq") == NULL &&
		    strcmp(str_or(s, "step", ""), id) == 0)
			return s;
	}
	return NULL;
}

static hsm_rc
on_record(struct scan *sc, const evlog_record *rec)
{
	static const char *const member_keys[] = { "name", "role", "card_id", "ski",
	                                           "identity", NULL };
	json_t *st = sc->st, *b = rec->body, *v;
	const char *step;
	size_t i;
	hsm_rc rc = HSM_OK;

	/* the reader has checked seq and prev: this record follows the last */
	if (rec->seq == 1) {
		const char *id = json_string_value(json_object_get(b, "log_id"));
		if (json_object_set_new(st, "log_id", json_string(id)) != 0 ||
		    json_object_set_new(st, "ceremony", json_string(str_or(b, "ceremony", ""))) ||
		    json_object_set_new(st, "installation",
		        json_string(str_or(b, "installation", ""))) != 0 ||
		    json_object_set_new(st, "opened", json_string(rec->time)) != 0)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	memcpy(sc->head, rec->hash, 32);
	sc->seq = rec->seq;
	if (json_is_true(json_object_get(st, "complete")))
		return hsm_fail(HSM_ERR_AUDIT, "seq %lld: a record after the completion "
		    "record; run hsmadm-audit verify", rec->seq);

	if (strcmp(rec->type, EV_ROSTER) == 0) {
		json_array_foreach(json_object_get(b, "members"), i, v) {
			json_t *m = pick(v, member_keys);
			if (m != NULL && (json_object_get(v, "pubkey") != NULL &&
			    json_object_set_new(m, "has_key", json_true()) != 0)) {
				json_decref(m);
				m = NULL;
			}
			if (m != NULL && json_object_set_new(m, "seq", json_integer(rec->seq)) != 0) {
				json_decref(m);
				m = NULL;
			}
			if ((rc = push(st, "roster", m)) != HSM_OK)
				return rc;
		}
	} else if (strcmp(rec->type, EV_STEP_BEGIN) == 0 &&
	           (step = json_string_value(json_object_get(b, "step"))) != NULL) {
		json_t *s = json_pack("{s:s, s:I}", "step", step, "begin_seq",
		    (json_int_t)rec->seq);
		if (s != NULL && json_is_string(json_object_get(b, "title")))
			json_object_set(s, "title", json_object_get(b, "title"));
		if ((rc = push(st, "steps", s)) != HSM_OK)
			return rc;
	} else if (strcmp(rec->type, EV_STEP_END) == 0 &&
	           (step = json_string_value(json_object_get(b, "step"))) != NULL) {
		json_t *s = open_step(st, step);
		if (s == NULL)
			return hsm_fail(HSM_ERR_AUDIT, "seq %lld: step %.64s ends but was not "
			    "begun; run hsmadm-audit verify", rec->seq, step);
		if (json_object_set_new(s, "end_seq", json_integer(rec->seq)) != 0 ||
		    json_object_set_new(s, "result", json_string(str_or(b, "result", "?"))) != 0)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	} else if (strcmp(rec->type, EV_WITNESS_ACK) == 0) {
		rc = push(st, "witnesses", json_pack("{s:s, s:s, s:I}",
		    "name", str_or(rec->actor, "name", "?"),
		    "statement", str_or(b, "statement", ""), "seq", (json_int_t)rec->seq));
	} else if (strcmp(rec->type, EV_EXCEPTION) == 0) {
		json_t *e = pick(b, (const char *const[]){ "what", "reason", "resolution", NULL });
		if (e != NULL && json_object_set_new(e, "seq", json_integer(rec->seq)) != 0) {
			json_decref(e);
			e = NULL;
		}
		rc = push(st, "exceptions", e);
	} else if (strcmp(rec->type, EV_LOG_RECOVERED) == 0) {
		json_object_set_new(st, "recoveries", json_integer(
		    json_integer_value(json_object_get(st, "recoveries")) + 1));
	} else if (strcmp(rec->type, EV_COMPLETION) == 0) {
		json_object_set_new(st, "complete", json_true());
		json_object_set_new(st, "completed_by", json_string(str_or(rec->actor, "name", "?")));
	}
	return rc;
}

static hsm_rc
scan_new(struct scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->st = json_pack("{s:s, s:s, s:s, s:b, s:I, s:[], s:[], s:[], s:[]}",
	    "log_id", "", "ceremony", "", "installation", "", "complete", 0,
	    "recoveries", (json_int_t)0, "roster", "steps", "witnesses", "exceptions");
	if (sc->st == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

static hsm_rc
scan_finish(struct scan *sc, json_t **state)
{
	json_t *open, *s;
	char headhex[65];
	size_t i;

	if (sc->seq == 0)
		return hsm_fail(HSM_ERR_FORMAT, "the evidence log is empty; start a ceremony "
		    "with hsmadm-ceremony open");
	if ((open = json_array()) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_array_foreach(json_object_get(sc->st, "steps"), i, s) {
		if (json_object_get(s, "end_seq") == NULL)
			json_array_append(open, json_object_get(s, "step"));
	}
	hex_encode_buf(sc->head, 32, headhex);
	if (json_object_set_new(sc->st, "open_steps", open) != 0 ||
	    json_object_set_new(sc->st, "records", json_integer(sc->seq)) != 0 ||
	    json_object_set_new(sc->st, "head_seq", json_integer(sc->seq)) != 0 ||
	    json_object_set_new(sc->st, "head_hash", json_string(headhex)) != 0)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	*state = sc->st;
	sc->st = NULL;
	return HSM_OK;
}

/* Every record the reader gives, then the summary. */
static hsm_rc
scan_reader(evlog_reader *r, const char *what, json_t **state)
{
	evlog_record rec;
	struct scan sc;
	hsm_rc rc;

	*state = NULL;
	memset(&rec, 0, sizeof(rec));
	if ((rc = scan_new(&sc)) != HSM_OK)
		return rc;
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK) {
		if ((rc = on_record(&sc, &rec)) != HSM_OK)
			goto out;
	}
	if (rc == HSM_ERR_AUDIT) {
		hsm_fail_wrap(rc, "%s was changed (run hsmadm-audit verify)", what);
		goto out;
	}
	if (rc != HSM_ERR_NOT_FOUND) {
		hsm_fail_wrap(rc, "%s", what);
		goto out;
	}
	rc = scan_finish(&sc, state);
out:
	evlog_record_clear(&rec);
	json_decref(sc.st);
	return rc;
}

hsm_rc
fac_scan(const char *path, json_t **state)
{
	evlog_reader *r = NULL;
	char what[512];
	hsm_rc rc;

	*state = NULL;
	if ((rc = evlog_reader_open(path, &r)) != HSM_OK) {
		if (rc == HSM_ERR_NOT_FOUND)
			hsm_fail(rc, "evidence log %s does not exist; start a ceremony with "
			    "hsmadm-ceremony open --log %s", path, path);
		return rc;
	}
	snprintf(what, sizeof(what), "evidence log %s", path);
	rc = scan_reader(r, what, state);
	evlog_reader_free(&r);
	return rc;
}

hsm_rc
fac_scan_log(evlog *log, const char *path, json_t **state)
{
	evlog_reader *r = NULL;
	char what[512];
	hsm_rc rc;

	*state = NULL;
	if ((rc = evlog_reader_from_log(log, &r)) != HSM_OK)
		return rc;
	snprintf(what, sizeof(what), "evidence log %s", path);
	rc = scan_reader(r, what, state);
	evlog_reader_free(&r);
	return rc;
}

hsm_rc
fac_scan_mem(const char *buf, size_t len, json_t **state)
{
	evlog_reader *r = NULL;
	hsm_rc rc;

	*state = NULL;
	if ((rc = evlog_reader_open_mem(buf, len, &r)) != HSM_OK)
		return rc;
	rc = scan_reader(r, "evidence log", state);
	evlog_reader_free(&r);
	return rc;
}

void
fac_print_show(FILE *f, const json_t *st)
{
	json_t *v;
	size_t i;

	fprintf(f, "Ceremony:      %s\n", str_or(st, "ceremony", ""));
	fprintf(f, "Installation:  %s\n", *str_or(st, "installation", "") ? str_or(st,
	       "installation", "") : "(not named)");
	fprintf(f, "Log id:        %s\n", str_or(st, "log_id", ""));
	fprintf(f, "Opened:        %s\n", str_or(st, "opened", ""));
	fprintf(f, "Records:       %lld (hash chain intact; signatures: hsmadm-audit verify)\n",
	       (long long)json_integer_value(json_object_get(st, "records")));
	fprintf(f, "\nRoster (%zu):\n", json_array_size(json_object_get(st, "roster")));
	json_array_foreach(json_object_get(st, "roster"), i, v) {
		const char *cid = str_or(v, "card_id", NULL), *ski = str_or(v, "ski", NULL);
		fprintf(f, "  %-12s %s", str_or(v, "role", "?"), str_or(v, "name", "?"));
		if (cid != NULL)
			fprintf(f, ", card %s", cid);
		if (ski != NULL)
			fprintf(f, ", key %.16s...", ski);
		fprintf(f, "\n");
	}
	fprintf(f, "\nSteps (%zu):\n", json_array_size(json_object_get(st, "steps")));
	json_array_foreach(json_object_get(st, "steps"), i, v) {
		const char *t = str_or(v, "title", NULL);
		fprintf(f, "  %-16s %s", str_or(v, "step", "?"),
		       json_object_get(v, "end_seq") ? str_or(v, "result", "?") : "OPEN");
		if (t != NULL)
			fprintf(f, "  (%s)", t);
		fprintf(f, "\n");
	}
	fprintf(f, "\nWitness acknowledgements: %zu\n",
	       json_array_size(json_object_get(st, "witnesses")));
	json_array_foreach(json_object_get(st, "witnesses"), i, v)
		fprintf(f, "  %s: %s\n", str_or(v, "name", "?"), str_or(v, "statement", ""));
	fprintf(f, "Exceptions: %zu\n", json_array_size(json_object_get(st, "exceptions")));
	json_array_foreach(json_object_get(st, "exceptions"), i, v)
		fprintf(f, "  seq %lld: %s (%s)\n", (long long)json_integer_value(json_object_get(v,
		       "seq")), str_or(v, "what", ""), str_or(v, "reason", ""));
	if (json_integer_value(json_object_get(st, "recoveries")) > 0)
		fprintf(f, "Torn tails repaired: %lld\n",
		       (long long)json_integer_value(json_object_get(st, "recoveries")));
	if (json_is_true(json_object_get(st, "complete")))
		fprintf(f, "\nThe log is complete: signed by %s. Nothing more can be recorded.\n",
		       str_or(st, "completed_by", "?"));
	else if (json_array_size(json_object_get(st, "open_steps")) > 0)
		fprintf(f, "\nOpen steps must end before the supervisor signs: "
		       "hsmadm-ceremony step end --log LOG --step ID\n");
	else
		fprintf(f, "\nNo step is open. When the ceremony is done, the supervisor signs it: "
		       "hsmadm-audit sign-completion LOG --card\n");
}
