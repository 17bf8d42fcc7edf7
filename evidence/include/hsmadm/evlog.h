/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evlog.h - the ceremony evidence log: an append-only, hash-chained file of
 * JSON Lines that auditors verify and replay offline (DESIGN §9, §10.5).
 *
 * What it offers:
 *   - a writer (evlog_open / evlog_append / evlog_checkpoint / evlog_complete /
 *     evlog_close): one writer at a time (file lock), every record fsync'ed,
 *     a torn last line (power loss) truncated and recorded on the next open,
 *     the record of the cut made durable (<log>.recovering) before the cut;
 *   - a streaming reader (evlog_reader_*) that never loads the whole file and
 *     checks the hash chain for every consumer;
 *   - typed writers, one per record type (evrec.h), and one scan collecting
 *     what the workflows continue from (evscan.h);
 *   - a verifier (evlog_verify) and a replayer (evlog_replay), see evverify.h.
 *
 * One line = one RFC 8785 canonical JSON object followed by "\n":
 *   {"actor":{...},"body":{...},"prev":"<hex sha256>","seq":N,
 *    "time":"2026-11-24T03:00:00Z","type":"..."}
 * seq starts at 1 and grows by one; prev is the SHA-256 of the previous line's
 * bytes including its "\n"; for seq 1 it is SHA-256 of the log id (the ASCII
 * string in the first record's body.log_id). The first record is always
 * "ceremony.open", written by evlog_open when it creates the file.
 *
 * SECRETS NEVER ENTER THE LOG. The API takes JSON of public values only:
 * key-part and master-key verification patterns (KPVP/MKVP), card ids, SKIs,
 * public keys, signatures, receipts. Never pass a PIN, key part, key or shared
 * secret in actor or body. docs/formats/evidence.md lists every record's body.
 */
#ifndef HSMADM_EVLOG_H
#define HSMADM_EVLOG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/signer.h"

/* Record types (the "type" member). Bodies: docs/formats/evidence.md and
 * evidence/schemas/<type>.schema.json. */
#define EV_CEREMONY_OPEN      "ceremony.open"      /* log_id, ceremony, ... (written by evlog_open) */
#define EV_ROSTER             "roster"             /* members[]: name, role, card_id, ski, pubkey */
#define EV_STEP_BEGIN         "step.begin"         /* step, title */
#define EV_STEP_END           "step.end"           /* step, result: ok|failed|skipped */
#define EV_CARD_INIT          "card.init"          /* card_id, role, holder, ski */
#define EV_ADMIN_REGISTERED   "admin.registered"   /* module, domain, ski, name, identity */
#define EV_COMMAND_SIGNED     "command.signed"     /* command_body, digest, ski, signature */
#define EV_COMMAND_SENT       "command.sent"       /* command{body,signatures}, digest, [group]:
                                                      written before the command is sent */
#define EV_COMMAND_APPLIED    "command.applied"    /* command{body,signatures}, receipts[] (receipt.h) */
#define EV_KEYPART_GENERATED  "keypart.generated"  /* part_id, kpvp (hex), card_id */
#define EV_KEYPART_COPIED     "keypart.copied"     /* part_id, kpvp, card_id, backup_card_id */
#define EV_KEYPART_VERIFIED   "keypart.verified"   /* part_id, kpvp, card_id */
#define EV_KEYPART_DESTROYED  "keypart.destroyed"  /* part_id, kpvp, card_id */
#define EV_MK_LOADED          "mk.loaded"          /* group, domains[]{module,domain,mkvp} */
#define EV_MK_COMMITTED       "mk.committed"
#define EV_MK_ACTIVATED       "mk.activated"
#define EV_MK_FINALIZED       "mk.finalized"
#define EV_MK_DESTROYED       "mk.destroyed"
#define EV_REENCIPHER         "reencipher.progress" /* done, total, [mkvp_from, mkvp_to] */
#define EV_ROTATION_BEGUN     "rotation.begun"     /* group, request{id,sha256}, mkvp_current */
#define EV_MK_BACKED_OUT      "mk.backed_out"      /* group, domains[], request, mkvp_set_aside */
#define EV_GROUP_DECOMMISSIONED "group.decommissioned" /* group, request, domains[]{module,
                                                      domain, counter}: zeroized */
#define EV_CARD_DISPOSED      "card.disposed"      /* card_id, disposition, witnesses[] */
#define EV_EXCEPTION          "exception"          /* what, reason, [resolution] */
#define EV_WITNESS_ACK        "witness.ack"        /* statement */
#define EV_CHECKPOINT         "checkpoint"         /* signed head (evlog_checkpoint) */
#define EV_COMPLETION         "completion"         /* supervisor's signed head (evlog_complete) */
#define EV_LOG_RECOVERED      "log.recovered"      /* lost_bytes, lost_sha256, at_offset */
#define EV_DOMAIN_BASELINE    "domain.baseline"    /* receipt: the last module receipt of a
                                                      domain from an earlier ceremony, so
                                                      that quorums can be replayed for a
                                                      domain that is not new */

/* Fixed statement inside signed heads, so that a head signature can never be
 * mistaken for a signature over anything else. */
#define EVLOG_HEAD_PURPOSE_CHECKPOINT "hsmadm evidence checkpoint v1"
#define EVLOG_HEAD_PURPOSE_COMPLETION "hsmadm evidence completion v1"

typedef struct evlog evlog;

enum evlog_sync {
	EVLOG_SYNC_EACH = 0,   /* fsync after every record (the default; use it) */
	EVLOG_SYNC_NONE = 1    /* tests and benchmarks only: no fsync */
};

struct evlog_open_opts {
	/* Used only when the file does not exist yet (or is empty): */
	const char   *log_id;       /* NULL: 16 random bytes as hex */
	const json_t *actor;        /* actor of the ceremony.open record; NULL: system */
	const json_t *open_body;    /* extra members of the ceremony.open body
	                               (e.g. "ceremony", "script", "site");
	                               log_id is added by evlog_open */
	int           must_exist;   /* 1: refuse to create (HSM_ERR_NOT_FOUND) */
	int           must_create;  /* 1: refuse an existing log (HSM_ERR_EXISTS) */
	enum evlog_sync sync;
};

/* Open (or create) the log at path for appending and take the writer lock.
 * opts may be NULL (create if missing, random log id, fsync each record).
 * A second writer gets HSM_ERR_LOCKED. A torn last line is truncated and a
 * log.recovered record appended. A log whose chain is broken before the
 * torn tail is refused with HSM_ERR_AUDIT (run hsmadm-audit verify). */
hsm_rc evlog_open(const char *path, const struct evlog_open_opts *opts, evlog **out);

/* Append one record. type is one of EV_*; actor is a JSON object of public
 * values, at least {"name": "...", "role": "..."} (role: facilitator,
 * custodian, admin, supervisor, witness, auditor, system; plus optional
 * "card_id", "ski"); body is a JSON object of public values (see
 * docs/formats/evidence.md). Neither is stolen. *seq (may be NULL) gets the
 * new record's seq. Nothing is written when an argument is invalid. */
hsm_rc evlog_append(evlog *log, const char *type, const json_t *actor,
                    const json_t *body, long long *seq);

/* Sign the current head (seq and hash of the last line, with the log id) and
 * append it as a "checkpoint" record by the signer's holder. The signer's
 * public key must be registered in a roster record of this log (by SKI) for
 * verification to pass. cert_pem may be NULL. */
hsm_rc evlog_checkpoint(evlog *log, hsm_signer *signer, const json_t *actor,
                        const char *cert_pem, long long *seq);

/* The supervisor's completion record: like a checkpoint, with purpose
 * EVLOG_HEAD_PURPOSE_COMPLETION; it must be the last record of the log. The
 * supervisor must be registered in a roster record with role "supervisor". */
hsm_rc evlog_complete(evlog *log, hsm_signer *supervisor, const json_t *actor,
                      const char *cert_pem, long long *seq);

/* Head of an open log: seq of the last record and SHA-256 of its line. */
void        evlog_head(const evlog *log, long long *seq, uint8_t hash[32]);
const char *evlog_id(const evlog *log);
/* The whole record (seq, time, type, actor, body, prev) this writer appended
 * last, for callers that show what was recorded; NULL before the first
 * append. Borrowed: valid until the next append or evlog_close. */
const json_t *evlog_last_record(const evlog *log);
/* Release the lock, close, free; sets *log to NULL. NULL-safe. */
void        evlog_close(evlog **log);

/* ---- streaming reader (constant memory) ---- */

#define EVLOG_MAX_LINE (1024 * 1024)   /* a longer line is HSM_ERR_FORMAT */

/* One parsed record. Members point into rec->obj / the reader's line buffer
 * and are valid until the next evlog_reader_next or evlog_record_clear. */
typedef struct evlog_record {
	json_t     *obj;        /* the whole line, parsed (owned) */
	long long   seq;
	const char *time;
	const char *type;
	json_t     *actor;      /* borrowed from obj */
	json_t     *body;       /* borrowed from obj */
	uint8_t     prev[32];
	uint8_t     hash[32];   /* SHA-256 of this line's bytes incl. "\n" */
	const char *line;       /* the raw line without "\n" */
	size_t      len;
	long long   offset;     /* byte offset of the line in the file */
} evlog_record;

/* Parse one line (without its "\n"): canonical JSON object with exactly the
 * members actor, body, prev, seq, time, type of the right types; the line must
 * equal its own canonical form; time must be UTC RFC 3339 ("...Z"). rec->hash
 * covers line + "\n". rec->line points at line. HSM_ERR_FORMAT says why. */
hsm_rc evlog_parse_line(const char *line, size_t len, evlog_record *rec);
void   evlog_record_clear(evlog_record *rec);

/* The one reader of a log's bytes. It checks the hash chain on the way, so
 * that no consumer needs to: seq 1 must be a ceremony.open naming the log id,
 * each record's seq follows the one before and its prev is the SHA-256 of the
 * line before (of the log id for seq 1). Every record it returns is chained
 * to all records before it. */
typedef struct evlog_reader evlog_reader;
hsm_rc evlog_reader_open(const char *path, evlog_reader **out);
/* A reader over a log's bytes in memory (not copied: buf must outlive it). */
hsm_rc evlog_reader_open_mem(const char *buf, size_t len, evlog_reader **out);
/* Next record into rec (cleared first). HSM_ERR_NOT_FOUND at a clean end of
 * file. The first problem stops the reader; the message starts with "seq N: "
 * and evlog_reader_bad_seq gives N:
 *   HSM_ERR_FORMAT  a line that does not parse, or a last line with no "\n"
 *                   (torn: the message says which commands repair it);
 *   HSM_ERR_AUDIT   the chain is broken (seq missing or out of order, prev
 *                   hash does not match, no ceremony.open at seq 1). */
hsm_rc evlog_reader_next(evlog_reader *r, evlog_record *rec);
/* The last good record's seq (0: none yet) and, if head is not NULL, the
 * SHA-256 of its line. */
long long evlog_reader_seq(const evlog_reader *r, uint8_t head[32]);
/* A reader over a log open for writing (its lock held), without opening the
 * file again: what a command reads under the lock is exactly what it appends
 * to. Reads the records whole at the time of the call. Free it before
 * evlog_close. */
hsm_rc evlog_reader_from_log(evlog *log, evlog_reader **out);
/* The seq of the first bad record, 0 while none was found. */
long long evlog_reader_bad_seq(const evlog_reader *r);
void   evlog_reader_free(evlog_reader **r);

#endif
