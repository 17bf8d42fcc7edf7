/* SPDX-License-Identifier: BSD-2-Clause */
/* blob.c - key blobs: format, wrapping under a register, text forms (blob.h). */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "hsmadm/blob.h"
#include "hsmadm/crypto.h"
#include "hsmadm/secbuf.h"

static const uint8_t blob_magic[4] = { 'H', 'K', 'B', BLOB_VERSION };
static const char wrap_info[] = "hsmadm blob wrap key v1";
static const char data_aad[] = "hsmadm blob data v1";

struct blob_kctx {
	uint8_t              mkvp[HSM_VP_LEN];
	EVP_CIPHER_CTX      *enc, *dec;
	const blob_aead_ops *ops;   /* a key held elsewhere (blob_kctx_new_ext) */
	void                *ctx;
};

/* ---- attributes and header ----------------------------------------------- */

hsm_rc
blob_attrs_make(unsigned usage, const char *label, blob_attrs *out)
{
	uint8_t dg[32];
	hsm_rc rc;

	memset(out, 0, sizeof(*out));
	if (usage == 0 || (usage & ~BLOB_USE_KNOWN) != 0)
		return hsm_fail(HSM_ERR_USAGE, "blob usage 0x%x: give encrypt, decrypt or both", usage);
	out->usage = (uint16_t)usage;
	if (label != NULL && *label != '\0') {
		if ((rc = crypto_sha256(label, strlen(label), dg)) != HSM_OK)
			return rc;
		memcpy(out->label, dg, BLOB_LABEL_LEN);
	}
	return HSM_OK;
}

hsm_rc
blob_usage_parse(const char *s, unsigned *usage)
{
	if (s == NULL)
		return hsm_fail(HSM_ERR_USAGE, "no blob usage given");
	if (strcmp(s, "encrypt") == 0)
		*usage = BLOB_USE_ENCRYPT;
	else if (strcmp(s, "decrypt") == 0)
		*usage = BLOB_USE_DECRYPT;
	else if (strcmp(s, "all") == 0 || strcmp(s, "encrypt,decrypt") == 0 ||
	         strcmp(s, "decrypt,encrypt") == 0)
		*usage = BLOB_USE_KNOWN;
	else
		return hsm_fail(HSM_ERR_USAGE, "blob usage \"%.32s\": want encrypt, decrypt or all", s);
	return HSM_OK;
}

static void
header_write(const blob_attrs *a, const uint8_t prefix[BLOB_PREFIX_LEN], uint8_t *h)
{
	memcpy(h, blob_magic, 4);
	memcpy(h + 4, prefix, BLOB_PREFIX_LEN);
	h[12] = (uint8_t)(a->usage >> 8);
	h[13] = (uint8_t)a->usage;
	h[14] = h[15] = 0;
	memcpy(h + 16, a->label, BLOB_LABEL_LEN);
}

hsm_rc
blob_parse(const uint8_t *b, size_t n, blob_info *out)
{
	unsigned usage;

	if (b == NULL || n != BLOB_LEN)
		return hsm_fail(HSM_ERR_FORMAT, "a key blob is %d bytes, not %zu", BLOB_LEN, n);
	if (memcmp(b, blob_magic, 3) != 0)
		return hsm_fail(HSM_ERR_FORMAT, "not a key blob (bad magic)");
	if (b[3] != BLOB_VERSION)
		return hsm_fail(HSM_ERR_FORMAT, "key blob version %u is not supported (want %d)",
		                b[3], BLOB_VERSION);
	usage = ((unsigned)b[12] << 8) | b[13];
	if (usage == 0 || (usage & ~BLOB_USE_KNOWN) != 0 || b[14] != 0 || b[15] != 0)
		return hsm_fail(HSM_ERR_FORMAT, "key blob attributes 0x%04x are not known", usage);
	if (out != NULL) {
		memcpy(out->prefix, b + 4, BLOB_PREFIX_LEN);
		out->attrs.usage = (uint16_t)usage;
		memcpy(out->attrs.label, b + 16, BLOB_LABEL_LEN);
	}
	return HSM_OK;
}

void
blob_prefix_hex(const uint8_t prefix[BLOB_PREFIX_LEN], char out[2 * BLOB_PREFIX_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < BLOB_PREFIX_LEN; i++) {
		out[2 * i] = hx[prefix[i] >> 4];
		out[2 * i + 1] = hx[prefix[i] & 15];
	}
	out[2 * BLOB_PREFIX_LEN] = '\0';
}

/* ---- wrapping keys -------------------------------------------------------- */

hsm_rc
blob_wrap_key(const uint8_t mk[HSM_KEY_LEN], uint8_t wk[BLOB_KEY_LEN])
{
	/* A key of its own for blobs: the master key is never used directly. */
	return crypto_hkdf(HSM_MD_SHA256, NULL, 0, mk, HSM_KEY_LEN,
	                   (const uint8_t *)wrap_info, sizeof(wrap_info) - 1, wk, BLOB_KEY_LEN);
}

hsm_rc
blob_kctx_new_ext(const blob_aead_ops *ops, void *ctx, const uint8_t mkvp[HSM_VP_LEN],
                  blob_kctx **out)
{
	blob_kctx *k;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		ops->free_ctx(ctx);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	memcpy(k->mkvp, mkvp, HSM_VP_LEN);
	k->ops = ops;
	k->ctx = ctx;
	*out = k;
	return HSM_OK;
}

hsm_rc
blob_kctx_new(const uint8_t mk[HSM_KEY_LEN], const uint8_t mkvp[HSM_VP_LEN], blob_kctx **out)
{
	uint8_t wk[32];
	blob_kctx *k;
	hsm_rc rc;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	memcpy(k->mkvp, mkvp, HSM_VP_LEN);
	if ((rc = blob_wrap_key(mk, wk)) != HSM_OK)
		goto out;
	rc = HSM_ERR_CRYPTO;
	if ((k->enc = EVP_CIPHER_CTX_new()) == NULL || (k->dec = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_EncryptInit_ex(k->enc, EVP_aes_256_gcm(), NULL, wk, NULL) ||
	    !EVP_DecryptInit_ex(k->dec, EVP_aes_256_gcm(), NULL, wk, NULL)) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot key AES-256-GCM for blobs");
		goto out;
	}
	*out = k;
	k = NULL;
	rc = HSM_OK;
out:
	secure_wipe(wk, sizeof(wk));
	blob_kctx_free(&k);
	return rc;
}

void
blob_kctx_free(blob_kctx **kp)
{
	if (kp == NULL || *kp == NULL)
		return;
	EVP_CIPHER_CTX_free((*kp)->enc);
	EVP_CIPHER_CTX_free((*kp)->dec);
	if ((*kp)->ops != NULL)
		(*kp)->ops->free_ctx((*kp)->ctx);
	free(*kp);
	*kp = NULL;
}

const uint8_t *
blob_kctx_mkvp(const blob_kctx *k)
{
	return k->mkvp;
}

int
blob_kctx_matches(const blob_kctx *k, const uint8_t blob[BLOB_LEN])
{
	return secure_equal(k->mkvp, blob + 4, BLOB_PREFIX_LEN);
}

hsm_rc
blob_seal(blob_kctx *k, const blob_attrs *a, const uint8_t iv[BLOB_IV_LEN],
          const uint8_t key[BLOB_KEY_LEN], uint8_t out[BLOB_LEN])
{
	int len = 0;
	uint8_t dummy[16];

	if (a->usage == 0 || (a->usage & ~BLOB_USE_KNOWN) != 0)
		return hsm_fail(HSM_ERR_USAGE, "blob_seal: bad usage bits");
	header_write(a, k->mkvp, out);
	memcpy(out + BLOB_HDR_LEN, iv, BLOB_IV_LEN);
	if (k->ops != NULL) {   /* ciphertext at 36 and tag at 68 are adjacent */
		hsm_rc rc = k->ops->seal(k->ctx, iv, out, BLOB_HDR_LEN, key, BLOB_KEY_LEN, out + 36);
		if (rc != HSM_OK)
			secure_wipe(out, BLOB_LEN);
		return rc;
	}
	/* Same key, new IV: the key schedule of blob_kctx_new is reused. */
	if (!EVP_EncryptInit_ex(k->enc, NULL, NULL, NULL, iv) ||
	    !EVP_EncryptUpdate(k->enc, NULL, &len, out, BLOB_HDR_LEN) ||
	    !EVP_EncryptUpdate(k->enc, out + 36, &len, key, BLOB_KEY_LEN) ||
	    !EVP_EncryptFinal_ex(k->enc, dummy, &len) ||
	    !EVP_CIPHER_CTX_ctrl(k->enc, EVP_CTRL_GCM_GET_TAG, BLOB_TAG_LEN, out + 68)) {
		secure_wipe(out, BLOB_LEN);
		return hsm_fail(HSM_ERR_CRYPTO, "AES-GCM failed wrapping a blob");
	}
	return HSM_OK;
}

hsm_rc
blob_open(blob_kctx *k, const uint8_t blob[BLOB_LEN], uint8_t key[BLOB_KEY_LEN],
          blob_info *info)
{
	char hex[2 * BLOB_PREFIX_LEN + 1];
	uint8_t dummy[16], tag[BLOB_TAG_LEN];
	int len = 0;
	hsm_rc rc;

	if ((rc = blob_parse(blob, BLOB_LEN, info)) != HSM_OK)
		return rc;
	if (!blob_kctx_matches(k, blob)) {
		blob_prefix_hex(blob + 4, hex);
		return hsm_fail(HSM_ERR_NOT_FOUND, "the blob is wrapped under the key with verification pattern %s..., not this one",
		                hex);
	}
	memcpy(tag, blob + 68, BLOB_TAG_LEN);
	if (k->ops != NULL) {   /* a tag that does not match is said below */
		rc = k->ops->open(k->ctx, blob + BLOB_HDR_LEN, blob, BLOB_HDR_LEN, blob + 36,
		                  BLOB_KEY_LEN + BLOB_TAG_LEN, key);
		if (rc == HSM_OK)
			return HSM_OK;
		secure_wipe(key, BLOB_KEY_LEN);
		if (rc != HSM_ERR_VERIFY)
			return rc;
	}
	if (k->ops != NULL || !EVP_DecryptInit_ex(k->dec, NULL, NULL, NULL, blob + BLOB_HDR_LEN) ||
	    !EVP_DecryptUpdate(k->dec, NULL, &len, blob, BLOB_HDR_LEN) ||
	    !EVP_DecryptUpdate(k->dec, key, &len, blob + 36, BLOB_KEY_LEN) ||
	    !EVP_CIPHER_CTX_ctrl(k->dec, EVP_CTRL_GCM_SET_TAG, BLOB_TAG_LEN, tag) ||
	    EVP_DecryptFinal_ex(k->dec, dummy, &len) <= 0) {
		secure_wipe(key, BLOB_KEY_LEN);
		blob_prefix_hex(blob + 4, hex);
		return hsm_fail(HSM_ERR_VERIFY, "the blob under %s... does not verify (damaged, or made under another key with the same prefix)",
		                hex);
	}
	return HSM_OK;
}

hsm_rc
blob_rewrap(blob_kctx *from, blob_kctx *to, const uint8_t iv[BLOB_IV_LEN],
            const uint8_t in[BLOB_LEN], uint8_t out[BLOB_LEN])
{
	uint8_t key[BLOB_KEY_LEN];
	blob_info info;
	hsm_rc rc;

	if ((rc = blob_open(from, in, key, &info)) == HSM_OK)
		rc = blob_seal(to, &info.attrs, iv, key, out);
	secure_wipe(key, sizeof(key));
	return rc;
}

/* ---- data under a blob's key ---------------------------------------------- */

hsm_rc
blob_data_seal(const uint8_t key[BLOB_KEY_LEN], const uint8_t *pt, size_t n,
               uint8_t **out, size_t *outlen)
{
	uint8_t *o;
	hsm_rc rc;

	*out = NULL;
	*outlen = 0;
	if (n > BLOB_DATA_MAX)
		return hsm_fail(HSM_ERR_USAGE, "at most %d bytes of data, not %zu", BLOB_DATA_MAX, n);
	if ((o = malloc(n + BLOB_DATA_OVERHEAD)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = crypto_random(o, BLOB_IV_LEN)) != HSM_OK ||
	    (rc = crypto_gcm_seal(key, o, (const uint8_t *)data_aad, sizeof(data_aad) - 1,
	                          pt, n, o + BLOB_IV_LEN, o + BLOB_IV_LEN + n)) != HSM_OK) {
		free(o);
		return rc;
	}
	*out = o;
	*outlen = n + BLOB_DATA_OVERHEAD;
	return HSM_OK;
}

hsm_rc
blob_data_open(const uint8_t key[BLOB_KEY_LEN], const uint8_t *in, size_t n,
               uint8_t **out, size_t *outlen)
{
	uint8_t *o;
	size_t m;
	hsm_rc rc;

	*out = NULL;
	*outlen = 0;
	if (n < BLOB_DATA_OVERHEAD || n > BLOB_DATA_MAX + BLOB_DATA_OVERHEAD)
		return hsm_fail(HSM_ERR_FORMAT, "encrypted data is %d to %d bytes, not %zu",
		                BLOB_DATA_OVERHEAD, BLOB_DATA_MAX + BLOB_DATA_OVERHEAD, n);
	m = n - BLOB_DATA_OVERHEAD;
	if ((o = malloc(m + 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = crypto_gcm_open(key, in, (const uint8_t *)data_aad, sizeof(data_aad) - 1,
	                     in + BLOB_IV_LEN, m, in + BLOB_IV_LEN + m, o);
	if (rc != HSM_OK) {
		free(o);
		return rc == HSM_ERR_VERIFY
		    ? hsm_fail(HSM_ERR_VERIFY, "the data does not decrypt with this blob's key (another key, or damaged)")
		    : rc;
	}
	*out = o;
	*outlen = m;
	return HSM_OK;
}

/* ---- base64 runs ----------------------------------------------------------- */

static const char b64c[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decoding table: -1 for every byte outside the standard alphabet. */
static const int8_t b64d[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* Built once from the two above: the two characters of every 12 bits (an
 * encoded group is two lookups, not four), and each character's 6 bits
 * already shifted for each of a group's four places, B64_BAD outside the
 * alphabet (a decoded group is four lookups and ORs, and one test for the
 * whole run). */
#define B64_BAD 0x80000000u
static char b64pair[4096][2];
static uint32_t b64place[4][256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void
b64_tables(void)
{
	unsigned i, p;

	for (i = 0; i < 4096; i++) {
		b64pair[i][0] = b64c[i >> 6];
		b64pair[i][1] = b64c[i & 63];
	}
	for (i = 0; i < 256; i++)
		for (p = 0; p < 4; p++)
			b64place[p][i] = b64d[i] < 0 ? B64_BAD : (uint32_t)b64d[i] << (18 - 6 * p);
}

hsm_rc
blob_b64_decode(const char *in, size_t inlen, size_t max, uint8_t *out, size_t *nblobs)
{
	const unsigned char *u = (const unsigned char *)in;
	uint32_t bad = 0;
	size_t i, o = 0;

	*nblobs = 0;
	if (inlen == 0 || inlen % BLOB_B64_LEN != 0)
		return hsm_fail(HSM_ERR_FORMAT, "blobs in base64 are a multiple of %d characters, not %zu",
		                BLOB_B64_LEN, inlen);
	if (inlen / BLOB_B64_LEN > max)
		return hsm_fail(HSM_ERR_FORMAT, "at most %zu blobs at once, not %zu", max,
		                inlen / BLOB_B64_LEN);
	(void)pthread_once(&b64_once, b64_tables);
	for (i = 0; i < inlen; i += 4) {
		uint32_t v = b64place[0][u[i]] | b64place[1][u[i + 1]] | b64place[2][u[i + 2]] |
		             b64place[3][u[i + 3]];
		bad |= v;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (bad & B64_BAD) {
		/* Rare: find the group for the message. */
		for (i = 0; b64d[u[i]] >= 0 && b64d[u[i + 1]] >= 0 && b64d[u[i + 2]] >= 0 &&
		            b64d[u[i + 3]] >= 0; i += 4)
			;
		return hsm_fail(HSM_ERR_FORMAT, "blob base64: a character outside the standard alphabet at %zu",
		                i);
	}
	*nblobs = inlen / BLOB_B64_LEN;
	return HSM_OK;
}

void
blob_b64_encode(const uint8_t *in, size_t nblobs, char *out)
{
	size_t i, n = nblobs * BLOB_LEN;

	(void)pthread_once(&b64_once, b64_tables);
	for (i = 0; i < n; i += 3) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
		memcpy(out, b64pair[v >> 12], 2);
		memcpy(out + 2, b64pair[v & 0xfff], 2);
		out += 4;
	}
	*out = '\0';
}

/* ---- JSON Lines ------------------------------------------------------------ */

static int
id_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > BLOB_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '"' ||
		    s[i] == '\\')
			return 0;
	return 1;
}

static hsm_rc
line_finish(const char *b64, size_t b64len, const char *id, size_t idlen,
            uint8_t blob[BLOB_LEN], char idout[BLOB_ID_MAX + 1])
{
	size_t n;
	hsm_rc rc;

	if (b64len != BLOB_B64_LEN)
		return hsm_fail(HSM_ERR_FORMAT, "\"blob\" must be %d base64 characters, not %zu",
		                BLOB_B64_LEN, b64len);
	if (id != NULL && !id_ok(id, idlen))
		return hsm_fail(HSM_ERR_FORMAT, "\"id\" must be 1 to %d printable ASCII characters without '\"' or '\\\\'",
		                BLOB_ID_MAX);
	if ((rc = blob_b64_decode(b64, b64len, 1, blob, &n)) != HSM_OK ||
	    (rc = blob_parse(blob, BLOB_LEN, NULL)) != HSM_OK)
		return rc;
	memcpy(idout, id ? id : "", id ? idlen : 0);
	idout[id ? idlen : 0] = '\0';
	return HSM_OK;
}

/* Any JSON spelling: through jansson, exactly {blob, id?}. */
static hsm_rc
line_parse_json(const char *line, size_t n, uint8_t blob[BLOB_LEN], char id[BLOB_ID_MAX + 1])
{
	json_error_t err;
	json_t *o, *b, *i;
	hsm_rc rc;

	if ((o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &err)) == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "not JSON: %s", err.text);
	b = json_object_get(o, "blob");
	i = json_object_get(o, "id");
	if (!json_is_object(o) || !json_is_string(b) || (i != NULL && !json_is_string(i)) ||
	    json_object_size(o) != (i != NULL ? 2u : 1u))
		rc = hsm_fail(HSM_ERR_FORMAT, "a blob line is {\"blob\": base64, \"id\": string (optional)} and nothing else");
	else
		rc = line_finish(json_string_value(b), json_string_length(b),
		                 i ? json_string_value(i) : NULL, i ? json_string_length(i) : 0,
		                 blob, id);
	json_decref(o);
	return rc;
}

hsm_rc
blob_line_parse(const char *line, size_t n, uint8_t blob[BLOB_LEN], char id[BLOB_ID_MAX + 1])
{
	static const char head[] = "{\"blob\":\"", mid[] = "\",\"id\":\"";
	const size_t hl = sizeof(head) - 1, ml = sizeof(mid) - 1;
	const char *idp;
	size_t idlen;

	if (n > 0 && line[n - 1] == '\r')
		n--;
	/* The canonical spelling (what blob_line_format writes) is read
	 * directly: a million lines must not each pay a JSON parser. */
	if (n >= hl + BLOB_B64_LEN + 2 && memcmp(line, head, hl) == 0 &&
	    memchr(line + hl, '"', BLOB_B64_LEN) == NULL) {
		const char *p = line + hl + BLOB_B64_LEN;
		size_t rest = n - (size_t)(p - line);
		if (rest == 2 && p[0] == '"' && p[1] == '}')
			return line_finish(line + hl, BLOB_B64_LEN, NULL, 0, blob, id);
		if (rest > ml + 2 && memcmp(p, mid, ml) == 0 && p[rest - 2] == '"' &&
		    p[rest - 1] == '}') {
			idp = p + ml;
			idlen = rest - ml - 2;
			if (id_ok(idp, idlen))
				return line_finish(line + hl, BLOB_B64_LEN, idp, idlen, blob, id);
		}
	}
	return line_parse_json(line, n, blob, id);
}

size_t
blob_line_format(const uint8_t blob[BLOB_LEN], const char *id, char *out)
{
	char *p = out;
	size_t idlen = id ? strlen(id) : 0;

	memcpy(p, "{\"blob\":\"", 9);
	p += 9;
	blob_b64_encode(blob, 1, p);
	p += BLOB_B64_LEN;
	*p++ = '"';
	if (idlen > 0 && idlen <= BLOB_ID_MAX) {
		memcpy(p, ",\"id\":\"", 7);
		p += 7;
		memcpy(p, id, idlen);
		p += idlen;
		*p++ = '"';
	}
	*p++ = '}';
	*p++ = '\n';
	*p = '\0';
	return (size_t)(p - out);
}
