/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * err.h - the one error enum of hsmadm, its text, and its process exit code.
 *
 * Every fallible function returns an hsm_rc. On failure it also leaves a
 * plain-language context message ("card in reader X: wrong PIN, 2 tries left")
 * in a per-thread slot, set with hsm_fail(). Callers that add context wrap it
 * with hsm_failf_wrap(). Commands print hsm_errmsg() and exit with
 * hsm_exit_code(rc). docs/exit-codes.md lists the codes.
 */
#ifndef HSMADM_ERR_H
#define HSMADM_ERR_H

#include <stddef.h>

typedef enum hsm_rc {
	HSM_OK = 0,
	HSM_ERR_USAGE,          /* bad command line or API misuse */
	HSM_ERR_NOMEM,          /* allocation or mlock failed */
	HSM_ERR_IO,             /* file, socket or pipe error */
	HSM_ERR_FORMAT,         /* malformed input: JSON, hex, TLV, frame, file */
	HSM_ERR_CRYPTO,         /* a cryptographic primitive failed */
	HSM_ERR_VERIFY,         /* signature, MAC, pattern or chain did not verify */
	HSM_ERR_NOT_FOUND,      /* no such object, admin, domain, module, record */
	HSM_ERR_EXISTS,         /* already there (initialized card, admin, part) */
	HSM_ERR_STATE,          /* operation not allowed in the current state */
	HSM_ERR_CANCELLED,      /* the user said no, or input ended */
	HSM_ERR_TIMEOUT,        /* waited too long (card, module, lock) */
	HSM_ERR_PCSC,           /* PC/SC service error, no reader */
	HSM_ERR_NO_CARD,        /* no (matching) card present */
	HSM_ERR_CARD_REMOVED,   /* the card went away during an operation */
	HSM_ERR_CARD,           /* card answered with an error status word */
	HSM_ERR_PIN_WRONG,      /* wrong PIN or PUK; tries left in the message */
	HSM_ERR_PIN_BLOCKED,    /* PIN or PUK blocked */
	HSM_ERR_AUTH,           /* security status not satisfied, mgmt key wrong */
	HSM_ERR_MODULE,         /* module unreachable or died; protocol error */
	HSM_ERR_TLS,            /* TLS handshake or certificate failure */
	HSM_ERR_TRUST,          /* peer not trusted (chain to pinned CA failed) */
	HSM_ERR_REFUSED,        /* module refused the command (reason in message) */
	HSM_ERR_QUORUM,         /* not enough valid signatures from distinct admins */
	HSM_ERR_REPLAY,         /* counter mismatch: command already applied or stale */
	HSM_ERR_EXPIRED,        /* outside the command's time window */
	HSM_ERR_DIVERGED,       /* a domain group is left partly applied */
	HSM_ERR_LOCKED,         /* resource locked by another process */
	HSM_ERR_AUDIT,          /* evidence log failed verification */
	HSM_ERR_INTERNAL,       /* a bug: should not happen */
	HSM_ERR__COUNT
} hsm_rc;

/* Short fixed text for a code ("wrong PIN"). Never NULL. */
const char *hsm_strerror(hsm_rc rc);

/* Process exit code for a code; see docs/exit-codes.md. */
int hsm_exit_code(hsm_rc rc);

/* Set this thread's context message (printf-style) and return rc. */
hsm_rc hsm_fail(hsm_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix the current message with more context ("module DC1-M01: ...") and
 * return rc unchanged. */
hsm_rc hsm_fail_wrap(hsm_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* This thread's last context message, or hsm_strerror text if none was set
 * since hsm_err_clear(). */
const char *hsm_errmsg(void);
/* The code that goes with hsm_errmsg(). */
hsm_rc hsm_errcode(void);
void hsm_err_clear(void);

#endif
