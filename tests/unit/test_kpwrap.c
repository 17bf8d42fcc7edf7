/* SPDX-License-Identifier: BSD-2-Clause */
/* test_kpwrap.c - key-part transport: round trip, and every binding mismatch refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/crypto.h"
#include "hsmadm/kpwrap.h"
#include "hsmadm/signer.h"

struct fx {
	EVP_PKEY *imp;      /* importer key of the domain */
	EVP_PKEY *other;    /* another P-384 key */
	hsm_secbuf *part;
	char dir[64];
	char keyfile[128];
};

static const kpwrap_binding good = { "DC1-M01", 7, 2 };

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t p[KPWRAP_PART_LEN];

	if (f == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)(0x11 * i + 3);
	if (crypto_ec_generate(HSM_CURVE_P384, &f->imp) != HSM_OK ||
	    crypto_ec_generate(HSM_CURVE_P384, &f->other) != HSM_OK ||
	    secbuf_from(p, sizeof(p), &f->part) != HSM_OK)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_kpwrap.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->keyfile, sizeof(f->keyfile), "%s/importer.pem", f->dir);
	if (crypto_priv_save_pem(f->keyfile, f->imp) != HSM_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->keyfile);
	rmdir(f->dir);
	EVP_PKEY_free(f->imp);
	EVP_PKEY_free(f->other);
	secbuf_free(&f->part);
	free(f);
	return 0;
}

static void
test_round_trip_pkey_and_keyagree(void **state)
{
	struct fx *f = *state;
	kpwrap_blob blob, blob2;
	hsm_secbuf *out = NULL;
	hsm_keyagree *ka = NULL;

	assert_int_equal(kpwrap_wrap(f->part, f->imp, &good, &blob), HSM_OK);
	assert_int_equal(blob.epk[0], 0x04);
	assert_int_equal(kpwrap_unwrap_pkey(&blob, f->imp, &good, &out), HSM_OK);
	assert_non_null(out);
	assert_int_equal(out->len, KPWRAP_PART_LEN);
	assert_true(secure_equal(out->data, f->part->data, KPWRAP_PART_LEN));
	secbuf_free(&out);

	assert_int_equal(keyagree_from_keyfile(f->keyfile, &ka), HSM_OK);
	assert_int_equal(kpwrap_unwrap(&blob, ka, &good, &out), HSM_OK);
	assert_true(secure_equal(out->data, f->part->data, KPWRAP_PART_LEN));
	secbuf_free(&out);
	keyagree_free(&ka);
	assert_null(ka);

	/* A fresh ephemeral key each time: two wraps of the same part differ. */
	assert_int_equal(kpwrap_wrap(f->part, f->imp, &good, &blob2), HSM_OK);
	assert_memory_not_equal(blob.epk, blob2.epk, KPWRAP_EPK_LEN);
	assert_memory_not_equal(blob.wrapped, blob2.wrapped, KPWRAP_WRAPPED_LEN);
}

static void
expect_refused(struct fx *f, const kpwrap_blob *blob, EVP_PKEY *key,
               const kpwrap_binding *b)
{
	hsm_secbuf *out = NULL;

	assert_int_equal(kpwrap_unwrap_pkey(blob, key, b, &out), HSM_ERR_VERIFY);
	assert_null(out);
	assert_non_null(strstr(hsm_errmsg(), "does not open"));
	(void)f;
}

static void
test_binding_mismatch_refused(void **state)
{
	struct fx *f = *state;
	kpwrap_blob blob;
	kpwrap_binding b;

	assert_int_equal(kpwrap_wrap(f->part, f->imp, &good, &blob), HSM_OK);

	b = good; b.domain = 8;
	expect_refused(f, &blob, f->imp, &b);
	b = good; b.module_serial = "DC2-M01";
	expect_refused(f, &blob, f->imp, &b);
	b = good; b.module_serial = "DC1-M0";      /* prefix of the real one */
	expect_refused(f, &blob, f->imp, &b);
	b = good; b.part_index = 1;
	expect_refused(f, &blob, f->imp, &b);
	b = good; b.part_index = 3;
	expect_refused(f, &blob, f->imp, &b);
	/* Another importer key: another shared secret and another SKI. */
	expect_refused(f, &blob, f->other, &good);
}

static void
test_tampering_refused(void **state)
{
	struct fx *f = *state;
	kpwrap_blob blob, t;
	hsm_secbuf *out = NULL;

	assert_int_equal(kpwrap_wrap(f->part, f->imp, &good, &blob), HSM_OK);
	for (size_t i = 0; i < KPWRAP_WRAPPED_LEN; i += 7) {
		t = blob;
		t.wrapped[i] ^= 0x01;
		expect_refused(f, &t, f->imp, &good);
	}
	/* A point that is not on the curve is malformed input. */
	t = blob;
	t.epk[50] ^= 0x01;
	assert_int_equal(kpwrap_unwrap_pkey(&t, f->imp, &good, &out), HSM_ERR_FORMAT);
	assert_null(out);
	t = blob;
	t.epk[0] = 0x02;
	assert_int_equal(kpwrap_unwrap_pkey(&t, f->imp, &good, &out), HSM_ERR_FORMAT);
	assert_null(out);
}

static void
test_bad_arguments(void **state)
{
	struct fx *f = *state;
	kpwrap_blob blob;
	kpwrap_binding b;
	hsm_secbuf *short_part = NULL, *out = NULL;
	EVP_PKEY *p256 = NULL;
	char longserial[KPWRAP_SERIAL_MAX + 2];

	assert_int_equal(secbuf_from("0123456789012345678901234567890", 31, &short_part), HSM_OK);
	assert_int_equal(kpwrap_wrap(short_part, f->imp, &good, &blob), HSM_ERR_USAGE);
	secbuf_free(&short_part);
	assert_int_equal(kpwrap_wrap(NULL, f->imp, &good, &blob), HSM_ERR_USAGE);
	assert_int_equal(kpwrap_wrap(f->part, NULL, &good, &blob), HSM_ERR_USAGE);

	b = good; b.module_serial = "";
	assert_int_equal(kpwrap_wrap(f->part, f->imp, &b, &blob), HSM_ERR_USAGE);
	b = good; b.module_serial = "DC1 M01";
	assert_int_equal(kpwrap_wrap(f->part, f->imp, &b, &blob), HSM_ERR_USAGE);
	memset(longserial, 'A', sizeof(longserial) - 1);
	longserial[sizeof(longserial) - 1] = '\0';
	b = good; b.module_serial = longserial;
	assert_int_equal(kpwrap_wrap(f->part, f->imp, &b, &blob), HSM_ERR_USAGE);
	b = good; b.part_index = 0;
	assert_int_equal(kpwrap_wrap(f->part, f->imp, &b, &blob), HSM_ERR_USAGE);

	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &p256), HSM_OK);
	assert_int_equal(kpwrap_wrap(f->part, p256, &good, &blob), HSM_ERR_USAGE);
	assert_int_equal(kpwrap_wrap(f->part, f->imp, &good, &blob), HSM_OK);
	assert_int_equal(kpwrap_unwrap_pkey(&blob, p256, &good, &out), HSM_ERR_USAGE);
	assert_null(out);
	EVP_PKEY_free(p256);
}

static void
test_json_round_trip_and_strictness(void **state)
{
	struct fx *f = *state;
	kpwrap_blob blob, back;
	json_t *j = NULL, *bad;
	hsm_secbuf *out = NULL;
	char *s;

	assert_int_equal(kpwrap_wrap(f->part, f->imp, &good, &blob), HSM_OK);
	assert_int_equal(kpwrap_blob_to_json(&blob, &j), HSM_OK);
	assert_int_equal(json_integer_value(json_object_get(j, "v")), 1);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "epk"))), 2 * KPWRAP_EPK_LEN);
	assert_int_equal(kpwrap_blob_from_json(j, &back), HSM_OK);
	assert_memory_equal(&blob, &back, sizeof(blob));
	assert_int_equal(kpwrap_unwrap_pkey(&back, f->imp, &good, &out), HSM_OK);
	secbuf_free(&out);

	bad = json_deep_copy(j);
	json_object_set_new(bad, "v", json_integer(2));
	assert_int_equal(kpwrap_blob_from_json(bad, &back), HSM_ERR_FORMAT);
	json_decref(bad);

	bad = json_deep_copy(j);
	json_object_del(bad, "wrapped");
	assert_int_equal(kpwrap_blob_from_json(bad, &back), HSM_ERR_FORMAT);
	json_decref(bad);

	bad = json_deep_copy(j);
	json_object_set_new(bad, "part", json_string("00"));
	assert_int_equal(kpwrap_blob_from_json(bad, &back), HSM_ERR_FORMAT);
	json_decref(bad);

	bad = json_deep_copy(j);
	s = strdup(json_string_value(json_object_get(j, "wrapped")));
	s[strlen(s) - 2] = '\0';                      /* one byte short */
	json_object_set_new(bad, "wrapped", json_string(s));
	assert_int_equal(kpwrap_blob_from_json(bad, &back), HSM_ERR_FORMAT);
	free(s);
	json_decref(bad);

	bad = json_deep_copy(j);
	s = strdup(json_string_value(json_object_get(j, "epk")));
	s[0] = '0'; s[1] = '3';                       /* compressed-point prefix */
	json_object_set_new(bad, "epk", json_string(s));
	assert_int_equal(kpwrap_blob_from_json(bad, &back), HSM_ERR_FORMAT);
	free(s);
	json_decref(bad);

	bad = json_string("not an object");
	assert_int_equal(kpwrap_blob_from_json(bad, &back), HSM_ERR_FORMAT);
	json_decref(bad);
	json_decref(j);
}

static void
test_group_form(void **state)
{
	struct fx *f = *state;
	kpwrap_binding b1 = { "DC1-M01", 3, 1 }, b2 = { "DC2-M01", 3, 1 };
	kpwrap_blob w1, w2, got;
	json_t *g = NULL, *single = NULL, *bad;
	hsm_secbuf *out = NULL;

	assert_int_equal(kpwrap_wrap(f->part, f->imp, &b1, &w1), HSM_OK);
	assert_int_equal(kpwrap_wrap(f->part, f->other, &b2, &w2), HSM_OK);
	assert_int_equal(kpwrap_group_new(&g), HSM_OK);
	assert_int_equal(kpwrap_group_add(g, "DC1-M01", 3, &w1), HSM_OK);
	assert_int_equal(kpwrap_group_add(g, "DC2-M01", 3, &w2), HSM_OK);

	/* Each module finds its own blob and only that one opens for it. */
	assert_int_equal(kpwrap_blob_for_target(g, "DC1-M01", 3, &got), HSM_OK);
	assert_memory_equal(&got, &w1, sizeof(got));
	assert_int_equal(kpwrap_unwrap_pkey(&got, f->imp, &b1, &out), HSM_OK);
	secbuf_free(&out);
	assert_int_equal(kpwrap_blob_for_target(g, "DC2-M01", 3, &got), HSM_OK);
	assert_memory_equal(&got, &w2, sizeof(got));
	assert_int_equal(kpwrap_unwrap_pkey(&got, f->other, &b2, &out), HSM_OK);
	secbuf_free(&out);
	assert_int_equal(kpwrap_blob_for_target(g, "DC1-M01", 4, &got), HSM_ERR_NOT_FOUND);
	assert_int_equal(kpwrap_blob_for_target(g, "DC3-M01", 3, &got), HSM_ERR_NOT_FOUND);

	/* The single form is accepted too. */
	assert_int_equal(kpwrap_blob_to_json(&w1, &single), HSM_OK);
	assert_int_equal(kpwrap_blob_for_target(single, "DC1-M01", 3, &got), HSM_OK);
	assert_memory_equal(&got, &w1, sizeof(got));
	json_decref(single);

	/* Two entries for one target are refused, not resolved. */
	bad = json_deep_copy(g);
	assert_int_equal(kpwrap_group_add(bad, "DC1-M01", 3, &w2), HSM_OK);
	assert_int_equal(kpwrap_blob_for_target(bad, "DC2-M01", 3, &got), HSM_ERR_FORMAT);
	json_decref(bad);
	bad = json_deep_copy(g);
	json_object_set_new(json_array_get(json_object_get(bad, "targets"), 0), "x", json_true());
	assert_int_equal(kpwrap_blob_for_target(bad, "DC1-M01", 3, &got), HSM_ERR_FORMAT);
	json_decref(bad);
	bad = json_deep_copy(g);
	json_object_del(json_array_get(json_object_get(bad, "targets"), 1), "epk");
	assert_int_equal(kpwrap_blob_for_target(bad, "DC1-M01", 3, &got), HSM_ERR_FORMAT);
	json_decref(bad);
	bad = json_deep_copy(g);
	json_object_set_new(bad, "v", json_integer(9));
	assert_int_equal(kpwrap_blob_for_target(bad, "DC1-M01", 3, &got), HSM_ERR_FORMAT);
	json_decref(bad);
	bad = json_deep_copy(g);
	json_object_set_new(bad, "targets", json_string("x"));
	assert_int_equal(kpwrap_blob_for_target(bad, "DC1-M01", 3, &got), HSM_ERR_FORMAT);
	json_decref(bad);
	json_decref(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_pkey_and_keyagree),
		cmocka_unit_test(test_binding_mismatch_refused),
		cmocka_unit_test(test_tampering_refused),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_json_round_trip_and_strictness),
		cmocka_unit_test(test_group_form),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
