/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reencipher_ref.c - the reference of the re-encipher bench: OpenSSL's own
 * AES-256-GCM decrypt + encrypt of one key blob's worth (24 bytes of AAD,
 * 32 bytes of key, 12-byte IV, 16-byte tag), with two keyed contexts reused
 * for every blob, the best a re-encipher could do with no framing, TLS or
 * journal. Prints "ref_blobs_per_s N" after running about SECONDS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5, t0, el;
	uint8_t k1[32] = { 1 }, k2[32] = { 2 }, blob[84] = { 'H', 'K', 'B', 1 }, out[84], key[32],
	        dummy[16];
	EVP_CIPHER_CTX *enc = EVP_CIPHER_CTX_new(), *dec = EVP_CIPHER_CTX_new();
	unsigned long n = 0, i;
	int len;

	if (enc == NULL || dec == NULL ||
	    !EVP_EncryptInit_ex(enc, EVP_aes_256_gcm(), NULL, k1, NULL) ||
	    !EVP_DecryptInit_ex(dec, EVP_aes_256_gcm(), NULL, k1, NULL))
		return 1;
	/* A valid blob under k1 to start from. */
	if (!EVP_EncryptInit_ex(enc, NULL, NULL, NULL, blob + 24) ||
	    !EVP_EncryptUpdate(enc, NULL, &len, blob, 24) ||
	    !EVP_EncryptUpdate(enc, blob + 36, &len, k2, 32) ||
	    !EVP_EncryptFinal_ex(enc, dummy, &len) ||
	    !EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_GCM_GET_TAG, 16, blob + 68) ||
	    !EVP_EncryptInit_ex(enc, NULL, NULL, k2, NULL))
		return 1;
	t0 = now_s();
	do {
		for (i = 0; i < 4096; i++) {
			if (!EVP_DecryptInit_ex(dec, NULL, NULL, NULL, blob + 24) ||
			    !EVP_DecryptUpdate(dec, NULL, &len, blob, 24) ||
			    !EVP_DecryptUpdate(dec, key, &len, blob + 36, 32) ||
			    !EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_GCM_SET_TAG, 16, blob + 68) ||
			    EVP_DecryptFinal_ex(dec, dummy, &len) <= 0)
				return 2;
			memcpy(out, blob, 36);
			out[30] = (uint8_t)i;   /* a new IV each time */
			if (!EVP_EncryptInit_ex(enc, NULL, NULL, NULL, out + 24) ||
			    !EVP_EncryptUpdate(enc, NULL, &len, out, 24) ||
			    !EVP_EncryptUpdate(enc, out + 36, &len, key, 32) ||
			    !EVP_EncryptFinal_ex(enc, dummy, &len) ||
			    !EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_GCM_GET_TAG, 16, out + 68))
				return 3;
		}
		n += 4096;
		el = now_s() - t0;
	} while (el < secs);
	printf("ref_blobs_per_s %.0f\n", (double)n / el);
	EVP_CIPHER_CTX_free(enc);
	EVP_CIPHER_CTX_free(dec);
	return 0;
}
