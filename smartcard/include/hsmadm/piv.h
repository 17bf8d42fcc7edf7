/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * piv.h - the PIV card driver (SP 800-73-4 plus the YubiKey extensions).
 *
 * One function per card operation; APDU building, TLV parsing (tlv.h) and
 * status-word mapping stay inside. Status words become hsm_rc codes with a
 * plain message: 63Cx -> HSM_ERR_PIN_WRONG "wrong PIN: 2 tries left",
 * 6983 -> HSM_ERR_PIN_BLOCKED, 6982 -> HSM_ERR_AUTH, 6A82 -> HSM_ERR_NOT_FOUND,
 * and so on (piv_sw_rc).
 *
 * PINs, PUKs and management keys come in secbufs; the padded forms the card
 * needs are built in secbufs too and wiped. The well-known default 3DES
 * management key (01..08 x3) is refused unless allow_default is set.
 */
#ifndef HSMADM_PIV_H
#define HSMADM_PIV_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/crypto.h"
#include "hsmadm/pcsc.h"

typedef struct piv piv;

/* Key references. */
#define PIV_REF_PIN   0x80
#define PIV_REF_PUK   0x81
#define PIV_SLOT_AUTH 0x9A
#define PIV_SLOT_MGMT 0x9B
#define PIV_SLOT_SIGN 0x9C
#define PIV_SLOT_KM   0x9D
#define PIV_SLOT_CARD 0x9E

/* Algorithm identifiers. */
#define PIV_ALG_3DES   0x03
#define PIV_ALG_AES128 0x08
#define PIV_ALG_AES192 0x0A
#define PIV_ALG_AES256 0x0C
#define PIV_ALG_P256   0x11
#define PIV_ALG_P384   0x14

/* YubiKey PIN / touch policies (tags AA / AB of GENERATE). */
#define PIV_PINPOL_DEFAULT 0
#define PIV_PINPOL_NEVER   1
#define PIV_PINPOL_ONCE    2
#define PIV_PINPOL_ALWAYS  3
#define PIV_TOUCH_DEFAULT  0
#define PIV_TOUCH_NEVER    1

/* Objects. */
#define PIV_OBJ_CHUID     0x5FC102
#define PIV_OBJ_CERT_9A   0x5FC105
#define PIV_OBJ_CERT_9C   0x5FC10A
#define PIV_OBJ_CERT_9D   0x5FC10B
#define PIV_OBJ_CERT_9E   0x5FC101

/* Largest object content hsmadm reads or writes (libykpiv's limit). */
#define PIV_OBJ_MAX 3063

/* PIN/PUK length rules (YubiKey: 6..8 ASCII bytes). */
#define PIV_PIN_MIN 6
#define PIV_PIN_MAX 8

/* Connect to the card in reader and SELECT the PIV application.
 * HSM_ERR_NOT_FOUND if the card has no PIV application. */
hsm_rc piv_connect(pcsc_ctx *ctx, const char *reader, piv **out);
void   piv_free(piv **p);
pcsc_card *piv_pcsc(piv *p);
const char *piv_reader(const piv *p);

/* Hold the card for a sequence of operations (nestable); re-SELECTs if
 * another program reset the card meanwhile. */
hsm_rc piv_begin(piv *p);
void   piv_end(piv *p);

hsm_rc piv_select(piv *p);

/* Map a status word to a code and message. what names the operation
 * ("verifying the PIN"); ref (PIV_REF_PIN/PUK or 0) picks PIN/PUK wording. */
hsm_rc piv_sw_rc(uint16_t sw, const char *what, int ref);

/* VERIFY. Wrong: HSM_ERR_PIN_WRONG "wrong PIN: N tries left". */
hsm_rc piv_verify_pin(piv *p, const hsm_secbuf *pin);
/* Tries left for PIN or PUK without spending one. PIN: VERIFY with no data
 * (*verified set if it is verified now). PUK: the card offers no such query;
 * on YubiKeys >= 5.3 GET METADATA is used, else *tries = -1 (unknown).
 * 0 tries = blocked (returned as HSM_OK). */
hsm_rc piv_tries(piv *p, int ref, int *tries, int *verified);
/* CHANGE REFERENCE DATA for PIN or PUK. */
hsm_rc piv_change(piv *p, int ref, const hsm_secbuf *old, const hsm_secbuf *neu);
/* RESET RETRY COUNTER: new PIN with the PUK. */
hsm_rc piv_unblock(piv *p, const hsm_secbuf *puk, const hsm_secbuf *newpin);
/* Check a PIN/PUK's form: 6..8 printable ASCII. */
hsm_rc piv_pin_check(const hsm_secbuf *pin, int ref);

/* Management key (9B) mutual authentication. alg PIV_ALG_3DES/AES*; key of
 * 24/16/24/32 bytes. The default 3DES key is refused unless allow_default. */
hsm_rc piv_mgmt_auth(piv *p, uint8_t alg, const hsm_secbuf *key, int allow_default);
/* Parse a management key given as hex (48/32/64 hex digits) into a secbuf;
 * the algorithm follows from the length: 24 -> 3DES unless alg says AES192. */
hsm_rc piv_mgmt_key_parse(const hsm_secbuf *hex, hsm_secbuf **key);
int    piv_mgmt_key_is_default(const hsm_secbuf *key);

/* GENERATE ASYMMETRIC KEY PAIR on the card (needs piv_mgmt_auth). */
hsm_rc piv_generate(piv *p, uint8_t slot, hsm_curve curve, int pin_policy, int touch_policy,
                    EVP_PKEY **pub);
/* ECDSA with a slot key over a digest; DER signature out (malloc'ed). */
hsm_rc piv_sign(piv *p, uint8_t slot, hsm_curve curve, const uint8_t *dg, size_t dglen,
                uint8_t **sig, size_t *siglen);
/* ECDH with a slot key; the shared x-coordinate in a new secbuf. */
hsm_rc piv_ecdh(piv *p, uint8_t slot, hsm_curve curve, EVP_PKEY *peer, hsm_secbuf **shared);

/* GET DATA: the object's contents (inside tag 53), malloc'ed.
 * HSM_ERR_NOT_FOUND if the object is empty/absent. */
hsm_rc piv_get_data(piv *p, uint32_t obj, uint8_t **out, size_t *outlen);
/* PUT DATA (needs piv_mgmt_auth). n == 0 deletes the object. */
hsm_rc piv_put_data(piv *p, uint32_t obj, const uint8_t *data, size_t n);

/* Certificate objects (70 cert, 71 00, FE 00). */
hsm_rc piv_read_cert(piv *p, uint8_t slot, X509 **out);
hsm_rc piv_write_cert(piv *p, uint8_t slot, X509 *cert);
uint32_t piv_cert_object(uint8_t slot);   /* 0 for an unknown slot */

/* YubiKey extensions. */
hsm_rc piv_get_version(piv *p, uint8_t ver[3]);
hsm_rc piv_get_serial(piv *p, uint32_t *serial);
/* SET MANAGEMENT KEY (needs piv_mgmt_auth). */
hsm_rc piv_set_mgmkey(piv *p, uint8_t alg, const hsm_secbuf *key);
/* SET PIN RETRIES (needs piv_mgmt_auth and a verified PIN; resets PIN and PUK
 * to the defaults on a YubiKey). */
hsm_rc piv_set_pin_retries(piv *p, int pin_tries, int puk_tries);

/* The curve of a public key, as a PIV algorithm id (0 if not P-256/P-384). */
uint8_t piv_curve_alg(hsm_curve c);

#endif
