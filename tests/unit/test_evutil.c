/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evutil.c - the evidence log's small shared helpers (evidence/evutil.c,
 * declared in evint.h): the two-part SHA-256 of a line and its prev hash,
 * the bytes a signed head covers (everything but body.signature), the hex
 * spelling of a public key, and the syntax checks for hex, RFC 3339 times
 * and record type names, with the inputs each must refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "evint.h"

/* FIPS 180-2 appendix B.1: SHA-256("abc"). */
static const char ABC_SHA256[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/* SHA-256 of no bytes. */
static const char EMPTY_SHA256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static void
assert_hash_hex(const uint8_t h[32], const char *want)
{
	char hex[65];

	hex_encode_buf(h, 32, hex);
	assert_string_equal(hex, want);
}

/* The split between the two parts does not matter; either may be empty. */
static void
test_sha256_2_split(void **state)
{
	uint8_t h[32];

	(void)state;
	assert_int_equal(ev_sha256_2("abc", 3, NULL, 0, h), HSM_OK);
	assert_hash_hex(h, ABC_SHA256);
	assert_int_equal(ev_sha256_2(NULL, 0, "abc", 3, h), HSM_OK);
	assert_hash_hex(h, ABC_SHA256);
	assert_int_equal(ev_sha256_2("a", 1, "bc", 2, h), HSM_OK);
	assert_hash_hex(h, ABC_SHA256);
	assert_int_equal(ev_sha256_2("ab", 2, "c", 1, h), HSM_OK);
	assert_hash_hex(h, ABC_SHA256);
	assert_int_equal(ev_sha256_2(NULL, 0, NULL, 0, h), HSM_OK);
	assert_hash_hex(h, EMPTY_SHA256);
	/* the order of the parts does matter */
	assert_int_equal(ev_sha256_2("bc", 2, "a", 1, h), HSM_OK);
	{
		char hex[65];
		hex_encode_buf(h, 32, hex);
		assert_string_not_equal(hex, ABC_SHA256);
	}
}

static json_t *
head_record(void)
{
	json_error_t je;
	json_t *r = json_loads("{\"seq\":7,\"time\":\"2026-12-05T16:33:50Z\","
	    "\"type\":\"log.signed_head\",\"actor\":{\"name\":\"S\",\"role\":\"supervisor\"},"
	    "\"body\":{\"head_seq\":6,\"signature\":\"3045abcd\",\"ski\":\"00\"},"
	    "\"prev\":\"aa\"}", 0, &je);

	assert_non_null(r);
	return r;
}

/* Every field but body.signature is covered, canonically, and the record
 * itself is left as it was. */
static void
test_head_signed_bytes(void **state)
{
	json_t *r = head_record(), *r2;
	char *b = NULL, *b2 = NULL;
	size_t n = 0, n2 = 0;

	(void)state;
	assert_int_equal(ev_head_signed_bytes(r, &b, &n), HSM_OK);
	assert_non_null(b);
	assert_int_equal(strlen(b), n);
	assert_string_equal(b, "{\"actor\":{\"name\":\"S\",\"role\":\"supervisor\"},"
	    "\"body\":{\"head_seq\":6,\"ski\":\"00\"},\"prev\":\"aa\",\"seq\":7,"
	    "\"time\":\"2026-12-05T16:33:50Z\",\"type\":\"log.signed_head\"}");
	/* the caller's record still has its signature */
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "body"),
	    "signature")), "3045abcd");

	/* another signature: the same bytes; another prev: other bytes */
	r2 = json_deep_copy(r);
	json_object_set_new(json_object_get(r2, "body"), "signature", json_string("ffff"));
	assert_int_equal(ev_head_signed_bytes(r2, &b2, &n2), HSM_OK);
	assert_int_equal(n2, n);
	assert_memory_equal(b2, b, n);
	free(b2);
	json_object_set_new(r2, "prev", json_string("ab"));
	assert_int_equal(ev_head_signed_bytes(r2, &b2, &n2), HSM_OK);
	assert_true(n2 != n || memcmp(b2, b, n) != 0);
	free(b2);
	json_decref(r2);
	free(b);
	json_decref(r);
}

static void
test_head_signed_bytes_bad(void **state)
{
	json_t *r = head_record(), *a = json_array();
	char *b = (char *)"untouched";
	size_t n = 0;

	(void)state;
	assert_int_equal(ev_head_signed_bytes(a, &b, &n), HSM_ERR_FORMAT);
	assert_null(b);
	/* a body that is not an object */
	json_object_set_new(r, "body", json_string("x"));
	b = (char *)"untouched";
	assert_int_equal(ev_head_signed_bytes(r, &b, &n), HSM_ERR_FORMAT);
	assert_null(b);
	json_object_del(r, "body");
	assert_int_equal(ev_head_signed_bytes(r, &b, &n), HSM_ERR_FORMAT);
	assert_null(b);
	/* a value canonical JSON cannot hold */
	json_object_set_new(r, "body", json_pack("{s:f}", "x", 1.5));
	assert_int_equal(ev_head_signed_bytes(r, &b, &n), HSM_ERR_FORMAT);
	assert_null(b);
	json_decref(r);
	json_decref(a);
}

/* 04||X||Y in lowercase hex, and it decodes back to the same key. */
static void
check_pub_hex(hsm_curve c, size_t ptlen)
{
	EVP_PKEY *k = NULL, *back = NULL;
	uint8_t *pt = NULL;
	size_t n = 0;
	char *hex = NULL;

	assert_int_equal(crypto_ec_generate(c, &k), HSM_OK);
	assert_int_equal(ev_pub_to_hex(k, &hex), HSM_OK);
	assert_non_null(hex);
	assert_true(ev_is_hex(hex, ptlen));
	assert_memory_equal(hex, "04", 2);
	assert_int_equal(hex_decode(hex, &pt, &n), HSM_OK);
	assert_int_equal(n, ptlen);
	assert_int_equal(crypto_ec_from_point(c, pt, n, &back), HSM_OK);
	assert_int_equal(EVP_PKEY_eq(k, back), 1);
	EVP_PKEY_free(back);
	free(pt);
	free(hex);
	EVP_PKEY_free(k);
}

static void
test_pub_to_hex(void **state)
{
	(void)state;
	check_pub_hex(HSM_CURVE_P256, 65);
	check_pub_hex(HSM_CURVE_P384, 97);
	check_pub_hex(HSM_CURVE_P521, 133);
}

/* A key that is not EC has no point to spell. */
static void
test_pub_to_hex_not_ec(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *hex = (char *)"untouched";

	(void)state;
	assert_non_null(k);
	assert_int_not_equal(ev_pub_to_hex(k, &hex), HSM_OK);
	assert_null(hex);
	EVP_PKEY_free(k);
}

static void
test_is_hex(void **state)
{
	(void)state;
	assert_true(ev_is_hex("00ff7a", 3));
	assert_true(ev_is_hex("", 0));
	assert_false(ev_is_hex("00FF7a", 3));     /* uppercase */
	assert_false(ev_is_hex("00ff7", 3));      /* one digit short */
	assert_false(ev_is_hex("00ff7a0", 3));    /* one digit long */
	assert_false(ev_is_hex("00ff7a", 2));
	assert_false(ev_is_hex("00fg7a", 3));     /* not a hex digit */
	assert_false(ev_is_hex("00 f7a", 3));
	assert_false(ev_is_hex(NULL, 0));
}

static void
test_is_rfc3339_utc(void **state)
{
	static const char *good[] = {
		"2026-12-05T16:33:50Z", "2026-12-05T16:33:50.1Z",
		"2026-12-05T16:33:50.123456789Z",
		"2026-12-05T16:33:50.1234567890123456789Z",   /* 40 characters */
	};
	static const char *bad[] = {
		"", "2026-12-05T16:33:50", "2026-12-05T16:33:50z", "2026-12-05 16:33:50Z",
		"2026-12-05T16:33:50+00:00", "2026-12-05T16:33:50.Z", "2026-12-05T16:33Z",
		"26-12-05T16:33:50Z", "2026/12/05T16:33:50Z", "2026-12-05T16-33-50Z",
		"2026-1a-05T16:33:50Z", "2026-12-05T16:33:50,5Z", "2026-12-05T16:33:50.5xZ",
		"2026-12-05T16:33:50.12345678901234567890Z",  /* 41 characters */
		"2026-12-05T16:33:50ZZ",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!ev_is_rfc3339_utc(good[i]))
			fail_msg("refused %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ev_is_rfc3339_utc(bad[i]))
			fail_msg("accepted %s", bad[i]);
	assert_false(ev_is_rfc3339_utc(NULL));
}

static void
test_is_type_name(void **state)
{
	char n64[66];

	(void)state;
	assert_true(ev_is_type_name("command.signed"));
	assert_true(ev_is_type_name("mk.approve_load"));
	assert_true(ev_is_type_name("x-1"));
	memset(n64, 'a', 64);
	n64[64] = '\0';
	assert_true(ev_is_type_name(n64));
	n64[64] = 'a';
	n64[65] = '\0';
	assert_false(ev_is_type_name(n64));
	assert_false(ev_is_type_name(""));
	assert_false(ev_is_type_name(NULL));
	assert_false(ev_is_type_name("Command.signed"));
	assert_false(ev_is_type_name("command signed"));
	assert_false(ev_is_type_name("command/signed"));
	assert_false(ev_is_type_name("command.signed\n"));
	assert_false(ev_is_type_name("k\xc3\xa9y"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_2_split),
		cmocka_unit_test(test_head_signed_bytes),
		cmocka_unit_test(test_head_signed_bytes_bad),
		cmocka_unit_test(test_pub_to_hex),
		cmocka_unit_test(test_pub_to_hex_not_ec),
		cmocka_unit_test(test_is_hex),
		cmocka_unit_test(test_is_rfc3339_utc),
		cmocka_unit_test(test_is_type_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
