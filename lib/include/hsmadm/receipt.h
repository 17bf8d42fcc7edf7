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

/* Verify a receipt against the pinned module CA: the OA certificate chains
 * to module_ca and is an OA certificate (not a TLS one), its subject
 * serialNumber equals body.module (and expect_serial if not NULL), and the
 * signature is valid over the canonical body. *body (optional) is borrowed
 * from receipt. HSM_ERR_FORMAT (shape), HSM_ERR_TRUST (chain, serial),
 * HSM_ERR_VERIFY (signature). */
hsm_rc receipt_verify(const json_t *receipt, X509 *module_ca,
                      const char *expect_serial, const json_t **body);
/* The same with the CA as a PEM file path. */
hsm_rc receipt_verify_file(const json_t *receipt, const char *module_ca_pem,
                           const char *expect_serial, const json_t **body);

#endif
