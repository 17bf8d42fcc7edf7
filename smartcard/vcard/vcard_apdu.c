/* SPDX-License-Identifier: BSD-2-Clause */
/* vcard_apdu.c - the PIV card application: one command APDU in, one response
 * out, over the card state. No I/O. Behaviour and status words follow SP
 * 800-73-4 and what a YubiKey 5 answers (shared/research/piv-vpcd.md §2).
 *
 * Every byte of a command is read through the checked reader of lib/
 * (hsmadm/bytes.h); responses are assembled in the state's out buffer and paged
 * out with 61xx / GET RESPONSE. */
#include <string.h>

#include "hsmadm/bytes.h"
#include "vcard_int.h"

#define SW_OK              0x9000
#define SW_WRONG_LENGTH    0x6700
#define SW_LAST_EXPECTED   0x6883
#define SW_SECURITY        0x6982
#define SW_BLOCKED         0x6983
#define SW_CONDITIONS      0x6985
#define SW_WRONG_DATA      0x6A80
#define SW_NOT_SUPPORTED   0x6A81
#define SW_NOT_FOUND       0x6A82
#define SW_NO_MEMORY       0x6A84
#define SW_WRONG_P1P2      0x6A86
#define SW_REF_NOT_FOUND   0x6A88
#define SW_WRONG_P1P2_YK   0x6B00
#define SW_INS_UNKNOWN     0x6D00
#define SW_CLA_UNKNOWN     0x6E00
#define SW_UNKNOWN         0x6F00

static const uint8_t atr_yk5[] = {
	0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0,
	0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40,
};
static const uint8_t piv_aid[] = {
	0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
};
static const uint8_t mgmt_aid[] = { 0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17 };
/* Application Property Template, as a YubiKey 5 answers SELECT. */
static const uint8_t piv_apt[] = {
	0x61, 0x11, 0x4F, 0x06, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
	0x79, 0x07, 0x4F, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08,
};
/* Discovery object: PIV AID, PIN usage policy "PIV PIN only". */
static const uint8_t discovery[] = {
	0x7E, 0x12, 0x4F, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10,
	0x00, 0x01, 0x00, 0x5F, 0x2F, 0x02, 0x40, 0x00,
};

size_t
vcard_atr(const uint8_t **atr)
{
	*atr = atr_yk5;
	return sizeof(atr_yk5);
}

/* ------------------------------------------------------------ command */

struct apdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t nc;
	size_t ne;      /* bytes the client accepts in this response (1..256) */
};

/* Parse any ISO 7816-4 case, short or extended. 0 if malformed. */
static int
apdu_parse(const uint8_t *b, size_t len, struct apdu *a)
{
	size_t lc, le = 256;

	if (len < 4)
		return 0;
	a->cla = b[0], a->ins = b[1], a->p1 = b[2], a->p2 = b[3];
	a->data = NULL;
	a->nc = 0;
	if (len == 4) {                                 /* case 1 */
	} else if (len == 5) {                          /* case 2S */
		le = b[4] ? b[4] : 256;
	} else if (b[4] != 0) {                         /* case 3S / 4S */
		lc = b[4];
		if (len == 5 + lc) {
		} else if (len == 6 + lc) {
			le = b[5 + lc] ? b[5 + lc] : 256;
		} else
			return 0;
		a->data = b + 5, a->nc = lc;
	} else if (len < 7) {                           /* 00 then too few bytes */
		return 0;
	} else if (len == 7) {                          /* case 2E */
		le = ((size_t)b[5] << 8 | b[6]);
		if (le == 0)
			le = 65536;
	} else {                                        /* case 3E / 4E */
		lc = (size_t)b[5] << 8 | b[6];
		if (lc == 0)
			return 0;
		if (len == 7 + lc) {
		} else if (len == 9 + lc) {
			le = (size_t)b[7 + lc] << 8 | b[8 + lc];
			if (le == 0)
				le = 65536;
		} else
			return 0;
		a->data = b + 7, a->nc = lc;
	}
	a->ne = le > 256 ? 256 : le;
	return 1;
}

static uint16_t
sw_tries(uint8_t left)
{
	return (uint16_t)(0x63C0 | (left > 15 ? 15 : left));
}

/* A checked cursor over a command's data field. */
static hsm_bytes
cmd_data(const struct apdu *a)
{
	hsm_bytes r;

	bytes_init(&r, a->data, a->nc, "command data");
	return r;
}

/* Set the response data (copied into c->out for paging). */
static uint16_t
respond(vcard *c, const uint8_t *d, size_t n)
{
	if (n > sizeof(c->out))
		return SW_UNKNOWN;
	memcpy(c->out, d, n);
	c->out_len = n;
	c->out_pos = 0;
	return SW_OK;
}

/* ------------------------------------------------------------ SELECT */

static uint16_t
cmd_select(vcard *c, const struct apdu *a)
{
	if (a->p1 != 0x04)
		return SW_NOT_FOUND;
	if (a->nc >= 5 && a->nc <= sizeof(piv_aid) && memcmp(a->data, piv_aid, a->nc) == 0)
		return respond(c, piv_apt, sizeof(piv_apt));
	if (a->nc == sizeof(mgmt_aid) && memcmp(a->data, mgmt_aid, a->nc) == 0) {
		/* Yubico management: libykpiv selects it to drop the PIV security
		 * state. We keep PIV as the one application, so only the state goes. */
		vc_reset_volatile(c);
		return SW_OK;
	}
	return SW_NOT_FOUND;
}

/* ------------------------------------------------------------ data objects */

/* 5C tag of GET/PUT DATA: 0 if malformed. */
static uint32_t
read_tag_list(hsm_bytes *r)
{
	tlv_item it;
	uint32_t t = 0;

	if (tlv_next(r, &it) != HSM_OK || it.tag != 0x5C || it.len < 1 || it.len > 3)
		return 0;
	for (size_t i = 0; i < it.len; i++)
		t = t << 8 | it.val[i];
	return t;
}

static int
pin_protected(uint32_t tag)
{
	return tag == 0x5FC103 || tag == 0x5FC108 || tag == 0x5FC109 || tag == 0x5FC121;
}

static uint16_t
cmd_get_data(vcard *c, const struct apdu *a)
{
	hsm_bytes r = cmd_data(a);
	struct vcard_obj *o;
	hsm_bwriter w = bw_make(c->out, sizeof(c->out));
	uint32_t tag;

	if (a->p1 != 0x3F || a->p2 != 0xFF)
		return SW_WRONG_P1P2;
	if ((tag = read_tag_list(&r)) == 0 || !bytes_at_end(&r))
		return SW_WRONG_DATA;
	if (tag == 0x7E)
		return respond(c, discovery, sizeof(discovery));
	if (pin_protected(tag) && !c->pin_ok)
		return SW_SECURITY;
	if ((o = vc_obj_find(c, tag)) == NULL)
		return SW_NOT_FOUND;
	bw_tlv(&w, 0x53, o->data, o->len);
	if (w.err != HSM_OK)
		return SW_UNKNOWN;
	c->out_len = w.len;
	c->out_pos = 0;
	return SW_OK;
}

static uint16_t
cmd_put_data(vcard *c, const struct apdu *a)
{
	hsm_bytes r = cmd_data(a);
	tlv_item d;
	uint32_t tag;

	if (a->p1 != 0x3F || a->p2 != 0xFF)
		return SW_WRONG_P1P2;
	if (!c->mgm_ok)
		return SW_SECURITY;
	if ((tag = read_tag_list(&r)) == 0 || tlv_next(&r, &d) != HSM_OK || d.tag != 0x53 ||
	    !bytes_at_end(&r))
		return SW_WRONG_DATA;
	if ((tag >> 8) != 0x5FC1 && (tag >> 8) != 0x5FFF)
		return SW_WRONG_DATA;   /* Discovery and BIT group are fixed */
	if (d.len > VC_OBJ_MAX)
		return SW_NO_MEMORY;
	if (vc_obj_put(c, tag, d.val, d.len) != HSM_OK)
		return SW_NO_MEMORY;
	return SW_OK;
}

/* ------------------------------------------------------------ PIN / PUK */

/* A PIN/PUK block: 6..8 bytes, none 0xFF, then 0xFF padding to 8. */
static int
pin_block_ok(const uint8_t *p)
{
	size_t n = 0;

	while (n < VC_PIN_LEN && p[n] != 0xFF)
		n++;
	for (size_t i = n; i < VC_PIN_LEN; i++)
		if (p[i] != 0xFF)
			return 0;
	return n >= 6;
}

/* Check a PIN or PUK against its counter. SW_OK if right. */
static uint16_t
check_ref(vcard *c, const uint8_t *stored, uint8_t *left, uint8_t max, const uint8_t *given)
{
	if (*left == 0)
		return SW_BLOCKED;
	if (!secure_equal(stored, given, VC_PIN_LEN)) {
		(*left)--;
		c->dirty = 1;
		return sw_tries(*left);
	}
	if (*left != max) {
		*left = max;
		c->dirty = 1;
	}
	return SW_OK;
}

static uint16_t
cmd_verify(vcard *c, const struct apdu *a)
{
	uint16_t sw;

	if (a->p1 == 0xFF) {                    /* drop the verification */
		if (a->nc != 0)
			return SW_WRONG_LENGTH;
		if (a->p2 != 0x80)
			return SW_REF_NOT_FOUND;
		c->pin_ok = c->pin_fresh = 0;
		return SW_OK;
	}
	if (a->p1 != 0x00)
		return SW_WRONG_P1P2;
	if (a->p2 != 0x80)
		return SW_REF_NOT_FOUND;
	if (a->nc == 0) {                       /* status query */
		if (c->pin_left == 0)
			return SW_BLOCKED;
		return c->pin_ok ? SW_OK : sw_tries(c->pin_left);
	}
	if (a->nc != VC_PIN_LEN)
		return SW_WRONG_LENGTH;
	sw = check_ref(c, c->s->pin, &c->pin_left, c->pin_max, a->data);
	c->pin_ok = c->pin_fresh = sw == SW_OK;
	return sw;
}

static uint16_t
cmd_change_ref(vcard *c, const struct apdu *a)
{
	uint8_t *stored, *left, max;
	uint16_t sw;

	if (a->p1 != 0x00)
		return SW_WRONG_P1P2;
	if (a->p2 == 0x80)
		stored = c->s->pin, left = &c->pin_left, max = c->pin_max;
	else if (a->p2 == 0x81)
		stored = c->s->puk, left = &c->puk_left, max = c->puk_max;
	else
		return SW_REF_NOT_FOUND;
	if (a->nc != 2 * VC_PIN_LEN)
		return SW_WRONG_LENGTH;
	if (*left == 0)
		return SW_BLOCKED;
	if (!pin_block_ok(a->data + VC_PIN_LEN))
		return SW_WRONG_DATA;
	sw = check_ref(c, stored, left, max, a->data);
	if (sw != SW_OK) {
		if (a->p2 == 0x80)
			c->pin_ok = c->pin_fresh = 0;
		return sw;
	}
	memcpy(stored, a->data + VC_PIN_LEN, VC_PIN_LEN);
	c->dirty = 1;
	return SW_OK;
}

static uint16_t
cmd_reset_retry(vcard *c, const struct apdu *a)
{
	uint16_t sw;

	if (a->p1 != 0x00)
		return SW_WRONG_P1P2;
	if (a->p2 != 0x80)
		return SW_REF_NOT_FOUND;
	if (a->nc != 2 * VC_PIN_LEN)
		return SW_WRONG_LENGTH;
	if (c->puk_left == 0)
		return SW_BLOCKED;
	if (!pin_block_ok(a->data + VC_PIN_LEN))
		return SW_WRONG_DATA;
	if ((sw = check_ref(c, c->s->puk, &c->puk_left, c->puk_max, a->data)) != SW_OK)
		return sw;
	memcpy(c->s->pin, a->data + VC_PIN_LEN, VC_PIN_LEN);
	c->pin_left = c->pin_max;
	c->pin_ok = c->pin_fresh = 0;
	c->dirty = 1;
	return SW_OK;
}

/* ------------------------------------------------------------ GENERAL AUTHENTICATE */

struct dyn_auth {
	const uint8_t *v[6];     /* 80 81 82 83 84 85 */
	size_t n[6];
	int present[6];
};

static int
parse_dyn_auth(const struct apdu *a, struct dyn_auth *d)
{
	hsm_bytes r = cmd_data(a), in;
	tlv_item it;

	memset(d, 0, sizeof(*d));
	if (tlv_next(&r, &it) != HSM_OK || it.tag != 0x7C || !bytes_at_end(&r))
		return 0;
	tlv_enter(&it, &in);
	while (!bytes_at_end(&in)) {
		if (tlv_next(&in, &it) != HSM_OK || it.tag < 0x80 || it.tag > 0x85)
			return 0;
		if (d->present[it.tag - 0x80])
			return 0;
		d->present[it.tag - 0x80] = 1;
		d->v[it.tag - 0x80] = it.val;
		d->n[it.tag - 0x80] = it.len;
	}
	return 1;
}

#define DA_WITNESS   0
#define DA_CHALLENGE 1
#define DA_RESPONSE  2
#define DA_EXP       5

static uint16_t
respond_tlv(vcard *c, uint8_t inner_tag, const uint8_t *v, size_t n)
{
	hsm_bwriter in = bw_make(c->out, sizeof(c->out));
	uint8_t tmp[VC_OUT_MAX];
	hsm_bwriter w = bw_make(tmp, sizeof(tmp));

	bw_tlv(&w, inner_tag, v, n);
	if (w.err != HSM_OK)
		return SW_UNKNOWN;
	bw_tlv(&in, 0x7C, tmp, w.len);
	secure_wipe(tmp, w.len);          /* may be an ECDH secret */
	if (in.err != HSM_OK)
		return SW_UNKNOWN;
	c->out_len = in.len;
	c->out_pos = 0;
	return SW_OK;
}

static uint16_t
auth_mgm(vcard *c, const struct apdu *a, const struct dyn_auth *d)
{
	size_t bl = vk_block_len(c->mgm_alg);
	uint8_t buf[16], out[16];
	int witness = c->witness_pending, challenge = c->challenge_pending;
	uint16_t sw = SW_WRONG_DATA;

	/* P1 00 is OpenSC's "any algorithm" for GET CHALLENGE. */
	if (a->p1 != c->mgm_alg && a->p1 != 0x00)
		return SW_WRONG_DATA;
	c->witness_pending = c->challenge_pending = 0;
	if (d->present[DA_WITNESS] && d->n[DA_WITNESS] == 0 && !d->present[DA_CHALLENGE] &&
	    !d->present[DA_RESPONSE]) {
		/* Step 1 of mutual authentication: witness = E_K(R). */
		c->mgm_ok = 0;
		if (vk_random(c->s->witness, bl) != HSM_OK ||
		    vk_block(c->mgm_alg, c->s->mgm, c->s->mgm_len, 1, c->s->witness, out) != HSM_OK)
			return SW_UNKNOWN;
		c->witness_pending = 1;
		return respond_tlv(c, 0x80, out, bl);
	}
	if (d->present[DA_WITNESS] && d->present[DA_CHALLENGE] && !d->present[DA_RESPONSE]) {
		/* Step 2: the host proves it decrypted R, and challenges us. */
		if (!witness || d->n[DA_WITNESS] != bl ||
		    !secure_equal(d->v[DA_WITNESS], c->s->witness, bl)) {
			c->mgm_ok = 0;
			return SW_SECURITY;
		}
		if (d->n[DA_CHALLENGE] != bl)
			return SW_WRONG_DATA;
		if (vk_block(c->mgm_alg, c->s->mgm, c->s->mgm_len, 1, d->v[DA_CHALLENGE], out) != HSM_OK)
			return SW_UNKNOWN;
		c->mgm_ok = 1;
		return respond_tlv(c, 0x82, out, bl);
	}
	if (d->present[DA_CHALLENGE] && d->n[DA_CHALLENGE] == 0 && !d->present[DA_WITNESS] &&
	    !d->present[DA_RESPONSE]) {
		/* External authentication step 1 / random numbers: a challenge. */
		if (vk_random(c->s->challenge, bl) != HSM_OK)
			return SW_UNKNOWN;
		c->challenge_pending = 1;
		return respond_tlv(c, 0x81, c->s->challenge, bl);
	}
	if (d->present[DA_RESPONSE] && d->n[DA_RESPONSE] > 0 && !d->present[DA_WITNESS] &&
	    !d->present[DA_CHALLENGE]) {
		/* External authentication step 2: the host sends E_K(C). */
		if (!challenge || d->n[DA_RESPONSE] != bl ||
		    vk_block(c->mgm_alg, c->s->mgm, c->s->mgm_len, 1, c->s->challenge, buf) != HSM_OK ||
		    !secure_equal(buf, d->v[DA_RESPONSE], bl)) {
			c->mgm_ok = 0;
			sw = SW_SECURITY;
		} else {
			c->mgm_ok = 1;
			sw = SW_OK;
		}
		secure_wipe(buf, sizeof(buf));
		return sw;
	}
	if (d->present[DA_CHALLENGE] && d->n[DA_CHALLENGE] == bl && d->present[DA_RESPONSE] &&
	    d->n[DA_RESPONSE] == 0 && !d->present[DA_WITNESS]) {
		/* Internal authentication: prove we hold the key. */
		if (vk_block(c->mgm_alg, c->s->mgm, c->s->mgm_len, 1, d->v[DA_CHALLENGE], out) != HSM_OK)
			return SW_UNKNOWN;
		return respond_tlv(c, 0x82, out, bl);
	}
	return sw;
}

static uint16_t
auth_asym(vcard *c, const struct apdu *a, const struct dyn_auth *d)
{
	int idx = vc_slot_index(a->p2);
	struct vcard_key *k;
	uint8_t out[160];
	size_t n;

	if (idx < 0 || a->p2 == 0xF9)   /* the attestation key only attests */
		return SW_REF_NOT_FOUND;
	k = &c->keys[idx];
	if (k->slot == 0)
		return SW_REF_NOT_FOUND;
	if (a->p1 != k->alg)
		return SW_WRONG_DATA;
	if (!d->present[DA_RESPONSE] || d->n[DA_RESPONSE] != 0 || d->present[DA_WITNESS])
		return SW_WRONG_DATA;
	if (d->present[DA_CHALLENGE] == d->present[DA_EXP])
		return SW_WRONG_DATA;
	/* Access rules of the slot's PIN policy. */
	if (k->pin_policy == VC_PIN_ALWAYS) {
		if (!c->pin_fresh)
			return SW_SECURITY;
		c->pin_fresh = 0;       /* one verification, one operation */
	} else if (k->pin_policy == VC_PIN_ONCE && !c->pin_ok)
		return SW_SECURITY;
	if (d->present[DA_CHALLENGE]) {
		if (d->n[DA_CHALLENGE] == 0)
			return SW_WRONG_DATA;
		if (vk_sign(k->pkey, d->v[DA_CHALLENGE], d->n[DA_CHALLENGE], out, sizeof(out), &n) != HSM_OK)
			return SW_WRONG_DATA;
		return respond_tlv(c, 0x82, out, n);
	}
	if (vk_ecdh(k->pkey, k->alg, d->v[DA_EXP], d->n[DA_EXP], out, sizeof(out), &n) != HSM_OK)
		return SW_WRONG_DATA;
	{
		uint16_t sw = respond_tlv(c, 0x82, out, n);
		secure_wipe(out, sizeof(out));
		return sw;
	}
}

static uint16_t
cmd_general_auth(vcard *c, const struct apdu *a)
{
	struct dyn_auth d;
	int was_witness = c->witness_pending, was_challenge = c->challenge_pending;

	if (!parse_dyn_auth(a, &d)) {
		c->witness_pending = c->challenge_pending = 0;
		return SW_WRONG_DATA;
	}
	if (a->p2 == 0x9B) {
		c->witness_pending = was_witness;
		c->challenge_pending = was_challenge;
		return auth_mgm(c, a, &d);
	}
	c->witness_pending = c->challenge_pending = 0;
	return auth_asym(c, a, &d);
}

/* ------------------------------------------------------------ keys */

static uint16_t
respond_pubkey(vcard *c, EVP_PKEY *k)
{
	uint8_t pt[1 + 2 * 48], tmp[120];
	hsm_bwriter in = bw_make(tmp, sizeof(tmp)), w = bw_make(c->out, sizeof(c->out));
	size_t n;

	if (vk_point(k, pt, sizeof(pt), &n) != HSM_OK)
		return SW_UNKNOWN;
	/* Single-byte lengths: libykpiv's EC parser insists on 7F49 LL 86 LL. */
	bw_tlv(&in, 0x86, pt, n);
	bw_tlv(&w, 0x7F49, tmp, in.len);
	if (in.err != HSM_OK || w.err != HSM_OK)
		return SW_UNKNOWN;
	c->out_len = w.len;
	c->out_pos = 0;
	return SW_OK;
}

static int
policy_ok(uint8_t pin, uint8_t touch)
{
	return pin <= VC_PIN_ALWAYS && touch <= VC_TOUCH_CACHED;
}

static void
store_key(vcard *c, int idx, uint8_t slot, uint8_t alg, uint8_t pin, uint8_t touch,
          uint8_t origin, EVP_PKEY *k)
{
	struct vcard_key *sk = &c->keys[idx];

	EVP_PKEY_free(sk->pkey);
	sk->slot = slot;
	sk->alg = alg;
	sk->pin_policy = pin ? pin : vc_default_pin_policy(slot);
	sk->touch_policy = touch ? touch : VC_TOUCH_NEVER;
	sk->origin = origin;
	sk->pkey = k;
	c->dirty = 1;
}

static uint16_t
cmd_generate(vcard *c, const struct apdu *a)
{
	hsm_bytes r = cmd_data(a), in;
	tlv_item it;
	const uint8_t *alg_v = NULL;
	uint8_t pin = 0, touch = 0, alg;
	int idx;
	EVP_PKEY *k = NULL;

	if (a->p1 != 0x00)
		return SW_WRONG_P1P2;
	if ((idx = vc_slot_index(a->p2)) < 0)
		return SW_WRONG_P1P2_YK;
	if (!c->mgm_ok)
		return SW_SECURITY;
	if (tlv_next(&r, &it) != HSM_OK || it.tag != 0xAC || !bytes_at_end(&r))
		return SW_WRONG_DATA;
	tlv_enter(&it, &in);
	while (!bytes_at_end(&in)) {
		if (tlv_next(&in, &it) != HSM_OK || it.len != 1)
			return SW_WRONG_DATA;
		if (it.tag == 0x80)
			alg_v = it.val;
		else if (it.tag == 0xAA)
			pin = it.val[0];
		else if (it.tag == 0xAB)
			touch = it.val[0];
		else
			return SW_WRONG_DATA;
	}
	if (alg_v == NULL || !policy_ok(pin, touch))
		return SW_WRONG_DATA;
	alg = alg_v[0];
	if (alg != VC_ALG_P256 && alg != VC_ALG_P384)
		return SW_WRONG_DATA;   /* this emulator has EC keys only */
	if (vk_generate(alg, &k) != HSM_OK)
		return SW_UNKNOWN;
	store_key(c, idx, a->p2, alg, pin, touch, VC_ORIGIN_GENERATED, k);
	return respond_pubkey(c, k);
}

static uint16_t
cmd_import(vcard *c, const struct apdu *a)
{
	hsm_bytes r = cmd_data(a);
	tlv_item it;
	const uint8_t *d = NULL;
	uint8_t pin = 0, touch = 0;
	size_t dn = 0;
	int idx;
	EVP_PKEY *k = NULL;

	if ((idx = vc_slot_index(a->p2)) < 0)
		return SW_WRONG_P1P2_YK;
	if (!c->mgm_ok)
		return SW_SECURITY;
	if (a->p1 != VC_ALG_P256 && a->p1 != VC_ALG_P384)
		return SW_WRONG_DATA;
	while (!bytes_at_end(&r)) {
		if (tlv_next(&r, &it) != HSM_OK)
			return SW_WRONG_DATA;
		if (it.tag == 0x06 && d == NULL)
			d = it.val, dn = it.len;
		else if (it.tag == 0xAA && it.len == 1)
			pin = it.val[0];
		else if (it.tag == 0xAB && it.len == 1)
			touch = it.val[0];
		else
			return SW_WRONG_DATA;
	}
	if (d == NULL || !policy_ok(pin, touch))
		return SW_WRONG_DATA;
	if (vk_from_scalar(a->p1, d, dn, &k) != HSM_OK)
		return SW_WRONG_DATA;
	store_key(c, idx, a->p2, a->p1, pin, touch, VC_ORIGIN_IMPORTED, k);
	return SW_OK;
}

/* ------------------------------------------------------------ YubiKey */

static uint16_t
cmd_set_mgmkey(vcard *c, const struct apdu *a)
{
	hsm_bytes r = cmd_data(a);
	const uint8_t *key;
	uint8_t alg, ref, len;

	if (a->p1 != 0xFF || (a->p2 != 0xFF && a->p2 != 0xFE))
		return SW_WRONG_P1P2;
	if (!c->mgm_ok)
		return SW_SECURITY;
	if (bytes_get_u8(&r, &alg) != HSM_OK || bytes_get_u8(&r, &ref) != HSM_OK ||
	    bytes_get_u8(&r, &len) != HSM_OK || ref != 0x9B ||
	    vc_mgm_keylen(alg) == 0 || len != vc_mgm_keylen(alg) ||
	    bytes_get_bytes(&r, len, &key) != HSM_OK || !bytes_at_end(&r))
		return SW_WRONG_DATA;
	secure_wipe(c->s->mgm, sizeof(c->s->mgm));
	memcpy(c->s->mgm, key, len);
	c->s->mgm_len = len;
	c->mgm_alg = alg;
	c->dirty = 1;
	return SW_OK;
}

static uint16_t
cmd_set_retries(vcard *c, const struct apdu *a)
{
	if (a->nc != 0)
		return SW_WRONG_LENGTH;
	if (!c->mgm_ok || !c->pin_ok)
		return SW_SECURITY;
	if (a->p1 == 0 || a->p2 == 0)
		return SW_WRONG_P1P2;
	{
		uint8_t alg = c->mgm_alg, key[32];
		size_t kl = c->s->mgm_len;

		/* FA restores PIN and PUK to their defaults, not the management key. */
		memcpy(key, c->s->mgm, sizeof(key));
		vc_factory_credentials(c);
		memcpy(c->s->mgm, key, sizeof(key));
		c->s->mgm_len = kl;
		c->mgm_alg = alg;
		secure_wipe(key, sizeof(key));
	}
	c->pin_max = c->pin_left = a->p1;
	c->puk_max = c->puk_left = a->p2;
	c->pin_ok = c->pin_fresh = 0;
	c->dirty = 1;
	return SW_OK;
}

static uint16_t
cmd_reset(vcard *c, const struct apdu *a)
{
	if (a->nc != 0)
		return SW_WRONG_LENGTH;
	if (c->pin_left != 0 || c->puk_left != 0)
		return SW_CONDITIONS;
	vc_wipe_keys_objects(c, 1);
	vc_factory_credentials(c);
	vc_reset_volatile(c);
	return SW_OK;
}

/* YubiKey GET METADATA (5.3+): what a slot or reference holds, without secrets. */
static uint16_t
cmd_metadata(vcard *c, const struct apdu *a)
{
	hsm_bwriter w = bw_make(c->out, sizeof(c->out));
	uint8_t b[2], pt[1 + 2 * 48], tmp[120];
	size_t n;
	int idx;

	if (a->p1 != 0x00)
		return SW_WRONG_P1P2;
	if (a->p2 == 0x80 || a->p2 == 0x81) {
		b[0] = 0xFF;
		bw_tlv(&w, 0x01, b, 1);
		b[0] = (uint8_t)vc_ref_is_default(c, a->p2);
		bw_tlv(&w, 0x05, b, 1);
		b[0] = a->p2 == 0x80 ? c->pin_max : c->puk_max;
		b[1] = a->p2 == 0x80 ? c->pin_left : c->puk_left;
		bw_tlv(&w, 0x06, b, 2);
	} else if (a->p2 == 0x9B) {
		b[0] = c->mgm_alg;
		bw_tlv(&w, 0x01, b, 1);
		b[0] = 0x00, b[1] = VC_TOUCH_NEVER;
		bw_tlv(&w, 0x02, b, 2);
		b[0] = (uint8_t)vc_ref_is_default(c, 0x9B);
		bw_tlv(&w, 0x05, b, 1);
	} else if ((idx = vc_slot_index(a->p2)) >= 0) {
		struct vcard_key *k = &c->keys[idx];
		hsm_bwriter in = bw_make(tmp, sizeof(tmp));

		if (k->slot == 0)
			return SW_REF_NOT_FOUND;
		if (vk_point(k->pkey, pt, sizeof(pt), &n) != HSM_OK)
			return SW_UNKNOWN;
		bw_tlv(&w, 0x01, &k->alg, 1);
		b[0] = k->pin_policy, b[1] = k->touch_policy;
		bw_tlv(&w, 0x02, b, 2);
		bw_tlv(&w, 0x03, &k->origin, 1);
		bw_tlv(&in, 0x86, pt, n);
		bw_tlv(&w, 0x04, tmp, in.len);
	} else
		return SW_REF_NOT_FOUND;
	if (w.err != HSM_OK)
		return SW_UNKNOWN;
	c->out_len = w.len;
	c->out_pos = 0;
	return SW_OK;
}

static uint16_t
cmd_attest(vcard *c, const struct apdu *a)
{
	size_t n;
	hsm_rc rc;

	if (a->p2 != 0x00)
		return SW_WRONG_P1P2;
	rc = vc_attest(c, a->p1, c->out, sizeof(c->out), &n);
	if (rc == HSM_ERR_NOT_FOUND)
		return SW_REF_NOT_FOUND;
	if (rc == HSM_ERR_STATE)
		return SW_WRONG_DATA;
	if (rc != HSM_OK)
		return SW_UNKNOWN;
	c->out_len = n;
	c->out_pos = 0;
	return SW_OK;
}

/* ------------------------------------------------------------ dispatch */

static uint16_t
dispatch(vcard *c, const struct apdu *a)
{
	uint8_t b[4];

	/* A witness or challenge is good for the next GENERAL AUTHENTICATE only. */
	if (a->ins != 0x87)
		c->witness_pending = c->challenge_pending = 0;
	switch (a->ins) {
	case 0xA4: return cmd_select(c, a);
	case 0xCB: return cmd_get_data(c, a);
	case 0xDB: return cmd_put_data(c, a);
	case 0x20: return cmd_verify(c, a);
	case 0x24: return cmd_change_ref(c, a);
	case 0x2C: return cmd_reset_retry(c, a);
	case 0x87: return cmd_general_auth(c, a);
	case 0x47: return cmd_generate(c, a);
	case 0xFE: return cmd_import(c, a);
	case 0xFF: return cmd_set_mgmkey(c, a);
	case 0xFA: return cmd_set_retries(c, a);
	case 0xFB: return cmd_reset(c, a);
	case 0xF7: return cmd_metadata(c, a);
	case 0xF9: return cmd_attest(c, a);
	case 0xFD:
		return respond(c, c->version, 3);
	case 0xF8:
		b[0] = (uint8_t)(c->serial >> 24), b[1] = (uint8_t)(c->serial >> 16);
		b[2] = (uint8_t)(c->serial >> 8), b[3] = (uint8_t)c->serial;
		return respond(c, b, 4);
	default:
		return SW_INS_UNKNOWN;
	}
}

/* Page out pending response data: at most ne bytes, then 61xx or 9000. */
static void
page_out(vcard *c, size_t ne, uint16_t sw, uint8_t *resp, size_t *rlen)
{
	size_t left = c->out_len - c->out_pos, n = left < ne ? left : ne;

	memcpy(resp, c->out + c->out_pos, n);
	c->out_pos += n;
	left -= n;
	if (left > 0)
		sw = (uint16_t)(0x6100 | (left > 255 ? 0 : left));
	else
		c->out_len = c->out_pos = 0;
	resp[n] = (uint8_t)(sw >> 8);
	resp[n + 1] = (uint8_t)sw;
	*rlen = n + 2;
}

static void
sw_only(uint16_t sw, uint8_t *resp, size_t *rlen)
{
	resp[0] = (uint8_t)(sw >> 8);
	resp[1] = (uint8_t)sw;
	*rlen = 2;
}

hsm_rc
vcard_apdu(vcard *c, const uint8_t *cmd, size_t len, uint8_t *resp, size_t cap,
           size_t *rlen)
{
	struct apdu a;
	uint16_t sw;

	if (cap < VCARD_RESP_MAX)
		return hsm_fail(HSM_ERR_USAGE, "response buffer smaller than %d bytes", VCARD_RESP_MAX);
	if (!apdu_parse(cmd, len, &a)) {
		c->out_len = c->out_pos = 0;
		c->chain_active = 0;
		c->chain_len = 0;
		secure_wipe(c->s->chain, sizeof(c->s->chain));
		sw_only(SW_WRONG_LENGTH, resp, rlen);
		return HSM_OK;
	}
	if ((a.cla & ~0x10) != 0x00) {
		sw_only(SW_CLA_UNKNOWN, resp, rlen);
		return HSM_OK;
	}
	if (a.ins == 0xC0 && !(a.cla & 0x10)) {         /* GET RESPONSE */
		if (a.p1 != 0 || a.p2 != 0)
			sw_only(SW_WRONG_P1P2, resp, rlen);
		else if (c->out_pos >= c->out_len)
			sw_only(SW_CONDITIONS, resp, rlen);
		else
			page_out(c, a.ne, SW_OK, resp, rlen);
		return HSM_OK;
	}
	c->out_len = c->out_pos = 0;                    /* any other command drops it */

	/* Command chaining: collect the data, answer 9000 until the last part. */
	if (c->chain_active && (a.ins != c->chain_ins || a.p1 != c->chain_p1 ||
	    a.p2 != c->chain_p2)) {
		/* Another command: the unfinished chain is dropped, this one runs. */
		c->chain_active = 0;
		c->chain_len = 0;
		secure_wipe(c->s->chain, sizeof(c->s->chain));
	}
	if ((a.cla & 0x10) || c->chain_active) {
		if (!c->chain_active) {
			c->chain_active = 1;
			c->chain_ins = a.ins, c->chain_p1 = a.p1, c->chain_p2 = a.p2;
			c->chain_len = 0;
		}
		if (a.nc > VC_CHAIN_MAX - c->chain_len) {
			c->chain_active = 0;
			c->chain_len = 0;
			secure_wipe(c->s->chain, sizeof(c->s->chain));
			sw_only(SW_NO_MEMORY, resp, rlen);
			return HSM_OK;
		}
		if (a.nc)
			memcpy(c->s->chain + c->chain_len, a.data, a.nc);
		c->chain_len += a.nc;
		if (a.cla & 0x10) {
			sw_only(SW_OK, resp, rlen);
			return HSM_OK;
		}
		a.data = c->s->chain;
		a.nc = c->chain_len;
		c->chain_active = 0;
	}
	sw = dispatch(c, &a);
	if (a.data == c->s->chain) {
		secure_wipe(c->s->chain, c->chain_len);
		c->chain_len = 0;
	}
	if (sw == SW_OK && c->out_len > 0)
		page_out(c, a.ne, sw, resp, rlen);
	else {
		c->out_len = c->out_pos = 0;
		sw_only(sw, resp, rlen);
	}
	return HSM_OK;
}

void
vcard_power_event(vcard *c, vcard_power ev)
{
	(void)ev;
	vc_reset_volatile(c);
}
