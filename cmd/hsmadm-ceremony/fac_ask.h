/* SPDX-License-Identifier: BSD-2-Clause */
/* fac_ask.h - the runner's questions to the room (fac_ask.c). */
#ifndef HSMADM_FAC_ASK_H
#define HSMADM_FAC_ASK_H

#include <stddef.h>

/* Print q and read one line into buf (cap > 0), its newline removed; "" at
 * end of input. GNU readline when standard input and output are a terminal,
 * fgets otherwise. Never for a PIN: nothing asked here is secret. */
void fac_ask(const char *q, char *buf, size_t cap);

#endif
