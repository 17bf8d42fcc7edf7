/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bytes.h - the one checked reader for untrusted bytes: card responses,
 * command APDUs, key-part envelopes, data objects.
 *
 * An hsm_bytes is a bounds-checked cursor over a byte string it does not
 * own. Every read checks the remaining length first and fails with
 * HSM_ERR_FORMAT (and a message naming the data, from bytes_init's "what")
 * instead of running past the end. A failed read leaves the cursor where it
 * was, so a caller may try another interpretation.
 *
 * BER-TLV as PIV uses it: tags of 1 to 3 bytes (multi-byte when the low five
 * bits of the first byte are all set, continuing while bit 8 is set),
 * lengths in the three forms PIV cards send: LL (< 0x80), 81 LL, 82 HH LL.
 * Indefinite (80) and longer (83 and up) forms are refused: no PIV object
 * is larger than 64 KiB, so a longer form only ever comes from a broken or
 * hostile peer.
 *
 * The small writer (tlv_put*) builds TLVs into a caller buffer with the
 * same length rules, failing with HSM_ERR_INTERNAL if the buffer is too
 * small (the caller sized it, so that is a bug, not bad input).
 */
#ifndef HSMADM_BYTES_H
#define HSMADM_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

typedef struct hsm_bytes {
	const uint8_t *p;
	size_t len;
	size_t off;
	const char *what;   /* names the data in error messages; static string */
} hsm_bytes;

/* One decoded TLV: tag as an integer (5F C1 02 -> 0x5FC102), value borrowed. */
typedef struct tlv_item {
	uint32_t tag;
	const uint8_t *val;
	size_t len;
	const char *what;   /* the cursor's, for tlv_enter */
} tlv_item;

/* what: "card data", "key-part envelope", ... (NULL: "data"). p may be NULL
 * when n is 0. */
void   bytes_init(hsm_bytes *c, const uint8_t *p, size_t n, const char *what);
size_t bytes_left(const hsm_bytes *c);
int    bytes_at_end(const hsm_bytes *c);

hsm_rc bytes_get_u8(hsm_bytes *c, uint8_t *v);
hsm_rc bytes_get_be16(hsm_bytes *c, uint16_t *v);
hsm_rc bytes_get_be32(hsm_bytes *c, uint32_t *v);
/* n bytes, borrowed from the cursor's buffer. */
hsm_rc bytes_get_bytes(hsm_bytes *c, size_t n, const uint8_t **p);

/* The next TLV at the cursor. */
hsm_rc tlv_next(hsm_bytes *c, tlv_item *it);
/* The next TLV, which must have this tag (HSM_ERR_FORMAT otherwise). */
hsm_rc tlv_expect(hsm_bytes *c, uint32_t tag, tlv_item *it);
/* Search the TLVs from the cursor to its end for tag (no descent into values).
 * HSM_ERR_NOT_FOUND if absent (no message set: absence is often fine),
 * HSM_ERR_FORMAT if the list is malformed. Does not move c. */
hsm_rc tlv_find(const hsm_bytes *c, uint32_t tag, tlv_item *it);
/* A cursor over a TLV's value, naming its data as the cursor it came from. */
void   tlv_enter(const tlv_item *it, hsm_bytes *inner);

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

/* A writer whose first failure sticks: build a whole response with
 * bw_tlv calls, then check bw.err once. Used where a failed build only
 * ever means "answer with an error", as the virtual card does. */
typedef struct hsm_bwriter {
	uint8_t *p;
	size_t cap;
	size_t len;
	hsm_rc err;         /* HSM_OK until a put does not fit */
} hsm_bwriter;

/* A writer over buf[0..cap). */
hsm_bwriter bw_make(uint8_t *buf, size_t cap);
/* Append a whole TLV (tlv_put); once err is set, nothing more is written. */
hsm_rc bw_tlv(hsm_bwriter *w, uint32_t tag, const void *v, size_t n);

#endif
