/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_vcard_file: arbitrary bytes as a hsmadm-vcard card file (JSON with
 * PEM keys and hex objects). Either a clear refusal or a card that then
 * answers a few APDUs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hsmadm/vcard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t apdus[][13] = {
		{ 0x00, 0x20, 0x00, 0x80, 0x08, '1', '2', '3', '4', '5', '6', 0xFF, 0xFF },
		{ 0x00, 0xF7, 0x00, 0x9C, 0x00 },
		{ 0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00 },
	};
	static const size_t lens[] = { 13, 5, 11 };
	uint8_t resp[VCARD_RESP_MAX];
	size_t rlen;
	vcard *c = NULL;

	if (vcard_parse((const char *)data, size, &c) != HSM_OK) {
		if (c != NULL)
			abort();
		return 0;
	}
	for (size_t i = 0; i < 3; i++)
		if (vcard_apdu(c, apdus[i], lens[i], resp, sizeof(resp), &rlen) != HSM_OK)
			abort();
	vcard_free(&c);
	return 0;
}
