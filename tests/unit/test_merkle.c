/* SPDX-License-Identifier: BSD-2-Clause */
/* test_merkle.c - Merkle tree hashes and inclusion proofs: the bottom-up
 * builder against RFC 9162's recursive definition, written here again
 * from the RFC, for every tree size up to 70 and every leaf; and every way
 * a proof can be wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "hsmadm/merkle.h"

/* RFC 9162 §2.1.1, recursively: MTH(D[n]) splits at the largest power of
 * two below n. */
static void
rfc_node(const merkle_hash l, const merkle_hash r, merkle_hash out)
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];
	unsigned int n = 0;

	buf[0] = 0x01;
	memcpy(buf + 1, l, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, r, MERKLE_HASH_LEN);
	assert_int_equal(EVP_Digest(buf, sizeof(buf), out, &n, EVP_sha384(), NULL), 1);
}

static size_t
split(size_t n)
{
	size_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void
rfc_mth(const merkle_hash *d, size_t n, merkle_hash out)
{
	merkle_hash l, r;
	size_t k;

	if (n == 1) {
		memcpy(out, d[0], MERKLE_HASH_LEN);
		return;
	}
	k = split(n);
	rfc_mth(d, k, l);
	rfc_mth(d + k, n - k, r);
	rfc_node(l, r, out);
}

/* RFC 9162 §2.1.3.1 PATH(m, D[n]). */
static size_t
rfc_path(const merkle_hash *d, size_t n, size_t m, merkle_hash *path)
{
	size_t k, len;

	if (n == 1)
		return 0;
	k = split(n);
	if (m < k) {
		len = rfc_path(d, k, m, path);
		rfc_mth(d + k, n - k, path[len]);
	} else {
		len = rfc_path(d + k, n - k, m - k, path);
		rfc_mth(d, k, path[len]);
	}
	return len + 1;
}

static void
leaves(merkle_hash *d, size_t n)
{
	char data[32];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(data, sizeof(data), "leaf %zu", i);
		assert_int_equal(merkle_leaf(data, strlen(data), d[i]), HSM_OK);
	}
}

static void
test_matches_rfc(void **state)
{
	merkle_hash d[70], root, want, path[MERKLE_PATH_MAX], wpath[MERKLE_PATH_MAX];
	merkle_tree *t = NULL;
	size_t n, m, len;

	(void)state;
	leaves(d, 70);
	for (n = 1; n <= 70; n++) {
		assert_int_equal(merkle_build((const merkle_hash *)d, n, &t), HSM_OK);
		merkle_root(t, root);
		rfc_mth(d, n, want);
		assert_memory_equal(root, want, MERKLE_HASH_LEN);
		for (m = 0; m < n; m++) {
			len = merkle_path(t, m, path);
			assert_int_equal(len, rfc_path(d, n, m, wpath));
			assert_memory_equal(path, wpath, len * MERKLE_HASH_LEN);
			assert_int_equal(merkle_verify(d[m], m, n, (const merkle_hash *)path, len,
			    root), HSM_OK);
		}
		merkle_free(&t);
	}
}

/* A leaf hash is not the bare digest of its data: a node cannot pass for
 * a leaf (the 0x00 / 0x01 prefixes). */
static void
test_leaf_prefix(void **state)
{
	merkle_hash h, plain;
	unsigned int n = 0;

	(void)state;
	assert_int_equal(merkle_leaf("abc", 3, h), HSM_OK);
	assert_int_equal(EVP_Digest("abc", 3, plain, &n, EVP_sha384(), NULL), 1);
	assert_memory_not_equal(h, plain, MERKLE_HASH_LEN);
}

static void
test_wrong_proofs(void **state)
{
	merkle_hash d[11], root, path[MERKLE_PATH_MAX], other;
	merkle_tree *t = NULL;
	size_t len;

	(void)state;
	leaves(d, 11);
	assert_int_equal(merkle_build((const merkle_hash *)d, 11, &t), HSM_OK);
	merkle_root(t, root);
	len = merkle_path(t, 5, path);
	assert_int_equal(merkle_verify(d[5], 5, 11, (const merkle_hash *)path, len, root), HSM_OK);
	/* another leaf, index, size, a changed or missing hash, an extra hash */
	assert_int_equal(merkle_verify(d[4], 5, 11, (const merkle_hash *)path, len, root), HSM_ERR_VERIFY);
	assert_int_equal(merkle_verify(d[5], 4, 11, (const merkle_hash *)path, len, root), HSM_ERR_VERIFY);
	/* a size of another shape (one of the same shape leads to the same root:
	 * what is signed binds the size, receipt.h) */
	assert_int_equal(merkle_verify(d[5], 5, 6, (const merkle_hash *)path, len, root), HSM_ERR_VERIFY);
	assert_int_equal(merkle_verify(d[5], 5, 8, (const merkle_hash *)path, len, root), HSM_ERR_VERIFY);
	assert_int_equal(merkle_verify(d[5], 5, 11, (const merkle_hash *)path, len - 1, root), HSM_ERR_VERIFY);
	memcpy(path[len], d[0], MERKLE_HASH_LEN);
	assert_int_equal(merkle_verify(d[5], 5, 11, (const merkle_hash *)path, len + 1, root), HSM_ERR_VERIFY);
	path[1][7] ^= 1;
	assert_int_equal(merkle_verify(d[5], 5, 11, (const merkle_hash *)path, len, root), HSM_ERR_VERIFY);
	path[1][7] ^= 1;
	memcpy(other, root, MERKLE_HASH_LEN);
	other[0] ^= 0x80;
	assert_int_equal(merkle_verify(d[5], 5, 11, (const merkle_hash *)path, len, other), HSM_ERR_VERIFY);
	/* not a proof at all */
	assert_int_equal(merkle_verify(d[5], 11, 11, (const merkle_hash *)path, len, root), HSM_ERR_VERIFY);
	assert_int_equal(merkle_verify(d[5], 0, 0, (const merkle_hash *)path, 0, root), HSM_ERR_VERIFY);
	assert_int_equal(merkle_verify(d[5], 5, 11, (const merkle_hash *)path, MERKLE_PATH_MAX + 1,
	    root), HSM_ERR_VERIFY);
	merkle_free(&t);
	/* one leaf: the root is the leaf, the proof empty */
	assert_int_equal(merkle_build((const merkle_hash *)d, 1, &t), HSM_OK);
	merkle_root(t, root);
	assert_memory_equal(root, d[0], MERKLE_HASH_LEN);
	assert_int_equal(merkle_path(t, 0, path), 0);
	merkle_free(&t);
	/* sizes out of range */
	assert_int_equal(merkle_build((const merkle_hash *)d, 0, &t), HSM_ERR_USAGE);
	assert_int_equal(merkle_build((const merkle_hash *)d, MERKLE_MAX_LEAVES + 1, &t), HSM_ERR_USAGE);
	assert_null(t);
	merkle_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_rfc),
		cmocka_unit_test(test_leaf_prefix),
		cmocka_unit_test(test_wrong_proofs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
