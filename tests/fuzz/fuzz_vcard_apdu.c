/* fuzz_vcard_apdu: arbitrary sequences of vpcd frames into a fresh virtual
 * card. Input: one flags byte, then frames of [len_hi len_lo payload]; a
 * 1-byte payload is a power event, anything else an APDU. The flags open the
 * doors a fuzzer cannot (management key, PIN, keys on the card) so that the
 * deep paths run too. No file is written. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/vcard.h"
#include "../../smartcard/vcard/vcard_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
setup(vcard *c, uint8_t flags)
{
	static const uint8_t slots[] = { 0x9A, 0x9C, 0x9D, 0x9E };
	uint8_t resp[VCARD_RESP_MAX];
	size_t rlen;

	c->mgm_ok = 1;
	for (size_t i = 0; i < sizeof(slots); i++) {
		uint8_t gen[] = { 0x00, 0x47, 0x00, slots[i], 0x05, 0xAC, 0x03, 0x80, 0x01,
		    (flags & (1u << i)) ? VC_ALG_P384 : VC_ALG_P256 };
		if (flags & 0x10)
			(void)vcard_apdu(c, gen, sizeof(gen), resp, sizeof(resp), &rlen);
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

	if (size < 1 || vcard_new(1, &c) != HSM_OK)
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
