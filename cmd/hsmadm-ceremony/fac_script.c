/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_script.c - the ceremony script parser (docs/formats/ceremony-script.md).
 * One keyword per line, one meaning per keyword, nothing implicit: what is
 * printed for the room is exactly what the runner does. The first problem
 * stops the parse with "line N: ..." so that the author can fix it before
 * anybody is in the room.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/crypto.h"
#include "hsmadm/codec.h"
#include "hsmadm/fileio.h"
#include "fac_script.h"
#include "fac_words.h"

static const char *const commands[] = { "hsmadm-ceremony", "hsmadm-card", "hsmadm-domain",
	"hsmadm-mkpart", "hsmadm-commit", "hsmadm-audit", "hsmadm-rotate", NULL };
static const char *const roles[] = { "facilitator", "admin", "custodian", "supervisor",
	"witness", "auditor", NULL };
static const char *const lists[] = { "admin", "admin.q", "custodian", "supervisor",
	"witness", "module", "pair", NULL };

static int
in_set(const char *const *set, const char *s, size_t n)
{
	size_t i;

	for (i = 0; set[i] != NULL; i++)
		if (strlen(set[i]) == n && strncmp(set[i], s, n) == 0)
			return 1;
	return 0;
}

void
fsc_free(fsc_script **sp)
{
	fsc_script *s = sp != NULL ? *sp : NULL;
	size_t i, j;

	if (s == NULL)
		return;
	for (i = 0; i < s->nsteps; i++) {
		for (j = 0; j < s->steps[i].nlines; j++) {
			free(s->steps[i].lines[j].text);
			free(s->steps[i].lines[j].each);
		}
		free(s->steps[i].lines);
		free(s->steps[i].id);
		free(s->steps[i].title);
		free(s->steps[i].who);
	}
	free(s->steps);
	for (i = 0; i < s->nfin; i++) {
		free(s->fin[i].text);
		free(s->fin[i].each);
	}
	free(s->fin);
	free(s->name);
	free(s->title);
	free(s->about);
	free(s);
	*sp = NULL;
}

/* Printable UTF-8 text without control characters (a tab included: paper
 * shows it differently from the screen). */
static hsm_rc
check_text(int ln, const char *what, const char *s)
{
	const unsigned char *p;
	json_t *j;

	if (*s == '\0')
		return hsm_fail(HSM_ERR_FORMAT, "line %d: %s is empty", ln, what);
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return hsm_fail(HSM_ERR_FORMAT, "line %d: %s contains a control "
			    "character (a tab?)", ln, what);
	if ((j = json_string(s)) == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "line %d: %s is not UTF-8 text", ln, what);
	json_decref(j);
	return HSM_OK;
}

/* A selector: digits (1..99), N, * or q. */
static int
sel_ok(const char *s, size_t n, int *is_n)
{
	size_t i;

	*is_n = n == 1 && s[0] == 'N';
	if (n == 1 && (s[0] == 'N' || s[0] == '*' || s[0] == 'q'))
		return 1;
	if (n == 0 || n > 2 || s[0] == '0')
		return 0;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* The list an "each" line loops over, as the N of this role means it. */
static int
each_is(const char *in_each, const char *role)
{
	size_t n = strlen(role);

	return in_each != NULL && strncmp(in_each, role, n) == 0 &&
	       (in_each[n] == '\0' || in_each[n] == '.');
}

static hsm_rc
check_pins(const char *spec, const char *in_each)
{
	const char *p = spec, *e, *dot, *x;
	int is_n;

	if (*p == '\0')
		return hsm_fail(HSM_ERR_FORMAT, "{pins:} names nobody");
	while (*p) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		dot = memchr(p, '.', (size_t)(e - p));
		x = dot != NULL ? memchr(dot, 'x', (size_t)(e - dot)) : NULL;
		if (dot == NULL || !in_set((const char *const[]){ "admin", "custodian",
		    "supervisor", NULL }, p, (size_t)(dot - p)) ||
		    !sel_ok(dot + 1, (size_t)((x ? x : e) - dot - 1), &is_n) ||
		    (x != NULL && !((size_t)(e - x - 1) == 5 && strncmp(x + 1, "parts", 5) == 0) &&
		     !sel_ok(x + 1, (size_t)(e - x - 1), &is_n)))
			return hsm_fail(HSM_ERR_FORMAT, "{pins:%s}: each item is ROLE.WHICH "
			    "or ROLE.WHICHxCOUNT (admin, custodian or supervisor; 1, N, * or q; "
			    "a number or parts)", spec);
		if (dot[1] == 'N') {
			char role[16];
			snprintf(role, sizeof(role), "%.*s", (int)(dot - p), p);
			if (!each_is(in_each, role))
				return hsm_fail(HSM_ERR_FORMAT, "{pins:%s}: N is only allowed on "
				    "an \"each %s\" line", spec, role);
		}
		p = *e ? e + 1 : e;
	}
	return HSM_OK;
}

static hsm_rc
check_indexed(const char *name, const char *in_each)
{
	static const char *const pfields[] = { "name", "reader", "card", "backup.reader",
		"backup.card", "part", "previous_part", "card_id", "backup.card_id", NULL };
	static const char *const mfields[] = { "name", "serial", "site", "address", "ca", NULL };
	static const char *const qfields[] = { "group", "a.member", "b.member", "a.module",
		"b.module", "a.domain", "b.domain", NULL };
	const char *d1 = strchr(name, '.'), *d2;
	const char *const *fields;
	size_t rl;
	int is_n;

	if (d1 == NULL || (d2 = strchr(d1 + 1, '.')) == NULL)
		return HSM_ERR_NOT_FOUND;
	rl = (size_t)(d1 - name);
	if (in_set((const char *const[]){ "admin", "custodian", "supervisor", "witness",
	    "auditor", NULL }, name, rl))
		fields = pfields;
	else if (rl == 6 && strncmp(name, "module", 6) == 0)
		fields = mfields;
	else if (rl == 4 && strncmp(name, "pair", 4) == 0)
		fields = qfields;
	else
		return HSM_ERR_NOT_FOUND;
	if (!sel_ok(d1 + 1, (size_t)(d2 - d1 - 1), &is_n) || !in_set(fields, d2 + 1,
	    strlen(d2 + 1)))
		return HSM_ERR_NOT_FOUND;
	if (fields == pfields && strstr(d2 + 1, "part") != NULL &&
	    strncmp(name, "custodian", rl) != 0)
		return hsm_fail(HSM_ERR_FORMAT, "{%s}: only custodians hold parts", name);
	if (d1[1] == 'q' && strncmp(name, "admin", rl) != 0)
		return hsm_fail(HSM_ERR_FORMAT, "{%s}: q (the quorum) is for admins only", name);
	if (is_n) {
		char role[16];
		snprintf(role, sizeof(role), "%.*s", (int)rl, name);
		if (!each_is(in_each, role))
			return hsm_fail(HSM_ERR_FORMAT, "{%s}: N is only allowed on an "
			    "\"each %s\" line", name, role);
	}
	return HSM_OK;
}

hsm_rc
fsc_check_placeholder(const char *name, const char *in_each)
{
	static const char *const simple[] = { "log", "dir", "plan", "script", "installation",
		"title", "parts", "threshold.signature", "threshold.revocation", "group", "request.id",
		"request.doc", NULL };
	const char *p;
	hsm_rc rc;

	if (in_set(simple, name, strlen(name)))
		return HSM_OK;
	if (strncmp(name, "pins:", 5) == 0)
		return check_pins(name + 5, in_each);
	if (strncmp(name, "answer:", 7) == 0) {
		for (p = name + 7; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
				break;
		if (name[7] != '\0' && *p == '\0')
			return HSM_OK;
		return hsm_fail(HSM_ERR_FORMAT, "{%s}: an answer's key is letters, digits, "
		    "dots and dashes", name);
	}
	if ((rc = check_indexed(name, in_each)) != HSM_ERR_NOT_FOUND)
		return rc;
	return hsm_fail(HSM_ERR_FORMAT, "unknown placeholder {%s} (see "
	    "docs/formats/ceremony-script.md for the list)", name);
}

/* Every placeholder of one word well-formed; {pins:} and {answer:} stand for
 * a descriptor number, so they are a word of their own. */
hsm_rc
fsc_check_placeholder_word(const char *word, const char *in_each)
{
	char *w = strdup(word), *p, *q;
	hsm_rc rc = HSM_OK;

	if (w == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((strstr(w, "{pins:") != NULL || strstr(w, "{answer:") != NULL) &&
	    (w[0] != '{' || strchr(w, '}') != w + strlen(w) - 1))
		rc = hsm_fail(HSM_ERR_FORMAT, "{pins:...} and {answer:...} must be a word of "
		    "their own (they stand for a descriptor number)");
	for (p = w; rc == HSM_OK && (p = strchr(p, '{')) != NULL; p = q + 1) {
		if ((q = strchr(p, '}')) == NULL) {
			rc = hsm_fail(HSM_ERR_FORMAT, "a '{' without its '}' in \"%s\"", word);
			break;
		}
		*q = '\0';
		if (strchr(p + 1, '{') != NULL)
			rc = hsm_fail(HSM_ERR_FORMAT, "a '{' inside a placeholder in \"%s\"", word);
		else
			rc = fsc_check_placeholder(p + 1, in_each);
		*q = '}';
	}
	if (rc == HSM_OK && strchr(word, '}') != NULL &&
	    (strchr(word, '{') == NULL || strrchr(word, '}') < strrchr(word, '{')))
		rc = hsm_fail(HSM_ERR_FORMAT, "a '}' without its '{' in \"%s\"", word);
	free(w);
	return rc;
}

/* A command: an hsmadm command, plain words, and well-formed placeholders. */
static hsm_rc
check_command(int ln, const char *cmd, const char *in_each)
{
	char **w = NULL;
	size_t n = 0, i;
	hsm_rc rc;

	if ((rc = fsc_words(cmd, &w, &n)) != HSM_OK)
		return hsm_fail_wrap(rc, "line %d", ln);
	if (n == 0 || !in_set(commands, w[0], strlen(w[0]))) {
		rc = hsm_fail(HSM_ERR_FORMAT, "line %d: a command must start with one of the "
		    "hsmadm commands (hsmadm-ceremony, hsmadm-card, hsmadm-domain, hsmadm-mkpart, "
		    "hsmadm-commit, hsmadm-audit, hsmadm-rotate), not \"%s\"", ln, n ? w[0] : "");
		goto out;
	}
	for (i = 1; i < n && rc == HSM_OK; i++)
		if ((rc = fsc_check_placeholder_word(w[i], in_each)) != HSM_OK)
			hsm_fail_wrap(rc, "line %d", ln);
out:
	fsc_words_free(w, n);
	return rc;
}

static hsm_rc
add_line(fsc_step *st, enum fsc_kind k, const char *text, const char *each, int ln)
{
	fsc_line *l = realloc(st->lines, (st->nlines + 1) * sizeof(*l));

	if (l == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	st->lines = l;
	l = &l[st->nlines];
	memset(l, 0, sizeof(*l));
	l->kind = k;
	l->lineno = ln;
	if ((l->text = strdup(text)) == NULL || (each != NULL && (l->each = strdup(each)) == NULL)) {
		free(l->text);
		free(l->each);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	st->nlines++;
	return HSM_OK;
}

static hsm_rc
check_who(int ln, const char *who)
{
	const char *p = who, *e;

	for (;;) {
		e = strstr(p, ", ");
		if (!in_set(roles, p, e ? (size_t)(e - p) : strlen(p)))
			return hsm_fail(HSM_ERR_FORMAT, "line %d: who names roles separated by "
			    "\", \": facilitator, admin, custodian, supervisor, witness, auditor", ln);
		if (e == NULL)
			return HSM_OK;
		p = e + 2;
	}
}

/* "step N ID TITLE" */
static hsm_rc
new_step(fsc_script *s, int ln, const char *arg)
{
	char id[FSC_ID_MAX + 2];
	const char *p;
	fsc_step *st;
	size_t i;
	int num = 0, n = 0;

	if (sscanf(arg, "%d %33[a-z0-9-]%n", &num, id, &n) != 2 || num < 1 || arg[n] != ' ' ||
	    strlen(id) > FSC_ID_MAX || arg[0] == '0')
		return hsm_fail(HSM_ERR_FORMAT, "line %d: a step is \"step NUMBER ID TITLE\" "
		    "(ID: 1 to %d of a-z, 0-9, -)", ln, FSC_ID_MAX);
	if (num != (int)s->nsteps + 1)
		return hsm_fail(HSM_ERR_FORMAT, "line %d: step %d follows step %zu; number "
		    "the steps 1, 2, 3 ... in order", ln, num, s->nsteps);
	if (s->nsteps >= FSC_STEPS_MAX)
		return hsm_fail(HSM_ERR_FORMAT, "line %d: more than %d steps", ln, FSC_STEPS_MAX);
	for (i = 0; i < s->nsteps; i++)
		if (strcmp(s->steps[i].id, id) == 0)
			return hsm_fail(HSM_ERR_FORMAT, "line %d: step id %s is used by step %d "
			    "already", ln, id, s->steps[i].num);
	p = arg + n + 1;
	if (check_text(ln, "the step's title", p) != HSM_OK)
		return HSM_ERR_FORMAT;
	if ((st = realloc(s->steps, (s->nsteps + 1) * sizeof(*st))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	s->steps = st;
	st = &st[s->nsteps++];
	memset(st, 0, sizeof(*st));
	st->num = num;
	if ((st->id = strdup(id)) == NULL || (st->title = strdup(p)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

/* What a finished step must have. */
static hsm_rc
close_step(const fsc_step *st, int ln)
{
	size_t i, conf = 0, sign = 0;

	if (st == NULL)
		return HSM_OK;
	for (i = 0; i < st->nlines; i++) {
		conf += st->lines[i].kind == FSC_CONFIRM;
		sign += st->lines[i].kind == FSC_SIGN;
	}
	if (st->who == NULL || conf == 0 || sign == 0)
		return hsm_fail(HSM_ERR_FORMAT, "line %d: step %d (%s) needs a \"who\", at least "
		    "one \"confirm\" and one \"sign\" line", ln, st->num, st->id);
	return HSM_OK;
}

/* One line inside a step. */
static hsm_rc
step_line(fsc_step *st, int ln, const char *kw, const char *arg)
{
	const fsc_line *last = st->nlines ? &st->lines[st->nlines - 1] : NULL;
	char each[16];
	int n = 0;
	hsm_rc rc;

	if (strcmp(kw, "who") == 0) {
		if (st->who != NULL || st->nlines > 0)
			return hsm_fail(HSM_ERR_FORMAT, "line %d: \"who\" comes once, right after "
			    "\"step\"", ln);
		if ((rc = check_who(ln, arg)) != HSM_OK)
			return rc;
		return (st->who = strdup(arg)) ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	if (st->who == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "line %d: \"who\" must come right after \"step\"", ln);
	if (last != NULL && last->kind == FSC_SIGN && strcmp(kw, "sign") != 0)
		return hsm_fail(HSM_ERR_FORMAT, "line %d: the \"sign\" lines end a step; "
		    "nothing else may follow them", ln);
	if (strcmp(kw, "already") == 0) {
		if (st->already != 0 || sscanf(arg, "%d%n", &st->already, &n) != 1 ||
		    arg[n] != '\0' || st->already < 1 || st->already > 125)
			return hsm_fail(HSM_ERR_FORMAT, "line %d: \"already\" takes one exit code "
			    "(1..125), once per step", ln);
		return HSM_OK;
	}
	if (strcmp(kw, "run") == 0)
		return (rc = check_command(ln, arg, NULL)) ? rc : add_line(st, FSC_RUN, arg, NULL, ln);
	if (strcmp(kw, "each") == 0) {
		if (sscanf(arg, "%15[a-z.]%n", each, &n) != 1 || arg[n] != ' ' ||
		    !in_set(lists, each, strlen(each)))
			return hsm_fail(HSM_ERR_FORMAT, "line %d: \"each\" is \"each LIST COMMAND\", "
			    "LIST one of admin, admin.q, custodian, supervisor, witness, module, pair",
			    ln);
		if ((rc = check_command(ln, arg + n + 1, each)) != HSM_OK)
			return rc;
		return add_line(st, FSC_EACH, arg + n + 1, each, ln);
	}
	if (strcmp(kw, "sign") == 0) {
		if (!in_set(roles, arg, strlen(arg)))
			return hsm_fail(HSM_ERR_FORMAT, "line %d: \"sign\" names one role", ln);
		return add_line(st, FSC_SIGN, arg, NULL, ln);
	}
	if (strcmp(kw, "do") == 0 || strcmp(kw, "confirm") == 0) {
		if ((rc = check_text(ln, kw, arg)) != HSM_OK)
			return rc;
		return add_line(st, kw[0] == 'd' ? FSC_DO : FSC_CONFIRM, arg, NULL, ln);
	}
	return hsm_fail(HSM_ERR_FORMAT, "line %d: unknown keyword \"%s\" in a step (who, do, "
	    "run, each, already, confirm, sign)", ln, kw);
}

/* A line before the first step. */
static hsm_rc
head_line(fsc_script *s, int ln, const char *kw, const char *arg)
{
	char *j;
	int n = 0;

	if (strcmp(kw, "name") == 0 && s->name == NULL) {
		if (strlen(arg) > 64 || arg[0] == '\0' || arg[strspn(arg,
		    "abcdefghijklmnopqrstuvwxyz0123456789-")] != '\0')
			return hsm_fail(HSM_ERR_FORMAT, "line %d: a name is 1 to 64 of a-z, 0-9, -", ln);
		return (s->name = strdup(arg)) ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	if (strcmp(kw, "version") == 0 && s->version == 0) {
		if (sscanf(arg, "%d%n", &s->version, &n) != 1 || arg[n] != '\0' || s->version < 1 ||
		    arg[0] == '0' || arg[0] == '+')
			return hsm_fail(HSM_ERR_FORMAT, "line %d: a version is a whole number from 1", ln);
		return HSM_OK;
	}
	if (strcmp(kw, "title") == 0 && s->title == NULL) {
		if (check_text(ln, "the title", arg) != HSM_OK)
			return HSM_ERR_FORMAT;
		return (s->title = strdup(arg)) ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	if (strcmp(kw, "about") == 0) {
		if (check_text(ln, "about", arg) != HSM_OK)
			return HSM_ERR_FORMAT;
		if ((j = malloc(strlen(s->about) + strlen(arg) + 2)) == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		sprintf(j, "%s%s%s", s->about, *s->about ? " " : "", arg);
		free(s->about);
		s->about = j;
		return HSM_OK;
	}
	return hsm_fail(HSM_ERR_FORMAT, "line %d: \"%s\" is not expected here (before the "
	    "first step: name, version, title, about, each once except about)", ln, kw);
}

/* "finally ROLE COMMAND": what runs once no step is open (the supervisor's
 * completion signature cannot be given while a step is open). */
static hsm_rc
finally_line(fsc_script *s, int ln, const char *arg)
{
	fsc_step tmp;
	const char *sp = strchr(arg, ' ');
	char role[16];
	hsm_rc rc;

	if (s->nfin == 0 && (rc = close_step(&s->steps[s->nsteps - 1], ln)) != HSM_OK)
		return rc;
	if (sp == NULL || (size_t)(sp - arg) >= sizeof(role) ||
	    !in_set(roles, arg, (size_t)(sp - arg)))
		return hsm_fail(HSM_ERR_FORMAT, "line %d: \"finally\" is \"finally ROLE "
		    "COMMAND\"", ln);
	snprintf(role, sizeof(role), "%.*s", (int)(sp - arg), arg);
	if ((rc = check_command(ln, sp + 1, NULL)) != HSM_OK)
		return rc;
	memset(&tmp, 0, sizeof(tmp));
	tmp.lines = s->fin;
	tmp.nlines = s->nfin;
	rc = add_line(&tmp, FSC_RUN, sp + 1, role, ln);
	s->fin = tmp.lines;
	s->nfin = tmp.nlines;
	return rc;
}

static hsm_rc
one_line(fsc_script *s, int ln, char *line, int *seen_header)
{
	char *sp;
	fsc_step *cur = s->nsteps ? &s->steps[s->nsteps - 1] : NULL;
	hsm_rc rc;

	if (line[0] == '\0' || line[0] == '#')
		return HSM_OK;
	if (!*seen_header) {
		if (strcmp(line, FSC_FORMAT) != 0)
			return hsm_fail(HSM_ERR_FORMAT, "line %d: a ceremony script starts with the "
			    "line \"%s\"", ln, FSC_FORMAT);
		*seen_header = 1;
		return HSM_OK;
	}
	if (line[strlen(line) - 1] == ' ')
		return hsm_fail(HSM_ERR_FORMAT, "line %d: ends with a space", ln);
	if ((sp = strchr(line, ' ')) == NULL || sp[1] == '\0' || sp[1] == ' ')
		return hsm_fail(HSM_ERR_FORMAT, "line %d: \"%s\" needs one space and then its "
		    "text", ln, line);
	*sp = '\0';
	if (s->nfin > 0 && strcmp(line, "finally") != 0)
		return hsm_fail(HSM_ERR_FORMAT, "line %d: only \"finally\" lines may follow "
		    "a \"finally\" line", ln);
	if (strcmp(line, "finally") == 0) {
		if (cur == NULL)
			return hsm_fail(HSM_ERR_FORMAT, "line %d: \"finally\" comes after the "
			    "last step", ln);
		return finally_line(s, ln, sp + 1);
	}
	if (strcmp(line, "step") == 0) {
		if (s->name == NULL || s->version == 0 || s->title == NULL)
			return hsm_fail(HSM_ERR_FORMAT, "line %d: name, version and title come "
			    "before the first step", ln);
		if ((rc = close_step(cur, ln)) != HSM_OK)
			return rc;
		return new_step(s, ln, sp + 1);
	}
	return cur ? step_line(cur, ln, line, sp + 1) : head_line(s, ln, line, sp + 1);
}

hsm_rc
fsc_parse(const char *buf, size_t len, fsc_script **out)
{
	fsc_script *s;
	char line[FSC_LINE_MAX + 1];
	size_t i = 0, n;
	int ln = 0, hdr = 0;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	if (len > FSC_FILE_MAX)
		return hsm_fail(HSM_ERR_FORMAT, "a script is at most %d bytes", FSC_FILE_MAX);
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->about = strdup("")) == NULL) {
		free(s);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	while (i < len && rc == HSM_OK) {
		const char *nl = memchr(buf + i, '\n', len - i);
		ln++;
		if (nl == NULL) {
			rc = hsm_fail(HSM_ERR_FORMAT, "line %d: the last line has no line end", ln);
			break;
		}
		n = (size_t)(nl - (buf + i));
		if (n > FSC_LINE_MAX || memchr(buf + i, '\0', n) != NULL) {
			rc = hsm_fail(HSM_ERR_FORMAT, "line %d: longer than %d bytes or holds a NUL",
			    ln, FSC_LINE_MAX);
			break;
		}
		memcpy(line, buf + i, n);
		line[n] = '\0';
		i += n + 1;
		rc = one_line(s, ln, line, &hdr);
	}
	if (rc == HSM_OK && (!hdr || s->nsteps == 0))
		rc = hsm_fail(HSM_ERR_FORMAT, "line %d: a script has the line \"%s\", a name, "
		    "version, title and at least one step", ln, FSC_FORMAT);
	if (rc == HSM_OK && s->nfin == 0)
		rc = close_step(&s->steps[s->nsteps - 1], ln);
	if (rc == HSM_OK && (rc = crypto_sha256(buf, len, s->sha256)) == HSM_OK)
		hex_encode_buf(s->sha256, 32, s->hex);
	if (rc != HSM_OK)
		fsc_free(&s);
	*out = s;
	return rc;
}

hsm_rc
fsc_load(const char *path, fsc_script **out)
{
	char *buf = NULL;
	size_t len = 0;
	hsm_rc rc;

	*out = NULL;
	if ((rc = hsm_file_read(path, FSC_FILE_MAX, &buf, &len)) != HSM_OK)
		return hsm_fail_wrap(rc, "script %s", path);
	if ((rc = fsc_parse(buf, len, out)) != HSM_OK)
		hsm_fail_wrap(rc, "script %s", path);
	free(buf);
	return rc;
}
