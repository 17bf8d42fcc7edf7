/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * kpwrap.h - key-part transport from the workstation to one domain of a
 * crypto module (DESIGN §7).
 *
 * The domain owns an importer key (P-384). The workstation wraps a 32-byte
 * key part for it: an ephemeral P-384 key, ECDH with the importer key,
 * HKDF-SHA-384 (salt = the ephemeral point, info = the binding below), and
 * AES-256 key wrap with padding (RFC 5649). The binding ties the wrapped
 * part to one module, one domain, one importer key and one part index, so
 * a blob made for another domain, module, importer key or position in the
 * load sequence does not unwrap (HSM_ERR_VERIFY).
 *
 * HKDF info (all integers big-endian):
 *   "hsmadm kpwrap v1" (16 bytes) || u16 len || module serial (ASCII)
 *   || u32 domain index || importer SKI (32) || u32 part index
 *
 * JSON form of one blob:
 *   {"v":1, "epk":"04..." (hex of the uncompressed point, 97 bytes),
 *    "wrapped":"..." (hex, 40 bytes)}
 * Group form (one signed mk.load_part command covers every domain of a
 * group, and each domain has its own importer key, so the command carries one
 * blob per target; the module picks its own with kpwrap_blob_for_target):
 *   {"v":1, "targets":[{"module":"DC1-M01","domain":3,"epk":..,"wrapped":..},
 *                      ...]}
 * MODULES: parse params.wrapped of mk.load_part with kpwrap_blob_for_target(),
 * which accepts both forms.
 */
#ifndef HSMADM_KPWRAP_H
#define HSMADM_KPWRAP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/signer.h"

#define KPWRAP_PART_LEN     32
#define KPWRAP_EPK_LEN      97   /* 0x04 || X || Y on P-384 */
#define KPWRAP_WRAPPED_LEN  40   /* RFC 5649 of 32 bytes */
#define KPWRAP_SERIAL_MAX   64   /* longest module serial accepted */

/* Where a wrapped part may be unwrapped. The importer SKI is not part of
 * this struct: both sides compute it from the importer key itself. */
typedef struct kpwrap_binding {
	const char *module_serial;  /* 1..KPWRAP_SERIAL_MAX printable ASCII */
	uint32_t    domain;         /* domain index */
	uint32_t    part_index;     /* 1-based position in the load sequence */
} kpwrap_binding;

/* A wrapped part. Holds nothing secret without the importer private key. */
typedef struct kpwrap_blob {
	uint8_t epk[KPWRAP_EPK_LEN];
	uint8_t wrapped[KPWRAP_WRAPPED_LEN];
} kpwrap_blob;

/* Wrap a 32-byte part for the importer public key (P-384). */
hsm_rc kpwrap_wrap(const hsm_secbuf *part, EVP_PKEY *importer_pub,
                   const kpwrap_binding *b, kpwrap_blob *out);

/* Unwrap with the importer private key held by a key-agreement party, or
 * directly as an EVP_PKEY (the module emulator). The result is a new secbuf
 * of 32 bytes. HSM_ERR_VERIFY if the blob was made for another binding or
 * importer key, or was altered. */
hsm_rc kpwrap_unwrap(const kpwrap_blob *blob, hsm_keyagree *importer,
                     const kpwrap_binding *b, hsm_secbuf **part);
hsm_rc kpwrap_unwrap_pkey(const kpwrap_blob *blob, EVP_PKEY *importer_priv,
                          const kpwrap_binding *b, hsm_secbuf **part);

/* JSON form. to_json: a new object in *out. from_json: strict (unknown
 * version, missing field, wrong length or bad hex is HSM_ERR_FORMAT). */
hsm_rc kpwrap_blob_to_json(const kpwrap_blob *blob, json_t **out);
hsm_rc kpwrap_blob_from_json(const json_t *obj, kpwrap_blob *out);

/* The blob for (module, domain) from either JSON form above. Group form:
 * HSM_ERR_NOT_FOUND if no entry names this target, HSM_ERR_FORMAT if an
 * entry is malformed or two entries name the same target. */
hsm_rc kpwrap_blob_for_target(const json_t *wrapped, const char *module,
                              uint32_t domain, kpwrap_blob *out);

/* Group form builder: a new {"v":1,"targets":[]} in *out, and an append of
 * one target's blob to it. */
hsm_rc kpwrap_group_new(json_t **out);
hsm_rc kpwrap_group_add(json_t *group, const char *module, uint32_t domain,
                        const kpwrap_blob *blob);

#endif
