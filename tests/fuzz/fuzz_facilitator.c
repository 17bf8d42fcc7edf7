/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_facilitator - hsmadm-ceremony's log summary (fac_scan_mem: roster,
 * steps, witnesses, exceptions, hash chain) on arbitrary bytes, and the
 * printed summary of whatever it accepts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <jansson.h>

#include "fac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	json_t *st = NULL;

	if (null == NULL && (null = fopen("/dev/null", "w")) == NULL)
		return 0;
	/* The printer must cope with any summary the reader accepts. */
	if (fac_scan_mem((const char *)data, size, &st) == HSM_OK)
		fac_print_show(null, st);
	json_decref(st);
	return 0;
}
