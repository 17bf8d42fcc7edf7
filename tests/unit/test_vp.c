/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_vp.c - MKVP/KPVP: SHA-256(0x01 || key) with bytes 28..31 zeroed.
 * The expected pattern is derived independently at run time by the openssl
 * command line tool over a file holding 0x01 || key.
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

#include "hsmadm/crypto.h"
#include "hsmadm/vp.h"

/* SHA-256 of 0x01 || key by `openssl dgst -sha256`, patterned as EP11 does. */
static void
openssl_vp(const uint8_t key[HSM_KEY_LEN], uint8_t vp[HSM_VP_LEN])
{
	const char *base = getenv("TMPDIR");
	char dir[512], file[600], cmd[800], line[256], *hex;
	uint8_t buf[1 + HSM_KEY_LEN];
	FILE *f, *p;

	snprintf(dir, sizeof(dir), "%s/hsmadm-test-vp-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/in.bin", dir);
	buf[0] = 0x01;
	memcpy(buf + 1, key, HSM_KEY_LEN);
	assert_non_null(f = fopen(file, "wb"));
	assert_int_equal(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -r '%s'", file);
	assert_non_null(p = popen(cmd, "r"));
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	unlink(file);
	rmdir(dir);
	/* "-r" prints "<64 hex> *<file>". */
	hex = line;
	for (size_t i = 0; i < HSM_VP_LEN; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		vp[i] = (uint8_t)v;
	}
	memset(vp + 28, 0, 4);
}

static void
test_vp_matches_openssl(void **state)
{
	uint8_t key[HSM_KEY_LEN], vp[HSM_VP_LEN], want[HSM_VP_LEN];

	(void)state;
	for (int i = 0; i < HSM_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	assert_int_equal(vp_compute(key, vp), HSM_OK);
	openssl_vp(key, want);
	assert_memory_equal(vp, want, HSM_VP_LEN);
	/* The last four bytes are zero, the rest is not all zero. */
	assert_int_equal(vp[28] | vp[29] | vp[30] | vp[31], 0);
	assert_int_not_equal(vp[0] | vp[1] | vp[2] | vp[3], 0);

	assert_int_equal(crypto_random(key, sizeof(key)), HSM_OK);
	assert_int_equal(vp_compute(key, vp), HSM_OK);
	openssl_vp(key, want);
	assert_memory_equal(vp, want, HSM_VP_LEN);

	/* Not a plain SHA-256 of the key: the 0x01 prefix matters. */
	assert_int_equal(crypto_sha256(key, sizeof(key), want), HSM_OK);
	memset(want + 28, 0, 4);
	assert_memory_not_equal(vp, want, HSM_VP_LEN);
}

static void
test_vp_format(void **state)
{
	uint8_t vp[HSM_VP_LEN];
	char text[HSM_VP_TEXT_LEN];

	(void)state;
	for (int i = 0; i < HSM_VP_LEN; i++)
		vp[i] = (uint8_t)(0xa0 + i);
	memset(text, 'Z', sizeof(text));
	vp_format(vp, text);
	assert_string_equal(text, "a0a1 a2a3 a4a5 a6a7 a8a9 aaab acad aeaf");
	assert_int_equal(strlen(text), HSM_VP_TEXT_LEN - 1);
	memset(vp, 0, sizeof(vp));
	vp[0] = 0x0f;
	vp[15] = 0xf0;
	vp_format(vp, text);
	assert_string_equal(text, "0f00 0000 0000 0000 0000 0000 0000 00f0");
}

static void
test_vp_xor_three_parts(void **state)
{
	uint8_t p[3][HSM_KEY_LEN], acc[HSM_KEY_LEN], want[HSM_KEY_LEN];
	uint8_t vk[HSM_VP_LEN], vp0[HSM_VP_LEN];

	(void)state;
	for (int j = 0; j < 3; j++)
		assert_int_equal(crypto_random(p[j], HSM_KEY_LEN), HSM_OK);
	for (int i = 0; i < HSM_KEY_LEN; i++)
		want[i] = (uint8_t)(p[0][i] ^ p[1][i] ^ p[2][i]);
	memset(acc, 0, sizeof(acc));
	for (int j = 0; j < 3; j++)
		vp_xor_into(acc, p[j]);
	assert_memory_equal(acc, want, HSM_KEY_LEN);
	/* Order does not matter. */
	memset(acc, 0, sizeof(acc));
	vp_xor_into(acc, p[2]);
	vp_xor_into(acc, p[0]);
	vp_xor_into(acc, p[1]);
	assert_memory_equal(acc, want, HSM_KEY_LEN);
	/* The key's pattern differs from any part's pattern. */
	assert_int_equal(vp_compute(acc, vk), HSM_OK);
	assert_int_equal(vp_compute(p[0], vp0), HSM_OK);
	assert_false(vp_equal(vk, vp0));
	/* XOR-ing a part in again removes it. */
	vp_xor_into(acc, p[2]);
	for (int i = 0; i < HSM_KEY_LEN; i++)
		assert_int_equal(acc[i], p[0][i] ^ p[1][i]);
}

static void
test_vp_equal(void **state)
{
	uint8_t a[HSM_VP_LEN], b[HSM_VP_LEN];

	(void)state;
	assert_int_equal(crypto_random(a, sizeof(a)), HSM_OK);
	memcpy(b, a, sizeof(a));
	assert_true(vp_equal(a, b));
	b[0] ^= 1;
	assert_false(vp_equal(a, b));
	b[0] ^= 1;
	b[HSM_VP_LEN - 1] ^= 0x80;
	assert_false(vp_equal(a, b));
	assert_int_equal(vp_compute(NULL, a), HSM_ERR_USAGE);
}

/* What a person types: the printed form or the full pattern, any grouping. */
static void
test_vp_parse(void **state)
{
	uint8_t vp[HSM_VP_LEN], back[HSM_VP_LEN];
	char shown[HSM_VP_TEXT_LEN], full[2 * HSM_VP_LEN + 1];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < HSM_VP_LEN; i++)
		vp[i] = (uint8_t)(i * 7 + 3);
	vp_format(vp, shown);
	assert_int_equal(vp_parse(shown, back, &n), HSM_OK);
	assert_int_equal(n, 16);
	assert_memory_equal(back, vp, 16);
	for (size_t i = 0; i < HSM_VP_LEN; i++)
		snprintf(full + 2 * i, 3, "%02X", vp[i]);
	assert_int_equal(vp_parse(full, back, &n), HSM_OK);
	assert_int_equal(n, 32);
	assert_memory_equal(back, vp, 32);
	assert_int_equal(vp_parse("0a0b-0c0d-0e0f-1011-1213-1415-1617-1819", back, &n), HSM_OK);
	assert_int_equal(n, 16);
	assert_int_equal(back[0], 0x0a);
	assert_int_equal(vp_parse("0a0b 0c0d", back, &n), HSM_ERR_USAGE);        /* too short */
	assert_int_equal(vp_parse("0a0b 0c0g 0e0f 1011 1213 1415 1617 1819", back, &n),
	                 HSM_ERR_USAGE);                                        /* not hex */
	assert_int_equal(vp_parse("", back, &n), HSM_ERR_USAGE);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vp_matches_openssl),
		cmocka_unit_test(test_vp_format),
		cmocka_unit_test(test_vp_xor_three_parts),
		cmocka_unit_test(test_vp_equal),
		cmocka_unit_test(test_vp_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
