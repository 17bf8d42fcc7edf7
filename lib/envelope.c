/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * envelope.c - ECIES key-part envelopes for custodian cards.
 *
 * Envelopes are read back from cards, so the parser treats them as untrusted:
 * the checked reader (bytes.h) reads every field, ids are checked for length and charset, the point is
 * checked on the curve, and nothing is decrypted before the ids match.
 */
#include <stdlib.h>
#include <string.h>

#include "hsmadm/bytes.h"
#include "hsmadm/crypto.h"
#include "hsmadm/envelope.h"

#define ENV_MAGIC      "HKPE"
#define ENV_VERSION    1
#define ENV_LABEL      "hsmadm envelope v1"
#define ENV_LABEL_LEN  (sizeof(ENV_LABEL) - 1)
#define ENV_EPK_LEN    97
#define ENV_IV_LEN     12
#define ENV_TAG_LEN    16
#define ENV_HDR_MAX    (4 + 1 + 2 + 2 * ENVELOPE_ID_MAX + HSM_VP_LEN)

/* The parsed form; pointers borrow the input buffer. */
struct env_parsed {
	envelope_info   info;
	const uint8_t  *hdr;       /* header bytes = GCM additional data */
	size_t          hdrlen;
	const uint8_t  *epk, *iv, *ct, *tag;
};

/* One field: the reader's message names the data, this one the field, so
 * a custodian learns which part of a damaged envelope is missing. */
static hsm_rc
get_field(hsm_bytes *c, size_t n, const uint8_t **out, const char *what)
{
	*out = NULL;
	if (bytes_get_bytes(c, n, out) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT,
		    "key-part envelope is cut short (while reading the %s)", what);
	return HSM_OK;
}

int
envelope_id_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > ENVELOPE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static hsm_rc
get_id(hsm_bytes *c, char out[ENVELOPE_ID_MAX + 1], const char *what)
{
	const uint8_t *p = NULL;
	hsm_rc rc;
	uint8_t n;

	if ((rc = get_field(c, 1, &p, what)) != HSM_OK)
		return rc;
	n = p[0];
	if (n == 0 || n > ENVELOPE_ID_MAX)
		return hsm_fail(HSM_ERR_FORMAT,
		    "key-part envelope: the %s length %u is not 1 to %d", what,
		    (unsigned)n, ENVELOPE_ID_MAX);
	if ((rc = get_field(c, n, &p, what)) != HSM_OK)
		return rc;
	memcpy(out, p, n);
	out[n] = '\0';
	if (!envelope_id_valid(out))
		return hsm_fail(HSM_ERR_FORMAT,
		    "key-part envelope: the %s has a character that is not printable ASCII", what);
	return HSM_OK;
}

static hsm_rc
parse(const uint8_t *buf, size_t len, struct env_parsed *e)
{
	hsm_bytes c;
	const uint8_t *p = NULL;
	hsm_rc rc;

	if (buf == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part envelope: no data given");
	bytes_init(&c, buf, len, "key-part envelope");
	if (len > ENVELOPE_MAX_LEN)
		return hsm_fail(HSM_ERR_FORMAT,
		    "key-part envelope is too long (%zu bytes, at most %d)", len, ENVELOPE_MAX_LEN);
	memset(e, 0, sizeof(*e));
	if ((rc = get_field(&c, 4, &p, "magic")) != HSM_OK)
		return rc;
	if (memcmp(p, ENV_MAGIC, 4) != 0)
		return hsm_fail(HSM_ERR_FORMAT, "this is not an hsmadm key-part envelope");
	if ((rc = get_field(&c, 1, &p, "version")) != HSM_OK)
		return rc;
	if (p[0] != ENV_VERSION)
		return hsm_fail(HSM_ERR_FORMAT,
		    "key-part envelope version %u is not supported (this program knows %d)",
		    (unsigned)p[0], ENV_VERSION);
	if ((rc = get_id(&c, e->info.card_id, "card id")) != HSM_OK ||
	    (rc = get_id(&c, e->info.part_id, "part id")) != HSM_OK)
		return rc;
	if ((rc = get_field(&c, HSM_VP_LEN, &p, "KPVP")) != HSM_OK)
		return rc;
	memcpy(e->info.kpvp, p, HSM_VP_LEN);
	e->hdr = buf;
	e->hdrlen = c.off;
	if ((rc = get_field(&c, ENV_EPK_LEN, &e->epk, "ephemeral key")) != HSM_OK ||
	    (rc = get_field(&c, ENV_IV_LEN, &e->iv, "IV")) != HSM_OK ||
	    (rc = get_field(&c, HSM_KEY_LEN, &e->ct, "ciphertext")) != HSM_OK ||
	    (rc = get_field(&c, ENV_TAG_LEN, &e->tag, "tag")) != HSM_OK)
		return rc;
	if (!bytes_at_end(&c))
		return hsm_fail(HSM_ERR_FORMAT,
		    "key-part envelope has %zu unexpected bytes at its end", bytes_left(&c));
	if (e->epk[0] != 0x04)
		return hsm_fail(HSM_ERR_FORMAT,
		    "key-part envelope: the ephemeral key is not an uncompressed point");
	return HSM_OK;
}

hsm_rc
envelope_parse(const uint8_t *buf, size_t len, envelope_info *info)
{
	struct env_parsed e;
	hsm_rc rc;

	if (info == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part envelope: no output given");
	if ((rc = parse(buf, len, &e)) != HSM_OK)
		return rc;
	*info = e.info;
	return HSM_OK;
}

/* key = HKDF-SHA-384(salt = epk, ikm = shared, info = label || header). */
static hsm_rc
derive_key(const hsm_secbuf *shared, const uint8_t *epk, const uint8_t *hdr,
           size_t hdrlen, hsm_secbuf **key)
{
	uint8_t info[ENV_LABEL_LEN + ENV_HDR_MAX];
	hsm_rc rc;

	if (hdrlen > ENV_HDR_MAX)
		return hsm_fail(HSM_ERR_INTERNAL, "key-part envelope: header too long");
	memcpy(info, ENV_LABEL, ENV_LABEL_LEN);
	memcpy(info + ENV_LABEL_LEN, hdr, hdrlen);
	if ((rc = secbuf_new(32, key)) != HSM_OK)
		return rc;
	rc = crypto_hkdf(HSM_MD_SHA384, epk, ENV_EPK_LEN, shared->data, shared->len,
	                 info, ENV_LABEL_LEN + hdrlen, (*key)->data, 32);
	if (rc != HSM_OK) {
		secbuf_free(key);
		return hsm_fail_wrap(rc, "key-part envelope: key derivation");
	}
	(*key)->len = 32;
	return HSM_OK;
}

static hsm_rc
check_p384(EVP_PKEY *k)
{
	hsm_curve c = HSM_CURVE_NONE;
	hsm_rc rc;

	if (k == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part envelope: no card key given");
	if ((rc = crypto_ec_curve(k, &c)) != HSM_OK)
		return hsm_fail_wrap(rc, "key-part envelope: card key");
	if (c != HSM_CURVE_P384)
		return hsm_fail(HSM_ERR_USAGE,
		    "key-part envelope: the card's key-management key (slot 9D) must be P-384");
	return HSM_OK;
}

hsm_rc
envelope_seal(const hsm_secbuf *part, EVP_PKEY *card_9d_pub,
              const char *card_id, const char *part_id,
              const uint8_t kpvp[HSM_VP_LEN], uint8_t **out, size_t *outlen)
{
	uint8_t vp[HSM_VP_LEN], *buf = NULL, *pt = NULL;
	size_t cn, pn, off = 0, total, ptlen = 0;
	EVP_PKEY *eph = NULL;
	hsm_secbuf *shared = NULL, *key = NULL;
	hsm_rc rc;

	if (out == NULL || outlen == NULL || kpvp == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part envelope: missing argument");
	*out = NULL;
	*outlen = 0;
	if (part == NULL || part->len != HSM_KEY_LEN)
		return hsm_fail(HSM_ERR_USAGE, "key-part envelope: a key part must be %d bytes",
		                HSM_KEY_LEN);
	if (!envelope_id_valid(card_id))
		return hsm_fail(HSM_ERR_USAGE,
		    "key-part envelope: the card id must be 1 to %d printable characters",
		    ENVELOPE_ID_MAX);
	if (!envelope_id_valid(part_id))
		return hsm_fail(HSM_ERR_USAGE,
		    "key-part envelope: the part id must be 1 to %d printable characters",
		    ENVELOPE_ID_MAX);
	if ((rc = check_p384(card_9d_pub)) != HSM_OK)
		return rc;
	if ((rc = vp_compute(part->data, vp)) != HSM_OK)
		return rc;
	if (!vp_equal(vp, kpvp))
		return hsm_fail(HSM_ERR_VERIFY,
		    "key-part envelope: the key part does not match the pattern given for part %s; "
		    "nothing was sealed", part_id);

	cn = strlen(card_id);
	pn = strlen(part_id);
	total = 4 + 1 + 1 + cn + 1 + pn + HSM_VP_LEN + ENV_EPK_LEN + ENV_IV_LEN +
	        HSM_KEY_LEN + ENV_TAG_LEN;
	if ((buf = malloc(total)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "key-part envelope: out of memory");
	memcpy(buf, ENV_MAGIC, 4);
	off = 4;
	buf[off++] = ENV_VERSION;
	buf[off++] = (uint8_t)cn;
	memcpy(buf + off, card_id, cn);
	off += cn;
	buf[off++] = (uint8_t)pn;
	memcpy(buf + off, part_id, pn);
	off += pn;
	memcpy(buf + off, kpvp, HSM_VP_LEN);
	off += HSM_VP_LEN;
	/* off is now the header length. */

	if ((rc = crypto_ec_generate(HSM_CURVE_P384, &eph)) != HSM_OK ||
	    (rc = crypto_ec_point(eph, &pt, &ptlen)) != HSM_OK)
		goto out;
	if (ptlen != ENV_EPK_LEN) {
		rc = hsm_fail(HSM_ERR_INTERNAL, "key-part envelope: unexpected point length %zu", ptlen);
		goto out;
	}
	memcpy(buf + off, pt, ENV_EPK_LEN);
	if ((rc = crypto_ecdh(eph, card_9d_pub, &shared)) != HSM_OK ||
	    (rc = derive_key(shared, buf + off, buf, off, &key)) != HSM_OK)
		goto out;
	if ((rc = crypto_random(buf + off + ENV_EPK_LEN, ENV_IV_LEN)) != HSM_OK)
		goto out;
	rc = crypto_gcm_seal(key->data, buf + off + ENV_EPK_LEN, buf, off,
	                     part->data, HSM_KEY_LEN,
	                     buf + off + ENV_EPK_LEN + ENV_IV_LEN,
	                     buf + off + ENV_EPK_LEN + ENV_IV_LEN + HSM_KEY_LEN);
	if (rc != HSM_OK)
		goto out;
	*out = buf;
	*outlen = total;
	buf = NULL;
out:
	secbuf_free(&key);
	secbuf_free(&shared);
	EVP_PKEY_free(eph);
	free(pt);
	free(buf);
	return rc;
}

hsm_rc
envelope_open(const uint8_t *buf, size_t len, hsm_keyagree *card_9d,
              const char *expect_card_id, const char *expect_part_id,
              hsm_secbuf **part, uint8_t kpvp[HSM_VP_LEN])
{
	struct env_parsed e;
	EVP_PKEY *epk = NULL;
	hsm_secbuf *shared = NULL, *key = NULL, *p = NULL;
	uint8_t vp[HSM_VP_LEN];
	hsm_rc rc;

	if (part == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part envelope: missing argument");
	*part = NULL;
	if (card_9d == NULL || expect_card_id == NULL || expect_part_id == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key-part envelope: missing argument");
	if ((rc = parse(buf, len, &e)) != HSM_OK)
		return rc;
	/* Ids first: a wrong card or part must not cost a PIN entry. */
	if (strcmp(e.info.card_id, expect_card_id) != 0)
		return hsm_fail(HSM_ERR_VERIFY,
		    "this key-part envelope was sealed for card %s, not for card %s; "
		    "insert the card it belongs to", e.info.card_id, expect_card_id);
	if (strcmp(e.info.part_id, expect_part_id) != 0)
		return hsm_fail(HSM_ERR_VERIFY,
		    "this key-part envelope holds part %s, not part %s",
		    e.info.part_id, expect_part_id);
	if ((rc = check_p384(keyagree_pub(card_9d))) != HSM_OK)
		return rc;
	if (crypto_ec_from_point(HSM_CURVE_P384, e.epk, ENV_EPK_LEN, &epk) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT,
		    "key-part envelope: the ephemeral key is not a point on P-384");
	if ((rc = keyagree_ecdh(card_9d, epk, &shared)) != HSM_OK)
		goto out;
	if ((rc = derive_key(shared, e.epk, e.hdr, e.hdrlen, &key)) != HSM_OK)
		goto out;
	if ((rc = secbuf_new(HSM_KEY_LEN, &p)) != HSM_OK)
		goto out;
	rc = crypto_gcm_open(key->data, e.iv, e.hdr, e.hdrlen, e.ct, HSM_KEY_LEN,
	                     e.tag, p->data);
	if (rc != HSM_OK) {
		rc = hsm_fail(HSM_ERR_VERIFY,
		    "the envelope of part %s does not open with this card's key "
		    "(slot 9D): it was sealed for another key or it was altered",
		    e.info.part_id);
		goto out;
	}
	p->len = HSM_KEY_LEN;
	if ((rc = vp_compute(p->data, vp)) != HSM_OK)
		goto out;
	if (!vp_equal(vp, e.info.kpvp)) {
		rc = hsm_fail(HSM_ERR_VERIFY,
		    "part %s opened, but its pattern does not match the KPVP recorded "
		    "in its envelope; do not use it and tell the supervisor", e.info.part_id);
		goto out;
	}
	if (kpvp != NULL)
		memcpy(kpvp, vp, HSM_VP_LEN);
	*part = p;
	p = NULL;
out:
	secbuf_free(&p);
	secbuf_free(&key);
	secbuf_free(&shared);
	EVP_PKEY_free(epk);
	return rc;
}
