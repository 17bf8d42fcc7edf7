/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * modproto.h - the module protocol between a workstation and a crypto module
 * (hsmadm-simd, or a hardware driver speaking the same messages). DESIGN §7,
 * full reference: docs/formats/module-protocol.md.
 *
 * Transport: TLS 1.3 with client certificates (tlsctx.h). Frames: a 4-byte
 * big-endian length, then that many bytes of one RFC 8785 canonical JSON
 * object; 1 <= length <= MODPROTO_MAX_FRAME.
 *
 * Request: {"id": int, "op": string, "params": object}
 * Answer:  {"id": int, "ok": true,  "result": object}
 *      or  {"id": int, "ok": false, "error": {"code": int, "reason": string,
 *                                             "message": string}}
 * "code" is one of enum modproto_code (stable numbers, mapped to hsm_rc);
 * "reason" a short stable token ("counter_mismatch"); "message" plain text.
 *
 * Ops (params -> result; details in the format document):
 *   hello / info      {}                    -> module info (serial, domain
 *                                              count, OA certificate)
 *   domain.query      {domain}              -> public state of one domain
 *                                              and its state digest
 *   command.apply     {domain, command}     -> {receipt} (receipt.h)
 *     command = a signed admin command file {body, signatures} (admincmd.h);
 *     body.op is one of the ADMINCMD_OP_* names (admincmd.h).
 *   domain.receipts   {domain, from_counter} -> {domain, receipts, more}
 * Batch form of the three domain ops (one request for several domains of
 * the module, so that a group pays each module once): params.domains
 * replaces params.domain (domain.receipts: a list of {domain, from_counter})
 * and the result is {"answers": [{"domain", "ok": true, "result"} |
 * {"domain", "ok": false, "error": {code, reason, message}}, ...]}, one per
 * listed domain, in the order asked.
 *
 * The frame and request parsers work on byte buffers too, so that the
 * fuzzer (tests/fuzz/fuzz_frame.c) reaches them without TLS.
 */
#ifndef HSMADM_MODPROTO_H
#define HSMADM_MODPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include "hsmadm/err.h"

#define MODPROTO_VERSION     1
#define MODPROTO_MAX_FRAME   (1024u * 1024u)   /* 1 MiB of JSON */
#define MODPROTO_MAX_DOMAINS 85                /* domains 0..84 */

/* Request ops. */
#define MODPROTO_OP_HELLO   "hello"
#define MODPROTO_OP_INFO    "info"
#define MODPROTO_OP_QUERY   "domain.query"
#define MODPROTO_OP_APPLY   "command.apply"
#define MODPROTO_OP_RECEIPTS "domain.receipts"

/* Admin command ops (body.op of a command given to command.apply) are the
 * ADMINCMD_OP_* names of admincmd.h: one table for module and workstation. */

/* Wire error codes (error.code). Never renumber. */
enum modproto_code {
	MODPROTO_E_BAD_REQUEST = 1,  /* malformed frame/request/command  -> HSM_ERR_FORMAT */
	MODPROTO_E_UNKNOWN_OP  = 2,  /* op not known                      -> HSM_ERR_FORMAT */
	MODPROTO_E_NOT_FOUND   = 3,  /* no such domain or admin           -> HSM_ERR_NOT_FOUND */
	MODPROTO_E_EXISTS      = 4,  /* admin or part already there       -> HSM_ERR_EXISTS */
	MODPROTO_E_STATE       = 5,  /* not allowed in this state         -> HSM_ERR_STATE */
	MODPROTO_E_QUORUM      = 6,  /* not enough distinct admins signed -> HSM_ERR_QUORUM */
	MODPROTO_E_VERIFY      = 7,  /* bad signature, KPVP, MKVP, unwrap -> HSM_ERR_VERIFY */
	MODPROTO_E_REPLAY      = 8,  /* counter does not match            -> HSM_ERR_REPLAY */
	MODPROTO_E_EXPIRED     = 9,  /* outside not_before..not_after     -> HSM_ERR_EXPIRED */
	MODPROTO_E_REFUSED     = 10, /* not for this module/domain, rule  -> HSM_ERR_REFUSED */
	MODPROTO_E_INTERNAL    = 11, /* the module failed                 -> HSM_ERR_MODULE */
	MODPROTO_E_TOO_LARGE   = 12  /* frame longer than 1 MiB           -> HSM_ERR_FORMAT */
};

int    modproto_code_from_rc(hsm_rc rc);
hsm_rc modproto_rc_from_code(int code);

/* ---- frames over TLS ------------------------------------------------- */

/* Write one frame (len bytes of JSON). HSM_ERR_USAGE if len is 0 or too big. */
hsm_rc modproto_write_frame(SSL *ssl, const char *buf, size_t len);
/* Read one frame into a malloc'ed NUL-terminated buffer. A clean close
 * before the first byte is HSM_ERR_NOT_FOUND ("peer closed"); a length of 0
 * or above the maximum is HSM_ERR_FORMAT (the reader stops: close the
 * connection); a close mid-frame is HSM_ERR_MODULE. */
hsm_rc modproto_read_frame(SSL *ssl, char **out, size_t *len);
/* modproto_read_frame, and the message its canonical check parsed: *msg a
 * new reference, or NULL when the frame is no JSON at all (cjson_parse of
 * *out then says why). msg may be NULL. Saves parsing each frame twice. */
hsm_rc modproto_read_frame_msg(SSL *ssl, char **out, size_t *len, json_t **msg);
/* Canonical-dump msg and write it as one frame. */
hsm_rc modproto_send(SSL *ssl, const json_t *msg);
/* Read one frame and parse it strictly (cjson). */
hsm_rc modproto_recv(SSL *ssl, json_t **msg);

/* ---- the same parsers on byte buffers -------------------------------- */

/* Parse one frame at the start of buf. HSM_ERR_NOT_FOUND (more bytes
 * needed) if buf holds less than a whole frame; *consumed is the frame's
 * total size (4 + length) when one was parsed. */
hsm_rc modproto_frame_parse(const uint8_t *buf, size_t len, size_t *consumed,
                            json_t **msg);

/* A parsed request; borrows from the message (keep msg alive). */
typedef struct modproto_request {
	long long   id;
	const char *op;
	json_t     *params;   /* an object */
} modproto_request;

/* Check the shape {id:int>=0, op:string, params:object} and nothing else. */
hsm_rc modproto_request_parse(json_t *msg, modproto_request *out);

/* ---- building messages ---------------------------------------------- */

/* {"id","op","params"}; params is borrowed (a reference is taken); NULL = {}. */
hsm_rc modproto_request_new(long long id, const char *op, json_t *params,
                            json_t **out);
/* {"id","ok":true,"result"}; result is borrowed (a reference is taken). */
hsm_rc modproto_answer_ok(long long id, json_t *result, json_t **out);
/* {"id","ok":false,"error":{code,reason,message}}. */
hsm_rc modproto_answer_err(long long id, int code, const char *reason,
                           const char *message, json_t **out);

/* Check an answer: its id must be expect_id. ok:true -> *result (a new
 * reference). ok:false -> the code mapped to hsm_rc, with hsm_fail message
 * "module refused: <message> (<reason>)"; *reason (optional, may be NULL)
 * gets a malloc'ed copy of the reason token. */
hsm_rc modproto_answer_check(json_t *answer, long long expect_id,
                             json_t **result, char **reason);

/* Entry k of a batch answer's "answers", which must be for domain: its
 * result (a new reference) or its refusal mapped like
 * modproto_answer_check's. */
hsm_rc modproto_batch_entry(const json_t *answers, size_t k, unsigned domain,
                            json_t **result);

/* Client helper: send {id, op, params}, read the answer, check it.
 * The id is taken from *next_id, which is incremented. */
hsm_rc modproto_call(SSL *ssl, long long *next_id, const char *op,
                     json_t *params, json_t **result, char **reason);

#endif
