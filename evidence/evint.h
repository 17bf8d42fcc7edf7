/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evint.h - private helpers shared by the evidence log's writer, reader and
 * verifier. Not installed; not for other areas.
 */
#ifndef HSMADM_EVINT_H
#define HSMADM_EVINT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "hsmadm/err.h"
#include "hsmadm/receipt.h"

/* SHA-256 of a || b (either may be empty). */
hsm_rc ev_sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[32]);

/* The bytes a signed head covers: the canonical JSON of the whole record
 * (seq, time, type, actor, body, prev) with body.signature left out, so that
 * nothing in the last line of a log is unsigned. Malloc'ed into *out. */
hsm_rc ev_head_signed_bytes(const json_t *record, char **out, size_t *len);

/* Lowercase hex of the uncompressed point 0x04||X||Y (malloc'ed), the same
 * spelling admin.add uses; parse with admincmd_pubkey_from_hex(). */
hsm_rc ev_pub_to_hex(const EVP_PKEY *k, char **out);

/* A lowercase hex string of exactly n bytes? 1 yes / 0 no. */
int ev_is_hex(const char *s, size_t n);

/* "YYYY-MM-DDTHH:MM:SSZ" (optionally with .fraction before Z)? 1/0. */
int ev_is_rfc3339_utc(const char *s);

/* Record type: 1..64 chars of [a-z0-9._-]? 1/0. */
int ev_is_type_name(const char *s);

/* Reader over a caller's fd (not closed by evlog_reader_free; read with
 * pread, so the fd's position does not matter). */
struct evlog_reader;
hsm_rc ev_reader_from_fd(int fd, struct evlog_reader **out);
/* Read no further than byte offset limit (the writer's view of its file). */
void ev_reader_set_limit(struct evlog_reader *r, long long limit);
/* Where evlog_reader_next stopped: the bad line's offset and length
 * (EV_LEN_TOO_LONG for a line over EVLOG_MAX_LINE), and whether it was a
 * last line without "\n". */
#define EV_LEN_TOO_LONG ((size_t)-1)
void ev_reader_failure(const struct evlog_reader *r, long long *offset, size_t *len,
                       int *torn);
/* Next raw line (no "\n"; NUL-terminated only when read from a file; valid
 * until the next call);
 * *had_nl 0 if the file ends inside it. HSM_ERR_NOT_FOUND at end of file. */
hsm_rc ev_reader_next_raw(struct evlog_reader *r, const char **line, size_t *len,
                          int *had_nl, long long *offset);

/* evlog_verify over a fresh reader (not freed), for callers that already
 * hold the log open: the report (one open for all its passes) and the
 * supervisor's completion (through the writer). */
struct evlog_verify_opts;
struct evlog_verify_result;
hsm_rc ev_verify_reader(struct evlog_reader *r, const struct evlog_verify_opts *o,
                        struct evlog_verify_result *res);

/* The trust anchors from outside the log (evanchor.c): module CAs and
 * supervisor key SKIs, from options and/or a trust file; none = the auditor
 * asked for an internal-consistency check only (--no-anchors). */
#include <openssl/x509.h>
struct ev_anchors {
	X509   **cas;
	size_t   ncas;
	uint8_t (*pins)[32];
	size_t   npins;
	int      none;
	char     source[300];
};
hsm_rc ev_anchors_load(const struct evlog_verify_opts *o, struct ev_anchors *a);
void   ev_anchors_free(struct ev_anchors *a);

/* Module receipts checked against the anchors, each OA certificate decoded
 * and its chain verified once per run (chain_checks counts those). With
 * a->none the chain is not checked (consistency only). */
struct ev_oa;
struct ev_oacache {
	struct ev_oa *oa;
	size_t        n;
	receipt_memo *memo;       /* batch signatures verified (receipt.h) */
	long long     chain_checks;
	unsigned      used_ca;    /* bit i: anchors' CA i checked a receipt */
};
hsm_rc ev_receipt_verify(struct ev_oacache *c, const struct ev_anchors *a,
                         const json_t *receipt, const json_t **body);
void   ev_oacache_free(struct ev_oacache *c);

/* Public keys (hex 04||X||Y) decoded once per run (evkeys.c): *pub gets a
 * new reference (free it), ski its SKI; either may be NULL. imports counts
 * the keys actually decoded. */
struct ev_key;
struct ev_keycache {
	struct ev_key *k;
	size_t         n;
	long long      imports;
};
hsm_rc ev_key_get(struct ev_keycache *c, const char *hex, EVP_PKEY **pub, uint8_t ski[32]);
void   ev_keycache_free(struct ev_keycache *c);

/* A torn tail cut off by the writer: the log.recovered body. */
struct ev_cut {
	long long at_offset;
	long long lost_bytes;
	char      lost_sha256[65];
};
json_t *ev_cut_to_json(const struct ev_cut *c);
hsm_rc  ev_cut_from_json(const json_t *body, struct ev_cut *c);

/* The side journal "<log>.recovering" (evrecover.c): written and fsync'ed
 * (file and directory) before a cut, removed after the cut is recorded. A
 * journal that cannot be written is HSM_ERR_IO and nothing may be cut.
 * ev_journal_read: *found 1 (read into c), 0 (none), -1 (present but not
 * readable as a journal). */
hsm_rc ev_journal_write(const char *log_path, const struct ev_cut *c);
hsm_rc ev_journal_read(const char *log_path, struct ev_cut *c, int *found);
hsm_rc ev_journal_done(const char *log_path);

/* The verifier's signature checks on worker threads (evpar.c): a ring of
 * window jobs, joined in submission order. A job owns sig (malloc'ed) and a
 * copy of msg, and a reference to pub; what names the check for the
 * message ("command.signed: signature of the admin"); snap is the result's
 * counters as they stood before the check, restored if it fails. */
struct ev_sigsnap {
	long long records, signatures, receipts, commands, sent, exceptions, recoveries;
	long long head_seq;
	char      head_hash[65];
};
struct ev_sigpool;
hsm_rc ev_sigpool_new(int nthreads, size_t window, struct ev_sigpool **out);
hsm_rc ev_sigpool_submit(struct ev_sigpool *p, EVP_PKEY *pub, const void *msg, size_t len,
                         uint8_t *sig, size_t siglen, long long seq, const char *what,
                         const struct ev_sigsnap *snap);
/* Join the jobs done so far in order (all: wait for every one); 1 once a
 * job has failed. */
int    ev_sigpool_join(struct ev_sigpool *p, int all);
/* The first failed job in submission order: 1 and its seq, message
 * ("... does not verify") and snapshot; 0 if none. */
int    ev_sigpool_failure(struct ev_sigpool *p, long long *seq, const char **msg,
                          const struct ev_sigsnap **snap);
void   ev_sigpool_free(struct ev_sigpool **p);

/* Time-stamps (evtsa.c): the TSA CA(s) from a PEM file, and the check of
 * one log.timestamped body against the completion it must cover (seq and
 * line hash) and, with store, the token's signature and chain. */
struct evtsa_info;
hsm_rc ev_tsa_store_load(const char *path, X509_STORE **out);
hsm_rc ev_tsa_check(const json_t *body, long long comp_seq, const uint8_t comp_hash[32],
                    X509_STORE *store, struct evtsa_info *info);

#endif
