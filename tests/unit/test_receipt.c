/* SPDX-License-Identifier: BSD-2-Clause */
/* test_receipt.c - OA-signed receipts, single and batched: sign, verify
 * offline against the pinned module CA, and every way a receipt can be
 * wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/receipt.h"
#include "hsmadm/x509util.h"

#include "ecdsa_twin.h"

typedef struct fx {
	EVP_PKEY *ca_key, *oa_key, *tls_key, *ca2_key, *p256;
	X509     *ca, *oa, *tls, *ca2, *oa_other, *oa_p256;
	json_t   *body;
} fx;

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &f->ca_key), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &f->oa_key), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &f->tls_key), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &f->ca2_key), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &f->p256), HSM_OK);
	assert_int_equal(x509u_issue(X509U_MODULE_CA, "CA", NULL, f->ca_key, NULL, f->ca_key, 30, &f->ca), HSM_OK);
	assert_int_equal(x509u_issue(X509U_MODULE_CA, "CA2", NULL, f->ca2_key, NULL, f->ca2_key, 30, &f->ca2), HSM_OK);
	assert_int_equal(x509u_issue(X509U_OA, "M1 OA", "DC1-M01", f->oa_key, f->ca, f->ca_key, 30, &f->oa), HSM_OK);
	assert_int_equal(x509u_issue(X509U_TLS_SERVER, "DC1-M01", "DC1-M01", f->tls_key, f->ca, f->ca_key, 30, &f->tls), HSM_OK);
	assert_int_equal(x509u_issue(X509U_OA, "M2 OA", "DC2-M01", f->oa_key, f->ca, f->ca_key, 30, &f->oa_other), HSM_OK);
	assert_int_equal(x509u_issue(X509U_OA, "M1 OA", "DC1-M01", f->p256, f->ca, f->ca_key, 30, &f->oa_p256), HSM_OK);
	f->body = json_pack("{s:i, s:s, s:i, s:s, s:s, s:i, s:i, s:{}, s:s, s:{}, s:s}",
	                    "v", 1, "module", "DC1-M01", "domain", 3, "op", "zeroize",
	                    "command_digest", "00", "counter_before", 4, "counter_after", 5,
	                    "state", "state_digest", "00", "result", "time", "2026-01-01T00:00:00Z");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;

	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->oa_key);
	EVP_PKEY_free(f->tls_key);
	EVP_PKEY_free(f->ca2_key);
	EVP_PKEY_free(f->p256);
	X509_free(f->ca);
	X509_free(f->ca2);
	X509_free(f->oa);
	X509_free(f->tls);
	X509_free(f->oa_other);
	X509_free(f->oa_p256);
	json_decref(f->body);
	free(f);
	return 0;
}

static void
test_sign_verify(void **state)
{
	fx *f = *state;
	json_t *r = NULL;
	const json_t *body = NULL;

	assert_int_equal(receipt_sign(f->body, f->oa_key, f->oa, &r), HSM_OK);
	assert_int_equal(receipt_verify(r, f->ca, NULL, &body), HSM_OK);
	assert_true(json_equal(body, f->body));
	assert_int_equal(receipt_verify(r, f->ca, "DC1-M01", NULL), HSM_OK);
	/* survives a round trip through text */
	{
		char *s = json_dumps(r, JSON_COMPACT);
		json_t *back = json_loads(s, 0, NULL);
		assert_int_equal(receipt_verify(back, f->ca, "DC1-M01", NULL), HSM_OK);
		json_decref(back);
		free(s);
	}
	json_decref(r);
}

static void
test_altered_body(void **state)
{
	fx *f = *state;
	json_t *r = NULL;

	assert_int_equal(receipt_sign(f->body, f->oa_key, f->oa, &r), HSM_OK);
	json_object_set_new(json_object_get(r, "body"), "counter_after", json_integer(6));
	assert_int_equal(receipt_verify(r, f->ca, NULL, NULL), HSM_ERR_VERIFY);
	json_decref(r);
}

/* The high-S twin of the OA signature verifies mathematically, and is
 * refused: one accepted encoding (docs/crypto.md). */
static void
test_high_s_refused(void **state)
{
	fx *f = *state;
	json_t *r = NULL;
	uint8_t *sig = NULL, *twin = NULL;
	size_t siglen = 0, twinlen = 0;
	char *b64 = NULL;

	assert_int_equal(receipt_sign(f->body, f->oa_key, f->oa, &r), HSM_OK);
	assert_int_equal(b64_decode(json_string_value(json_object_get(r, "signature")), &sig,
	                 &siglen), HSM_OK);
	assert_int_equal(ecdsa_is_high_s(f->oa_key, sig, siglen), 0);   /* we sign low-S */
	assert_int_equal(ecdsa_twin(f->oa_key, sig, siglen, &twin, &twinlen), 0);
	assert_int_equal(b64_encode(twin, twinlen, &b64), HSM_OK);
	json_object_set_new(r, "signature", json_string(b64));
	assert_int_equal(receipt_verify(r, f->ca, NULL, NULL), HSM_ERR_VERIFY);
	assert_non_null(strstr(hsm_errmsg(), "low S"));
	free(b64);
	free(sig);
	free(twin);
	json_decref(r);
}

static void
test_wrong_trust(void **state)
{
	fx *f = *state;
	json_t *r = NULL;

	assert_int_equal(receipt_sign(f->body, f->oa_key, f->oa, &r), HSM_OK);
	/* another module CA */
	assert_int_equal(receipt_verify(r, f->ca2, NULL, NULL), HSM_ERR_TRUST);
	/* another module expected */
	assert_int_equal(receipt_verify(r, f->ca, "DC2-M01", NULL), HSM_ERR_TRUST);
	json_decref(r);
	/* signed with the TLS key/cert instead of the OA */
	assert_int_equal(receipt_sign(f->body, f->tls_key, f->tls, &r), HSM_OK);
	assert_int_equal(receipt_verify(r, f->ca, NULL, NULL), HSM_ERR_TRUST);
	json_decref(r);
	/* an OA certificate of another module */
	assert_int_equal(receipt_sign(f->body, f->oa_key, f->oa_other, &r), HSM_OK);
	assert_int_equal(receipt_verify(r, f->ca, NULL, NULL), HSM_ERR_TRUST);
	json_decref(r);
	/* not P-384 */
	assert_int_equal(receipt_sign(f->body, f->p256, f->oa_p256, &r), HSM_OK);
	assert_int_equal(receipt_verify(r, f->ca, NULL, NULL), HSM_ERR_TRUST);
	json_decref(r);
	/* the CA certificate itself as "OA" */
	assert_int_equal(receipt_sign(f->body, f->ca_key, f->ca, &r), HSM_OK);
	assert_int_equal(receipt_verify(r, f->ca, NULL, NULL), HSM_ERR_TRUST);
	json_decref(r);
}

static void
test_malformed(void **state)
{
	fx *f = *state;
	json_t *r = NULL, *bad;

	assert_int_equal(receipt_sign(f->body, f->oa_key, f->oa, &r), HSM_OK);
	bad = json_deep_copy(r);
	json_object_set_new(bad, "extra", json_true());
	assert_int_equal(receipt_verify(bad, f->ca, NULL, NULL), HSM_ERR_FORMAT);
	json_decref(bad);
	bad = json_deep_copy(r);
	json_object_set_new(bad, "signature", json_string("not base64!"));
	assert_int_equal(receipt_verify(bad, f->ca, NULL, NULL), HSM_ERR_FORMAT);
	json_decref(bad);
	bad = json_deep_copy(r);
	json_object_set_new(bad, "oa_cert", json_string("AAAA"));
	assert_int_equal(receipt_verify(bad, f->ca, NULL, NULL), HSM_ERR_FORMAT);
	json_decref(bad);
	bad = json_deep_copy(r);
	json_object_set_new(json_object_get(bad, "body"), "v", json_integer(2));
	assert_int_equal(receipt_verify(bad, f->ca, NULL, NULL), HSM_ERR_FORMAT);
	json_decref(bad);
	bad = json_deep_copy(r);
	json_object_del(json_object_get(bad, "body"), "module");
	assert_int_equal(receipt_verify(bad, f->ca, NULL, NULL), HSM_ERR_FORMAT);
	json_decref(bad);
	json_decref(r);
}

static void
test_x509u_subjects(void **state)
{
	fx *f = *state;
	char buf[64];

	assert_int_equal(x509u_subject_serial(f->oa, buf, sizeof(buf)), HSM_OK);
	assert_string_equal(buf, "DC1-M01");
	assert_int_equal(x509u_subject_ou(f->tls, buf, sizeof(buf)), HSM_OK);
	assert_string_equal(buf, X509U_OU_TLS_SERVER);
	assert_int_equal(x509u_subject_serial(f->ca, buf, sizeof(buf)), HSM_ERR_NOT_FOUND);
	assert_int_equal(x509u_verify_issued_by(f->oa, f->ca), HSM_OK);
	assert_int_equal(x509u_verify_issued_by(f->oa, f->ca2), HSM_ERR_TRUST);
	assert_int_equal(x509u_subject_serial(f->oa, buf, 4), HSM_ERR_FORMAT);
}

/* ---- batches ---- */

#define NB 5

/* NB bodies of domains 0..NB-1, signed as one batch. */
static void
sign_batch(fx *f, json_t **out)
{
	json_t *bodies[NB];
	size_t i;

	for (i = 0; i < NB; i++) {
		bodies[i] = json_deep_copy(f->body);
		json_object_set_new(bodies[i], "domain", json_integer((json_int_t)i));
	}
	assert_int_equal(receipt_sign_batch(bodies, NB, f->oa_key, NULL, f->oa, out), HSM_OK);
	for (i = 0; i < NB; i++)
		json_decref(bodies[i]);
}

static void
free_batch(json_t **r)
{
	size_t i;

	for (i = 0; i < NB; i++)
		json_decref(r[i]);
}

static void
test_batch_sign_verify(void **state)
{
	fx *f = *state;
	json_t *r[NB];
	const json_t *body = NULL;
	receipt_memo *memo = NULL;
	receipt_parts p;
	size_t i;

	sign_batch(f, r);
	for (i = 0; i < NB; i++) {
		assert_int_equal(receipt_verify(r[i], f->ca, "DC1-M01", &body), HSM_OK);
		assert_int_equal(json_integer_value(json_object_get(body, "domain")), (json_int_t)i);
		/* one signature for all */
		assert_true(json_equal(json_object_get(r[i], "signature"),
		    json_object_get(r[0], "signature")));
	}
	/* through a memo: the first check is made, the others find it */
	assert_int_equal(receipt_memo_new(&memo), HSM_OK);
	for (i = 0; i < NB; i++) {
		assert_int_equal(receipt_open(r[i], &p), HSM_OK);
		assert_true(p.batch);
		assert_int_equal(receipt_check_sig(memo, X509_get0_pubkey(f->oa), &p), HSM_OK);
		receipt_parts_clear(&p);
	}
	/* a memo never vouches for a receipt whose proof fails, nor for the
	 * same batch under another key */
	json_object_set_new(json_object_get(r[2], "body"), "counter_after", json_integer(99));
	assert_int_equal(receipt_open(r[2], &p), HSM_ERR_VERIFY);
	assert_non_null(strstr(hsm_errmsg(), "not the one its batch signature covers"));
	assert_int_equal(receipt_open(r[3], &p), HSM_OK);
	assert_int_equal(receipt_check_sig(memo, X509_get0_pubkey(f->oa_p256), &p), HSM_ERR_VERIFY);
	receipt_parts_clear(&p);
	receipt_memo_free(&memo);
	receipt_memo_free(&memo);
	free_batch(r);
}

/* Each part of a batch receipt, changed: refused. */
static void
test_batch_altered(void **state)
{
	fx *f = *state;
	json_t *r[NB], *b;
	size_t i;
	char *root;

	sign_batch(f, r);
	/* the index or size of another place */
	json_object_set_new(json_object_get(r[1], "batch"), "index", json_integer(2));
	assert_int_equal(receipt_verify(r[1], f->ca, NULL, NULL), HSM_ERR_VERIFY);
	json_object_set_new(json_object_get(r[2], "batch"), "size", json_integer(NB + 1));
	assert_int_equal(receipt_verify(r[2], f->ca, NULL, NULL), HSM_ERR_VERIFY);
	/* a changed proof hash or root */
	b = json_object_get(r[3], "batch");
	json_array_set_new(json_object_get(b, "path"), 0, json_string(json_string_value(
	    json_array_get(json_object_get(b, "path"), 1))));
	assert_int_equal(receipt_verify(r[3], f->ca, NULL, NULL), HSM_ERR_VERIFY);
	b = json_object_get(r[4], "batch");
	root = strdup(json_string_value(json_object_get(b, "root")));
	root[0] = root[0] == '0' ? '1' : '0';
	json_object_set_new(b, "root", json_string(root));
	assert_int_equal(receipt_verify(r[4], f->ca, NULL, NULL), HSM_ERR_VERIFY);
	free(root);
	/* shapes: uppercase hex, a missing or extra member, index out of range */
	b = json_object_get(r[0], "batch");
	root = strdup(json_string_value(json_object_get(b, "root")));
	for (i = 0; root[i]; i++)
		if (root[i] >= 'a' && root[i] <= 'f')
			root[i] = (char)(root[i] - 'a' + 'A');
	json_object_set_new(b, "root", json_string(root));
	assert_int_equal(receipt_verify(r[0], f->ca, NULL, NULL), HSM_ERR_FORMAT);
	free(root);
	json_object_set_new(b, "index", json_integer(NB));
	assert_int_equal(receipt_verify(r[0], f->ca, NULL, NULL), HSM_ERR_FORMAT);
	json_object_del(b, "index");
	assert_int_equal(receipt_verify(r[0], f->ca, NULL, NULL), HSM_ERR_FORMAT);
	json_object_set_new(json_object_get(r[1], "batch"), "more", json_true());
	assert_int_equal(receipt_verify(r[1], f->ca, NULL, NULL), HSM_ERR_FORMAT);
	json_object_del(r[2], "batch");   /* a single receipt's shape, the batch signature */
	assert_int_equal(receipt_verify(r[2], f->ca, NULL, NULL), HSM_ERR_VERIFY);
	free_batch(r);
}

/* The batch message and its signature passed off as a receipt body: a
 * body needs its top-level "module", which the message does not have. */
static void
test_batch_message_is_no_body(void **state)
{
	fx *f = *state;
	json_t *r[NB], *fake;
	const json_t *b;

	sign_batch(f, r);
	b = json_object_get(r[0], "batch");
	fake = json_pack("{s:{s:{s:s, s:O, s:O}, s:i}, s:O, s:O}", "body", "receipt_batch",
	    "module", "DC1-M01", "root", json_object_get(b, "root"), "size",
	    json_object_get(b, "size"), "v", 1, "signature", json_object_get(r[0], "signature"),
	    "oa_cert", json_object_get(r[0], "oa_cert"));
	assert_non_null(fake);
	assert_int_equal(receipt_verify(fake, f->ca, NULL, NULL), HSM_ERR_FORMAT);
	json_decref(fake);
	free_batch(r);
	/* a batch of one: an empty proof */
	{
		json_t *one = NULL;
		assert_int_equal(receipt_sign_batch(&f->body, 1, f->oa_key, NULL, f->oa, &one), HSM_OK);
		assert_int_equal(json_array_size(json_object_get(json_object_get(one, "batch"),
		    "path")), 0);
		assert_int_equal(receipt_verify(one, f->ca, NULL, NULL), HSM_OK);
		json_decref(one);
	}
	/* bad calls */
	{
		json_t *out[2] = { NULL, NULL }, *two[2] = { f->body, NULL };
		assert_int_equal(receipt_sign_batch(two, 0, f->oa_key, NULL, f->oa, out), HSM_ERR_USAGE);
		assert_int_equal(receipt_sign_batch(two, 2, f->oa_key, NULL, f->oa, out), HSM_ERR_USAGE);
		two[1] = json_pack("{s:i, s:s}", "v", 1, "module", "DC2-M01");
		assert_int_equal(receipt_sign_batch(two, 2, f->oa_key, NULL, f->oa, out), HSM_ERR_USAGE);
		assert_non_null(strstr(hsm_errmsg(), "one module per batch"));
		assert_null(out[0]);
		json_decref(two[1]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_altered_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_high_s_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_trust, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_x509u_subjects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_sign_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_altered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_message_is_no_body, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
