/* SPDX-License-Identifier: BSD-2-Clause */
/* test_bytes.c - the checked byte reader and its TLV reader/writer: every
 * length form, every way untrusted bytes can be short or malformed, and the
 * message that says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/bytes.h"

static void
test_short_forms(void **st)
{
	const uint8_t b[] = { 0x80, 0x02, 0xAA, 0xBB, 0x81, 0x00 };
	hsm_bytes c;
	tlv_item it;

	(void)st;
	bytes_init(&c, b, sizeof(b), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x80);
	assert_int_equal(it.len, 2);
	assert_int_equal(it.val[1], 0xBB);
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x81);
	assert_int_equal(it.len, 0);
	assert_true(bytes_at_end(&c));
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
}

static void
test_long_lengths_and_tags(void **st)
{
	uint8_t b[300 + 8];
	hsm_bytes c;
	tlv_item it;

	(void)st;
	/* 7F 49 81 80 <128> */
	memset(b, 0x55, sizeof(b));
	b[0] = 0x7F, b[1] = 0x49, b[2] = 0x81, b[3] = 0x80;
	bytes_init(&c, b, 4 + 128, "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x7F49);
	assert_int_equal(it.len, 128);
	/* 5F C1 02 82 01 2C <300> */
	b[0] = 0x5F, b[1] = 0xC1, b[2] = 0x02, b[3] = 0x82, b[4] = 0x01, b[5] = 0x2C;
	bytes_init(&c, b, 6 + 300, "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x5FC102);
	assert_int_equal(it.len, 300);
	assert_true(bytes_at_end(&c));
}

static void
test_malformed(void **st)
{
	const uint8_t overlong[] = { 0x53, 0x05, 1, 2, 3 };
	const uint8_t badform[] = { 0x53, 0x83, 0, 0, 1, 0 };
	const uint8_t indef[] = { 0x53, 0x80, 0, 0 };
	const uint8_t cut81[] = { 0x53, 0x81 };
	const uint8_t cut82[] = { 0x53, 0x82, 0x01 };
	const uint8_t cuttag[] = { 0x5F };
	const uint8_t longtag[] = { 0x5F, 0xC1, 0x82, 0x02, 0x00 };
	hsm_bytes c;
	tlv_item it;

	(void)st;
	bytes_init(&c, overlong, sizeof(overlong), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	assert_int_equal(c.off, 0);   /* cursor unchanged on failure */
	bytes_init(&c, badform, sizeof(badform), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	bytes_init(&c, indef, sizeof(indef), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	bytes_init(&c, cut81, sizeof(cut81), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	bytes_init(&c, cut82, sizeof(cut82), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	bytes_init(&c, cuttag, sizeof(cuttag), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	bytes_init(&c, longtag, sizeof(longtag), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	bytes_init(&c, NULL, 0, "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
}

static void
test_expect_find_enter(void **st)
{
	/* 7C 0A 80 08 <8> : the witness of a management-key challenge */
	const uint8_t b[] = { 0x7C, 0x0A, 0x80, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x90, 0x00 };
	hsm_bytes c, in;
	tlv_item it, f;

	(void)st;
	bytes_init(&c, b, 12, "card data");
	assert_int_equal(tlv_expect(&c, 0x7D, &it), HSM_ERR_FORMAT);
	assert_int_equal(c.off, 0);
	assert_int_equal(tlv_expect(&c, 0x7C, &it), HSM_OK);
	tlv_enter(&it, &in);
	assert_int_equal(tlv_find(&in, 0x81, &f), HSM_ERR_NOT_FOUND);
	assert_int_equal(tlv_find(&in, 0x80, &f), HSM_OK);
	assert_int_equal(f.len, 8);
	assert_int_equal(in.off, 0);   /* find does not move */
	/* find over a malformed list is a format error, not "absent" */
	bytes_init(&c, b, 13, "card data");
	assert_int_equal(tlv_find(&c, 0x99, &f), HSM_ERR_FORMAT);
}

static void
test_ints_and_bytes(void **st)
{
	const uint8_t b[] = { 0x00, 0xBC, 0x61, 0x4E, 0x12, 0x34, 0x56 };
	const uint8_t *p;
	hsm_bytes c;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;

	(void)st;
	bytes_init(&c, b, sizeof(b), "card data");
	assert_int_equal(bytes_get_be32(&c, &v32), HSM_OK);
	assert_int_equal(v32, 12345678);
	assert_int_equal(bytes_get_be16(&c, &v16), HSM_OK);
	assert_int_equal(v16, 0x1234);
	assert_int_equal(bytes_get_be16(&c, &v16), HSM_ERR_FORMAT);
	assert_int_equal(bytes_get_u8(&c, &v8), HSM_OK);
	assert_int_equal(v8, 0x56);
	assert_int_equal(bytes_get_u8(&c, &v8), HSM_ERR_FORMAT);
	assert_int_equal(bytes_get_bytes(&c, 1, &p), HSM_ERR_FORMAT);
	assert_int_equal(bytes_left(&c), 0);
}

static void
test_writer_roundtrip(void **st)
{
	uint8_t v[300], out[400];
	size_t sizes[] = { 0, 1, 127, 128, 255, 256, 300 };
	size_t i;

	(void)st;
	memset(v, 0xA5, sizeof(v));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t off = 0;
		hsm_bytes c;
		tlv_item it;

		assert_int_equal(tlv_put(out, sizeof(out), &off, 0x5FC10A, v, sizes[i]), HSM_OK);
		assert_int_equal(off, tlv_size(0x5FC10A, sizes[i]));
		bytes_init(&c, out, off, "card data");
		assert_int_equal(tlv_next(&c, &it), HSM_OK);
		assert_int_equal(it.tag, 0x5FC10A);
		assert_int_equal(it.len, sizes[i]);
		assert_true(bytes_at_end(&c));
	}
	/* too small a buffer is refused, not overrun */
	{
		size_t off = 0;
		assert_int_equal(tlv_put(out, 10, &off, 0x53, v, 20), HSM_ERR_INTERNAL);
		off = 0;
		assert_int_equal(tlv_put_hdr(out, 1, &off, 0x5FC10A, 1), HSM_ERR_INTERNAL);
		off = 0;
		assert_int_equal(tlv_put_hdr(out, sizeof(out), &off, 0x53, 0x10000), HSM_ERR_INTERNAL);
	}
}

/* A failed read says what was short and by how much, names the data, and
 * leaves the cursor where it was. */
static void
test_messages_and_no_move(void **st)
{
	const uint8_t b[] = { 0x01, 0x02, 0x03 };
	const uint8_t *p = NULL;
	hsm_bytes c;
	uint32_t v32 = 7;
	uint16_t v16 = 0;

	(void)st;
	bytes_init(&c, b, sizeof(b), "test object");
	assert_int_equal(bytes_get_be32(&c, &v32), HSM_ERR_FORMAT);
	assert_int_equal(v32, 7);
	assert_int_equal(c.off, 0);
	assert_non_null(strstr(hsm_errmsg(), "test object is cut short"));
	assert_non_null(strstr(hsm_errmsg(), "4 more bytes needed, 3 left"));
	assert_int_equal(bytes_get_be16(&c, &v16), HSM_OK);
	assert_int_equal(v16, 0x0102);
	assert_int_equal(bytes_get_bytes(&c, 2, &p), HSM_ERR_FORMAT);
	assert_int_equal(bytes_left(&c), 1);
	assert_int_equal(bytes_get_bytes(&c, 1, &p), HSM_OK);
	assert_int_equal(p[0], 0x03);
	/* a huge n must not wrap the bounds check */
	bytes_init(&c, b, sizeof(b), NULL);
	assert_int_equal(bytes_get_bytes(&c, (size_t)-1, &p), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "data is cut short"));
	assert_int_equal(c.off, 0);
}

/* The length forms: 81 and 82 at their edges, 83 and 84 refused by name,
 * lengths that claim more than follows refused with both numbers. */
static void
test_length_forms(void **st)
{
	uint8_t b[0x110 + 8];
	const uint8_t f83[] = { 0x53, 0x83, 0x00, 0x00, 0x01, 0xAA };
	const uint8_t f84[] = { 0x53, 0x84, 0x00, 0x00, 0x00, 0x01, 0xAA };
	const uint8_t over82[] = { 0x53, 0x82, 0xFF, 0xFF, 0x00 };
	const uint8_t over81[] = { 0x53, 0x81, 0x02, 0x00 };
	hsm_bytes c;
	tlv_item it;

	(void)st;
	memset(b, 0x11, sizeof(b));
	/* 82 00 05: a non-minimal long form is still a valid length */
	b[0] = 0x53, b[1] = 0x82, b[2] = 0x00, b[3] = 0x05;
	bytes_init(&c, b, 4 + 5, "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.len, 5);
	/* 82 01 10 with exactly 0x110 bytes following */
	b[2] = 0x01, b[3] = 0x10;
	bytes_init(&c, b, 4 + 0x110, "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.len, 0x110);
	assert_ptr_equal(it.val, b + 4);
	/* one byte fewer than it says */
	bytes_init(&c, b, 4 + 0x10F, "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "says 272 bytes but only 271 follow"));
	bytes_init(&c, f83, sizeof(f83), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "unsupported length form 0x83"));
	assert_int_equal(c.off, 0);
	bytes_init(&c, f84, sizeof(f84), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "unsupported length form 0x84"));
	bytes_init(&c, over82, sizeof(over82), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "says 65535 bytes but only 1 follow"));
	bytes_init(&c, over81, sizeof(over81), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "says 2 bytes but only 1 follow"));
}

/* Tags: one byte; two (1F mask, second byte without bit 8); three (second
 * byte with bit 8); a fourth byte is refused, as is a tag cut short. */
static void
test_multibyte_tags(void **st)
{
	const uint8_t t1[] = { 0x1F, 0x05, 0x00 };        /* low bits all set: 2 bytes */
	const uint8_t t3[] = { 0xDF, 0x81, 0x01, 0x01, 0xEE };
	const uint8_t t4[] = { 0x5F, 0x81, 0x81, 0x01, 0x00 };
	const uint8_t cut3[] = { 0x5F, 0xC1 };
	const uint8_t notag[] = { 0x1E, 0x00 };            /* low bits not all set: 1 byte */
	hsm_bytes c;
	tlv_item it;

	(void)st;
	bytes_init(&c, t1, sizeof(t1), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x1F05);
	assert_int_equal(it.len, 0);
	bytes_init(&c, t3, sizeof(t3), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0xDF8101);
	assert_int_equal(it.len, 1);
	assert_int_equal(it.val[0], 0xEE);
	bytes_init(&c, t4, sizeof(t4), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "tag longer than 3 bytes"));
	bytes_init(&c, cut3, sizeof(cut3), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "ends inside a tag"));
	bytes_init(&c, notag, sizeof(notag), "card data");
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x1E);
}

/* Values entered keep the name of the data they came from. */
static void
test_enter_keeps_name(void **st)
{
	const uint8_t b[] = { 0x7C, 0x03, 0x80, 0x05, 0x01 };
	hsm_bytes c, in;
	tlv_item it;

	(void)st;
	bytes_init(&c, b, sizeof(b), "command data");
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	tlv_enter(&it, &in);
	assert_int_equal(tlv_next(&in, &it), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "command data: tag 80 says 5 bytes but only 1 follow"));
}

/* The sticky writer: the first put that does not fit sets err, and nothing
 * after it is written, even a put that would fit. */
static void
test_sticky_writer(void **st)
{
	uint8_t buf[8], v[6] = { 1, 2, 3, 4, 5, 6 };
	hsm_bwriter w = bw_make(buf, sizeof(buf));
	hsm_bytes c;
	tlv_item it;

	(void)st;
	assert_int_equal(bw_tlv(&w, 0x80, v, 2), HSM_OK);       /* 4 bytes */
	assert_int_equal(w.len, 4);
	assert_int_equal(bw_tlv(&w, 0x81, v, 6), HSM_ERR_INTERNAL); /* 8 > 4 left */
	assert_int_equal(w.len, 4);
	assert_int_equal(bw_tlv(&w, 0x82, NULL, 0), HSM_ERR_INTERNAL);
	assert_int_equal(w.len, 4);
	assert_int_equal(w.err, HSM_ERR_INTERNAL);
	bytes_init(&c, buf, w.len, "built");
	assert_int_equal(tlv_expect(&c, 0x80, &it), HSM_OK);
	assert_memory_equal(it.val, v, 2);
	assert_true(bytes_at_end(&c));
	w = bw_make(NULL, 100);                              /* no buffer, no room */
	assert_int_equal(bw_tlv(&w, 0x80, NULL, 0), HSM_ERR_INTERNAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_forms),
		cmocka_unit_test(test_long_lengths_and_tags),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_expect_find_enter),
		cmocka_unit_test(test_ints_and_bytes),
		cmocka_unit_test(test_writer_roundtrip),
		cmocka_unit_test(test_messages_and_no_move),
		cmocka_unit_test(test_length_forms),
		cmocka_unit_test(test_multibyte_tags),
		cmocka_unit_test(test_enter_keeps_name),
		cmocka_unit_test(test_sticky_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
