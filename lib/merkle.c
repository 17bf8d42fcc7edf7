/* SPDX-License-Identifier: BSD-2-Clause */
/* merkle.c - RFC 9162 Merkle tree hashes and inclusion proofs, SHA-384
 * (see merkle.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hsmadm/merkle.h"

/* Built bottom-up, level by level: a level's last node without a sibling
 * goes up unchanged, which gives the same root and proofs as RFC 9162's
 * split at the largest power of two (merkle_verify checks with the RFC's
 * own algorithm). */
struct merkle_tree {
	size_t       nlevels;
	size_t       width[MERKLE_PATH_MAX + 1];
	size_t       off[MERKLE_PATH_MAX + 1];
	merkle_hash *node;
};

/* SHA-384(prefix || a || b). */
static hsm_rc
h384(uint8_t prefix, const void *a, size_t alen, const void *b, size_t blen, merkle_hash out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha384(), NULL) == 1 &&
	    EVP_DigestUpdate(c, &prefix, 1) == 1 && EVP_DigestUpdate(c, a, alen) == 1 &&
	    (blen == 0 || EVP_DigestUpdate(c, b, blen) == 1) &&
	    EVP_DigestFinal_ex(c, out, &n) == 1 && n == MERKLE_HASH_LEN;
	EVP_MD_CTX_free(c);
	return ok ? HSM_OK : hsm_fail(HSM_ERR_CRYPTO, "SHA-384 failed");
}

hsm_rc
merkle_leaf(const void *data, size_t len, merkle_hash out)
{
	return h384(0x00, data, len, NULL, 0, out);
}

static hsm_rc
node(const merkle_hash l, const merkle_hash r, merkle_hash out)
{
	return h384(0x01, l, MERKLE_HASH_LEN, r, MERKLE_HASH_LEN, out);
}

hsm_rc
merkle_build(const merkle_hash *leaves, size_t n, merkle_tree **out)
{
	merkle_tree *t = NULL;
	size_t j, i, w;
	hsm_rc rc;

	*out = NULL;
	if (n == 0 || n > MERKLE_MAX_LEAVES)
		return hsm_fail(HSM_ERR_USAGE, "a Merkle tree has 1 to %d leaves, not %zu",
		    MERKLE_MAX_LEAVES, n);
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->node = calloc(2 * n + MERKLE_PATH_MAX, sizeof(*t->node))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	/* the levels hold n + ceil(n/2) + ... < 2n + one per level nodes */
	memcpy(t->node, leaves, n * sizeof(*leaves));
	t->width[0] = n;
	for (j = 0, w = n; w > 1; j++, w = (w + 1) / 2) {
		merkle_hash *lv = t->node + t->off[j], *up = lv + w;

		t->off[j + 1] = t->off[j] + w;
		t->width[j + 1] = (w + 1) / 2;
		for (i = 0; i + 1 < w; i += 2)
			if ((rc = node(lv[i], lv[i + 1], up[i / 2])) != HSM_OK)
				goto fail;
		if (w % 2 == 1)
			memcpy(up[w / 2], lv[w - 1], MERKLE_HASH_LEN);
	}
	t->nlevels = j + 1;
	*out = t;
	return HSM_OK;
fail:
	merkle_free(&t);
	return rc;
}

void
merkle_free(merkle_tree **t)
{
	if (t == NULL || *t == NULL)
		return;
	free((*t)->node);
	free(*t);
	*t = NULL;
}

void
merkle_root(const merkle_tree *t, merkle_hash out)
{
	memcpy(out, t->node[t->off[t->nlevels - 1]], MERKLE_HASH_LEN);
}

size_t
merkle_path(const merkle_tree *t, size_t m, merkle_hash *path)
{
	size_t j, len = 0;

	for (j = 0; j + 1 < t->nlevels; j++, m /= 2)
		if ((m ^ 1) < t->width[j])
			memcpy(path[len++], t->node[t->off[j] + (m ^ 1)], MERKLE_HASH_LEN);
	return len;
}

hsm_rc
merkle_verify(const merkle_hash leaf, size_t index, size_t size, const merkle_hash *path,
              size_t plen, const merkle_hash root)
{
	merkle_hash r;
	size_t fn = index, sn, k;

	if (size == 0 || index >= size || plen > MERKLE_PATH_MAX)
		return hsm_fail(HSM_ERR_VERIFY, "not a proof: leaf %zu of %zu, %zu hashes", index,
		    size, plen);
	sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH_LEN);
	for (k = 0; k < plen; k++) {
		if (sn == 0)
			return hsm_fail(HSM_ERR_VERIFY, "the proof is longer than the tree is deep");
		if ((fn & 1) || fn == sn) {
			if (node(path[k], r, r) != HSM_OK)
				return HSM_ERR_CRYPTO;
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else if (node(r, path[k], r) != HSM_OK)
			return HSM_ERR_CRYPTO;
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(r, root, MERKLE_HASH_LEN) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "the proof does not lead to the signed root");
	return HSM_OK;
}
