/* SPDX-License-Identifier: BSD-2-Clause */
/* test_group.c - the group engine's pure parts: comparing member states and
 * reading admins/thresholds/counter out of a domain state (bad module answers
 * included). The networked parts run in tests/integration/domain_*.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/group.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"

static json_t *
state(unsigned domain, long long counter, const char *mkvp, json_t *admins)
{
	return json_pack("{s:s, s:I, s:b, s:o, s:{s:i, s:i}, s:I, s:{s:{s:s, s:s?}, s:{s:s}, s:{s:s}}}",
	    "module", "M", "domain", (json_int_t)domain, "imprint", 0,
	    "admins", admins ? admins : json_array(),
	    "thresholds", "signature", 1, "revocation", 1, "counter", (json_int_t)counter,
	    "registers", "current", "state", mkvp ? "valid" : "empty", "mkvp", mkvp,
	    "pending", "state", "empty", "old", "state", "empty");
}

static json_t *
admin_of(EVP_PKEY *k, const char *name, const char *identity)
{
	uint8_t *pt = NULL, ski[32];
	size_t n = 0;
	char *hex = NULL, skih[65];
	json_t *a;

	assert_int_equal(crypto_ec_point(k, &pt, &n), HSM_OK);
	assert_int_equal(hex_encode(pt, n, &hex), HSM_OK);
	assert_int_equal(crypto_ski(k, ski), HSM_OK);
	hex_encode_buf(ski, 32, skih);
	a = json_pack("{s:s, s:s, s:s, s:s}", "ski", skih, "name", name, "identity", identity,
	    "pubkey", hex);
	free(pt);
	free(hex);
	return a;
}

static void
test_compare(void **state_)
{
	group_member m[3] = { { "A", 1, NULL, NULL }, { "B", 1, NULL, NULL }, { "C", 2, NULL, NULL } };
	json_t *s[3], *rep = NULL, *d;

	(void)state_;
	s[0] = state(1, 5, "aa", NULL);
	s[1] = state(1, 9, "aa", NULL);   /* counters differ: not a difference */
	s[2] = state(2, 5, "aa", NULL);
	assert_int_equal(group_compare(m, 3, s, &rep), HSM_OK);
	assert_true(json_is_true(json_object_get(rep, "equal")));
	json_decref(rep);
	json_decref(s[2]);
	s[2] = state(2, 5, "bb", NULL);   /* a different CURRENT MKVP */
	assert_int_equal(group_compare(m, 3, s, &rep), HSM_OK);
	assert_false(json_is_true(json_object_get(rep, "equal")));
	d = json_array_get(json_object_get(rep, "differences"), 0);
	assert_string_equal(json_string_value(json_object_get(d, "field")), "registers.current");
	assert_int_equal(json_array_size(json_object_get(d, "values")), 3);
	json_decref(rep);
	for (int i = 0; i < 3; i++)
		json_decref(s[i]);
}

static void
test_admins_from_state(void **state_)
{
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	json_t *admins, *s;
	admincmd_admin *a = NULL;
	size_t n = 0;
	unsigned st = 9, rt = 9;
	uint64_t ctr = 0;

	(void)state_;
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k1), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &k2), HSM_OK);
	admins = json_pack("[o, o]", admin_of(k1, "Alice", "alice"), admin_of(k2, "Bob", "bob"));
	s = state(3, 7, NULL, admins);
	assert_int_equal(group_admins_from_state(s, &a, &n, &st, &rt, &ctr), HSM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(st, 1);
	assert_int_equal(rt, 1);
	assert_int_equal(ctr, 7);
	assert_string_equal(a[1].identity, "bob");
	assert_non_null(a[0].pub);
	group_admins_free(&a, n);
	assert_null(a);

	/* a module that reports nonsense is an error, not a crash */
	json_object_set_new(json_array_get(json_object_get(s, "admins"), 0), "pubkey",
	    json_string("04zz"));
	assert_int_equal(group_admins_from_state(s, &a, &n, &st, &rt, &ctr), HSM_ERR_MODULE);
	assert_null(a);
	json_object_set_new(s, "admins", json_array());
	json_object_set_new(json_object_get(s, "thresholds"), "signature", json_integer(99));
	assert_int_equal(group_admins_from_state(s, &a, &n, &st, &rt, &ctr), HSM_ERR_MODULE);
	json_object_set_new(json_object_get(s, "thresholds"), "signature", json_integer(1));
	json_object_del(s, "counter");
	assert_int_equal(group_admins_from_state(s, &a, &n, &st, &rt, &ctr), HSM_ERR_MODULE);
	json_object_del(s, "admins");
	assert_int_equal(group_admins_from_state(s, &a, &n, &st, &rt, &ctr), HSM_ERR_FORMAT);
	json_decref(s);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

static void
test_bad_args(void **state_)
{
	json_t *rep = NULL;

	(void)state_;
	assert_int_equal(group_submit(NULL, 0, NULL, 0, 0, &rep), HSM_ERR_USAGE);
	assert_null(rep);
	assert_int_equal(group_read(NULL, 0, NULL), HSM_ERR_USAGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_admins_from_state),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
