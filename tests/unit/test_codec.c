/* SPDX-License-Identifier: BSD-2-Clause */
/* test_codec.c - strict hex and base64: RFC 4648 vectors and every refusal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/codec.h"

/* Decode s; expect HSM_ERR_FORMAT and a message containing want. */
static void
hex_refused(const char *s, const char *want)
{
	uint8_t *out = (uint8_t *)"sentinel";
	size_t n = 99;

	hsm_err_clear();
	assert_int_equal(hex_decode(s, &out, &n), HSM_ERR_FORMAT);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_int_equal(hsm_errcode(), HSM_ERR_FORMAT);
	if (strstr(hsm_errmsg(), want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", hsm_errmsg(), want);
}

static void
b64_refused(const char *s, const char *want)
{
	uint8_t *out = (uint8_t *)"sentinel";
	size_t n = 99;

	hsm_err_clear();
	assert_int_equal(b64_decode(s, &out, &n), HSM_ERR_FORMAT);
	assert_null(out);
	assert_int_equal(n, 0);
	if (strstr(hsm_errmsg(), want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", hsm_errmsg(), want);
}

static void
test_hex_roundtrip(void **state)
{
	uint8_t all[256], *back = NULL;
	size_t n = 0;
	char *s = NULL, buf[7];

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	assert_int_equal(hex_encode(all, sizeof(all), &s), HSM_OK);
	assert_int_equal(strlen(s), 512);
	assert_memory_equal(s, "000102", 6);
	assert_string_equal(s + 500, "fafbfcfdfeff");
	assert_int_equal(hex_decode(s, &back, &n), HSM_OK);
	assert_int_equal(n, 256);
	assert_memory_equal(back, all, 256);
	free(s);
	free(back);

	hex_encode_buf((const uint8_t *)"\xde\xad\xbe", 3, buf);
	assert_string_equal(buf, "deadbe");

	/* Empty is a valid encoding of zero bytes. */
	assert_int_equal(hex_encode(all, 0, &s), HSM_OK);
	assert_string_equal(s, "");
	assert_int_equal(hex_decode(s, &back, &n), HSM_OK);
	assert_non_null(back);
	assert_int_equal(n, 0);
	free(s);
	free(back);
}

static void
test_hex_refusals(void **state)
{
	(void)state;
	hex_refused("ABCD", "uppercase");
	hex_refused("abcD", "uppercase digit 'D' at position 3");
	hex_refused("abc", "odd number of digits");
	hex_refused("ab cd", "a space at position 2");
	hex_refused(" abcd", "a space at position 0");
	hex_refused("abcd\n", "whitespace at position 4");
	hex_refused("abcd\t", "whitespace at position 4");
	hex_refused("ab\ncd", "whitespace at position 2");
	hex_refused("0x00", "'x' at position 1");
	hex_refused("zz", "'z' at position 0");
	hex_refused("a\xc3\xa9", "0xc3 at position 1");
	assert_int_equal(hex_decode(NULL, &(uint8_t *){ NULL }, &(size_t){ 0 }),
	    HSM_ERR_USAGE);
}

static void
test_hex_decode_into(void **state)
{
	uint8_t out[4] = { 1, 2, 3, 4 };
	const uint8_t keep[4] = { 1, 2, 3, 4 };

	(void)state;
	assert_int_equal(hex_decode_into("00ff10a0", out, 4), HSM_OK);
	assert_memory_equal(out, "\x00\xff\x10\xa0", 4);

	memcpy(out, keep, 4);
	assert_int_equal(hex_decode_into("00ff10", out, 4), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "expected 4 bytes (8 digits), got 6"));
	assert_int_equal(hex_decode_into("00ff10a0b0", out, 4), HSM_ERR_FORMAT);
	assert_int_equal(hex_decode_into("00ff10a", out, 4), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "odd"));
	/* A bad digit late in the string leaves the buffer untouched. */
	assert_int_equal(hex_decode_into("00ff10aG", out, 4), HSM_ERR_FORMAT);
	assert_memory_equal(out, keep, 4);
	/* The *_into variant may hold a secret: the bad character is located
	 * but not shown. */
	assert_string_equal(hsm_errmsg(),
	    "hex: a character at position 7 is not a hex digit (0-9, a-f)");
	assert_int_equal(hex_decode_into("00FF10A0", out, 4), HSM_ERR_FORMAT);
	assert_string_equal(hsm_errmsg(),
	    "hex: uppercase digit at position 2; only lowercase hex (0-9, a-f) "
	    "is accepted");
	assert_memory_equal(out, keep, 4);
}

static void
test_b64_rfc4648_vectors(void **state)
{
	/* RFC 4648 section 10. */
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *s = NULL;
		uint8_t *b = NULL;
		size_t n = 99;
		assert_int_equal(b64_encode((const uint8_t *)v[i][0], strlen(v[i][0]), &s),
		    HSM_OK);
		assert_string_equal(s, v[i][1]);
		assert_int_equal(b64_decode(v[i][1], &b, &n), HSM_OK);
		assert_int_equal(n, strlen(v[i][0]));
		assert_memory_equal(b, v[i][0], n);
		free(s);
		free(b);
	}
}

static void
test_b64_roundtrip_all_lengths(void **state)
{
	uint8_t in[300];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(in); len++) {
		char *s = NULL;
		uint8_t *b = NULL;
		size_t n = 0;
		assert_int_equal(b64_encode(in, len, &s), HSM_OK);
		assert_int_equal(strlen(s), (len + 2) / 3 * 4);
		assert_int_equal(b64_decode(s, &b, &n), HSM_OK);
		assert_int_equal(n, len);
		if (len > 0)
			assert_memory_equal(b, in, len);
		free(s);
		free(b);
	}
	/* Bytes that need '+' and '/'. */
	{
		char *s = NULL;
		assert_int_equal(b64_encode((const uint8_t *)"\xfb\xff\xbf", 3, &s), HSM_OK);
		assert_string_equal(s, "+/+/");
		free(s);
	}
}

static void
test_b64_refusals(void **state)
{
	(void)state;
	/* Padding missing or short. */
	b64_refused("Zg", "not a multiple of 4");
	b64_refused("Zg=", "not a multiple of 4");
	b64_refused("Zm9vYg", "not a multiple of 4");
	/* Too much padding, or padding in the middle. */
	b64_refused("Z===", "padding '=' at position 1");
	b64_refused("====", "padding '=' at position 0");
	b64_refused("Zg==Zg==", "padding '=' at position 2");
	b64_refused("Zm=v", "padding '=' at position 2");
	b64_refused("Zg==\n", "whitespace at position 4");
	b64_refused("Zg===", "not a multiple of 4");
	b64_refused("Zg==Zg=", "not a multiple of 4");
	/* Non-zero bits hidden by the padding: "Zh==" and "Zm9=" decode to the
	 * same bytes as "Zg==" / "Zm8=" in lax decoders. */
	b64_refused("Zh==", "non-zero bits before the padding at position 1");
	b64_refused("Zm9=", "non-zero bits before the padding at position 2");
	b64_refused("Zm9vZh==", "not canonical");
	/* Whitespace anywhere. */
	b64_refused("Zm9v Zm9v", "a space at position 4");
	b64_refused(" Zm9v", "a space at position 0");
	b64_refused("Zm9 Zm9v", "a space at position 3");
	b64_refused("Zm9\nYmFy", "whitespace at position 3");
	b64_refused("Zm9v\r\nYmFy==", "whitespace at position 4");
	/* URL-safe alphabet. */
	b64_refused("-_-_", "URL-safe alphabet");
	b64_refused("Zm9_", "'_' at position 3 is from the URL-safe alphabet");
	/* Other characters. */
	b64_refused("Zm9*", "'*' at position 3 is not a base64 character");
	b64_refused("Zm9\x01", "0x01 at position 3");
	assert_int_equal(b64_decode(NULL, &(uint8_t *){ NULL }, &(size_t){ 0 }),
	    HSM_ERR_USAGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_roundtrip),
		cmocka_unit_test(test_hex_refusals),
		cmocka_unit_test(test_hex_decode_into),
		cmocka_unit_test(test_b64_rfc4648_vectors),
		cmocka_unit_test(test_b64_roundtrip_all_lengths),
		cmocka_unit_test(test_b64_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
