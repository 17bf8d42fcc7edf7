/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * secbuf.h - the one container for secrets: PINs, key parts, master keys,
 * shared secrets. Memory is mmap'ed, mlock'ed, excluded from core dumps
 * (MADV_DONTDUMP) and wiped with explicit_bzero before it is unmapped.
 * There is deliberately no function that formats a secbuf as text.
 */
#ifndef HSMADM_SECBUF_H
#define HSMADM_SECBUF_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

typedef struct hsm_secbuf {
	uint8_t *data;  /* cap bytes, locked */
	size_t   len;   /* bytes in use */
	size_t   cap;
} hsm_secbuf;

/* Process set-up for any command that handles a secret: core dumps off
 * (RLIMIT_CORE 0, PR_SET_DUMPABLE 0) and OpenSSL's secure heap on. Call first. */
hsm_rc secure_init(void);

/* A new zeroed buffer of cap bytes, len 0. */
hsm_rc secbuf_new(size_t cap, hsm_secbuf **out);
/* A new buffer holding a copy of n bytes. */
hsm_rc secbuf_from(const void *p, size_t n, hsm_secbuf **out);
/* Wipe, unlock, free, and set *sb to NULL. NULL-safe. */
void secbuf_free(hsm_secbuf **sb);

/* Wipe any memory (compiler may not elide). */
void secure_wipe(void *p, size_t n);
/* Constant-time comparison: 1 if equal, 0 if not. */
int secure_equal(const void *a, const void *b, size_t n);

/* Read a secret line from the terminal without echo (prompt on stderr), or,
 * if fd >= 0, one line from that file descriptor. The newline is removed.
 * max is the largest accepted length; longer input is an error. */
hsm_rc secure_read_line(const char *prompt, int fd, size_t max, hsm_secbuf **out);

#endif
