/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evscan.c - one pass over a log collecting what the workflows continue from
 * (evscan.h): key parts, the master-key records per group, receipt
 * high-water marks per domain, and the signed commands. State grows with the
 * ceremony (parts, groups, domains, commands), not with the records.
 */
#include <stdlib.h>
#include <string.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/evscan.h"
#include "hsmadm/evtsa.h"
#include "evint.h"

/* Grow arr (of *n elements) by one zeroed element; NULL when out of memory. */
static void *
grow(void **arr, size_t *n, size_t size)
{
	char *p = realloc(*arr, (*n + 1) * size);

	if (p == NULL)
		return NULL;
	*arr = p;
	memset(p + *n * size, 0, size);
	return p + (*n)++ * size;
}

static hsm_rc
nomem(void)
{
	return hsm_fail(HSM_ERR_NOMEM, "out of memory scanning the evidence log");
}

static hsm_rc
get_vp(const json_t *o, const char *k, uint8_t out[EVSCAN_VP_LEN])
{
	const char *h = json_string_value(json_object_get(o, k));

	if (!ev_is_hex(h, EVSCAN_VP_LEN) || hex_decode_into(h, out, EVSCAN_VP_LEN) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT, "\"%s\" must be 64 lowercase hex digits", k);
	return HSM_OK;
}

static hsm_rc
get_str(const json_t *o, const char *k, const char **out)
{
	*out = json_string_value(json_object_get(o, k));
	if (*out == NULL || **out == '\0')
		return hsm_fail(HSM_ERR_FORMAT, "\"%s\" must be a non-empty string", k);
	return HSM_OK;
}

static hsm_rc
get_domain(const json_t *o, unsigned *out)
{
	json_t *v = json_object_get(o, "domain");

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 0xffffff)
		return hsm_fail(HSM_ERR_FORMAT, "\"domain\" must be a domain number");
	*out = (unsigned)json_integer_value(v);
	return HSM_OK;
}

/* ---- key parts ---- */

static evscan_part *
part_get(evscan *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->nparts; i++)
		if (strcmp(s->parts[i].part_id, id) == 0)
			return &s->parts[i];
	return NULL;
}

static hsm_rc
on_keypart(evscan *s, const evlog_record *rec)
{
	const char *id, *card, *holder, *backup;
	uint8_t kpvp[EVSCAN_VP_LEN];
	evscan_part *p;
	hsm_rc rc;

	if ((rc = get_str(rec->body, "part_id", &id)) != HSM_OK ||
	    (rc = get_vp(rec->body, "kpvp", kpvp)) != HSM_OK ||
	    (rc = get_str(rec->body, "card_id", &card)) != HSM_OK)
		return rc;
	p = part_get(s, id);
	if (strcmp(rec->type, EV_KEYPART_GENERATED) == 0) {
		holder = json_string_value(json_object_get(rec->body, "holder"));
		if (p == NULL && ((p = grow((void **)&s->parts, &s->nparts, sizeof(*p))) == NULL ||
		    (p->part_id = strdup(id)) == NULL))
			return nomem();
		/* the latest generation counts, as the card now holds that one */
		free(p->card_id);
		free(p->holder);
		p->card_id = strdup(card);
		p->holder = strdup(holder != NULL ? holder : "");
		if (p->card_id == NULL || p->holder == NULL)
			return nomem();
		memcpy(p->kpvp, kpvp, EVSCAN_VP_LEN);
		p->seq = rec->seq;
		p->destroyed = 0;
		return HSM_OK;
	}
	if (p == NULL)
		return HSM_OK;   /* the verifier names a part never generated */
	if (strcmp(rec->type, EV_KEYPART_DESTROYED) == 0) {
		p->destroyed = 1;
	} else if (strcmp(rec->type, EV_KEYPART_COPIED) == 0) {
		char **slot;
		if ((rc = get_str(rec->body, "backup_card_id", &backup)) != HSM_OK)
			return rc;
		if ((slot = grow((void **)&p->copied_to, &p->ncopied, sizeof(*slot))) == NULL ||
		    (*slot = strdup(backup)) == NULL)
			return nomem();
	}
	return HSM_OK;
}

/* ---- master-key records per group ---- */

static void
mkrec_clear(evscan_mkrec *m)
{
	size_t i;

	for (i = 0; i < m->ndoms; i++)
		free(m->doms[i].module);
	for (i = 0; i < m->nparts; i++)
		free(m->parts[i].part_id);
	free(m->doms);
	free(m->parts);
	memset(m, 0, sizeof(*m));
}

static evscan_group *
group_get(evscan *s, const char *name)
{
	evscan_group *g;
	size_t i;

	for (i = 0; i < s->ngroups; i++)
		if (strcmp(s->groups[i].group, name) == 0)
			return &s->groups[i];
	if ((g = grow((void **)&s->groups, &s->ngroups, sizeof(*g))) == NULL)
		return NULL;
	if ((g->group = strdup(name)) == NULL) {
		s->ngroups--;
		return NULL;
	}
	return g;
}

static hsm_rc
mk_fill(evscan_mkrec *m, const evlog_record *rec)
{
	json_t *doms = json_object_get(rec->body, "domains"), *parts, *e;
	size_t i;
	hsm_rc rc;

	if (!json_is_array(doms) || json_array_size(doms) == 0)
		return hsm_fail(HSM_ERR_FORMAT, "\"domains\" must be a non-empty array");
	if ((m->doms = calloc(json_array_size(doms), sizeof(*m->doms))) == NULL)
		return nomem();
	json_array_foreach(doms, i, e) {
		const char *mod;
		evscan_mkdom *d = &m->doms[m->ndoms];
		if ((rc = get_str(e, "module", &mod)) != HSM_OK ||
		    (rc = get_domain(e, &d->domain)) != HSM_OK ||
		    (rc = get_vp(e, "mkvp", d->mkvp)) != HSM_OK)
			return hsm_fail_wrap(rc, "domains[%zu]", i);
		if ((d->module = strdup(mod)) == NULL)
			return nomem();
		m->ndoms++;
	}
	parts = json_object_get(rec->body, "parts");
	if (json_array_size(parts) > 0 &&
	    (m->parts = calloc(json_array_size(parts), sizeof(*m->parts))) == NULL)
		return nomem();
	json_array_foreach(parts, i, e) {
		const char *id;
		evscan_mkpart *p = &m->parts[m->nparts];
		if ((rc = get_str(e, "part_id", &id)) != HSM_OK ||
		    (rc = get_vp(e, "kpvp", p->kpvp)) != HSM_OK)
			return hsm_fail_wrap(rc, "parts[%zu]", i);
		if ((p->part_id = strdup(id)) == NULL)
			return nomem();
		m->nparts++;
	}
	m->seq = rec->seq;
	return HSM_OK;
}

static hsm_rc
on_mk(evscan *s, const evlog_record *rec)
{
	const char *name = json_string_value(json_object_get(rec->body, "group"));
	evscan_group *g = group_get(s, name != NULL ? name : "");
	evscan_mkrec *m;

	if (g == NULL)
		return nomem();
	if (strcmp(rec->type, EV_MK_LOADED) == 0)
		m = &g->loaded;
	else if (strcmp(rec->type, EV_MK_COMMITTED) == 0)
		m = &g->committed;
	else
		m = &g->activated;
	mkrec_clear(m);   /* the last record of its type is the one that counts */
	return mk_fill(m, rec);
}

/* ---- receipts: high-water marks ---- */

static hsm_rc
on_receipt(evscan *s, const json_t *receipt)
{
	const json_t *b = json_object_get(receipt, "body");
	json_t *after = json_object_get(b, "counter_after");
	const char *mod;
	unsigned dom;
	evscan_dom *d = NULL;
	size_t i;
	hsm_rc rc;

	if ((rc = get_str(b, "module", &mod)) != HSM_OK || (rc = get_domain(b, &dom)) != HSM_OK)
		return hsm_fail_wrap(rc, "receipt");
	if (!json_is_integer(after) || json_integer_value(after) < 0)
		return hsm_fail(HSM_ERR_FORMAT, "receipt: \"counter_after\" must be a counter");
	for (i = 0; i < s->ndoms && d == NULL; i++)
		if (s->doms[i].domain == dom && strcmp(s->doms[i].module, mod) == 0)
			d = &s->doms[i];
	if (d == NULL) {
		if ((d = grow((void **)&s->doms, &s->ndoms, sizeof(*d))) == NULL)
			return nomem();
		if ((d->module = strdup(mod)) == NULL) {
			s->ndoms--;
			return nomem();
		}
		d->domain = dom;
		d->counter = (uint64_t)json_integer_value(after);
	} else if ((uint64_t)json_integer_value(after) > d->counter) {
		d->counter = (uint64_t)json_integer_value(after);
	}
	return HSM_OK;
}

/* ---- signed commands ---- */

static hsm_rc
on_command(evscan *s, const evlog_record *rec, int sent)
{
	json_t *cmd = json_object_get(rec->body, "command");
	uint8_t dg[32];
	evscan_cmd *c = NULL;
	size_t i;
	hsm_rc rc;

	if (!json_is_object(cmd) || !json_is_object(json_object_get(cmd, "body")))
		return hsm_fail(HSM_ERR_FORMAT, "\"command\" must be a command {body, signatures}");
	if ((rc = cjson_digest(json_object_get(cmd, "body"), dg)) != HSM_OK)
		return hsm_fail_wrap(HSM_ERR_FORMAT, "command body");
	for (i = 0; i < s->ncmds && c == NULL; i++)
		if (memcmp(s->cmds[i].digest, dg, 32) == 0)
			c = &s->cmds[i];
	if (c == NULL) {
		if ((c = grow((void **)&s->cmds, &s->ncmds, sizeof(*c))) == NULL)
			return nomem();
		memcpy(c->digest, dg, 32);
		c->command = json_deep_copy(cmd);
		if (c->command == NULL || json_array_append(s->commands, c->command) != 0)
			return nomem();
	}
	if (sent && c->sent_seq == 0)
		c->sent_seq = rec->seq;
	if (!sent)
		c->applied_seq = rec->seq;
	return HSM_OK;
}

static hsm_rc
on_applied(evscan *s, const evlog_record *rec)
{
	json_t *receipts = json_object_get(rec->body, "receipts"), *r;
	size_t i;
	hsm_rc rc;

	if (!json_is_array(receipts))
		return hsm_fail(HSM_ERR_FORMAT, "\"receipts\" must be an array");
	json_array_foreach(receipts, i, r)
		if ((rc = on_receipt(s, r)) != HSM_OK)
			return rc;
	return on_command(s, rec, 0);
}

static hsm_rc
on_record(evscan *s, const evlog_record *rec)
{
	const char *t = rec->type;

	s->head_seq = rec->seq;
	/* time-stamps of the completion keep the log complete */
	s->complete = strcmp(t, EV_COMPLETION) == 0 ||
	    (s->complete && strcmp(t, EV_LOG_TIMESTAMPED) == 0);
	if (rec->seq == 1) {
		const char *id = json_string_value(json_object_get(rec->body, "log_id"));
		snprintf(s->log_id, sizeof(s->log_id), "%s", id != NULL ? id : "");
	}
	if (strcmp(t, EV_KEYPART_GENERATED) == 0 || strcmp(t, EV_KEYPART_COPIED) == 0 ||
	    strcmp(t, EV_KEYPART_VERIFIED) == 0 || strcmp(t, EV_KEYPART_DESTROYED) == 0)
		return on_keypart(s, rec);
	if (strcmp(t, EV_MK_LOADED) == 0 || strcmp(t, EV_MK_COMMITTED) == 0 ||
	    strcmp(t, EV_MK_ACTIVATED) == 0)
		return on_mk(s, rec);
	if (strcmp(t, EV_COMMAND_APPLIED) == 0)
		return on_applied(s, rec);
	if (strcmp(t, EV_COMMAND_SENT) == 0)
		return on_command(s, rec, 1);
	if (strcmp(t, EV_DOMAIN_BASELINE) == 0)
		return on_receipt(s, json_object_get(rec->body, "receipt"));
	return HSM_OK;
}

/* ---- entry points ---- */

hsm_rc
evscan_reader(evlog_reader *r, int torn_ok, evscan **out)
{
	evlog_record rec;
	evscan *s;
	long long off;
	size_t len;
	int torn;
	hsm_rc rc;

	*out = NULL;
	memset(&rec, 0, sizeof(rec));
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->commands = json_array()) == NULL) {
		free(s);
		return nomem();
	}
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK) {
		hsm_err_clear();
		if ((rc = on_record(s, &rec)) != HSM_OK) {
			if (rc != HSM_ERR_NOMEM)
				rc = hsm_fail_wrap(HSM_ERR_FORMAT, "seq %lld: %s", rec.seq, rec.type);
			goto out;
		}
	}
	if (rc == HSM_ERR_FORMAT && torn_ok) {
		/* a crash leaves one bad line, the last: the writer cuts it */
		ev_reader_failure(r, &off, &len, &torn);
		if (torn || len != EV_LEN_TOO_LONG) {
			s->torn = 1;
			hsm_err_clear();
			rc = HSM_ERR_NOT_FOUND;
		}
	}
	if (rc == HSM_ERR_NOT_FOUND)
		rc = HSM_OK;
out:
	evlog_record_clear(&rec);
	if (rc == HSM_OK)
		*out = s;
	else
		evscan_free(&s);
	return rc;
}

hsm_rc
evscan_path(const char *path, int torn_ok, evscan **out)
{
	evlog_reader *r = NULL;
	hsm_rc rc;

	*out = NULL;
	if ((rc = evlog_reader_open(path, &r)) != HSM_OK)
		return rc;
	rc = evscan_reader(r, torn_ok, out);
	evlog_reader_free(&r);
	if (rc != HSM_OK)
		hsm_fail_wrap(rc, "evidence log %s", path);
	return rc;
}

hsm_rc
evscan_log(evlog *log, evscan **out)
{
	evlog_reader *r = NULL;
	hsm_rc rc;

	*out = NULL;
	if ((rc = evlog_reader_from_log(log, &r)) != HSM_OK)
		return rc;
	rc = evscan_reader(r, 0, out);
	evlog_reader_free(&r);
	return rc;
}

void
evscan_free(evscan **sp)
{
	evscan *s;
	size_t i, j;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	for (i = 0; i < s->nparts; i++) {
		free(s->parts[i].part_id);
		free(s->parts[i].card_id);
		free(s->parts[i].holder);
		for (j = 0; j < s->parts[i].ncopied; j++)
			free(s->parts[i].copied_to[j]);
		free(s->parts[i].copied_to);
	}
	for (i = 0; i < s->ngroups; i++) {
		free(s->groups[i].group);
		mkrec_clear(&s->groups[i].loaded);
		mkrec_clear(&s->groups[i].committed);
		mkrec_clear(&s->groups[i].activated);
	}
	for (i = 0; i < s->ndoms; i++)
		free(s->doms[i].module);
	for (i = 0; i < s->ncmds; i++)
		json_decref(s->cmds[i].command);
	free(s->parts);
	free(s->groups);
	free(s->doms);
	free(s->cmds);
	json_decref(s->commands);
	free(s);
	*sp = NULL;
}

const evscan_part *
evscan_find_part(const evscan *s, const char *part_id)
{
	return part_id != NULL ? part_get((evscan *)s, part_id) : NULL;
}

const evscan_group *
evscan_find_group(const evscan *s, const char *group)
{
	size_t i;

	if (group == NULL)
		group = "";
	for (i = 0; i < s->ngroups; i++)
		if (strcmp(s->groups[i].group, group) == 0)
			return &s->groups[i];
	return NULL;
}

int
evscan_hwm(const evscan *s, const char *module, unsigned domain, uint64_t *counter)
{
	size_t i;

	for (i = 0; i < s->ndoms; i++)
		if (s->doms[i].domain == domain && strcmp(s->doms[i].module, module) == 0) {
			*counter = s->doms[i].counter;
			return 1;
		}
	return 0;
}

void
evscan_hwm_members(const evscan *s, const evscan_member *m, size_t n, uint64_t *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!evscan_hwm(s, m[i].module, m[i].domain, &out[i]))
			out[i] = EVSCAN_NONE;
}
