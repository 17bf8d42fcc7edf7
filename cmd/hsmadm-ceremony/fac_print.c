/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_print.c - a ceremony script for paper: every step with who acts, what
 * they do, which card goes into which reader, the commands as they will be
 * run, what the witnesses confirm, checkboxes and signature lines; and for
 * each person how many PINs and card insertions the ceremony asks of them,
 * counted from the same expansion the runner executes. Markdown, or one
 * self-contained HTML page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/fileio.h"
#include "fac_run.h"

struct out {
	FILE *f;
	int   html;
};

/* Text for the page: HTML-escaped on the HTML page, as is in Markdown. */
static void
put(const struct out *o, const char *s)
{
	for (; o->html && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", o->f); break;
		case '>': fputs("&gt;", o->f); break;
		case '&': fputs("&amp;", o->f); break;
		case '"': fputs("&quot;", o->f); break;
		default: fputc(*s, o->f);
		}
	}
	if (!o->html)
		fputs(s, o->f);
}

static void
line(const struct out *o, const char *md_pre, const char *html_pre, const char *text,
     const char *html_post)
{
	fputs(o->html ? html_pre : md_pre, o->f);
	put(o, text);
	fputs(o->html ? html_post : "\n", o->f);
}

/* The index of "role.N" in the plan's people, or -1. */
static int
who_index(const fpl_plan *p, const char *who)
{
	const char *dot = strrchr(who, '.');
	char role[16];
	const fpl_person *m;

	if (dot == NULL || (size_t)(dot - who) >= sizeof(role))
		return -1;
	snprintf(role, sizeof(role), "%.*s", (int)(dot - who), who);
	m = fpl_person_at(p, role, atoi(dot + 1));
	return m != NULL ? (int)(m - p->people) : -1;
}

/* The command as it runs in the room: the descriptor options left out (the
 * command asks the person itself). */
static void
cmd_text(const fsc_cmd *c, char *buf, size_t cap)
{
	size_t i, j, len = 0;
	int skip;

	buf[0] = '\0';
	for (i = 0; i < c->argc && len < cap; i++) {
		skip = 0;
		for (j = 0; j < c->nfeeds; j++)
			skip |= (int)i == c->feeds[j].argi || (int)i + 1 == c->feeds[j].argi;
		if (skip)
			continue;
		len += (size_t)snprintf(buf + len, cap - len, "%s%s%s%s", len ? " " : "",
		    strchr(c->argv[i], ' ') ? "\"" : "", c->argv[i], strchr(c->argv[i], ' ') ? "\"" : "");
	}
}

/* Call fn for every command of step st, expanded for plan p. */
typedef hsm_rc (*cmd_fn)(void *arg, const fsc_step *st, const fsc_cmd *c);

static hsm_rc
each_cmd(const fsc_step *st, const fpl_plan *p, const fsc_ctx *ctx, cmd_fn fn, void *arg)
{
	fsc_cmd c;
	size_t j, k, n;
	hsm_rc rc;

	for (j = 0; j < st->nlines; j++) {
		const fsc_line *l = &st->lines[j];
		if (l->kind != FSC_RUN && l->kind != FSC_EACH)
			continue;
		n = l->kind == FSC_EACH ? fsc_each_count(p, l->each) : 1;
		for (k = 0; k < n; k++) {
			if ((rc = fsc_expand(l->text, p, ctx, l->each, (int)k + 1, &c)) != HSM_OK)
				return hsm_fail_wrap(rc, "step %d, line %d", st->num, l->lineno);
			rc = fn(arg, st, &c);
			fsc_cmd_clear(&c);
			if (rc != HSM_OK)
				return rc;
		}
	}
	return HSM_OK;
}

struct tally {
	const fpl_plan *p;
	int *pins, *newpins, *ins;
};

static hsm_rc
count_cmd(void *arg, const fsc_step *st, const fsc_cmd *c)
{
	struct tally *t = arg;
	size_t i, j;
	int x;

	(void)st;
	for (i = 0; i < c->nfeeds; i++)
		for (j = 0; c->feeds[i].is_pin && j < c->feeds[i].n; j++)
			if ((x = who_index(t->p, c->feeds[i].who[j])) >= 0)
				(c->feeds[i].is_pin == 2 ? t->newpins : t->pins)[x]++;
	for (i = 0; i < c->ninserts; i++)
		if ((x = who_index(t->p, c->inserts[i].who)) >= 0)
			t->ins[x]++;
	return HSM_OK;
}

hsm_rc
fac_counts(const fsc_script *s, const fpl_plan *p, json_t **out)
{
	fsc_ctx ctx = { .log = "{log}", .dir = "{dir}", .plan = "{plan}", .script = "{script}" };
	struct tally t = { .p = p };
	json_t *people = NULL;
	fsc_step fin;
	size_t i;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	t.pins = calloc(p->npeople + 1, sizeof(int));
	t.newpins = calloc(p->npeople + 1, sizeof(int));
	t.ins = calloc(p->npeople + 1, sizeof(int));
	memset(&fin, 0, sizeof(fin));
	fin.lines = s->fin;
	fin.nlines = s->nfin;
	if (t.pins == NULL || t.newpins == NULL || t.ins == NULL || (people = json_array()) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < s->nsteps && rc == HSM_OK; i++)
		rc = each_cmd(&s->steps[i], p, &ctx, count_cmd, &t);
	if (rc == HSM_OK)
		rc = each_cmd(&fin, p, &ctx, count_cmd, &t);
	for (i = 0; i < p->npeople && rc == HSM_OK; i++) {
		char who[48];
		snprintf(who, sizeof(who), "%s.%d", p->people[i].role, p->people[i].index);
		if (json_array_append_new(people, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "who", who,
		    "name", p->people[i].name, "role", p->people[i].role, "pins", t.pins[i],
		    "new_pins", t.newpins[i], "insertions", t.ins[i])) != 0)
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	if (rc == HSM_OK && (*out = json_pack("{s:s, s:i, s:s, s:s, s:s, s:O}", "script", s->name,
	    "version", s->version, "script_sha256", s->hex, "plan", p->name, "plan_sha256", p->hex,
	    "people", people)) == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	json_decref(people);
	free(t.pins);
	free(t.newpins);
	free(t.ins);
	return rc;
}

struct pstep {
	const struct out *o;
	const fpl_plan *p;
};

static hsm_rc
print_cmd(void *arg, const fsc_step *st, const fsc_cmd *c)
{
	const struct pstep *ps = arg;
	char buf[4096], msg[512];
	size_t i, j;
	int x;

	(void)st;
	for (i = 0; i < c->ninserts; i++) {
		x = who_index(ps->p, c->inserts[i].who);
		snprintf(msg, sizeof(msg), "Card %s (%s) goes into reader \"%s\".", c->inserts[i].label,
		    x >= 0 ? ps->p->people[x].name : "?", c->inserts[i].reader);
		line(ps->o, "- [ ] ", "<li>&#9744; ", msg, "</li>\n");
	}
	for (i = 0; i < c->nfeeds; i++)
		for (j = 0; c->feeds[i].is_pin && j < c->feeds[i].n; j++) {
			x = who_index(ps->p, c->feeds[i].who[j]);
			snprintf(msg, sizeof(msg), c->feeds[i].is_pin == 2 ? "%s chooses a new PIN "
			    "and types it (nobody else sees it)." : "%s types their PIN.", x >= 0 ?
			    ps->p->people[x].name : "?");
			line(ps->o, "- [ ] ", "<li>&#9744; ", msg, "</li>\n");
		}
	cmd_text(c, buf, sizeof(buf));
	if (ps->o->html)
		line(ps->o, "", "<li>&#9744; <code>", buf, "</code></li>\n");
	else
		fprintf(ps->o->f, "- [ ] `%s`\n", buf);
	return HSM_OK;
}

static hsm_rc
print_step(const struct out *o, const fsc_script *s, const fsc_step *st, const fpl_plan *p)
{
	fsc_ctx ctx = { .log = "{log}", .dir = "{dir}", .plan = "{plan}", .script = "{script}" };
	struct pstep ps = { o, p };
	char buf[512];
	size_t j;
	hsm_rc rc;

	snprintf(buf, sizeof(buf), "Step %d of %zu: %s", st->num, s->nsteps, st->title);
	line(o, "\n## ", "<h2>", buf, "</h2>\n");
	snprintf(buf, sizeof(buf), "Step id: %s. Who acts: %s.", st->id, st->who);
	line(o, "", "<p>", buf, "</p>\n");
	fputs(o->html ? "<ul>\n" : "\n", o->f);
	for (j = 0; j < st->nlines; j++)
		if (st->lines[j].kind == FSC_DO)
			line(o, "- [ ] ", "<li>&#9744; ", st->lines[j].text, "</li>\n");
	if ((rc = each_cmd(st, p, &ctx, print_cmd, &ps)) != HSM_OK)
		return rc;
	fputs(o->html ? "</ul>\n" : "", o->f);
	for (j = 0; j < st->nlines; j++)
		if (st->lines[j].kind == FSC_CONFIRM)
			line(o, "\nThe witnesses confirm: ", "<p>The witnesses confirm: ",
			    st->lines[j].text, "</p>\n");
	for (j = 0; j < p->npeople; j++)
		if (strcmp(p->people[j].role, "witness") == 0) {
			snprintf(buf, sizeof(buf), "Witness %s: ____________________", p->people[j].name);
			line(o, "\n", "<p class=sig>", buf, "</p>\n");
		}
	for (j = 0; j < st->nlines; j++)
		if (st->lines[j].kind == FSC_SIGN) {
			snprintf(buf, sizeof(buf), "Signed (%s): ____________________  Time: ________",
			    st->lines[j].text);
			line(o, "\n", "<p class=sig>", buf, "</p>\n");
		}
	return HSM_OK;
}

static void
print_people(const struct out *o, const json_t *counts)
{
	json_t *e;
	size_t i;
	char buf[256];

	line(o, "\n## ", "<h2>", "The people, and what the ceremony asks of them", "</h2>\n");
	fputs(o->html ? "<table><tr><th>person</th><th>role</th><th>PINs typed</th>"
	    "<th>new PINs chosen</th><th>card insertions</th></tr>\n"
	    : "\n| person | role | PINs typed | new PINs chosen | card insertions |\n"
	    "|---|---|---|---|---|\n", o->f);
	json_array_foreach(json_object_get(counts, "people"), i, e) {
		if (o->html) {
			fputs("<tr><td>", o->f);
			put(o, json_string_value(json_object_get(e, "name")));
			fprintf(o->f, "</td><td>%s</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>\n",
			    json_string_value(json_object_get(e, "role")),
			    (long long)json_integer_value(json_object_get(e, "pins")),
			    (long long)json_integer_value(json_object_get(e, "new_pins")),
			    (long long)json_integer_value(json_object_get(e, "insertions")));
			continue;
		}
		snprintf(buf, sizeof(buf), "| %s | %s | %lld | %lld | %lld |",
		    json_string_value(json_object_get(e, "name")),
		    json_string_value(json_object_get(e, "role")),
		    (long long)json_integer_value(json_object_get(e, "pins")),
		    (long long)json_integer_value(json_object_get(e, "new_pins")),
		    (long long)json_integer_value(json_object_get(e, "insertions")));
		line(o, "", "", buf, "");
	}
	fputs(o->html ? "</table>\n" : "", o->f);
}

static hsm_rc
print_doc(const struct out *o, const fsc_script *s, const fpl_plan *p, const json_t *counts)
{
	char buf[1024];
	fsc_ctx ctx = { .log = "{log}", .dir = "{dir}", .plan = "{plan}", .script = "{script}" };
	struct pstep ps = { o, p };
	fsc_step fin;
	size_t i;
	hsm_rc rc;

	if (o->html)
		fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>hsmadm ceremony"
		    "</title><style>body{font-family:serif;max-width:48em;margin:auto}"
		    "code{font-size:90%}.sig{margin-top:1.5em}table{border-collapse:collapse}"
		    "td,th{border:1px solid #888;padding:2px 6px}h2{page-break-after:avoid}"
		    "</style></head><body>\n", o->f);
	line(o, "# ", "<h1>", s->title, "</h1>\n");
	snprintf(buf, sizeof(buf), "Script %s, version %d, SHA-256 %s. Plan %s (%s), "
	    "installation %s, SHA-256 %s.", s->name, s->version, s->hex, p->name, p->title,
	    p->installation, p->hex);
	line(o, "\n", "<p>", buf, "</p>\n");
	if (*s->about)
		line(o, "\n", "<p>", s->about, "</p>\n");
	print_people(o, counts);
	for (i = 0; i < s->nsteps; i++)
		if ((rc = print_step(o, s, &s->steps[i], p)) != HSM_OK)
			return rc;
	if (s->nfin > 0) {
		memset(&fin, 0, sizeof(fin));
		fin.lines = s->fin;
		fin.nlines = s->nfin;
		line(o, "\n## ", "<h2>", "Close: when every step has ended", "</h2>\n");
		fputs(o->html ? "<ul>\n" : "\n", o->f);
		if ((rc = each_cmd(&fin, p, &ctx, print_cmd, &ps)) != HSM_OK)
			return rc;
		fputs(o->html ? "</ul>\n" : "", o->f);
	}
	fputs(o->html ? "</body></html>\n" : "", o->f);
	return HSM_OK;
}

hsm_rc
fac_print(const struct fac_runopts *ro, FILE *f)
{
	fsc_script *s = NULL;
	fpl_plan *p = NULL;
	json_t *counts = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = NULL;
	struct out o = { f, 0 };
	hsm_rc rc;

	if ((rc = fsc_load(ro->script, &s)) != HSM_OK || (rc = fpl_load(ro->plan, &p)) != HSM_OK ||
	    (rc = fac_counts(s, p, &counts)) != HSM_OK)
		goto out;
	if (ro->json) {
		json_dumpf(counts, f, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', f);
		goto out;
	}
	if (ro->html != NULL) {
		/* Written whole or not at all: a half page could be printed unnoticed. */
		if ((mem = open_memstream(&buf, &len)) == NULL) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		o.f = mem;
		o.html = 1;
	}
	rc = print_doc(&o, s, p, counts);
	if (mem != NULL) {
		fclose(mem);
		if (rc == HSM_OK)
			rc = hsm_file_replace(ro->html, buf, len, 0644);
	}
out:
	free(buf);
	json_decref(counts);
	fsc_free(&s);
	fpl_free(&p);
	return rc;
}
