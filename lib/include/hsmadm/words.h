/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * words.h - a digest as words people read aloud to each other: the PGP word
 * list. Byte i at an even position uses the two-syllable list, at an odd
 * position the three-syllable list.
 */
#ifndef HSMADM_WORDS_H
#define HSMADM_WORDS_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

/* Space-separated words for n bytes, malloc'ed. */
hsm_rc words_encode(const uint8_t *in, size_t n, char **out);
/* One word for byte b at position pos. */
const char *words_word(uint8_t b, size_t pos);

#endif
