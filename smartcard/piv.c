/* SPDX-License-Identifier: BSD-2-Clause */
/* piv.c - PIV driver: APDUs, responses, status words (see piv.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsmadm/piv.h"
#include "hsmadm/bytes.h"

struct piv {
	pcsc_ctx  *ctx;
	pcsc_card *card;
	uint8_t    ver[3];
	int        have_ver;   /* 1 known, -1 the card has no GET VERSION */
};

static const uint8_t PIV_RID[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };
static const uint8_t DEFAULT_MGMT[24] = {
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8
};

hsm_rc
piv_sw_rc(uint16_t sw, const char *what, int ref)
{
	const char *who = ref == PIV_REF_PUK ? "PUK" : "PIN";

	if (sw == 0x9000)
		return HSM_OK;
	if ((sw & 0xFFF0) == 0x63C0 && (ref == PIV_REF_PIN || ref == PIV_REF_PUK)) {
		int left = sw & 0x0F;

		if (left == 0)
			goto blocked;
		return hsm_fail(HSM_ERR_PIN_WRONG, "wrong %s: %d %s left", who, left,
		    left == 1 ? "try" : "tries");
	}
	switch (sw) {
	case 0x6983:
		if (ref == PIV_REF_PIN || ref == PIV_REF_PUK)
			goto blocked;
		return hsm_fail(HSM_ERR_PIN_BLOCKED, "%s: the card has blocked this key (6983)", what);
	case 0x6982:
		return hsm_fail(HSM_ERR_AUTH, "%s: the card refused: security status not satisfied "
		    "(PIN not verified or management key not accepted) (6982)", what);
	case 0x6A82:
		return hsm_fail(HSM_ERR_NOT_FOUND, "%s: not found on the card (6A82)", what);
	case 0x6A88:
		return hsm_fail(HSM_ERR_NOT_FOUND,
		    "%s: the card has no such key or data; is the slot empty? (6A88)", what);
	case 0x6A80:
		return hsm_fail(HSM_ERR_CARD, "%s: the card rejected the data (6A80)", what);
	case 0x6A84:
		return hsm_fail(HSM_ERR_CARD, "%s: the card's memory is full (6A84)", what);
	case 0x6985:
		return hsm_fail(HSM_ERR_STATE, "%s: the card says the conditions of use are not "
		    "satisfied (6985)", what);
	case 0x6984:
		return hsm_fail(HSM_ERR_CARD, "%s: the card's reference data is not usable (6984)", what);
	case 0x6700:
		return hsm_fail(HSM_ERR_CARD, "%s: the card says the length is wrong (6700)", what);
	case 0x6A86:
	case 0x6B00:
		return hsm_fail(HSM_ERR_CARD, "%s: the card rejected the parameters (wrong slot "
		    "or algorithm?) (%04X)", what, sw);
	case 0x6A81:
	case 0x6D00:
	case 0x6E00:
		return hsm_fail(HSM_ERR_CARD, "%s: this card does not support the operation (%04X)",
		    what, sw);
	case 0x6883:
	case 0x6884:
		return hsm_fail(HSM_ERR_CARD, "%s: the card does not accept command chaining (%04X)",
		    what, sw);
	default:
		return hsm_fail(HSM_ERR_CARD, "%s: the card answered with status %04X", what, sw);
	}
blocked:
	if (ref == PIV_REF_PUK)
		return hsm_fail(HSM_ERR_PIN_BLOCKED, "%s: the PUK is blocked; this card cannot be "
		    "unblocked any more: reset it (keys are lost) or use a new card", what);
	return hsm_fail(HSM_ERR_PIN_BLOCKED, "%s: the PIN is blocked; unblock it with the PUK "
	    "('hsmadm-card pin unblock')", what);
}

/* Send and map: any SW but 9000 is an error. */
static hsm_rc
xfer(piv *p, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data, size_t n,
     uint8_t *out, size_t cap, size_t *outlen, const char *what, int ref)
{
	uint16_t sw;
	hsm_rc rc;

	rc = pcsc_apdu(p->card, 0x00, ins, p1, p2, data, n, out, cap, outlen, &sw);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "%s", what);
	return piv_sw_rc(sw, what, ref);
}

hsm_rc
piv_select(piv *p)
{
	uint8_t resp[256];
	size_t rlen = 0;
	uint16_t sw;
	hsm_bytes c;
	tlv_item it;
	hsm_rc rc;

	rc = pcsc_apdu(p->card, 0x00, 0xA4, 0x04, 0x00, PIV_RID, sizeof(PIV_RID),
	    resp, sizeof(resp), &rlen, &sw);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "selecting the PIV application");
	if (sw == 0x6A82 || sw == 0x6D00)
		return hsm_fail(HSM_ERR_NOT_FOUND, "the card in \"%s\" is not a PIV card "
		    "(no PIV application); use a PIV card such as a YubiKey 5",
		    pcsc_card_reader(p->card));
	if ((rc = piv_sw_rc(sw, "selecting the PIV application", 0)) != HSM_OK)
		return rc;
	/* Some cards answer with no data; if there is an answer it must be an
	 * application property template. */
	if (rlen > 0) {
		bytes_init(&c, resp, rlen, "card data");
		if ((rc = tlv_expect(&c, 0x61, &it)) != HSM_OK)
			return hsm_fail_wrap(rc, "the card's PIV application answered oddly");
	}
	return HSM_OK;
}

hsm_rc
piv_connect(pcsc_ctx *ctx, const char *reader, piv **out)
{
	piv *p;
	hsm_rc rc;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	p->ctx = ctx;
	if ((rc = pcsc_connect(ctx, reader, &p->card)) != HSM_OK)
		goto fail;
	if ((rc = piv_select(p)) != HSM_OK)
		goto fail;
	*out = p;
	return HSM_OK;
fail:
	piv_free(&p);
	return rc;
}

void
piv_free(piv **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	pcsc_disconnect(&(*pp)->card);
	free(*pp);
	*pp = NULL;
}

pcsc_card *
piv_pcsc(piv *p)
{
	return p->card;
}

const char *
piv_reader(const piv *p)
{
	return pcsc_card_reader(p->card);
}

hsm_rc
piv_begin(piv *p)
{
	int reset = 0;
	hsm_rc rc;

	if ((rc = pcsc_begin(p->card, &reset)) != HSM_OK)
		return rc;
	if (reset && (rc = piv_select(p)) != HSM_OK)
		pcsc_end(p->card);
	return rc;
}

void
piv_end(piv *p)
{
	pcsc_end(p->card);
}

hsm_rc
piv_pin_check(const hsm_secbuf *pin, int ref)
{
	const char *who = ref == PIV_REF_PUK ? "PUK" : "PIN";
	size_t i;

	if (pin == NULL || pin->len < PIV_PIN_MIN || pin->len > PIV_PIN_MAX)
		return hsm_fail(HSM_ERR_USAGE, "a %s has %d to %d characters", who,
		    PIV_PIN_MIN, PIV_PIN_MAX);
	for (i = 0; i < pin->len; i++)
		if (pin->data[i] < 0x20 || pin->data[i] > 0x7E)
			return hsm_fail(HSM_ERR_USAGE,
			    "a %s may only hold printable ASCII characters", who);
	return HSM_OK;
}

/* PIN right-padded with FF to 8 bytes, appended to sb. */
static void
pad8(hsm_secbuf *sb, const hsm_secbuf *pin)
{
	memcpy(sb->data + sb->len, pin->data, pin->len);
	memset(sb->data + sb->len + pin->len, 0xFF, 8 - pin->len);
	sb->len += 8;
}

hsm_rc
piv_verify_pin(piv *p, const hsm_secbuf *pin)
{
	hsm_secbuf *sb = NULL;
	hsm_rc rc;

	if ((rc = piv_pin_check(pin, PIV_REF_PIN)) != HSM_OK)
		return rc;
	if ((rc = secbuf_new(8, &sb)) != HSM_OK)
		return rc;
	pad8(sb, pin);
	/* Leave no verified PIN behind for other programs. */
	pcsc_reset_on_close(p->card);
	rc = xfer(p, 0x20, 0x00, PIV_REF_PIN, sb->data, 8, NULL, 0, NULL,
	    "verifying the PIN", PIV_REF_PIN);
	secbuf_free(&sb);
	return rc;
}

/* YubiKey GET METADATA: retries of PIN/PUK (tag 06: total, remaining). */
static hsm_rc
metadata_tries(piv *p, int ref, int *tries)
{
	uint8_t resp[256];
	size_t rlen = 0;
	uint16_t sw;
	hsm_bytes c;
	tlv_item it;
	hsm_rc rc;

	rc = pcsc_apdu(p->card, 0x00, 0xF7, 0x00, (uint8_t)ref, NULL, 0, resp, sizeof(resp),
	    &rlen, &sw);
	if (rc != HSM_OK)
		return rc;
	if (sw != 0x9000)
		return HSM_ERR_NOT_FOUND;
	bytes_init(&c, resp, rlen, "card data");
	if ((rc = tlv_find(&c, 0x06, &it)) != HSM_OK) {
		if (rc == HSM_ERR_NOT_FOUND)
			return hsm_fail(HSM_ERR_FORMAT, "card metadata has no retry counter");
		return rc;
	}
	if (it.len != 2)
		return hsm_fail(HSM_ERR_FORMAT, "card metadata retry counter has %zu bytes", it.len);
	*tries = it.val[1];
	return HSM_OK;
}

hsm_rc
piv_tries(piv *p, int ref, int *tries, int *verified)
{
	uint16_t sw;
	int have_meta = 0;
	hsm_rc rc;

	*tries = -1;
	if (verified != NULL)
		*verified = 0;
	if ((rc = piv_begin(p)) != HSM_OK)
		return rc;
	if (p->have_ver == 0)
		(void)piv_get_version(p, p->ver);
	if (p->have_ver == 1 && (p->ver[0] > 5 || (p->ver[0] == 5 && p->ver[1] >= 3))) {
		rc = metadata_tries(p, ref, tries);
		if (rc == HSM_OK)
			have_meta = 1;
		else if (rc != HSM_ERR_NOT_FOUND)
			goto out;
		rc = HSM_OK;
	}
	if (ref == PIV_REF_PUK)
		goto out;   /* no standard query for the PUK */
	rc = pcsc_apdu(p->card, 0x00, 0x20, 0x00, PIV_REF_PIN, NULL, 0, NULL, 0, NULL, &sw);
	if (rc != HSM_OK) {
		rc = hsm_fail_wrap(rc, "reading the PIN state");
		goto out;
	}
	if (sw == 0x9000) {
		if (verified != NULL)
			*verified = 1;
		/* Verified now, so the card hides the count: drop the verification
		 * (SP 800-73-4 VERIFY with P1 FF) and ask again. */
		if (!have_meta &&
		    pcsc_apdu(p->card, 0x00, 0x20, 0xFF, PIV_REF_PIN, NULL, 0, NULL, 0, NULL, &sw)
		    == HSM_OK && sw == 0x9000 &&
		    pcsc_apdu(p->card, 0x00, 0x20, 0x00, PIV_REF_PIN, NULL, 0, NULL, 0, NULL, &sw)
		    == HSM_OK && (sw & 0xFFF0) == 0x63C0)
			*tries = sw & 0x0F;
	} else if ((sw & 0xFFF0) == 0x63C0) {
		*tries = sw & 0x0F;
	} else if (sw == 0x6983) {
		*tries = 0;
	} else if (!have_meta) {
		rc = piv_sw_rc(sw, "reading the PIN state", PIV_REF_PIN);
	}
out:
	piv_end(p);
	return rc;
}

/* CHANGE REFERENCE DATA and RESET RETRY COUNTER: two checked secrets, each
 * padded to 8 bytes, in one APDU built in a secbuf (wiped when freed). */
static hsm_rc
send_two(piv *p, uint8_t ins, uint8_t p2, const hsm_secbuf *a, const hsm_secbuf *b,
         const char *what, int sw_ref)
{
	hsm_secbuf *sb = NULL;
	hsm_rc rc;

	if ((rc = secbuf_new(16, &sb)) != HSM_OK)
		return rc;
	pad8(sb, a);
	pad8(sb, b);
	rc = xfer(p, ins, 0x00, p2, sb->data, 16, NULL, 0, NULL, what, sw_ref);
	secbuf_free(&sb);
	return rc;
}

hsm_rc
piv_change(piv *p, int ref, const hsm_secbuf *old, const hsm_secbuf *neu)
{
	hsm_rc rc;

	if ((rc = piv_pin_check(old, ref)) != HSM_OK || (rc = piv_pin_check(neu, ref)) != HSM_OK)
		return rc;
	return send_two(p, 0x24, (uint8_t)ref, old, neu,
	    ref == PIV_REF_PUK ? "changing the PUK" : "changing the PIN", ref);
}

hsm_rc
piv_unblock(piv *p, const hsm_secbuf *puk, const hsm_secbuf *newpin)
{
	hsm_rc rc;

	if ((rc = piv_pin_check(puk, PIV_REF_PUK)) != HSM_OK ||
	    (rc = piv_pin_check(newpin, PIV_REF_PIN)) != HSM_OK)
		return rc;
	return send_two(p, 0x2C, PIV_REF_PIN, puk, newpin, "unblocking the PIN with the PUK",
	    PIV_REF_PUK);
}

int
piv_mgmt_key_is_default(const hsm_secbuf *key)
{
	return key != NULL && key->len == sizeof(DEFAULT_MGMT) &&
	    secure_equal(key->data, DEFAULT_MGMT, sizeof(DEFAULT_MGMT));
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

hsm_rc
piv_mgmt_key_parse(const hsm_secbuf *hex, hsm_secbuf **key)
{
	hsm_secbuf *k = NULL;
	size_t i;
	hsm_rc rc;

	*key = NULL;
	if (hex == NULL || (hex->len != 32 && hex->len != 48 && hex->len != 64))
		return hsm_fail(HSM_ERR_USAGE, "a management key is 32, 48 or 64 hex digits "
		    "(AES-128, 3DES or AES-192, AES-256)");
	if ((rc = secbuf_new(hex->len / 2, &k)) != HSM_OK)
		return rc;
	for (i = 0; i < hex->len; i += 2) {
		int hi = hexval(hex->data[i]), lo = hexval(hex->data[i + 1]);

		if (hi < 0 || lo < 0) {
			secbuf_free(&k);
			return hsm_fail(HSM_ERR_USAGE, "the management key must be hex digits only");
		}
		k->data[k->len++] = (uint8_t)(hi << 4 | lo);
	}
	*key = k;
	return HSM_OK;
}

static const EVP_CIPHER *
mgmt_cipher(uint8_t alg, size_t keylen, size_t *bs)
{
	switch (alg) {
	case PIV_ALG_3DES:
		*bs = 8;
		return keylen == 24 ? EVP_des_ede3_ecb() : NULL;
	case PIV_ALG_AES128:
		*bs = 16;
		return keylen == 16 ? EVP_aes_128_ecb() : NULL;
	case PIV_ALG_AES192:
		*bs = 16;
		return keylen == 24 ? EVP_aes_192_ecb() : NULL;
	case PIV_ALG_AES256:
		*bs = 16;
		return keylen == 32 ? EVP_aes_256_ecb() : NULL;
	default:
		return NULL;
	}
}

/* One block through the cipher, no padding. */
static hsm_rc
block(const EVP_CIPHER *ciph, const uint8_t *key, int enc, const uint8_t *in, size_t bs,
      uint8_t *out)
{
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;
	hsm_rc rc = HSM_OK;

	if (cx == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (EVP_CipherInit_ex(cx, ciph, NULL, key, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(cx, 0) != 1 ||
	    EVP_CipherUpdate(cx, out, &l1, in, (int)bs) != 1 ||
	    EVP_CipherFinal_ex(cx, out + l1, &l2) != 1 || (size_t)(l1 + l2) != bs)
		rc = hsm_fail(HSM_ERR_CRYPTO, "management key cipher failed");
	EVP_CIPHER_CTX_free(cx);
	return rc;
}

hsm_rc
piv_mgmt_auth(piv *p, uint8_t alg, const hsm_secbuf *key, int allow_default)
{
	static const uint8_t ask[] = { 0x7C, 0x02, 0x80, 0x00 };
	const EVP_CIPHER *ciph;
	uint8_t resp[64], cmd[64], chal[16], expect[16], wit[16];
	size_t bs = 0, rlen = 0, off = 0;
	hsm_bytes c, in;
	tlv_item it;
	hsm_rc rc;

	if (key == NULL || (ciph = mgmt_cipher(alg, key->len, &bs)) == NULL)
		return hsm_fail(HSM_ERR_USAGE, "management key does not fit its algorithm");
	if (alg == PIV_ALG_3DES && piv_mgmt_key_is_default(key) && !allow_default)
		return hsm_fail(HSM_ERR_AUTH, "the card still has the well-known default management "
		    "key, which anyone can use; hsmadm refuses it unless told it is a test card "
		    "(--allow-default-mgmt-key)");
	if ((rc = piv_begin(p)) != HSM_OK)
		return rc;
	/* 1: ask for a witness W = E_K(R). */
	if ((rc = xfer(p, 0x87, alg, PIV_SLOT_MGMT, ask, sizeof(ask), resp, sizeof(resp), &rlen,
	    "authenticating with the management key", 0)) != HSM_OK)
		goto out;
	bytes_init(&c, resp, rlen, "card data");
	if ((rc = tlv_expect(&c, 0x7C, &it)) != HSM_OK)
		goto bad;
	tlv_enter(&it, &in);
	if ((rc = tlv_expect(&in, 0x80, &it)) != HSM_OK)
		goto bad;
	if (it.len != bs) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the card's witness has %zu bytes, expected %zu "
		    "(is the management key algorithm right?)", it.len, bs);
		goto out;
	}
	/* 2: answer with D_K(W) and our own challenge C; the card must return E_K(C). */
	if ((rc = block(ciph, key->data, 0, it.val, bs, wit)) != HSM_OK)
		goto out;
	if ((rc = crypto_random(chal, bs)) != HSM_OK)
		goto out;
	if ((rc = block(ciph, key->data, 1, chal, bs, expect)) != HSM_OK)
		goto out;
	if ((rc = tlv_put_hdr(cmd, sizeof(cmd), &off, 0x7C, 2 * (2 + bs))) != HSM_OK ||
	    (rc = tlv_put(cmd, sizeof(cmd), &off, 0x80, wit, bs)) != HSM_OK ||
	    (rc = tlv_put(cmd, sizeof(cmd), &off, 0x81, chal, bs)) != HSM_OK)
		goto out;
	rc = xfer(p, 0x87, alg, PIV_SLOT_MGMT, cmd, off, resp, sizeof(resp), &rlen,
	    "authenticating with the management key", 0);
	if (rc == HSM_ERR_AUTH) {
		rc = hsm_fail(HSM_ERR_AUTH, "the card did not accept the management key; check it "
		    "(for a card set up by hsmadm it is stored PIN-protected on the card)");
		goto out;
	}
	if (rc != HSM_OK)
		goto out;
	bytes_init(&c, resp, rlen, "card data");
	if ((rc = tlv_expect(&c, 0x7C, &it)) != HSM_OK)
		goto bad;
	tlv_enter(&it, &in);
	if ((rc = tlv_expect(&in, 0x82, &it)) != HSM_OK)
		goto bad;
	if (it.len != bs || !secure_equal(it.val, expect, bs)) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the card could not prove it knows the management "
		    "key; this is not the card you think it is");
		goto out;
	}
	pcsc_reset_on_close(p->card);
	goto out;
bad:
	rc = hsm_fail_wrap(rc, "management key authentication");
out:
	secure_wipe(wit, sizeof(wit));
	secure_wipe(cmd, sizeof(cmd));
	piv_end(p);
	return rc;
}

uint8_t
piv_curve_alg(hsm_curve c)
{
	return c == HSM_CURVE_P256 ? PIV_ALG_P256 : c == HSM_CURVE_P384 ? PIV_ALG_P384 : 0;
}

static size_t
curve_bytes(hsm_curve c)
{
	return c == HSM_CURVE_P256 ? 32 : c == HSM_CURVE_P384 ? 48 : 0;
}

hsm_rc
piv_generate(piv *p, uint8_t slot, hsm_curve curve, int pin_policy, int touch_policy,
             EVP_PKEY **pub)
{
	uint8_t cmd[16], resp[256];
	size_t off = 0, rlen = 0, fb = curve_bytes(curve);
	uint8_t alg = piv_curve_alg(curve);
	hsm_bytes c, in;
	tlv_item it;
	hsm_rc rc;

	*pub = NULL;
	if (alg == 0)
		return hsm_fail(HSM_ERR_USAGE, "hsmadm generates P-256 or P-384 keys only");
	cmd[off++] = 0xAC;
	cmd[off++] = 3;
	cmd[off++] = 0x80;
	cmd[off++] = 1;
	cmd[off++] = alg;
	if (pin_policy != PIV_PINPOL_DEFAULT) {
		cmd[off++] = 0xAA, cmd[off++] = 1, cmd[off++] = (uint8_t)pin_policy;
		cmd[1] += 3;
	}
	if (touch_policy != PIV_TOUCH_DEFAULT) {
		cmd[off++] = 0xAB, cmd[off++] = 1, cmd[off++] = (uint8_t)touch_policy;
		cmd[1] += 3;
	}
	if ((rc = xfer(p, 0x47, 0x00, slot, cmd, off, resp, sizeof(resp), &rlen,
	    "generating a key on the card", 0)) != HSM_OK)
		return rc;
	bytes_init(&c, resp, rlen, "card data");
	if ((rc = tlv_expect(&c, 0x7F49, &it)) != HSM_OK)
		goto bad;
	tlv_enter(&it, &in);
	if ((rc = tlv_find(&in, 0x86, &it)) != HSM_OK) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the card's new public key has no EC point");
		goto bad;
	}
	if (it.len != 1 + 2 * fb || it.val[0] != 0x04) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the card's new public key is not an uncompressed "
		    "point of the requested curve");
		goto bad;
	}
	if ((rc = crypto_ec_from_point(curve, it.val, it.len, pub)) != HSM_OK)
		goto bad;
	return HSM_OK;
bad:
	return hsm_fail_wrap(rc, "reading the generated key");
}

/* GENERAL AUTHENTICATE with the private key in slot (PIN-protected): sends
 * 7C { 82 (empty: "answer here"), tag: val } and finds the card's 82 answer
 * inside its 7C. The response lands in the caller's resp (a secbuf's bytes
 * when it is a secret); *answer points into it. A malformed response is
 * wrapped with `reading`. */
static hsm_rc
general_auth(piv *p, uint8_t alg, uint8_t slot, uint8_t tag, const uint8_t *val, size_t n,
             uint8_t *resp, size_t cap, size_t *rlen, const char *what, const char *reading,
             tlv_item *answer)
{
	uint8_t cmd[160];
	size_t off = 0;
	hsm_bytes c, t;
	tlv_item it;
	hsm_rc rc;

	*rlen = 0;
	if ((rc = tlv_put_hdr(cmd, sizeof(cmd), &off, 0x7C, 2 + tlv_size(tag, n))) != HSM_OK ||
	    (rc = tlv_put(cmd, sizeof(cmd), &off, 0x82, NULL, 0)) != HSM_OK ||
	    (rc = tlv_put(cmd, sizeof(cmd), &off, tag, val, n)) != HSM_OK)
		return rc;
	if ((rc = xfer(p, 0x87, alg, slot, cmd, off, resp, cap, rlen, what, PIV_REF_PIN)) != HSM_OK)
		return rc;
	bytes_init(&c, resp, *rlen, "card data");
	if ((rc = tlv_expect(&c, 0x7C, &it)) != HSM_OK)
		return hsm_fail_wrap(rc, "%s", reading);
	tlv_enter(&it, &t);
	if ((rc = tlv_expect(&t, 0x82, answer)) != HSM_OK)
		return hsm_fail_wrap(rc, "%s", reading);
	return HSM_OK;
}

hsm_rc
piv_sign(piv *p, uint8_t slot, hsm_curve curve, const uint8_t *dg, size_t dglen,
         uint8_t **sig, size_t *siglen)
{
	uint8_t resp[256], in[64];
	size_t fb = curve_bytes(curve), rlen = 0;
	uint8_t alg = piv_curve_alg(curve);
	tlv_item it;
	hsm_rc rc;

	*sig = NULL;
	*siglen = 0;
	if (alg == 0)
		return hsm_fail(HSM_ERR_USAGE, "unsupported curve for a card signature");
	if (dglen == 0 || dglen > 64)
		return hsm_fail(HSM_ERR_USAGE, "digest of %zu bytes cannot be signed", dglen);
	/* The card takes the digest as an integer of the field size: a shorter
	 * digest is left-padded, a longer one keeps its leftmost bytes (as
	 * ECDSA truncates). */
	memset(in, 0, sizeof(in));
	if (dglen >= fb)
		memcpy(in, dg, fb);
	else
		memcpy(in + fb - dglen, dg, dglen);
	if ((rc = general_auth(p, alg, slot, 0x81, in, fb, resp, sizeof(resp), &rlen,
	    "signing with the card", "reading the card's signature", &it)) != HSM_OK)
		return rc;
	/* Must be a DER SEQUENCE that fills the value exactly. */
	{
		hsm_bytes d;
		tlv_item seq;

		bytes_init(&d, it.val, it.len, "card data");
		if ((rc = tlv_expect(&d, 0x30, &seq)) != HSM_OK || !bytes_at_end(&d)) {
			rc = hsm_fail(HSM_ERR_FORMAT, "the card's signature is not a DER sequence");
			goto bad;
		}
	}
	if ((*sig = malloc(it.len)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	memcpy(*sig, it.val, it.len);
	*siglen = it.len;
	return HSM_OK;
bad:
	return hsm_fail_wrap(rc, "reading the card's signature");
}

hsm_rc
piv_ecdh(piv *p, uint8_t slot, hsm_curve curve, EVP_PKEY *peer, hsm_secbuf **shared)
{
	uint8_t *pt = NULL;
	size_t ptlen = 0, rlen = 0, fb = curve_bytes(curve);
	uint8_t alg = piv_curve_alg(curve);
	hsm_secbuf *resp = NULL, *out = NULL;
	hsm_curve pc;
	tlv_item it;
	hsm_rc rc;

	*shared = NULL;
	if (alg == 0)
		return hsm_fail(HSM_ERR_USAGE, "unsupported curve for card key agreement");
	if ((rc = crypto_ec_curve(peer, &pc)) != HSM_OK)
		return rc;
	if (pc != curve)
		return hsm_fail(HSM_ERR_USAGE, "the peer key is on another curve than the card key");
	if ((rc = crypto_ec_point(peer, &pt, &ptlen)) != HSM_OK)
		return rc;
	if ((rc = secbuf_new(256, &resp)) != HSM_OK)
		goto out;
	rc = general_auth(p, alg, slot, 0x85, pt, ptlen, resp->data, resp->cap, &rlen,
	    "key agreement with the card", "reading the card's key agreement result", &it);
	resp->len = rlen;
	if (rc != HSM_OK)
		goto out;
	if (it.len != fb) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the card's shared secret has %zu bytes, expected %zu",
		    it.len, fb);
		goto bad;
	}
	if ((rc = secbuf_from(it.val, it.len, &out)) != HSM_OK)
		goto out;
	*shared = out;
	goto out;
bad:
	rc = hsm_fail_wrap(rc, "reading the card's key agreement result");
out:
	free(pt);
	secbuf_free(&resp);
	return rc;
}

/* 5C tag list for an object id. */
static size_t
obj_tag(uint32_t obj, uint8_t *out)
{
	size_t n = tlv_tag_size(obj), o = 0;

	out[o++] = 0x5C;
	out[o++] = (uint8_t)n;
	if (n == 3)
		out[o++] = (uint8_t)(obj >> 16);
	if (n >= 2)
		out[o++] = (uint8_t)(obj >> 8);
	out[o++] = (uint8_t)obj;
	return o;
}

hsm_rc
piv_get_data(piv *p, uint32_t obj, uint8_t **out, size_t *outlen)
{
	uint8_t cmd[8];
	uint8_t *resp = NULL;
	size_t rlen = 0, n = obj_tag(obj, cmd);
	char what[64];
	hsm_bytes c;
	tlv_item it;
	hsm_rc rc;

	*out = NULL;
	*outlen = 0;
	snprintf(what, sizeof(what), "reading card object %06X", (unsigned)obj);
	if ((resp = malloc(PCSC_MAX_RESPONSE)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = xfer(p, 0xCB, 0x3F, 0xFF, cmd, n, resp, PCSC_MAX_RESPONSE, &rlen, what, 0))
	    != HSM_OK)
		goto out;
	bytes_init(&c, resp, rlen, "card data");
	if ((rc = tlv_expect(&c, 0x53, &it)) != HSM_OK || !bytes_at_end(&c)) {
		if (rc == HSM_OK)
			rc = hsm_fail(HSM_ERR_FORMAT, "trailing bytes after the object");
		rc = hsm_fail_wrap(rc, "%s", what);
		goto out;
	}
	if (it.len == 0) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "%s: the object is empty", what);
		goto out;
	}
	if ((*out = malloc(it.len)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*out, it.val, it.len);
	*outlen = it.len;
out:
	/* The PIN-protected object holds the management key. */
	secure_wipe(resp, rlen);
	free(resp);
	return rc;
}

hsm_rc
piv_put_data(piv *p, uint32_t obj, const uint8_t *data, size_t n)
{
	uint8_t *cmd = NULL;
	size_t off, cap;
	char what[64];
	hsm_rc rc;

	snprintf(what, sizeof(what), "writing card object %06X", (unsigned)obj);
	if (n > PIV_OBJ_MAX)
		return hsm_fail(HSM_ERR_USAGE, "%s: %zu bytes is more than a card object holds (%d)",
		    what, n, PIV_OBJ_MAX);
	cap = 8 + tlv_size(0x53, n);
	if ((cmd = malloc(cap)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	off = obj_tag(obj, cmd);
	if ((rc = tlv_put(cmd, cap, &off, 0x53, data, n)) == HSM_OK)
		rc = xfer(p, 0xDB, 0x3F, 0xFF, cmd, off, NULL, 0, NULL, what, 0);
	secure_wipe(cmd, cap);
	free(cmd);
	return rc;
}

uint32_t
piv_cert_object(uint8_t slot)
{
	switch (slot) {
	case PIV_SLOT_AUTH: return PIV_OBJ_CERT_9A;
	case PIV_SLOT_SIGN: return PIV_OBJ_CERT_9C;
	case PIV_SLOT_KM:   return PIV_OBJ_CERT_9D;
	case PIV_SLOT_CARD: return PIV_OBJ_CERT_9E;
	default:
		if (slot >= 0x82 && slot <= 0x95)
			return 0x5FC10D + (uint32_t)(slot - 0x82);
		return 0;
	}
}

hsm_rc
piv_read_cert(piv *p, uint8_t slot, X509 **out)
{
	uint8_t *obj = NULL;
	const unsigned char *q;
	size_t n = 0;
	uint32_t id = piv_cert_object(slot);
	hsm_bytes c;
	tlv_item cert, info;
	X509 *x = NULL;
	hsm_rc rc;

	*out = NULL;
	if (id == 0)
		return hsm_fail(HSM_ERR_USAGE, "slot %02X has no certificate object", slot);
	if ((rc = piv_get_data(p, id, &obj, &n)) != HSM_OK) {
		if (rc == HSM_ERR_NOT_FOUND)
			rc = hsm_fail(HSM_ERR_NOT_FOUND, "the card has no certificate for slot %02X",
			    slot);
		return rc;
	}
	bytes_init(&c, obj, n, "card data");
	if ((rc = tlv_expect(&c, 0x70, &cert)) != HSM_OK)
		goto bad;
	if (tlv_find(&c, 0x71, &info) == HSM_OK && info.len == 1 && info.val[0] != 0) {
		rc = hsm_fail(HSM_ERR_FORMAT, "compressed certificates are not supported");
		goto bad;
	}
	q = cert.val;
	x = d2i_X509(NULL, &q, (long)cert.len);
	if (x == NULL || q != cert.val + cert.len) {
		X509_free(x);
		rc = hsm_fail(HSM_ERR_FORMAT, "the certificate is not valid DER");
		goto bad;
	}
	*out = x;
	free(obj);
	return HSM_OK;
bad:
	free(obj);
	return hsm_fail_wrap(rc, "certificate of slot %02X", slot);
}

hsm_rc
piv_write_cert(piv *p, uint8_t slot, X509 *cert)
{
	static const uint8_t tail[] = { 0x71, 0x01, 0x00, 0xFE, 0x00 };
	unsigned char *der = NULL;
	uint8_t *obj = NULL;
	size_t off = 0, cap;
	uint32_t id = piv_cert_object(slot);
	int dl;
	hsm_rc rc;

	if (id == 0)
		return hsm_fail(HSM_ERR_USAGE, "slot %02X has no certificate object", slot);
	if ((dl = i2d_X509(cert, &der)) <= 0)
		return hsm_fail(HSM_ERR_CRYPTO, "cannot encode the certificate");
	cap = tlv_size(0x70, (size_t)dl) + sizeof(tail);
	if ((obj = malloc(cap)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tlv_put(obj, cap, &off, 0x70, der, (size_t)dl)) != HSM_OK)
		goto out;
	memcpy(obj + off, tail, sizeof(tail));
	off += sizeof(tail);
	rc = piv_put_data(p, id, obj, off);
out:
	OPENSSL_free(der);
	free(obj);
	return rc;
}

hsm_rc
piv_get_version(piv *p, uint8_t ver[3])
{
	uint8_t resp[16];
	size_t rlen = 0;
	uint16_t sw;
	hsm_rc rc;

	if (p->have_ver == 1) {
		memcpy(ver, p->ver, 3);
		return HSM_OK;
	}
	rc = pcsc_apdu(p->card, 0x00, 0xFD, 0x00, 0x00, NULL, 0, resp, sizeof(resp), &rlen, &sw);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "reading the card version");
	if (sw != 0x9000) {
		p->have_ver = -1;
		return piv_sw_rc(sw, "reading the card version", 0);
	}
	if (rlen != 3) {
		p->have_ver = -1;
		return hsm_fail(HSM_ERR_FORMAT, "the card version has %zu bytes, expected 3", rlen);
	}
	memcpy(p->ver, resp, 3);
	memcpy(ver, resp, 3);
	p->have_ver = 1;
	return HSM_OK;
}

hsm_rc
piv_get_serial(piv *p, uint32_t *serial)
{
	uint8_t resp[16];
	size_t rlen = 0;
	hsm_bytes c;
	hsm_rc rc;

	if ((rc = xfer(p, 0xF8, 0x00, 0x00, NULL, 0, resp, sizeof(resp), &rlen,
	    "reading the card serial", 0)) != HSM_OK)
		return rc;
	bytes_init(&c, resp, rlen, "card data");
	if ((rc = bytes_get_be32(&c, serial)) != HSM_OK || !bytes_at_end(&c))
		return hsm_fail(HSM_ERR_FORMAT, "the card serial has %zu bytes, expected 4", rlen);
	return HSM_OK;
}

hsm_rc
piv_set_mgmkey(piv *p, uint8_t alg, const hsm_secbuf *key)
{
	hsm_secbuf *cmd = NULL;
	size_t bs;
	hsm_rc rc;

	if (key == NULL || mgmt_cipher(alg, key->len, &bs) == NULL)
		return hsm_fail(HSM_ERR_USAGE, "management key does not fit its algorithm");
	if (piv_mgmt_key_is_default(key))
		return hsm_fail(HSM_ERR_USAGE, "refusing to set the well-known default management key");
	if ((rc = secbuf_new(3 + key->len, &cmd)) != HSM_OK)
		return rc;
	cmd->data[0] = alg;
	cmd->data[1] = PIV_SLOT_MGMT;
	cmd->data[2] = (uint8_t)key->len;
	memcpy(cmd->data + 3, key->data, key->len);
	cmd->len = 3 + key->len;
	rc = xfer(p, 0xFF, 0xFF, 0xFF, cmd->data, cmd->len, NULL, 0, NULL,
	    "setting the management key", 0);
	secbuf_free(&cmd);
	return rc;
}

hsm_rc
piv_set_pin_retries(piv *p, int pin_tries, int puk_tries)
{
	if (pin_tries < 1 || pin_tries > 255 || puk_tries < 1 || puk_tries > 255)
		return hsm_fail(HSM_ERR_USAGE, "PIN and PUK tries must be 1 to 255");
	return xfer(p, 0xFA, (uint8_t)pin_tries, (uint8_t)puk_tries, NULL, 0, NULL, 0, NULL,
	    "setting the PIN and PUK tries", 0);
}
