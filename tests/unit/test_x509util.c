/* SPDX-License-Identifier: BSD-2-Clause */
/* test_x509util.c - the certificates hsmadm issues itself (x509util.h): each
 * kind carries the subject, extensions and validity the header promises;
 * one-level chains verify against their own CA only; DER and PEM round-trip
 * and are strict; the fingerprint is SHA-256 of the DER; copies of one
 * pinned CA file are decoded once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/x509v3.h>

#include "hsmadm/crypto.h"
#include "hsmadm/x509util.h"
#include "test_tmpdir.h"

struct pki {
	EVP_PKEY *ca_key, *leaf_key, *other_key;
	X509     *ca, *other_ca;
};

static int
setup(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &p->ca_key), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &p->leaf_key), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &p->other_key), HSM_OK);
	assert_int_equal(x509u_issue(X509U_MODULE_CA, "DC1 module CA", NULL, p->ca_key, NULL,
	                             p->ca_key, 3650, &p->ca), HSM_OK);
	assert_int_equal(x509u_issue(X509U_MODULE_CA, "another CA", NULL, p->other_key, NULL,
	                             p->other_key, 3650, &p->other_ca), HSM_OK);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pki *p = *state;

	X509_free(p->ca);
	X509_free(p->other_ca);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->leaf_key);
	EVP_PKEY_free(p->other_key);
	free(p);
	return 0;
}

static void
assert_subject(X509 *c, const char *cn, const char *ou, const char *serial)
{
	char buf[128];

	assert_int_equal(x509u_subject_cn(c, buf, sizeof(buf)), HSM_OK);
	assert_string_equal(buf, cn);
	assert_int_equal(x509u_subject_ou(c, buf, sizeof(buf)), HSM_OK);
	assert_string_equal(buf, ou);
	if (serial == NULL) {
		assert_int_equal(x509u_subject_serial(c, buf, sizeof(buf)), HSM_ERR_NOT_FOUND);
	} else {
		assert_int_equal(x509u_subject_serial(c, buf, sizeof(buf)), HSM_OK);
		assert_string_equal(buf, serial);
	}
}

/* 1 if cert's extended key usage has nid. */
static int
has_eku(X509 *c, int nid)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(c, NID_ext_key_usage, NULL, NULL);
	int i, found = 0;

	for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++)
		found |= OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid;
	EXTENDED_KEY_USAGE_free(eku);
	return found;
}

static void
test_kinds(void **state)
{
	struct pki *p = *state;
	X509 *oa = NULL, *srv = NULL, *cli = NULL;

	assert_subject(p->ca, "DC1 module CA", X509U_OU_MODULE_CA, NULL);
	assert_int_equal(X509_check_ca(p->ca), 1);
	assert_int_equal(X509_check_issued(p->ca, p->ca), X509_V_OK);   /* self-signed */

	assert_int_equal(x509u_issue(X509U_OA, "DC1-M01 OA", "DC1-M01", p->leaf_key, p->ca,
	                             p->ca_key, 365, &oa), HSM_OK);
	assert_subject(oa, "DC1-M01 OA", X509U_OU_OA, "DC1-M01");
	assert_int_equal(X509_check_ca(oa), 0);

	assert_int_equal(x509u_issue(X509U_TLS_SERVER, "DC1-M01", "DC1-M01", p->leaf_key, p->ca,
	                             p->ca_key, 365, &srv), HSM_OK);
	assert_subject(srv, "DC1-M01", X509U_OU_TLS_SERVER, "DC1-M01");
	assert_true(has_eku(srv, NID_server_auth));
	assert_false(has_eku(srv, NID_client_auth));
	assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(srv, "::1", 0), 1);
	assert_int_not_equal(X509_check_host(srv, "example.org", 0, 0, NULL), 1);

	assert_int_equal(x509u_issue(X509U_CLIENT, "ws1", NULL, p->leaf_key, p->ca, p->ca_key,
	                             365, &cli), HSM_OK);
	assert_subject(cli, "ws1", X509U_OU_CLIENT, NULL);
	assert_true(has_eku(cli, NID_client_auth));
	assert_false(has_eku(cli, NID_server_auth));
	/* valid from an hour ago (clock skew) for the days asked */
	assert_true(X509_cmp_time(X509_get0_notBefore(cli), NULL) < 0);
	{
		time_t t364 = time(NULL) + 364L * 86400, t366 = time(NULL) + 366L * 86400;

		assert_true(X509_cmp_time(X509_get0_notAfter(cli), &t364) > 0);
		assert_true(X509_cmp_time(X509_get0_notAfter(cli), &t366) < 0);
	}
	X509_free(oa);
	X509_free(srv);
	X509_free(cli);
}

static void
test_refusals(void **state)
{
	struct pki *p = *state;
	X509 *c = NULL;

	/* a CA is self-signed, a leaf needs an issuer, days must be positive */
	assert_int_equal(x509u_issue(X509U_MODULE_CA, "x", NULL, p->leaf_key, p->ca, p->ca_key,
	                             10, &c), HSM_ERR_USAGE);
	assert_int_equal(x509u_issue(X509U_CLIENT, "x", NULL, p->leaf_key, NULL, p->ca_key,
	                             10, &c), HSM_ERR_USAGE);
	assert_int_equal(x509u_issue(X509U_CLIENT, "x", NULL, p->leaf_key, p->ca, p->ca_key,
	                             0, &c), HSM_ERR_USAGE);
	assert_null(c);
}

static void
test_chain(void **state)
{
	struct pki *p = *state;
	X509 *leaf = NULL, *forged = NULL;

	assert_int_equal(x509u_issue(X509U_OA, "DC1-M01 OA", "DC1-M01", p->leaf_key, p->ca,
	                             p->ca_key, 30, &leaf), HSM_OK);
	assert_int_equal(x509u_verify_issued_by(leaf, p->ca), HSM_OK);
	assert_int_equal(x509u_verify_issued_by(leaf, p->other_ca), HSM_ERR_TRUST);
	assert_non_null(strstr(hsm_errmsg(), "pinned CA"));
	/* the CA is not a certificate it issued */
	assert_int_equal(x509u_verify_issued_by(p->ca, p->ca), HSM_ERR_TRUST);
	/* same issuer name, signed with another key: the signature decides */
	assert_int_equal(x509u_issue(X509U_OA, "DC1-M01 OA", "DC1-M01", p->leaf_key, p->ca,
	                             p->other_key, 30, &forged), HSM_OK);
	assert_int_equal(x509u_verify_issued_by(forged, p->ca), HSM_ERR_TRUST);
	X509_free(leaf);
	X509_free(forged);
}

/* A file at path that is no certificate. */
static void
write_junk(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("not a certificate\n", f);
	fclose(f);
}

static void
test_encodings(void **state)
{
	struct pki *p = *state;
	uint8_t *der = NULL, fp1[32], fp2[32], sha[32];
	size_t n = 0;
	char *pem = NULL, *dir = make_tmpdir_named("x509util"), path[600];
	X509 *back = NULL;
	struct stat st;

	assert_int_equal(x509u_to_der(p->ca, &der, &n), HSM_OK);
	assert_int_equal(x509u_fingerprint(p->ca, fp1), HSM_OK);
	assert_int_equal(crypto_sha256(der, n, sha), HSM_OK);
	assert_memory_equal(fp1, sha, 32);
	assert_int_equal(x509u_from_der(der, n, &back), HSM_OK);
	assert_int_equal(x509u_fingerprint(back, fp2), HSM_OK);
	assert_memory_equal(fp1, fp2, 32);
	X509_free(back);
	back = NULL;
	/* strict: a byte short, a byte more, nothing */
	assert_int_equal(x509u_from_der(der, n - 1, &back), HSM_ERR_FORMAT);
	der = realloc(der, n + 1);
	assert_non_null(der);
	der[n] = 0;
	assert_int_equal(x509u_from_der(der, n + 1, &back), HSM_ERR_FORMAT);
	assert_int_equal(x509u_from_der(der, 0, &back), HSM_ERR_FORMAT);
	assert_null(back);

	assert_int_equal(x509u_to_pem(p->ca, &pem), HSM_OK);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	assert_int_equal(x509u_save_pem(path, p->ca), HSM_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(x509u_load_pem(path, &back), HSM_OK);
	assert_int_equal(x509u_fingerprint(back, fp2), HSM_OK);
	assert_memory_equal(fp1, fp2, 32);
	X509_free(back);
	back = NULL;
	/* saved again over the old one (atomic replace), and errors */
	assert_int_equal(x509u_save_pem(path, p->other_ca), HSM_OK);
	assert_int_equal(x509u_load_pem(path, &back), HSM_OK);
	assert_int_equal(x509u_fingerprint(back, fp2), HSM_OK);
	assert_memory_not_equal(fp1, fp2, 32);
	X509_free(back);
	back = NULL;
	snprintf(path, sizeof(path), "%s/missing.pem", dir);
	assert_int_equal(x509u_load_pem(path, &back), HSM_ERR_IO);
	snprintf(path, sizeof(path), "%s/junk.pem", dir);
	write_junk(path);
	assert_int_equal(x509u_load_pem(path, &back), HSM_ERR_FORMAT);
	assert_null(back);
	free(der);
	free(pem);
	rm_tmpdir(dir);
}

/* Pinned CA files decoded once per content: copies share one decoding,
 * another content (or a file changed in place) is decoded afresh, and the
 * errors are those of x509u_load_pem. */
static void
test_load_shared(void **state)
{
	struct pki *p = *state;
	char *dir = make_tmpdir_named("x509shared"), a[600], b[600], c[600];
	X509 *xa = NULL, *xb = NULL, *xc = NULL, *again = NULL;
	uint8_t fp1[32], fp2[32];

	snprintf(a, sizeof(a), "%s/ca-a.pem", dir);
	snprintf(b, sizeof(b), "%s/ca-b.pem", dir);
	snprintf(c, sizeof(c), "%s/ca-c.pem", dir);
	assert_int_equal(x509u_save_pem(a, p->ca), HSM_OK);
	assert_int_equal(x509u_save_pem(b, p->ca), HSM_OK);
	assert_int_equal(x509u_save_pem(c, p->other_ca), HSM_OK);
	assert_int_equal(x509u_load_pem_shared(a, &xa), HSM_OK);
	assert_int_equal(x509u_load_pem_shared(b, &xb), HSM_OK);
	assert_ptr_equal(xa, xb);   /* one decoding for both copies */
	assert_int_equal(x509u_load_pem_shared(c, &xc), HSM_OK);
	assert_ptr_not_equal(xa, xc);
	assert_int_equal(X509_cmp(xc, p->other_ca), 0);
	/* a reference each: freeing one leaves the other usable */
	X509_free(xb);
	assert_int_equal(x509u_fingerprint(xa, fp1), HSM_OK);
	/* the file changed in place: its new content, not the memo's */
	assert_int_equal(x509u_save_pem(a, p->other_ca), HSM_OK);
	assert_int_equal(x509u_load_pem_shared(a, &again), HSM_OK);
	assert_int_equal(x509u_fingerprint(again, fp2), HSM_OK);
	assert_memory_not_equal(fp1, fp2, 32);
	assert_int_equal(X509_cmp(again, p->other_ca), 0);
	X509_free(again);
	again = NULL;
	snprintf(a, sizeof(a), "%s/missing.pem", dir);
	assert_int_equal(x509u_load_pem_shared(a, &again), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "missing.pem"));
	write_junk(b);
	assert_int_equal(x509u_load_pem_shared(b, &again), HSM_ERR_FORMAT);
	assert_null(again);
	X509_free(xa);
	X509_free(xc);
	rm_tmpdir(dir);
}

/* Threads opening a group's modules load one CA file at the same moment:
 * they share one decoding, not one each. */
#define AT_ONCE 8
struct at_once {
	pthread_barrier_t *start;
	const char        *path;
	X509              *got;
	hsm_rc             rc;
};

static void *
load_at_once(void *arg)
{
	struct at_once *a = arg;

	pthread_barrier_wait(a->start);
	a->rc = x509u_load_pem_shared(a->path, &a->got);
	return NULL;
}

static void
test_load_shared_at_once(void **state)
{
	struct pki *p = *state;
	char *dir = make_tmpdir_named("x509once"), path[600];
	struct at_once a[AT_ONCE];
	pthread_t t[AT_ONCE];
	pthread_barrier_t start;
	X509 *fresh = NULL;
	size_t i;

	/* a content the memo has not seen in this process */
	assert_int_equal(x509u_issue(X509U_MODULE_CA, "DC2 module CA", NULL, p->other_key, NULL,
	                             p->other_key, 3650, &fresh), HSM_OK);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	assert_int_equal(x509u_save_pem(path, fresh), HSM_OK);
	assert_int_equal(pthread_barrier_init(&start, NULL, AT_ONCE), 0);
	for (i = 0; i < AT_ONCE; i++) {
		a[i] = (struct at_once){ .start = &start, .path = path };
		assert_int_equal(pthread_create(&t[i], NULL, load_at_once, &a[i]), 0);
	}
	for (i = 0; i < AT_ONCE; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (i = 0; i < AT_ONCE; i++) {
		assert_int_equal(a[i].rc, HSM_OK);
		assert_ptr_equal(a[i].got, a[0].got);
	}
	assert_int_equal(X509_cmp(a[0].got, fresh), 0);
	for (i = 0; i < AT_ONCE; i++)
		X509_free(a[i].got);
	pthread_barrier_destroy(&start);
	X509_free(fresh);
	rm_tmpdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_encodings),
		cmocka_unit_test(test_load_shared),
		cmocka_unit_test(test_load_shared_at_once),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
