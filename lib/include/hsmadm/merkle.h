/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * merkle.h - Merkle tree hashes and inclusion proofs as RFC 9162 §2.1
 * defines them, with SHA-384: a leaf is SHA-384(0x00 || data), a node
 * SHA-384(0x01 || left || right), and a tree of n leaves splits at the
 * largest power of two below n. A module signs the root of its receipts
 * of one request once instead of each receipt (receipt.h); each receipt
 * carries its inclusion proof.
 */
#ifndef HSMADM_MERKLE_H
#define HSMADM_MERKLE_H

#include <stddef.h>
#include <stdint.h>
#include "hsmadm/err.h"

#define MERKLE_HASH_LEN 48
#define MERKLE_MAX_LEAVES 4096
#define MERKLE_PATH_MAX 12      /* ceil(log2(MERKLE_MAX_LEAVES)) */

typedef uint8_t merkle_hash[MERKLE_HASH_LEN];

/* The leaf hash of data. */
hsm_rc merkle_leaf(const void *data, size_t len, merkle_hash out);

/* The tree over n (1..MERKLE_MAX_LEAVES) leaf hashes, built once. */
typedef struct merkle_tree merkle_tree;
hsm_rc merkle_build(const merkle_hash *leaves, size_t n, merkle_tree **out);
void   merkle_free(merkle_tree **t);
void   merkle_root(const merkle_tree *t, merkle_hash out);
/* The inclusion proof of leaf m (< n) into path (MERKLE_PATH_MAX hashes),
 * the sibling nearest the leaf first; returns its length. */
size_t merkle_path(const merkle_tree *t, size_t m, merkle_hash *path);

/* RFC 9162 §2.1.3.2: HSM_OK when leaf, at index in a tree of size leaves,
 * with path (plen hashes) gives root; HSM_ERR_VERIFY otherwise. */
hsm_rc merkle_verify(const merkle_hash leaf, size_t index, size_t size, const merkle_hash *path,
                     size_t plen, const merkle_hash root);

#endif
