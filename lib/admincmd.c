/* SPDX-License-Identifier: BSD-2-Clause */
/* admincmd.c - build, parse, sign, summarize and verify signed admin commands. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/ecdsa_lows.h"
#include "hsmadm/vp.h"
#include "hsmadm/words.h"

/* A DER ECDSA signature for P-521 is at most 139 bytes; leave room. */
#define ADMINCMD_SIG_MAX 256

struct admincmd {
	json_t  *body;        /* validated body object */
	json_t  *sigs;        /* array of {ski, sig} */
	char    *canon;       /* canonical bytes of body */
	size_t   canon_len;
	const char *op;       /* borrowed from body */
	int64_t  not_before, not_after;
};

static const struct {
	const char *op;
	enum { NEED_SIG, NEED_REV, NEED_ONE } need;
	int mk;               /* refused in imprint mode */
} op_table[] = {
	{ ADMINCMD_OP_ADMIN_ADD,         NEED_SIG, 0 },
	{ ADMINCMD_OP_ADMIN_REMOVE,      NEED_REV, 0 },
	{ ADMINCMD_OP_THRESHOLDS_SET,    NEED_SIG, 0 },
	{ ADMINCMD_OP_ZEROIZE,           NEED_SIG, 0 },
	{ ADMINCMD_OP_IMPORTER_GENERATE, NEED_ONE, 1 },
	{ ADMINCMD_OP_MK_LOAD_PART,      NEED_ONE, 1 },
	{ ADMINCMD_OP_MK_APPROVE_LOAD,   NEED_SIG, 1 },
	{ ADMINCMD_OP_MK_COMMIT,         NEED_SIG, 1 },
	{ ADMINCMD_OP_MK_ACTIVATE,       NEED_ONE, 1 },
	{ ADMINCMD_OP_MK_CLEAR_PENDING,  NEED_ONE, 1 },
	{ ADMINCMD_OP_MK_DESTROY_OLD,    NEED_SIG, 1 },
	{ ADMINCMD_OP_MK_BACKOUT,        NEED_SIG, 1 },
};
#define N_OPS (sizeof(op_table) / sizeof(op_table[0]))

static int
op_index(const char *op)
{
	size_t i;

	if (op == NULL)
		return -1;
	for (i = 0; i < N_OPS; i++)
		if (strcmp(op_table[i].op, op) == 0)
			return (int)i;
	return -1;
}

int
admincmd_op_known(const char *op)
{
	return op_index(op) >= 0;
}

/* ---- small checked helpers over untrusted JSON ---- */

/* Every key of obj must be one of allowed[]. */
static hsm_rc
only_keys(const json_t *obj, const char *const *allowed, size_t n, const char *what)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)obj, k, v) {
		(void)v;
		for (i = 0; i < n; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (i == n)
			return hsm_fail(HSM_ERR_FORMAT, "%s: unexpected field \"%.40s\"",
			    what, k);
	}
	return HSM_OK;
}

/* Printable ASCII or UTF-8 text without control characters, 1..max bytes. */
static hsm_rc
check_text(const char *s, size_t max, const char *what)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return hsm_fail(HSM_ERR_FORMAT, "%s must be 1 to %zu characters", what, max);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return hsm_fail(HSM_ERR_FORMAT, "%s contains a control character", what);
	}
	return HSM_OK;
}

/* Module serials appear in messages and file names: letters, digits, . _ - */
static hsm_rc
check_serial(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > ADMINCMD_SERIAL_MAX)
		return hsm_fail(HSM_ERR_FORMAT, "module serial must be 1 to %d characters",
		    ADMINCMD_SERIAL_MAX);
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return hsm_fail(HSM_ERR_FORMAT,
			    "module serial \"%.64s\" may contain only letters, digits, '.', '_' and '-'",
			    s);
	}
	return HSM_OK;
}

static hsm_rc
get_int_range(const json_t *obj, const char *key, long long lo, long long hi,
              long long *out)
{
	hsm_rc rc;

	if ((rc = cjson_get_int(obj, key, out)) != HSM_OK)
		return rc;
	if (*out < lo || *out > hi)
		return hsm_fail(HSM_ERR_FORMAT, "field \"%s\" must be between %lld and %lld",
		    key, lo, hi);
	return HSM_OK;
}

static void
ski_short(const uint8_t ski[HSM_SKI_LEN], char out[17])
{
	hex_encode_buf(ski, 8, out);
}

/* ---- thresholds and params ---- */

hsm_rc
admincmd_required_sigs(const char *op, const json_t *params,
                       unsigned sig_thr, unsigned rev_thr, unsigned *needed)
{
	int i = op_index(op);
	int imprint = (sig_thr == 0 && rev_thr == 0);
	long long v;
	hsm_rc rc;

	if (needed == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_required_sigs: needed is NULL");
	if (i < 0)
		return hsm_fail(HSM_ERR_FORMAT, "unknown operation \"%.40s\"",
		    op ? op : "(none)");
	if (imprint) {
		if (op_table[i].mk)
			return hsm_fail(HSM_ERR_STATE,
			    "%s is refused in imprint mode; set the thresholds first "
			    "(hsmadm-domain thresholds set)", op);
		if (strcmp(op, ADMINCMD_OP_THRESHOLDS_SET) == 0) {
			/* Leaving imprint mode takes the NEW signature threshold. */
			if (params == NULL)
				return hsm_fail(HSM_ERR_USAGE,
				    "thresholds.set in imprint mode needs its params");
			if ((rc = get_int_range(params, "signature", 1, ADMINCMD_MAX_THRESHOLD,
			    &v)) != HSM_OK)
				return rc;
			*needed = (unsigned)v;
			return HSM_OK;
		}
		*needed = 0;
		return HSM_OK;
	}
	switch (op_table[i].need) {
	case NEED_SIG: *needed = sig_thr; break;
	case NEED_REV: *needed = rev_thr; break;
	default:       *needed = 1; break;
	}
	/* A threshold of 0 outside imprint mode would make an op free. */
	if (*needed == 0)
		*needed = 1;
	return HSM_OK;
}

static hsm_rc
check_ski_field(const json_t *params, uint8_t ski[HSM_SKI_LEN])
{
	return cjson_get_hex(params, "ski", ski, HSM_SKI_LEN);
}

/* The last keys decoded in this process: a point check costs a scalar
 * multiplication, and one command names the same key again and again (its
 * params are checked, then each domain of a batch adds it; a module's
 * domains load the same admins). Shared, read-only EVP_PKEYs. */
#define PKMEMO_MAX 16
static pthread_mutex_t pkmemo_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char     *hex;
	EVP_PKEY *pub;
	uint8_t   ski[HSM_SKI_LEN];
} pkmemo[PKMEMO_MAX];
static size_t pkmemo_next;

static int
pkmemo_find(const char *hex, EVP_PKEY **pub, uint8_t ski[HSM_SKI_LEN])
{
	size_t i;
	int hit = 0;

	pthread_mutex_lock(&pkmemo_lock);
	for (i = 0; i < PKMEMO_MAX && !hit; i++)
		if (pkmemo[i].hex != NULL && strcmp(pkmemo[i].hex, hex) == 0 &&
		    (pub == NULL || EVP_PKEY_up_ref(pkmemo[i].pub) == 1)) {
			if (pub != NULL)
				*pub = pkmemo[i].pub;
			if (ski != NULL)
				memcpy(ski, pkmemo[i].ski, HSM_SKI_LEN);
			hit = 1;
		}
	pthread_mutex_unlock(&pkmemo_lock);
	return hit;
}

static void
pkmemo_add(const char *hex, EVP_PKEY *k, const uint8_t ski[HSM_SKI_LEN])
{
	char *h = strdup(hex);

	if (h == NULL || EVP_PKEY_up_ref(k) != 1) {
		free(h);
		return;
	}
	pthread_mutex_lock(&pkmemo_lock);
	free(pkmemo[pkmemo_next].hex);
	EVP_PKEY_free(pkmemo[pkmemo_next].pub);
	pkmemo[pkmemo_next].hex = h;
	pkmemo[pkmemo_next].pub = k;
	memcpy(pkmemo[pkmemo_next].ski, ski, HSM_SKI_LEN);
	pkmemo_next = (pkmemo_next + 1) % PKMEMO_MAX;
	pthread_mutex_unlock(&pkmemo_lock);
}

hsm_rc
admincmd_pubkey_from_hex(const char *hex, EVP_PKEY **pub, uint8_t ski[HSM_SKI_LEN])
{
	uint8_t *pt = NULL, kski[HSM_SKI_LEN];
	size_t n = 0;
	hsm_curve c;
	EVP_PKEY *k = NULL;
	hsm_rc rc;

	if (pub)
		*pub = NULL;
	if (hex == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_pubkey_from_hex: no key");
	if (pkmemo_find(hex, pub, ski))
		return HSM_OK;
	if ((rc = hex_decode(hex, &pt, &n)) != HSM_OK)
		return hsm_fail_wrap(rc, "public key");
	switch (n) {
	case 65:  c = HSM_CURVE_P256; break;
	case 97:  c = HSM_CURVE_P384; break;
	case 133: c = HSM_CURVE_P521; break;
	default:  c = HSM_CURVE_NONE; break;
	}
	if (c == HSM_CURVE_NONE || pt[0] != 0x04) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the public key must be an uncompressed "
		    "point (04||X||Y) on P-256, P-384 or P-521");
		goto out;
	}
	if ((rc = crypto_ec_from_point(c, pt, n, &k)) != HSM_OK) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the public key is not a point on its curve");
		goto out;
	}
	if ((rc = crypto_ski(k, kski)) != HSM_OK)
		goto out;
	pkmemo_add(hex, k, kski);
	if (ski)
		memcpy(ski, kski, HSM_SKI_LEN);
	if (pub) {
		*pub = k;
		k = NULL;
	}
	rc = HSM_OK;
out:
	EVP_PKEY_free(k);
	free(pt);
	return rc;
}

hsm_rc
admincmd_check_params(const char *op, const json_t *params)
{
	static const char *const add_keys[] = { "pubkey", "name", "identity" };
	static const char *const rm_keys[] = { "ski" };
	static const char *const thr_keys[] = { "signature", "revocation" };
	uint8_t ski[HSM_SKI_LEN];
	const char *s;
	long long v;
	hsm_rc rc;

	if (!admincmd_op_known(op))
		return hsm_fail(HSM_ERR_FORMAT, "unknown operation \"%.40s\"",
		    op ? op : "(none)");
	if (!json_is_object(params))
		return hsm_fail(HSM_ERR_FORMAT, "params of %s must be an object", op);

	if (strcmp(op, ADMINCMD_OP_ADMIN_ADD) == 0) {
		if ((rc = only_keys(params, add_keys, 3, "admin.add params")) != HSM_OK)
			return rc;
		if ((rc = cjson_get_str(params, "pubkey", &s)) != HSM_OK)
			return rc;
		if ((rc = admincmd_pubkey_from_hex(s, NULL, ski)) != HSM_OK)
			return hsm_fail_wrap(rc, "admin.add: field \"pubkey\"");
		if ((rc = cjson_get_str(params, "name", &s)) != HSM_OK ||
		    (rc = check_text(s, ADMINCMD_NAME_MAX, "administrator name")) != HSM_OK)
			return rc;
		if ((rc = cjson_get_str(params, "identity", &s)) != HSM_OK ||
		    (rc = check_text(s, ADMINCMD_IDENTITY_MAX, "administrator identity")) != HSM_OK)
			return rc;
		return HSM_OK;
	}
	if (strcmp(op, ADMINCMD_OP_ADMIN_REMOVE) == 0) {
		if ((rc = only_keys(params, rm_keys, 1, "admin.remove params")) != HSM_OK)
			return rc;
		return check_ski_field(params, ski);
	}
	if (strcmp(op, ADMINCMD_OP_THRESHOLDS_SET) == 0) {
		if ((rc = only_keys(params, thr_keys, 2, "thresholds.set params")) != HSM_OK)
			return rc;
		if ((rc = get_int_range(params, "signature", 1, ADMINCMD_MAX_THRESHOLD, &v)) != HSM_OK)
			return rc;
		return get_int_range(params, "revocation", 1, ADMINCMD_MAX_THRESHOLD, &v);
	}
	if (strcmp(op, ADMINCMD_OP_ZEROIZE) == 0)
		return only_keys(params, NULL, 0, "zeroize params");
	return HSM_OK;
}

/* ---- construction and parsing ---- */

static hsm_rc
finish(admincmd *c)
{
	const char *op;
	long long nb, na;
	hsm_rc rc;

	free(c->canon);
	c->canon = NULL;
	if ((rc = cjson_dump(c->body, &c->canon, &c->canon_len)) != HSM_OK)
		return rc;
	if ((rc = cjson_get_str(c->body, "op", &op)) != HSM_OK)
		return rc;
	c->op = op;
	if ((rc = cjson_get_int(c->body, "not_before", &nb)) != HSM_OK ||
	    (rc = cjson_get_int(c->body, "not_after", &na)) != HSM_OK)
		return rc;
	c->not_before = nb;
	c->not_after = na;
	return HSM_OK;
}

/* Validate a body object completely. */
static hsm_rc
check_body(const json_t *body)
{
	static const char *const keys[] = { "v", "op", "params", "targets",
	    "not_before", "not_after", "nonce" };
	static const char *const tkeys[] = { "module", "domain", "counter" };
	uint8_t nonce[ADMINCMD_NONCE_LEN];
	json_t *params, *targets, *t;
	const char *op, *mod, *mod2;
	long long v, nb, na, dom, dom2, ctr;
	size_t i, j;
	hsm_rc rc;

	if (!json_is_object(body))
		return hsm_fail(HSM_ERR_FORMAT, "command body must be a JSON object");
	if ((rc = only_keys(body, keys, 7, "command body")) != HSM_OK)
		return rc;
	if ((rc = cjson_get_int(body, "v", &v)) != HSM_OK)
		return rc;
	if (v != ADMINCMD_VERSION)
		return hsm_fail(HSM_ERR_FORMAT,
		    "command format version %lld is not supported (this program reads %d)",
		    v, ADMINCMD_VERSION);
	if ((rc = cjson_get_str(body, "op", &op)) != HSM_OK)
		return rc;
	if ((rc = cjson_get_obj(body, "params", &params)) != HSM_OK)
		return rc;
	if ((rc = admincmd_check_params(op, params)) != HSM_OK)
		return rc;
	if ((rc = get_int_range(body, "not_before", 0, CJSON_MAX_INT, &nb)) != HSM_OK ||
	    (rc = get_int_range(body, "not_after", 0, CJSON_MAX_INT, &na)) != HSM_OK)
		return rc;
	if (na < nb)
		return hsm_fail(HSM_ERR_FORMAT, "not_after is before not_before");
	if (na - nb > ADMINCMD_MAX_WINDOW)
		return hsm_fail(HSM_ERR_FORMAT, "the command would be valid for %lld seconds "
		    "(not_before to not_after); at most 7 days and an hour (%d s) are accepted: "
		    "propose it with a shorter --valid-for", (long long)(na - nb),
		    ADMINCMD_MAX_WINDOW);
	if ((rc = cjson_get_hex(body, "nonce", nonce, sizeof(nonce))) != HSM_OK)
		return rc;
	if ((rc = cjson_get_arr(body, "targets", &targets)) != HSM_OK)
		return rc;
	if (json_array_size(targets) == 0)
		return hsm_fail(HSM_ERR_FORMAT, "the command names no target domain");
	if (json_array_size(targets) > ADMINCMD_MAX_TARGETS)
		return hsm_fail(HSM_ERR_FORMAT, "the command names more than %d targets",
		    ADMINCMD_MAX_TARGETS);
	json_array_foreach(targets, i, t) {
		if (!json_is_object(t))
			return hsm_fail(HSM_ERR_FORMAT, "target %zu is not an object", i);
		if ((rc = only_keys(t, tkeys, 3, "target")) != HSM_OK ||
		    (rc = cjson_get_str(t, "module", &mod)) != HSM_OK ||
		    (rc = check_serial(mod)) != HSM_OK ||
		    (rc = get_int_range(t, "domain", 0, ADMINCMD_MAX_DOMAIN, &dom)) != HSM_OK ||
		    (rc = get_int_range(t, "counter", 0, CJSON_MAX_INT, &ctr)) != HSM_OK)
			return hsm_fail_wrap(rc, "target %zu", i);
		for (j = 0; j < i; j++) {
			json_t *u = json_array_get(targets, j);
			mod2 = json_string_value(json_object_get(u, "module"));
			dom2 = json_integer_value(json_object_get(u, "domain"));
			if (strcmp(mod, mod2) == 0 && dom == dom2)
				return hsm_fail(HSM_ERR_FORMAT,
				    "module %s domain %lld is named twice", mod, dom);
		}
	}
	return HSM_OK;
}

static hsm_rc
check_sigs(const json_t *sigs)
{
	static const char *const skeys[] = { "ski", "signature" };
	uint8_t ski[HSM_SKI_LEN], ski2[HSM_SKI_LEN];
	uint8_t *der = NULL;
	size_t derlen, i, j;
	const char *s;
	json_t *e;
	hsm_rc rc;

	if (!json_is_array(sigs))
		return hsm_fail(HSM_ERR_FORMAT, "\"signatures\" must be an array");
	if (json_array_size(sigs) > ADMINCMD_MAX_SIGS)
		return hsm_fail(HSM_ERR_FORMAT, "more than %d signatures", ADMINCMD_MAX_SIGS);
	json_array_foreach(sigs, i, e) {
		if (!json_is_object(e))
			return hsm_fail(HSM_ERR_FORMAT, "signature %zu is not an object", i);
		if ((rc = only_keys(e, skeys, 2, "signature")) != HSM_OK ||
		    (rc = cjson_get_hex(e, "ski", ski, HSM_SKI_LEN)) != HSM_OK ||
		    (rc = cjson_get_str(e, "signature", &s)) != HSM_OK)
			return hsm_fail_wrap(rc, "signature %zu", i);
		if ((rc = b64_decode(s, &der, &derlen)) != HSM_OK)
			return hsm_fail_wrap(rc, "signature %zu: field \"signature\"", i);
		free(der);
		der = NULL;
		if (derlen == 0 || derlen > ADMINCMD_SIG_MAX)
			return hsm_fail(HSM_ERR_FORMAT, "signature %zu has a bad length", i);
		for (j = 0; j < i; j++) {
			json_t *p = json_array_get(sigs, j);
			if (cjson_get_hex(p, "ski", ski2, HSM_SKI_LEN) == HSM_OK &&
			    memcmp(ski, ski2, HSM_SKI_LEN) == 0) {
				char sk[17];
				ski_short(ski, sk);
				return hsm_fail(HSM_ERR_FORMAT,
				    "key %s... signed twice; a key may sign a command once", sk);
			}
		}
	}
	return HSM_OK;
}

hsm_rc
admincmd_new(const char *op, const json_t *params, const admincmd_target *targets,
             size_t ntargets, int64_t not_before, int64_t not_after, admincmd **out)
{
	uint8_t nonce[ADMINCMD_NONCE_LEN];
	char nonce_hex[2 * ADMINCMD_NONCE_LEN + 1];
	json_t *body = NULL, *tarr = NULL, *p = NULL;
	admincmd *c = NULL;
	size_t i;
	hsm_rc rc;

	if (out == NULL || op == NULL || (targets == NULL && ntargets > 0))
		return hsm_fail(HSM_ERR_USAGE, "admincmd_new: bad arguments");
	*out = NULL;
	if ((rc = crypto_random(nonce, sizeof(nonce))) != HSM_OK)
		return rc;
	hex_encode_buf(nonce, sizeof(nonce), nonce_hex);
	p = params ? json_deep_copy(params) : json_object();
	tarr = json_array();
	if (p == NULL || tarr == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory building a command");
		goto out;
	}
	for (i = 0; i < ntargets; i++) {
		if (targets[i].module == NULL) {
			rc = hsm_fail(HSM_ERR_USAGE, "target %zu has no module", i);
			goto out;
		}
		if (json_array_append_new(tarr, json_pack("{s:s, s:I, s:I}",
		    "module", targets[i].module, "domain", (json_int_t)targets[i].domain,
		    "counter", (json_int_t)targets[i].counter)) != 0) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory building a command");
			goto out;
		}
	}
	body = json_pack("{s:i, s:s, s:O, s:O, s:I, s:I, s:s}",
	    "v", ADMINCMD_VERSION, "op", op, "params", p, "targets", tarr,
	    "not_before", (json_int_t)not_before, "not_after", (json_int_t)not_after,
	    "nonce", nonce_hex);
	if (body == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory building a command");
		goto out;
	}
	if ((rc = check_body(body)) != HSM_OK)
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->sigs = json_array()) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory building a command");
		goto out;
	}
	c->body = body;
	body = NULL;
	if ((rc = finish(c)) != HSM_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	admincmd_free(&c);
	json_decref(body);
	json_decref(tarr);
	json_decref(p);
	return rc;
}

hsm_rc
admincmd_from_json(const json_t *file, admincmd **out)
{
	static const char *const fkeys[] = { "body", "signatures" };
	json_t *body, *sigs;
	admincmd *c = NULL;
	hsm_rc rc;

	if (out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_from_json: out is NULL");
	*out = NULL;
	if (!json_is_object(file))
		return hsm_fail(HSM_ERR_FORMAT, "a command file must be a JSON object");
	if ((rc = only_keys(file, fkeys, 2, "command file")) != HSM_OK)
		return rc;
	if ((body = json_object_get(file, "body")) == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "command file has no \"body\"");
	if ((rc = check_body(body)) != HSM_OK)
		return rc;
	sigs = json_object_get(file, "signatures");
	if (sigs != NULL && (rc = check_sigs(sigs)) != HSM_OK)
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory reading a command");
	c->body = json_deep_copy(body);
	c->sigs = sigs ? json_deep_copy(sigs) : json_array();
	if (c->body == NULL || c->sigs == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory reading a command");
		goto out;
	}
	if ((rc = finish(c)) != HSM_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	admincmd_free(&c);
	return rc;
}

hsm_rc
admincmd_parse(const char *buf, size_t len, admincmd **out)
{
	json_t *v = NULL;
	hsm_rc rc;

	if (out != NULL)
		*out = NULL;
	if (buf == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_parse: bad arguments");
	if ((rc = cjson_parse(buf, len, &v)) != HSM_OK)
		return hsm_fail_wrap(rc, "command file");
	rc = admincmd_from_json(v, out);
	json_decref(v);
	return rc;
}

hsm_rc
admincmd_load(const char *path, admincmd **out)
{
	json_t *v = NULL;
	hsm_rc rc;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_load: bad arguments");
	if ((rc = cjson_load_file(path, &v)) != HSM_OK)
		return hsm_fail_wrap(rc, "command file %s", path);
	if ((rc = admincmd_from_json(v, out)) != HSM_OK)
		rc = hsm_fail_wrap(rc, "command file %s", path);
	json_decref(v);
	return rc;
}

hsm_rc
admincmd_to_json(const admincmd *cmd, json_t **out)
{
	if (cmd == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_to_json: bad arguments");
	*out = json_pack("{s:O, s:O}", "body", cmd->body, "signatures", cmd->sigs);
	if (*out == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

hsm_rc
admincmd_dump(const admincmd *cmd, char **out, size_t *len)
{
	json_t *v = NULL;
	hsm_rc rc;

	if ((rc = admincmd_to_json(cmd, &v)) != HSM_OK)
		return rc;
	rc = cjson_dump(v, out, len);
	json_decref(v);
	return rc;
}

hsm_rc
admincmd_save(const admincmd *cmd, const char *path)
{
	json_t *v = NULL;
	hsm_rc rc;

	if ((rc = admincmd_to_json(cmd, &v)) != HSM_OK)
		return rc;
	rc = cjson_save_file(path, v, 0644);
	json_decref(v);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "cannot write command file %s", path);
	return HSM_OK;
}

void
admincmd_free(admincmd **cmd)
{
	if (cmd == NULL || *cmd == NULL)
		return;
	json_decref((*cmd)->body);
	json_decref((*cmd)->sigs);
	free((*cmd)->canon);
	free(*cmd);
	*cmd = NULL;
}

/* ---- digest and signing ---- */

hsm_rc
admincmd_digest(const admincmd *cmd, uint8_t out[ADMINCMD_DIGEST_LEN])
{
	if (cmd == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_digest: bad arguments");
	return crypto_sha256(cmd->canon, cmd->canon_len, out);
}

hsm_rc
admincmd_digest_text(const admincmd *cmd, char **hex, char **words)
{
	uint8_t dg[ADMINCMD_DIGEST_LEN];
	hsm_rc rc;

	if (hex)
		*hex = NULL;
	if (words)
		*words = NULL;
	if ((rc = admincmd_digest(cmd, dg)) != HSM_OK)
		return rc;
	if (hex && (rc = hex_encode(dg, sizeof(dg), hex)) != HSM_OK)
		return rc;
	if (words && (rc = words_encode(dg, sizeof(dg), words)) != HSM_OK) {
		if (hex) {
			free(*hex);
			*hex = NULL;
		}
		return rc;
	}
	return HSM_OK;
}

int
admincmd_has_signer(const admincmd *cmd, const uint8_t ski[HSM_SKI_LEN])
{
	uint8_t s[HSM_SKI_LEN];
	size_t i;

	if (cmd == NULL || ski == NULL)
		return 0;
	for (i = 0; i < json_array_size(cmd->sigs); i++)
		if (cjson_get_hex(json_array_get(cmd->sigs, i), "ski", s, HSM_SKI_LEN) == HSM_OK &&
		    memcmp(s, ski, HSM_SKI_LEN) == 0)
			return 1;
	return 0;
}

hsm_rc
admincmd_sign(admincmd *cmd, hsm_signer *s)
{
	uint8_t ski[HSM_SKI_LEN];
	char ski_hex[2 * HSM_SKI_LEN + 1], sk[17];
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char *b64 = NULL;
	EVP_PKEY *pub;
	hsm_rc rc;

	if (cmd == NULL || s == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_sign: bad arguments");
	if ((pub = signer_pub(s)) == NULL)
		return hsm_fail(HSM_ERR_USAGE, "signer has no public key");
	if ((rc = crypto_ski(pub, ski)) != HSM_OK)
		return rc;
	ski_short(ski, sk);
	if (admincmd_has_signer(cmd, ski))
		return hsm_fail(HSM_ERR_EXISTS,
		    "%s (SKI %s...) has already signed this command", signer_label(s), sk);
	if (json_array_size(cmd->sigs) >= ADMINCMD_MAX_SIGS)
		return hsm_fail(HSM_ERR_STATE, "the command already has %d signatures",
		    ADMINCMD_MAX_SIGS);
	if ((rc = signer_sign(s, cmd->canon, cmd->canon_len, &sig, &siglen)) != HSM_OK)
		return rc;   /* signer_sign names the signer */
	/* A card answers s or n - s as it comes; commands carry only the low-S
	 * form, the one a module accepts (ecdsa_lows.h). */
	if ((rc = crypto_ecdsa_make_low_s(pub, &sig, &siglen)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "the signature made by %s", signer_label(s));
		goto out;
	}
	/* Check our own signature now: a card that signs wrongly should be
	 * noticed here, not at the module. */
	if ((rc = crypto_ecdsa_verify(pub, cmd->canon, cmd->canon_len, sig, siglen)) != HSM_OK) {
		rc = hsm_fail(HSM_ERR_VERIFY,
		    "the signature made by %s does not verify; nothing was added",
		    signer_label(s));
		goto out;
	}
	if ((rc = b64_encode(sig, siglen, &b64)) != HSM_OK)
		goto out;
	hex_encode_buf(ski, HSM_SKI_LEN, ski_hex);
	if (json_array_append_new(cmd->sigs,
	    json_pack("{s:s, s:s}", "ski", ski_hex, "signature", b64)) != 0) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory adding a signature");
		goto out;
	}
	rc = HSM_OK;
out:
	free(sig);
	free(b64);
	return rc;
}

/* ---- accessors ---- */

const char *
admincmd_op(const admincmd *cmd)
{
	return cmd ? cmd->op : NULL;
}

const json_t *
admincmd_params(const admincmd *cmd)
{
	return cmd ? json_object_get(cmd->body, "params") : NULL;
}

const json_t *
admincmd_body(const admincmd *cmd)
{
	return cmd ? cmd->body : NULL;
}

int64_t
admincmd_not_before(const admincmd *cmd)
{
	return cmd ? cmd->not_before : 0;
}

int64_t
admincmd_not_after(const admincmd *cmd)
{
	return cmd ? cmd->not_after : 0;
}

size_t
admincmd_ntargets(const admincmd *cmd)
{
	return cmd ? json_array_size(json_object_get(cmd->body, "targets")) : 0;
}

hsm_rc
admincmd_target_at(const admincmd *cmd, size_t i, admincmd_target *out)
{
	json_t *t;

	if (cmd == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_target_at: bad arguments");
	t = json_array_get(json_object_get(cmd->body, "targets"), i);
	if (t == NULL)
		return hsm_fail(HSM_ERR_NOT_FOUND, "no target %zu", i);
	out->module = json_string_value(json_object_get(t, "module"));
	out->domain = (unsigned)json_integer_value(json_object_get(t, "domain"));
	out->counter = (uint64_t)json_integer_value(json_object_get(t, "counter"));
	return HSM_OK;
}

size_t
admincmd_nsigs(const admincmd *cmd)
{
	return cmd ? json_array_size(cmd->sigs) : 0;
}

hsm_rc
admincmd_sig_ski(const admincmd *cmd, size_t i, uint8_t ski[HSM_SKI_LEN])
{
	json_t *e;

	if (cmd == NULL || ski == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_sig_ski: bad arguments");
	if ((e = json_array_get(cmd->sigs, i)) == NULL)
		return hsm_fail(HSM_ERR_NOT_FOUND, "no signature %zu", i);
	return cjson_get_hex(e, "ski", ski, HSM_SKI_LEN);
}

hsm_rc
admincmd_sig_verify(const admincmd *cmd, size_t i, EVP_PKEY *pub)
{
	const char *b64 = NULL;
	uint8_t *der = NULL;
	size_t derlen = 0;
	json_t *e;
	hsm_rc rc;

	if (cmd == NULL || pub == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_sig_verify: bad arguments");
	if ((e = json_array_get(cmd->sigs, i)) == NULL)
		return hsm_fail(HSM_ERR_NOT_FOUND, "no signature %zu", i);
	if ((rc = cjson_get_str(e, "signature", &b64)) != HSM_OK ||
	    (rc = b64_decode(b64, &der, &derlen)) != HSM_OK)
		return rc;
	if (crypto_ecdsa_check_low_s(pub, der, derlen) != HSM_OK)
		rc = hsm_fail(HSM_ERR_VERIFY, "signature %zu is not in the one accepted encoding "
		    "(canonical DER, low S)", i + 1);
	else if ((rc = crypto_ecdsa_verify(pub, cmd->canon, cmd->canon_len, der, derlen)) != HSM_OK)
		rc = hsm_fail(HSM_ERR_VERIFY, "signature %zu does not verify over this command",
		    i + 1);
	free(der);
	return rc;
}

hsm_rc
admincmd_target_for(const admincmd *cmd, const char *module, unsigned domain,
                    uint64_t *counter)
{
	admincmd_target t;
	size_t i, n = admincmd_ntargets(cmd);

	if (cmd == NULL || module == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_target_for: bad arguments");
	for (i = 0; i < n; i++) {
		if (admincmd_target_at(cmd, i, &t) != HSM_OK)
			break;
		if (t.domain == domain && strcmp(t.module, module) == 0) {
			if (counter)
				*counter = t.counter;
			return HSM_OK;
		}
	}
	return hsm_fail(HSM_ERR_NOT_FOUND, "the command is not addressed to module %s domain %u",
	    module, domain);
}

/* ---- verification ---- */

static void
fmt_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%lld", (long long)t);
}

int
admincmd_load_is_approved(const json_t *params, const json_t *approved)
{
	long long idx, parts;
	const char *kpvp;
	size_t i;
	json_t *e;

	if (!json_is_array(approved) || json_array_size(approved) == 0 ||
	    cjson_get_int(params, "part_index", &idx) != HSM_OK ||
	    cjson_get_int(params, "parts", &parts) != HSM_OK ||
	    cjson_get_str(params, "kpvp", &kpvp) != HSM_OK ||
	    parts != (long long)json_array_size(approved))
		return 0;
	json_array_foreach(approved, i, e) {
		json_t *ji = json_object_get(e, "index");
		const char *k = json_string_value(json_object_get(e, "kpvp"));
		if (json_is_integer(ji) && json_integer_value(ji) == idx && k != NULL)
			return strcmp(k, kpvp) == 0;
	}
	return 0;
}

hsm_rc
admincmd_verify_for_domain(const admincmd *cmd, const char *module, unsigned domain,
                           uint64_t counter, int64_t now,
                           const admincmd_admin *admins, size_t nadmins,
                           unsigned sig_thr, unsigned rev_thr, unsigned *counted)
{
	return admincmd_verify_approved(cmd, module, domain, counter, now, admins, nadmins,
	    sig_thr, rev_thr, NULL, counted);
}

/* Every signature on cmd verified with its admin of (module, domain);
 * *nid gets the distinct identities that signed. */
static hsm_rc
count_identities(const admincmd *cmd, const char *module, unsigned domain,
                 const admincmd_admin *admins, size_t nadmins, size_t *nid)
{
	const char *idents[ADMINCMD_MAX_SIGS];
	size_t i, j, nsig;
	uint8_t *der = NULL;
	size_t derlen = 0;
	hsm_rc rc = HSM_OK;

	*nid = 0;
	nsig = json_array_size(cmd->sigs);
	for (i = 0; i < nsig; i++) {
		json_t *e = json_array_get(cmd->sigs, i);
		uint8_t ski[HSM_SKI_LEN];
		const admincmd_admin *a = NULL;
		const char *s;
		char sk[17];

		if ((rc = cjson_get_hex(e, "ski", ski, HSM_SKI_LEN)) != HSM_OK ||
		    (rc = cjson_get_str(e, "signature", &s)) != HSM_OK)
			goto out;
		ski_short(ski, sk);
		for (j = 0; j < nadmins; j++)
			if (memcmp(admins[j].ski, ski, HSM_SKI_LEN) == 0) {
				a = &admins[j];
				break;
			}
		if (a == NULL) {
			rc = hsm_fail(HSM_ERR_REFUSED,
			    "the key with SKI %s... that signed the command is not an "
			    "administrator of module %s domain %u", sk, module, domain);
			goto out;
		}
		if ((rc = b64_decode(s, &der, &derlen)) != HSM_OK)
			goto out;
		if (a->pub != NULL && derlen > 0 &&
		    crypto_ecdsa_check_low_s(a->pub, der, derlen) != HSM_OK &&
		    crypto_ecdsa_verify(a->pub, cmd->canon, cmd->canon_len, der, derlen) == HSM_OK) {
			/* (r, n - s) of a valid signature: valid maths, second spelling. */
			rc = hsm_fail(HSM_ERR_VERIFY,
			    "the signature of %s (SKI %s...) is in its high-S form (s > n/2); only "
			    "the low-S form is accepted, so that a signed command has one encoding: "
			    "sign the command again with hsmadm-domain sign",
			    a->name ? a->name : "an administrator", sk);
			goto out;
		}
		rc = a->pub ? crypto_ecdsa_verify(a->pub, cmd->canon, cmd->canon_len, der, derlen)
		    : HSM_ERR_VERIFY;
		free(der);
		der = NULL;
		if (rc != HSM_OK) {
			rc = hsm_fail(HSM_ERR_VERIFY,
			    "the signature of %s (SKI %s...) does not match the command: "
			    "the command was changed after signing or the signature is damaged",
			    a->name ? a->name : "an administrator", sk);
			goto out;
		}
		for (j = 0; j < *nid; j++)
			if (strcmp(idents[j], a->identity ? a->identity : "") == 0)
				break;
		if (j == *nid)
			idents[(*nid)++] = a->identity ? a->identity : "";
	}
out:
	free(der);
	return rc;
}

hsm_rc
admincmd_verify_approved(const admincmd *cmd, const char *module, unsigned domain,
                         uint64_t counter, int64_t now,
                         const admincmd_admin *admins, size_t nadmins,
                         unsigned sig_thr, unsigned rev_thr, const json_t *approved,
                         unsigned *counted)
{
	size_t nid = 0;
	unsigned needed = 0;
	uint64_t want;
	hsm_rc rc;

	if (counted)
		*counted = 0;
	if (cmd == NULL || module == NULL || (admins == NULL && nadmins > 0))
		return hsm_fail(HSM_ERR_USAGE, "admincmd_verify_for_domain: bad arguments");
	if (admincmd_target_for(cmd, module, domain, &want) != HSM_OK)
		return hsm_fail(HSM_ERR_REFUSED,
		    "the command is not addressed to module %s domain %u", module, domain);
	if ((rc = admincmd_required_sigs(cmd->op, admincmd_params(cmd), sig_thr, rev_thr,
	    &needed)) != HSM_OK)
		return rc;
	if (strcmp(cmd->op, ADMINCMD_OP_MK_LOAD_PART) == 0 &&
	    admincmd_load_is_approved(admincmd_params(cmd), approved))
		needed = 0;
	if (now < cmd->not_before || now > cmd->not_after) {
		char a[32], b[32], n[32];
		fmt_time(cmd->not_before, a);
		fmt_time(cmd->not_after, b);
		fmt_time(now, n);
		return hsm_fail(HSM_ERR_EXPIRED,
		    "the command is valid from %s until %s and it is now %s; "
		    "propose it again and collect new signatures", a, b, n);
	}
	if (want != counter) {
		if (want < counter)
			return hsm_fail(HSM_ERR_REPLAY,
			    "module %s domain %u: the command expects counter %llu but the "
			    "domain is at %llu; it was already applied or is stale",
			    module, domain, (unsigned long long)want, (unsigned long long)counter);
		return hsm_fail(HSM_ERR_REPLAY,
		    "module %s domain %u: the command expects counter %llu but the domain "
		    "is at %llu; it is out of sequence",
		    module, domain, (unsigned long long)want, (unsigned long long)counter);
	}
	if ((rc = count_identities(cmd, module, domain, admins, nadmins, &nid)) != HSM_OK)
		return rc;
	if (counted)
		*counted = (unsigned)nid;
	if (nid < needed)
		return hsm_fail(HSM_ERR_QUORUM,
		    "%zu of %u needed signatures present; %zu more needed",
		    nid, needed, (size_t)needed - nid);
	return HSM_OK;
}

/* ---- one check per admin set (admincmd_verify_memo) ---- */

#define MEMO_MAX 16
struct admincmd_memo {
	pthread_mutex_t lock;
	pthread_cond_t  done;
	size_t          n;
	struct { uint8_t key[32]; int ready; hsm_rc rc; unsigned counted; } e[MEMO_MAX];
};

hsm_rc
admincmd_memo_new(admincmd_memo **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&(*out)->lock, NULL);
	pthread_cond_init(&(*out)->done, NULL);
	return HSM_OK;
}

void
admincmd_memo_free(admincmd_memo **m)
{
	if (m == NULL || *m == NULL)
		return;
	pthread_cond_destroy(&(*m)->done);
	pthread_mutex_destroy(&(*m)->lock);
	free(*m);
	*m = NULL;
}

/* SHA-256 over the admin set (each SKI, then its identity with its NUL)
 * and the thresholds; 0 when it cannot be made: that set is not shared. */
static int
memo_key(const admincmd_admin *a, size_t n, unsigned sig_thr, unsigned rev_thr,
         uint8_t key[32])
{
	uint8_t buf[ADMINCMD_MAX_ADMINS * (HSM_SKI_LEN + ADMINCMD_IDENTITY_MAX + 1) + 2];
	size_t i, len = 0, l;

	if (n > ADMINCMD_MAX_ADMINS || sig_thr > 255 || rev_thr > 255)
		return 0;
	for (i = 0; i < n; i++) {
		l = strlen(a[i].identity ? a[i].identity : "") + 1;
		if (l > ADMINCMD_IDENTITY_MAX + 1)
			return 0;
		memcpy(buf + len, a[i].ski, HSM_SKI_LEN);
		memcpy(buf + len + HSM_SKI_LEN, a[i].identity ? a[i].identity : "", l);
		len += HSM_SKI_LEN + l;
	}
	buf[len++] = (uint8_t)sig_thr;
	buf[len++] = (uint8_t)rev_thr;
	if (crypto_sha256(buf, len, key) != HSM_OK) {
		hsm_err_clear();
		return 0;
	}
	return 1;
}

hsm_rc
admincmd_verify_memo(admincmd_memo *m, const admincmd *cmd, const char *module,
                     unsigned domain, uint64_t counter, int64_t now,
                     const admincmd_admin *admins, size_t nadmins,
                     unsigned sig_thr, unsigned rev_thr, const json_t *approved,
                     unsigned *counted)
{
	uint8_t key[32];
	uint64_t want = 0;
	unsigned got = 0;
	size_t i;
	hsm_rc rc;

	/* An approved load depends on more than the memo's key; a domain at
	 * another counter is refused before any signature is looked at. */
	if (m == NULL || cmd == NULL || module == NULL || json_array_size(approved) > 0 ||
	    admincmd_target_for(cmd, module, domain, &want) != HSM_OK || want != counter ||
	    !memo_key(admins, nadmins, sig_thr, rev_thr, key))
		return admincmd_verify_approved(cmd, module, domain, counter, now, admins, nadmins,
		    sig_thr, rev_thr, approved, counted);
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n && memcmp(m->e[i].key, key, 32) != 0; i++)
		;
	if (i < m->n) {
		while (!m->e[i].ready)
			pthread_cond_wait(&m->done, &m->lock);
		rc = m->e[i].rc;
		got = m->e[i].counted;
		pthread_mutex_unlock(&m->lock);
		if (rc != HSM_OK)
			return admincmd_verify_approved(cmd, module, domain, counter, now, admins,
			    nadmins, sig_thr, rev_thr, approved, counted);
		if (counted)
			*counted = got;
		return HSM_OK;
	}
	if (m->n == MEMO_MAX) {
		pthread_mutex_unlock(&m->lock);
		return admincmd_verify_approved(cmd, module, domain, counter, now, admins, nadmins,
		    sig_thr, rev_thr, approved, counted);
	}
	memcpy(m->e[m->n++].key, key, 32);
	pthread_mutex_unlock(&m->lock);
	rc = admincmd_verify_approved(cmd, module, domain, counter, now, admins, nadmins,
	    sig_thr, rev_thr, approved, &got);
	pthread_mutex_lock(&m->lock);
	m->e[i].rc = rc;
	m->e[i].counted = got;
	m->e[i].ready = 1;
	pthread_cond_broadcast(&m->done);
	pthread_mutex_unlock(&m->lock);
	if (counted)
		*counted = got;
	return rc;
}

/* ---- summary ---- */

struct sb { char *p; size_t len, cap; int oom; };

static void
sb_add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t ncap = b->cap * 2 + (size_t)n + 64;
			char *np = realloc(b->p, ncap);
			if (np == NULL) {
				b->oom = 1;
				return;
			}
			b->p = np;
			b->cap = ncap;
		}
	}
}

/* "Approve loading a new master key from 3 parts: p1 (KPVP 1a2b ...), ... into " */
static void
summary_approval(struct sb *b, const json_t *parts)
{
	uint8_t vp[HSM_VP_LEN];
	char text[HSM_VP_TEXT_LEN];
	size_t i;
	json_t *e;

	sb_add(b, "Approve loading a new master key from %zu parts:", json_array_size(parts));
	json_array_foreach(parts, i, e) {
		const char *k = json_string_value(json_object_get(e, "kpvp"));
		if (k == NULL || strlen(k) != 2 * HSM_VP_LEN || hex_decode_into(k, vp, HSM_VP_LEN) != HSM_OK)
			snprintf(text, sizeof(text), "?");
		else
			vp_format(vp, text);
		sb_add(b, "%s %.60s (KPVP %s)", i == 0 ? "" : ",",
		    json_string_value(json_object_get(e, "part_id")), text);
	}
	sb_add(b, " into the pending register of ");
}

hsm_rc
admincmd_summary(const admincmd *cmd, char **out)
{
	struct sb b = { NULL, 0, 0, 0 };
	const json_t *p;
	const char *op;
	size_t i, n;

	if (cmd == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "admincmd_summary: bad arguments");
	*out = NULL;
	op = cmd->op;
	p = admincmd_params(cmd);
	if (strcmp(op, ADMINCMD_OP_ADMIN_ADD) == 0) {
		uint8_t ski[HSM_SKI_LEN];
		char sk[17] = "?";
		if (admincmd_pubkey_from_hex(json_string_value(json_object_get(p, "pubkey")),
		    NULL, ski) == HSM_OK)
			ski_short(ski, sk);
		sb_add(&b, "Add administrator %s (SKI %s..., identity %s) to ",
		    json_string_value(json_object_get(p, "name")), sk,
		    json_string_value(json_object_get(p, "identity")));
	} else if (strcmp(op, ADMINCMD_OP_ADMIN_REMOVE) == 0) {
		sb_add(&b, "Remove administrator with SKI %.16s... from ",
		    json_string_value(json_object_get(p, "ski")));
	} else if (strcmp(op, ADMINCMD_OP_THRESHOLDS_SET) == 0) {
		sb_add(&b, "Set the signature threshold to %lld and the revocation "
		    "threshold to %lld on ",
		    (long long)json_integer_value(json_object_get(p, "signature")),
		    (long long)json_integer_value(json_object_get(p, "revocation")));
	} else if (strcmp(op, ADMINCMD_OP_ZEROIZE) == 0) {
		sb_add(&b, "Zeroize (erase administrators, thresholds and master keys of) ");
	} else if (strcmp(op, ADMINCMD_OP_MK_APPROVE_LOAD) == 0) {
		summary_approval(&b, json_object_get(p, "parts"));
	} else {
		const char *k;
		json_t *v;
		int first = 1;
		sb_add(&b, "Run %s", op);
		json_object_foreach((json_t *)p, k, v) {
			if (json_is_string(v))
				sb_add(&b, "%s%s %.40s", first ? " (" : ", ", k, json_string_value(v));
			else if (json_is_integer(v))
				sb_add(&b, "%s%s %lld", first ? " (" : ", ", k,
				    (long long)json_integer_value(v));
			else
				continue;
			first = 0;
		}
		sb_add(&b, "%s on ", first ? "" : ")");
	}
	n = admincmd_ntargets(cmd);
	for (i = 0; i < n; i++) {
		admincmd_target t;
		if (admincmd_target_at(cmd, i, &t) != HSM_OK)
			break;
		sb_add(&b, "%s%s domain %u", i == 0 ? "" : (i + 1 == n ? " and " : ", "),
		    t.module, t.domain);
	}
	if (b.oom || b.p == NULL) {
		free(b.p);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory writing a summary");
	}
	*out = b.p;
	return HSM_OK;
}
