/* SPDX-License-Identifier: BSD-2-Clause */
/* test_blob.c - the key blob format (blob.h): wrapping, strict parsing, the
 * base64 runs of a batch and the JSON Lines text form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/blob.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/vp.h"

typedef struct keyed {
	uint8_t    mk[HSM_KEY_LEN], vp[HSM_VP_LEN];
	blob_kctx *k;
} keyed;

static void
keyed_new(keyed *r)
{
	assert_int_equal(crypto_random(r->mk, sizeof(r->mk)), HSM_OK);
	assert_int_equal(vp_compute(r->mk, r->vp), HSM_OK);
	assert_int_equal(blob_kctx_new(r->mk, r->vp, &r->k), HSM_OK);
}

static void
make_blob(keyed *r, const char *label, uint8_t key[32], uint8_t out[BLOB_LEN])
{
	blob_attrs a;
	uint8_t iv[BLOB_IV_LEN];

	assert_int_equal(blob_attrs_make(BLOB_USE_KNOWN, label, &a), HSM_OK);
	assert_int_equal(crypto_random(key, 32), HSM_OK);
	assert_int_equal(crypto_random(iv, sizeof(iv)), HSM_OK);
	assert_int_equal(blob_seal(r->k, &a, iv, key, out), HSM_OK);
}

static void
test_seal_open_rewrap(void **state)
{
	keyed a, b;
	uint8_t key[32], got[32], blob[BLOB_LEN], re[BLOB_LEN], iv[BLOB_IV_LEN] = { 7 };
	blob_info info, info2;

	(void)state;
	keyed_new(&a);
	keyed_new(&b);
	make_blob(&a, "payments", key, blob);
	assert_memory_equal(blob, "HKB\x01", 4);
	assert_memory_equal(blob + 4, a.vp, BLOB_PREFIX_LEN);
	assert_int_equal(blob_open(a.k, blob, got, &info), HSM_OK);
	assert_memory_equal(got, key, 32);
	assert_int_equal(info.attrs.usage, BLOB_USE_KNOWN);
	assert_true(blob_kctx_matches(a.k, blob));
	assert_false(blob_kctx_matches(b.k, blob));
	/* Another key's blob is refused naming the prefix. */
	assert_int_equal(blob_open(b.k, blob, got, NULL), HSM_ERR_NOT_FOUND);
	/* Re-encipher: the same key and attributes under b, a's copy still opens. */
	assert_int_equal(blob_rewrap(a.k, b.k, iv, blob, re), HSM_OK);
	assert_memory_equal(re + 4, b.vp, BLOB_PREFIX_LEN);
	assert_int_equal(blob_open(b.k, re, got, &info2), HSM_OK);
	assert_memory_equal(got, key, 32);
	assert_memory_equal(&info.attrs, &info2.attrs, sizeof(info.attrs));
	assert_int_equal(blob_open(a.k, re, got, NULL), HSM_ERR_NOT_FOUND);
	/* Every authenticated byte counts: header (AAD), IV, ciphertext, tag. */
	{
		size_t pos[] = { 17, 24, 40, 80 };
		size_t i;
		for (i = 0; i < 4; i++) {
			uint8_t t[BLOB_LEN];
			memcpy(t, blob, BLOB_LEN);
			t[pos[i]] ^= 1;
			assert_int_equal(blob_open(a.k, t, got, NULL), HSM_ERR_VERIFY);
		}
	}
	blob_kctx_free(&a.k);
	blob_kctx_free(&b.k);
	blob_kctx_free(&a.k);
}

static void
test_parse_strict(void **state)
{
	keyed a;
	uint8_t key[32], blob[BLOB_LEN], t[BLOB_LEN];
	blob_info info;

	(void)state;
	keyed_new(&a);
	make_blob(&a, NULL, key, blob);
	assert_int_equal(blob_parse(blob, BLOB_LEN, &info), HSM_OK);
	assert_memory_equal(info.prefix, a.vp, BLOB_PREFIX_LEN);
	assert_int_equal(blob_parse(blob, BLOB_LEN - 1, NULL), HSM_ERR_FORMAT);
	assert_int_equal(blob_parse(NULL, BLOB_LEN, NULL), HSM_ERR_FORMAT);
	memcpy(t, blob, BLOB_LEN); t[0] = 'X';
	assert_int_equal(blob_parse(t, BLOB_LEN, NULL), HSM_ERR_FORMAT);
	memcpy(t, blob, BLOB_LEN); t[3] = 2;
	assert_int_equal(blob_parse(t, BLOB_LEN, NULL), HSM_ERR_FORMAT);
	memcpy(t, blob, BLOB_LEN); t[12] = 0; t[13] = 0;
	assert_int_equal(blob_parse(t, BLOB_LEN, NULL), HSM_ERR_FORMAT);
	memcpy(t, blob, BLOB_LEN); t[13] |= 4;
	assert_int_equal(blob_parse(t, BLOB_LEN, NULL), HSM_ERR_FORMAT);
	memcpy(t, blob, BLOB_LEN); t[15] = 1;
	assert_int_equal(blob_parse(t, BLOB_LEN, NULL), HSM_ERR_FORMAT);
	blob_kctx_free(&a.k);
}

static void
test_attrs_usage(void **state)
{
	blob_attrs a, b;
	unsigned u;

	(void)state;
	assert_int_equal(blob_attrs_make(0, NULL, &a), HSM_ERR_USAGE);
	assert_int_equal(blob_attrs_make(8, NULL, &a), HSM_ERR_USAGE);
	assert_int_equal(blob_attrs_make(BLOB_USE_ENCRYPT, "x", &a), HSM_OK);
	assert_int_equal(blob_attrs_make(BLOB_USE_ENCRYPT, "y", &b), HSM_OK);
	assert_memory_not_equal(a.label, b.label, BLOB_LABEL_LEN);
	assert_int_equal(blob_attrs_make(BLOB_USE_ENCRYPT, "", &b), HSM_OK);
	assert_memory_equal(b.label, "\0\0\0\0\0\0\0\0", BLOB_LABEL_LEN);
	assert_int_equal(blob_usage_parse("all", &u), HSM_OK);
	assert_int_equal(u, BLOB_USE_KNOWN);
	assert_int_equal(blob_usage_parse("decrypt", &u), HSM_OK);
	assert_int_equal(u, BLOB_USE_DECRYPT);
	assert_int_equal(blob_usage_parse("sign", &u), HSM_ERR_USAGE);
}

static void
test_b64_runs(void **state)
{
	keyed a;
	uint8_t key[32], blobs[3 * BLOB_LEN], back[3 * BLOB_LEN];
	char text[3 * BLOB_B64_LEN + 1], *ref = NULL;
	size_t n;
	int i;

	(void)state;
	keyed_new(&a);
	for (i = 0; i < 3; i++)
		make_blob(&a, NULL, key, blobs + i * BLOB_LEN);
	blob_b64_encode(blobs, 3, text);
	assert_int_equal(strlen(text), 3 * BLOB_B64_LEN);
	/* The same text the strict codec makes: no padding, standard alphabet. */
	assert_int_equal(b64_encode(blobs, sizeof(blobs), &ref), HSM_OK);
	assert_string_equal(ref, text);
	free(ref);
	assert_int_equal(blob_b64_decode(text, strlen(text), 3, back, &n), HSM_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(back, blobs, sizeof(blobs));
	assert_int_equal(blob_b64_decode(text, strlen(text), 2, back, &n), HSM_ERR_FORMAT);
	assert_int_equal(blob_b64_decode(text, BLOB_B64_LEN - 4, 3, back, &n), HSM_ERR_FORMAT);
	assert_int_equal(blob_b64_decode(text, 0, 3, back, &n), HSM_ERR_FORMAT);
	text[50] = '-';
	assert_int_equal(blob_b64_decode(text, strlen(text), 3, back, &n), HSM_ERR_FORMAT);
	text[50] = '=';
	assert_int_equal(blob_b64_decode(text, strlen(text), 3, back, &n), HSM_ERR_FORMAT);
	blob_kctx_free(&a.k);
}

/* The table codec against the strict one on every byte value, and every
 * byte outside the alphabet refused at every place, naming its group. */
static void
test_b64_tables(void **state)
{
	uint8_t bytes[BLOB_LEN * 4], back[BLOB_LEN * 4];
	char text[BLOB_B64_LEN * 4 + 1], *ref = NULL, want[80];
	size_t i, n;
	int b;

	(void)state;
	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7 + (i >> 8));   /* all 256 values, in every place */
	blob_b64_encode(bytes, 4, text);
	assert_int_equal(b64_encode(bytes, sizeof(bytes), &ref), HSM_OK);
	assert_string_equal(ref, text);
	free(ref);
	assert_int_equal(blob_b64_decode(text, strlen(text), 4, back, &n), HSM_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(back, bytes, sizeof(bytes));
	for (i = 0; i < 8; i++) {
		for (b = 0; b < 256; b++) {
			char keep = text[100 + i];
			if (isalnum(b) || b == '+' || b == '/')
				continue;
			text[100 + i] = (char)b;
			assert_int_equal(blob_b64_decode(text, 4 * BLOB_B64_LEN, 4, back, &n),
			                 HSM_ERR_FORMAT);
			assert_int_equal(n, 0);
			snprintf(want, sizeof(want), "at %zu", (100 + i) / 4 * 4);
			assert_non_null(strstr(hsm_errmsg(), want));
			text[100 + i] = keep;
		}
	}
}

static void
test_lines(void **state)
{
	keyed a;
	uint8_t key[32], blob[BLOB_LEN], got[BLOB_LEN];
	char line[BLOB_LINE_MAX], id[BLOB_ID_MAX + 1], b64[BLOB_B64_LEN + 1], other[512];
	size_t n;

	(void)state;
	keyed_new(&a);
	make_blob(&a, NULL, key, blob);
	blob_b64_encode(blob, 1, b64);
	n = blob_line_format(blob, "cust-42", line);
	assert_int_equal(n, strlen(line));
	assert_int_equal(line[n - 1], '\n');
	assert_int_equal(blob_line_parse(line, n - 1, got, id), HSM_OK);
	assert_memory_equal(got, blob, BLOB_LEN);
	assert_string_equal(id, "cust-42");
	n = blob_line_format(blob, NULL, line);
	assert_int_equal(blob_line_parse(line, n - 1, got, id), HSM_OK);
	assert_string_equal(id, "");
	/* Any JSON spelling is read; output is always canonical. */
	snprintf(other, sizeof(other), "{ \"id\" : \"x 1\", \"blob\": \"%s\" }\r", b64);
	assert_int_equal(blob_line_parse(other, strlen(other), got, id), HSM_OK);
	assert_string_equal(id, "x 1");
	/* Strict: other members, a bad id, a bad blob, not JSON. */
	snprintf(other, sizeof(other), "{\"blob\":\"%s\",\"id\":\"a\",\"x\":1}", b64);
	assert_int_equal(blob_line_parse(other, strlen(other), got, id), HSM_ERR_FORMAT);
	snprintf(other, sizeof(other), "{\"blob\":\"%s\",\"id\":\"a\\nb\"}", b64);
	assert_int_equal(blob_line_parse(other, strlen(other), got, id), HSM_ERR_FORMAT);
	snprintf(other, sizeof(other), "{\"blob\":\"%s\",\"id\":\"\"}", b64);
	assert_int_equal(blob_line_parse(other, strlen(other), got, id), HSM_ERR_FORMAT);
	snprintf(other, sizeof(other), "{\"blob\":\"%.108s\"}", b64);
	assert_int_equal(blob_line_parse(other, strlen(other), got, id), HSM_ERR_FORMAT);
	snprintf(other, sizeof(other), "{\"blob\":\"%s\"", b64);
	assert_int_equal(blob_line_parse(other, strlen(other), got, id), HSM_ERR_FORMAT);
	assert_int_equal(blob_line_parse("[]", 2, got, id), HSM_ERR_FORMAT);
	b64[0] = b64[0] == 'A' ? 'B' : 'A';   /* magic changes: not a blob */
	snprintf(other, sizeof(other), "{\"blob\":\"%s\"}", b64);
	assert_int_equal(blob_line_parse(other, strlen(other), got, id), HSM_ERR_FORMAT);
	blob_kctx_free(&a.k);
}

static void
test_data(void **state)
{
	uint8_t key[32], key2[32], *ct = NULL, *pt = NULL;
	size_t ctlen, ptlen;

	(void)state;
	assert_int_equal(crypto_random(key, 32), HSM_OK);
	assert_int_equal(crypto_random(key2, 32), HSM_OK);
	assert_int_equal(blob_data_seal(key, (const uint8_t *)"hello", 5, &ct, &ctlen), HSM_OK);
	assert_int_equal(ctlen, 5 + BLOB_DATA_OVERHEAD);
	assert_int_equal(blob_data_open(key, ct, ctlen, &pt, &ptlen), HSM_OK);
	assert_int_equal(ptlen, 5);
	assert_memory_equal(pt, "hello", 5);
	free(pt);
	assert_int_equal(blob_data_open(key2, ct, ctlen, &pt, &ptlen), HSM_ERR_VERIFY);
	assert_null(pt);
	assert_int_equal(blob_data_open(key, ct, 10, &pt, &ptlen), HSM_ERR_FORMAT);
	free(ct);
	assert_int_equal(blob_data_seal(key, (const uint8_t *)"", 0, &ct, &ctlen), HSM_OK);
	assert_int_equal(blob_data_open(key, ct, ctlen, &pt, &ptlen), HSM_OK);
	assert_int_equal(ptlen, 0);
	free(ct);
	free(pt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_open_rewrap),
		cmocka_unit_test(test_parse_strict),
		cmocka_unit_test(test_attrs_usage),
		cmocka_unit_test(test_b64_runs),
		cmocka_unit_test(test_b64_tables),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_data),
	};

	if (secure_init() != HSM_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
