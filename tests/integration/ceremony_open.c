/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ceremony_open - TEST HELPER ONLY: print the clear key part (hex) of the
 * envelope PART_ID on a virtual card, using the card file's slot-9D private
 * key (hsmadm-vcard keeps its keys in clear in that file). The end-to-end
 * test uses it to recompute the expected MKVP independently of the modules.
 * Usage: ceremony_open CARD.json PART_ID
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/envelope.h"
#include "hsmadm/signer.h"

static hsm_rc
ka_ecdh(void *ctx, EVP_PKEY *peer, hsm_secbuf **shared)
{
	return crypto_ecdh(ctx, peer, shared);
}

static void
ka_free(void *ctx)
{
	EVP_PKEY_free(ctx);
}

static const struct hsm_keyagree_ops ops = { ka_ecdh, ka_free };

/* The envelope object (docs/formats/card.md) holds 81 <len> PART-ID and
 * 82 <len> ENVELOPE; a plain scan is enough for a test helper. */
static int
find_blob(const uint8_t *o, size_t n, const char *part, const uint8_t **blob, size_t *bl)
{
	size_t pl = strlen(part);

	for (size_t i = 0; i + 2 + pl < n; i++) {
		if (o[i] == 0x81 && o[i + 1] == pl && memcmp(o + i + 2, part, pl) == 0) {
			size_t j = i + 2 + pl, len;
			if (j + 2 > n || o[j] != 0x82)
				continue;
			if (o[j + 1] < 0x80) {
				len = o[j + 1];
				j += 2;
			} else if (o[j + 1] == 0x81 && j + 3 <= n) {
				len = o[j + 2];
				j += 3;
			} else if (o[j + 1] == 0x82 && j + 4 <= n) {
				len = ((size_t)o[j + 2] << 8) | o[j + 3];
				j += 4;
			} else
				continue;
			if (j + len > n)
				continue;
			*blob = o + j;
			*bl = len;
			return 0;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	json_error_t je;
	json_t *card, *objs, *v;
	const char *k, *pem, *cid;
	EVP_PKEY *priv = NULL;
	BIO *bio;
	hsm_keyagree *ka = NULL;
	hsm_secbuf *part = NULL;
	envelope_info info;

	if (argc != 3) {
		fprintf(stderr, "usage: ceremony_open CARD.json PART_ID\n");
		return 2;
	}
	if ((card = json_load_file(argv[1], 0, &je)) == NULL) {
		fprintf(stderr, "%s: %s\n", argv[1], je.text);
		return 1;
	}
	pem = json_string_value(json_object_get(json_object_get(json_object_get(card, "keys"),
	    "9d"), "private_key_pem"));
	if (pem == NULL || (bio = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (priv = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "no 9D key in %s\n", argv[1]);
		return 1;
	}
	BIO_free(bio);
	if (keyagree_new(&ops, priv, priv, "vcard file", &ka) != HSM_OK)
		return 1;
	objs = json_object_get(card, "objects");
	json_object_foreach(objs, k, v) {
		uint8_t *o = NULL;
		size_t n = 0, bl = 0;
		const uint8_t *blob;

		if (hex_decode(json_string_value(v), &o, &n) != HSM_OK)
			continue;
		if (find_blob(o, n, argv[2], &blob, &bl) == 0 &&
		    envelope_parse(blob, bl, &info) == HSM_OK) {
			cid = info.card_id;
			if (envelope_open(blob, bl, ka, cid, argv[2], &part, NULL) != HSM_OK) {
				fprintf(stderr, "%s\n", hsm_errmsg());
				return 1;
			}
			for (size_t i = 0; i < part->len; i++)
				printf("%02x", part->data[i]);
			printf("\n");
			secbuf_free(&part);
			free(o);
			keyagree_free(&ka);
			json_decref(card);
			return 0;
		}
		free(o);
	}
	fprintf(stderr, "no envelope for part %s on %s\n", argv[2], argv[1]);
	return 1;
}
