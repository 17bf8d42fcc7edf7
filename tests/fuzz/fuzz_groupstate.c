/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_groupstate.c - what the group engine reads from a module's answer:
 * a domain state (admins, thresholds, counter) and its comparison with
 * itself and with an empty state. */
#include <stddef.h>
#include <stdint.h>

#include "hsmadm/cjson.h"
#include "hsmadm/group.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *st = NULL, *states[2], *rep = NULL;
	admincmd_admin *a = NULL;
	size_t n = 0;
	unsigned s = 0, r = 0;
	uint64_t c = 0;
	group_member m[2] = { { .module = "A", .domain = 1 }, { .module = "B", .domain = 1 } };

	if (cjson_parse((const char *)data, size, &st) != HSM_OK)
		return 0;
	if (group_admins_from_state(st, &a, &n, &s, &r, &c) == HSM_OK)
		group_admins_free(&a, n);
	states[0] = st;
	states[1] = json_object();
	if (group_compare(m, 2, states, &rep) == HSM_OK)
		json_decref(rep);
	json_decref(states[1]);
	json_decref(st);
	return 0;
}
