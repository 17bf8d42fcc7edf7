/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * kpwrap.c - key-part transport: ECDH + HKDF-SHA-384 + RFC 5649 key wrap.
 *
 * The clear part and every value derived from the shared secret live only in
 * secbufs. The binding goes into the HKDF info so that a mismatch anywhere
 * (module, domain, importer key, part index) yields another KEK and the
 * RFC 5649 integrity check refuses the blob, without telling which one.
 */
#include <stdlib.h>
#include <string.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/kpwrap.h"

#define KPWRAP_LABEL      "hsmadm kpwrap v1"
#define KPWRAP_LABEL_LEN  (sizeof(KPWRAP_LABEL) - 1)
#define KPWRAP_INFO_MAX   (KPWRAP_LABEL_LEN + 2 + KPWRAP_SERIAL_MAX + 4 + HSM_SKI_LEN + 4)
#define KPWRAP_KEK_LEN    32

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static hsm_rc
check_binding(const kpwrap_binding *b)
{
	size_t n;

	if (b == NULL || b->module_serial == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: no module serial given");
	n = strlen(b->module_serial);
	if (n == 0 || n > KPWRAP_SERIAL_MAX)
		return hsm_fail(HSM_ERR_USAGE,
		    "key-part transport: module serial must be 1 to %d characters",
		    KPWRAP_SERIAL_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b->module_serial[i];
		if (c < 0x21 || c > 0x7e)
			return hsm_fail(HSM_ERR_USAGE,
			    "key-part transport: module serial has a character that is not printable ASCII");
	}
	if (b->part_index == 0)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: part index starts at 1");
	return HSM_OK;
}

/* Canonical binding bytes; see kpwrap.h. */
static size_t
build_info(const kpwrap_binding *b, const uint8_t ski[HSM_SKI_LEN],
           uint8_t info[KPWRAP_INFO_MAX])
{
	size_t n = strlen(b->module_serial), off = 0;

	memcpy(info, KPWRAP_LABEL, KPWRAP_LABEL_LEN);
	off += KPWRAP_LABEL_LEN;
	info[off++] = (uint8_t)(n >> 8);
	info[off++] = (uint8_t)n;
	memcpy(info + off, b->module_serial, n);
	off += n;
	put_u32(info + off, b->domain);
	off += 4;
	memcpy(info + off, ski, HSM_SKI_LEN);
	off += HSM_SKI_LEN;
	put_u32(info + off, b->part_index);
	off += 4;
	return off;
}

static hsm_rc
check_p384(EVP_PKEY *k, const char *what)
{
	hsm_curve c = HSM_CURVE_NONE;
	hsm_rc rc;

	if (k == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: no %s given", what);
	if ((rc = crypto_ec_curve(k, &c)) != HSM_OK)
		return hsm_fail_wrap(rc, "key-part transport: %s", what);
	if (c != HSM_CURVE_P384)
		return hsm_fail(HSM_ERR_USAGE,
		    "key-part transport: the %s must be on P-384", what);
	return HSM_OK;
}

/* KEK = HKDF-SHA-384(salt = epk, ikm = shared, info = binding). */
static hsm_rc
derive_kek(const hsm_secbuf *shared, const uint8_t epk[KPWRAP_EPK_LEN],
           const kpwrap_binding *b, const uint8_t ski[HSM_SKI_LEN],
           hsm_secbuf **kek)
{
	uint8_t info[KPWRAP_INFO_MAX];
	size_t infolen;
	hsm_rc rc;

	infolen = build_info(b, ski, info);
	if ((rc = secbuf_new(KPWRAP_KEK_LEN, kek)) != HSM_OK)
		return rc;
	rc = crypto_hkdf(HSM_MD_SHA384, epk, KPWRAP_EPK_LEN, shared->data,
	                 shared->len, info, infolen, (*kek)->data, KPWRAP_KEK_LEN);
	if (rc != HSM_OK) {
		secbuf_free(kek);
		return hsm_fail_wrap(rc, "key-part transport: key derivation");
	}
	(*kek)->len = KPWRAP_KEK_LEN;
	return HSM_OK;
}

hsm_rc
kpwrap_wrap(const hsm_secbuf *part, EVP_PKEY *importer_pub,
            const kpwrap_binding *b, kpwrap_blob *out)
{
	EVP_PKEY *eph = NULL;
	hsm_secbuf *shared = NULL, *kek = NULL;
	uint8_t *pt = NULL, ski[HSM_SKI_LEN];
	size_t ptlen = 0, wlen = sizeof(out->wrapped);
	kpwrap_blob blob;
	hsm_rc rc;

	if (out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: no output given");
	if (part == NULL || part->len != KPWRAP_PART_LEN)
		return hsm_fail(HSM_ERR_USAGE,
		    "key-part transport: a key part must be %d bytes", KPWRAP_PART_LEN);
	if ((rc = check_binding(b)) != HSM_OK ||
	    (rc = check_p384(importer_pub, "importer key")) != HSM_OK)
		return rc;

	if ((rc = crypto_ski(importer_pub, ski)) != HSM_OK)
		goto out;
	if ((rc = crypto_ec_generate(HSM_CURVE_P384, &eph)) != HSM_OK)
		goto out;
	if ((rc = crypto_ec_point(eph, &pt, &ptlen)) != HSM_OK)
		goto out;
	if (ptlen != KPWRAP_EPK_LEN) {
		rc = hsm_fail(HSM_ERR_INTERNAL, "key-part transport: unexpected point length %zu", ptlen);
		goto out;
	}
	memcpy(blob.epk, pt, KPWRAP_EPK_LEN);
	if ((rc = crypto_ecdh(eph, importer_pub, &shared)) != HSM_OK)
		goto out;
	if ((rc = derive_kek(shared, blob.epk, b, ski, &kek)) != HSM_OK)
		goto out;
	rc = crypto_kwp_wrap(kek->data, kek->len, part->data, part->len,
	                     blob.wrapped, &wlen);
	if (rc != HSM_OK)
		goto out;
	if (wlen != KPWRAP_WRAPPED_LEN) {
		rc = hsm_fail(HSM_ERR_INTERNAL, "key-part transport: unexpected wrap length %zu", wlen);
		goto out;
	}
	*out = blob;
out:
	secbuf_free(&kek);
	secbuf_free(&shared);
	EVP_PKEY_free(eph);
	free(pt);
	return rc;
}

/* The common half of both unwraps, once the shared secret is known. */
static hsm_rc
unwrap_shared(const kpwrap_blob *blob, const hsm_secbuf *shared,
              const kpwrap_binding *b, const uint8_t ski[HSM_SKI_LEN],
              hsm_secbuf **part)
{
	hsm_secbuf *kek = NULL, *p = NULL;
	size_t plen = 0;
	hsm_rc rc;

	if ((rc = derive_kek(shared, blob->epk, b, ski, &kek)) != HSM_OK)
		goto out;
	if ((rc = secbuf_new(KPWRAP_WRAPPED_LEN, &p)) != HSM_OK)
		goto out;
	rc = crypto_kwp_unwrap(kek->data, kek->len, blob->wrapped,
	                       KPWRAP_WRAPPED_LEN, p->data, &plen);
	if (rc != HSM_OK || plen != KPWRAP_PART_LEN) {
		/* One answer for every mismatch: which one it was is not
		 * the sender's business. */
		rc = hsm_fail(HSM_ERR_VERIFY,
		    "the wrapped key part does not open for module %s domain %u part %u "
		    "with this importer key: it was made for another domain, module, "
		    "importer key or part index, or it was altered",
		    b->module_serial, (unsigned)b->domain, (unsigned)b->part_index);
		goto out;
	}
	p->len = KPWRAP_PART_LEN;
	*part = p;
	p = NULL;
out:
	secbuf_free(&p);
	secbuf_free(&kek);
	return rc;
}

static hsm_rc
unwrap_prepare(const kpwrap_blob *blob, const kpwrap_binding *b,
               hsm_secbuf **part, EVP_PKEY **epk)
{
	hsm_rc rc;

	if (part == NULL || blob == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: missing argument");
	*part = NULL;
	if ((rc = check_binding(b)) != HSM_OK)
		return rc;
	if (blob->epk[0] != 0x04)
		return hsm_fail(HSM_ERR_FORMAT,
		    "the wrapped key part has no valid ephemeral P-384 point");
	rc = crypto_ec_from_point(HSM_CURVE_P384, blob->epk, KPWRAP_EPK_LEN, epk);
	if (rc != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT,
		    "the wrapped key part has no valid ephemeral P-384 point");
	return HSM_OK;
}

hsm_rc
kpwrap_unwrap(const kpwrap_blob *blob, hsm_keyagree *importer,
              const kpwrap_binding *b, hsm_secbuf **part)
{
	EVP_PKEY *epk = NULL;
	hsm_secbuf *shared = NULL;
	uint8_t ski[HSM_SKI_LEN];
	hsm_rc rc;

	if (importer == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: no importer key given");
	if ((rc = unwrap_prepare(blob, b, part, &epk)) != HSM_OK)
		return rc;
	if ((rc = check_p384(keyagree_pub(importer), "importer key")) != HSM_OK)
		goto out;
	if ((rc = crypto_ski(keyagree_pub(importer), ski)) != HSM_OK)
		goto out;
	if ((rc = keyagree_ecdh(importer, epk, &shared)) != HSM_OK)
		goto out;
	rc = unwrap_shared(blob, shared, b, ski, part);
out:
	secbuf_free(&shared);
	EVP_PKEY_free(epk);
	return rc;
}

hsm_rc
kpwrap_unwrap_pkey(const kpwrap_blob *blob, EVP_PKEY *importer_priv,
                   const kpwrap_binding *b, hsm_secbuf **part)
{
	EVP_PKEY *epk = NULL;
	hsm_secbuf *shared = NULL;
	uint8_t ski[HSM_SKI_LEN];
	hsm_rc rc;

	if ((rc = check_p384(importer_priv, "importer key")) != HSM_OK)
		return rc;
	if ((rc = unwrap_prepare(blob, b, part, &epk)) != HSM_OK)
		return rc;
	if ((rc = crypto_ski(importer_priv, ski)) != HSM_OK)
		goto out;
	if ((rc = crypto_ecdh(importer_priv, epk, &shared)) != HSM_OK)
		goto out;
	rc = unwrap_shared(blob, shared, b, ski, part);
out:
	secbuf_free(&shared);
	EVP_PKEY_free(epk);
	return rc;
}

hsm_rc
kpwrap_blob_to_json(const kpwrap_blob *blob, json_t **out)
{
	char epk[2 * KPWRAP_EPK_LEN + 1], w[2 * KPWRAP_WRAPPED_LEN + 1];
	json_t *o;

	if (blob == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: missing argument");
	hex_encode_buf(blob->epk, KPWRAP_EPK_LEN, epk);
	hex_encode_buf(blob->wrapped, KPWRAP_WRAPPED_LEN, w);
	o = json_pack("{s:i, s:s, s:s}", "v", 1, "epk", epk, "wrapped", w);
	if (o == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "key-part transport: out of memory");
	*out = o;
	return HSM_OK;
}

hsm_rc
kpwrap_blob_from_json(const json_t *obj, kpwrap_blob *out)
{
	const char *k;
	json_t *v;
	long long ver = 0;
	kpwrap_blob blob;
	hsm_rc rc;

	if (obj == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: missing argument");
	if (!json_is_object(obj))
		return hsm_fail(HSM_ERR_FORMAT, "wrapped key part: not a JSON object");
	json_object_foreach((json_t *)obj, k, v) {
		if (strcmp(k, "v") != 0 && strcmp(k, "epk") != 0 &&
		    strcmp(k, "wrapped") != 0)
			return hsm_fail(HSM_ERR_FORMAT,
			    "wrapped key part: unknown field \"%.40s\"", k);
	}
	if ((rc = cjson_get_int(obj, "v", &ver)) != HSM_OK)
		return hsm_fail_wrap(rc, "wrapped key part");
	if (ver != 1)
		return hsm_fail(HSM_ERR_FORMAT,
		    "wrapped key part: version %lld is not supported (this program knows 1)", ver);
	if ((rc = cjson_get_hex(obj, "epk", blob.epk, KPWRAP_EPK_LEN)) != HSM_OK)
		return hsm_fail_wrap(rc, "wrapped key part");
	if ((rc = cjson_get_hex(obj, "wrapped", blob.wrapped, KPWRAP_WRAPPED_LEN)) != HSM_OK)
		return hsm_fail_wrap(rc, "wrapped key part");
	if (blob.epk[0] != 0x04)
		return hsm_fail(HSM_ERR_FORMAT,
		    "wrapped key part: the ephemeral key is not an uncompressed point");
	*out = blob;
	return HSM_OK;
}

hsm_rc
kpwrap_group_new(json_t **out)
{
	json_t *o;

	if (out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: missing argument");
	o = json_pack("{s:i, s:[]}", "v", 1, "targets");
	if (o == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "key-part transport: out of memory");
	*out = o;
	return HSM_OK;
}

hsm_rc
kpwrap_group_add(json_t *group, const char *module, uint32_t domain,
                 const kpwrap_blob *blob)
{
	json_t *arr, *one = NULL;
	kpwrap_binding b = { module, domain, 1 };
	hsm_rc rc;

	if (group == NULL || blob == NULL ||
	    (arr = json_object_get(group, "targets")) == NULL || !json_is_array(arr))
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: not a group form");
	if ((rc = check_binding(&b)) != HSM_OK)
		return rc;
	if ((rc = kpwrap_blob_to_json(blob, &one)) != HSM_OK)
		return rc;
	json_object_del(one, "v");
	if (json_object_set_new(one, "module", json_string(module)) != 0 ||
	    json_object_set_new(one, "domain", json_integer(domain)) != 0 ||
	    json_array_append_new(arr, one) != 0) {
		json_decref(one);
		return hsm_fail(HSM_ERR_NOMEM, "key-part transport: out of memory");
	}
	return HSM_OK;
}

/* One entry of the group form: exactly module, domain, epk, wrapped. */
static hsm_rc
group_entry(const json_t *e, size_t i, const char **module, long long *domain)
{
	const char *k;
	json_t *v;
	hsm_rc rc;

	if (!json_is_object(e))
		return hsm_fail(HSM_ERR_FORMAT, "wrapped key part: target %zu is not an object", i);
	json_object_foreach((json_t *)e, k, v) {
		if (strcmp(k, "module") != 0 && strcmp(k, "domain") != 0 &&
		    strcmp(k, "epk") != 0 && strcmp(k, "wrapped") != 0)
			return hsm_fail(HSM_ERR_FORMAT,
			    "wrapped key part: target %zu has an unknown field \"%.40s\"", i, k);
	}
	if ((rc = cjson_get_str(e, "module", module)) != HSM_OK ||
	    (rc = cjson_get_int(e, "domain", domain)) != HSM_OK)
		return hsm_fail_wrap(rc, "wrapped key part: target %zu", i);
	if (*domain < 0 || *domain > 0xffffffffLL)
		return hsm_fail(HSM_ERR_FORMAT, "wrapped key part: target %zu has a bad domain", i);
	if (!json_is_string(json_object_get(e, "epk")) ||
	    !json_is_string(json_object_get(e, "wrapped")))
		return hsm_fail(HSM_ERR_FORMAT,
		    "wrapped key part: target %zu needs the text fields epk and wrapped", i);
	return HSM_OK;
}

hsm_rc
kpwrap_blob_for_target(const json_t *wrapped, const char *module,
                       uint32_t domain, kpwrap_blob *out)
{
	json_t *arr, *e, *single = NULL;
	const char *m;
	long long d, ver = 0;
	size_t i, found = (size_t)-1;
	hsm_rc rc;

	if (wrapped == NULL || module == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part transport: missing argument");
	if (!json_is_object(wrapped))
		return hsm_fail(HSM_ERR_FORMAT, "wrapped key part: not a JSON object");
	arr = json_object_get(wrapped, "targets");
	if (arr == NULL)
		return kpwrap_blob_from_json(wrapped, out);
	if (json_object_size(wrapped) != 2)
		return hsm_fail(HSM_ERR_FORMAT,
		    "wrapped key part: the group form has exactly the fields v and targets");
	if ((rc = cjson_get_int(wrapped, "v", &ver)) != HSM_OK)
		return hsm_fail_wrap(rc, "wrapped key part");
	if (ver != 1)
		return hsm_fail(HSM_ERR_FORMAT,
		    "wrapped key part: version %lld is not supported (this program knows 1)", ver);
	if (!json_is_array(arr))
		return hsm_fail(HSM_ERR_FORMAT, "wrapped key part: targets is not a list");
	json_array_foreach(arr, i, e) {
		if ((rc = group_entry(e, i, &m, &d)) != HSM_OK)
			return rc;
		for (size_t j = 0; j < i; j++) {
			const char *m2;
			long long d2;

			if ((rc = group_entry(json_array_get(arr, j), j, &m2, &d2)) != HSM_OK)
				return rc;
			if (d2 == d && strcmp(m2, m) == 0)
				return hsm_fail(HSM_ERR_FORMAT,
				    "wrapped key part: two entries for %.64s domain %lld", m, d);
		}
		if (d == (long long)domain && strcmp(m, module) == 0)
			found = i;
	}
	if (found == (size_t)-1)
		return hsm_fail(HSM_ERR_NOT_FOUND,
		    "the command carries no wrapped key part for %.64s domain %u",
		    module, (unsigned)domain);
	single = json_pack("{s:i, s:O, s:O}", "v", 1,
	    "epk", json_object_get(json_array_get(arr, found), "epk"),
	    "wrapped", json_object_get(json_array_get(arr, found), "wrapped"));
	if (single == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "key-part transport: out of memory");
	rc = kpwrap_blob_from_json(single, out);
	json_decref(single);
	return rc;
}
