/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * moddriver.h - the group engine's view of one crypto module connection.
 * A driver is an ops table (info, query, apply, close) plus its context, so
 * that a hardware backend (for example EP11 through a host library) can be
 * added beside the hsmadm-simd TLS driver without touching the engine or
 * the commands (DESIGN §7).
 *
 * The JSON shapes are those of docs/formats/module-protocol.md: info as the
 * "info" result, a domain's public state as the "domain.query" result, and
 * a module-signed receipt (receipt.h) for every applied command.
 */
#ifndef HSMADM_MODDRIVER_H
#define HSMADM_MODDRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/admincmd.h"
#include "hsmadm/blob.h"
#include "hsmadm/err.h"

typedef struct moddrv moddrv;

struct moddrv_ops {
	/* {"module", "domains", "oa_cert", ...}; *out is a new reference. */
	hsm_rc (*info)(void *ctx, json_t **out);
	/* Public state of one domain (with "counter" and "state_digest"). */
	hsm_rc (*query)(void *ctx, unsigned domain, json_t **out);
	/* Apply a signed command to one domain; *receipt is the module-signed
	 * receipt (not yet verified: the engine verifies it). On refusal the
	 * module's code as hsm_rc and its message via hsm_fail. */
	hsm_rc (*apply)(void *ctx, unsigned domain, const admincmd *cmd, json_t **receipt);
	void   (*close)(void *ctx);
	/* The receipts the module kept for one domain with counter_before >=
	 * from_counter, oldest first (*out a new array; not verified: the
	 * engine verifies each). Read-only. Used to recover the receipt of a
	 * command whose answer was lost; may reconnect when the connection was
	 * lost. NULL: the backend keeps no receipts. */
	hsm_rc (*receipts)(void *ctx, unsigned domain, uint64_t from_counter, json_t **out);
};

/*
 * Several domains of one module in one request (docs/formats/module-protocol.md
 * §2.5): a module that waits or is far away is paid once per module, not
 * once per domain. res[k] is domains[k]'s own outcome: rc, and out (a new
 * reference: the state, the receipt, or the receipts array) or msg. The
 * call returns HSM_OK when the module answered (each res[k].rc says how its
 * domain went), else the transport failure, also copied into every res[k].
 */
#define MODDRV_MSG_MAX 1024
/* A domain's reservation of its next counter (module-protocol.md §2.7), as
 * a reserving query found it. */
typedef struct moddrv_resv {
	int       state;          /* 0: not asked, or the backend has none; 1: granted;
	                           * -1: not granted (held by another, or another counter) */
	char      digest[65];     /* the holder's command digest ("" when none) */
	long long expires_ms;     /* the holder's, from the answer */
} moddrv_resv;

typedef struct moddrv_result {
	hsm_rc      rc;
	json_t     *out;
	char        msg[MODDRV_MSG_MAX];
	moddrv_resv resv;
} moddrv_result;

struct moddrv_batch_ops {
	hsm_rc (*query)(void *ctx, const unsigned *domains, size_t n, moddrv_result *res);
	hsm_rc (*apply)(void *ctx, const unsigned *domains, size_t n, const admincmd *cmd,
	                moddrv_result *res);
	/* from[k]: from_counter for domains[k]; may reconnect like receipts. */
	hsm_rc (*receipts)(void *ctx, const unsigned *domains, const uint64_t *from, size_t n,
	                   moddrv_result *res);
	/* What domains[k] applied at counter_before[k]: res[k].out = {"receipt",
	 * "command"} (neither verified), the command as the module kept it;
	 * HSM_ERR_NOT_FOUND for a domain that keeps none. May be NULL. */
	hsm_rc (*applied)(void *ctx, const unsigned *domains, const uint64_t *counter_before,
	                  size_t n, moddrv_result *res);
	/* query that also reserves counters[k] of domains[k] (MODDRV_NO_COUNTER:
	 * not that one) for the command with this digest and ballot; res[k].resv
	 * says what each domain holds. May be NULL: no reservations. */
	hsm_rc (*query_reserve)(void *ctx, const unsigned *domains, const uint64_t *counters,
	                        size_t n, const char *digest, long long ballot, moddrv_result *res);
	/* apply claiming the reservations made with ballot. May be NULL. */
	hsm_rc (*apply_reserved)(void *ctx, const unsigned *domains, size_t n,
	                         const admincmd *cmd, long long ballot, moddrv_result *res);
};
#define MODDRV_NO_COUNTER UINT64_MAX

/* Takes ownership of ctx (closed by ops->close, also on failure). serial is
 * the module serial this connection reaches (copied). */
hsm_rc moddrv_new(const struct moddrv_ops *ops, void *ctx, const char *serial,
                  moddrv **out);
const char *moddrv_serial(const moddrv *d);
hsm_rc moddrv_info(moddrv *d, json_t **out);
hsm_rc moddrv_query(moddrv *d, unsigned domain, json_t **out);
hsm_rc moddrv_apply(moddrv *d, unsigned domain, const admincmd *cmd, json_t **receipt);
/* HSM_ERR_STATE when the driver has no receipts op. */
hsm_rc moddrv_receipts(moddrv *d, unsigned domain, uint64_t from_counter, json_t **out);
void   moddrv_free(moddrv **d);

/* Give a driver its batch ops (a separate table, so that drivers written
 * for the single-domain ops stay as they are). Without them the *_many
 * calls below run the single-domain ops one domain after another. Calls on
 * one driver are serialized (a connection carries one request at a time). */
void   moddrv_set_batch(moddrv *d, const struct moddrv_batch_ops *b);
hsm_rc moddrv_query_many(moddrv *d, const unsigned *domains, size_t n, moddrv_result *res);
hsm_rc moddrv_apply_many(moddrv *d, const unsigned *domains, size_t n, const admincmd *cmd,
                         moddrv_result *res);
hsm_rc moddrv_receipts_many(moddrv *d, const unsigned *domains, const uint64_t *from,
                            size_t n, moddrv_result *res);
/* HSM_ERR_STATE in every res[k] when the driver has no applied op. */
hsm_rc moddrv_applied_many(moddrv *d, const unsigned *domains, const uint64_t *counter_before,
                           size_t n, moddrv_result *res);
void   moddrv_results_clear(moddrv_result *res, size_t n);
/* Reservations (the group engine's two round trips): without the driver
 * op, the query is a plain one (every res[k].resv.state 0) and the apply
 * is HSM_ERR_STATE in every res[k], nothing sent. */
hsm_rc moddrv_query_reserve_many(moddrv *d, const unsigned *domains, const uint64_t *counters,
                                 size_t n, const char *digest, long long ballot,
                                 moddrv_result *res);
hsm_rc moddrv_apply_reserved_many(moddrv *d, const unsigned *domains, size_t n,
                                  const admincmd *cmd, long long ballot, moddrv_result *res);

/*
 * Key blobs (docs/blobs.md, docs/formats/module-protocol.md §2.6): the
 * application operations of a module, which need no admin signatures (any
 * client the module trusts). A separate, optional table, so that a hardware
 * driver adds it when its backend has them; without it the moddrv_blob_*
 * calls are HSM_ERR_STATE ("this module's driver has no blob operations").
 */
#define MODDRV_REASON_MAX 32
typedef struct moddrv_blob_fail {
	size_t index;                         /* position in the batch */
	char   reason[MODDRV_REASON_MAX];     /* no_such_key, blob_verify, bad_blob */
	char   prefix[2 * BLOB_PREFIX_LEN + 1];
} moddrv_blob_fail;

struct moddrv_blob_ops {
	/* count (1..BLOB_BATCH_MAX) new blobs under CURRENT into out (count *
	 * BLOB_LEN bytes); usage "encrypt"|"decrypt"|"all" (NULL: all); label
	 * may be NULL. mkvp: CURRENT's MKVP. */
	hsm_rc (*generate)(void *ctx, unsigned domain, const char *usage, const char *label,
	                   size_t count, uint8_t *out, uint8_t mkvp[HSM_VP_LEN]);
	/* enc 1: encrypt n bytes with the blob's key (IV || ciphertext || tag
	 * out); 0: decrypt that back. *out malloc'ed. */
	hsm_rc (*crypt)(void *ctx, unsigned domain, int enc, const uint8_t blob[BLOB_LEN],
	                const uint8_t *in, size_t n, uint8_t **out, size_t *outlen);
	/* Re-encipher n (1..BLOB_BATCH_MAX) blobs to register to ("pending" or
	 * "current"). out gets the *nok re-enciphered blobs in input order,
	 * fails (room for n) the *nfail others; *nok + *nfail == n. mkvp: the
	 * target register's MKVP. */
	hsm_rc (*reencipher)(void *ctx, unsigned domain, const char *to, const uint8_t *in,
	                     size_t n, uint8_t *out, size_t *nok, moddrv_blob_fail *fails,
	                     size_t *nfail, uint8_t mkvp[HSM_VP_LEN]);
};

void   moddrv_set_blob(moddrv *d, const struct moddrv_blob_ops *b);
/* 1 if the driver has blob operations. */
int    moddrv_has_blob(const moddrv *d);
hsm_rc moddrv_blob_generate(moddrv *d, unsigned domain, const char *usage, const char *label,
                            size_t count, uint8_t *out, uint8_t mkvp[HSM_VP_LEN]);
hsm_rc moddrv_blob_crypt(moddrv *d, unsigned domain, int enc, const uint8_t blob[BLOB_LEN],
                         const uint8_t *in, size_t n, uint8_t **out, size_t *outlen);
hsm_rc moddrv_blob_reencipher(moddrv *d, unsigned domain, const char *to, const uint8_t *in,
                              size_t n, uint8_t *out, size_t *nok, moddrv_blob_fail *fails,
                              size_t *nfail, uint8_t mkvp[HSM_VP_LEN]);

/* The hsmadm-simd driver (lib/modclient_sim.c): TLS 1.3 to hostport,
 * verifying the module's certificate against the pinned module CA PEM and
 * its serial (NULL: learn it from the "hello" answer, for first contact),
 * presenting the workstation's client certificate. timeout_ms as tls_connect. */
hsm_rc modclient_sim_open(const char *hostport, const char *expect_serial,
                          const char *pinned_ca_pem, const char *client_cert_pem,
                          const char *client_key_pem, int timeout_ms, moddrv **out);

#endif
