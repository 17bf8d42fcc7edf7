/* SPDX-License-Identifier: BSD-2-Clause */
/* bytes.c - the bounds-checked cursor and BER-TLV reader/writer (see bytes.h). */
#include <string.h>

#include "hsmadm/bytes.h"

void
bytes_init(hsm_bytes *c, const uint8_t *p, size_t n, const char *what)
{
	c->p = p ? p : (const uint8_t *)"";
	c->len = p ? n : 0;
	c->off = 0;
	c->what = what ? what : "data";
}

size_t
bytes_left(const hsm_bytes *c)
{
	return c->len - c->off;
}

int
bytes_at_end(const hsm_bytes *c)
{
	return c->off >= c->len;
}

hsm_rc
bytes_get_bytes(hsm_bytes *c, size_t n, const uint8_t **p)
{
	if (n > bytes_left(c))
		return hsm_fail(HSM_ERR_FORMAT, "%s is cut short: %zu more bytes needed, %zu left",
		    c->what, n, bytes_left(c));
	*p = c->p + c->off;
	c->off += n;
	return HSM_OK;
}

hsm_rc
bytes_get_u8(hsm_bytes *c, uint8_t *v)
{
	const uint8_t *p = NULL;
	hsm_rc rc;

	if ((rc = bytes_get_bytes(c, 1, &p)) != HSM_OK)
		return rc;
	*v = p[0];
	return HSM_OK;
}

hsm_rc
bytes_get_be16(hsm_bytes *c, uint16_t *v)
{
	const uint8_t *p = NULL;
	hsm_rc rc;

	if ((rc = bytes_get_bytes(c, 2, &p)) != HSM_OK)
		return rc;
	*v = (uint16_t)((p[0] << 8) | p[1]);
	return HSM_OK;
}

hsm_rc
bytes_get_be32(hsm_bytes *c, uint32_t *v)
{
	const uint8_t *p = NULL;
	hsm_rc rc;

	if ((rc = bytes_get_bytes(c, 4, &p)) != HSM_OK)
		return rc;
	*v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	return HSM_OK;
}

/* Tag: first byte; if its low five bits are all ones, more bytes follow while
 * bit 8 is set. PIV never uses more than three tag bytes, and a tag must fit
 * the uint32_t callers compare against. */
static hsm_rc
get_tag(hsm_bytes *c, uint32_t *tag)
{
	uint8_t b;
	uint32_t t;
	int i;

	if (bytes_get_u8(c, &b) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT, "%s ends where a tag was expected", c->what);
	t = b;
	if ((b & 0x1F) == 0x1F) {
		for (i = 0; ; i++) {
			if (i == 2)
				return hsm_fail(HSM_ERR_FORMAT, "%s has a tag longer than 3 bytes", c->what);
			if (bytes_get_u8(c, &b) != HSM_OK)
				return hsm_fail(HSM_ERR_FORMAT, "%s ends inside a tag", c->what);
			t = (t << 8) | b;
			if ((b & 0x80) == 0)
				break;
		}
	}
	*tag = t;
	return HSM_OK;
}

static hsm_rc
get_len(hsm_bytes *c, size_t *n)
{
	uint8_t b, b2;

	if (bytes_get_u8(c, &b) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT, "%s ends where a length was expected", c->what);
	if (b < 0x80) {
		*n = b;
		return HSM_OK;
	}
	if (b == 0x81) {
		if (bytes_get_u8(c, &b) != HSM_OK)
			return hsm_fail(HSM_ERR_FORMAT, "%s ends inside a length", c->what);
		*n = b;
		return HSM_OK;
	}
	if (b == 0x82) {
		if (bytes_get_u8(c, &b) != HSM_OK || bytes_get_u8(c, &b2) != HSM_OK)
			return hsm_fail(HSM_ERR_FORMAT, "%s ends inside a length", c->what);
		*n = ((size_t)b << 8) | b2;
		return HSM_OK;
	}
	return hsm_fail(HSM_ERR_FORMAT, "%s has an unsupported length form 0x%02X", c->what, b);
}

hsm_rc
tlv_next(hsm_bytes *c, tlv_item *it)
{
	size_t save = c->off, n = 0;
	hsm_rc rc;

	if ((rc = get_tag(c, &it->tag)) != HSM_OK || (rc = get_len(c, &n)) != HSM_OK)
		goto fail;
	if (n > bytes_left(c)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "%s: tag %X says %zu bytes but only %zu follow",
		    c->what, it->tag, n, bytes_left(c));
		goto fail;
	}
	it->val = c->p + c->off;
	it->len = n;
	it->what = c->what;
	c->off += n;
	return HSM_OK;
fail:
	c->off = save;
	return rc;
}

hsm_rc
tlv_expect(hsm_bytes *c, uint32_t tag, tlv_item *it)
{
	size_t save = c->off;
	hsm_rc rc;

	if ((rc = tlv_next(c, it)) != HSM_OK)
		return rc;
	if (it->tag != tag) {
		c->off = save;
		return hsm_fail(HSM_ERR_FORMAT, "%s: expected tag %X, found %X",
		    c->what, tag, it->tag);
	}
	return HSM_OK;
}

hsm_rc
tlv_find(const hsm_bytes *c, uint32_t tag, tlv_item *it)
{
	hsm_bytes w = *c;
	hsm_rc rc;

	while (!bytes_at_end(&w)) {
		if ((rc = tlv_next(&w, it)) != HSM_OK)
			return rc;
		if (it->tag == tag)
			return HSM_OK;
	}
	return HSM_ERR_NOT_FOUND;
}

void
tlv_enter(const tlv_item *it, hsm_bytes *inner)
{
	bytes_init(inner, it->val, it->len, it->what);
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

hsm_bwriter
bw_make(uint8_t *buf, size_t cap)
{
	hsm_bwriter w = { buf, buf ? cap : 0, 0, HSM_OK };

	return w;
}

hsm_rc
bw_tlv(hsm_bwriter *w, uint32_t tag, const void *v, size_t n)
{
	if (w->err == HSM_OK)
		w->err = tlv_put(w->p, w->cap, &w->len, tag, v, n);
	return w->err;
}
