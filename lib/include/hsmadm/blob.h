/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * blob.h - key blobs: an application's AES-256 key wrapped under a domain's
 * master-key register, so that a master-key rotation can be proven (the
 * blob re-enciphered from CURRENT to PENDING still decrypts what it
 * encrypted). Pure format code, shared by the module (sim/simblob.c) and the
 * workstation (ops/reencipher.c). Reference: docs/blobs.md.
 *
 * Binary form, BLOB_LEN = 84 bytes, big-endian:
 *   0  magic "HKB" + version 0x01           4
 *   4  MKVP prefix of the wrapping register 8  (first 8 bytes of its MKVP)
 *  12  usage bits (BLOB_USE_*)              2
 *  14  reserved, zero                       2
 *  16  label digest                         8  (SHA-256(label)[0..8], or zero)
 *  24  IV                                  12
 *  36  AES-256-GCM ciphertext of the key   32
 *  68  GCM tag                             16
 * The 24 header bytes are the GCM AAD. The wrapping key is never the master
 * key itself: it is HKDF-SHA-256(ikm = master key, salt = empty,
 * info = "hsmadm blob wrap key v1"), one per register.
 *
 * Text form (JSON Lines): one blob per line, {"blob":"<112 base64>","id":"..."}
 * in canonical form ("id" optional, 1..BLOB_ID_MAX printable ASCII characters
 * other than '"' and '\\'). 84 is a multiple of 3, so a blob's base64 has no
 * padding and a run of blobs encodes as the concatenation of their base64:
 * batches on the wire are one string of n * 112 characters.
 */
#ifndef HSMADM_BLOB_H
#define HSMADM_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"
#include "hsmadm/vp.h"

#define BLOB_VERSION      1
#define BLOB_LEN          84
#define BLOB_B64_LEN      112
#define BLOB_HDR_LEN      24
#define BLOB_PREFIX_LEN   8
#define BLOB_LABEL_LEN    8
#define BLOB_IV_LEN       12
#define BLOB_KEY_LEN      32
#define BLOB_TAG_LEN      16
#define BLOB_ID_MAX       128
/* The most blobs in one blob.reencipher request: 8192 * 112 characters
 * stay well inside the 1 MiB frame, with room for the answer's list of
 * failures. */
#define BLOB_BATCH_MAX    8192
/* The most bytes blob.encrypt takes (blob.decrypt: this plus IV and tag). */
#define BLOB_DATA_MAX     65536
#define BLOB_DATA_OVERHEAD (BLOB_IV_LEN + BLOB_TAG_LEN)
/* The longest canonical line blob_line_format writes, with '\n' and NUL. */
#define BLOB_LINE_MAX     (sizeof("{\"blob\":\"\",\"id\":\"\"}\n") + BLOB_B64_LEN + BLOB_ID_MAX)

#define BLOB_USE_ENCRYPT  0x0001u
#define BLOB_USE_DECRYPT  0x0002u
#define BLOB_USE_KNOWN    (BLOB_USE_ENCRYPT | BLOB_USE_DECRYPT)

typedef struct blob_attrs {
	uint16_t usage;                    /* BLOB_USE_*, at least one bit */
	uint8_t  label[BLOB_LABEL_LEN];    /* SHA-256(label)[0..8], zero: none */
} blob_attrs;

typedef struct blob_info {
	uint8_t    prefix[BLOB_PREFIX_LEN];
	blob_attrs attrs;
} blob_info;

/* attrs for usage bits and an optional label (NULL or "": no label). */
hsm_rc blob_attrs_make(unsigned usage, const char *label, blob_attrs *out);
/* Parse usage names: "encrypt", "decrypt", "encrypt,decrypt", "all". */
hsm_rc blob_usage_parse(const char *s, unsigned *usage);

/* Check a blob's header strictly (length, magic, version, reserved bits,
 * usage) without any key. HSM_ERR_FORMAT with a message if it is not one. */
hsm_rc blob_parse(const uint8_t *b, size_t n, blob_info *out);
/* Lowercase hex of a prefix, 16 characters and NUL. */
void   blob_prefix_hex(const uint8_t prefix[BLOB_PREFIX_LEN], char out[2 * BLOB_PREFIX_LEN + 1]);

/* One register's wrapping key, kept as keyed OpenSSL contexts (one to seal,
 * one to open), so that a batch pays the key schedule once. Not thread-safe:
 * one per thread. */
typedef struct blob_kctx blob_kctx;
hsm_rc blob_kctx_new(const uint8_t mk[HSM_KEY_LEN], const uint8_t mkvp[HSM_VP_LEN],
                     blob_kctx **out);
void   blob_kctx_free(blob_kctx **k);
/* A wrapping key that lives elsewhere (a PKCS#11 token, sim/keystore.c):
 * the same AES-256-GCM, done by ops, so blobs are the same bytes whoever
 * holds the key. seal: pt (n bytes) to ct || 16-byte tag; open: ct || tag
 * (n bytes) to n - 16 bytes, HSM_ERR_VERIFY when the tag does not match.
 * Takes ownership of ctx (ops->free_ctx, also when the call fails). */
typedef struct blob_aead_ops {
	hsm_rc (*seal)(void *ctx, const uint8_t iv[BLOB_IV_LEN], const uint8_t *aad,
	               size_t aadlen, const uint8_t *pt, size_t n, uint8_t *out);
	hsm_rc (*open)(void *ctx, const uint8_t iv[BLOB_IV_LEN], const uint8_t *aad,
	               size_t aadlen, const uint8_t *in, size_t n, uint8_t *out);
	void   (*free_ctx)(void *ctx);
} blob_aead_ops;
hsm_rc blob_kctx_new_ext(const blob_aead_ops *ops, void *ctx, const uint8_t mkvp[HSM_VP_LEN],
                         blob_kctx **out);
/* The wrapping key of master key mk (HKDF above), for a holder that
 * keeps it elsewhere; the caller wipes wk. */
hsm_rc blob_wrap_key(const uint8_t mk[HSM_KEY_LEN], uint8_t wk[BLOB_KEY_LEN]);
const uint8_t *blob_kctx_mkvp(const blob_kctx *k);
/* 1 if the blob's MKVP prefix is this key's. */
int    blob_kctx_matches(const blob_kctx *k, const uint8_t blob[BLOB_LEN]);

/* Wrap key (32 bytes) under k with attributes a and the given IV (random,
 * never reused under one key). */
hsm_rc blob_seal(blob_kctx *k, const blob_attrs *a, const uint8_t iv[BLOB_IV_LEN],
                 const uint8_t key[BLOB_KEY_LEN], uint8_t out[BLOB_LEN]);
/* Unwrap: HSM_ERR_FORMAT (bad header), HSM_ERR_NOT_FOUND (another key's
 * prefix), HSM_ERR_VERIFY (tag: damaged, or another key with the same
 * prefix). key is wiped on failure; info (optional) gets the header. */
hsm_rc blob_open(blob_kctx *k, const uint8_t blob[BLOB_LEN], uint8_t key[BLOB_KEY_LEN],
                 blob_info *info);
/* Re-encipher: open under from, seal under to with the same attributes and
 * a new IV. The key exists in clear only on the stack, wiped after. */
hsm_rc blob_rewrap(blob_kctx *from, blob_kctx *to, const uint8_t iv[BLOB_IV_LEN],
                   const uint8_t in[BLOB_LEN], uint8_t out[BLOB_LEN]);

/* Data under a blob's key: IV (12) || AES-256-GCM ciphertext || tag (16),
 * AAD "hsmadm blob data v1". *out is malloc'ed. open: HSM_ERR_VERIFY if the
 * tag does not match. n at most BLOB_DATA_MAX. */
hsm_rc blob_data_seal(const uint8_t key[BLOB_KEY_LEN], const uint8_t *pt, size_t n,
                      uint8_t **out, size_t *outlen);
hsm_rc blob_data_open(const uint8_t key[BLOB_KEY_LEN], const uint8_t *in, size_t n,
                      uint8_t **out, size_t *outlen);

/* Runs of blobs as one base64 string (no padding). decode: inlen must be a
 * multiple of BLOB_B64_LEN and at most max blobs; strict alphabet.
 * encode writes nblobs * BLOB_B64_LEN characters and a NUL. */
hsm_rc blob_b64_decode(const char *in, size_t inlen, size_t max, uint8_t *out,
                       size_t *nblobs);
void   blob_b64_encode(const uint8_t *in, size_t nblobs, char *out);

/* One JSON Lines line (without its '\n'): the canonical form is read
 * directly, any other JSON spelling of {"blob", "id"?} through the JSON
 * parser; other members, a bad id or a blob whose header does not parse
 * are HSM_ERR_FORMAT. id gets "" when the line has none. */
hsm_rc blob_line_parse(const char *line, size_t n, uint8_t blob[BLOB_LEN],
                       char id[BLOB_ID_MAX + 1]);
/* The canonical line with '\n' into out (BLOB_LINE_MAX bytes); its length. */
size_t blob_line_format(const uint8_t blob[BLOB_LEN], const char *id, char *out);

#endif
