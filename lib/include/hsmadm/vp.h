/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vp.h - verification patterns of master keys (MKVP) and key parts (KPVP),
 * as EP11 computes them: SHA-256(0x01 || key) with its last 4 bytes zeroed.
 * Keys and parts are 32 bytes (AES-256).
 */
#ifndef HSMADM_VP_H
#define HSMADM_VP_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

#define HSM_KEY_LEN 32
#define HSM_VP_LEN  32
/* Printed form: first 16 bytes, 8 groups of 4 hex digits separated by spaces. */
#define HSM_VP_TEXT_LEN 40  /* 8*4 + 7 spaces + NUL */

hsm_rc vp_compute(const uint8_t key[HSM_KEY_LEN], uint8_t vp[HSM_VP_LEN]);
/* acc ^= part (combining n-of-n parts). */
void   vp_xor_into(uint8_t acc[HSM_KEY_LEN], const uint8_t part[HSM_KEY_LEN]);
void   vp_format(const uint8_t vp[HSM_VP_LEN], char out[HSM_VP_TEXT_LEN]);
/* A pattern typed by a person: hex digits in either case, grouped by spaces
 * or dashes or not, either the full pattern (32 bytes) or the printed form
 * (its first 16 bytes, as vp_format shows it). *n gets 32 or 16; anything
 * else is HSM_ERR_USAGE. */
hsm_rc vp_parse(const char *text, uint8_t out[HSM_VP_LEN], size_t *n);
/* Constant-time: 1 if equal. */
int    vp_equal(const uint8_t a[HSM_VP_LEN], const uint8_t b[HSM_VP_LEN]);

#endif
