/* SPDX-License-Identifier: BSD-2-Clause */
/* vcard_int.h - the card state shared by the vcard .c files (not installed). */
#ifndef HSMADM_VCARD_INT_H
#define HSMADM_VCARD_INT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/vcard.h"

/* PIV algorithm identifiers (SP 800-78-4, YubiKey). */
#define VC_ALG_3DES     0x03
#define VC_ALG_AES128   0x08
#define VC_ALG_AES192   0x0A
#define VC_ALG_AES256   0x0C
#define VC_ALG_RSA1024  0x06
#define VC_ALG_RSA2048  0x07
#define VC_ALG_P256     0x11
#define VC_ALG_P384     0x14

#define VC_POLICY_DEFAULT 0
#define VC_PIN_NEVER   1
#define VC_PIN_ONCE    2
#define VC_PIN_ALWAYS  3
#define VC_TOUCH_NEVER  1
#define VC_TOUCH_ALWAYS 2
#define VC_TOUCH_CACHED 3

#define VC_ORIGIN_GENERATED 1
#define VC_ORIGIN_IMPORTED  2

#define VC_NSLOTS     25      /* 9A 9C 9D 9E 82..95 F9 */
#define VC_OBJ_MAX    3063    /* libykpiv CB_OBJ_MAX: object contents */
#define VC_OBJ_COUNT  64      /* objects on one card */
#define VC_CHAIN_MAX  8192    /* bytes of a chained command */
#define VC_OUT_MAX    4096    /* bytes of one response before 61xx paging */
#define VC_PIN_LEN    8

#define VC_DEFAULT_PIN   "123456"
#define VC_DEFAULT_PUK   "12345678"
#define VC_DEFAULT_TRIES 3

struct vcard_key {
	uint8_t slot;             /* 0 = empty */
	uint8_t alg;              /* VC_ALG_P256 / VC_ALG_P384 */
	uint8_t pin_policy;       /* VC_PIN_* (never 0 once stored) */
	uint8_t touch_policy;     /* VC_TOUCH_* */
	uint8_t origin;           /* VC_ORIGIN_* */
	EVP_PKEY *pkey;
};

struct vcard_obj {
	uint32_t tag;             /* 5FC1xx, 5FFFxx */
	uint8_t *data;            /* contents of the 53 wrapper */
	size_t len;
};

/* Everything secret lives in one locked buffer. */
struct vcard_secrets {
	uint8_t pin[VC_PIN_LEN];  /* ASCII, 0xFF padded */
	uint8_t puk[VC_PIN_LEN];
	uint8_t mgm[32];
	size_t mgm_len;
	uint8_t witness[16];      /* R of a mutual authentication in progress */
	uint8_t challenge[16];    /* C of an external authentication in progress */
	uint8_t chain[VC_CHAIN_MAX];
};

struct vcard {
	uint32_t serial;
	uint8_t version[3];
	uint8_t pin_max, pin_left, puk_max, puk_left;
	uint8_t mgm_alg;
	hsm_secbuf *secbuf;
	struct vcard_secrets *s;  /* = secbuf->data */
	struct vcard_key keys[VC_NSLOTS];
	struct vcard_obj objs[VC_OBJ_COUNT];
	size_t nobjs;
	int dirty;

	/* Volatile: dropped on power events. */
	int pin_ok;               /* PIN verified */
	int pin_fresh;            /* PIN verified and not yet used by an "always" key */
	int mgm_ok;               /* 9B authenticated */
	int witness_pending;
	int challenge_pending;
	int chain_active;
	uint8_t chain_ins, chain_p1, chain_p2;
	size_t chain_len;
	uint8_t out[VC_OUT_MAX];  /* response data waiting for GET RESPONSE */
	size_t out_len, out_pos;
};

/* vcard_state.c */
/* vcard_new(), optionally without the attestation key (the fuzzer). */
hsm_rc vc_new(uint32_t serial, int attest, vcard **out);
void vc_reset_volatile(vcard *c);
/* Restore factory PIN/PUK/tries/management key (keys and objects untouched). */
void vc_factory_credentials(vcard *c);
/* Wipe all keys and objects; with keep_attest, not the attestation key (F9)
 * and its certificate (5FFF01), as a YubiKey RESET does. */
void vc_wipe_keys_objects(vcard *c, int keep_attest);
int vc_slot_index(uint8_t slot);            /* -1 if not a key slot */
uint8_t vc_default_pin_policy(uint8_t slot);
struct vcard_obj *vc_obj_find(vcard *c, uint32_t tag);
/* Replace, add (len > 0) or delete (len == 0) an object. */
hsm_rc vc_obj_put(vcard *c, uint32_t tag, const uint8_t *data, size_t len);
size_t vc_mgm_keylen(uint8_t alg);          /* 0 if not a symmetric alg */
/* 1 if the PIN (80), PUK (81) or management key (9B) is the factory one. */
int vc_ref_is_default(const vcard *c, uint8_t ref);

/* vcard_attest.c */
/* A new attestation key in F9 and its self-signed certificate in 5FFF01. */
hsm_rc vc_attest_init(vcard *c);
/* DER certificate for the generated key in slot, signed by the F9 key.
 * HSM_ERR_NOT_FOUND: no key (or no F9); HSM_ERR_STATE: imported key. */
hsm_rc vc_attest(vcard *c, uint8_t slot, uint8_t *out, size_t cap, size_t *n);

/* vcard_key.c: the card's own cryptography, on OpenSSL 3 EVP. */
hsm_rc vk_generate(uint8_t alg, EVP_PKEY **out);
hsm_rc vk_from_scalar(uint8_t alg, const uint8_t *d, size_t n, EVP_PKEY **out);
hsm_rc vk_alg(EVP_PKEY *k, uint8_t *alg);
size_t vk_field_len(uint8_t alg);           /* 32 / 48, 0 if not EC */
/* Uncompressed point 04||X||Y into pt (cap bytes). */
hsm_rc vk_point(EVP_PKEY *k, uint8_t *pt, size_t cap, size_t *n);
hsm_rc vk_sign(EVP_PKEY *k, const uint8_t *dg, size_t n, uint8_t *sig, size_t cap,
               size_t *siglen);
/* ECDH with a peer's uncompressed point: the x-coordinate. */
hsm_rc vk_ecdh(EVP_PKEY *k, uint8_t alg, const uint8_t *pt, size_t n,
               uint8_t *out, size_t cap, size_t *outlen);
hsm_rc vk_to_pem(EVP_PKEY *k, char **pem);  /* PKCS#8, malloc'ed; wipe+free */
hsm_rc vk_from_pem(const char *pem, EVP_PKEY **out);
/* One block of the management-key cipher (3DES or AES, ECB). */
hsm_rc vk_block(uint8_t alg, const uint8_t *key, size_t keylen, int encrypt,
                const uint8_t *in, uint8_t *out);
size_t vk_block_len(uint8_t alg);
hsm_rc vk_random(uint8_t *out, size_t n);

#endif
