/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_signer.c - key-file signers and key-agreement parties, and the
 * contract of the generic wrappers (ownership of ctx, the self-check of
 * signatures, curve checks).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>

#include "hsmadm/crypto.h"
#include "test_tmpdir.h"
#include "hsmadm/signer.h"

static char *
make_tmpdir(void)
{
	return make_tmpdir_named("test-signer");
}

static char *
save_key(const char *dir, const char *name, EVP_PKEY *k)
{
	char *path = malloc(700);

	assert_non_null(path);
	snprintf(path, 700, "%s/%s", dir, name);
	assert_int_equal(crypto_priv_save_pem(path, k), HSM_OK);
	return path;
}

static void
test_keyfile_signer_all_curves(void **state)
{
	static const hsm_curve curves[] = { HSM_CURVE_P256, HSM_CURVE_P384, HSM_CURVE_P521 };
	static const char msg[] = "{\"op\":\"mk.commit\"}";
	char *dir = make_tmpdir();

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *k = NULL, *other = NULL;
		hsm_signer *s = NULL;
		uint8_t *sig = NULL, s1[32], s2[32];
		size_t siglen = 0;
		char name[32], *path;
		BIGNUM *bn = NULL;

		snprintf(name, sizeof(name), "k%zu.pem", i);
		assert_int_equal(crypto_ec_generate(curves[i], &k), HSM_OK);
		path = save_key(dir, name, k);
		assert_int_equal(signer_from_keyfile(path, &s), HSM_OK);
		assert_non_null(s);
		assert_string_equal(signer_label(s), path);
		/* signer_pub is the key's public half, and only that. */
		assert_int_equal(crypto_ski(k, s1), HSM_OK);
		assert_int_equal(crypto_ski(signer_pub(s), s2), HSM_OK);
		assert_memory_equal(s1, s2, 32);
		assert_int_equal(EVP_PKEY_get_bn_param(signer_pub(s), OSSL_PKEY_PARAM_PRIV_KEY, &bn), 0);
		ERR_clear_error();

		assert_int_equal(signer_sign(s, msg, strlen(msg), &sig, &siglen), HSM_OK);
		assert_int_equal(crypto_ecdsa_verify(k, msg, strlen(msg), sig, siglen), HSM_OK);
		assert_int_equal(crypto_ecdsa_verify(signer_pub(s), msg, strlen(msg), sig, siglen),
		    HSM_OK);
		assert_int_equal(crypto_ecdsa_verify(k, msg, strlen(msg) - 1, sig, siglen),
		    HSM_ERR_VERIFY);
		assert_int_equal(crypto_ec_generate(curves[i], &other), HSM_OK);
		assert_int_equal(crypto_ecdsa_verify(other, msg, strlen(msg), sig, siglen),
		    HSM_ERR_VERIFY);
		free(sig);
		signer_free(&s);
		assert_null(s);
		signer_free(&s);
		EVP_PKEY_free(k);
		EVP_PKEY_free(other);
		free(path);
	}
	rm_tmpdir(dir);
}

static void
test_keyfile_errors(void **state)
{
	char *dir = make_tmpdir(), path[700];
	hsm_signer *s = NULL;
	hsm_keyagree *ka = NULL;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/none.pem", dir);
	assert_int_equal(signer_from_keyfile(path, &s), HSM_ERR_NOT_FOUND);
	assert_int_equal(keyagree_from_keyfile(path, &ka), HSM_ERR_NOT_FOUND);
	assert_non_null(strstr(hsm_errmsg(), path));
	snprintf(path, sizeof(path), "%s/junk.pem", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("not a key\n", f);
	fclose(f);
	assert_int_equal(signer_from_keyfile(path, &s), HSM_ERR_FORMAT);
	assert_int_equal(keyagree_from_keyfile(path, &ka), HSM_ERR_FORMAT);
	assert_null(s);
	assert_null(ka);
	rm_tmpdir(dir);
}

/* A custom signer whose "card" holds another key than the registered one. */
struct fake {
	EVP_PKEY *key;
	int      *freed;
	int       fail;
};

static hsm_rc
fake_sign(void *ctx, const uint8_t *dg, size_t dglen, uint8_t **sig, size_t *siglen)
{
	struct fake *f = ctx;

	if (f->fail)
		return hsm_fail(HSM_ERR_PIN_WRONG, "wrong PIN, 2 tries left");
	return crypto_ecdsa_sign_digest(f->key, dg, dglen, sig, siglen);
}

static void
fake_free(void *ctx)
{
	struct fake *f = ctx;

	(*f->freed)++;
	EVP_PKEY_free(f->key);
	free(f);
}

static const struct hsm_signer_ops fake_ops = { fake_sign, fake_free };

static struct fake *
fake_new(EVP_PKEY *key, int *freed, int fail)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(EVP_PKEY_up_ref(key));
	f->key = key;
	f->freed = freed;
	f->fail = fail;
	return f;
}

static void
test_custom_signer_contract(void **state)
{
	EVP_PKEY *registered = NULL, *actual = NULL;
	hsm_signer *s = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	int freed = 0;

	(void)state;
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &registered), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &actual), HSM_OK);

	/* Right key: signs; the label appears in nothing, the signature verifies. */
	assert_int_equal(signer_new(&fake_ops, fake_new(registered, &freed, 0), registered,
	    "card 4F2A of Alice", &s), HSM_OK);
	assert_string_equal(signer_label(s), "card 4F2A of Alice");
	assert_int_equal(signer_sign(s, "m", 1, &sig, &siglen), HSM_OK);
	assert_int_equal(crypto_ecdsa_verify(registered, "m", 1, sig, siglen), HSM_OK);
	free(sig);
	signer_free(&s);
	assert_int_equal(freed, 1);

	/* A card with another key: caught by the self-check, nothing returned. */
	assert_int_equal(signer_new(&fake_ops, fake_new(actual, &freed, 0), registered,
	    "card 9999 of Mallory", &s), HSM_OK);
	sig = (uint8_t *)"x";
	assert_int_equal(signer_sign(s, "m", 1, &sig, &siglen), HSM_ERR_CRYPTO);
	assert_null(sig);
	assert_int_equal(siglen, 0);
	assert_non_null(strstr(hsm_errmsg(), "card 9999 of Mallory"));
	signer_free(&s);
	assert_int_equal(freed, 2);

	/* The implementation's error comes through with the label in front. */
	assert_int_equal(signer_new(&fake_ops, fake_new(registered, &freed, 1), registered,
	    "card 4F2A of Alice", &s), HSM_OK);
	assert_int_equal(signer_sign(s, "m", 1, &sig, &siglen), HSM_ERR_PIN_WRONG);
	assert_non_null(strstr(hsm_errmsg(), "card 4F2A of Alice"));
	assert_non_null(strstr(hsm_errmsg(), "2 tries left"));
	signer_free(&s);
	assert_int_equal(freed, 3);

	/* A failed signer_new still frees ctx (ownership passes on the call). */
	assert_int_equal(signer_new(&fake_ops, fake_new(registered, &freed, 0), NULL, "x", &s),
	    HSM_ERR_USAGE);
	assert_null(s);
	assert_int_equal(freed, 4);

	EVP_PKEY_free(registered);
	EVP_PKEY_free(actual);
}

static void
test_keyagree_keyfile(void **state)
{
	char *dir = make_tmpdir(), *path;
	EVP_PKEY *card = NULL, *eph = NULL, *p256 = NULL;
	hsm_keyagree *ka = NULL;
	hsm_secbuf *z1 = NULL, *z2 = NULL;
	uint8_t s1[32], s2[32];

	(void)state;
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &card), HSM_OK);
	path = save_key(dir, "card9d.pem", card);
	assert_int_equal(keyagree_from_keyfile(path, &ka), HSM_OK);
	assert_string_equal(keyagree_label(ka), path);
	assert_int_equal(crypto_ski(card, s1), HSM_OK);
	assert_int_equal(crypto_ski(keyagree_pub(ka), s2), HSM_OK);
	assert_memory_equal(s1, s2, 32);

	/* The ECIES pattern: sender uses an ephemeral key and the card's public key. */
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &eph), HSM_OK);
	assert_int_equal(crypto_ecdh(eph, keyagree_pub(ka), &z1), HSM_OK);
	assert_int_equal(keyagree_ecdh(ka, eph, &z2), HSM_OK);
	assert_int_equal(z1->len, 48);
	assert_int_equal(z2->len, 48);
	assert_memory_equal(z1->data, z2->data, 48);

	/* A peer on another curve is refused before the key is used. */
	secbuf_free(&z2);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &p256), HSM_OK);
	assert_int_equal(keyagree_ecdh(ka, p256, &z2), HSM_ERR_FORMAT);
	assert_null(z2);

	secbuf_free(&z1);
	keyagree_free(&ka);
	assert_null(ka);
	keyagree_free(&ka);
	EVP_PKEY_free(card);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(p256);
	free(path);
	rm_tmpdir(dir);
}

static void
write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static uint8_t *
read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(4096);

	assert_non_null(f);
	assert_non_null(buf);
	*n = fread(buf, 1, 4096, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* The openssl command line tool as an independent implementation: it
 * verifies what a key-file signer signed, and we verify what it signed. */
static void
test_interop_openssl_cli(void **state)
{
	static const char msg[] = "{\"op\":\"zeroize\",\"domain\":3}";
	char *dir = make_tmpdir(), *keypath, p[4][700];
	EVP_PKEY *k = NULL, *peer = NULL, *pub = NULL;
	hsm_signer *s = NULL;
	hsm_keyagree *ka = NULL;
	hsm_secbuf *z = NULL;
	uint8_t *sig = NULL, *cli = NULL;
	size_t siglen = 0, clilen = 0;
	char *pem = NULL;

	(void)state;
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
	keypath = save_key(dir, "admin.pem", k);
	snprintf(p[0], sizeof(p[0]), "%s/msg", dir);
	snprintf(p[1], sizeof(p[1]), "%s/sig.der", dir);
	snprintf(p[2], sizeof(p[2]), "%s/pub.pem", dir);
	snprintf(p[3], sizeof(p[3]), "%s/cli.der", dir);
	write_file(p[0], msg, strlen(msg));
	assert_int_equal(crypto_pub_to_pem(k, &pem), HSM_OK);
	write_file(p[2], pem, strlen(pem));

	assert_int_equal(signer_from_keyfile(keypath, &s), HSM_OK);
	assert_int_equal(signer_sign(s, msg, strlen(msg), &sig, &siglen), HSM_OK);
	write_file(p[1], sig, siglen);
	assert_int_equal(run("openssl dgst -sha384 -verify '%s' -signature '%s' '%s' >/dev/null",
	    p[2], p[1], p[0]), 0);
	/* ... and the CLI says no to a signature over something else. */
	write_file(p[0], msg, strlen(msg) - 1);
	assert_int_not_equal(run("openssl dgst -sha384 -verify '%s' -signature '%s' '%s' "
	    ">/dev/null 2>&1", p[2], p[1], p[0]), 0);
	write_file(p[0], msg, strlen(msg));

	assert_int_equal(run("openssl dgst -sha384 -sign '%s' -out '%s' '%s'", keypath, p[3],
	    p[0]), 0);
	cli = read_file(p[3], &clilen);
	assert_int_equal(crypto_ecdsa_verify(signer_pub(s), msg, strlen(msg), cli, clilen),
	    HSM_OK);
	free(cli);

	/* ECDH: openssl pkeyutl -derive with the same two keys. */
	assert_int_equal(keyagree_from_keyfile(keypath, &ka), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &peer), HSM_OK);
	free(pem);
	assert_int_equal(crypto_pub_to_pem(peer, &pem), HSM_OK);
	write_file(p[2], pem, strlen(pem));
	assert_int_equal(keyagree_ecdh(ka, peer, &z), HSM_OK);
	assert_int_equal(run("openssl pkeyutl -derive -inkey '%s' -peerkey '%s' -out '%s'",
	    keypath, p[2], p[3]), 0);
	cli = read_file(p[3], &clilen);
	assert_int_equal(clilen, z->len);
	assert_memory_equal(cli, z->data, clilen);
	free(cli);

	secbuf_free(&z);
	keyagree_free(&ka);
	signer_free(&s);
	free(sig);
	free(pem);
	free(keypath);
	EVP_PKEY_free(k);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(pub);
	rm_tmpdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyfile_signer_all_curves),
		cmocka_unit_test(test_keyfile_errors),
		cmocka_unit_test(test_custom_signer_contract),
		cmocka_unit_test(test_keyagree_keyfile),
		cmocka_unit_test(test_interop_openssl_cli),
	};

	if (secure_init() != HSM_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
