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
hsm_rc cardkeyagree_new(piv *card, int pin_fd, const char *label, hsm_keyagree **out);

/* The public key of a slot from its certificate (new reference). */
hsm_rc cardsigner_slot_pub(piv *card, uint8_t slot, EVP_PKEY **pub);

#endif
