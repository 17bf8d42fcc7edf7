/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_admincmd.c - the command-file parser, then everything a parsed command
 * offers (dump, digest, summary, verification with no admins). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/admincmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	admincmd *c = NULL, *d = NULL;
	char *buf = NULL, *s = NULL, *hex = NULL, *words = NULL;
	size_t len = 0;
	admincmd_target t;

	if (admincmd_parse((const char *)data, size, &c) != HSM_OK)
		return 0;
	if (admincmd_dump(c, &buf, &len) == HSM_OK) {
		/* what we write we must read back */
		if (admincmd_parse(buf, len, &d) != HSM_OK)
			abort();
		admincmd_free(&d);
	}
	(void)admincmd_summary(c, &s);
	(void)admincmd_digest_text(c, &hex, &words);
	if (admincmd_target_at(c, 0, &t) == HSM_OK)
		(void)admincmd_verify_for_domain(c, t.module, t.domain, t.counter,
		    admincmd_not_before(c), NULL, 0, 1, 1, NULL);
	free(buf);
	free(s);
	free(hex);
	free(words);
	admincmd_free(&c);
	return 0;
}
