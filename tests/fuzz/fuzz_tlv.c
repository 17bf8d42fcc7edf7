/* fuzz_tlv - the checked TLV reader and the parsers of card data built on it:
 * a walk over nested TLVs, the profile object, the envelope object. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hsmadm/cardprofile.h"
#include "hsmadm/tlv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(tlv_cur *c, int depth)
{
	tlv_item it;

	while (!tlv_at_end(c)) {
		if (tlv_next(c, &it) != HSM_OK)
			return;
		/* constructed tags: bit 6 of the first tag byte */
		if (depth < 8) {
			uint32_t first = it.tag > 0xFFFF ? it.tag >> 16 : it.tag > 0xFF ? it.tag >> 8 : it.tag;
			if (first & 0x20) {
				tlv_cur in;
				tlv_enter(&it, &in);
				walk(&in, depth + 1);
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cardprofile p;
	char id[CARDENV_ID_MAX + 1];
	const uint8_t *blob;
	size_t bl;
	tlv_cur c;
	tlv_item it;
	uint32_t v;

	tlv_init(&c, data, size);
	walk(&c, 0);
	tlv_init(&c, data, size);
	(void)tlv_find(&c, 0x53, &it);
	(void)tlv_expect(&c, 0x7C, &it);
	(void)tlv_get_u32(&c, &v);
	if (cardprofile_decode(data, size, &p) == HSM_OK) {
		uint8_t out[512];
		size_t n = 0;
		cardprofile q;
		/* what decodes must encode, and decode again to the same profile
		 * (the bytes may differ: non-minimal lengths are accepted) */
		if (cardprofile_encode(&p, out, sizeof(out), &n) != HSM_OK ||
		    cardprofile_decode(out, n, &q) != HSM_OK || memcmp(&p, &q, sizeof(p)) != 0)
			__builtin_trap();
	}
	if (cardenv_decode(data, size, id, &blob, &bl) == HSM_OK &&
	    (blob < data || blob + bl > data + size))
		__builtin_trap();
	return 0;
}
