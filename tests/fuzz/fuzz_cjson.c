/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_cjson.c - canonical JSON parser and writer.
 * Any input either is refused with HSM_ERR_FORMAT (or NOMEM) and no value,
 * or parses to a value whose canonical bytes parse again to the same bytes
 * (the writer is idempotent and never emits what the parser refuses).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/cjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = NULL, *v2 = NULL;
	char *d1 = NULL, *d2 = NULL;
	size_t n1 = 0, n2 = 0;
	hsm_rc rc;

	rc = cjson_parse((const char *)data, size, &v);
	if (rc != HSM_OK) {
		if ((rc != HSM_ERR_FORMAT && rc != HSM_ERR_NOMEM) || v != NULL)
			abort();
		return 0;
	}
	if (cjson_dump(v, &d1, &n1) != HSM_OK)
		abort();
	if (strlen(d1) != n1)
		abort();
	if (cjson_parse(d1, n1, &v2) != HSM_OK)
		abort();
	if (!json_equal(v, v2))
		abort();
	if (cjson_dump(v2, &d2, &n2) != HSM_OK)
		abort();
	if (n1 != n2 || memcmp(d1, d2, n1) != 0)
		abort();
	free(d1);
	free(d2);
	json_decref(v);
	json_decref(v2);
	return 0;
}
