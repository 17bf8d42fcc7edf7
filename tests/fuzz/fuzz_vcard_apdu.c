/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_vcard_apdu: arbitrary sequences of vpcd frames into a fresh virtual
 * card. Input: one flags byte, then frames of [len_hi len_lo payload]; a
 * 1-byte payload is a power event, anything else an APDU. The flags open the
 * doors a fuzzer cannot (management key, PIN, keys on the card) so that the
 * deep paths run too (0x80: with the attestation key). No file is written. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/vcard.h"
#include "../../smartcard/vcard/vcard_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys made once: generating them per input would dominate the run time. */
static EVP_PKEY *
shared_key(int p384)
{
	static EVP_PKEY *k[2];

	if (k[p384] == NULL && vk_generate(p384 ? VC_ALG_P384 : VC_ALG_P256, &k[p384]) != HSM_OK)
		abort();
	return k[p384];
}

static void
setup(vcard *c, uint8_t flags)
{
	static const uint8_t slots[] = { 0x9A, 0x9C, 0x9D, 0x9E };

	for (size_t i = 0; (flags & 0x10) && i < sizeof(slots); i++) {
		struct vcard_key *k = &c->keys[vc_slot_index(slots[i])];
		int p384 = (flags >> i) & 1;

		k->slot = slots[i];
		k->alg = p384 ? VC_ALG_P384 : VC_ALG_P256;
		k->pin_policy = vc_default_pin_policy(slots[i]);
		k->touch_policy = VC_TOUCH_NEVER;
		k->origin = VC_ORIGIN_GENERATED;
		k->pkey = shared_key(p384);
		EVP_PKEY_up_ref(k->pkey);
	}
	c->mgm_ok = (flags & 0x20) != 0;
	if (flags & 0x40)
		c->pin_ok = c->pin_fresh = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t resp[VCARD_RESP_MAX];
	vcard *c = NULL;
	size_t off = 1, rlen;

	if (size < 1 || vc_new(1, (data[0] & 0x80) != 0, &c) != HSM_OK)
		return 0;
	setup(c, data[0]);
	while (off + 2 <= size) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (n > size - off)
			n = size - off;
		if (n == 1)
			vcard_power_event(c, (vcard_power)(data[off] % 3));
		else if (vcard_apdu(c, data + off, n, resp, sizeof(resp), &rlen) != HSM_OK ||
		    rlen < 2 || rlen > VCARD_RESP_MAX)
			abort();
		off += n;
	}
	vcard_free(&c);
	return 0;
}
