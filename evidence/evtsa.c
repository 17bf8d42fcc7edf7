/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evtsa.c - RFC 3161 time-stamps over a completed log (evtsa.h): the query,
 * the reply checked against it and recorded, and the token checked by the
 * verifier. OpenSSL's TS API does the ASN.1 and the CMS signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evtsa.h"
#include "evint.h"

/* The algorithm named in a record or a query: sha256 or sha384 only. */
static hsm_rc
md_by_name(const char *name, const EVP_MD **md)
{
	if (name == NULL || strcmp(name, "sha256") == 0)
		*md = EVP_sha256();
	else if (strcmp(name, "sha384") == 0)
		*md = EVP_sha384();
	else
		return hsm_fail(HSM_ERR_USAGE, "time-stamp hash \"%.20s\": sha256 or sha384",
		    name);
	return HSM_OK;
}

static const char *
md_name(int nid)
{
	return nid == NID_sha256 ? "sha256" : nid == NID_sha384 ? "sha384" : NULL;
}

/* The imprint: H(the completion's head hash, 32 bytes). */
static hsm_rc
imprint_of(const EVP_MD *md, const uint8_t head[32], uint8_t out[EVP_MAX_MD_SIZE],
           unsigned *len)
{
	if (EVP_Digest(head, 32, out, len, md, NULL) != 1)
		return hsm_fail(HSM_ERR_CRYPTO, "cannot hash the log head for the time-stamp");
	return HSM_OK;
}

/* OpenSSL's last reason, for people; the queue is emptied. */
static const char *
ossl_why(char *buf, size_t n)
{
	unsigned long e = ERR_peek_last_error();

	snprintf(buf, n, "%s", e ? ERR_reason_error_string(e) : "no detail");
	if (ERR_reason_error_string(e) == NULL)
		snprintf(buf, n, "OpenSSL error %lx", e);
	ERR_clear_error();
	return buf;
}

/* The completion a time-stamp covers: the last completion record, after
 * which only time-stamps may follow. HSM_ERR_STATE when there is none. */
static hsm_rc
find_completion(evlog_reader *r, long long *seq, uint8_t hash[32])
{
	evlog_record rec;
	hsm_rc rc;

	*seq = 0;
	memset(&rec, 0, sizeof(rec));
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK) {
		if (strcmp(rec.type, EV_COMPLETION) == 0) {
			*seq = rec.seq;
			memcpy(hash, rec.hash, 32);
		} else if (*seq != 0 && strcmp(rec.type, EV_LOG_TIMESTAMPED) != 0) {
			rc = hsm_fail(HSM_ERR_AUDIT, "seq %lld: a %s record follows the "
			    "completion", rec.seq, rec.type);
			break;
		}
	}
	evlog_record_clear(&rec);
	if (rc != HSM_ERR_NOT_FOUND)
		return rc;
	if (*seq == 0)
		return hsm_fail(HSM_ERR_STATE, "the log has no completion record yet: a "
		    "time-stamp covers the supervisor's completion (hsmadm-audit "
		    "sign-completion first)");
	return HSM_OK;
}

static void
info_head(struct evtsa_info *info, long long seq, const uint8_t head[32], const char *alg)
{
	memset(info, 0, sizeof(*info));
	info->seq = seq;
	hex_encode_buf(head, 32, info->head_hash);
	snprintf(info->hash_alg, sizeof(info->hash_alg), "%s", alg);
}

hsm_rc
evtsa_query(const char *path, const char *hash_alg, uint8_t **der, size_t *len,
            struct evtsa_info *info)
{
	evlog_reader *r = NULL;
	const EVP_MD *md;
	TS_REQ *req = NULL;
	TS_MSG_IMPRINT *mi = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_INTEGER *nonce = NULL;
	BIGNUM *bn = NULL;
	uint8_t head[32], imp[EVP_MAX_MD_SIZE], rnd[8], *p;
	unsigned implen = 0;
	long long seq = 0;
	int n;
	hsm_rc rc;

	*der = NULL;
	*len = 0;
	if ((rc = md_by_name(hash_alg, &md)) != HSM_OK ||
	    (rc = evlog_reader_open(path, &r)) != HSM_OK)
		return rc;
	if ((rc = find_completion(r, &seq, head)) != HSM_OK ||
	    (rc = imprint_of(md, head, imp, &implen)) != HSM_OK ||
	    (rc = crypto_random(rnd, sizeof(rnd))) != HSM_OK)
		goto out;
	info_head(info, seq, head, md_name(EVP_MD_get_type(md)));
	/* as openssl ts -query: version 1, imprint, nonce, certReq */
	if ((req = TS_REQ_new()) == NULL || TS_REQ_set_version(req, 1) != 1 ||
	    (mi = TS_MSG_IMPRINT_new()) == NULL || (alg = X509_ALGOR_new()) == NULL ||
	    X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL) != 1 ||
	    TS_MSG_IMPRINT_set_algo(mi, alg) != 1 ||
	    TS_MSG_IMPRINT_set_msg(mi, imp, (int)implen) != 1 ||
	    TS_REQ_set_msg_imprint(req, mi) != 1 ||
	    (bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL ||
	    (nonce = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    TS_REQ_set_nonce(req, nonce) != 1 || TS_REQ_set_cert_req(req, 1) != 1 ||
	    (n = i2d_TS_REQ(req, NULL)) <= 0 || (*der = malloc((size_t)n)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory building the time-stamp query");
		goto out;
	}
	p = *der;
	*len = (size_t)i2d_TS_REQ(req, &p);
	rc = HSM_OK;
out:
	ERR_clear_error();
	evlog_reader_free(&r);
	TS_REQ_free(req);
	TS_MSG_IMPRINT_free(mi);
	X509_ALGOR_free(alg);
	ASN1_INTEGER_free(nonce);
	BN_free(bn);
	return rc;
}

hsm_rc
ev_tsa_store_load(const char *path, X509_STORE **out)
{
	char why[160];

	*out = X509_STORE_new();
	if (*out == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (X509_STORE_load_file(*out, path) != 1) {
		X509_STORE_free(*out);
		*out = NULL;
		return hsm_fail(HSM_ERR_NOT_FOUND, "cannot load the TSA CA certificate(s) from "
		    "%s: %s", path, ossl_why(why, sizeof(why)));
	}
	return HSM_OK;
}

static void
gen_time_text(const ASN1_GENERALIZEDTIME *t, char out[32])
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		snprintf(out, 32, "?");
	else
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Who signed: the TSA name in the token, else its signer's subject. */
static void
tsa_name(PKCS7 *tok, TS_TST_INFO *tst, char out[256])
{
	GENERAL_NAME *gn = TS_TST_INFO_get_tsa(tst);
	STACK_OF(X509) *signers = NULL;
	const X509_NAME *nm = NULL;

	if (gn != NULL && gn->type == GEN_DIRNAME)
		nm = gn->d.directoryName;
	else if ((signers = PKCS7_get0_signers(tok, NULL, 0)) != NULL &&
	         sk_X509_num(signers) > 0)
		nm = X509_get_subject_name(sk_X509_value(signers, 0));
	if (nm == NULL || X509_NAME_oneline(nm, out, 256) == NULL)
		snprintf(out, 256, "(unnamed)");
	sk_X509_free(signers);
	ERR_clear_error();
}

/* The token's signature (a TSA certificate, extendedKeyUsage timeStamping
 * critical, chaining to store) and its imprint. */
static hsm_rc
token_verify(PKCS7 *tok, const uint8_t *imp, unsigned implen, X509_STORE *store)
{
	TS_VERIFY_CTX *ctx = TS_VERIFY_CTX_new();
	unsigned char *dup = OPENSSL_memdup(imp, implen);
	char why[160];
	hsm_rc rc = HSM_OK;

	if (ctx == NULL || dup == NULL || X509_STORE_up_ref(store) != 1) {
		OPENSSL_free(dup);
		TS_VERIFY_CTX_free(ctx);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	TS_VERIFY_CTX_set_flags(ctx, TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_IMPRINT);
	TS_VERIFY_CTX_set_imprint(ctx, dup, (long)implen);   /* ctx owns both */
	TS_VERIFY_CTX_set_store(ctx, store);
	if (TS_RESP_verify_token(ctx, tok) != 1)
		rc = hsm_fail(HSM_ERR_TRUST, "the time-stamp token is not vouched for by the "
		    "TSA CA given: %s", ossl_why(why, sizeof(why)));
	TS_VERIFY_CTX_free(ctx);
	return rc;
}

/* The token's TSTInfo against the head it covers: algorithm and imprint. */
static hsm_rc
tst_check(TS_TST_INFO *tst, const uint8_t head[32], uint8_t imp[EVP_MAX_MD_SIZE],
          unsigned *implen, const char **alg)
{
	TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
	const ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *got;
	const EVP_MD *md;
	hsm_rc rc;

	X509_ALGOR_get0(&obj, NULL, NULL, TS_MSG_IMPRINT_get_algo(mi));
	if ((*alg = md_name(OBJ_obj2nid(obj))) == NULL)
		return hsm_fail(HSM_ERR_VERIFY, "the time-stamp's hash is neither SHA-256 nor "
		    "SHA-384");
	if ((rc = md_by_name(*alg, &md)) != HSM_OK ||
	    (rc = imprint_of(md, head, imp, implen)) != HSM_OK)
		return rc;
	got = TS_MSG_IMPRINT_get_msg(mi);
	if (ASN1_STRING_length(got) != (int)*implen ||
	    memcmp(ASN1_STRING_get0_data(got), imp, *implen) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "the time-stamp is over another log head "
		    "than this log's completion");
	return HSM_OK;
}

/* Does the reply answer the query (status granted, same imprint and
 * nonce)? With store, is the token signed under it? */
static hsm_rc
reply_check(TS_REQ *req, TS_RESP *resp, X509_STORE *store)
{
	TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
	const ASN1_INTEGER *st = si ? TS_STATUS_INFO_get0_status(si) : NULL;
	TS_VERIFY_CTX *ctx;
	long status = st ? ASN1_INTEGER_get(st) : -1;
	char why[160];
	hsm_rc rc = HSM_OK;

	if (status != 0 && status != 1)
		return hsm_fail(HSM_ERR_VERIFY, "the TSA did not grant the time-stamp (PKIStatus "
		    "%ld)", status);
	if ((ctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	/* the query's imprint and nonce, the token's version; its signature
	 * only when there is a CA to check it against */
	TS_VERIFY_CTX_set_flags(ctx, TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE);
	if (store != NULL) {
		if (X509_STORE_up_ref(store) != 1) {
			TS_VERIFY_CTX_free(ctx);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
		TS_VERIFY_CTX_add_flags(ctx, TS_VFY_SIGNATURE);
		TS_VERIFY_CTX_set_store(ctx, store);
	}
	if (TS_RESP_verify_response(ctx, resp) != 1)
		rc = hsm_fail(store != NULL ? HSM_ERR_TRUST : HSM_ERR_VERIFY, "the reply does not "
		    "answer this query%s: %s", store != NULL ? " or is not vouched for by the "
		    "TSA CA given" : "", ossl_why(why, sizeof(why)));
	TS_VERIFY_CTX_free(ctx);
	return rc;
}

static hsm_rc
tsa_body(PKCS7 *tok, TS_TST_INFO *tst, struct evtsa_info *info, json_t **body)
{
	uint8_t *der = NULL, *p;
	char *b64 = NULL;
	int n;
	hsm_rc rc;

	gen_time_text(TS_TST_INFO_get_time(tst), info->gen_time);
	tsa_name(tok, tst, info->tsa);
	if ((n = i2d_PKCS7(tok, NULL)) <= 0 || (der = malloc((size_t)n)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	p = der;
	(void)i2d_PKCS7(tok, &p);
	rc = b64_encode(der, (size_t)n, &b64);
	free(der);
	if (rc != HSM_OK)
		return rc;
	*body = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)info->seq,
	    "head_hash", info->head_hash, "hash_alg", info->hash_alg, "token", b64,
	    "gen_time", info->gen_time, "tsa", info->tsa);
	free(b64);
	return *body != NULL ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
}

/* The parsed query, reply and the token in it, freed together. */
struct tsx {
	TS_REQ  *req;
	TS_RESP *resp;
	X509_STORE *store;
	evlog   *log;
	evlog_reader *r;
	json_t  *body, *actor;
};

static void
tsx_free(struct tsx *x)
{
	TS_REQ_free(x->req);
	TS_RESP_free(x->resp);
	X509_STORE_free(x->store);
	evlog_reader_free(&x->r);
	evlog_close(&x->log);
	json_decref(x->body);
	json_decref(x->actor);
	ERR_clear_error();
}

hsm_rc
evtsa_record(const char *path, const uint8_t *query, size_t qlen, const uint8_t *reply,
             size_t rlen, const char *tsa_ca_file, struct evtsa_info *info)
{
	struct evlog_open_opts oo;
	struct tsx x;
	const unsigned char *p;
	uint8_t head[32], imp[EVP_MAX_MD_SIZE];
	unsigned implen = 0;
	const char *alg = NULL;
	long long seq = 0;
	hsm_rc rc;

	memset(&x, 0, sizeof(x));
	memset(&oo, 0, sizeof(oo));
	oo.must_exist = 1;
	p = query;
	if ((x.req = d2i_TS_REQ(NULL, &p, (long)qlen)) == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the query is not a DER TimeStampReq");
		goto out;
	}
	p = reply;
	if ((x.resp = d2i_TS_RESP(NULL, &p, (long)rlen)) == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the reply is not a DER TimeStampResp");
		goto out;
	}
	if (tsa_ca_file != NULL && (rc = ev_tsa_store_load(tsa_ca_file, &x.store)) != HSM_OK)
		goto out;
	/* under the writer's lock: what is checked is what is appended to */
	if ((rc = evlog_open(path, &oo, &x.log)) != HSM_OK ||
	    (rc = evlog_reader_from_log(x.log, &x.r)) != HSM_OK ||
	    (rc = find_completion(x.r, &seq, head)) != HSM_OK)
		goto out;
	if ((rc = reply_check(x.req, x.resp, x.store)) != HSM_OK)
		goto out;
	if (TS_RESP_get_token(x.resp) == NULL || TS_RESP_get_tst_info(x.resp) == NULL) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the reply holds no time-stamp token");
		goto out;
	}
	if ((rc = tst_check(TS_RESP_get_tst_info(x.resp), head, imp, &implen, &alg)) != HSM_OK)
		goto out;
	info_head(info, seq, head, alg);
	info->checked = x.store != NULL;
	if ((rc = tsa_body(TS_RESP_get_token(x.resp), TS_RESP_get_tst_info(x.resp), info,
	    &x.body)) != HSM_OK)
		goto out;
	evlog_reader_free(&x.r);
	if ((x.actor = json_pack("{s:s, s:s}", "name", "hsmadm-audit timestamp",
	    "role", "auditor")) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = evlog_append(x.log, EV_LOG_TIMESTAMPED, x.actor, x.body, &info->record_seq);
out:
	tsx_free(&x);
	return rc;
}

/* The verifier's check of one log.timestamped record (evint.h). */
hsm_rc
ev_tsa_check(const json_t *body, long long comp_seq, const uint8_t comp_hash[32],
             X509_STORE *store, struct evtsa_info *info)
{
	const char *hh, *alg, *tok64, *gt;
	uint8_t *der = NULL, imp[EVP_MAX_MD_SIZE];
	const unsigned char *p;
	unsigned implen = 0;
	const char *talg = NULL;
	char hex[65];
	PKCS7 *tok = NULL;
	TS_TST_INFO *tst = NULL;
	size_t n = 0;
	json_t *s = json_object_get(body, "seq");
	hsm_rc rc;

	hh = json_string_value(json_object_get(body, "head_hash"));
	alg = json_string_value(json_object_get(body, "hash_alg"));
	tok64 = json_string_value(json_object_get(body, "token"));
	gt = json_string_value(json_object_get(body, "gen_time"));
	if (!json_is_integer(s) || hh == NULL || alg == NULL || tok64 == NULL || gt == NULL ||
	    !json_is_string(json_object_get(body, "tsa")))
		return hsm_fail(HSM_ERR_FORMAT, "body needs seq, head_hash, hash_alg, token, "
		    "gen_time and tsa");
	hex_encode_buf(comp_hash, 32, hex);
	if (json_integer_value(s) != comp_seq || strcmp(hh, hex) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "it says it covers seq %lld (%.16s...), but the "
		    "completion is seq %lld (%.16s...)", (long long)json_integer_value(s), hh,
		    comp_seq, hex);
	if (b64_decode(tok64, &der, &n) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT, "token is not valid base64");
	p = der;
	if ((tok = d2i_PKCS7(NULL, &p, (long)n)) == NULL ||
	    (tst = PKCS7_to_TS_TST_INFO(tok)) == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "token is not a DER time-stamp token");
		goto out;
	}
	if ((rc = tst_check(tst, comp_hash, imp, &implen, &talg)) != HSM_OK)
		goto out;
	info_head(info, comp_seq, comp_hash, talg);
	gen_time_text(TS_TST_INFO_get_time(tst), info->gen_time);
	tsa_name(tok, tst, info->tsa);
	if (strcmp(alg, talg) != 0 || strcmp(gt, info->gen_time) != 0) {
		rc = hsm_fail(HSM_ERR_VERIFY, "hash_alg or gen_time differ from the token's "
		    "(%s, %s)", talg, info->gen_time);
		goto out;
	}
	if (store != NULL && (rc = token_verify(tok, imp, implen, store)) == HSM_OK)
		info->checked = 1;
out:
	ERR_clear_error();
	TS_TST_INFO_free(tst);
	PKCS7_free(tok);
	free(der);
	return rc;
}
