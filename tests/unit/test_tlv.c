/* SPDX-License-Identifier: BSD-2-Clause */
/* test_tlv.c - the checked TLV reader/writer: every length form, every way a
 * card's bytes can be short or malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/tlv.h"

static void
test_short_forms(void **st)
{
	const uint8_t b[] = { 0x80, 0x02, 0xAA, 0xBB, 0x81, 0x00 };
	tlv_cur c;
	tlv_item it;

	(void)st;
	tlv_init(&c, b, sizeof(b));
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x80);
	assert_int_equal(it.len, 2);
	assert_int_equal(it.val[1], 0xBB);
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x81);
	assert_int_equal(it.len, 0);
	assert_true(tlv_at_end(&c));
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
}

static void
test_long_lengths_and_tags(void **st)
{
	uint8_t b[300 + 8];
	tlv_cur c;
	tlv_item it;

	(void)st;
	/* 7F 49 81 80 <128> */
	memset(b, 0x55, sizeof(b));
	b[0] = 0x7F, b[1] = 0x49, b[2] = 0x81, b[3] = 0x80;
	tlv_init(&c, b, 4 + 128);
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x7F49);
	assert_int_equal(it.len, 128);
	/* 5F C1 02 82 01 2C <300> */
	b[0] = 0x5F, b[1] = 0xC1, b[2] = 0x02, b[3] = 0x82, b[4] = 0x01, b[5] = 0x2C;
	tlv_init(&c, b, 6 + 300);
	assert_int_equal(tlv_next(&c, &it), HSM_OK);
	assert_int_equal(it.tag, 0x5FC102);
	assert_int_equal(it.len, 300);
	assert_true(tlv_at_end(&c));
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
	tlv_cur c;
	tlv_item it;

	(void)st;
	tlv_init(&c, overlong, sizeof(overlong));
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	assert_int_equal(c.off, 0);   /* cursor unchanged on failure */
	tlv_init(&c, badform, sizeof(badform));
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	tlv_init(&c, indef, sizeof(indef));
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	tlv_init(&c, cut81, sizeof(cut81));
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	tlv_init(&c, cut82, sizeof(cut82));
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	tlv_init(&c, cuttag, sizeof(cuttag));
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	tlv_init(&c, longtag, sizeof(longtag));
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
	tlv_init(&c, NULL, 0);
	assert_int_equal(tlv_next(&c, &it), HSM_ERR_FORMAT);
}

static void
test_expect_find_enter(void **st)
{
	/* 7C 0A 80 08 <8> : the witness of a management-key challenge */
	const uint8_t b[] = { 0x7C, 0x0A, 0x80, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x90, 0x00 };
	tlv_cur c, in;
	tlv_item it, f;

	(void)st;
	tlv_init(&c, b, 12);
	assert_int_equal(tlv_expect(&c, 0x7D, &it), HSM_ERR_FORMAT);
	assert_int_equal(c.off, 0);
	assert_int_equal(tlv_expect(&c, 0x7C, &it), HSM_OK);
	tlv_enter(&it, &in);
	assert_int_equal(tlv_find(&in, 0x81, &f), HSM_ERR_NOT_FOUND);
	assert_int_equal(tlv_find(&in, 0x80, &f), HSM_OK);
	assert_int_equal(f.len, 8);
	assert_int_equal(in.off, 0);   /* find does not move */
	/* find over a malformed list is a format error, not "absent" */
	tlv_init(&c, b, 13);
	assert_int_equal(tlv_find(&c, 0x99, &f), HSM_ERR_FORMAT);
}

static void
test_ints_and_bytes(void **st)
{
	const uint8_t b[] = { 0x00, 0xBC, 0x61, 0x4E, 0x12, 0x34, 0x56 };
	const uint8_t *p;
	tlv_cur c;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;

	(void)st;
	tlv_init(&c, b, sizeof(b));
	assert_int_equal(tlv_get_u32(&c, &v32), HSM_OK);
	assert_int_equal(v32, 12345678);
	assert_int_equal(tlv_get_u16(&c, &v16), HSM_OK);
	assert_int_equal(v16, 0x1234);
	assert_int_equal(tlv_get_u16(&c, &v16), HSM_ERR_FORMAT);
	assert_int_equal(tlv_get_u8(&c, &v8), HSM_OK);
	assert_int_equal(v8, 0x56);
	assert_int_equal(tlv_get_u8(&c, &v8), HSM_ERR_FORMAT);
	assert_int_equal(tlv_get_bytes(&c, 1, &p), HSM_ERR_FORMAT);
	assert_int_equal(tlv_left(&c), 0);
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
		tlv_cur c;
		tlv_item it;

		assert_int_equal(tlv_put(out, sizeof(out), &off, 0x5FC10A, v, sizes[i]), HSM_OK);
		assert_int_equal(off, tlv_size(0x5FC10A, sizes[i]));
		tlv_init(&c, out, off);
		assert_int_equal(tlv_next(&c, &it), HSM_OK);
		assert_int_equal(it.tag, 0x5FC10A);
		assert_int_equal(it.len, sizes[i]);
		assert_true(tlv_at_end(&c));
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
