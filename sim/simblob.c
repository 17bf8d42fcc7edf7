/* SPDX-License-Identifier: BSD-2-Clause */
/* simblob.c - key blob operations of the module emulator (simblob.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/blob.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/secbuf.h"

#include "simblob.h"

#define LABEL_MAX 64

static const char *const reg_label[SIMDOM_REG__COUNT] = { "current", "pending", "old" };

#define REFUSE(code, why, ...) \
	do { *reason = (why); rc = hsm_fail((code), __VA_ARGS__); goto out; } while (0)

hsm_rc
simblob_keys_get(const simdom *d, simblob_keys *k)
{
	hsm_rc rc;
	int r;

	memset(k, 0, sizeof(*k));
	k->domain = simdom_index(d);
	for (r = 0; r < SIMDOM_REG__COUNT; r++) {
		rc = simdom_blob_key(d, (simdom_regid)r, &k->reg[r]);
		if (rc == HSM_ERR_STATE)
			continue;
		if (rc != HSM_OK) {
			simblob_keys_clear(k);
			return rc;
		}
	}
	hsm_err_clear();
	return HSM_OK;
}

void
simblob_keys_clear(simblob_keys *k)
{
	int r;

	for (r = 0; r < SIMDOM_REG__COUNT; r++)
		blob_kctx_free(&k->reg[r]);
}

int
simblob_is_op(const char *op)
{
	return strcmp(op, SIMBLOB_OP_GENERATE) == 0 || strcmp(op, SIMBLOB_OP_ENCRYPT) == 0 ||
	       strcmp(op, SIMBLOB_OP_DECRYPT) == 0 || strcmp(op, SIMBLOB_OP_REENCIPHER) == 0;
}

/* The register whose key wraps this blob: CURRENT, then OLD, then (for
 * re-enciphering only) a committed PENDING. -1 if none. */
static int
find_reg(const simblob_keys *k, const uint8_t *blob, int with_pending)
{
	static const int order[] = { SIMDOM_REG_CURRENT, SIMDOM_REG_OLD, SIMDOM_REG_PENDING };
	int i;

	for (i = 0; i < (with_pending ? 3 : 2); i++)
		if (k->reg[order[i]] != NULL && blob_kctx_matches(k->reg[order[i]], blob))
			return order[i];
	return -1;
}

static hsm_rc
no_key(const simblob_keys *k, const uint8_t *blob, const char **reason)
{
	char hex[2 * BLOB_PREFIX_LEN + 1];

	blob_prefix_hex(blob + 4, hex);
	*reason = "no_such_key";
	if (k->reg[SIMDOM_REG_PENDING] != NULL && blob_kctx_matches(k->reg[SIMDOM_REG_PENDING], blob))
		return hsm_fail(HSM_ERR_NOT_FOUND,
		                "the key with verification pattern %s... is only pending in domain %u; activate it (finalize) before using its blobs",
		                hex, k->domain);
	return hsm_fail(HSM_ERR_NOT_FOUND,
	                "no key with verification pattern %s... is held by domain %u (destroyed or never loaded)",
	                hex, k->domain);
}

static json_t *
mkvp_json(const blob_kctx *c)
{
	char hex[2 * HSM_VP_LEN + 1];

	hex_encode_buf(blob_kctx_mkvp(c), HSM_VP_LEN, hex);
	return json_string(hex);
}

/* blob.generate {domain, usage?, label?, count?} -> {blobs, count, mkvp}. */
static hsm_rc
op_generate(simblob_keys *k, const json_t *params, json_t **result, const char **reason)
{
	const char *us = "all", *label = NULL;
	long long count = 1, i;
	unsigned usage;
	blob_attrs a;
	hsm_secbuf *key = NULL;
	uint8_t *out = NULL, iv[BLOB_IV_LEN];
	char *text = NULL;
	hsm_rc rc;

	if ((json_object_get(params, "usage") && cjson_get_str(params, "usage", &us) != HSM_OK) ||
	    (json_object_get(params, "label") && cjson_get_str(params, "label", &label) != HSM_OK) ||
	    (json_object_get(params, "count") && cjson_get_int(params, "count", &count) != HSM_OK))
		REFUSE(HSM_ERR_FORMAT, "bad_params", "blob.generate: %s", hsm_errmsg());
	if (count < 1 || count > BLOB_BATCH_MAX || (label && strlen(label) > LABEL_MAX))
		REFUSE(HSM_ERR_FORMAT, "bad_params",
		       "blob.generate: count 1..%d and a label of at most %d bytes", BLOB_BATCH_MAX, LABEL_MAX);
	if (blob_usage_parse(us, &usage) != HSM_OK || blob_attrs_make(usage, label, &a) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "blob.generate: %s", hsm_errmsg());
	if (k->reg[SIMDOM_REG_CURRENT] == NULL)
		REFUSE(HSM_ERR_STATE, "current_empty",
		       "domain %u holds no current master key to wrap a blob under", k->domain);
	if ((rc = secbuf_new(BLOB_KEY_LEN, &key)) != HSM_OK ||
	    (out = malloc((size_t)count * BLOB_LEN)) == NULL ||
	    (text = malloc((size_t)count * BLOB_B64_LEN + 1)) == NULL)
		REFUSE(HSM_ERR_NOMEM, "internal", "out of memory");
	for (i = 0; i < count; i++) {
		if ((rc = crypto_random(key->data, BLOB_KEY_LEN)) != HSM_OK ||
		    (rc = crypto_random(iv, sizeof(iv))) != HSM_OK ||
		    (rc = blob_seal(k->reg[SIMDOM_REG_CURRENT], &a, iv, key->data,
		                    out + i * BLOB_LEN)) != HSM_OK)
			REFUSE(HSM_ERR_MODULE, "internal", "blob.generate: %s", hsm_errmsg());
	}
	blob_b64_encode(out, (size_t)count, text);
	/* Plain base64: the UTF-8 check of a big string is skipped. */
	*result = json_pack("{s:o, s:I, s:o}", "blobs",
	                    json_stringn_nocheck(text, (size_t)count * BLOB_B64_LEN),
	                    "count", (json_int_t)count, "mkvp", mkvp_json(k->reg[SIMDOM_REG_CURRENT]));
	rc = *result ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	secbuf_free(&key);
	free(out);
	free(text);
	return rc;
}

/* The one blob of blob.encrypt / blob.decrypt, unwrapped under CURRENT or OLD. */
static hsm_rc
open_one(simblob_keys *k, const json_t *params, unsigned need, hsm_secbuf **key,
         int *reg, const char **reason)
{
	const char *s;
	uint8_t blob[BLOB_LEN];
	blob_info info;
	size_t n;
	hsm_rc rc;

	if (cjson_get_str(params, "blob", &s) != HSM_OK ||
	    blob_b64_decode(s, strlen(s), 1, blob, &n) != HSM_OK ||
	    blob_parse(blob, BLOB_LEN, &info) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "params.blob: %s", hsm_errmsg());
	if ((*reg = find_reg(k, blob, 0)) < 0) {
		rc = no_key(k, blob, reason);
		goto out;
	}
	if ((info.attrs.usage & need) == 0)
		REFUSE(HSM_ERR_REFUSED, "usage_not_allowed", "this blob's key may not be used to %s",
		       need == BLOB_USE_ENCRYPT ? "encrypt" : "decrypt");
	if ((rc = secbuf_new(BLOB_KEY_LEN, key)) != HSM_OK)
		REFUSE(HSM_ERR_NOMEM, "internal", "out of memory");
	(*key)->len = BLOB_KEY_LEN;
	if ((rc = blob_open(k->reg[*reg], blob, (*key)->data, NULL)) != HSM_OK) {
		secbuf_free(key);
		REFUSE(HSM_ERR_VERIFY, "blob_verify", "%s", hsm_errmsg());
	}
out:
	return rc;
}

/* blob.encrypt / blob.decrypt {domain, blob, data} -> {data, mkvp}. */
static hsm_rc
op_crypt(simblob_keys *k, int enc, const json_t *params, json_t **result, const char **reason)
{
	hsm_secbuf *key = NULL;
	uint8_t *in = NULL, *out = NULL;
	size_t inlen = 0, outlen = 0;
	char *text = NULL;
	const char *s;
	int reg = -1;
	hsm_rc rc;

	if (cjson_get_str(params, "data", &s) != HSM_OK || b64_decode(s, &in, &inlen) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "params.data: %s", hsm_errmsg());
	if ((rc = open_one(k, params, enc ? BLOB_USE_ENCRYPT : BLOB_USE_DECRYPT, &key, &reg,
	                   reason)) != HSM_OK)
		goto out;
	rc = enc ? blob_data_seal(key->data, in, inlen, &out, &outlen)
	         : blob_data_open(key->data, in, inlen, &out, &outlen);
	if (rc != HSM_OK)
		REFUSE(rc, rc == HSM_ERR_VERIFY ? "data_verify" : "bad_params", "%s", hsm_errmsg());
	if ((rc = b64_encode(out, outlen, &text)) != HSM_OK)
		REFUSE(rc, "internal", "%s", hsm_errmsg());
	*result = json_pack("{s:s, s:o, s:s}", "data", text, "mkvp", mkvp_json(k->reg[reg]),
	                    "register", reg_label[reg]);
	rc = *result ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	secbuf_free(&key);
	if (out != NULL && !enc)
		secure_wipe(out, outlen);
	free(in);
	free(out);
	free(text);
	return rc;
}

/* One blob's failure in a batch: {index, reason, prefix}. */
static int
add_failure(json_t *failed, size_t i, const char *why, const uint8_t *blob)
{
	char hex[2 * BLOB_PREFIX_LEN + 1];

	blob_prefix_hex(blob + 4, hex);
	return json_array_append_new(failed, json_pack("{s:I, s:s, s:s}", "index", (json_int_t)i,
	                                               "reason", why, "prefix", hex));
}

static hsm_rc
rewrap_all(simblob_keys *k, blob_kctx *to, const uint8_t *in, size_t n, uint8_t *out,
           size_t *nok, json_t *failed)
{
	uint8_t *ivs = NULL;
	size_t i;
	int reg;
	hsm_rc rc;

	*nok = 0;
	/* One call to the generator for the batch's IVs, not one per blob. */
	if ((ivs = malloc(n * BLOB_IV_LEN)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = crypto_random(ivs, n * BLOB_IV_LEN)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		const uint8_t *b = in + i * BLOB_LEN;
		const char *why = NULL;
		if (blob_parse(b, BLOB_LEN, NULL) != HSM_OK)
			why = "bad_blob";
		else if ((reg = find_reg(k, b, 1)) < 0)
			why = "no_such_key";
		else if (blob_rewrap(k->reg[reg], to, ivs + i * BLOB_IV_LEN, b,
		                     out + *nok * BLOB_LEN) != HSM_OK)
			why = "blob_verify";
		if (why == NULL)
			(*nok)++;
		else if (add_failure(failed, i, why, b) != 0) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = HSM_OK;
out:
	free(ivs);
	return rc;
}

/* blob.reencipher {domain, to, blobs} -> {mkvp, count, blobs, failed}. */
static hsm_rc
op_reencipher(simblob_keys *k, const json_t *params, json_t **result, const char **reason)
{
	const char *to, *s;
	json_t *failed = NULL, *j;
	uint8_t *in = NULL, *out = NULL;
	char *text = NULL;
	size_t n = 0, nok = 0;
	int target;
	hsm_rc rc;

	if (cjson_get_str(params, "to", &to) != HSM_OK ||
	    (strcmp(to, "pending") != 0 && strcmp(to, "current") != 0))
		REFUSE(HSM_ERR_FORMAT, "bad_params", "blob.reencipher: \"to\" is \"pending\" or \"current\"");
	j = json_object_get(params, "blobs");
	if (!json_is_string(j))
		REFUSE(HSM_ERR_FORMAT, "bad_params", "blob.reencipher: \"blobs\" is a base64 string");
	s = json_string_value(j);
	if ((in = malloc(json_string_length(j) / BLOB_B64_LEN * BLOB_LEN + 1)) == NULL)
		REFUSE(HSM_ERR_NOMEM, "internal", "out of memory");
	if (blob_b64_decode(s, json_string_length(j), BLOB_BATCH_MAX, in, &n) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "blob.reencipher: %s", hsm_errmsg());
	target = strcmp(to, "pending") == 0 ? SIMDOM_REG_PENDING : SIMDOM_REG_CURRENT;
	if (k->reg[target] == NULL)
		REFUSE(HSM_ERR_STATE, target == SIMDOM_REG_PENDING ? "pending_not_committed" : "current_empty",
		       target == SIMDOM_REG_PENDING
		       ? "the pending register of domain %u holds no committed key to re-encipher to"
		       : "domain %u holds no current master key to re-encipher to", k->domain);
	if ((out = malloc(n * BLOB_LEN)) == NULL || (text = malloc(n * BLOB_B64_LEN + 1)) == NULL ||
	    (failed = json_array()) == NULL)
		REFUSE(HSM_ERR_NOMEM, "internal", "out of memory");
	if ((rc = rewrap_all(k, k->reg[target], in, n, out, &nok, failed)) != HSM_OK)
		REFUSE(rc, "internal", "%s", hsm_errmsg());
	blob_b64_encode(out, nok, text);
	*result = json_pack("{s:o, s:I, s:o, s:O}", "mkvp", mkvp_json(k->reg[target]),
	                    "count", (json_int_t)nok, "blobs",
	                    json_stringn_nocheck(text, nok * BLOB_B64_LEN),
	                    "failed", failed);
	rc = *result ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	json_decref(failed);
	free(in);
	free(out);
	free(text);
	return rc;
}

hsm_rc
simblob_handle(const char *op, simblob_keys *k, const json_t *params, json_t **result,
               const char **reason)
{
	*result = NULL;
	*reason = "internal";
	if (strcmp(op, SIMBLOB_OP_GENERATE) == 0)
		return op_generate(k, params, result, reason);
	if (strcmp(op, SIMBLOB_OP_ENCRYPT) == 0)
		return op_crypt(k, 1, params, result, reason);
	if (strcmp(op, SIMBLOB_OP_DECRYPT) == 0)
		return op_crypt(k, 0, params, result, reason);
	if (strcmp(op, SIMBLOB_OP_REENCIPHER) == 0)
		return op_reencipher(k, params, result, reason);
	*reason = "unknown_op";
	return hsm_fail(HSM_ERR_FORMAT, "unknown blob op \"%.64s\"", op);
}
