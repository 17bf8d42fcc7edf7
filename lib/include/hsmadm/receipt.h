/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * receipt.h - module-signed receipts (DESIGN §7): every state change a
 * module makes answers with one. An auditor verifies them offline with only
 * the pinned module CA certificate.
 *
 * A receipt is a JSON object:
 *   {"body": {...},                   the statement, canonical JSON (RFC 8785)
 *    "signature": "<base64 DER>",     ECDSA P-384 / SHA-384 over the
 *                                     canonical bytes of body, by the OA key
 *    "oa_cert": "<base64 DER>"}       the OA certificate (issued by the module CA)
 *
 * body:
 *   {"v": 1, "module": serial, "domain": int, "op": admin command op,
 *    "command_digest": hex SHA-256 of the command body's canonical bytes,
 *    "counter_before": int, "counter_after": int,
 *    "state": {public domain state after the change, as domain.query gives
 *              it, without the digest},
 *    "state_digest": hex SHA-256 of the canonical state,
 *    "result": {op-specific output, e.g. the importer public key} ,
 *    "time": "YYYY-MM-DDTHH:MM:SSZ",
 *    "keystore": {"backend": "file" | "pkcs11", ...} where the module keeps
 *                its keys (docs/pkcs11.md); absent in older receipts}
 * "state" holds "registers": {"current","pending","old"} with their states
 * and MKVPs (docs/formats/module-protocol.md).
 *
 * A batch receipt: the domains of one request (one module) are signed
 * once. The OA key signs the canonical bytes of
 *   {"receipt_batch": {"module": serial, "root": hex, "size": n}, "v": 1}
 * where root is the Merkle tree hash (merkle.h: RFC 9162, SHA-384) of the
 * n bodies' canonical bytes in order, and each receipt carries its place:
 *   {"body", "batch": {"index": i, "size": n, "root": hex,
 *                      "path": [hex, ...]}, "signature", "oa_cert"}
 * path is the inclusion proof of body i. It stands alone as a single
 * receipt does; a verifier checks the one signature once for all the
 * receipts that share it (receipt_memo): the module signs, and the
 * workstation and the auditor verify, once per request, not per domain.
 */
#ifndef HSMADM_RECEIPT_H
#define HSMADM_RECEIPT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "hsmadm/err.h"
#include "hsmadm/signer.h"

#define RECEIPT_VERSION 1

/* Sign body with the OA key; *out = {body, signature, oa_cert}. body is
 * borrowed (a reference is taken). */
hsm_rc receipt_sign(json_t *body, EVP_PKEY *oa_key, X509 *oa_cert, json_t **out);
/* The same with the OA key behind a signer (a PKCS#11 token), which must
 * give low-S signatures (ecdsa_lows.h). */
hsm_rc receipt_sign_with(json_t *body, hsm_signer *oa, X509 *oa_cert, json_t **out);

/* Sign bodies[0..n) (1..RECEIPT_BATCH_MAX, one module) as one batch;
 * out[i] (n slots) for bodies[i]. Exactly one of oa_key and oa signs. */
#define RECEIPT_BATCH_MAX 1024
hsm_rc receipt_sign_batch(json_t *const *bodies, size_t n, EVP_PKEY *oa_key, hsm_signer *oa,
                          X509 *oa_cert, json_t **out);

/* A receipt taken apart for its signature check: receipt_open checks its
 * shape, version and (batch) inclusion proof; msg is what the OA signature
 * covers. body, module and oa_cert (base64 DER) are borrowed from the
 * receipt. Clear with receipt_parts_clear. */
typedef struct {
	const json_t *body;
	const char   *module;
	const char   *oa_cert;
	char         *msg;
	size_t        msglen;
	uint8_t      *sig;
	size_t        siglen;
	int           batch;     /* 1: its signature is shared by a batch */
} receipt_parts;
hsm_rc receipt_open(const json_t *receipt, receipt_parts *p);
void   receipt_parts_clear(receipt_parts *p);

/* The signature check with the OA key pub (already trusted): the one
 * accepted encoding (low S), then ECDSA; a batch signature found in memo
 * (verified before with this key) is not checked again. memo NULL: always
 * checked. Thread-safe. HSM_ERR_VERIFY names the module. */
typedef struct receipt_memo receipt_memo;
hsm_rc receipt_memo_new(receipt_memo **out);
void   receipt_memo_free(receipt_memo **m);
hsm_rc receipt_check_sig(receipt_memo *memo, EVP_PKEY *pub, const receipt_parts *p);
/* The certificate check of receipt_verify alone: oa chains to module_ca,
 * is an OA certificate (not a TLS one) whose subject serialNumber is
 * module, and holds a P-384 key. HSM_ERR_TRUST. */
hsm_rc receipt_check_oa(X509 *oa, X509 *module_ca, const char *module);
/* All of it but the chain, for a verifier that checks chains its own way
 * (against several CAs, or none: hsmadm-audit --no-anchors). */
hsm_rc receipt_check_oa_fit(X509 *oa, const char *module);

/* Verify a receipt against the pinned module CA: the OA certificate chains
 * to module_ca and is an OA certificate (not a TLS one), its subject
 * serialNumber equals body.module (and expect_serial if not NULL), and the
 * signature is valid over the canonical body (a batch receipt: over its
 * batch, which the body is proven part of). *body (optional) is borrowed
 * from receipt. HSM_ERR_FORMAT (shape), HSM_ERR_TRUST (chain, serial),
 * HSM_ERR_VERIFY (signature). */
hsm_rc receipt_verify(const json_t *receipt, X509 *module_ca,
                      const char *expect_serial, const json_t **body);
/* The same through a memo (receipt_check_sig): the batch's signature
 * checked here is not checked again for its other receipts. *oa (optional)
 * gets the verified OA certificate (free it), for a caller that keeps it:
 * parsing a certificate is dear in OpenSSL 3.0. */
hsm_rc receipt_verify_memo(const json_t *receipt, X509 *module_ca, const char *expect_serial,
                           receipt_memo *memo, const json_t **body, X509 **oa);
/* The same with the CA as a PEM file path. */
hsm_rc receipt_verify_file(const json_t *receipt, const char *module_ca_pem,
                           const char *expect_serial, const json_t **body);

#endif
