/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keystore.h - where the module program keeps its keys (docs/pkcs11.md).
 *
 * Two backends, chosen at `hsmadm-simd init` and written in module.json:
 *   file    the rehearsal store: registers, importer keys and the OA key in
 *           files of the state folder (simdom.c, simmod.c keep doing that;
 *           a NULL keystore means file too);
 *   pkcs11  a PKCS#11 token (sim/p11.h). Per domain: each whole master key
 *           is an AES-256 token object ("mk") with its blob wrapping key
 *           beside it ("bw"); the importer key is a token P-384 pair
 *           ("imp"); a PENDING still being loaded is kept in the domain
 *           file sealed (AES-GCM) under the module's token "state" key; the
 *           OA key is a token P-384 pair ("oa").
 *
 * Token objects are named by CKA_LABEL "hsmadm:SERIAL:dNN:KIND:ID" (ID 16
 * random hex digits that the domain file records), "hsmadm:SERIAL:oa" and
 * "hsmadm:SERIAL:state". A domain's state names its objects. An object no
 * saved state names is an orphan: a crash between making it and saving the
 * state (every domain object is written to the journal, synced, before it
 * is made), or between saving a change and destroying what it replaced (its
 * saved receipt names it). ks_sweep, when the module starts, destroys the
 * orphans either record explains and keeps, and reports, any other (a state
 * folder restored from an old backup must not cost the newer keys).
 */
#ifndef HSMADM_SIM_KEYSTORE_H
#define HSMADM_SIM_KEYSTORE_H

#include <stdint.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "hsmadm/blob.h"
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/signer.h"

typedef struct keystore keystore;

typedef enum ks_backend { KS_FILE = 0, KS_PKCS11 } ks_backend;

#define KS_ID_LEN      16                  /* hex digits of an object id */
#define KS_SEALED_LEN  (12 + 32 + 16)      /* IV || sealed PENDING || tag */

/* The kinds of a domain's token objects. */
typedef enum ks_kind { KS_REG = 0, KS_IMP } ks_kind;

/* "file" or "pkcs11"; -1 for anything else. */
int    ks_backend_parse(const char *s);
hsm_rc ks_open_file(const char *serial, keystore **out);
/* Load the library, find the token, log in (p11.h says the failures). */
hsm_rc ks_open_pkcs11(const char *serial, const char *library, const char *token,
                      const hsm_secbuf *pin, keystore **out);
void   ks_free(keystore **ks);
/* 1 when keys live in a token (NULL: the file store). */
int    ks_is_token(const keystore *ks);

/* For receipts ({"backend", and on a token "library", "token",
 * "token_desc"}) and, with ops, module.info: also "in_token" and
 * "in_module_memory", the operations done where. */
hsm_rc ks_describe(const keystore *ks, int ops, json_t **out);

/* init on a token: make the OA pair and the state key; HSM_ERR_EXISTS if
 * the token holds objects of this serial already. *oa_pub: its public key. */
hsm_rc ks_module_keys_make(keystore *ks, EVP_PKEY **oa_pub);
/* Undo ks_module_keys_make (an init that failed after it). */
hsm_rc ks_module_keys_destroy(keystore *ks);
/* The OA key as a signer (signatures made low-S, as receipts need). */
hsm_rc ks_oa_signer(keystore *ks, hsm_signer **out);

/* A whole master key of domain dom: its "mk" object and its blob wrapping
 * key's "bw" object, made from key (which the caller wipes). id: new. */
hsm_rc ks_register_make(keystore *ks, unsigned dom, const uint8_t key[32],
                        char id[KS_ID_LEN + 1]);
/* The blob wrapping context of register id: AES-GCM in the token. */
hsm_rc ks_register_kctx(keystore *ks, unsigned dom, const char *id,
                        const uint8_t mkvp[32], blob_kctx **out);
/* A PENDING being loaded, sealed under the state key (bound to the
 * module and domain) and opened again into locked memory. */
hsm_rc ks_pending_seal(keystore *ks, unsigned dom, const uint8_t acc[32],
                       uint8_t out[KS_SEALED_LEN]);
hsm_rc ks_pending_open(keystore *ks, unsigned dom, const uint8_t in[KS_SEALED_LEN],
                       hsm_secbuf **acc);
/* A new importer pair of domain dom; *pub its public key, id new. */
hsm_rc ks_importer_make(keystore *ks, unsigned dom, EVP_PKEY **pub, char id[KS_ID_LEN + 1]);
/* The importer pair id as a key-agreement party (ECDH in the token). */
hsm_rc ks_importer_agree(keystore *ks, unsigned dom, const char *id, EVP_PKEY *pub,
                         hsm_keyagree **out);
/* Append the labels of object (kind, id) of dom to arr (strings). */
hsm_rc ks_labels_of(const keystore *ks, unsigned dom, ks_kind kind, const char *id,
                    json_t *arr);
/* C_DestroyObject on every token object of (kind, id) of dom. */
hsm_rc ks_destroy(keystore *ks, unsigned dom, ks_kind kind, const char *id);

/* The journal of objects made (path, created 0600 when first written):
 * one line "dNN KIND ID" per register (mk) or importer pair (imp), synced
 * before the object is made. Without it, ks_sweep destroys only what saved
 * receipts give up. */
void   ks_set_journal(keystore *ks, const char *path);
/* What a domain says of one of its objects: KS_NAMED (its state names
 * it), KS_GIVEN_UP (a saved receipt says it is destroyed), KS_UNKNOWN. */
enum { KS_UNKNOWN = -1, KS_GIVEN_UP = 0, KS_NAMED = 1 };
typedef int (*ks_used_fn)(void *ctx, unsigned dom, ks_kind kind, const char *id,
                          const char *label);
/* The module's domain objects: those given up, and those unknown but in the
 * journal, are destroyed (*destroyed their labels); other unknown ones are
 * kept (*kept their labels). Then the journal is emptied. Both optional. */
hsm_rc ks_sweep(keystore *ks, ks_used_fn used, void *ctx, json_t **destroyed, json_t **kept);

#endif
