/* SPDX-License-Identifier: BSD-2-Clause */
/* tlv.c - bounds-checked cursor and BER-TLV reader/writer (see tlv.h). */
#include <string.h>

#include "hsmadm/tlv.h"

void
tlv_init(tlv_cur *c, const uint8_t *p, size_t n)
{
	c->p = n ? p : NULL;
	c->len = p ? n : 0;
	c->off = 0;
}

size_t
tlv_left(const tlv_cur *c)
{
	return c->len - c->off;
}

int
tlv_at_end(const tlv_cur *c)
{
	return c->off >= c->len;
}

hsm_rc
tlv_get_bytes(tlv_cur *c, size_t n, const uint8_t **p)
{
	if (n > tlv_left(c))
		return hsm_fail(HSM_ERR_FORMAT,
		    "card data too short: needed %zu more bytes, %zu left", n, tlv_left(c));
	*p = c->p + c->off;
	c->off += n;
	return HSM_OK;
}

hsm_rc
tlv_get_u8(tlv_cur *c, uint8_t *v)
{
	const uint8_t *p = NULL;
	hsm_rc rc;

	if ((rc = tlv_get_bytes(c, 1, &p)) != HSM_OK)
		return rc;
	*v = p[0];
	return HSM_OK;
}

hsm_rc
tlv_get_u16(tlv_cur *c, uint16_t *v)
{
	const uint8_t *p = NULL;
	hsm_rc rc;

	if ((rc = tlv_get_bytes(c, 2, &p)) != HSM_OK)
		return rc;
	*v = (uint16_t)((p[0] << 8) | p[1]);
	return HSM_OK;
}

hsm_rc
tlv_get_u32(tlv_cur *c, uint32_t *v)
{
	const uint8_t *p = NULL;
	hsm_rc rc;

	if ((rc = tlv_get_bytes(c, 4, &p)) != HSM_OK)
		return rc;
	*v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	return HSM_OK;
}

/* Tag: first byte; if its low five bits are all ones, more bytes follow while
 * bit 8 is set. PIV never uses more than three tag bytes. */
static hsm_rc
get_tag(tlv_cur *c, uint32_t *tag)
{
	uint8_t b;
	uint32_t t;
	int i;

	if (tlv_get_u8(c, &b) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT, "card data ends where a tag was expected");
	t = b;
	if ((b & 0x1F) == 0x1F) {
		for (i = 0; ; i++) {
			if (i == 2)
				return hsm_fail(HSM_ERR_FORMAT, "card data has a tag longer than 3 bytes");
			if (tlv_get_u8(c, &b) != HSM_OK)
				return hsm_fail(HSM_ERR_FORMAT, "card data ends inside a tag");
			t = (t << 8) | b;
			if ((b & 0x80) == 0)
				break;
		}
	}
	*tag = t;
	return HSM_OK;
}

static hsm_rc
get_len(tlv_cur *c, size_t *n)
{
	uint8_t b, b2;

	if (tlv_get_u8(c, &b) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT, "card data ends where a length was expected");
	if (b < 0x80) {
		*n = b;
		return HSM_OK;
	}
	if (b == 0x81) {
		if (tlv_get_u8(c, &b) != HSM_OK)
			return hsm_fail(HSM_ERR_FORMAT, "card data ends inside a length");
		*n = b;
		return HSM_OK;
	}
	if (b == 0x82) {
		if (tlv_get_u8(c, &b) != HSM_OK || tlv_get_u8(c, &b2) != HSM_OK)
			return hsm_fail(HSM_ERR_FORMAT, "card data ends inside a length");
		*n = ((size_t)b << 8) | b2;
		return HSM_OK;
	}
	return hsm_fail(HSM_ERR_FORMAT, "card data has an unsupported length form 0x%02X", b);
}

hsm_rc
tlv_next(tlv_cur *c, tlv_item *it)
{
	size_t save = c->off, n = 0;
	hsm_rc rc;

	if ((rc = get_tag(c, &it->tag)) != HSM_OK || (rc = get_len(c, &n)) != HSM_OK)
		goto fail;
	if (n > tlv_left(c)) {
		rc = hsm_fail(HSM_ERR_FORMAT,
		    "card data: tag %X says %zu bytes but only %zu follow", it->tag, n, tlv_left(c));
		goto fail;
	}
	it->val = c->p + c->off;
	it->len = n;
	c->off += n;
	return HSM_OK;
fail:
	c->off = save;
	return rc;
}

hsm_rc
tlv_expect(tlv_cur *c, uint32_t tag, tlv_item *it)
{
	size_t save = c->off;
	hsm_rc rc;

	if ((rc = tlv_next(c, it)) != HSM_OK)
		return rc;
	if (it->tag != tag) {
		c->off = save;
		return hsm_fail(HSM_ERR_FORMAT, "card data: expected tag %X, found %X", tag, it->tag);
	}
	return HSM_OK;
}

hsm_rc
tlv_find(const tlv_cur *c, uint32_t tag, tlv_item *it)
{
	tlv_cur w = *c;
	hsm_rc rc;

	while (!tlv_at_end(&w)) {
		if ((rc = tlv_next(&w, it)) != HSM_OK)
			return rc;
		if (it->tag == tag)
			return HSM_OK;
	}
	return HSM_ERR_NOT_FOUND;
}

void
tlv_enter(const tlv_item *it, tlv_cur *inner)
{
	tlv_init(inner, it->val, it->len);
}

size_t
tlv_tag_size(uint32_t tag)
{
	return tag > 0xFFFF ? 3 : tag > 0xFF ? 2 : 1;
}

size_t
tlv_len_size(size_t n)
{
	return n < 0x80 ? 1 : n <= 0xFF ? 2 : n <= 0xFFFF ? 3 : 0;
}

size_t
tlv_size(uint32_t tag, size_t n)
{
	return tlv_tag_size(tag) + tlv_len_size(n) + n;
}

hsm_rc
tlv_put_hdr(uint8_t *out, size_t cap, size_t *off, uint32_t tag, size_t n)
{
	size_t ts = tlv_tag_size(tag), ls = tlv_len_size(n), o = *off;

	if (ls == 0)
		return hsm_fail(HSM_ERR_INTERNAL, "TLV value of %zu bytes is too long", n);
	if (o > cap || cap - o < ts + ls)
		return hsm_fail(HSM_ERR_INTERNAL, "TLV buffer too small");
	if (ts == 3)
		out[o++] = (uint8_t)(tag >> 16);
	if (ts >= 2)
		out[o++] = (uint8_t)(tag >> 8);
	out[o++] = (uint8_t)tag;
	if (ls == 3) {
		out[o++] = 0x82;
		out[o++] = (uint8_t)(n >> 8);
		out[o++] = (uint8_t)n;
	} else if (ls == 2) {
		out[o++] = 0x81;
		out[o++] = (uint8_t)n;
	} else {
		out[o++] = (uint8_t)n;
	}
	*off = o;
	return HSM_OK;
}

hsm_rc
tlv_put(uint8_t *out, size_t cap, size_t *off, uint32_t tag, const uint8_t *v, size_t n)
{
	size_t o = *off;
	hsm_rc rc;

	if ((rc = tlv_put_hdr(out, cap, &o, tag, n)) != HSM_OK)
		return rc;
	if (cap - o < n)
		return hsm_fail(HSM_ERR_INTERNAL, "TLV buffer too small");
	if (n)
		memcpy(out + o, v, n);
	*off = o + n;
	return HSM_OK;
}
