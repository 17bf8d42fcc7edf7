/* SPDX-License-Identifier: BSD-2-Clause */
/* fac_exec.h - running a script's command, a rehearsal's answers, the cards
 * in the readers (fac_exec.c). */
#ifndef HSMADM_FAC_EXEC_H
#define HSMADM_FAC_EXEC_H

#include <stddef.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"
#include "fac_script.h"

/* A rehearsal's answers: "pin admin.1" / "answer factory-pin" keys, their
 * values in locked memory (never printed). */
typedef struct fac_answers {
	hsm_secbuf *buf;
	char      **key;
	size_t     *off, *len;
	size_t      n;
} fac_answers;

hsm_rc fac_answers_load(const char *path, fac_answers *a);
void   fac_answers_free(fac_answers *a);

/* Run c and wait for it. a NULL: a real ceremony (the descriptor options
 * left out; the command asks on the terminal). With a: each feed's values
 * on a pipe, and asked[i] = how many of feed i's lines the command read. */
hsm_rc fac_exec(const fsc_cmd *c, const fac_answers *a, int *exit_code, size_t *asked);

/* The command line c runs with, for the room to read (into out, cap bytes):
 * as fac_exec runs it with answers (feeds 1) or without (feeds 0), words
 * with spaces or quotes in single quotes. No value fed on a pipe is in it. */
void   fac_cmd_text(const fsc_cmd *c, int feeds, char *out, size_t cap);

/* fsc_ctx.card_id for the runner: the card id from the card in reader. */
hsm_rc fac_card_id(void *arg, const char *reader, char out[33]);
/* For an "hsmadm-card init" command: *state 0 (another command, or the
 * card in its reader is not initialized), 1 (initialized already as the
 * command would: role, holder, backup-of), 2 (initialized otherwise); desc
 * says what the card is. */
hsm_rc fac_card_init_state(const fsc_cmd *c, int *state, char *desc, size_t cap);
/* 1 in *is_virtual if the card in reader is an hsmadm-vcard. */
hsm_rc fac_card_is_virtual(const char *reader, int *is_virtual);

#endif
