/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evkeys.c - the verifier's cache of public keys (evidence/evkeys.c,
 * ev_key_get in evint.h): a hex point decodes to the same key and SKI on
 * P-256, P-384 and P-521, is decoded once however often it is asked for, a
 * key pushed out of a full cache stays valid for whoever holds it, and
 * what is not an uncompressed point on one of the curves (bad hex, wrong
 * length, compressed, off the curve) is refused with nothing cached.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "evint.h"

/* as in evkeys.c */
#define CACHE_MAX 4096

static char *
pub_hex(EVP_PKEY *k)
{
	char *hex = NULL;

	assert_int_equal(ev_pub_to_hex(k, &hex), HSM_OK);
	return hex;
}

static void
check_curve(struct ev_keycache *c, hsm_curve curve)
{
	EVP_PKEY *k = NULL, *pub = NULL, *again = NULL;
	uint8_t ski[32], want[32], ski2[32];
	long long imports = c->imports;
	size_t n = c->n;
	char *hex;

	assert_int_equal(crypto_ec_generate(curve, &k), HSM_OK);
	hex = pub_hex(k);
	assert_int_equal(crypto_ski(k, want), HSM_OK);
	assert_int_equal(ev_key_get(c, hex, &pub, ski), HSM_OK);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_eq(k, pub), 1);
	assert_memory_equal(ski, want, 32);
	assert_int_equal(c->imports, imports + 1);
	assert_int_equal(c->n, n + 1);
	/* the second time it comes from the cache: the same key, no decoding */
	assert_int_equal(ev_key_get(c, hex, &again, ski2), HSM_OK);
	assert_ptr_equal(again, pub);
	assert_memory_equal(ski2, want, 32);
	assert_int_equal(c->imports, imports + 1);
	assert_int_equal(c->n, n + 1);
	/* either output may be left out */
	assert_int_equal(ev_key_get(c, hex, NULL, ski2), HSM_OK);
	assert_int_equal(ev_key_get(c, hex, NULL, NULL), HSM_OK);
	assert_int_equal(c->imports, imports + 1);
	EVP_PKEY_free(again);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(k);
	free(hex);
}

static void
test_curves(void **state)
{
	struct ev_keycache c;

	(void)state;
	memset(&c, 0, sizeof(c));
	check_curve(&c, HSM_CURVE_P256);
	check_curve(&c, HSM_CURVE_P384);
	check_curve(&c, HSM_CURVE_P521);
	assert_int_equal(c.n, 3);
	ev_keycache_free(&c);
	assert_int_equal(c.n, 0);
	assert_null(c.k);
}

/* One more distinct key than the cache keeps: the oldest goes, and the
 * caller's reference to it is still a working key. */
static void
test_eviction(void **state)
{
	struct ev_keycache c;
	EVP_PKEY *first = NULL, *held = NULL, *k = NULL, *again = NULL;
	char *first_hex, *hex;
	int i;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &first), HSM_OK);
	first_hex = pub_hex(first);
	assert_int_equal(ev_key_get(&c, first_hex, &held, NULL), HSM_OK);
	for (i = 0; i < CACHE_MAX; i++) {
		assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &k), HSM_OK);
		hex = pub_hex(k);
		assert_int_equal(ev_key_get(&c, hex, NULL, NULL), HSM_OK);
		free(hex);
		EVP_PKEY_free(k);
	}
	assert_int_equal(c.n, CACHE_MAX);
	assert_int_equal(c.imports, CACHE_MAX + 1);
	assert_int_equal(EVP_PKEY_eq(first, held), 1);
	/* asked again, the first key is decoded again (it was pushed out) */
	assert_int_equal(ev_key_get(&c, first_hex, &again, NULL), HSM_OK);
	assert_int_equal(c.imports, CACHE_MAX + 2);
	assert_int_equal(c.n, CACHE_MAX);
	assert_ptr_not_equal(again, held);
	assert_int_equal(EVP_PKEY_eq(again, held), 1);
	EVP_PKEY_free(again);
	EVP_PKEY_free(held);
	EVP_PKEY_free(first);
	free(first_hex);
	ev_keycache_free(&c);
}

/* A refused key: HSM_ERR_FORMAT, *pub NULL, nothing cached. */
static void
refused(struct ev_keycache *c, const char *hex)
{
	EVP_PKEY *pub = (EVP_PKEY *)c;     /* anything but NULL */
	uint8_t ski[32];
	size_t n = c->n;

	if (ev_key_get(c, hex, &pub, ski) != HSM_ERR_FORMAT)
		fail_msg("accepted or wrong code for key %.40s...", hex ? hex : "(null)");
	assert_null(pub);
	assert_int_equal(c->n, n);
}

static void
test_bad_keys(void **state)
{
	struct ev_keycache c;
	EVP_PKEY *k = NULL;
	char *hex, *bad;
	size_t len;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &k), HSM_OK);
	hex = pub_hex(k);
	len = strlen(hex);
	bad = strdup(hex);
	assert_non_null(bad);

	refused(&c, NULL);
	refused(&c, "");
	refused(&c, "zz");
	bad[len - 1] = '\0';              /* odd number of digits */
	refused(&c, bad);
	bad[len - 2] = '\0';              /* 64 bytes: no curve has that length */
	refused(&c, bad);
	memcpy(bad, hex, len + 1);
	bad[1] = '2';                     /* 02||X... in 65 bytes: not 04 */
	refused(&c, bad);
	bad[66] = '\0';                   /* a real compressed point 02||X */
	refused(&c, bad);
	memcpy(bad, hex, len + 1);
	bad[len - 1] = bad[len - 1] == '0' ? '1' : '0';   /* Y changed: off the curve */
	refused(&c, bad);
	memset(bad + 2, '0', len - 2);    /* 04||0||0 */
	refused(&c, bad);
	assert_int_equal(c.n, 0);
	/* the good key still goes in after all that */
	assert_int_equal(ev_key_get(&c, hex, NULL, NULL), HSM_OK);
	assert_int_equal(c.n, 1);
	ev_keycache_free(&c);
	free(bad);
	free(hex);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_curves),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_bad_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
