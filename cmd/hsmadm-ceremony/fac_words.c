/* SPDX-License-Identifier: BSD-2-Clause */
/* fac_words.c - splitting a script command into words (fac_words.h). */
#include <stdlib.h>
#include <string.h>

#include "fac_words.h"

void
fsc_words_free(char **w, size_t n)
{
	size_t i;

	for (i = 0; w != NULL && i < n; i++)
		free(w[i]);
	free(w);
}

hsm_rc
fsc_words(const char *line, char ***words, size_t *n)
{
	char **w = NULL, **nw;
	const char *p = line, *e;
	size_t k = 0, len;
	hsm_rc rc = HSM_OK;

	*words = NULL;
	*n = 0;
	if (strpbrk(line, "$`;|&<>\\") != NULL)
		return hsm_fail(HSM_ERR_FORMAT, "a command may not hold any of $ ` ; | & < > \\ "
		    "(no shell runs it)");
	while (*p) {
		if (*p == '"') {
			if ((e = strchr(p + 1, '"')) == NULL || (e[1] != ' ' && e[1] != '\0')) {
				rc = hsm_fail(HSM_ERR_FORMAT, "a quoted word must end with '\"' "
				    "before a space or the line's end");
				break;
			}
			p++;
			len = (size_t)(e - p);
			e++;
		} else {
			e = strchr(p, ' ');
			if (e == NULL)
				e = p + strlen(p);
			len = (size_t)(e - p);
			if (len == 0 || memchr(p, '"', len) != NULL) {
				rc = hsm_fail(HSM_ERR_FORMAT, "words are separated by one space; "
				    "a '\"' only starts or ends a word");
				break;
			}
		}
		if ((nw = realloc(w, (k + 2) * sizeof(*w))) == NULL ||
		    (nw[k] = strndup(p, len)) == NULL) {
			w = nw != NULL ? nw : w;
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			break;
		}
		w = nw;
		w[++k] = NULL;
		p = *e == ' ' ? e + 1 : e;
		if (*e == ' ' && *p == '\0') {
			rc = hsm_fail(HSM_ERR_FORMAT, "a command ends with a space");
			break;
		}
	}
	if (rc != HSM_OK) {
		fsc_words_free(w, k);
		return rc;
	}
	*words = w;
	*n = k;
	return HSM_OK;
}
