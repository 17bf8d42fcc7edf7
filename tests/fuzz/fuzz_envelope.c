/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_envelope.c - the key-part envelope parser and opener on arbitrary bytes.
 * A fixed in-memory card key lets inputs that parse reach ECDH, HKDF and GCM. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hsmadm/crypto.h"
#include "hsmadm/envelope.h"
#include "hsmadm/signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *card;
static hsm_keyagree *ka;

static hsm_rc
fz_ecdh(void *ctx, EVP_PKEY *peer, hsm_secbuf **shared)
{
	return crypto_ecdh(ctx, peer, shared);
}

static void
fz_free(void *ctx)
{
	(void)ctx;
}

static const struct hsm_keyagree_ops fz_ops = { fz_ecdh, fz_free };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	envelope_info info;
	hsm_secbuf *part = NULL;

	if (ka == NULL) {
		if (crypto_ec_generate(HSM_CURVE_P384, &card) != HSM_OK ||
		    keyagree_new(&fz_ops, card, card, "fuzz card", &ka) != HSM_OK)
			abort();
	}
	if (envelope_parse(data, size, &info) != HSM_OK)
		return 0;
	if (envelope_open(data, size, ka, info.card_id, info.part_id, &part, NULL) == HSM_OK)
		abort();   /* nobody but this process knows the card key */
	return 0;
}
