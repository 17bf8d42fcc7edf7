/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evanchor.c - the auditor's trust anchors and the receipts checked
 * against them (evidence/evanchor.c, evint.h): module CAs and supervisor
 * pins from options (a PEM key or a certificate) and from a trust file, the
 * source they are reported under, every malformed or missing anchor refused
 * (and what was loaded before it freed); the module CAs of a trust file as
 * PEM; a receipt verified once per OA certificate, refused when altered,
 * high-S, of an unknown CA, of another module, not an OA certificate, not
 * P-384, of a version or shape the verifier does not know; and accepted
 * against its own certificate when the auditor asked for no anchors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/pem.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evverify.h"
#include "hsmadm/receipt.h"
#include "hsmadm/x509util.h"
#include "evint.h"
#include "ecdsa_twin.h"
#include "test_evlog_fixture.h"

static struct evfix F;
static char trust[400], junk[400], nothere[400];
static EVP_PKEY *sup;           /* the supervisor's public key */

static int
write_text(const char *path, const char *text)
{
	return evfix_spit(path, text, strlen(text));
}

static int
setup_all(void **state)
{
	FILE *f;

	(void)state;
	if (evfix_setup(&F) != 0)
		return -1;
	snprintf(trust, sizeof(trust), "%s/trust.json", F.dir);
	snprintf(junk, sizeof(junk), "%s/junk.pem", F.dir);
	snprintf(nothere, sizeof(nothere), "%s/nothere.pem", F.dir);
	if ((f = fopen(F.sup_pub, "r")) == NULL)
		return -1;
	sup = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return sup != NULL && write_text(junk, "-----BEGIN NOTHING-----\n") == 0 ? 0 : -1;
}

static int
teardown_all(void **state)
{
	(void)state;
	EVP_PKEY_free(sup);
	evfix_teardown(&F);
	return 0;
}

static hsm_rc
load_opts(const char *ca, const char *pin, const char *trust_file, int none,
          struct ev_anchors *a)
{
	struct evlog_verify_opts o;

	memset(&o, 0, sizeof(o));
	o.module_ca_files = &ca;
	o.n_module_ca = ca != NULL;
	o.supervisor_key_files = &pin;
	o.n_supervisor_keys = pin != NULL;
	o.trust_file = trust_file;
	o.no_anchors = none;
	return ev_anchors_load(&o, a);
}

static void
assert_pin_is(const struct ev_anchors *a, size_t i, EVP_PKEY *k)
{
	uint8_t ski[32];

	assert_true(i < a->npins);
	assert_int_equal(crypto_ski(k, ski), HSM_OK);
	assert_memory_equal(a->pins[i], ski, 32);
}

static void
test_anchors_from_options(void **state)
{
	struct ev_anchors a;
	EVP_PKEY *cakey;

	(void)state;
	assert_int_equal(ev_anchors_load(NULL, &a), HSM_OK);
	assert_int_equal(a.ncas + a.npins, 0);
	assert_false(a.none);
	assert_string_equal(a.source, "none");
	ev_anchors_free(&a);

	assert_int_equal(load_opts(F.ca_pem, F.sup_pub, NULL, 0, &a), HSM_OK);
	assert_int_equal(a.ncas, 1);
	assert_int_equal(X509_cmp(a.cas[0], F.ca), 0);
	assert_int_equal(a.npins, 1);
	assert_pin_is(&a, 0, sup);
	assert_string_equal(a.source, "options");
	ev_anchors_free(&a);
	assert_null(a.cas);

	/* a certificate names its key: the pin is the certificate key's SKI */
	assert_int_equal(load_opts(NULL, F.ca_pem, NULL, 0, &a), HSM_OK);
	cakey = X509_get_pubkey(F.ca);
	assert_pin_is(&a, 0, cakey);
	EVP_PKEY_free(cakey);
	ev_anchors_free(&a);

	assert_int_equal(load_opts(NULL, NULL, NULL, 1, &a), HSM_OK);
	assert_true(a.none);
	ev_anchors_free(&a);
}

static void
test_anchors_bad_options(void **state)
{
	struct ev_anchors a;
	struct evlog_verify_opts o;
	const char *cas[33];

	(void)state;
	/* 32 module CAs at most (the verifier marks the ones used in a 32-bit
	 * set): the 33rd is refused, none leaks */
	for (size_t i = 0; i < 33; i++)
		cas[i] = F.ca_pem;
	memset(&o, 0, sizeof(o));
	o.module_ca_files = cas;
	o.n_module_ca = 32;
	assert_int_equal(ev_anchors_load(&o, &a), HSM_OK);
	assert_int_equal(a.ncas, 32);
	ev_anchors_free(&a);
	o.n_module_ca = 33;
	assert_int_equal(ev_anchors_load(&o, &a), HSM_ERR_USAGE);
	ev_anchors_free(&a);
	/* no anchors and anchors: a usage error */
	assert_int_equal(load_opts(F.ca_pem, NULL, NULL, 1, &a), HSM_ERR_USAGE);
	ev_anchors_free(&a);
	assert_int_equal(load_opts(NULL, F.sup_pub, NULL, 1, &a), HSM_ERR_USAGE);
	ev_anchors_free(&a);
	assert_int_equal(load_opts(NULL, NULL, trust, 1, &a), HSM_ERR_USAGE);
	ev_anchors_free(&a);

	assert_int_equal(load_opts(nothere, NULL, NULL, 0, &a), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), nothere));
	ev_anchors_free(&a);
	assert_int_equal(load_opts(junk, NULL, NULL, 0, &a), HSM_ERR_FORMAT);
	ev_anchors_free(&a);
	/* a supervisor key that is a private key file is neither a public key
	 * nor a certificate; the CA loaded before it is freed with the anchors */
	assert_int_equal(load_opts(F.ca_pem, F.sup_key, NULL, 0, &a), HSM_ERR_FORMAT);
	ev_anchors_free(&a);
	assert_int_equal(load_opts(F.ca_pem, nothere, NULL, 0, &a), HSM_ERR_NOT_FOUND);
	ev_anchors_free(&a);
	assert_int_equal(load_opts(F.ca_pem, junk, NULL, 0, &a), HSM_ERR_FORMAT);
	ev_anchors_free(&a);
}

/* text with each token replaced by its value, malloc'ed. */
static char *
expand(const char *text, const char *const tok[][2], size_t ntok)
{
	size_t cap = strlen(text) + 1, i, n = 0;
	char *out;

	for (i = 0; i < ntok; i++)
		cap += 4 * strlen(tok[i][1]);   /* each token at most four times */
	out = malloc(cap);
	assert_non_null(out);
	while (*text != '\0') {
		for (i = 0; i < ntok; i++)
			if (strncmp(text, tok[i][0], strlen(tok[i][0])) == 0)
				break;
		if (i < ntok) {
			n += (size_t)snprintf(out + n, cap - n, "%s", tok[i][1]);
			text += strlen(tok[i][0]);
		} else {
			out[n++] = *text++;
		}
		assert_true(n < cap);
	}
	out[n] = '\0';
	return out;
}

/* A trust file from a template: @CA@ is the fixture CA's PEM as a JSON
 * string, @PUB@ the supervisor's public key in hex, @SKI@ its SKI in hex,
 * @PUB64@ the first 64 digits of @PUB@ (the length of a SKI, another value). */
static void
write_trust(const char *tmpl)
{
	char *pem = NULL, *pubhex = NULL, *esc, skihex[65], pub64[65], *text;
	uint8_t ski[32];
	json_t *s;

	assert_int_equal(x509u_to_pem(F.ca, &pem), HSM_OK);
	assert_int_equal(ev_pub_to_hex(sup, &pubhex), HSM_OK);
	assert_int_equal(crypto_ski(sup, ski), HSM_OK);
	hex_encode_buf(ski, 32, skihex);
	snprintf(pub64, sizeof(pub64), "%.64s", pubhex);
	s = json_string(pem);
	esc = json_dumps(s, JSON_ENCODE_ANY);
	assert_non_null(esc);
	{
		const char *const tok[][2] = { { "@CA@", esc }, { "@PUB64@", pub64 },
		                               { "@PUB@", pubhex }, { "@SKI@", skihex } };
		text = expand(tmpl, tok, 4);
	}
	assert_int_equal(write_text(trust, text), 0);
	free(text);
	free(esc);
	json_decref(s);
	free(pubhex);
	free(pem);
}

#define SUP "{\"name\":\"S\",\"pubkey\":\"@PUB@\",\"ski\":\"@SKI@\"}"

static void
test_trust_file(void **state)
{
	struct ev_anchors a;
	char want[500], *pem = NULL;
	X509 *back = NULL;

	(void)state;
	write_trust("{\"hsmadm_trust\":1,\"module_ca\":[@CA@],\"supervisors\":[" SUP "],"
	            "\"ceremony\":\"informational\"}");
	assert_int_equal(load_opts(NULL, NULL, trust, 0, &a), HSM_OK);
	assert_int_equal(a.ncas, 1);
	assert_int_equal(X509_cmp(a.cas[0], F.ca), 0);
	assert_pin_is(&a, 0, sup);
	snprintf(want, sizeof(want), "trust file %s", trust);
	assert_string_equal(a.source, want);
	ev_anchors_free(&a);
	/* trust file and options add up */
	assert_int_equal(load_opts(F.ca_pem, NULL, trust, 0, &a), HSM_OK);
	assert_int_equal(a.ncas, 2);
	assert_int_equal(a.npins, 1);
	snprintf(want, sizeof(want), "trust file %s and options", trust);
	assert_string_equal(a.source, want);
	ev_anchors_free(&a);

	/* its module CAs as PEM, for a connection that pins them */
	assert_int_equal(evlog_trust_module_ca(trust, &pem), HSM_OK);
	assert_non_null(pem);
	{
		BIO *b = BIO_new_mem_buf(pem, -1);
		back = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	assert_non_null(back);
	assert_int_equal(X509_cmp(back, F.ca), 0);
	X509_free(back);
	free(pem);
	write_trust("{\"hsmadm_trust\":1,\"module_ca\":[],\"supervisors\":[" SUP "]}");
	pem = (char *)"untouched";
	assert_int_equal(evlog_trust_module_ca(trust, &pem), HSM_ERR_NOT_FOUND);
	assert_null(pem);
}

static void
test_trust_file_bad(void **state)
{
	static const char *bad[] = {
		"{\"hsmadm_trust\":2,\"module_ca\":[@CA@],\"supervisors\":[" SUP "]}",
		"{\"module_ca\":[@CA@],\"supervisors\":[" SUP "]}",
		"{\"hsmadm_trust\":1,\"supervisors\":[" SUP "]}",
		"{\"hsmadm_trust\":1,\"module_ca\":[@CA@],\"supervisors\":[]}",
		"{\"hsmadm_trust\":1,\"module_ca\":[@CA@,\"not a PEM\"],\"supervisors\":[" SUP "]}",
		"{\"hsmadm_trust\":1,\"module_ca\":[@CA@,7],\"supervisors\":[" SUP "]}",
		/* a supervisor whose ski is not its key's, no ski, no pubkey, a pubkey that is no key */
		"{\"hsmadm_trust\":1,\"module_ca\":[@CA@],\"supervisors\":[{\"pubkey\":\"@PUB@\","
		    "\"ski\":\"@PUB64@\"}]}",
		"{\"hsmadm_trust\":1,\"module_ca\":[@CA@],\"supervisors\":[{\"pubkey\":\"@PUB@\"}]}",
		"{\"hsmadm_trust\":1,\"module_ca\":[@CA@],\"supervisors\":[{\"ski\":\"@SKI@\"}]}",
		"{\"hsmadm_trust\":1,\"module_ca\":[@CA@],\"supervisors\":[{\"pubkey\":\"@SKI@\","
		    "\"ski\":\"@SKI@\"}]}",
		"{\"hsmadm_trust\":1,\"hsmadm_trust\":1,\"module_ca\":[@CA@],\"supervisors\":[" SUP
		    "]}",
		"{\"hsmadm_trust\":1,\"module_ca\":[@CA@],\"supervisors\":[" SUP "]",
	};
	struct ev_anchors a;
	char *pem = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_trust(bad[i]);
		if (load_opts(F.ca_pem, F.sup_pub, trust, 0, &a) != HSM_ERR_FORMAT)
			fail_msg("trust file %zu: not refused as malformed", i);
		ev_anchors_free(&a);
		assert_int_equal(evlog_trust_module_ca(trust, &pem), HSM_ERR_FORMAT);
		assert_null(pem);
	}
	assert_int_equal(load_opts(NULL, NULL, nothere, 0, &a), HSM_ERR_NOT_FOUND);
	ev_anchors_free(&a);
}

/* ---- receipts ---- */

static json_t *
receipt_of(const char *module, long long v, EVP_PKEY *key, X509 *cert)
{
	json_t *body = json_pack("{s:I, s:s, s:i, s:s}", "v", (json_int_t)v, "module", module,
	                         "domain", EVFIX_DOMAIN, "op", "zeroize"), *r = NULL;

	assert_int_equal(receipt_sign(body, key, cert, &r), HSM_OK);
	json_decref(body);
	return r;
}

static hsm_rc
check(struct ev_oacache *c, const struct ev_anchors *a, const json_t *r)
{
	const json_t *body = (const json_t *)r;   /* anything but NULL */
	hsm_rc rc = ev_receipt_verify(c, a, r, &body);

	if (rc == HSM_OK)
		assert_ptr_equal(body, json_object_get(r, "body"));
	else
		assert_null(body);
	return rc;
}

static void
test_receipt_good(void **state)
{
	struct ev_anchors a;
	struct ev_oacache c;
	json_t *r1 = receipt_of(EVFIX_MODULE, RECEIPT_VERSION, F.oa_key, F.oa);
	json_t *r2 = receipt_of(EVFIX_MODULE, RECEIPT_VERSION, F.oa_key, F.oa);

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(load_opts(F.ca_pem, NULL, NULL, 0, &a), HSM_OK);
	assert_int_equal(check(&c, &a, r1), HSM_OK);
	assert_int_equal(check(&c, &a, r2), HSM_OK);
	assert_int_equal(check(&c, &a, r1), HSM_OK);
	/* one certificate: decoded and chained once */
	assert_int_equal(c.n, 1);
	assert_int_equal(c.chain_checks, 1);
	assert_int_equal(c.used_ca, 1u);
	ev_oacache_free(&c);
	ev_anchors_free(&a);
	/* with no CA given, receipts cannot be checked: the auditor's mistake */
	assert_int_equal(load_opts(NULL, F.sup_pub, NULL, 0, &a), HSM_OK);
	assert_int_equal(check(&c, &a, r1), HSM_ERR_USAGE);
	assert_int_equal(c.n, 0);
	ev_anchors_free(&a);
	json_decref(r1);
	json_decref(r2);
}

static void
set_b64(json_t *r, const char *key, const uint8_t *b, size_t n)
{
	char *s = NULL;

	assert_int_equal(b64_encode(b, n, &s), HSM_OK);
	json_object_set_new(r, key, json_string(s));
	free(s);
}

/* Altered bodies and signatures; every one refused with the cache intact. */
static void
test_receipt_altered(void **state)
{
	struct ev_anchors a;
	struct ev_oacache c;
	json_t *r = receipt_of(EVFIX_MODULE, RECEIPT_VERSION, F.oa_key, F.oa), *x;
	uint8_t *sig = NULL, *twin = NULL;
	size_t siglen = 0, twinlen = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(load_opts(F.ca_pem, NULL, NULL, 0, &a), HSM_OK);
	x = json_deep_copy(r);
	json_object_set_new(json_object_get(x, "body"), "domain", json_integer(4));
	assert_int_equal(check(&c, &a, x), HSM_ERR_VERIFY);
	json_decref(x);
	/* the high-S twin of the real signature */
	assert_int_equal(b64_decode(json_string_value(json_object_get(r, "signature")), &sig,
	                            &siglen), HSM_OK);
	assert_int_equal(ecdsa_twin(F.oa_key, sig, siglen, &twin, &twinlen), 0);
	x = json_deep_copy(r);
	set_b64(x, "signature", twin, twinlen);
	assert_int_equal(check(&c, &a, x), HSM_ERR_VERIFY);
	assert_non_null(strstr(hsm_errmsg(), "low S"));
	/* a signature over something else */
	sig[siglen - 1] ^= 1;
	set_b64(x, "signature", sig, siglen);
	assert_int_not_equal(check(&c, &a, x), HSM_OK);
	json_decref(x);
	/* the untouched receipt still verifies from the cache */
	assert_int_equal(check(&c, &a, r), HSM_OK);
	assert_int_equal(c.chain_checks, 1);
	free(sig);
	free(twin);
	ev_oacache_free(&c);
	ev_anchors_free(&a);
	json_decref(r);
}

static void
test_receipt_shape(void **state)
{
	struct ev_anchors a;
	struct ev_oacache c;
	json_t *r = receipt_of(EVFIX_MODULE, RECEIPT_VERSION, F.oa_key, F.oa), *x;
	json_t *v2 = receipt_of(EVFIX_MODULE, RECEIPT_VERSION + 1, F.oa_key, F.oa);
	static const char *const members[] = { "body", "signature", "oa_cert" };
	size_t i;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(load_opts(F.ca_pem, NULL, NULL, 0, &a), HSM_OK);
	assert_int_equal(check(&c, &a, v2), HSM_ERR_FORMAT);
	for (i = 0; i < 3; i++) {
		x = json_deep_copy(r);
		json_object_del(x, members[i]);
		assert_int_equal(check(&c, &a, x), HSM_ERR_FORMAT);
		json_object_set_new(x, members[i], json_integer(1));
		assert_int_equal(check(&c, &a, x), HSM_ERR_FORMAT);
		json_decref(x);
	}
	x = json_deep_copy(r);
	json_object_set_new(x, "extra", json_true());
	assert_int_equal(check(&c, &a, x), HSM_ERR_FORMAT);
	json_object_del(x, "extra");
	json_object_del(json_object_get(x, "body"), "module");
	assert_int_equal(check(&c, &a, x), HSM_ERR_FORMAT);
	json_decref(x);
	/* an OA certificate that is not base64 DER of a certificate */
	x = json_deep_copy(r);
	json_object_set_new(x, "oa_cert", json_string("!!not base64!!"));
	assert_int_not_equal(check(&c, &a, x), HSM_OK);
	set_b64(x, "oa_cert", (const uint8_t *)"not DER", 7);
	assert_int_not_equal(check(&c, &a, x), HSM_OK);
	json_decref(x);
	assert_int_equal(c.n, 0);
	x = json_array();
	assert_int_equal(check(&c, &a, x), HSM_ERR_FORMAT);
	json_decref(x);
	ev_oacache_free(&c);
	ev_anchors_free(&a);
	json_decref(v2);
	json_decref(r);
}

static X509 *
issue(x509u_kind kind, const char *serial, EVP_PKEY *key, X509 *ca, EVP_PKEY *cakey)
{
	X509 *x = NULL;

	assert_int_equal(x509u_issue(kind, "test", serial, key, ca, cakey, 30, &x), HSM_OK);
	return x;
}

/* Certificates that do not make a module's OA certificate: refused as
 * untrusted with anchors, and (but for the chain) the same without. */
static void
test_receipt_untrusted(void **state)
{
	struct ev_anchors a, none;
	struct ev_oacache c, cn;
	EVP_PKEY *ca2k = NULL, *p256 = NULL;
	X509 *ca2, *foreign, *tls, *weak;
	json_t *r[4];
	size_t i;

	(void)state;
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &ca2k), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &p256), HSM_OK);
	ca2 = issue(X509U_MODULE_CA, NULL, ca2k, NULL, ca2k);
	foreign = issue(X509U_OA, EVFIX_MODULE, F.oa_key, ca2, ca2k);
	tls = issue(X509U_TLS_SERVER, EVFIX_MODULE, F.oa_key, F.ca, F.ca_key);
	weak = issue(X509U_OA, EVFIX_MODULE, p256, F.ca, F.ca_key);
	r[0] = receipt_of(EVFIX_MODULE, RECEIPT_VERSION, F.oa_key, foreign);
	r[1] = receipt_of(EVFIX_MODULE, RECEIPT_VERSION, F.oa_key, tls);
	r[2] = receipt_of(EVFIX_MODULE, RECEIPT_VERSION, p256, weak);
	r[3] = receipt_of("DC2-M02", RECEIPT_VERSION, F.oa_key, F.oa);   /* another module */
	memset(&c, 0, sizeof(c));
	memset(&cn, 0, sizeof(cn));
	assert_int_equal(load_opts(F.ca_pem, NULL, NULL, 0, &a), HSM_OK);
	assert_int_equal(load_opts(NULL, NULL, NULL, 1, &none), HSM_OK);
	for (i = 0; i < 4; i++) {
		if (check(&c, &a, r[i]) != HSM_ERR_TRUST)
			fail_msg("receipt %zu: not refused as untrusted (%s)", i, hsm_errmsg());
		/* again, from the cache: the same answer */
		assert_int_equal(check(&c, &a, r[i]), HSM_ERR_TRUST);
	}
	assert_int_equal(c.used_ca, 0);
	/* the module's own certificate, cached: good for its module, refused for
	 * another (or none) in any order */
	{
		json_t *good = receipt_of(EVFIX_MODULE, RECEIPT_VERSION, F.oa_key, F.oa);
		json_t *nameless = receipt_of("", RECEIPT_VERSION, F.oa_key, F.oa);

		assert_int_equal(check(&c, &a, good), HSM_OK);
		assert_int_equal(check(&c, &a, r[3]), HSM_ERR_TRUST);
		assert_non_null(strstr(hsm_errmsg(), "another module"));
		assert_int_equal(check(&c, &a, good), HSM_OK);
		assert_int_not_equal(check(&c, &a, nameless), HSM_OK);
		assert_int_equal(check(&c, &a, good), HSM_OK);
		json_decref(good);
		json_decref(nameless);
	}
	/* consistency only: the foreign CA's receipt is consistent in itself */
	assert_int_equal(check(&cn, &none, r[0]), HSM_OK);
	assert_int_equal(cn.chain_checks, 0);
	for (i = 1; i < 4; i++)
		assert_int_equal(check(&cn, &none, r[i]), HSM_ERR_TRUST);
	for (i = 0; i < 4; i++)
		json_decref(r[i]);
	ev_oacache_free(&c);
	ev_oacache_free(&cn);
	ev_anchors_free(&a);
	ev_anchors_free(&none);
	X509_free(ca2);
	X509_free(foreign);
	X509_free(tls);
	X509_free(weak);
	EVP_PKEY_free(ca2k);
	EVP_PKEY_free(p256);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anchors_from_options),
		cmocka_unit_test(test_anchors_bad_options),
		cmocka_unit_test(test_trust_file),
		cmocka_unit_test(test_trust_file_bad),
		cmocka_unit_test(test_receipt_good),
		cmocka_unit_test(test_receipt_altered),
		cmocka_unit_test(test_receipt_shape),
		cmocka_unit_test(test_receipt_untrusted),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
