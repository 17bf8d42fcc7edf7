/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_script - the ceremony script parser (fsc_parse) on arbitrary bytes;
 * for whatever it accepts, every command line expanded against a fixed
 * small plan (fsc_expand), as print and run do.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "fac_script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char plan_json[] =
"{\"format\":\"hsmadm-ceremony-plan 1\",\"name\":\"p\",\"title\":\"Plan\","
"\"installation\":\"bank\",\"parts\":2,\"thresholds\":{\"signature\":2,\"revocation\":1},"
"\"sites\":[{\"id\":\"DC1\",\"name\":\"one\"},{\"id\":\"DC2\",\"name\":\"two\"}],"
"\"modules\":[{\"name\":\"dc1\",\"serial\":\"M1\",\"site\":\"DC1\",\"address\":\"h:1\",\"ca\":\"c\"},"
"{\"name\":\"dc2\",\"serial\":\"M2\",\"site\":\"DC2\",\"address\":\"h:2\",\"ca\":\"c\"}],"
"\"pairs\":[{\"group\":\"pair\",\"domains\":[{\"module\":\"dc1\",\"domain\":3},"
"{\"module\":\"dc2\",\"domain\":3}]}],\"people\":["
"{\"role\":\"admin\",\"name\":\"A\",\"card\":{\"label\":\"A1\",\"reader\":\"R1\"},"
"\"backups\":[{\"label\":\"A1B\",\"reader\":\"R1B\"}]},"
"{\"role\":\"admin\",\"name\":\"B\",\"card\":{\"label\":\"A2\",\"reader\":\"R2\"}},"
"{\"role\":\"custodian\",\"name\":\"C\",\"part\":\"p1\",\"card\":{\"label\":\"C1\",\"reader\":\"R3\"}},"
"{\"role\":\"custodian\",\"name\":\"D\",\"part\":\"p2\",\"card\":{\"label\":\"C2\",\"reader\":\"R4\"}},"
"{\"role\":\"supervisor\",\"name\":\"S\",\"card\":{\"label\":\"S1\",\"reader\":\"R5\"}},"
"{\"role\":\"witness\",\"name\":\"W\"}]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static fpl_plan *plan;
	fsc_ctx c = { .log = "l", .dir = "d", .plan = "p", .script = "s" };
	fsc_script *s = NULL;
	fsc_cmd cmd;
	size_t i, j, k, n;

	if (plan == NULL && fpl_parse(plan_json, strlen(plan_json), &plan) != HSM_OK)
		return 0;
	if (fsc_parse((const char *)data, size, &s) != HSM_OK)
		return 0;
	for (i = 0; i < s->nsteps; i++)
		for (j = 0; j < s->steps[i].nlines; j++) {
			const fsc_line *l = &s->steps[i].lines[j];
			if (l->kind != FSC_RUN && l->kind != FSC_EACH)
				continue;
			n = l->kind == FSC_EACH ? fsc_each_count(plan, l->each) : 1;
			for (k = 0; k < n; k++)
				if (fsc_expand(l->text, plan, &c, l->each, (int)k + 1, &cmd) == HSM_OK)
					fsc_cmd_clear(&cmd);
		}
	fsc_free(&s);
	return 0;
}
