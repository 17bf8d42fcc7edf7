/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * envelope.h - key-part envelopes (DESIGN §6): a 32-byte key part sealed to
 * one custodian card's slot-9D public key (P-384), stored on that card.
 *
 * ECIES: an ephemeral P-384 key, ECDH with the card key (done on the card
 * when opening), HKDF-SHA-384 (salt = the ephemeral point, info = the label
 * "hsmadm envelope v1" followed by the header), AES-256-GCM with the header
 * as additional data. The header binds the card id, the part id and the
 * KPVP, so an envelope cannot be moved to another part id or card id, nor
 * its pattern changed, without the tag failing.
 *
 * Compact binary form (fits a PIV data object with room to spare):
 *   "HKPE" | u8 version (1)
 *   | u8 n | card id (n = 1..64 printable ASCII)
 *   | u8 n | part id (n = 1..64 printable ASCII)
 *   | KPVP (32)                       <- header = everything up to here
 *   | ephemeral point 0x04||X||Y (97) | GCM IV (12) | ciphertext (32) | tag (16)
 * Total 4+1+(1+n)+(1+m)+32+97+12+32+16 bytes, at most ENVELOPE_MAX_LEN.
 * The whole input must be consumed: trailing bytes are malformed.
 */
#ifndef HSMADM_ENVELOPE_H
#define HSMADM_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/signer.h"
#include "hsmadm/vp.h"

#define ENVELOPE_ID_MAX   64
#define ENVELOPE_MIN_LEN  (4 + 1 + 2 + 2 + HSM_VP_LEN + 97 + 12 + HSM_KEY_LEN + 16)
#define ENVELOPE_MAX_LEN  (ENVELOPE_MIN_LEN + 2 * (ENVELOPE_ID_MAX - 1))

/* What anyone can read from an envelope without the card: */
typedef struct envelope_info {
	char    card_id[ENVELOPE_ID_MAX + 1];
	char    part_id[ENVELOPE_ID_MAX + 1];
	uint8_t kpvp[HSM_VP_LEN];
} envelope_info;

/* 1 if s is a valid card or part id (1..64 printable ASCII, no space). */
int envelope_id_valid(const char *s);

/* Seal part (32 bytes) for the card whose 9D public key is card_9d_pub.
 * kpvp must be the part's pattern (checked: HSM_ERR_VERIFY if not), so a
 * copy can never carry another pattern than its source. *out is malloc'ed
 * (holds nothing secret), *outlen <= ENVELOPE_MAX_LEN. */
hsm_rc envelope_seal(const hsm_secbuf *part, EVP_PKEY *card_9d_pub,
                     const char *card_id, const char *part_id,
                     const uint8_t kpvp[HSM_VP_LEN],
                     uint8_t **out, size_t *outlen);

/* Read the public header (strict: HSM_ERR_FORMAT with the reason). */
hsm_rc envelope_parse(const uint8_t *buf, size_t len, envelope_info *info);

/* Open with the card's 9D key-agreement party (asks for the PIN if it is a
 * card). The card id and part id are checked against the expected ones
 * BEFORE the card is used, so a wrong card or part costs no PIN entry
 * (HSM_ERR_VERIFY, message names both). A failed tag (another card key,
 * tampering) is HSM_ERR_VERIFY; so is a part whose pattern does not match
 * the KPVP in the header. On success *part is a new 32-byte secbuf and kpvp
 * (may be NULL) gets the verified pattern. */
hsm_rc envelope_open(const uint8_t *buf, size_t len, hsm_keyagree *card_9d,
                     const char *expect_card_id, const char *expect_part_id,
                     hsm_secbuf **part, uint8_t kpvp[HSM_VP_LEN]);

#endif
