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
	group_member m[3] = { { .module = "A", .domain = 1 }, { .module = "B", .domain = 1 },
	                      { .module = "C", .domain = 2 } };
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

/* A module answer is parsed once into a typed state; what a module should
 * never send is an error, not a guess. */
static void
test_state_parse(void **state_)
{
	EVP_PKEY *k1 = NULL;
	json_t *s;
	group_state st;

	(void)state_;
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k1), HSM_OK);
	s = state(4, 12, "ab12", json_pack("[o]", admin_of(k1, "Alice", "alice")));
	json_object_set_new(json_object_get(json_object_get(s, "registers"), "pending"),
	    "parts_loaded", json_pack("[{s:i, s:s}]", "index", 1, "kpvp", "cd34"));
	assert_int_equal(group_state_parse(s, 1, &st), HSM_OK);
	assert_int_equal(st.domain, 4);
	assert_int_equal(st.counter, 12);
	assert_int_equal(st.sig_thr, 1);
	assert_int_equal(st.nadmins, 1);
	assert_string_equal(st.admins[0].identity, "alice");
	assert_non_null(st.admins[0].pub);
	assert_string_equal(st.current.state, "valid");
	assert_string_equal(st.current.mkvp, "ab12");
	assert_string_equal(st.old.mkvp, "");
	assert_int_equal(st.pending.nparts, 1);
	assert_string_equal(st.pending.parts[0].kpvp, "cd34");
	assert_ptr_equal(st.doc, s);
	group_state_clear(&st);
	assert_null(st.doc);
	/* without keys: nothing decoded */
	assert_int_equal(group_state_parse(s, 0, &st), HSM_OK);
	assert_null(st.admins[0].pub);
	group_state_clear(&st);
	/* nonsense from a module */
	json_object_set_new(s, "counter", json_integer(-1));
	assert_int_equal(group_state_parse(s, 0, &st), HSM_ERR_MODULE);
	json_object_set_new(s, "counter", json_integer(3));
	json_object_del(json_object_get(s, "registers"), "old");
	assert_int_equal(group_state_parse(s, 0, &st), HSM_ERR_MODULE);
	json_decref(s);
	EVP_PKEY_free(k1);
}

/* A driver that counts its calls: the single-domain ops, and (when set) the
 * batch op. */
struct cnt { unsigned single, batch; };

static hsm_rc
c_query(void *ctx, unsigned domain, json_t **out)
{
	((struct cnt *)ctx)->single++;
	*out = json_pack("{s:i}", "domain", (int)domain);
	return domain == 7 ? hsm_fail(HSM_ERR_NOT_FOUND, "no domain 7") : HSM_OK;
}

static hsm_rc
c_query_many(void *ctx, const unsigned *domains, size_t n, moddrv_result *res)
{
	((struct cnt *)ctx)->batch++;
	for (size_t k = 0; k < n; k++)
		res[k].out = json_pack("{s:i}", "domain", (int)domains[k]);
	return HSM_OK;
}

static void
c_close(void *ctx)
{
	(void)ctx;
}

static void
test_driver_batches(void **state_)
{
	static const struct moddrv_ops ops = { .query = c_query, .close = c_close };
	static const struct moddrv_batch_ops bops = { .query = c_query_many };
	struct cnt c = { 0, 0 };
	unsigned doms[3] = { 1, 7, 2 };
	moddrv_result res[3];
	moddrv *d = NULL;

	(void)state_;
	assert_int_equal(moddrv_new(&ops, &c, "M", &d), HSM_OK);
	/* no batch op: one call per domain, each with its own outcome */
	assert_int_equal(moddrv_query_many(d, doms, 3, res), HSM_OK);
	assert_int_equal(c.single, 3);
	assert_int_equal(res[0].rc, HSM_OK);
	assert_int_equal(res[1].rc, HSM_ERR_NOT_FOUND);
	assert_non_null(strstr(res[1].msg, "no domain 7"));
	assert_int_equal(json_integer_value(json_object_get(res[2].out, "domain")), 2);
	moddrv_results_clear(res, 3);
	/* with it: one call for the three */
	moddrv_set_batch(d, &bops);
	assert_int_equal(moddrv_query_many(d, doms, 3, res), HSM_OK);
	assert_int_equal(c.batch, 1);
	assert_int_equal(c.single, 3);
	assert_int_equal(json_integer_value(json_object_get(res[1].out, "domain")), 7);
	moddrv_results_clear(res, 3);
	moddrv_free(&d);
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
		cmocka_unit_test(test_state_parse),
		cmocka_unit_test(test_driver_batches),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
