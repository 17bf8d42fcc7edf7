/* SPDX-License-Identifier: BSD-2-Clause */
/* receipt.c - OA-signed receipts: signing (module side) and offline
 * verification against the pinned module CA (workstation, auditor). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/ecdsa_lows.h"
#include "hsmadm/merkle.h"
#include "hsmadm/receipt.h"
#include "hsmadm/x509util.h"

/* The OA signature (base64 DER) over msg; exactly one of oa_key and
 * oa_signer signs. */
static hsm_rc
sign_msg(const char *msg, size_t len, EVP_PKEY *oa_key, hsm_signer *oa_signer, char **sig64)
{
	uint8_t *sig = NULL;
	size_t siglen = 0;
	hsm_rc rc;

	if (oa_key != NULL)
		rc = crypto_ecdsa_sign(oa_key, msg, len, &sig, &siglen);
	else
		rc = signer_sign(oa_signer, msg, len, &sig, &siglen);
	if (rc == HSM_OK)
		rc = b64_encode(sig, siglen, sig64);
	free(sig);
	return rc;
}

static hsm_rc
cert_b64(X509 *oa_cert, char **out)
{
	uint8_t *der = NULL;
	size_t derlen = 0;
	hsm_rc rc;

	if ((rc = x509u_to_der(oa_cert, &der, &derlen)) == HSM_OK)
		rc = b64_encode(der, derlen, out);
	free(der);
	return rc;
}

static hsm_rc
sign_body(json_t *body, EVP_PKEY *oa_key, hsm_signer *oa_signer, X509 *oa_cert, json_t **out)
{
	char *canon = NULL, *sig64 = NULL, *cert64 = NULL;
	size_t clen = 0;
	hsm_rc rc;

	*out = NULL;
	if (!json_is_object(body) || (oa_key == NULL) == (oa_signer == NULL) || oa_cert == NULL)
		return hsm_fail(HSM_ERR_USAGE, "receipt_sign: bad arguments");
	if ((rc = cjson_dump(body, &canon, &clen)) != HSM_OK ||
	    (rc = sign_msg(canon, clen, oa_key, oa_signer, &sig64)) != HSM_OK ||
	    (rc = cert_b64(oa_cert, &cert64)) != HSM_OK)
		goto out;
	*out = json_pack("{s:O, s:s, s:s}", "body", body, "signature", sig64, "oa_cert", cert64);
	if (*out == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	free(canon);
	free(sig64);
	free(cert64);
	return rc;
}

hsm_rc
receipt_sign(json_t *body, EVP_PKEY *oa_key, X509 *oa_cert, json_t **out)
{
	return sign_body(body, oa_key, NULL, oa_cert, out);
}

hsm_rc
receipt_sign_with(json_t *body, hsm_signer *oa, X509 *oa_cert, json_t **out)
{
	return sign_body(body, NULL, oa, oa_cert, out);
}

/* ---- batches ---- */

/* What the OA key signs for a batch: never the shape of a body. */
static hsm_rc
batch_message(const char *module, const char *roothex, size_t size, char **msg, size_t *len)
{
	json_t *h = json_pack("{s:{s:s, s:s, s:I}, s:i}", "receipt_batch", "module", module,
	    "root", roothex, "size", (json_int_t)size, "v", RECEIPT_VERSION);
	hsm_rc rc;

	if (h == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = cjson_dump(h, msg, len);
	json_decref(h);
	return rc;
}

/* {index, size, root, path} of leaf i. */
static json_t *
batch_place(const merkle_tree *t, size_t i, size_t n, const char *roothex)
{
	merkle_hash path[MERKLE_PATH_MAX];
	char hex[2 * MERKLE_HASH_LEN + 1];
	size_t k, plen = merkle_path(t, i, path);
	json_t *a = json_array();

	for (k = 0; a != NULL && k < plen; k++) {
		hex_encode_buf(path[k], MERKLE_HASH_LEN, hex);
		if (json_array_append_new(a, json_string(hex)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a == NULL ? NULL : json_pack("{s:I, s:I, s:s, s:o}", "index", (json_int_t)i,
	    "size", (json_int_t)n, "root", roothex, "path", a);
}

/* The bodies' tree and its root in hex. */
static hsm_rc
batch_tree(json_t *const *bodies, size_t n, merkle_tree **t, char roothex[2 * MERKLE_HASH_LEN + 1])
{
	merkle_hash *leaves = calloc(n, sizeof(*leaves)), root;
	char *canon = NULL;
	size_t i, clen = 0;
	hsm_rc rc = leaves ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");

	for (i = 0; rc == HSM_OK && i < n; i++) {
		if (!json_is_object(bodies[i]))
			rc = hsm_fail(HSM_ERR_USAGE, "receipt_sign_batch: bad arguments");
		else if ((rc = cjson_dump(bodies[i], &canon, &clen)) == HSM_OK)
			rc = merkle_leaf(canon, clen, leaves[i]);
		free(canon);
		canon = NULL;
	}
	if (rc == HSM_OK && (rc = merkle_build((const merkle_hash *)leaves, n, t)) == HSM_OK) {
		merkle_root(*t, root);
		hex_encode_buf(root, MERKLE_HASH_LEN, roothex);
	}
	free(leaves);
	return rc;
}

hsm_rc
receipt_sign_batch(json_t *const *bodies, size_t n, EVP_PKEY *oa_key, hsm_signer *oa,
                   X509 *oa_cert, json_t **out)
{
	merkle_tree *t = NULL;
	char roothex[2 * MERKLE_HASH_LEN + 1], *msg = NULL, *sig64 = NULL, *cert64 = NULL;
	const char *module;
	size_t i, len = 0;
	hsm_rc rc;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	if (n == 0 || n > RECEIPT_BATCH_MAX || (oa_key == NULL) == (oa == NULL) || oa_cert == NULL ||
	    !json_is_object(bodies[0]) ||
	    (module = json_string_value(json_object_get(bodies[0], "module"))) == NULL)
		return hsm_fail(HSM_ERR_USAGE, "receipt_sign_batch: bad arguments");
	for (i = 1; i < n; i++)
		if (!json_is_object(bodies[i]) || !json_equal(json_object_get(bodies[i], "module"),
		    json_object_get(bodies[0], "module")))
			return hsm_fail(HSM_ERR_USAGE, "receipt_sign_batch: one module per batch");
	if ((rc = batch_tree(bodies, n, &t, roothex)) != HSM_OK ||
	    (rc = batch_message(module, roothex, n, &msg, &len)) != HSM_OK ||
	    (rc = sign_msg(msg, len, oa_key, oa, &sig64)) != HSM_OK ||
	    (rc = cert_b64(oa_cert, &cert64)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		json_t *place = batch_place(t, i, n, roothex);

		out[i] = place == NULL ? NULL : json_pack("{s:O, s:o, s:s, s:s}", "body", bodies[i],
		    "batch", place, "signature", sig64, "oa_cert", cert64);
		if (out[i] == NULL) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
out:
	if (rc != HSM_OK)
		for (i = 0; i < n; i++) {
			json_decref(out[i]);
			out[i] = NULL;
		}
	merkle_free(&t);
	free(msg);
	free(sig64);
	free(cert64);
	return rc;
}

/* ---- taking a receipt apart ---- */

void
receipt_parts_clear(receipt_parts *p)
{
	free(p->msg);
	free(p->sig);
	memset(p, 0, sizeof(*p));
}

/* hex of exactly MERKLE_HASH_LEN bytes, lowercase: one encoding. */
static int
hash_hex(const json_t *v, merkle_hash out)
{
	char back[2 * MERKLE_HASH_LEN + 1];
	const char *s = json_string_value(v);

	if (s == NULL || hex_decode_into(s, out, MERKLE_HASH_LEN) != HSM_OK)
		return 0;
	hex_encode_buf(out, MERKLE_HASH_LEN, back);
	return strcmp(back, s) == 0;
}

/* A batch receipt's proof: body, at batch.index of batch.size, leads to
 * batch.root; p->msg is then the batch message that root is signed in. */
static hsm_rc
open_batch(const json_t *batch, const char *canon, size_t clen, receipt_parts *p)
{
	merkle_hash leaf, root, path[MERKLE_PATH_MAX];
	const json_t *a = json_object_get(batch, "path"), *e;
	json_int_t idx = json_integer_value(json_object_get(batch, "index"));
	json_int_t size = json_integer_value(json_object_get(batch, "size"));
	size_t i;
	hsm_rc rc;

	if (!json_is_object(batch) || json_object_size(batch) != 4 ||
	    !json_is_integer(json_object_get(batch, "index")) ||
	    !json_is_integer(json_object_get(batch, "size")) || size < 1 ||
	    size > RECEIPT_BATCH_MAX || idx < 0 || idx >= size || !json_is_array(a) ||
	    json_array_size(a) > MERKLE_PATH_MAX || !hash_hex(json_object_get(batch, "root"), root))
		return hsm_fail(HSM_ERR_FORMAT, "receipt: \"batch\" must be {index, size, root, "
		    "path} with index < size <= %d and hex SHA-384 hashes", RECEIPT_BATCH_MAX);
	json_array_foreach(a, i, e)
		if (!hash_hex(e, path[i]))
			return hsm_fail(HSM_ERR_FORMAT, "receipt: batch.path holds hex SHA-384 hashes");
	if ((rc = merkle_leaf(canon, clen, leaf)) != HSM_OK)
		return rc;
	if (merkle_verify(leaf, (size_t)idx, (size_t)size, (const merkle_hash *)path,
	    json_array_size(a), root) != HSM_OK)
		return hsm_fail(HSM_ERR_VERIFY, "receipt from module %s: its body is not the one "
		    "its batch signature covers (altered receipt?)", p->module);
	p->batch = 1;
	return batch_message(p->module, json_string_value(json_object_get(batch, "root")),
	    (size_t)size, &p->msg, &p->msglen);
}

hsm_rc
receipt_open(const json_t *receipt, receipt_parts *p)
{
	const json_t *batch = json_object_get(receipt, "batch");
	const char *sig64 = NULL;
	char *canon = NULL;
	size_t clen = 0;
	long long v = 0;
	hsm_rc rc;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(receipt) || json_object_size(receipt) != (batch != NULL ? 4u : 3u) ||
	    !json_is_object(p->body = json_object_get(receipt, "body")))
		return hsm_fail(HSM_ERR_FORMAT, "receipt must be an object with body, signature "
		    "and oa_cert (and batch)");
	if ((rc = cjson_get_str(receipt, "signature", &sig64)) != HSM_OK ||
	    (rc = cjson_get_str(receipt, "oa_cert", &p->oa_cert)) != HSM_OK ||
	    (rc = cjson_get_int(p->body, "v", &v)) != HSM_OK ||
	    (rc = cjson_get_str(p->body, "module", &p->module)) != HSM_OK)
		goto wrap;
	if (v != RECEIPT_VERSION) {
		rc = hsm_fail(HSM_ERR_FORMAT, "receipt version %lld is not supported (want %d)",
		              v, RECEIPT_VERSION);
		goto out;
	}
	if ((rc = b64_decode(sig64, &p->sig, &p->siglen)) != HSM_OK ||
	    (rc = cjson_dump(p->body, &canon, &clen)) != HSM_OK)
		goto wrap;
	if (batch != NULL)
		rc = open_batch(batch, canon, clen, p);
	else {
		p->msg = canon;
		p->msglen = clen;
		canon = NULL;
	}
	goto out;
wrap:
	rc = hsm_fail_wrap(rc, "receipt");
out:
	free(canon);
	if (rc != HSM_OK)
		receipt_parts_clear(p);
	return rc;
}

/* ---- the signature, once per batch ---- */

#define MEMO_SLOTS 64
struct receipt_memo {
	pthread_mutex_t lock;
	size_t          next;
	uint8_t         key[MEMO_SLOTS][32];
	uint8_t         used[MEMO_SLOTS];
};

hsm_rc
receipt_memo_new(receipt_memo **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&(*out)->lock, NULL);
	return HSM_OK;
}

void
receipt_memo_free(receipt_memo **m)
{
	if (m == NULL || *m == NULL)
		return;
	pthread_mutex_destroy(&(*m)->lock);
	free(*m);
	*m = NULL;
}

/* SHA-256 over the key's point, the message and the signature. */
static hsm_rc
memo_key(EVP_PKEY *pub, const receipt_parts *p, uint8_t key[32])
{
	uint8_t *pt = NULL, *buf = NULL;
	size_t n = 0, len;
	hsm_rc rc;

	if ((rc = crypto_ec_point(pub, &pt, &n)) != HSM_OK)
		return rc;
	len = n + p->msglen + p->siglen;
	if ((buf = malloc(len)) == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	else {
		memcpy(buf, pt, n);
		memcpy(buf + n, p->msg, p->msglen);
		memcpy(buf + n + p->msglen, p->sig, p->siglen);
		rc = crypto_sha256(buf, len, key);
	}
	free(buf);
	free(pt);
	return rc;
}

static int
memo_has(receipt_memo *m, const uint8_t key[32])
{
	size_t i;
	int found = 0;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < MEMO_SLOTS && !found; i++)
		found = m->used[i] && memcmp(m->key[i], key, 32) == 0;
	pthread_mutex_unlock(&m->lock);
	return found;
}

static void
memo_add(receipt_memo *m, const uint8_t key[32])
{
	pthread_mutex_lock(&m->lock);
	memcpy(m->key[m->next], key, 32);
	m->used[m->next] = 1;
	m->next = (m->next + 1) % MEMO_SLOTS;
	pthread_mutex_unlock(&m->lock);
}

hsm_rc
receipt_check_sig(receipt_memo *memo, EVP_PKEY *pub, const receipt_parts *p)
{
	uint8_t key[32];
	int keyed;
	hsm_rc rc;

	/* Only a batch's signature is shared by other receipts. */
	keyed = memo != NULL && p->batch && memo_key(pub, p, key) == HSM_OK;
	if (keyed && memo_has(memo, key))
		return HSM_OK;
	/* one accepted encoding: the high-S twin of a valid signature is refused */
	if (crypto_ecdsa_check_low_s(pub, p->sig, p->siglen) != HSM_OK)
		return hsm_fail(HSM_ERR_VERIFY, "receipt from module %s: the OA signature is not "
		    "in the one accepted encoding (canonical DER, low S)", p->module);
	rc = crypto_ecdsa_verify(pub, p->msg, p->msglen, p->sig, p->siglen);
	if (rc == HSM_ERR_VERIFY)
		return hsm_fail(HSM_ERR_VERIFY, "receipt from module %s: the OA signature does not "
		    "match its body (altered receipt?)", p->module);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "receipt");
	if (keyed)
		memo_add(memo, key);
	return HSM_OK;
}

/* ---- the whole check ---- */

hsm_rc
receipt_check_oa(X509 *oa, X509 *module_ca, const char *module)
{
	hsm_rc rc;

	if (oa == NULL || module_ca == NULL || module == NULL)
		return hsm_fail(HSM_ERR_USAGE, "receipt_check_oa: bad arguments");
	if ((rc = x509u_verify_issued_by(oa, module_ca)) != HSM_OK)
		return hsm_fail_wrap(rc, "OA certificate of module %s", module);
	return receipt_check_oa_fit(oa, module);
}

hsm_rc
receipt_check_oa_fit(X509 *oa, const char *module)
{
	char serial[128], ou[64];
	EVP_PKEY *pub;
	hsm_curve curve;

	if (oa == NULL || module == NULL)
		return hsm_fail(HSM_ERR_USAGE, "receipt_check_oa_fit: bad arguments");
	if (x509u_subject_ou(oa, ou, sizeof(ou)) != HSM_OK || strcmp(ou, X509U_OU_OA) != 0)
		return hsm_fail(HSM_ERR_TRUST, "module %s signs with a certificate that is not an "
		    "OA certificate", module);
	if (x509u_subject_serial(oa, serial, sizeof(serial)) != HSM_OK || strcmp(serial, module) != 0)
		return hsm_fail(HSM_ERR_TRUST, "the OA certificate said to be module %s's is for "
		    "another module", module);
	pub = X509_get0_pubkey(oa);
	if (pub == NULL || crypto_ec_curve(pub, &curve) != HSM_OK || curve != HSM_CURVE_P384)
		return hsm_fail(HSM_ERR_TRUST, "OA key of module %s is not a P-384 key", module);
	return HSM_OK;
}

/* The OA certificate of a receipt from module, which the caller expected
 * from expect_serial (NULL: any). */
static hsm_rc
check_oa(X509 *oa, X509 *module_ca, const char *module, const char *expect_serial)
{
	hsm_rc rc;

	if ((rc = receipt_check_oa(oa, module_ca, module)) != HSM_OK)
		return hsm_fail_wrap(rc, "receipt from module %s", module);
	if (expect_serial != NULL && strcmp(expect_serial, module) != 0)
		return hsm_fail(HSM_ERR_TRUST, "receipt is from module %s, expected %s", module,
		    expect_serial);
	return HSM_OK;
}

hsm_rc
receipt_verify(const json_t *receipt, X509 *module_ca, const char *expect_serial,
               const json_t **bodyp)
{
	return receipt_verify_memo(receipt, module_ca, expect_serial, NULL, bodyp, NULL);
}

hsm_rc
receipt_verify_memo(const json_t *receipt, X509 *module_ca, const char *expect_serial,
                    receipt_memo *memo, const json_t **bodyp, X509 **oa_out)
{
	receipt_parts p;
	uint8_t *der = NULL;
	size_t derlen = 0;
	X509 *oa = NULL;
	hsm_rc rc;

	if (bodyp != NULL)
		*bodyp = NULL;
	if (oa_out != NULL)
		*oa_out = NULL;
	if (module_ca == NULL)
		return hsm_fail(HSM_ERR_USAGE, "receipt_verify: no module CA");
	if ((rc = receipt_open(receipt, &p)) != HSM_OK)
		return rc;
	if ((rc = b64_decode(p.oa_cert, &der, &derlen)) != HSM_OK ||
	    (rc = x509u_from_der(der, derlen, &oa)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "receipt");
		goto out;
	}
	if ((rc = check_oa(oa, module_ca, p.module, expect_serial)) != HSM_OK ||
	    (rc = receipt_check_sig(memo, X509_get0_pubkey(oa), &p)) != HSM_OK)
		goto out;
	if (bodyp != NULL)
		*bodyp = p.body;
	if (oa_out != NULL) {
		*oa_out = oa;
		oa = NULL;
	}
out:
	receipt_parts_clear(&p);
	free(der);
	X509_free(oa);
	return rc;
}

hsm_rc
receipt_verify_file(const json_t *receipt, const char *module_ca_pem,
                    const char *expect_serial, const json_t **body)
{
	X509 *ca = NULL;
	hsm_rc rc;

	if ((rc = x509u_load_pem(module_ca_pem, &ca)) != HSM_OK)
		return rc;
	rc = receipt_verify(receipt, ca, expect_serial, body);
	X509_free(ca);
	return rc;
}
