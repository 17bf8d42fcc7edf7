/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evverify.h - checking and replaying an evidence log offline (DESIGN §9).
 *
 * evlog_verify reads the log once, line by line (constant memory), and
 * checks: the hash chain (seq consecutive, prev = SHA-256 of the previous
 * line), the canonical form of every line, every signature inside a record
 * (admin signatures on commands against the admin keys in force at that
 * point; checkpoint and completion signatures against keys registered in a
 * roster record), every module receipt against the pinned module CA, each
 * command's quorum replayed from the log's own receipts (admins and
 * thresholds in force before it), counters in sequence per domain, key-part
 * and master-key patterns against the receipts, steps begun are ended, and
 * that the log ends with the supervisor's completion record signed over the
 * whole log. The first failure stops it: res->bad_seq names the record and
 * res->reason says why ("seq 17: prev hash does not match seq 16"); the
 * return code is then HSM_ERR_AUDIT with the same message.
 *
 * evlog_replay runs the same checks and returns the reconstructed state of
 * every domain the log touched (admins, thresholds, counter, registers,
 * MKVPs) as the last module receipt for it states it.
 */
#ifndef HSMADM_EVVERIFY_H
#define HSMADM_EVVERIFY_H

#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/signer.h"

struct evlog_verify_opts {
	const char *const *module_ca_files;      /* PEM; a receipt must chain to one */
	size_t             n_module_ca;
	const char *const *supervisor_key_files; /* optional pins: PEM public key or
	                                            certificate; the completion must be
	                                            signed by one of them */
	size_t             n_supervisor_keys;
	int                allow_incomplete;     /* a log still being written: no
	                                            completion record needed */
	const char        *trust_file;           /* optional: a trust file
	                                            (evlog_export_trust) adding
	                                            module CAs and supervisor keys */
	int                no_anchors;           /* check internal consistency
	                                            only: receipts against their
	                                            own OA certificates, heads
	                                            against the roster's keys; the
	                                            result is never "verified" */
	const char        *tsa_ca_file;          /* optional: PEM CA(s) of the
	                                            time-stamping authority; every
	                                            log.timestamped token must be
	                                            signed under it (evtsa.h) */
	int                jobs;                 /* threads for the signature
	                                            checks: 0 or 1 on the reading
	                                            thread; N > 1 hands them to N
	                                            workers while the chain is
	                                            checked in order (same result,
	                                            same first bad record) */
};

typedef struct evlog_verify_result {
	int       ok;               /* 1 if everything verified */
	long long records;          /* records read and checked */
	long long bad_seq;          /* first bad record; 0 when ok */
	char      reason[768];      /* "seq 17: prev hash does not match seq 16" */
	char      log_id[132];
	char      ceremony[132];
	long long head_seq;         /* last good record */
	char      head_hash[65];
	int       complete;         /* signed completion record is the last record */
	char      supervisor_name[96];
	char      supervisor_ski[65];
	long long signatures;       /* signatures checked (commands and heads) */
	long long receipts;         /* receipts checked */
	long long commands;         /* commands applied */
	long long sent;             /* command.sent records (write-ahead intents) */
	long long sent_no_outcome;  /* of those, commands no command.applied
	                               record answers (sent, outcome unknown) */
	long long exceptions;
	long long recoveries;       /* log.recovered records (torn tails repaired) */
	json_t   *state;            /* owned: replayed domains (see evlog_replay) */
	/* What the answer rests on. anchored is 1 only when receipts were
	 * checked against a module CA from outside the log and the completion
	 * (if the log has one) is signed by a supervisor key from outside the
	 * log; only then is the log "verified" (res->ok says it is consistent). */
	int       anchored;
	int       ca_anchors;       /* module CAs given */
	int       supervisor_anchors; /* supervisor keys given */
	int       supervisor_pinned;  /* the completion's signer is one of them */
	char      anchor_ca_fp[65];   /* SHA-256 of the CA that checked the receipts */
	char      anchor_source[300]; /* "options", "trust file X", "none" */
	long long chain_checks;     /* certificate chains verified (once per
	                               OA certificate) */
	long long key_imports;      /* public keys decoded (once per distinct key) */
	/* RFC 3161 time-stamps over the completion (log.timestamped records):
	 * how many, how many of their tokens were checked against the TSA CA
	 * (opts.tsa_ca_file; none without it), and the last one's genTime and
	 * TSA, the trusted time of the log when it was checked. */
	long long timestamps;
	long long timestamps_checked;
	char      tsa_time[32];
	char      tsa_name[256];
} evlog_verify_result;

/* opts may be NULL (no module CA: a log with receipts then fails). Returns
 * HSM_OK if the log verified, HSM_ERR_AUDIT if it did not (res says where and
 * why), other codes if it could not be read at all (missing file: NOT_FOUND).
 * Call evlog_verify_result_clear afterwards. */
hsm_rc evlog_verify(const char *path, const struct evlog_verify_opts *opts,
                    evlog_verify_result *res);
/* The same over a log's bytes in memory (not copied: buf must outlive the
 * call), for callers that hold the log already (and the fuzzer). */
hsm_rc evlog_verify_mem(const char *buf, size_t len, const struct evlog_verify_opts *opts,
                        evlog_verify_result *res);
void   evlog_verify_result_clear(evlog_verify_result *res);
/* The result as a JSON object (new reference, NULL on allocation failure). */
json_t *evlog_verify_result_json(const evlog_verify_result *res);

/* Verify, then *state = {"log_id", "head_seq", "head_hash", "complete",
 * "anchored", "anchors": {source, module_ca, module_ca_sha256,
 * supervisor_keys, supervisor_pinned},
 * "domains": [domain.query-style public state of each domain, sorted by
 * module and domain], "key_parts": [{part_id, kpvp, card_ids, state}],
 * "people": [{name, role, ski}] (roster members with a signing key),
 * "open_steps": [{step, seq}] (begun, not yet ended)}. */
hsm_rc evlog_replay(const char *path, const struct evlog_verify_opts *opts,
                    json_t **state);

/* The trust file for the auditors, made at the ceremony's close: verify the
 * log with opts (module CA required), then *out = {"hsmadm_trust": 1,
 * "log_id", "ceremony", "head_seq", "head_hash", "module_ca": [PEM...],
 * "supervisors": [{name, ski, pubkey}]} with the log's roster supervisors. */
hsm_rc evlog_export_trust(const char *path, const struct evlog_verify_opts *opts,
                          json_t **out);

/* The module CA certificate(s) of a trust file (as evlog_verify reads it)
 * as one PEM text in *pem (malloc'ed): what a connection to a module pins
 * when the auditor has only the trust file. HSM_ERR_NOT_FOUND if it holds
 * none. */
hsm_rc evlog_trust_module_ca(const char *trust_file, char **pem);

/* The supervisor's step: take the writer lock, verify the log as it stands
 * (it must verify, except for the missing completion), check that the
 * supervisor's key is on the roster as a supervisor, that no step is still
 * open (HSM_ERR_STATE), and append the signed
 * completion record. name NULL: the roster's name. res gets the check's
 * result (clear it). HSM_ERR_STATE if the log is already completed. */
hsm_rc evlog_sign_completion(const char *path, const struct evlog_verify_opts *opts,
                             hsm_signer *supervisor, const char *name,
                             const char *cert_pem, long long *seq,
                             evlog_verify_result *res);

#endif
