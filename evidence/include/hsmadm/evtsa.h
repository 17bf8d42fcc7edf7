/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evtsa.h - RFC 3161 time anchoring of a completed evidence log.
 *
 * The supervisor's completion proves who closed the log, not when: its time
 * is the writer's clock. A time-stamping authority (TSA) signs a token over
 * the log's head, and the token, recorded in the log as a log.timestamped
 * record after the completion, proves that the whole log existed at the
 * token's genTime. What is stamped is the SHA-256 of the completion record's
 * line (its head hash), hashed once more with the query's algorithm
 * (SHA-256 or SHA-384): the message imprint is H(head hash bytes).
 *
 * The exchange is offline (evidence/ opens no connection): evtsa_query
 * writes the query (DER TimeStampReq, as openssl ts -query makes: version
 * 1, the imprint, a 64-bit nonce, certReq) that any TSA answers;
 * evtsa_record checks the answer against that query (status granted, the
 * same imprint and nonce; and, given the TSA's CA, the token's signature and
 * certificate chain) and appends the record. The verifier checks every
 * log.timestamped record against the completion it covers and, given the
 * TSA CA (evlog_verify_opts.tsa_ca_file), the token itself.
 */
#ifndef HSMADM_EVTSA_H
#define HSMADM_EVTSA_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

/* body: seq and head_hash of the completion it covers, hash_alg ("sha256"
 * or "sha384"), token (base64 DER TimeStampToken), gen_time (RFC 3339 UTC),
 * tsa (the TSA's name as its token gives it). Only after the completion. */
#define EV_LOG_TIMESTAMPED "log.timestamped"

struct evtsa_info {
	long long seq;           /* the completion it covers */
	char      head_hash[65];
	char      hash_alg[8];
	char      gen_time[32];  /* "2026-12-05T13:45:00Z" */
	char      tsa[256];
	long long record_seq;    /* evtsa_record: the record appended */
	int       checked;       /* the token's signature and chain were checked */
};

/* The time-stamp query for the completion of the log at path (which must
 * end with its completion, or with time-stamps after it). hash_alg
 * "sha256" (NULL) or "sha384". *der is malloc'ed; info gets what it covers. */
hsm_rc evtsa_query(const char *path, const char *hash_alg, uint8_t **der, size_t *len,
                   struct evtsa_info *info);

/* Check the TSA's reply against the query (both DER) and the log's
 * completion, then append the log.timestamped record (under the writer's
 * lock). tsa_ca_file (PEM, may be NULL): also check the token's signature
 * and its chain to that CA before anything is written. HSM_ERR_VERIFY for a
 * reply that does not answer this query or is not granted, HSM_ERR_TRUST for
 * a token the CA does not vouch for; nothing is written then. */
hsm_rc evtsa_record(const char *path, const uint8_t *query, size_t qlen,
                    const uint8_t *reply, size_t rlen, const char *tsa_ca_file,
                    struct evtsa_info *info);

#endif
