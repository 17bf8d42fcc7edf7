/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evtsa.c - RFC 3161 time-stamps over a completed log
 * (evidence/evtsa.c), with a time-stamping authority played in process by
 * OpenSSL's TS_RESP_CTX (a CA, and a TSA certificate with extendedKeyUsage
 * critical timeStamping under it): the query covers the completion's head
 * with a fresh nonce; a granted reply is recorded and the record passes
 * the verifier's check; refused with the log left byte for byte as it was:
 * a log with no completion, a reply to another query, a rejected query,
 * a TSA the given CA does not vouch for, bytes that are not DER; and the
 * verifier's check of a record that names another completion, another
 * algorithm or time than its token, a broken token, or a stranger's CA.
 * (tests/integration/audit_tsa.sh drives the same through hsmadm-audit and
 * openssl ts.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evtsa.h"
#include "hsmadm/x509util.h"
#include "evint.h"
#include "test_evlog_fixture.h"

static struct evfix F;
static EVP_PKEY *ca_key, *other_key, *tsa_key;
static X509 *ca, *other, *tsa;
static char ca_pem[400], other_pem[400], done_log[400], open_log[400];
static long long comp_seq;
static uint8_t comp_hash[32];

/* The TSA's certificate: signed by the CA, EKU critical timeStamping. */
static X509 *
tsa_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	if (x == NULL || X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 7) != 1 ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                               (const unsigned char *)"Test TSA", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto bad;
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "critical,timeStamping");
	if (ext == NULL || X509_add_ext(x, ext, -1) != 1) {
		X509_EXTENSION_free(ext);
		goto bad;
	}
	X509_EXTENSION_free(ext);
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		goto bad;
	return x;
bad:
	X509_free(x);
	return NULL;
}

/* The last record of a log: its seq and hash, and its body (a new
 * reference). */
static json_t *
last_record(const char *path, long long *seq, uint8_t hash[32])
{
	evlog_reader *r = NULL;
	evlog_record rec;
	json_t *b = NULL;

	memset(&rec, 0, sizeof(rec));
	assert_int_equal(evlog_reader_open(path, &r), HSM_OK);
	while (evlog_reader_next(r, &rec) == HSM_OK) {
		*seq = rec.seq;
		memcpy(hash, rec.hash, 32);
		json_decref(b);
		b = json_incref(rec.body);
	}
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	return b;
}

static int
setup_all(void **state)
{
	(void)state;
	if (evfix_setup(&F) != 0 ||
	    crypto_ec_generate(HSM_CURVE_P256, &ca_key) != HSM_OK ||
	    crypto_ec_generate(HSM_CURVE_P256, &other_key) != HSM_OK ||
	    crypto_ec_generate(HSM_CURVE_P256, &tsa_key) != HSM_OK ||
	    x509u_issue(X509U_MODULE_CA, "Test TSA Root", NULL, ca_key, NULL, ca_key, 30,
	                &ca) != HSM_OK ||
	    x509u_issue(X509U_MODULE_CA, "Other Root", NULL, other_key, NULL, other_key, 30,
	                &other) != HSM_OK ||
	    (tsa = tsa_cert(tsa_key, ca, ca_key)) == NULL)
		return -1;
	snprintf(ca_pem, sizeof(ca_pem), "%s/tsa-ca.pem", F.dir);
	snprintf(other_pem, sizeof(other_pem), "%s/other-ca.pem", F.dir);
	snprintf(done_log, sizeof(done_log), "%s/done.log", F.dir);
	snprintf(open_log, sizeof(open_log), "%s/open.log", F.dir);
	if (x509u_save_pem(ca_pem, ca) != HSM_OK || x509u_save_pem(other_pem, other) != HSM_OK ||
	    evfix_ceremony(&F, done_log, EVFIX_COMPLETE | EVFIX_NOSYNC, NULL) != HSM_OK ||
	    evfix_ceremony(&F, open_log, EVFIX_NOSYNC, NULL) != HSM_OK)
		return -1;
	json_decref(last_record(done_log, &comp_seq, comp_hash));
	return comp_seq > 0 ? 0 : -1;
}

static int
teardown_all(void **state)
{
	(void)state;
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(tsa_key);
	X509_free(ca);
	X509_free(other);
	X509_free(tsa);
	evfix_teardown(&F);
	return 0;
}

/* The TSA's reply to a query (DER), malloc'ed; digests: what it accepts. */
static uint8_t *
tsa_reply(const uint8_t *q, size_t qlen, int sha384_too, size_t *len)
{
	TS_RESP_CTX *ctx = TS_RESP_CTX_new();
	ASN1_OBJECT *policy = OBJ_txt2obj("1.2.3.4.1", 1);
	BIO *in = BIO_new_mem_buf(q, (int)qlen);
	TS_RESP *resp = NULL;
	uint8_t *out = NULL, *p;
	int n;

	assert_non_null(ctx);
	assert_non_null(policy);
	assert_non_null(in);
	assert_int_equal(TS_RESP_CTX_set_signer_cert(ctx, tsa), 1);
	assert_int_equal(TS_RESP_CTX_set_signer_key(ctx, tsa_key), 1);
	assert_int_equal(TS_RESP_CTX_set_def_policy(ctx, policy), 1);
	assert_int_equal(TS_RESP_CTX_add_md(ctx, EVP_sha256()), 1);
	if (sha384_too)
		assert_int_equal(TS_RESP_CTX_add_md(ctx, EVP_sha384()), 1);
	TS_RESP_CTX_add_flags(ctx, TS_TSA_NAME);
	assert_non_null(resp = TS_RESP_create_response(ctx, in));
	assert_true((n = i2d_TS_RESP(resp, NULL)) > 0);
	assert_non_null(out = malloc((size_t)n));
	p = out;
	*len = (size_t)i2d_TS_RESP(resp, &p);
	TS_RESP_free(resp);
	BIO_free(in);
	ASN1_OBJECT_free(policy);
	TS_RESP_CTX_free(ctx);
	return out;
}

static uint8_t *
query(const char *path, const char *alg, size_t *len, struct evtsa_info *info)
{
	uint8_t *q = NULL;

	assert_int_equal(evtsa_query(path, alg, &q, len, info), HSM_OK);
	assert_non_null(q);
	return q;
}

/* What the query asks: the imprint H(head hash) under alg, a nonce. */
static void
check_query(const uint8_t *q, size_t len, const EVP_MD *md, ASN1_INTEGER **nonce)
{
	const unsigned char *p = q;
	TS_REQ *req = d2i_TS_REQ(NULL, &p, (long)len);
	TS_MSG_IMPRINT *mi;
	ASN1_OCTET_STRING *got;
	uint8_t want[EVP_MAX_MD_SIZE];
	unsigned wlen = 0;

	assert_non_null(req);
	mi = TS_REQ_get_msg_imprint(req);
	got = TS_MSG_IMPRINT_get_msg(mi);
	assert_int_equal(EVP_Digest(comp_hash, 32, want, &wlen, md, NULL), 1);
	assert_int_equal(ASN1_STRING_length(got), (int)wlen);
	assert_memory_equal(ASN1_STRING_get0_data(got), want, wlen);
	assert_int_equal(TS_REQ_get_cert_req(req), 1);
	assert_non_null(TS_REQ_get_nonce(req));
	*nonce = ASN1_INTEGER_dup(TS_REQ_get_nonce(req));
	TS_REQ_free(req);
}

static void
test_query(void **state)
{
	struct evtsa_info info;
	ASN1_INTEGER *n1 = NULL, *n2 = NULL;
	uint8_t *q1, *q2;
	size_t l1 = 0, l2 = 0;
	char hex[65];

	(void)state;
	q1 = query(done_log, NULL, &l1, &info);
	assert_int_equal(info.seq, comp_seq);
	hex_encode_buf(comp_hash, 32, hex);
	assert_string_equal(info.head_hash, hex);
	assert_string_equal(info.hash_alg, "sha256");
	check_query(q1, l1, EVP_sha256(), &n1);
	q2 = query(done_log, "sha384", &l2, &info);
	assert_string_equal(info.hash_alg, "sha384");
	check_query(q2, l2, EVP_sha384(), &n2);
	/* every query its own nonce */
	assert_int_not_equal(ASN1_INTEGER_cmp(n1, n2), 0);
	ASN1_INTEGER_free(n1);
	ASN1_INTEGER_free(n2);
	free(q1);
	free(q2);
}

static void
test_query_refused(void **state)
{
	struct evtsa_info info;
	uint8_t *q = (uint8_t *)"x";
	size_t len = 9;
	char missing[450];

	(void)state;
	assert_int_equal(evtsa_query(open_log, NULL, &q, &len, &info), HSM_ERR_STATE);
	assert_null(q);
	assert_int_equal(len, 0);
	assert_int_equal(evtsa_query(done_log, "md5", &q, &len, &info), HSM_ERR_USAGE);
	assert_null(q);
	assert_int_equal(evtsa_query(done_log, "SHA256", &q, &len, &info), HSM_ERR_USAGE);
	snprintf(missing, sizeof(missing), "%s/none.log", F.dir);
	assert_int_equal(evtsa_query(missing, NULL, &q, &len, &info), HSM_ERR_NOT_FOUND);
	assert_null(q);
}

/* A copy of the completed log to record into. */
static void
copy_log(const char *to)
{
	size_t n = 0;
	char *b = evfix_slurp(done_log, &n);

	assert_non_null(b);
	assert_int_equal(evfix_spit(to, b, n), 0);
	free(b);
}

/* evtsa_record refuses with want, and the log is byte for byte as before. */
static void
refused(const char *path, const uint8_t *q, size_t ql, const uint8_t *r, size_t rl,
        const char *cafile, hsm_rc want)
{
	struct evtsa_info info;
	size_t n0 = 0, n1 = 0;
	char *before = evfix_slurp(path, &n0), *after;

	assert_non_null(before);
	if (evtsa_record(path, q, ql, r, rl, cafile, &info) != want)
		fail_msg("evtsa_record: want rc %d: %s", (int)want, hsm_errmsg());
	after = evfix_slurp(path, &n1);
	assert_non_null(after);
	assert_int_equal(n1, n0);
	assert_memory_equal(after, before, n0);
	free(before);
	free(after);
}

static void
test_record_refused(void **state)
{
	struct evtsa_info info;
	char path[450];
	uint8_t *qa, *qb, *qc, *ra, *rc384;
	size_t la = 0, lb = 0, lc = 0, lra = 0, lrc = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/refused.log", F.dir);
	copy_log(path);
	qa = query(path, NULL, &la, &info);
	qb = query(path, NULL, &lb, &info);
	qc = query(path, "sha384", &lc, &info);
	ra = tsa_reply(qa, la, 0, &lra);
	rc384 = tsa_reply(qc, lc, 0, &lrc);      /* the TSA does not take SHA-384 */
	/* the reply to query a is not the answer to query b (nonce) */
	refused(path, qb, lb, ra, lra, NULL, HSM_ERR_VERIFY);
	refused(path, qb, lb, ra, lra, ca_pem, HSM_ERR_TRUST);
	refused(path, qc, lc, rc384, lrc, NULL, HSM_ERR_VERIFY);
	assert_non_null(strstr(hsm_errmsg(), "did not grant"));
	/* signed by a TSA the given CA does not vouch for */
	refused(path, qa, la, ra, lra, other_pem, HSM_ERR_TRUST);
	refused(path, qa, la, ra, lra, F.ca_pem, HSM_ERR_TRUST);
	/* not DER; the CA file missing */
	refused(path, ra, lra, ra, lra, NULL, HSM_ERR_FORMAT);
	refused(path, qa, la, qa, la, NULL, HSM_ERR_FORMAT);
	refused(path, qa, la - 1, ra, lra, NULL, HSM_ERR_FORMAT);
	refused(path, qa, la, ra, lra / 2, NULL, HSM_ERR_FORMAT);
	{
		char nothere[460];
		snprintf(nothere, sizeof(nothere), "%s/nothere.pem", F.dir);
		refused(path, qa, la, ra, lra, nothere, HSM_ERR_NOT_FOUND);
	}
	/* a log with no completion: nothing to stamp */
	refused(open_log, qa, la, ra, lra, NULL, HSM_ERR_STATE);
	free(qa);
	free(qb);
	free(qc);
	free(ra);
	free(rc384);
}

/* The body of the last record of a log (a new reference). */
static json_t *
last_body(const char *path)
{
	uint8_t h[32];
	long long seq = 0;

	return last_record(path, &seq, h);
}

static X509_STORE *
store_of(const char *pem)
{
	X509_STORE *s = NULL;

	assert_int_equal(ev_tsa_store_load(pem, &s), HSM_OK);
	assert_non_null(s);
	return s;
}

static void
test_record_and_check(void **state)
{
	struct evtsa_info info, ci;
	char path[450], hex[65];
	uint8_t *q, *r;
	size_t ql = 0, rl = 0;
	X509_STORE *good = store_of(ca_pem), *bad = store_of(other_pem);
	json_t *body;

	(void)state;
	snprintf(path, sizeof(path), "%s/stamped.log", F.dir);
	copy_log(path);
	q = query(path, "sha384", &ql, &info);
	r = tsa_reply(q, ql, 1, &rl);
	assert_int_equal(evtsa_record(path, q, ql, r, rl, ca_pem, &info), HSM_OK);
	assert_int_equal(info.seq, comp_seq);
	assert_int_equal(info.record_seq, comp_seq + 1);
	assert_true(info.checked);
	assert_string_equal(info.hash_alg, "sha384");
	assert_true(ev_is_rfc3339_utc(info.gen_time));
	assert_non_null(strstr(info.tsa, "Test TSA"));
	body = last_body(path);
	hex_encode_buf(comp_hash, 32, hex);
	assert_string_equal(json_string_value(json_object_get(body, "head_hash")), hex);
	/* the verifier's check of the record */
	assert_int_equal(ev_tsa_check(body, comp_seq, comp_hash, good, &ci), HSM_OK);
	assert_true(ci.checked);
	assert_string_equal(ci.gen_time, info.gen_time);
	assert_int_equal(ev_tsa_check(body, comp_seq, comp_hash, NULL, &ci), HSM_OK);
	assert_false(ci.checked);
	assert_int_equal(ev_tsa_check(body, comp_seq, comp_hash, bad, &ci), HSM_ERR_TRUST);
	/* a second time-stamp may follow the first */
	free(q);
	free(r);
	q = query(path, NULL, &ql, &info);
	assert_int_equal(info.seq, comp_seq);
	r = tsa_reply(q, ql, 0, &rl);
	assert_int_equal(evtsa_record(path, q, ql, r, rl, NULL, &info), HSM_OK);
	assert_false(info.checked);
	assert_int_equal(info.record_seq, comp_seq + 2);
	json_decref(body);
	X509_STORE_free(good);
	X509_STORE_free(bad);
	free(q);
	free(r);
}

/* The recorded body with one member changed: ev_tsa_check's answer. */
static hsm_rc
check_edited(const json_t *body, const char *key, json_t *value)
{
	struct evtsa_info ci;
	json_t *b = json_deep_copy(body);
	hsm_rc rc;

	if (value == NULL)
		json_object_del(b, key);
	else
		json_object_set_new(b, key, value);
	rc = ev_tsa_check(b, comp_seq, comp_hash, NULL, &ci);
	json_decref(b);
	return rc;
}

static void
test_check_refused(void **state)
{
	struct evtsa_info info, ci;
	char path[450];
	uint8_t *q, *r, other_hash[32];
	size_t ql = 0, rl = 0;
	json_t *body;
	char *tok;

	(void)state;
	snprintf(path, sizeof(path), "%s/check.log", F.dir);
	copy_log(path);
	q = query(path, NULL, &ql, &info);
	r = tsa_reply(q, ql, 0, &rl);
	assert_int_equal(evtsa_record(path, q, ql, r, rl, NULL, &info), HSM_OK);
	body = last_body(path);
	/* another completion than the one it names */
	memcpy(other_hash, comp_hash, 32);
	other_hash[0] ^= 1;
	assert_int_equal(ev_tsa_check(body, comp_seq + 1, comp_hash, NULL, &ci), HSM_ERR_VERIFY);
	assert_int_equal(ev_tsa_check(body, comp_seq, other_hash, NULL, &ci), HSM_ERR_VERIFY);
	assert_int_equal(check_edited(body, "hash_alg", json_string("sha384")), HSM_ERR_VERIFY);
	assert_int_equal(check_edited(body, "gen_time", json_string("2000-01-01T00:00:00Z")),
	                 HSM_ERR_VERIFY);
	assert_int_equal(check_edited(body, "token", json_string("@@@")), HSM_ERR_FORMAT);
	assert_int_equal(check_edited(body, "token", json_string("AAAA")), HSM_ERR_FORMAT);
	/* a token cut short */
	tok = strdup(json_string_value(json_object_get(body, "token")));
	assert_non_null(tok);
	tok[strlen(tok) / 2 & ~(size_t)3] = '\0';
	assert_int_equal(check_edited(body, "token", json_string(tok)), HSM_ERR_FORMAT);
	free(tok);
	assert_int_equal(check_edited(body, "seq", json_string("1")), HSM_ERR_FORMAT);
	assert_int_equal(check_edited(body, "tsa", NULL), HSM_ERR_FORMAT);
	assert_int_equal(check_edited(body, "head_hash", NULL), HSM_ERR_FORMAT);
	json_decref(body);
	free(q);
	free(r);
}

static void
test_store_load(void **state)
{
	X509_STORE *s = (X509_STORE *)&F;
	char nothere[450];

	(void)state;
	snprintf(nothere, sizeof(nothere), "%s/nothere.pem", F.dir);
	assert_int_equal(ev_tsa_store_load(nothere, &s), HSM_ERR_NOT_FOUND);
	assert_null(s);
	assert_int_equal(ev_tsa_store_load(done_log, &s), HSM_ERR_NOT_FOUND);
	assert_null(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_refused),
		cmocka_unit_test(test_record_refused),
		cmocka_unit_test(test_record_and_check),
		cmocka_unit_test(test_check_refused),
		cmocka_unit_test(test_store_load),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
