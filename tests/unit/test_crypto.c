/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_crypto.c - known-answer tests from published vectors, plus the
 * refusals: tampered signatures, malformed DER, wrong tags and KEKs, points
 * off the curve, curve mismatches, garbage keys. Each vector names its source.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hsmadm/crypto.h"
#include "hsmadm/ecdsa_lows.h"
#include "ecdsa_twin.h"
#include "test_tmpdir.h"

/* ---- helpers ------------------------------------------------------------- */

/* Hex to bytes, for vectors written in the test (upper or lower case). */
static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	assert_true(strlen(s) % 2 == 0);
	for (; s[0] != '\0'; s += 2) {
		unsigned v;
		assert_true(n < cap);
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void
assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[256];
	size_t wn = unhex(want, w, sizeof(w));

	assert_int_equal(n, wn);
	assert_memory_equal(got, w, n);
}

/* A key pair from a published private scalar and public point. */
static EVP_PKEY *
keypair_from(const char *group, const char *d_hex, const char *pt_hex)
{
	uint8_t d[80], pt[160];
	size_t dn = unhex(d_hex, d, sizeof(d)), pn = unhex(pt_hex, pt, sizeof(pt));
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(d, (int)dn, NULL);
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;

	assert_non_null(bld);
	assert_non_null(bn);
	assert_true(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0));
	assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn));
	assert_true(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, pn));
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_true(EVP_PKEY_fromdata_init(ctx) > 0);
	assert_true(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) > 0);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bn);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

static EVP_PKEY *
pub_from_hex(hsm_curve c, const char *pt_hex)
{
	uint8_t pt[160];
	size_t n = unhex(pt_hex, pt, sizeof(pt));
	EVP_PKEY *k = NULL;

	assert_int_equal(crypto_ec_from_point(c, pt, n, &k), HSM_OK);
	assert_non_null(k);
	return k;
}

static char *
make_tmpdir(void)
{
	return make_tmpdir_named("test-crypto");
}

/* ---- digests, HMAC, HKDF ------------------------------------------------------ */

/* FIPS 180-2 Appendix B/C/D examples: "abc". */
static void
test_sha_abc(void **state)
{
	uint8_t out[64];

	(void)state;
	assert_int_equal(crypto_sha256("abc", 3, out), HSM_OK);
	assert_hex(out, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(crypto_digest(HSM_MD_SHA384, "abc", 3, out), HSM_OK);
	assert_hex(out, 48, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
	    "8086072ba1e7cc2358baeca134c825a7");
	assert_int_equal(crypto_digest(HSM_MD_SHA512, "abc", 3, out), HSM_OK);
	assert_hex(out, 64, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	/* Empty input is legal. */
	assert_int_equal(crypto_sha256(NULL, 0, out), HSM_OK);
	assert_hex(out, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(crypto_md_len(HSM_MD_SHA384), 48);
	assert_int_equal(crypto_md_len((hsm_md)1), 0);
	assert_int_equal(crypto_digest((hsm_md)1, "abc", 3, out), HSM_ERR_USAGE);
	assert_int_equal(crypto_curve_md(HSM_CURVE_P256), HSM_MD_SHA256);
	assert_int_equal(crypto_curve_md(HSM_CURVE_P384), HSM_MD_SHA384);
	assert_int_equal(crypto_curve_md(HSM_CURVE_P521), HSM_MD_SHA512);
}

/* RFC 4231 test cases 1 and 2. */
static void
test_hmac_rfc4231(void **state)
{
	uint8_t key[20], out[64];
	static const char data2[] = "what do ya want for nothing?";

	(void)state;
	memset(key, 0x0b, sizeof(key));
	assert_int_equal(crypto_hmac(HSM_MD_SHA256, key, 20, "Hi There", 8, out), HSM_OK);
	assert_hex(out, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	assert_int_equal(crypto_hmac(HSM_MD_SHA384, key, 20, "Hi There", 8, out), HSM_OK);
	assert_hex(out, 48, "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
	    "faea9ea9076ede7f4af152e8b2fa9cb6");
	assert_int_equal(crypto_hmac(HSM_MD_SHA512, key, 20, "Hi There", 8, out), HSM_OK);
	assert_hex(out, 64, "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
	    "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");

	assert_int_equal(crypto_hmac(HSM_MD_SHA256, (const uint8_t *)"Jefe", 4, data2,
	    strlen(data2), out), HSM_OK);
	assert_hex(out, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	assert_int_equal(crypto_hmac(HSM_MD_SHA384, (const uint8_t *)"Jefe", 4, data2,
	    strlen(data2), out), HSM_OK);
	assert_hex(out, 48, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
	    "8e2240ca5e69e2c78b3239ecfab21649");
	assert_int_equal(crypto_hmac(HSM_MD_SHA512, (const uint8_t *)"Jefe", 4, data2,
	    strlen(data2), out), HSM_OK);
	assert_hex(out, 64, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
	    "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

/* RFC 5869 Appendix A, test cases 1-3 (SHA-256). */
static void
test_hkdf_rfc5869(void **state)
{
	uint8_t ikm[80], salt[80], info[80], okm[82];

	(void)state;
	/* A.1 */
	memset(ikm, 0x0b, 22);
	unhex("000102030405060708090a0b0c", salt, sizeof(salt));
	unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof(info));
	assert_int_equal(crypto_hkdf(HSM_MD_SHA256, salt, 13, ikm, 22, info, 10, okm, 42), HSM_OK);
	assert_hex(okm, 42, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	    "34007208d5b887185865");
	/* A.2: IKM 0x00..0x4f, salt 0x60..0xaf, info 0xb0..0xff, L = 82. */
	for (int i = 0; i < 80; i++) {
		ikm[i] = (uint8_t)i;
		salt[i] = (uint8_t)(0x60 + i);
		info[i] = (uint8_t)(0xb0 + i);
	}
	assert_int_equal(crypto_hkdf(HSM_MD_SHA256, salt, 80, ikm, 80, info, 80, okm, 82), HSM_OK);
	assert_hex(okm, 82, "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
	    "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
	    "cc30c58179ec3e87c14c01d5c1f3434f1d87");
	/* A.3: zero-length salt and info. */
	memset(ikm, 0x0b, 22);
	assert_int_equal(crypto_hkdf(HSM_MD_SHA256, NULL, 0, ikm, 22, NULL, 0, okm, 42), HSM_OK);
	assert_hex(okm, 42, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	    "9d201395faa4b61a96c8");
	/* Refusals: more than 255 blocks, no IKM. */
	assert_int_equal(crypto_hkdf(HSM_MD_SHA256, NULL, 0, ikm, 22, NULL, 0, okm, 0),
	    HSM_ERR_USAGE);
	assert_int_equal(crypto_hkdf(HSM_MD_SHA256, NULL, 0, NULL, 0, NULL, 0, okm, 42),
	    HSM_ERR_USAGE);
	{
		uint8_t *big = malloc(255 * 32 + 1);
		assert_non_null(big);
		assert_int_equal(crypto_hkdf(HSM_MD_SHA256, NULL, 0, ikm, 22, NULL, 0, big,
		    255 * 32 + 1), HSM_ERR_USAGE);
		free(big);
	}
}

static void
test_random(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	assert_int_equal(crypto_random(a, sizeof(a)), HSM_OK);
	assert_int_equal(crypto_random(b, sizeof(b)), HSM_OK);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(crypto_random(a, 0), HSM_OK);
}

/* ---- AES-256-GCM ----------------------------------------------------------------- */

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 14-16. */
static void
test_gcm_vectors(void **state)
{
	uint8_t key[32], iv[12], pt[64], ct[64], tag[16], out[64], aad[20];
	size_t ptn, aadn;

	(void)state;
	/* Test case 14: zero key, zero IV, one zero block. */
	memset(key, 0, 32);
	memset(iv, 0, 12);
	memset(pt, 0, 16);
	assert_int_equal(crypto_gcm_seal(key, iv, NULL, 0, pt, 16, ct, tag), HSM_OK);
	assert_hex(ct, 16, "cea7403d4d606b6e074ec5d3baf39d18");
	assert_hex(tag, 16, "d0d1c8a799996bf0265b98b5d48ab919");
	assert_int_equal(crypto_gcm_open(key, iv, NULL, 0, ct, 16, tag, out), HSM_OK);
	assert_memory_equal(out, pt, 16);

	/* Test case 15: 64 bytes, no AAD. */
	unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
	unhex("cafebabefacedbaddecaf888", iv, 12);
	ptn = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255", pt, 64);
	assert_int_equal(crypto_gcm_seal(key, iv, NULL, 0, pt, ptn, ct, tag), HSM_OK);
	assert_hex(ct, 64, "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad");
	assert_hex(tag, 16, "b094dac5d93471bdec1a502270e3cc6c");
	assert_int_equal(crypto_gcm_open(key, iv, NULL, 0, ct, 64, tag, out), HSM_OK);
	assert_memory_equal(out, pt, 64);

	/* Test case 16: 60 bytes with 20 bytes of AAD. */
	aadn = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, sizeof(aad));
	assert_int_equal(crypto_gcm_seal(key, iv, aad, aadn, pt, 60, ct, tag), HSM_OK);
	assert_hex(ct, 60, "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662");
	assert_hex(tag, 16, "76fc6ece0f4e1768cddf8853bb2d551b");
	assert_int_equal(crypto_gcm_open(key, iv, aad, aadn, ct, 60, tag, out), HSM_OK);
	assert_memory_equal(out, pt, 60);
}

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void
test_gcm_refusals(void **state)
{
	uint8_t key[32], iv[12], pt[40], ct[40], tag[16], bad[16], out[40];
	const uint8_t aad[] = "card 1 part 2";

	(void)state;
	memset(key, 0x11, sizeof(key));
	memset(iv, 0x22, sizeof(iv));
	memset(pt, 0x5a, sizeof(pt));
	assert_int_equal(crypto_gcm_seal(key, iv, aad, sizeof(aad), pt, sizeof(pt), ct, tag),
	    HSM_OK);

	/* Wrong tag: VERIFY, and nothing usable left in out. */
	memcpy(bad, tag, 16);
	bad[15] ^= 0x01;
	memset(out, 0xee, sizeof(out));
	assert_int_equal(crypto_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), bad, out),
	    HSM_ERR_VERIFY);
	assert_true(all_zero(out, sizeof(out)));
	assert_int_equal(hsm_errcode(), HSM_ERR_VERIFY);

	/* Changed AAD, changed ciphertext, wrong key, wrong IV. */
	assert_int_equal(crypto_gcm_open(key, iv, aad, sizeof(aad) - 1, ct, sizeof(ct), tag, out),
	    HSM_ERR_VERIFY);
	ct[0] ^= 0x80;
	assert_int_equal(crypto_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), tag, out),
	    HSM_ERR_VERIFY);
	assert_true(all_zero(out, sizeof(out)));
	ct[0] ^= 0x80;
	key[31] ^= 1;
	assert_int_equal(crypto_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), tag, out),
	    HSM_ERR_VERIFY);
	key[31] ^= 1;
	iv[0] ^= 1;
	assert_int_equal(crypto_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), tag, out),
	    HSM_ERR_VERIFY);
	iv[0] ^= 1;
	assert_int_equal(crypto_gcm_open(key, iv, aad, sizeof(aad), ct, sizeof(ct), tag, out),
	    HSM_OK);
	assert_memory_equal(out, pt, sizeof(pt));

	/* Empty plaintext still authenticates the AAD. */
	assert_int_equal(crypto_gcm_seal(key, iv, aad, sizeof(aad), NULL, 0, NULL, tag), HSM_OK);
	assert_int_equal(crypto_gcm_open(key, iv, aad, sizeof(aad), NULL, 0, tag, NULL), HSM_OK);
	assert_int_equal(crypto_gcm_open(key, iv, aad, 3, NULL, 0, tag, NULL), HSM_ERR_VERIFY);
}

/* ---- RFC 5649 key wrap with padding ----------------------------------------------- */

/* RFC 5649 section 6: both examples, 192-bit KEK. */
static void
test_kwp_rfc5649(void **state)
{
	uint8_t kek[24], key[20], out[48], back[48];
	size_t outlen = 0, backlen = 0, n;

	(void)state;
	unhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", kek, sizeof(kek));

	n = unhex("c37b7e6492584340bed12207808941155068f738", key, sizeof(key));
	assert_int_equal(crypto_kwp_wrap(kek, 24, key, n, out, &outlen), HSM_OK);
	assert_hex(out, outlen, "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a"
	    "5f54f373fa543b6a");
	assert_int_equal(crypto_kwp_unwrap(kek, 24, out, outlen, back, &backlen), HSM_OK);
	assert_int_equal(backlen, n);
	assert_memory_equal(back, key, n);

	n = unhex("466f7250617369", key, sizeof(key));
	assert_int_equal(crypto_kwp_wrap(kek, 24, key, n, out, &outlen), HSM_OK);
	assert_hex(out, outlen, "afbeb0f07dfbf5419200f2ccb50bb24f");
	assert_int_equal(crypto_kwp_unwrap(kek, 24, out, outlen, back, &backlen), HSM_OK);
	assert_int_equal(backlen, 7);
	assert_memory_equal(back, key, 7);
}

static void
test_kwp_refusals(void **state)
{
	uint8_t kek[32], kek2[32], part[32], out[48], back[48];
	size_t outlen = 0, backlen = 0;

	(void)state;
	assert_int_equal(crypto_random(kek, 32), HSM_OK);
	memcpy(kek2, kek, 32);
	kek2[0] ^= 1;
	assert_int_equal(crypto_random(part, 32), HSM_OK);
	for (size_t kl = 16; kl <= 32; kl += 8) {
		assert_int_equal(crypto_kwp_wrap(kek, kl, part, 32, out, &outlen), HSM_OK);
		assert_int_equal(outlen, 40);
		assert_int_equal(crypto_kwp_unwrap(kek, kl, out, outlen, back, &backlen), HSM_OK);
		assert_int_equal(backlen, 32);
		assert_memory_equal(back, part, 32);
		/* Wrong KEK: integrity check fails, nothing usable left. */
		memset(back, 0xee, sizeof(back));
		assert_int_equal(crypto_kwp_unwrap(kek2, kl, out, outlen, back, &backlen),
		    HSM_ERR_VERIFY);
		assert_true(all_zero(back, 32));
		/* One changed bit anywhere. */
		out[39] ^= 0x01;
		assert_int_equal(crypto_kwp_unwrap(kek, kl, out, outlen, back, &backlen),
		    HSM_ERR_VERIFY);
		out[39] ^= 0x01;
	}
	/* The output buffer is exactly n - 8 bytes: a failed unwrap must not
	 * write past it (OpenSSL 3.0 itself cleanses n bytes on failure). */
	{
		uint8_t *exact = malloc(32 + 8);
		assert_non_null(exact);
		memset(exact + 32, 0xa5, 8);
		assert_int_equal(crypto_kwp_wrap(kek, 32, part, 32, out, &outlen), HSM_OK);
		assert_int_equal(crypto_kwp_unwrap(kek2, 32, out, outlen, exact, &backlen),
		    HSM_ERR_VERIFY);
		for (int i = 0; i < 8; i++)
			assert_int_equal(exact[32 + i], 0xa5);
		assert_int_equal(crypto_kwp_unwrap(kek, 32, out, outlen, exact, &backlen), HSM_OK);
		assert_memory_equal(exact, part, 32);
		for (int i = 0; i < 8; i++)
			assert_int_equal(exact[32 + i], 0xa5);
		free(exact);
	}
	/* Malformed lengths and bad KEK sizes. */
	assert_int_equal(crypto_kwp_unwrap(kek, 32, out, 39, back, &backlen), HSM_ERR_FORMAT);
	assert_int_equal(crypto_kwp_unwrap(kek, 32, out, 8, back, &backlen), HSM_ERR_FORMAT);
	assert_int_equal(crypto_kwp_wrap(kek, 20, part, 32, out, &outlen), HSM_ERR_USAGE);
	assert_int_equal(crypto_kwp_unwrap(kek, 0, out, 40, back, &backlen), HSM_ERR_USAGE);
	assert_int_equal(crypto_kwp_wrap(kek, 32, part, 0, out, &outlen), HSM_ERR_USAGE);
}

/* ---- ECDSA --------------------------------------------------------------------------- */

/* RFC 6979 A.2.5 (P-256) public key U. */
#define P256_U "0460FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6" \
	"7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
#define P256_X "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"
/* RFC 6979 A.2.6 (P-384) public key U. */
#define P384_U "04EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E06AAE5286B300C64" \
	"DEF8F0EA9055866064A254515480BC13" \
	"8015D9B72D7D57244EA8EF9AC0C621896708A59367F9DFB9F54CA84B3F1C9DB1" \
	"288B231C3AE0D4FE7344FD2533264720"

static void
verify_rs(EVP_PKEY *pub, hsm_curve c, const char *msg, const char *r, const char *s,
          hsm_rc want)
{
	uint8_t raw[132], *der = NULL;
	size_t rn, derlen = 0;

	rn = unhex(r, raw, sizeof(raw));
	rn += unhex(s, raw + rn, sizeof(raw) - rn);
	assert_int_equal(crypto_ecdsa_raw_to_der(c, raw, rn, &der, &derlen), HSM_OK);
	assert_int_equal(crypto_ecdsa_verify(pub, msg, strlen(msg), der, derlen), want);
	free(der);
}

static void
test_ecdsa_rfc6979(void **state)
{
	EVP_PKEY *p256 = pub_from_hex(HSM_CURVE_P256, P256_U);
	EVP_PKEY *p384 = pub_from_hex(HSM_CURVE_P384, P384_U);
	hsm_curve c;

	(void)state;
	assert_int_equal(crypto_ec_curve(p256, &c), HSM_OK);
	assert_int_equal(c, HSM_CURVE_P256);
	assert_int_equal(crypto_ec_curve(p384, &c), HSM_OK);
	assert_int_equal(c, HSM_CURVE_P384);
	/* A.2.5, SHA-256, "sample" and "test". */
	verify_rs(p256, HSM_CURVE_P256, "sample",
	    "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
	    "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8", HSM_OK);
	verify_rs(p256, HSM_CURVE_P256, "test",
	    "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
	    "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083", HSM_OK);
	/* The "sample" signature does not cover "test". */
	verify_rs(p256, HSM_CURVE_P256, "test",
	    "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
	    "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8", HSM_ERR_VERIFY);
	/* A.2.6, SHA-384, "sample" and "test". */
	verify_rs(p384, HSM_CURVE_P384, "sample",
	    "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C"
	    "81A648152E44ACF96E36DD1E80FABE46",
	    "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94F"
	    "A329C145786E679E7B82C71A38628AC8", HSM_OK);
	verify_rs(p384, HSM_CURVE_P384, "test",
	    "8203B63D3C853E8D77227FB377BCF7B7B772E97892A80F36AB775D509D7A5FEB"
	    "0542A7F0812998DA8F1DD3CA3CF023DB",
	    "DDD0760448D42D8A43AF45AF836FCE4DE8BE06B485E9B61B827C2F13173923E0"
	    "6A739F040649A667BF3B828246BAA5A5", HSM_OK);
	/* A tampered s. */
	verify_rs(p384, HSM_CURVE_P384, "sample",
	    "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C"
	    "81A648152E44ACF96E36DD1E80FABE46",
	    "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94F"
	    "A329C145786E679E7B82C71A38628AC9", HSM_ERR_VERIFY);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
}

static void
test_ecdsa_sign_verify_all_curves(void **state)
{
	static const hsm_curve curves[] = { HSM_CURVE_P256, HSM_CURVE_P384, HSM_CURVE_P521 };
	static const char msg[] = "admin.add domain 7 counter 12";

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *k = NULL, *other = NULL;
		uint8_t *sig = NULL, raw[132], dg[64], *der2 = NULL;
		size_t siglen = 0, fl = ((size_t)curves[i] + 7) / 8, der2len = 0;
		hsm_curve c;

		assert_int_equal(crypto_ec_generate(curves[i], &k), HSM_OK);
		assert_int_equal(crypto_ec_generate(curves[i], &other), HSM_OK);
		assert_int_equal(crypto_ec_curve(k, &c), HSM_OK);
		assert_int_equal(c, curves[i]);
		assert_int_equal(crypto_ecdsa_sign(k, msg, sizeof(msg), &sig, &siglen), HSM_OK);
		assert_int_equal(crypto_ecdsa_verify(k, msg, sizeof(msg), sig, siglen), HSM_OK);
		/* The curve's digest: verify_digest over that digest agrees. */
		assert_int_equal(crypto_digest(crypto_curve_md(c), msg, sizeof(msg), dg), HSM_OK);
		assert_int_equal(crypto_ecdsa_verify_digest(k, dg, crypto_md_len(crypto_curve_md(c)),
		    sig, siglen), HSM_OK);
		/* A digest of the wrong length is a usage error, not a failed check. */
		assert_int_equal(crypto_ecdsa_verify_digest(k, dg, 20, sig, siglen), HSM_ERR_USAGE);
		/* Other key, other message: VERIFY. */
		assert_int_equal(crypto_ecdsa_verify(other, msg, sizeof(msg), sig, siglen),
		    HSM_ERR_VERIFY);
		assert_int_equal(crypto_ecdsa_verify(k, msg, sizeof(msg) - 1, sig, siglen),
		    HSM_ERR_VERIFY);
		/* DER <-> raw round trip. */
		assert_int_equal(crypto_ecdsa_der_to_raw(c, sig, siglen, raw), HSM_OK);
		assert_int_equal(crypto_ecdsa_raw_to_der(c, raw, 2 * fl, &der2, &der2len), HSM_OK);
		assert_int_equal(der2len, siglen);
		assert_memory_equal(der2, sig, siglen);
		{
			uint8_t *none = NULL;
			size_t nonelen = 0;
			assert_int_equal(crypto_ecdsa_raw_to_der(c, raw, 2 * fl - 1, &none,
			    &nonelen), HSM_ERR_FORMAT);
			assert_null(none);
		}
		/* sign_digest insists on the curve's digest length. */
		free(sig);
		sig = NULL;
		assert_int_equal(crypto_ecdsa_sign_digest(k, dg, 32 + 16 * (c == HSM_CURVE_P256),
		    &sig, &siglen), HSM_ERR_USAGE);
		assert_null(sig);
		free(der2);
		EVP_PKEY_free(k);
		EVP_PKEY_free(other);
	}
}

static void
test_ecdsa_malformed_der(void **state)
{
	EVP_PKEY *k = NULL;
	uint8_t *sig = NULL, buf[200], raw[96];
	size_t siglen = 0;
	static const char msg[] = "hello";

	(void)state;
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
	assert_int_equal(crypto_ecdsa_sign(k, msg, 5, &sig, &siglen), HSM_OK);

	/* Tampered inside r: well-formed DER, wrong value -> VERIFY. */
	memcpy(buf, sig, siglen);
	buf[siglen - 1] ^= 0x01;
	assert_int_equal(crypto_ecdsa_verify(k, msg, 5, buf, siglen), HSM_ERR_VERIFY);
	/* Truncated -> FORMAT, at every length. */
	for (size_t n = 0; n < siglen; n++)
		assert_int_equal(crypto_ecdsa_verify(k, msg, 5, sig, n), HSM_ERR_FORMAT);
	/* Trailing byte -> FORMAT. */
	memcpy(buf, sig, siglen);
	buf[siglen] = 0;
	assert_int_equal(crypto_ecdsa_verify(k, msg, 5, buf, siglen + 1), HSM_ERR_FORMAT);
	/* Non-canonical length (long form for a short length) -> FORMAT. */
	buf[0] = 0x30;
	buf[1] = 0x81;
	buf[2] = sig[1];
	memcpy(buf + 3, sig + 2, siglen - 2);
	assert_int_equal(crypto_ecdsa_verify(k, msg, 5, buf, siglen + 1), HSM_ERR_FORMAT);
	/* Garbage -> FORMAT; der_to_raw agrees. */
	memset(buf, 0x41, 80);
	assert_int_equal(crypto_ecdsa_verify(k, msg, 5, buf, 80), HSM_ERR_FORMAT);
	assert_int_equal(crypto_ecdsa_der_to_raw(HSM_CURVE_P384, buf, 80, raw), HSM_ERR_FORMAT);
	assert_int_equal(crypto_ecdsa_der_to_raw(HSM_CURVE_P384, sig, siglen - 1, raw),
	    HSM_ERR_FORMAT);
	/* r = 0, s = 0 is well-formed DER but never a valid signature. */
	{
		static const uint8_t zero[] = { 0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00 };
		assert_int_equal(crypto_ecdsa_verify(k, msg, 5, zero, sizeof(zero)),
		    HSM_ERR_VERIFY);
	}
	/* A P-521 signature's r does not fit the P-256 raw form. */
	{
		EVP_PKEY *k521 = NULL;
		uint8_t *s521 = NULL, raw64[64];
		size_t l521 = 0;
		int tries = 0;

		assert_int_equal(crypto_ec_generate(HSM_CURVE_P521, &k521), HSM_OK);
		/* r or s above 2^256 is near certain; retry the rare exception. */
		do {
			free(s521);
			assert_int_equal(crypto_ecdsa_sign(k521, msg, 5, &s521, &l521), HSM_OK);
		} while (crypto_ecdsa_der_to_raw(HSM_CURVE_P256, s521, l521, raw64) == HSM_OK &&
		    ++tries < 5);
		assert_int_equal(crypto_ecdsa_der_to_raw(HSM_CURVE_P256, s521, l521, raw64),
		    HSM_ERR_FORMAT);
		free(s521);
		EVP_PKEY_free(k521);
	}
	free(sig);
	EVP_PKEY_free(k);
}

/* ---- ECDH ----------------------------------------------------------------------------- */

/* RFC 5903 section 8.1 (256-bit random ECP group) and 8.2 (384-bit). */
/* Every signature has one accepted encoding (docs/crypto.md): besides the
 * DER rules, of the two forms (r, s) and (r, n - s) only the low-S one. Our
 * signer writes it; before, about half of its signatures were high-S. */
static void
test_ecdsa_signs_low_s(void **state)
{
	static const hsm_curve curves[] = { HSM_CURVE_P256, HSM_CURVE_P384, HSM_CURVE_P521 };
	static const char msg[] = "mk.commit domain 3 counter 9";

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *k = NULL;
		int high = 0;

		assert_int_equal(crypto_ec_generate(curves[i], &k), HSM_OK);
		for (int j = 0; j < 24; j++) {
			uint8_t *sig = NULL;
			size_t siglen = 0;
			assert_int_equal(crypto_ecdsa_sign(k, msg, sizeof(msg), &sig, &siglen), HSM_OK);
			assert_int_not_equal(ecdsa_is_high_s(k, sig, siglen), -1);
			high += ecdsa_is_high_s(k, sig, siglen);
			free(sig);
		}
		if (high != 0)
			fail_msg("%d of 24 %s signatures are high-S", high,
			    i == 0 ? "P-256" : i == 1 ? "P-384" : "P-521");
		EVP_PKEY_free(k);
	}
}

/* A real high-S signature, made from a valid one: it verifies with OpenSSL,
 * is refused by the low-S check, and normalises back to the original. */
static void
test_ecdsa_high_s_twin(void **state)
{
	static const hsm_curve curves[] = { HSM_CURVE_P256, HSM_CURVE_P384, HSM_CURVE_P521 };
	static const char msg[] = "zeroize domain 1 counter 4";

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *k = NULL;
		uint8_t *sig = NULL, *twin = NULL, *norm = NULL;
		size_t siglen = 0, twinlen = 0, normlen = 0;

		assert_int_equal(crypto_ec_generate(curves[i], &k), HSM_OK);
		assert_int_equal(crypto_ecdsa_sign(k, msg, sizeof(msg), &sig, &siglen), HSM_OK);
		assert_int_equal(ecdsa_twin(k, sig, siglen, &twin, &twinlen), 0);
		assert_int_equal(ecdsa_is_high_s(k, twin, twinlen), 1);
		/* The twin is a valid signature: plain verification accepts it ... */
		assert_int_equal(crypto_ecdsa_verify(k, msg, sizeof(msg), twin, twinlen), HSM_OK);
		/* ... the low-S rule does not. */
		assert_int_equal(crypto_ecdsa_check_low_s(k, sig, siglen), HSM_OK);
		assert_int_equal(crypto_ecdsa_check_low_s(k, twin, twinlen), HSM_ERR_FORMAT);
		assert_non_null(strstr(hsm_errmsg(), "high-S"));
		/* Normalising gives back the low-S original; a low-S one is kept. */
		norm = malloc(twinlen);
		assert_non_null(norm);
		memcpy(norm, twin, twinlen);
		normlen = twinlen;
		assert_int_equal(crypto_ecdsa_make_low_s(k, &norm, &normlen), HSM_OK);
		assert_int_equal(normlen, siglen);
		assert_memory_equal(norm, sig, siglen);
		assert_int_equal(crypto_ecdsa_make_low_s(k, &norm, &normlen), HSM_OK);
		assert_memory_equal(norm, sig, siglen);
		/* Garbage is a format error, the buffer untouched. */
		norm[0] ^= 0x01;
		assert_int_equal(crypto_ecdsa_make_low_s(k, &norm, &normlen), HSM_ERR_FORMAT);
		assert_int_equal(crypto_ecdsa_check_low_s(k, norm, normlen), HSM_ERR_FORMAT);
		free(norm);
		free(twin);
		free(sig);
		EVP_PKEY_free(k);
	}
}

static void
test_ecdh_rfc5903(void **state)
{
	EVP_PKEY *i256, *r256pub, *i384, *r384pub, *i256pub;
	hsm_secbuf *z = NULL;
	uint8_t *pt = NULL;
	size_t ptlen = 0;

	(void)state;
	i256 = keypair_from("prime256v1",
	    "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
	    "04DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
	    "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3");
	r256pub = pub_from_hex(HSM_CURVE_P256,
	    "04D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
	    "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB");
	assert_int_equal(crypto_ecdh(i256, r256pub, &z), HSM_OK);
	assert_non_null(z);
	assert_hex(z->data, z->len,
	    "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE");
	secbuf_free(&z);
	assert_null(z);
	/* crypto_ec_point gives back the published gi. */
	assert_int_equal(crypto_ec_point(i256, &pt, &ptlen), HSM_OK);
	assert_hex(pt, ptlen, "04DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
	    "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3");
	free(pt);

	i384 = keypair_from("secp384r1",
	    "099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655"
	    "E35B538041E649EE3FAEF896783AB194",
	    "04667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6"
	    "DE3AC808ACB4BDB4C88732AEE95F41AA"
	    "9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38E"
	    "EB9FCFF3C2C947DAE69B4C634573A81C");
	r384pub = pub_from_hex(HSM_CURVE_P384,
	    "04E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D"
	    "0D1AC43A0336DEF96FDA41D0774A3571"
	    "DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FF"
	    "F83FA40142209DFF5EAAD96DB9E6386C");
	assert_int_equal(crypto_ecdh(i384, r384pub, &z), HSM_OK);
	assert_hex(z->data, z->len,
	    "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4"
	    "D603135569B9E9D09CF5D4A270F59746");
	secbuf_free(&z);

	/* Curve mismatch is refused with a clear error. */
	assert_int_equal(crypto_ecdh(i256, r384pub, &z), HSM_ERR_FORMAT);
	assert_null(z);
	assert_non_null(strstr(hsm_errmsg(), "same curve"));
	/* A public-only key cannot be the private side. */
	i256pub = pub_from_hex(HSM_CURVE_P256,
	    "04DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
	    "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3");
	assert_int_not_equal(crypto_ecdh(i256pub, r256pub, &z), HSM_OK);
	assert_null(z);

	EVP_PKEY_free(i256);
	EVP_PKEY_free(i256pub);
	EVP_PKEY_free(r256pub);
	EVP_PKEY_free(i384);
	EVP_PKEY_free(r384pub);
}

static void
test_ecdh_generated_agree(void **state)
{
	static const hsm_curve curves[] = { HSM_CURVE_P256, HSM_CURVE_P384, HSM_CURVE_P521 };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *a = NULL, *b = NULL;
		hsm_secbuf *ab = NULL, *ba = NULL;

		assert_int_equal(crypto_ec_generate(curves[i], &a), HSM_OK);
		assert_int_equal(crypto_ec_generate(curves[i], &b), HSM_OK);
		assert_int_equal(crypto_ecdh(a, b, &ab), HSM_OK);
		assert_int_equal(crypto_ecdh(b, a, &ba), HSM_OK);
		assert_int_equal(ab->len, ((size_t)curves[i] + 7) / 8);
		assert_int_equal(ab->len, ba->len);
		assert_memory_equal(ab->data, ba->data, ab->len);
		secbuf_free(&ab);
		secbuf_free(&ba);
		EVP_PKEY_free(a);
		EVP_PKEY_free(b);
	}
}

/* ---- points, SKI, SPKI ------------------------------------------------------------------ */

static void
test_point_refusals(void **state)
{
	uint8_t pt[133];
	size_t n = unhex(P256_U, pt, sizeof(pt));
	EVP_PKEY *k = NULL;

	(void)state;
	/* Last bit of y flipped: not on the curve. */
	pt[n - 1] ^= 0x01;
	assert_int_equal(crypto_ec_from_point(HSM_CURVE_P256, pt, n, &k), HSM_ERR_FORMAT);
	assert_null(k);
	pt[n - 1] ^= 0x01;
	/* Wrong length, wrong curve, compressed prefix, infinity. */
	assert_int_equal(crypto_ec_from_point(HSM_CURVE_P256, pt, n - 1, &k), HSM_ERR_FORMAT);
	assert_int_equal(crypto_ec_from_point(HSM_CURVE_P384, pt, n, &k), HSM_ERR_FORMAT);
	pt[0] = 0x02;
	assert_int_equal(crypto_ec_from_point(HSM_CURVE_P256, pt, 33, &k), HSM_ERR_FORMAT);
	assert_int_equal(crypto_ec_from_point(HSM_CURVE_P256, pt, n, &k), HSM_ERR_FORMAT);
	pt[0] = 0x00;
	assert_int_equal(crypto_ec_from_point(HSM_CURVE_P256, pt, 1, &k), HSM_ERR_FORMAT);
	/* All-zero coordinates. */
	memset(pt, 0, sizeof(pt));
	pt[0] = 0x04;
	assert_int_equal(crypto_ec_from_point(HSM_CURVE_P256, pt, 65, &k), HSM_ERR_FORMAT);
	assert_int_equal(crypto_ec_from_point(HSM_CURVE_NONE, pt, 65, &k), HSM_ERR_USAGE);
	assert_null(k);
}

static void
test_ski(void **state)
{
	EVP_PKEY *k = NULL, *g = NULL;
	uint8_t ski[HSM_SKI_LEN], want[32], pt[65];
	unsigned char *der = NULL;
	int derlen;
	unsigned int mdlen = 0;

	(void)state;
	/* The RFC 6979 P-256 key: SHA-256 over the RFC's own point bytes. */
	k = pub_from_hex(HSM_CURVE_P256, P256_U);
	assert_int_equal(crypto_ski(k, ski), HSM_OK);
	unhex(P256_U, pt, sizeof(pt));
	assert_true(EVP_Digest(pt, 65, want, &mdlen, EVP_sha256(), NULL));
	assert_memory_equal(ski, want, 32);

	/* A generated P-384 key: the point taken from OpenSSL's own SPKI
	 * encoding (its last 97 bytes are the BIT STRING's 04||X||Y). */
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &g), HSM_OK);
	derlen = i2d_PUBKEY(g, &der);
	assert_true(derlen > 97);
	assert_int_equal(der[derlen - 97], 0x04);
	assert_true(EVP_Digest(der + derlen - 97, 97, want, &mdlen, EVP_sha256(), NULL));
	assert_int_equal(crypto_ski(g, ski), HSM_OK);
	assert_memory_equal(ski, want, 32);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	EVP_PKEY_free(g);
}

static void
test_spki_round_trips(void **state)
{
	static const hsm_curve curves[] = { HSM_CURVE_P256, HSM_CURVE_P384, HSM_CURVE_P521 };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *k = NULL, *d = NULL, *p = NULL, *priv = NULL;
		uint8_t *der = NULL, *der2 = NULL, s1[32], s2[32], s3[32];
		size_t derlen = 0, der2len = 0;
		char *pem = NULL;
		BIGNUM *bn = NULL;

		assert_int_equal(crypto_ec_generate(curves[i], &priv), HSM_OK);
		assert_int_equal(crypto_pub_to_der(priv, &der, &derlen), HSM_OK);
		assert_int_equal(crypto_pub_from_der(der, derlen, &d), HSM_OK);
		/* What comes back is public only. */
		assert_int_equal(EVP_PKEY_get_bn_param(d, OSSL_PKEY_PARAM_PRIV_KEY, &bn), 0);
		ERR_clear_error();
		assert_int_equal(crypto_pub_to_der(d, &der2, &der2len), HSM_OK);
		assert_int_equal(derlen, der2len);
		assert_memory_equal(der, der2, derlen);
		assert_int_equal(crypto_pub_to_pem(d, &pem), HSM_OK);
		assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
		assert_int_equal(crypto_pub_from_pem(pem, strlen(pem), &p), HSM_OK);
		assert_int_equal(crypto_ski(priv, s1), HSM_OK);
		assert_int_equal(crypto_ski(d, s2), HSM_OK);
		assert_int_equal(crypto_ski(p, s3), HSM_OK);
		assert_memory_equal(s1, s2, 32);
		assert_memory_equal(s1, s3, 32);
		EVP_PKEY_free(p);
		p = NULL;

		/* Truncated at every length, and a trailing byte: FORMAT. */
		for (size_t n = 0; n < derlen; n++) {
			EVP_PKEY *t = NULL;
			assert_int_equal(crypto_pub_from_der(der, n, &t), HSM_ERR_FORMAT);
			assert_null(t);
		}
		der2 = realloc(der2, derlen + 1);
		assert_non_null(der2);
		der2[derlen] = 0x00;
		assert_int_equal(crypto_pub_from_der(der2, derlen + 1, &p), HSM_ERR_FORMAT);
		assert_null(p);
		/* Point changed inside a well-formed SPKI: not on the curve. */
		der2[derlen - 1] ^= 0x01;
		assert_int_equal(crypto_pub_from_der(der2, derlen, &p), HSM_ERR_FORMAT);
		/* PEM with a damaged body. */
		pem[40] = pem[40] == 'A' ? 'B' : 'A';
		pem[41] = '!';
		assert_int_equal(crypto_pub_from_pem(pem, strlen(pem), &p), HSM_ERR_FORMAT);
		assert_null(p);

		free(der);
		free(der2);
		free(pem);
		EVP_PKEY_free(k);
		EVP_PKEY_free(d);
		EVP_PKEY_free(priv);
	}
}

static void
test_spki_garbage_and_other_algorithms(void **state)
{
	EVP_PKEY *x = NULL, *k = NULL, *k1 = NULL;
	unsigned char *der = NULL;
	int derlen;
	static const char notpem[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
	uint8_t junk[64];
	hsm_curve c;

	(void)state;
	memset(junk, 0x30, sizeof(junk));
	assert_int_equal(crypto_pub_from_der(junk, sizeof(junk), &k), HSM_ERR_FORMAT);
	assert_int_equal(crypto_pub_from_der(NULL, 0, &k), HSM_ERR_FORMAT);
	assert_int_equal(crypto_pub_from_pem("hello", 5, &k), HSM_ERR_FORMAT);
	assert_int_equal(crypto_pub_from_pem(notpem, strlen(notpem), &k), HSM_ERR_FORMAT);
	assert_null(k);

	/* An X25519 key is a valid SPKI but not a key hsmadm uses. */
	x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(x);
	derlen = i2d_PUBKEY(x, &der);
	assert_true(derlen > 0);
	assert_int_equal(crypto_pub_from_der(der, (size_t)derlen, &k), HSM_ERR_FORMAT);
	assert_int_equal(crypto_ec_curve(x, &c), HSM_ERR_FORMAT);
	OPENSSL_free(der);
	der = NULL;

	/* secp256k1: EC, but not one of our curves. */
	k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	assert_non_null(k1);
	derlen = i2d_PUBKEY(k1, &der);
	assert_int_equal(crypto_pub_from_der(der, (size_t)derlen, &k), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "secp256k1"));
	assert_null(k);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_NONE, &k), HSM_ERR_USAGE);
	OPENSSL_free(der);
	EVP_PKEY_free(x);
	EVP_PKEY_free(k1);
}

/* A compressed point in an SPKI (as some cards send) is accepted and
 * normalised: same SKI as the uncompressed form. */
static void
test_spki_compressed_is_normalised(void **state)
{
	EVP_PKEY *g = NULL, *c = NULL, *back = NULL;
	unsigned char *der = NULL;
	uint8_t s1[32], s2[32], *pt = NULL;
	size_t ptlen = 0;
	int derlen;

	(void)state;
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &g), HSM_OK);
	c = EVP_PKEY_dup(g);
	assert_non_null(c);
	assert_true(EVP_PKEY_set_utf8_string_param(c, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    "compressed"));
	derlen = i2d_PUBKEY(c, &der);
	assert_true(derlen > 0 && derlen < 97);	/* really compressed */
	assert_int_equal(crypto_pub_from_der(der, (size_t)derlen, &back), HSM_OK);
	assert_int_equal(crypto_ec_point(back, &pt, &ptlen), HSM_OK);
	assert_int_equal(ptlen, 97);
	assert_int_equal(pt[0], 0x04);
	assert_int_equal(crypto_ski(g, s1), HSM_OK);
	assert_int_equal(crypto_ski(back, s2), HSM_OK);
	assert_memory_equal(s1, s2, 32);
	/* crypto_ec_point also uncompresses a key that reports compressed. */
	free(pt);
	assert_int_equal(crypto_ec_point(c, &pt, &ptlen), HSM_OK);
	assert_int_equal(ptlen, 97);
	assert_int_equal(crypto_ski(c, s2), HSM_OK);
	assert_memory_equal(s1, s2, 32);
	free(pt);
	OPENSSL_free(der);
	EVP_PKEY_free(g);
	EVP_PKEY_free(c);
	EVP_PKEY_free(back);
}

/* ---- private key files ------------------------------------------------------------------ */

static void
write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void
test_priv_files(void **state)
{
	char *dir = make_tmpdir(), path[700], sec1[700], enc[700], junk[700];
	EVP_PKEY *k = NULL, *back = NULL;
	uint8_t s1[32], s2[32], *sig = NULL;
	size_t siglen = 0;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/admin.pem", dir);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
	assert_int_equal(crypto_priv_save_pem(path, k), HSM_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Never overwrite a key file. */
	assert_int_equal(crypto_priv_save_pem(path, k), HSM_ERR_EXISTS);
	/* No temporary file left behind. */
	{
		char cmd[800];
		snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", dir);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(crypto_priv_load_pem(path, &back), HSM_OK);
	assert_int_equal(crypto_ski(k, s1), HSM_OK);
	assert_int_equal(crypto_ski(back, s2), HSM_OK);
	assert_memory_equal(s1, s2, 32);
	assert_int_equal(crypto_ecdsa_sign(back, "x", 1, &sig, &siglen), HSM_OK);
	assert_int_equal(crypto_ecdsa_verify(k, "x", 1, sig, siglen), HSM_OK);
	free(sig);
	EVP_PKEY_free(back);
	back = NULL;

	/* A SEC1 "EC PRIVATE KEY" file loads too. */
	snprintf(sec1, sizeof(sec1), "%s/sec1.pem", dir);
	{
		OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_KEYPAIR,
		    "PEM", "type-specific", NULL);
		unsigned char *data = NULL;
		size_t len = 0;
		assert_non_null(ectx);
		assert_true(OSSL_ENCODER_to_data(ectx, &data, &len));
		assert_non_null(strstr((char *)data, "BEGIN EC PRIVATE KEY"));
		write_file(sec1, data, len);
		OPENSSL_clear_free(data, len);
		OSSL_ENCODER_CTX_free(ectx);
	}
	assert_int_equal(crypto_priv_load_pem(sec1, &back), HSM_OK);
	assert_int_equal(crypto_ski(back, s2), HSM_OK);
	assert_memory_equal(s1, s2, 32);
	EVP_PKEY_free(back);
	back = NULL;

	/* An encrypted key is refused without asking for a passphrase. */
	snprintf(enc, sizeof(enc), "%s/enc.pem", dir);
	{
		BIO *b = BIO_new_file(enc, "w");
		assert_non_null(b);
		assert_true(PEM_write_bio_PrivateKey(b, k, EVP_aes_256_cbc(),
		    (unsigned char *)"secret", 6, NULL, NULL));
		BIO_free(b);
	}
	assert_int_equal(crypto_priv_load_pem(enc, &back), HSM_ERR_FORMAT);
	assert_null(back);

	/* Missing, empty, garbage, a public key, a directory. */
	snprintf(junk, sizeof(junk), "%s/missing.pem", dir);
	assert_int_equal(crypto_priv_load_pem(junk, &back), HSM_ERR_NOT_FOUND);
	snprintf(junk, sizeof(junk), "%s/empty.pem", dir);
	write_file(junk, "", 0);
	assert_int_equal(crypto_priv_load_pem(junk, &back), HSM_ERR_FORMAT);
	snprintf(junk, sizeof(junk), "%s/junk.pem", dir);
	write_file(junk, "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", 58);
	assert_int_equal(crypto_priv_load_pem(junk, &back), HSM_ERR_FORMAT);
	{
		char *pem = NULL;
		assert_int_equal(crypto_pub_to_pem(k, &pem), HSM_OK);
		snprintf(junk, sizeof(junk), "%s/pub.pem", dir);
		write_file(junk, pem, strlen(pem));
		free(pem);
	}
	assert_int_equal(crypto_priv_load_pem(junk, &back), HSM_ERR_FORMAT);
	assert_int_equal(crypto_priv_load_pem(dir, &back), HSM_ERR_FORMAT);
	assert_null(back);
	/* Saving into a folder that does not exist fails cleanly. */
	snprintf(junk, sizeof(junk), "%s/nope/k.pem", dir);
	assert_int_equal(crypto_priv_save_pem(junk, k), HSM_ERR_IO);

	EVP_PKEY_free(k);
	rm_tmpdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha_abc),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_hkdf_rfc5869),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_gcm_vectors),
		cmocka_unit_test(test_gcm_refusals),
		cmocka_unit_test(test_kwp_rfc5649),
		cmocka_unit_test(test_kwp_refusals),
		cmocka_unit_test(test_ecdsa_rfc6979),
		cmocka_unit_test(test_ecdsa_sign_verify_all_curves),
		cmocka_unit_test(test_ecdsa_malformed_der),
		cmocka_unit_test(test_ecdsa_signs_low_s),
		cmocka_unit_test(test_ecdsa_high_s_twin),
		cmocka_unit_test(test_ecdh_rfc5903),
		cmocka_unit_test(test_ecdh_generated_agree),
		cmocka_unit_test(test_point_refusals),
		cmocka_unit_test(test_ski),
		cmocka_unit_test(test_spki_round_trips),
		cmocka_unit_test(test_spki_garbage_and_other_algorithms),
		cmocka_unit_test(test_spki_compressed_is_normalised),
		cmocka_unit_test(test_priv_files),
	};

	if (secure_init() != HSM_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
