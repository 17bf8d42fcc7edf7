/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tsahttp.h - POST an RFC 3161 query to a time-stamping authority over
 * HTTP (http://host[:port]/path) and return the DER reply (malloc'ed).
 * HSM_ERR_IO (no connection), HSM_ERR_REFUSED (HTTP status not 200),
 * HSM_ERR_FORMAT (not a timestamp-reply answer).
 */
#ifndef HSMADM_AUDIT_TSAHTTP_H
#define HSMADM_AUDIT_TSAHTTP_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

hsm_rc tsa_http_post(const char *url, const uint8_t *query, size_t qlen, int timeout_ms,
                     uint8_t **reply, size_t *rlen);

#endif
