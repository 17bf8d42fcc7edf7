/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ecdsa_lows.h - the one accepted form of an ECDSA signature's s (low-S).
 *
 * (r, s) and (r, n - s) are both valid ECDSA signatures of one message; a
 * verifier that accepts both lets anyone turn a signature into a second,
 * different one (another command file, another digest of the evidence
 * record that holds it). hsmadm writes only the form with s <= n/2 and
 * refuses the other where commands are verified (docs/crypto.md). The
 * functions live in lib/crypto.c with the rest of ECDSA.
 */
#ifndef HSMADM_ECDSA_LOWS_H
#define HSMADM_ECDSA_LOWS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "hsmadm/err.h"

/* HSM_OK if the canonical DER signature sig has s <= n/2 for k's curve;
 * HSM_ERR_FORMAT if s > n/2 ("high-S") or the DER is not canonical. */
hsm_rc crypto_ecdsa_check_low_s(EVP_PKEY *k, const uint8_t *sig, size_t siglen);

/* Replace a high-S signature by its low-S form (r, n - s), in place: *sig is
 * malloc'ed memory and may be reallocated (the length can change). A low-S
 * signature is left as it is. HSM_ERR_FORMAT (nothing changed) if sig is not
 * a canonical DER signature. For signatures made elsewhere (a card). */
hsm_rc crypto_ecdsa_make_low_s(EVP_PKEY *k, uint8_t **sig, size_t *siglen);

#endif
