/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_rcptfile.c - simrcpt_parse on arbitrary bytes: it never fails except
 * for memory, hands out at most one receipt per counter_before, ascending,
 * each with counter_after = counter_before + 1 inside the asked range. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "simrcpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *out = NULL, *r;
	uint64_t from = size > 0 ? data[0] % 4 : 0, counter = size > 1 ? data[1] % 16 : 8;
	long long prev = -1;
	size_t i;

	if (simrcpt_parse((const char *)data, size, from, counter, &out) != HSM_OK)
		return 0;
	json_array_foreach(out, i, r) {
		const json_t *b = json_object_get(r, "body");
		long long bf = (long long)json_integer_value(json_object_get(b, "counter_before"));
		long long af = (long long)json_integer_value(json_object_get(b, "counter_after"));
		if (bf <= prev || af != bf + 1 || bf < (long long)from || af > (long long)counter)
			abort();
		prev = bf;
	}
	json_decref(out);
	return 0;
}
