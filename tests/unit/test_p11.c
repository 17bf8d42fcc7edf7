/* SPDX-License-Identifier: BSD-2-Clause */
/* test_p11 - sim/p11.c against a real SoftHSMv2 token made in a scratch
 * folder (its own SOFTHSM2_CONF): login, wrong PIN, unknown token, a file
 * that is not a PKCS#11 library, PIN files, AES-GCM, ECDSA, ECDH, destroy;
 * and blobs under a token register (sim/keystore.c) byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsmadm/crypto.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/blob.h"
#include "hsmadm/vp.h"
#include "keystore.h"
#include "p11.h"
#include "test_tmpdir.h"

#define LIB "/usr/lib/softhsm/libsofthsm2.so"

static char *dir;

static int
setup(void **state)
{
	char conf[600], cmd[1400];
	FILE *f;

	(void)state;
	dir = make_tmpdir_named("p11");
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/tokens'", dir);
	if (system(cmd) != 0 || (f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n", dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(cmd, sizeof(cmd), "softhsm2-util --init-token --free --label unit "
	         "--so-pin 5678 --pin 1234 >/dev/null");
	return system(cmd) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	rm_tmpdir(dir);
	return 0;
}

static p11 *
open_ok(void)
{
	hsm_secbuf *pin = NULL;
	p11 *p = NULL;

	assert_int_equal(secbuf_from("1234", 4, &pin), HSM_OK);
	assert_int_equal(p11_open(LIB, "unit", pin, &p), HSM_OK);
	secbuf_free(&pin);
	assert_non_null(strstr(p11_token_desc(p), "SoftHSM"));
	return p;
}

static void
test_open_refusals(void **state)
{
	hsm_secbuf *pin = NULL;
	p11 *p = NULL;

	(void)state;
	assert_int_equal(secbuf_from("9999", 4, &pin), HSM_OK);
	assert_int_equal(p11_open(LIB, "unit", pin, &p), HSM_ERR_PIN_WRONG);
	assert_null(p);
	secbuf_free(&pin);
	assert_int_equal(secbuf_from("1234", 4, &pin), HSM_OK);
	assert_int_equal(p11_open(LIB, "nosuch", pin, &p), HSM_ERR_NOT_FOUND);
	assert_non_null(strstr(hsm_errmsg(), "nosuch"));
	/* a shared object that is not a PKCS#11 library, and no file at all */
	assert_int_equal(p11_open("libz.so.1", "unit", pin, &p), HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "not a PKCS#11 library"));
	assert_int_equal(p11_open("/nonexistent/lib.so", "unit", pin, &p), HSM_ERR_USAGE);
	secbuf_free(&pin);
}

static void
test_pin_file(void **state)
{
	char path[600];
	hsm_secbuf *pin = NULL;
	int fd, pfd[2];

	(void)state;
	snprintf(path, sizeof(path), "%s/pin", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "1234\n", 5), 5);
	close(fd);
	assert_int_equal(p11_read_pin(-1, path, &pin), HSM_OK);
	assert_int_equal(pin->len, 4);
	assert_memory_equal(pin->data, "1234", 4);
	secbuf_free(&pin);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(p11_read_pin(-1, path, &pin), HSM_ERR_AUTH);
	assert_non_null(strstr(hsm_errmsg(), "0640"));
	assert_int_equal(p11_read_pin(-1, NULL, &pin), HSM_ERR_USAGE);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(write(pfd[1], "1234\n", 5), 5);
	close(pfd[1]);
	assert_int_equal(p11_read_pin(pfd[0], NULL, &pin), HSM_OK);
	assert_int_equal(pin->len, 4);
	close(pfd[0]);
	secbuf_free(&pin);
}

static void
test_aes_gcm(void **state)
{
	p11 *p = open_ok();
	uint8_t key[32], iv[12] = { 1, 2, 3 }, aad[5] = "head", pt[32], ct[48], back[32];
	uint8_t ref[32], tag[16];
	p11_obj h, h2;
	size_t n = 0;

	(void)state;
	memset(key, 0x42, sizeof(key));
	memset(pt, 0x17, sizeof(pt));
	assert_int_equal(p11_aes_import(p, "unit:aes", key, 1, &h), HSM_OK);
	assert_int_equal(p11_find(p, P11_SECRET, "unit:aes", &h2), HSM_OK);
	assert_int_equal(h, h2);
	assert_int_equal(p11_gcm(p, h, 1, iv, aad, 4, pt, 32, ct), HSM_OK);
	/* the token's GCM is the standard one: OpenSSL agrees byte for byte */
	assert_int_equal(crypto_gcm_seal(key, iv, aad, 4, pt, 32, ref, tag), HSM_OK);
	assert_memory_equal(ct, ref, 32);
	assert_memory_equal(ct + 32, tag, 16);
	assert_int_equal(p11_gcm(p, h, 0, iv, aad, 4, ct, 48, back), HSM_OK);
	assert_memory_equal(back, pt, 32);
	ct[3] ^= 1;
	assert_int_equal(p11_gcm(p, h, 0, iv, aad, 4, ct, 48, back), HSM_ERR_VERIFY);
	/* the token digests the sensitive key: SHA-256(0x01 || key), the MKVP's base */
	{
		uint8_t in[33], want[32], got[32];
		in[0] = 0x01;
		memcpy(in + 1, key, 32);
		assert_int_equal(crypto_sha256(in, sizeof(in), want), HSM_OK);
		assert_int_equal(p11_digest_key(p, h, 0x01, got), HSM_OK);
		assert_memory_equal(got, want, 32);
	}
	assert_int_equal(p11_destroy(p, "unit:aes", &n), HSM_OK);
	assert_int_equal(n, 1);
	assert_int_equal(p11_find(p, P11_SECRET, "unit:aes", &h2), HSM_ERR_NOT_FOUND);
	p11_close(&p);
}

static void
test_ec(void **state)
{
	p11 *p = open_ok();
	EVP_PKEY *pub = NULL, *peer = NULL, *pub2 = NULL;
	uint8_t dg[48], raw[96], *der = NULL, *pt = NULL;
	size_t derlen = 0, ptlen = 0, n = 0, nl = 0;
	hsm_secbuf *s1 = NULL, *s2 = NULL;
	char **labels = NULL;
	p11_obj h;

	(void)state;
	assert_int_equal(p11_ec_generate(p, "unit:ec", P11_EC_SIGN | P11_EC_DERIVE, &pub, &h),
	                 HSM_OK);
	assert_int_equal(p11_ec_public(p, "unit:ec", &pub2), HSM_OK);
	assert_int_equal(EVP_PKEY_eq(pub, pub2), 1);
	assert_int_equal(crypto_digest(HSM_MD_SHA384, "msg", 3, dg), HSM_OK);
	assert_int_equal(p11_ecdsa(p, h, dg, 48, raw), HSM_OK);
	assert_int_equal(crypto_ecdsa_raw_to_der(HSM_CURVE_P384, raw, 96, &der, &derlen), HSM_OK);
	assert_int_equal(crypto_ecdsa_verify_digest(pub, dg, 48, der, derlen), HSM_OK);
	/* ECDH in the token equals ECDH in OpenSSL from the peer's side */
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &peer), HSM_OK);
	assert_int_equal(crypto_ec_point(peer, &pt, &ptlen), HSM_OK);
	assert_int_equal(p11_ecdh(p, h, pt, ptlen, &s1), HSM_OK);
	assert_int_equal(crypto_ecdh(peer, pub, &s2), HSM_OK);
	assert_int_equal(s1->len, s2->len);
	assert_memory_equal(s1->data, s2->data, s1->len);
	assert_int_equal(p11_labels(p, "unit:", &labels, &nl), HSM_OK);
	assert_int_equal(nl, 1);   /* one label for the two halves; no ECDH leftover */
	assert_string_equal(labels[0], "unit:ec");
	p11_labels_free(labels, nl);
	assert_int_equal(p11_destroy(p, "unit:ec", &n), HSM_OK);
	assert_int_equal(n, 2);
	secbuf_free(&s1);
	secbuf_free(&s2);
	free(der);
	free(pt);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pub2);
	EVP_PKEY_free(peer);
	p11_close(&p);
}

/* A blob sealed under a register on the token is the same bytes as under
 * the same master key in memory (lib/blob.c), and each opens the other's. */
static void
test_blob_same_bytes(void **state)
{
	hsm_secbuf *pin = NULL;
	keystore *ks = NULL;
	EVP_PKEY *oa = NULL;
	blob_kctx *mem = NULL, *tok = NULL;
	blob_attrs a;
	uint8_t mk[32], vp[32], iv[BLOB_IV_LEN] = { 9 }, appkey[32], b1[BLOB_LEN], b2[BLOB_LEN];
	uint8_t back[32];
	char id[KS_ID_LEN + 1];

	(void)state;
	memset(mk, 0x5a, sizeof(mk));
	memset(appkey, 0xa7, sizeof(appkey));
	assert_int_equal(vp_compute(mk, vp), HSM_OK);
	assert_int_equal(secbuf_from("1234", 4, &pin), HSM_OK);
	assert_int_equal(ks_open_pkcs11("BLOBS", LIB, "unit", pin, &ks), HSM_OK);
	assert_int_equal(ks_module_keys_make(ks, &oa), HSM_OK);
	assert_int_equal(ks_register_make(ks, 7, mk, id), HSM_OK);
	assert_int_equal(ks_register_kctx(ks, 7, id, vp, &tok), HSM_OK);
	assert_int_equal(blob_kctx_new(mk, vp, &mem), HSM_OK);
	assert_int_equal(blob_attrs_make(BLOB_USE_ENCRYPT | BLOB_USE_DECRYPT, "x", &a), HSM_OK);
	assert_int_equal(blob_seal(mem, &a, iv, appkey, b1), HSM_OK);
	assert_int_equal(blob_seal(tok, &a, iv, appkey, b2), HSM_OK);
	assert_memory_equal(b1, b2, BLOB_LEN);
	assert_int_equal(blob_open(tok, b1, back, NULL), HSM_OK);
	assert_memory_equal(back, appkey, 32);
	b1[50] ^= 1;   /* a damaged blob does not open in the token either */
	assert_int_equal(blob_open(tok, b1, back, NULL), HSM_ERR_VERIFY);
	/* destroyed: the register's objects are gone and its blobs no longer open */
	assert_int_equal(ks_destroy(ks, 7, KS_REG, id), HSM_OK);
	assert_int_equal(blob_open(tok, b2, back, NULL), HSM_ERR_NOT_FOUND);
	assert_int_equal(ks_module_keys_destroy(ks), HSM_OK);
	blob_kctx_free(&mem);
	blob_kctx_free(&tok);
	EVP_PKEY_free(oa);
	ks_free(&ks);
	secbuf_free(&pin);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_refusals),
		cmocka_unit_test(test_pin_file),
		cmocka_unit_test(test_aes_gcm),
		cmocka_unit_test(test_ec),
		cmocka_unit_test(test_blob_same_bytes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
