/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlv.h - the one checked reader for bytes that come from a card.
 *
 * A tlv_cur is a bounds-checked cursor over a byte string it does not own.
 * Every read checks the remaining length first and fails with HSM_ERR_FORMAT
 * (and a message naming what was being read) instead of running past the end.
 * BER-TLV as PIV uses it: tags of 1 to 3 bytes (multi-byte when the low five
 * bits of the first byte are all set), lengths in the three forms PIV cards
 * send: LL (< 0x80), 81 LL, 82 HH LL. Indefinite or longer length forms are
 * refused. Every card response parser in smartcard/ goes through this file.
 *
 * The small writer (tlv_put*) builds TLVs into a caller buffer with the same
 * length rules, failing with HSM_ERR_INTERNAL if the buffer is too small.
 */
#ifndef HSMADM_TLV_H
#define HSMADM_TLV_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

typedef struct tlv_cur {
	const uint8_t *p;
	size_t len;
	size_t off;
} tlv_cur;

/* One decoded TLV: tag as an integer (5F C1 02 -> 0x5FC102), value borrowed. */
typedef struct tlv_item {
	uint32_t tag;
	const uint8_t *val;
	size_t len;
} tlv_item;

void   tlv_init(tlv_cur *c, const uint8_t *p, size_t n);
size_t tlv_left(const tlv_cur *c);
int    tlv_at_end(const tlv_cur *c);

hsm_rc tlv_get_u8(tlv_cur *c, uint8_t *v);
hsm_rc tlv_get_u16(tlv_cur *c, uint16_t *v);         /* big-endian */
hsm_rc tlv_get_u32(tlv_cur *c, uint32_t *v);         /* big-endian */
/* n bytes, borrowed from the cursor's buffer. */
hsm_rc tlv_get_bytes(tlv_cur *c, size_t n, const uint8_t **p);

/* The next TLV at the cursor. */
hsm_rc tlv_next(tlv_cur *c, tlv_item *it);
/* The next TLV, which must have this tag (HSM_ERR_FORMAT otherwise). */
hsm_rc tlv_expect(tlv_cur *c, uint32_t tag, tlv_item *it);
/* Search the TLVs from the cursor to its end for tag (no descent into values).
 * HSM_ERR_NOT_FOUND if absent (no message set: absence is often fine),
 * HSM_ERR_FORMAT if the list is malformed. Does not move c. */
hsm_rc tlv_find(const tlv_cur *c, uint32_t tag, tlv_item *it);
/* A cursor over a TLV's value. */
void   tlv_enter(const tlv_item *it, tlv_cur *inner);

/* Writer. */
size_t tlv_tag_size(uint32_t tag);
size_t tlv_len_size(size_t n);                       /* 1, 2 or 3; 0 if n > 0xFFFF */
/* Total encoded size of a TLV with an n-byte value. */
size_t tlv_size(uint32_t tag, size_t n);
/* Append tag and length (not the value) at out[*off]; the value follows. */
hsm_rc tlv_put_hdr(uint8_t *out, size_t cap, size_t *off, uint32_t tag, size_t n);
/* Append a whole TLV. v may be NULL when n is 0. */
hsm_rc tlv_put(uint8_t *out, size_t cap, size_t *off, uint32_t tag,
               const uint8_t *v, size_t n);

#endif
