/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_kpwrap.c - the wrapped-key-part JSON a module receives in mk.load_part
 * (single and group form), then the unwrap with a fixed importer key. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hsmadm/cjson.h"
#include "hsmadm/crypto.h"
#include "hsmadm/kpwrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *importer;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const kpwrap_binding b = { "DC1-M01", 3, 1 };
	json_t *j = NULL;
	kpwrap_blob blob;
	hsm_secbuf *part = NULL;

	if (importer == NULL && crypto_ec_generate(HSM_CURVE_P384, &importer) != HSM_OK)
		abort();
	if (cjson_parse((const char *)data, size, &j) != HSM_OK)
		return 0;
	if (kpwrap_blob_for_target(j, "DC1-M01", 3, &blob) == HSM_OK &&
	    kpwrap_unwrap_pkey(&blob, importer, &b, &part) == HSM_OK)
		abort();   /* nobody but this process knows the importer key */
	json_decref(j);
	return 0;
}
