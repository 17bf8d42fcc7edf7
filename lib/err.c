/* SPDX-License-Identifier: BSD-2-Clause */
/* err.c - error texts, exit codes, and the per-thread context message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hsmadm/err.h"

static const struct {
	const char *text;
	int exit_code;
} err_table[HSM_ERR__COUNT] = {
	[HSM_OK]               = { "success", 0 },
	[HSM_ERR_USAGE]        = { "usage error", 2 },
	[HSM_ERR_NOMEM]        = { "out of memory", 1 },
	[HSM_ERR_IO]           = { "input/output error", 1 },
	[HSM_ERR_FORMAT]       = { "malformed input", 3 },
	[HSM_ERR_CRYPTO]       = { "cryptographic failure", 1 },
	[HSM_ERR_VERIFY]       = { "verification failed", 4 },
	[HSM_ERR_NOT_FOUND]    = { "not found", 5 },
	[HSM_ERR_EXISTS]       = { "already exists", 5 },
	[HSM_ERR_STATE]        = { "not allowed in the current state", 6 },
	[HSM_ERR_CANCELLED]    = { "cancelled", 7 },
	[HSM_ERR_TIMEOUT]      = { "timed out", 8 },
	[HSM_ERR_PCSC]         = { "smart card service error", 10 },
	[HSM_ERR_NO_CARD]      = { "no suitable card present", 11 },
	[HSM_ERR_CARD_REMOVED] = { "card removed", 12 },
	[HSM_ERR_CARD]         = { "card error", 13 },
	[HSM_ERR_PIN_WRONG]    = { "wrong PIN", 14 },
	[HSM_ERR_PIN_BLOCKED]  = { "PIN blocked", 15 },
	[HSM_ERR_AUTH]         = { "card security status not satisfied", 16 },
	[HSM_ERR_MODULE]       = { "crypto module unreachable or failed", 20 },
	[HSM_ERR_TLS]          = { "TLS failure", 21 },
	[HSM_ERR_TRUST]        = { "peer not trusted", 22 },
	[HSM_ERR_REFUSED]      = { "refused by the crypto module", 23 },
	[HSM_ERR_QUORUM]       = { "not enough signatures", 24 },
	[HSM_ERR_REPLAY]       = { "command already applied or out of sequence", 25 },
	[HSM_ERR_EXPIRED]      = { "command outside its time window", 26 },
	[HSM_ERR_DIVERGED]     = { "domain group left partly applied", 27 },
	[HSM_ERR_LOCKED]       = { "in use by another process", 28 },
	[HSM_ERR_AUDIT]        = { "evidence log failed verification", 30 },
	[HSM_ERR_INTERNAL]     = { "internal error", 70 },
};

static _Thread_local char err_msg[1024];
static _Thread_local hsm_rc err_code;

const char *
hsm_strerror(hsm_rc rc)
{
	if ((unsigned)rc >= HSM_ERR__COUNT || err_table[rc].text == NULL)
		return "unknown error";
	return err_table[rc].text;
}

int
hsm_exit_code(hsm_rc rc)
{
	if ((unsigned)rc >= HSM_ERR__COUNT)
		return 70;
	return err_table[rc].exit_code;
}

hsm_rc
hsm_fail(hsm_rc rc, const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof(err_msg)];

	/* Callers add context with hsm_fail(rc, "x: %s", hsm_errmsg()): the
	 * argument is this slot itself, so format aside and copy it in after
	 * (an overlapping vsnprintf is undefined and garbles the text). */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(err_msg, msg, strlen(msg) + 1);
	err_code = rc;
	return rc;
}

hsm_rc
hsm_fail_wrap(hsm_rc rc, const char *fmt, ...)
{
	char prefix[512], old[sizeof(err_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (err_msg[0] == '\0')
		snprintf(old, sizeof(old), "%s", hsm_strerror(rc));
	else
		memcpy(old, err_msg, sizeof(old));
	/* A message longer than the slot is cut at its end, on purpose; using
	 * the result keeps gcc's -Wformat-truncation (Debug builds) quiet. */
	if (snprintf(err_msg, sizeof(err_msg), "%s: %s", prefix, old) < 0)
		err_msg[0] = '\0';
	err_code = rc;
	return rc;
}

const char *
hsm_errmsg(void)
{
	if (err_msg[0] == '\0')
		return hsm_strerror(err_code);
	return err_msg;
}

hsm_rc
hsm_errcode(void)
{
	return err_code;
}

void
hsm_err_clear(void)
{
	err_msg[0] = '\0';
	err_code = HSM_OK;
}
