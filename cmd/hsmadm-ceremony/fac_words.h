/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_words.h - a script command split into words: words are separated by
 * one space; a word in double quotes may hold spaces (no escapes, no quote
 * inside). No shell ever sees a script's command, and the characters a
 * shell would act on ($ ` ; | & < > \) are refused, so that a printed
 * command means the same to a reader as to the runner.
 */
#ifndef HSMADM_FAC_WORDS_H
#define HSMADM_FAC_WORDS_H

#include <stddef.h>
#include "hsmadm/err.h"

hsm_rc fsc_words(const char *line, char ***words, size_t *n);
void   fsc_words_free(char **words, size_t n);
/* Every placeholder in one word well-formed (fac_script.c); in_each as for
 * fsc_check_placeholder. */
hsm_rc fsc_check_placeholder_word(const char *word, const char *in_each);

#endif
