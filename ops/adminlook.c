/* SPDX-License-Identifier: BSD-2-Clause */
/* adminlook.c - names and identities that look alike (adminlook.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "hsmadm/adminlook.h"

#define FOLD_MAX 96

/* Lowercase letters and digits only; bytes >= 0x80 (UTF-8) kept as they are. */
static size_t
fold(const char *s, char out[FOLD_MAX])
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n + 1 < FOLD_MAX; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x80 || isalnum(c))
			out[n++] = (char)(c >= 0x80 ? c : tolower(c));
	}
	out[n] = '\0';
	return n;
}

/* Edit distance, stopping early once it is certainly above 2. */
static unsigned
distance(const char *a, size_t na, const char *b, size_t nb)
{
	unsigned row[FOLD_MAX], prev, cur;
	size_t i, j;

	for (j = 0; j <= nb; j++)
		row[j] = (unsigned)j;
	for (i = 1; i <= na; i++) {
		unsigned best;
		prev = row[0];
		row[0] = (unsigned)i;
		best = row[0];
		for (j = 1; j <= nb; j++) {
			cur = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (cur + 1 < row[j])
				row[j] = cur + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			prev = cur;
			if (row[j] < best)
				best = row[j];
		}
		if (best > 2)
			return best;
	}
	return row[nb];
}

/* The digits of a folded name, in order ("admin12" -> "12"). */
static void
digits_of(const char *f, char out[FOLD_MAX])
{
	size_t n = 0;

	for (; *f != '\0'; f++)
		if (*f >= '0' && *f <= '9')
			out[n++] = *f;
	out[n] = '\0';
}

int
adminlook_alike(const char *a, const char *b)
{
	char fa[FOLD_MAX], fb[FOLD_MAX], da[FOLD_MAX], db[FOLD_MAX];
	size_t na = fold(a, fa), nb = fold(b, fb);

	if (na == 0 || nb == 0)
		return 0;
	if (strcmp(fa, fb) == 0)
		return 1;
	/* "Admin 1" and "Admin 2" are numbered on purpose: other digits make
	 * other names, however close the letters */
	digits_of(fa, da);
	digits_of(fb, db);
	if (strcmp(da, db) != 0)
		return 0;
	return na >= 4 && nb >= 4 && distance(fa, na, fb, nb) <= 2;
}

static void
add(char *out, size_t len, size_t *used, const char *line)
{
	int w;

	if (*used >= len)
		return;
	w = snprintf(out + *used, len - *used, "%s%s", *used ? "\n" : "", line);
	if (w > 0)
		*used += (size_t)w < len - *used ? (size_t)w : len - *used;
}

/* The findings against one registered admin a. */
static size_t
look_one(const json_t *a, const char *name, const char *identity, char *out, size_t len,
         size_t *used)
{
	const char *an = json_string_value(json_object_get(a, "name"));
	const char *ai = json_string_value(json_object_get(a, "identity"));
	char line[400];
	size_t found = 0;

	if (identity != NULL && ai != NULL && strcmp(identity, ai) == 0) {
		if (name == NULL || an == NULL || strcmp(name, an) != 0) {
			snprintf(line, sizeof(line), "identity \"%s\" is already registered as "
			    "\"%s\": the new key counts as the same person", ai, an ? an : "?");
			add(out, len, used, line);
			found++;
		}
		return found;   /* the same person: names need not differ */
	}
	if (name != NULL && an != NULL && adminlook_alike(name, an)) {
		snprintf(line, sizeof(line), "the name \"%s\" looks like \"%s\", an administrator "
		    "with another identity (\"%s\")", name, an, ai ? ai : "?");
		add(out, len, used, line);
		found++;
	}
	if (identity != NULL && ai != NULL && adminlook_alike(identity, ai)) {
		snprintf(line, sizeof(line), "the identity \"%s\" looks like \"%s\" (of \"%s\")",
		    identity, ai, an ? an : "?");
		add(out, len, used, line);
		found++;
	}
	return found;
}

size_t
adminlook_similar(json_t *const *states, size_t n, const char *name, const char *identity,
                  char *out, size_t len)
{
	size_t found = 0, used = 0, i, k;
	const json_t *a;
	const char *seen[64];
	size_t nseen = 0;

	if (len > 0)
		out[0] = '\0';
	for (i = 0; i < n; i++) {
		json_array_foreach(json_object_get(states[i], "admins"), k, a) {
			const char *ski = json_string_value(json_object_get(a, "ski"));
			size_t j;
			/* a group's members list the same admins: say each once */
			for (j = 0; ski != NULL && j < nseen; j++)
				if (strcmp(seen[j], ski) == 0)
					break;
			if (ski != NULL && j < nseen)
				continue;
			if (ski != NULL && nseen < 64)
				seen[nseen++] = ski;
			found += look_one(a, name, identity, out, len, &used);
		}
	}
	return found;
}
