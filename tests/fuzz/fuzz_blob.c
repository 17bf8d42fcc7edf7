/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_blob.c - the key blob parsers a module and the re-encipher job meet:
 * the binary header, a JSON Lines line (fast canonical path and JSON path),
 * a batch's base64 run, and the unwrap under a fixed key. A line that parses
 * must format back to a line that parses to the same blob and id. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/blob.h"
#include "hsmadm/vp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static blob_kctx *kctx;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mk[HSM_KEY_LEN] = { 1, 2, 3 };
	uint8_t vp[HSM_VP_LEN], blob[BLOB_LEN], again[BLOB_LEN], key[BLOB_KEY_LEN];
	uint8_t run[4 * BLOB_LEN];
	char id[BLOB_ID_MAX + 1], id2[BLOB_ID_MAX + 1], line[BLOB_LINE_MAX];
	size_t n;

	if (kctx == NULL && (vp_compute(mk, vp) != HSM_OK || blob_kctx_new(mk, vp, &kctx) != HSM_OK))
		abort();
	(void)blob_parse(data, size, NULL);
	if (size == BLOB_LEN && blob_open(kctx, data, key, NULL) == HSM_OK &&
	    blob_parse(data, size, NULL) != HSM_OK)
		abort();
	(void)blob_b64_decode((const char *)data, size, 4, run, &n);
	if (blob_line_parse((const char *)data, size, blob, id) == HSM_OK) {
		if (blob_parse(blob, BLOB_LEN, NULL) != HSM_OK)
			abort();
		n = blob_line_format(blob, id, line);
		if (blob_line_parse(line, n - 1, again, id2) != HSM_OK ||
		    memcmp(blob, again, BLOB_LEN) != 0 || strcmp(id, id2) != 0)
			abort();
	}
	return 0;
}
