/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vcard.h - hsmadm-vcard: a software PIV card (SP 800-73-4 plus the YubiKey 5
 * extensions) for tests, rehearsals and the demo. It is an EMULATOR: its card
 * file holds the PIN, PUK, management key and private keys in clear.
 *
 * Three parts, so that each can be tested alone:
 *   - the card state and its file (vcard_create/load/save/free, vcard_show_json);
 *   - the APDU handler vcard_apdu(): a pure function of (state, command) that
 *     updates the state and writes the response; no I/O, so unit tests and the
 *     fuzzer drive it directly;
 *   - the vpcd client loop vcard_run(): connects to the vpcd reader driver as
 *     the virtual card, answers control messages and APDUs, and saves the state
 *     after every APDU that changed it.
 * The card file layout is documented in docs/vcard.md.
 */
#ifndef HSMADM_VCARD_H
#define HSMADM_VCARD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/err.h"

typedef struct vcard vcard;

/* Largest response vcard_apdu() writes: 256 data bytes + SW1 SW2. */
#define VCARD_RESP_MAX 258

/* Power events from the reader (vpcd control bytes 00/01/02). All of them drop
 * the volatile state: PIN verified, management key authenticated, chaining,
 * pending GET RESPONSE data. */
typedef enum vcard_power {
	VCARD_POWER_OFF = 0,
	VCARD_POWER_ON = 1,
	VCARD_POWER_RESET = 2
} vcard_power;

/* A new card with the factory defaults of a new YubiKey 5: PIN 123456, PUK
 * 12345678, 3 tries each, 3DES management key 0102..08 x3, version 5.4.3, no
 * keys and objects but the attestation key (F9) and its self-signed
 * certificate (5FFF01). serial 0 picks a random 8-digit serial. */
hsm_rc vcard_new(uint32_t serial, vcard **out);
/* Read a card file (strict: unknown or malformed fields are HSM_ERR_FORMAT). */
hsm_rc vcard_load(const char *path, vcard **out);
/* The same from n bytes of JSON text (for tests and the fuzzer). */
hsm_rc vcard_parse(const char *text, size_t n, vcard **out);
/* Write the card file atomically (temp file, fsync, rename, fsync of the
 * folder), mode 0600. With excl, refuse to replace an existing file. */
hsm_rc vcard_save(vcard *c, const char *path, int excl);
void vcard_free(vcard **c);

/* Take the run lock of a card file (an flock on "<path>.lock", kept until
 * the process ends), so that two hsmadm-vcard processes never serve and save
 * the same card. HSM_ERR_LOCKED if another process has it. */
hsm_rc vcard_lock(const char *path, int *fd);

/* Non-secret summary (serial, version, tries, slots with public keys and
 * policies, object tags and sizes). Caller owns *out. */
hsm_rc vcard_show_json(const vcard *c, json_t **out);

/* The ATR: YubiKey 5 (T=1), so clients treat the card as a YubiKey. */
size_t vcard_atr(const uint8_t **atr);

void vcard_power_event(vcard *c, vcard_power ev);

/* Process one command APDU (short or extended, any ISO case). Always writes a
 * response of 2..VCARD_RESP_MAX bytes ending in SW1 SW2 into resp. Returns
 * HSM_OK, or HSM_ERR_USAGE if resp is too small (then nothing happened). */
hsm_rc vcard_apdu(vcard *c, const uint8_t *cmd, size_t len,
                  uint8_t *resp, size_t cap, size_t *rlen);

/* 1 if a persistent part (counters, PIN, keys, objects) changed since the
 * last vcard_clear_dirty(). */
int vcard_dirty(const vcard *c);
void vcard_clear_dirty(vcard *c);

/* Insert the card into the vpcd reader at host:port and serve it until *stop
 * becomes non-zero. Reconnects when the driver goes away. After each APDU
 * that changed the card, saves it to path (if path is not NULL) before
 * answering. quiet: no progress messages on stderr. */
hsm_rc vcard_run(vcard *c, const char *path, const char *host, uint16_t port,
                 volatile sig_atomic_t *stop, int quiet);

#endif
