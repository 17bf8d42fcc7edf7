/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cardsigner.h - a connected PIV card as an hsm_signer (slot 9C) and as an
 * hsm_keyagree (slot 9D), for the group engine, the evidence log and the
 * ceremony code (signer.h).
 *
 * The public key comes from the slot's certificate object. The PIN is asked
 * right before each private-key operation (the keys have PIN policy
 * "always"): from the terminal without echo, or one line from pin_fd, and
 * wiped straight after the card has seen it. The card stays owned by the
 * caller and must outlive the signer.
 */
#ifndef HSMADM_CARDSIGNER_H
#define HSMADM_CARDSIGNER_H

#include "hsmadm/err.h"
#include "hsmadm/signer.h"
#include "hsmadm/piv.h"

/* pin_fd < 0: ask on the terminal. label may be NULL ("card in <reader>"). */
hsm_rc cardsigner_new(piv *card, int pin_fd, const char *label, hsm_signer **out);

/*
 * The PINs one run keeps, per card, so that one decision that takes several
 * signatures of a card (commit and activate a key) costs its holder one PIN.
 * A PIN is kept only after the card accepted it, in locked memory, and is
 * wiped when the card refuses it or the table is freed (at the end of the
 * command). Never shared between programs or written anywhere.
 */
typedef struct cardsigner_pins cardsigner_pins;
hsm_rc cardsigner_pins_new(cardsigner_pins **out);
void   cardsigner_pins_free(cardsigner_pins **p);
/* A signer whose PIN comes from pins (for card_id) when it holds one. */
hsm_rc cardsigner_new_cached(piv *card, int pin_fd, const char *label, const char *card_id,
                             cardsigner_pins *pins, hsm_signer **out);
hsm_rc cardkeyagree_new(piv *card, int pin_fd, const char *label, hsm_keyagree **out);

/* The public key of a slot from its certificate (new reference). */
hsm_rc cardsigner_slot_pub(piv *card, uint8_t slot, EVP_PKEY **pub);

#endif
