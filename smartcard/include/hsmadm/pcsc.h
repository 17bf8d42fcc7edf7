/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pcsc.h - the PC/SC transport (libpcsclite): readers, cards, waiting for a
 * card, and exchanging APDUs with it.
 *
 * What it hides: T=1 short APDUs, command chaining (CLA | 0x10, 255-byte
 * chunks), GET RESPONSE on 61xx, a retry with the right Le on 6Cxx, PC/SC
 * transactions, and the many PC/SC return codes. A card that is pulled or
 * reset during an exchange always gives HSM_ERR_CARD_REMOVED with a message
 * naming the reader, never a crash or a hang. PCSCLITE_CSOCK_NAME (a private
 * pcscd) is honoured by libpcsclite itself.
 *
 * Secret command data (a PIN) passes through pcsc_apdu() unchanged; the
 * transport's own copies are wiped after each exchange, and the response
 * goes into a caller buffer (which may be a secbuf's data).
 */
#ifndef HSMADM_PCSC_H
#define HSMADM_PCSC_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

typedef struct pcsc_ctx pcsc_ctx;
typedef struct pcsc_card pcsc_card;

typedef struct pcsc_reader {
	char    *name;
	int      card_present;   /* 1 if a card is in the reader */
	int      in_use;         /* 1 if another program holds it exclusively */
	uint8_t  atr[33];
	size_t   atrlen;
} pcsc_reader;

/* Largest response pcsc_apdu() can assemble (a PIV object is <= ~3 KB). */
#define PCSC_MAX_RESPONSE 8192

hsm_rc pcsc_open(pcsc_ctx **out);
void   pcsc_close(pcsc_ctx **ctx);

/* All readers with their card state. No reader is not an error (n = 0). */
hsm_rc pcsc_list(pcsc_ctx *ctx, pcsc_reader **out, size_t *n);
void   pcsc_list_free(pcsc_reader **list, size_t n);

/* Resolve a reader given by the user: the exact name, or a case-insensitive
 * part of exactly one reader's name. NULL pattern: the only reader that holds
 * a card (HSM_ERR_USAGE if there are several, HSM_ERR_NO_CARD if none). */
hsm_rc pcsc_find_reader(pcsc_ctx *ctx, const char *pattern, char **name);

/* Decide whether a present card is the wanted one: return HSM_OK to take it,
 * HSM_ERR_NO_CARD to keep waiting (a message saying why is optional), any
 * other code to stop waiting with that error. */
typedef hsm_rc (*pcsc_card_pred)(pcsc_ctx *ctx, const char *reader, void *arg);

/* Wait until a card accepted by pred (NULL: any card) is present in a reader
 * whose name contains `reader` (NULL: any reader, including readers plugged in
 * while waiting). Prints prompt on stderr once if no card is there yet.
 * timeout_ms < 0 waits forever. HSM_ERR_TIMEOUT after the timeout. */
hsm_rc pcsc_wait_card(pcsc_ctx *ctx, const char *reader, pcsc_card_pred pred, void *arg,
                      const char *prompt, int timeout_ms, char **reader_out);

/* Connect (shared, T=1). */
hsm_rc pcsc_connect(pcsc_ctx *ctx, const char *reader, pcsc_card **out);
/* Disconnect; resets the card if pcsc_reset_on_close() was called, so no
 * PIN or management-key state is left behind for other programs. */
void   pcsc_disconnect(pcsc_card **card);
void   pcsc_reset_on_close(pcsc_card *card);
const char *pcsc_card_reader(const pcsc_card *card);
/* ATR of the connected card. */
const uint8_t *pcsc_card_atr(const pcsc_card *card, size_t *len);

/* Hold the card for a multi-APDU operation. Nestable. If the card was reset
 * by another program since the last exchange, *was_reset (may be NULL) is set
 * to 1 and the caller must restore its state (re-SELECT). */
hsm_rc pcsc_begin(pcsc_card *card, int *was_reset);
void   pcsc_end(pcsc_card *card);

/* Send one command and return the complete response data and status word.
 * data may be longer than 255 bytes (chained). The response data goes into
 * out (cap bytes); more is HSM_ERR_FORMAT. out may be NULL if cap is 0, then
 * any response data is an error. Only transport failures are errors here:
 * a status word other than 9000 is returned in *sw with HSM_OK. */
hsm_rc pcsc_apdu(pcsc_card *card, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                 const uint8_t *data, size_t n, uint8_t *out, size_t cap, size_t *outlen,
                 uint16_t *sw);

/* Number of APDUs sent on this connection (GET RESPONSE and chain parts
 * included): for benchmarks. */
unsigned long pcsc_apdu_count(const pcsc_card *card);

/* Map a PC/SC return code to hsm_rc with a message naming what was being
 * done and the reader. Exposed for tests. */
hsm_rc pcsc_rc(long rv, const char *what, const char *reader);

#endif
