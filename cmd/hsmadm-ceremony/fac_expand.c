/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_expand.c - a script command with the plan filled in: the argv the
 * runner executes, the PINs and answers it will ask for (fsc_feed), and the
 * cards it needs in which reader (fsc_insert). print counts PINs and card
 * insertions from the same expansion the runner executes, so the paper and
 * the room cannot disagree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fac_script.h"
#include "fac_words.h"

typedef struct vals {
	char  **v;
	size_t  n;
} vals;

static void
vals_clear(vals *x)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		free(x->v[i]);
	free(x->v);
	memset(x, 0, sizeof(*x));
}

static hsm_rc
vals_add(vals *x, const char *s)
{
	char **n = realloc(x->v, (x->n + 1) * sizeof(*n));

	if (n == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	x->v = n;
	if ((n[x->n] = strdup(s)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	x->n++;
	return HSM_OK;
}

size_t
fsc_each_count(const fpl_plan *p, const char *each)
{
	size_t n;

	if (strcmp(each, "module") == 0)
		return p->nmodules;
	if (strcmp(each, "pair") == 0)
		return p->npairs;
	if (strcmp(each, "admin.q") == 0) {
		n = fpl_count(p, "admin");
		return (size_t)p->sig < n ? (size_t)p->sig : n;
	}
	return fpl_count(p, each);
}

/* The indices a selector stands for: [from, to]. */
static hsm_rc
sel_range(const fpl_plan *p, const char *role, const char *sel, size_t sl, int index,
          int *from, int *to)
{
	size_t cnt = strcmp(role, "module") == 0 ? p->nmodules :
	             strcmp(role, "pair") == 0 ? p->npairs : fpl_count(p, role);

	if (sl == 1 && sel[0] == '*') {
		*from = 1;
		*to = (int)cnt;
	} else if (sl == 1 && sel[0] == 'q') {
		*from = 1;
		*to = p->sig < (int)cnt ? p->sig : (int)cnt;
	} else if (sl == 1 && sel[0] == 'N') {
		*from = *to = index;
	} else {
		*from = *to = atoi(sel);
	}
	if (*from < 1 || *to > (int)cnt || *to < *from)
		return hsm_fail(HSM_ERR_FORMAT, "the plan has %zu %s%s, so %.*s.%.*s names "
		    "nobody", cnt, role, cnt == 1 ? "" : "s", (int)strlen(role), role, (int)sl, sel);
	return HSM_OK;
}

static hsm_rc
person_field(const fpl_person *m, const char *field, const char **v)
{
	*v = NULL;
	if (strcmp(field, "name") == 0)
		*v = m->name;
	else if (strcmp(field, "reader") == 0)
		*v = m->card.reader;
	else if (strcmp(field, "card") == 0)
		*v = m->card.label;
	else if (strcmp(field, "part") == 0)
		*v = m->part;
	else if (strcmp(field, "previous_part") == 0)
		*v = m->previous_part;
	else if (strncmp(field, "backup.", 7) == 0 && m->nbackups > 0)
		*v = strcmp(field + 7, "reader") == 0 ? m->backups[0].reader : m->backups[0].label;
	if (*v == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "the plan gives %s %s (%s %d) no %s", m->role,
		    m->name, m->role, m->index, strncmp(field, "backup", 6) == 0 ?
		    "backup card" : strstr(field, "part") != NULL ? "previous_part" : "card");
	return HSM_OK;
}

/* A card id is known only once the card is initialized: the runner reads it
 * from the card in the person's reader; print and the dry run describe it. */
static hsm_rc
card_id_value(const fsc_ctx *c, const fpl_person *m, const char *field, char *buf,
              size_t cap)
{
	const char *rdr;
	char id[33];
	hsm_rc rc;

	if ((rc = person_field(m, field[0] == 'b' ? "backup.reader" : "reader", &rdr)) != HSM_OK)
		return rc;
	if (c->card_id == NULL) {
		snprintf(buf, cap, "<card id of %s's %scard>", m->name, field[0] == 'b' ?
		    "backup " : "");
		return HSM_OK;
	}
	if ((rc = c->card_id(c->arg, rdr, id)) != HSM_OK)
		return hsm_fail_wrap(rc, "the card id of %s's %scard (reader %s)", m->name,
		    field[0] == 'b' ? "backup " : "", rdr);
	snprintf(buf, cap, "%s", id);
	return HSM_OK;
}

static hsm_rc
indexed_value(const fpl_plan *p, const fsc_ctx *c, const char *role, const char *field,
              int i, char *buf, size_t cap, fsc_cmd *out)
{
	const char *v = NULL;
	hsm_rc rc;

	if (strcmp(role, "module") == 0) {
		const fpl_module *m = &p->modules[i - 1];
		v = !strcmp(field, "name") ? m->name : !strcmp(field, "serial") ? m->serial :
		    !strcmp(field, "site") ? m->site : !strcmp(field, "address") ? m->address : m->ca;
	} else if (strcmp(role, "pair") == 0) {
		const fpl_pair *q = &p->pairs[i - 1];
		int s = field[0] == 'b';
		if (strcmp(field, "group") == 0)
			v = q->group;
		else if (strcmp(field + 2, "module") == 0)
			v = p->modules[q->dom[s]].name;
		else if (strcmp(field + 2, "domain") == 0)
			snprintf(buf, cap, "%u", q->domain[s]);
		else
			snprintf(buf, cap, "%s:%u", p->modules[q->dom[s]].name, q->domain[s]);
	} else {
		const fpl_person *m = fpl_person_at(p, role, i);
		if (strstr(field, "card_id") != NULL)
			return card_id_value(c, m, field, buf, cap);
		if ((rc = person_field(m, field, &v)) != HSM_OK)
			return rc;
		/* A reader named in a command is where that card must go. */
		if (strcmp(field, "reader") == 0 || strcmp(field, "backup.reader") == 0) {
			fsc_insert *in = realloc(out->inserts, (out->ninserts + 1) * sizeof(*in));
			char who[48];
			if (in == NULL)
				return hsm_fail(HSM_ERR_NOMEM, "out of memory");
			out->inserts = in;
			in = &in[out->ninserts];
			snprintf(who, sizeof(who), "%s.%d", role, i);
			in->who = strdup(who);
			in->label = strdup(field[0] == 'b' ? m->backups[0].label : m->card.label);
			in->reader = strdup(v);
			out->ninserts++;
			if (in->who == NULL || in->label == NULL || in->reader == NULL)
				return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
	}
	if (v != NULL)
		snprintf(buf, cap, "%s", v);
	return HSM_OK;
}

/* The values of one placeholder (several for * and q). */
static hsm_rc
values(const char *name, const fpl_plan *p, const fsc_ctx *c, int index, vals *x,
       fsc_cmd *out)
{
	const char *d1 = strchr(name, '.'), *d2;
	const char *s = NULL;
	char buf[256], role[16];
	int from, to, i;
	hsm_rc rc;

	if (!strcmp(name, "log")) s = c->log;
	else if (!strcmp(name, "dir")) s = c->dir;
	else if (!strcmp(name, "plan")) s = c->plan;
	else if (!strcmp(name, "script")) s = c->script;
	else if (!strcmp(name, "installation")) s = p->installation;
	else if (!strcmp(name, "title")) s = p->title;
	else if (!strcmp(name, "group")) s = p->pairs[0].group;
	else if (!strncmp(name, "request.", 8)) {
		if ((s = name[8] == 'i' ? p->request_id : p->request_doc) == NULL)
			return hsm_fail(HSM_ERR_FORMAT, "{%s}: the plan names no request "
			    "(\"request\": {\"id\", \"doc\"})", name);
	}
	if (s != NULL)
		return vals_add(x, s);
	if (!strcmp(name, "parts") || !strncmp(name, "threshold.", 10)) {
		snprintf(buf, sizeof(buf), "%d", name[0] == 'p' ? p->parts :
		    name[10] == 's' ? p->sig : p->rev);
		return vals_add(x, buf);
	}
	if (d1 == NULL || (d2 = strchr(d1 + 1, '.')) == NULL || d1 - name >= (long)sizeof(role))
		return hsm_fail(HSM_ERR_FORMAT, "unknown placeholder {%s}", name);
	snprintf(role, sizeof(role), "%.*s", (int)(d1 - name), name);
	if ((rc = sel_range(p, role, d1 + 1, (size_t)(d2 - d1 - 1), index, &from, &to)) != HSM_OK)
		return rc;
	for (i = from; i <= to; i++) {
		buf[0] = '\0';
		if ((rc = indexed_value(p, c, role, d2 + 1, i, buf, sizeof(buf), out)) != HSM_OK ||
		    (rc = vals_add(x, buf)) != HSM_OK)
			return rc;
	}
	return HSM_OK;
}

/* {pins:admin.1,custodian.*,admin.1xparts}: whose PIN each line is. */
static hsm_rc
pin_owners(const char *spec, const fpl_plan *p, int index, fsc_feed *f)
{
	char item[64], role[16], who[48], **nw;
	const char *q = spec, *e, *dot, *x;
	int from, to, i, rep, r;
	hsm_rc rc;

	while (*q) {
		e = strchr(q, ',');
		if (e == NULL)
			e = q + strlen(q);
		snprintf(item, sizeof(item), "%.*s", (int)(e - q), q);
		dot = strchr(item, '.');
		x = strchr(item, 'x');
		snprintf(role, sizeof(role), "%.*s", (int)(dot - item), item);
		rep = x == NULL ? 1 : strcmp(x + 1, "parts") == 0 ? p->parts : atoi(x + 1);
		if ((rc = sel_range(p, role, dot + 1, x ? (size_t)(x - dot - 1) : strlen(dot + 1),
		    index, &from, &to)) != HSM_OK)
			return rc;
		for (i = from; i <= to; i++)
			for (r = 0; r < rep; r++) {
				snprintf(who, sizeof(who), "%s.%d", role, i);
				if ((nw = realloc(f->who, (f->n + 1) * sizeof(*nw))) == NULL)
					return hsm_fail(HSM_ERR_NOMEM, "out of memory");
				f->who = nw;
				if ((nw[f->n] = strdup(who)) == NULL)
					return hsm_fail(HSM_ERR_NOMEM, "out of memory");
				f->n++;
			}
		q = *e ? e + 1 : e;
	}
	return HSM_OK;
}

static hsm_rc
add_feed(fsc_cmd *out, const char *w, const fpl_plan *p, int index)
{
	fsc_feed *f = realloc(out->feeds, (out->nfeeds + 1) * sizeof(*f));
	char key[128], *n;

	if (f == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	out->feeds = f;
	f = &f[out->nfeeds++];
	memset(f, 0, sizeof(*f));
	f->argi = (int)out->argc;
	if (strncmp(w, "{pins:", 6) == 0) {
		/* Choosing a card's PIN is counted apart from typing it to use
		 * the card: the ceremony's PIN targets are about the latter. */
		f->is_pin = out->argc > 0 && strcmp(out->argv[out->argc - 1], "--new-pin-fd") == 0
		    ? 2 : 1;
		snprintf(key, sizeof(key), "%.*s", (int)strlen(w) - 7, w + 6);
		return pin_owners(key, p, index, f);
	}
	/* An answer's key: N stands for the "each" line's index. */
	snprintf(key, sizeof(key), "%.*s", (int)strlen(w) - 9, w + 8);
	if ((n = strstr(key, ".N")) != NULL && (n[2] == '.' || n[2] == '\0')) {
		char tail[128];
		snprintf(tail, sizeof(tail), "%s", n + 2);
		snprintf(n, sizeof(key) - (size_t)(n - key), ".%d%s", index, tail);
	}
	if ((f->who = calloc(1, sizeof(char *))) == NULL || (f->who[0] = strdup(key)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	f->n = 1;
	return HSM_OK;
}

static hsm_rc
push_arg(fsc_cmd *out, const char *s)
{
	char **a = realloc(out->argv, (out->argc + 2) * sizeof(*a));

	if (a == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	out->argv = a;
	if ((a[out->argc] = strdup(s)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	a[++out->argc] = NULL;
	return HSM_OK;
}

/* One word: its placeholders filled in; a many-valued one (* or q) must be
 * the whole word, and the option before it is given once per value. */
static hsm_rc
expand_word(const char *w, const fpl_plan *p, const fsc_ctx *c, int index, fsc_cmd *out)
{
	char res[1024], name[128];
	const char *q = w, *o, *e;
	vals x = { 0 };
	size_t i, len = 0;
	hsm_rc rc = HSM_OK;

	res[0] = '\0';
	while ((o = strchr(q, '{')) != NULL && rc == HSM_OK) {
		e = strchr(o, '}');
		snprintf(name, sizeof(name), "%.*s", (int)(e - o - 1), o + 1);
		vals_clear(&x);
		if ((rc = values(name, p, c, index, &x, out)) != HSM_OK)
			break;
		if (x.n != 1 && (o != w || e[1] != '\0')) {
			rc = hsm_fail(HSM_ERR_FORMAT, "{%s} stands for several values; it must "
			    "be a word of its own", name);
			break;
		}
		if (x.n != 1) {
			char *opt = out->argc > 1 && strncmp(out->argv[out->argc - 1], "--", 2) == 0 ?
			            out->argv[out->argc - 1] : NULL;
			for (i = 0; i < x.n && rc == HSM_OK; i++)
				if ((i == 0 || opt == NULL || (rc = push_arg(out, opt)) == HSM_OK))
					rc = push_arg(out, x.v[i]);
			vals_clear(&x);
			return rc;
		}
		len += (size_t)snprintf(res + len, sizeof(res) - len, "%.*s%s", (int)(o - q), q, x.v[0]);
		q = e + 1;
	}
	vals_clear(&x);
	if (rc != HSM_OK)
		return rc;
	snprintf(res + len, sizeof(res) - len, "%s", q);
	return push_arg(out, res);
}

hsm_rc
fsc_expand(const char *line, const fpl_plan *p, const fsc_ctx *c, const char *each,
           int index, fsc_cmd *out)
{
	char **w = NULL;
	size_t n = 0, i;
	hsm_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = fsc_words(line, &w, &n)) != HSM_OK)
		return rc;
	for (i = 0; i < n && rc == HSM_OK; i++)
		rc = fsc_check_placeholder_word(w[i], each);
	for (i = 0; i < n && rc == HSM_OK; i++) {
		if (strncmp(w[i], "{pins:", 6) == 0 || strncmp(w[i], "{answer:", 8) == 0) {
			if ((rc = add_feed(out, w[i], p, index)) == HSM_OK)
				rc = push_arg(out, "-1");   /* the fd, filled in by the runner */
		} else {
			rc = expand_word(w[i], p, c, index, out);
		}
	}
	fsc_words_free(w, n);
	if (rc != HSM_OK) {
		hsm_fail_wrap(rc, "\"%.60s%s\"", line, strlen(line) > 60 ? "..." : "");
		fsc_cmd_clear(out);
	}
	return rc;
}

void
fsc_cmd_clear(fsc_cmd *c)
{
	size_t i, j;

	for (i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	for (i = 0; i < c->nfeeds; i++) {
		for (j = 0; j < c->feeds[i].n; j++)
			free(c->feeds[i].who[j]);
		free(c->feeds[i].who);
	}
	free(c->feeds);
	for (i = 0; i < c->ninserts; i++) {
		free(c->inserts[i].who);
		free(c->inserts[i].label);
		free(c->inserts[i].reader);
	}
	free(c->inserts);
	memset(c, 0, sizeof(*c));
}
