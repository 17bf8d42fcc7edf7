/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the virtual PIV card's APDU handler (vcard_apdu) and its card
 * file: status words, counters, chaining, paging, PIN policies, and that
 * malformed commands get a status word, never a crash. Cryptographic results
 * are checked with OpenSSL directly, not with the card's own code. */
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
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "hsmadm/vcard.h"

static const uint8_t mgm_default[24] = {
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
};

/* Last response data (without SW) of tx(). */
static uint8_t rdata[8192];
static size_t rlen;

static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s) {
		unsigned v;
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_true(sscanf(s, "%2x", &v) == 1);
		assert_true(n < cap);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static uint16_t
txb(vcard *c, const uint8_t *cmd, size_t n)
{
	uint8_t resp[VCARD_RESP_MAX];
	size_t rn = 0;

	assert_int_equal(vcard_apdu(c, cmd, n, resp, sizeof(resp), &rn), HSM_OK);
	assert_true(rn >= 2 && rn <= VCARD_RESP_MAX);
	rlen = rn - 2;
	memcpy(rdata, resp, rlen);
	return (uint16_t)(resp[rn - 2] << 8 | resp[rn - 1]);
}

static uint16_t
tx(vcard *c, const char *hex)
{
	uint8_t cmd[1024];

	return txb(c, cmd, unhex(hex, cmd, sizeof(cmd)));
}

/* Send and collect the whole response through GET RESPONSE. */
static uint16_t
tx_all(vcard *c, const uint8_t *cmd, size_t n, uint8_t *out, size_t *outlen)
{
	uint16_t sw = txb(c, cmd, n);
	size_t total = 0;

	for (;;) {
		memcpy(out + total, rdata, rlen);
		total += rlen;
		if ((sw >> 8) != 0x61)
			break;
		sw = tx(c, "00 C0 00 00 00");
	}
	*outlen = total;
	return sw;
}

static vcard *
new_card(void)
{
	vcard *c = NULL;

	assert_int_equal(vcard_new(12345678, &c), HSM_OK);
	assert_int_equal(tx(c, "00 A4 04 00 05 A0 00 00 03 08"), 0x9000);
	return c;
}

static void
block3des(const uint8_t *key, int enc, const uint8_t in[8], uint8_t out[8])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	assert_non_null(ctx);
	assert_int_equal(EVP_CipherInit_ex(ctx, EVP_des_ede3_ecb(), NULL, key, NULL, enc), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_CipherUpdate(ctx, out, &n, in, 8), 1);
	assert_int_equal(n, 8);
	EVP_CIPHER_CTX_free(ctx);
}

/* 9B mutual authentication as libykpiv does it; returns the final SW. */
static uint16_t
mgm_auth(vcard *c, const uint8_t *key)
{
	uint8_t cmd[64], r[8], chal[8] = { 9, 8, 7, 6, 5, 4, 3, 2 }, expect[8];

	assert_int_equal(tx(c, "00 87 03 9B 04 7C 02 80 00"), 0x9000);
	assert_int_equal(rlen, 12);
	assert_memory_equal(rdata, "\x7C\x0A\x80\x08", 4);
	block3des(key, 0, rdata + 4, r);
	memcpy(cmd, "\x00\x87\x03\x9B\x16\x7C\x14\x80\x08", 9);
	memcpy(cmd + 9, r, 8);
	memcpy(cmd + 17, "\x81\x08", 2);
	memcpy(cmd + 19, chal, 8);
	if (txb(c, cmd, 27) != 0x9000)
		return 0x6982;
	block3des(mgm_default, 1, chal, expect);
	assert_int_equal(rlen, 12);
	assert_memory_equal(rdata, "\x7C\x0A\x82\x08", 4);
	if (key == mgm_default)
		assert_memory_equal(rdata + 4, expect, 8);
	return 0x9000;
}

static void
test_select_and_atr(void **state)
{
	vcard *c = new_card();
	const uint8_t *atr;
	size_t n = vcard_atr(&atr);

	(void)state;
	assert_int_equal(n, 23);
	assert_int_equal(atr[0], 0x3B);
	assert_int_equal(tx(c, "00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00"), 0x9000);
	assert_int_equal(rlen, 19);
	assert_memory_equal(rdata, "\x61\x11\x4F\x06\x00\x00\x10\x00\x01\x00", 10);
	/* Unknown AID: 6A82, and the PIN state stays. */
	assert_int_equal(tx(c, "00 20 00 80 08 31 32 33 34 35 36 FF FF"), 0x9000);
	assert_int_equal(tx(c, "00 A4 04 00 07 A0 00 00 00 01 01 01"), 0x6A82);
	assert_int_equal(tx(c, "00 20 00 80"), 0x9000);
	/* Yubico management AID: 9000, and the PIN state goes. */
	assert_int_equal(tx(c, "00 A4 04 00 08 A0 00 00 05 27 47 11 17"), 0x9000);
	assert_int_equal(tx(c, "00 20 00 80 00"), 0x63C3);
	/* A power event drops it too. */
	assert_int_equal(tx(c, "00 20 00 80 08 31 32 33 34 35 36 FF FF"), 0x9000);
	vcard_power_event(c, VCARD_POWER_RESET);
	assert_int_equal(tx(c, "00 20 00 80"), 0x63C3);
	assert_int_equal(tx(c, "00 FD 00 00 00"), 0x9000);
	assert_memory_equal(rdata, "\x05\x04\x03", 3);
	assert_int_equal(tx(c, "00 F8 00 00 00"), 0x9000);
	assert_memory_equal(rdata, "\x00\xBC\x61\x4E", 4);
	/* GET METADATA: PIN (default, 3 of 3), 9B (3DES, default), empty slot. */
	assert_int_equal(tx(c, "00 F7 00 80 00"), 0x9000);
	assert_int_equal(rlen, 10);
	assert_memory_equal(rdata, "\x01\x01\xFF\x05\x01\x01\x06\x02\x03\x03", 10);
	assert_int_equal(tx(c, "00 20 00 81 08 31 32 33 34 35 36 FF FF"), 0x6A88);
	assert_int_equal(tx(c, "00 24 00 81 10 39 39 39 39 39 39 39 39 31 32 33 34 35 36 37 38"), 0x63C2);
	assert_int_equal(tx(c, "00 F7 00 81 00"), 0x9000);
	assert_memory_equal(rdata + 6, "\x06\x02\x03\x02", 4);
	assert_int_equal(tx(c, "00 F7 00 9B 00"), 0x9000);
	assert_memory_equal(rdata, "\x01\x01\x03\x02\x02\x00\x01\x05\x01\x01", 10);
	assert_int_equal(tx(c, "00 F7 00 9A 00"), 0x6A88);
	vcard_free(&c);
	assert_null(c);
}

static void
test_pin_counts_down_blocks_and_puk_unblocks(void **state)
{
	vcard *c = new_card();

	(void)state;
	vcard_clear_dirty(c);
	assert_int_equal(tx(c, "00 20 00 80 08 39 39 39 39 39 39 FF FF"), 0x63C2);
	assert_true(vcard_dirty(c));   /* the counter must be saved */
	assert_int_equal(tx(c, "00 20 00 80 08 39 39 39 39 39 39 FF FF"), 0x63C1);
	/* A right PIN resets the counter. */
	assert_int_equal(tx(c, "00 20 00 80 08 31 32 33 34 35 36 FF FF"), 0x9000);
	assert_int_equal(tx(c, "00 20 FF 80"), 0x9000);
	assert_int_equal(tx(c, "00 20 00 80"), 0x63C3);
	assert_int_equal(tx(c, "00 20 00 80 08 39 39 39 39 39 39 FF FF"), 0x63C2);
	assert_int_equal(tx(c, "00 20 00 80 08 39 39 39 39 39 39 FF FF"), 0x63C1);
	assert_int_equal(tx(c, "00 20 00 80 08 39 39 39 39 39 39 FF FF"), 0x63C0);
	/* Blocked: even the right PIN is refused, and nothing counts further. */
	assert_int_equal(tx(c, "00 20 00 80 08 31 32 33 34 35 36 FF FF"), 0x6983);
	assert_int_equal(tx(c, "00 20 00 80"), 0x6983);
	assert_int_equal(tx(c, "00 24 00 80 10 31 32 33 34 35 36 FF FF 31 32 33 34 35 36 FF FF"), 0x6983);
	/* FB RESET needs the PUK blocked too. */
	assert_int_equal(tx(c, "00 FB 00 00 00"), 0x6985);
	/* Wrong PUK counts down; right PUK sets a new PIN and resets its counter. */
	assert_int_equal(tx(c, "00 2C 00 80 10 39 39 39 39 39 39 39 39 36 35 34 33 32 31 FF FF"), 0x63C2);
	assert_int_equal(tx(c, "00 2C 00 80 10 31 32 33 34 35 36 37 38 36 35 34 33 32 31 FF FF"), 0x9000);
	assert_int_equal(tx(c, "00 20 00 80"), 0x63C3);
	assert_int_equal(tx(c, "00 20 00 80 08 36 35 34 33 32 31 FF FF"), 0x9000);
	/* Block the PUK: 3 wrong PUKs, then even the right one is refused. */
	for (int i = 2; i >= 0; i--)
		assert_int_equal(tx(c, "00 24 00 81 10 39 39 39 39 39 39 39 39 31 32 33 34 35 36 37 38"),
		    0x63C0 | i);
	assert_int_equal(tx(c, "00 2C 00 80 10 31 32 33 34 35 36 37 38 36 35 34 33 32 31 FF FF"), 0x6983);
	vcard_free(&c);
}

static void
test_change_pin_rules(void **state)
{
	vcard *c = new_card();

	(void)state;
	/* New PIN of 5 bytes, or with junk after the padding: 6A80, no try used. */
	assert_int_equal(tx(c, "00 24 00 80 10 31 32 33 34 35 36 FF FF 31 32 33 34 35 FF FF FF"), 0x6A80);
	assert_int_equal(tx(c, "00 24 00 80 10 31 32 33 34 35 36 FF FF 31 32 33 34 35 36 FF 31"), 0x6A80);
	assert_int_equal(tx(c, "00 20 00 80"), 0x63C3);
	assert_int_equal(tx(c, "00 24 00 80 08 31 32 33 34 35 36 FF FF"), 0x6700);
	assert_int_equal(tx(c, "00 24 00 80 10 31 32 33 34 35 36 FF FF 38 37 36 35 34 33 32 31"), 0x9000);
	assert_int_equal(tx(c, "00 20 00 80 08 31 32 33 34 35 36 FF FF"), 0x63C2);
	assert_int_equal(tx(c, "00 20 00 80 08 38 37 36 35 34 33 32 31"), 0x9000);
	/* Global PIN and unknown references. */
	assert_int_equal(tx(c, "00 20 00 00 08 31 32 33 34 35 36 FF FF"), 0x6A88);
	assert_int_equal(tx(c, "00 20 00 80 06 31 32 33 34 35 36"), 0x6700);
	vcard_free(&c);
}

static void
test_put_data_chained_get_data_paged(void **state)
{
	vcard *c = new_card();
	uint8_t obj[1000], cmd[300], all[2048];
	size_t total, n, off;

	(void)state;
	for (size_t i = 0; i < sizeof(obj); i++)
		obj[i] = (uint8_t)(i * 7);
	/* Without the management key: 6982. */
	assert_int_equal(tx(c, "00 DB 3F FF 08 5C 03 5F C1 05 53 01 AA"), 0x6982);
	assert_int_equal(mgm_auth(c, mgm_default), 0x9000);
	/* 5C 03 5FC105 53 82 03E8 <1000 bytes>, in 255-byte chained chunks. */
	memcpy(all, "\x5C\x03\x5F\xC1\x05\x53\x82\x03\xE8", 9);
	memcpy(all + 9, obj, sizeof(obj));
	total = 9 + sizeof(obj);
	for (off = 0; off < total; off += n) {
		n = total - off > 255 ? 255 : total - off;
		cmd[0] = off + n < total ? 0x10 : 0x00;
		memcpy(cmd + 1, "\xDB\x3F\xFF", 3);
		cmd[4] = (uint8_t)n;
		memcpy(cmd + 5, all + off, n);
		assert_int_equal(txb(c, cmd, 5 + n), 0x9000);
		assert_int_equal(rlen, 0);
	}
	/* Read it back: 256 bytes per response, then 61xx. */
	assert_int_equal(tx(c, "00 CB 3F FF 05 5C 03 5F C1 05 00"), 0x6100);
	assert_int_equal(rlen, 256);
	memcpy(all, rdata, 256);
	total = 256;
	for (;;) {
		uint16_t sw = tx(c, "00 C0 00 00 00");
		memcpy(all + total, rdata, rlen);
		total += rlen;
		if (sw == 0x9000)
			break;
		assert_int_equal(sw >> 8, 0x61);
	}
	assert_int_equal(total, 4 + sizeof(obj));
	assert_memory_equal(all, "\x53\x82\x03\xE8", 4);
	assert_memory_equal(all + 4, obj, sizeof(obj));
	/* OpenSC's length probe: Le = 8 gives 8 bytes and 61 XX. */
	assert_int_equal(tx(c, "00 CB 3F FF 05 5C 03 5F C1 05 08"), 0x6100);
	assert_int_equal(rlen, 8);
	/* Any other command drops the pending data. */
	assert_int_equal(tx(c, "00 FD 00 00 00"), 0x9000);
	assert_int_equal(tx(c, "00 C0 00 00 00"), 0x6985);
	/* Delete with an empty 53. */
	assert_int_equal(tx(c, "00 DB 3F FF 07 5C 03 5F C1 05 53 00"), 0x9000);
	assert_int_equal(tx(c, "00 CB 3F FF 05 5C 03 5F C1 05 00"), 0x6A82);
	/* Discovery is there unwrapped; PIN-protected objects need the PIN. */
	assert_int_equal(tx(c, "00 CB 3F FF 03 5C 01 7E 00"), 0x9000);
	assert_int_equal(rdata[0], 0x7E);
	assert_int_equal(tx(c, "00 CB 3F FF 05 5C 03 5F C1 03 00"), 0x6982);
	/* Too big for an object: 6A84 (3064 bytes, chained). */
	{
		static uint8_t big[3064 + 10];
		memcpy(big, "\x5C\x03\x5F\xC1\x0A\x53\x82\x0B\xF8", 9);
		total = 9 + 3064;
		for (off = 0; off < total; off += n) {
			uint16_t sw;
			n = total - off > 255 ? 255 : total - off;
			cmd[0] = off + n < total ? 0x10 : 0x00;
			memcpy(cmd + 1, "\xDB\x3F\xFF", 3);
			cmd[4] = (uint8_t)n;
			memcpy(cmd + 5, big + off, n);
			sw = txb(c, cmd, 5 + n);
			assert_int_equal(sw, off + n < total ? 0x9000 : 0x6A84);
		}
	}
	vcard_free(&c);
}

static void
test_mgm_auth_wrong_key(void **state)
{
	vcard *c = new_card();
	uint8_t bad[24];

	(void)state;
	memset(bad, 0x42, sizeof(bad));
	assert_int_equal(mgm_auth(c, bad), 0x6982);
	assert_int_equal(tx(c, "00 47 00 9A 05 AC 03 80 01 11"), 0x6982);
	/* A witness answer without a witness request. */
	assert_int_equal(tx(c, "00 87 03 9B 16 7C 14 80 08 01 02 03 04 05 06 07 08 81 08 01 02 03 04 05 06 07 08"), 0x6982);
	/* A witness is consumed by any other command. */
	assert_int_equal(tx(c, "00 87 03 9B 04 7C 02 80 00"), 0x9000);
	assert_int_equal(tx(c, "00 FD 00 00 00"), 0x9000);
	assert_int_equal(tx(c, "00 87 03 9B 16 7C 14 80 08 01 02 03 04 05 06 07 08 81 08 01 02 03 04 05 06 07 08"), 0x6982);
	/* Wrong algorithm for the 9B key. */
	assert_int_equal(tx(c, "00 87 08 9B 04 7C 02 80 00"), 0x6A80);
	/* OpenSC's GET CHALLENGE with P1 00. */
	assert_int_equal(tx(c, "00 87 00 9B 04 7C 02 81 00 00"), 0x9000);
	assert_int_equal(rlen, 12);
	/* SET MGMKEY to AES-128, then authenticate with it. */
	assert_int_equal(mgm_auth(c, mgm_default), 0x9000);
	assert_int_equal(tx(c, "00 FF FF FF 13 08 9B 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF"), 0x9000);
	assert_int_equal(tx(c, "00 87 03 9B 04 7C 02 80 00"), 0x6A80);
	assert_int_equal(tx(c, "00 87 08 9B 04 7C 02 80 00"), 0x9000);
	assert_int_equal(rlen, 20);
	/* Key length must match the algorithm. */
	assert_int_equal(tx(c, "00 FF FF FF 0B 03 9B 08 00 11 22 33 44 55 66 77"), 0x6982);
	vcard_free(&c);
}

/* The public key from a 7F49 { 86 point } response. */
static EVP_PKEY *
pub_from_7f49(const uint8_t *d, size_t n, const char *curve)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;

	assert_true(n > 5);
	assert_memory_equal(d, "\x7F\x49", 2);
	assert_int_equal(d[2], n - 3);
	assert_int_equal(d[3], 0x86);
	assert_int_equal(d[4], n - 5);
	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, d + 5, n - 5);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

static void
verify_sig(EVP_PKEY *pub, const uint8_t *dg, size_t n, const uint8_t *resp, size_t rn)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);

	/* 7C LL 82 LL <DER> */
	assert_int_equal(resp[0], 0x7C);
	assert_int_equal(resp[2], 0x82);
	assert_int_equal(resp[3], rn - 4);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_int_equal(EVP_PKEY_verify(ctx, resp + 4, rn - 4, dg, n), 1);
	EVP_PKEY_CTX_free(ctx);
}

static void
test_sign_pin_policies(void **state)
{
	vcard *c = new_card();
	EVP_PKEY *p9c, *p9d, *p9e;
	uint8_t dg[32], cmd[64];
	size_t n;

	(void)state;
	assert_int_equal(mgm_auth(c, mgm_default), 0x9000);
	assert_int_equal(tx(c, "00 47 00 9C 05 AC 03 80 01 11"), 0x9000);
	p9c = pub_from_7f49(rdata, rlen, "P-256");
	assert_int_equal(tx(c, "00 47 00 9D 05 AC 03 80 01 11"), 0x9000);
	p9d = pub_from_7f49(rdata, rlen, "P-256");
	assert_int_equal(tx(c, "00 47 00 9E 05 AC 03 80 01 11"), 0x9000);
	p9e = pub_from_7f49(rdata, rlen, "P-256");
	/* Metadata of 9C: P-256, PIN always, touch never, generated, the point. */
	assert_int_equal(tx(c, "00 F7 00 9C 00"), 0x9000);
	assert_memory_equal(rdata, "\x01\x01\x11\x02\x02\x03\x01\x03\x01\x01\x04\x43\x86\x41\x04", 15);
	/* Bad slot, bad algorithm, bad policy. */
	assert_int_equal(tx(c, "00 47 00 9B 05 AC 03 80 01 11"), 0x6B00);
	assert_int_equal(tx(c, "00 47 00 9A 05 AC 03 80 01 07"), 0x6A80);
	assert_int_equal(tx(c, "00 47 00 9A 08 AC 06 80 01 11 AA 01 09"), 0x6A80);

	RAND_bytes(dg, sizeof(dg));
	memcpy(cmd, "\x00\x87\x11\x9C\x26\x7C\x24\x82\x00\x81\x20", 11);
	memcpy(cmd + 11, dg, 32);
	n = 43;
	/* 9C "always": no PIN -> 6982; PIN -> one signature; then 6982 again. */
	assert_int_equal(txb(c, cmd, n), 0x6982);
	assert_int_equal(tx(c, "00 20 00 80 08 31 32 33 34 35 36 FF FF"), 0x9000);
	assert_int_equal(txb(c, cmd, n), 0x9000);
	verify_sig(p9c, dg, 32, rdata, rlen);
	assert_int_equal(txb(c, cmd, n), 0x6982);
	assert_int_equal(tx(c, "00 20 00 80 08 31 32 33 34 35 36 FF FF"), 0x9000);
	assert_int_equal(txb(c, cmd, n), 0x9000);
	verify_sig(p9c, dg, 32, rdata, rlen);
	/* 9D "once": after one VERIFY, any number of operations. */
	cmd[3] = 0x9D;
	assert_int_equal(txb(c, cmd, n), 0x9000);
	verify_sig(p9d, dg, 32, rdata, rlen);
	assert_int_equal(txb(c, cmd, n), 0x9000);
	verify_sig(p9d, dg, 32, rdata, rlen);
	vcard_power_event(c, VCARD_POWER_OFF);
	assert_int_equal(txb(c, cmd, n), 0x6982);
	/* 9E "never". */
	cmd[3] = 0x9E;
	assert_int_equal(txb(c, cmd, n), 0x9000);
	verify_sig(p9e, dg, 32, rdata, rlen);
	/* Wrong algorithm for the key, empty slot, missing 82. */
	cmd[2] = 0x14;
	assert_int_equal(txb(c, cmd, n), 0x6A80);
	cmd[2] = 0x11, cmd[3] = 0x9A;
	assert_int_equal(txb(c, cmd, n), 0x6A88);
	assert_int_equal(tx(c, "00 87 11 9E 06 7C 04 81 02 01 02"), 0x6A80);
	EVP_PKEY_free(p9c);
	EVP_PKEY_free(p9d);
	EVP_PKEY_free(p9e);
	vcard_free(&c);
}

static void
test_ecdh_p384_matches_openssl(void **state)
{
	vcard *c = new_card();
	EVP_PKEY *card_pub, *peer = EVP_EC_gen("P-384");
	EVP_PKEY_CTX *ctx;
	uint8_t pt[97], cmd[128], z[48], resp[256];
	size_t ptn = 0, zn = sizeof(z), rn;

	(void)state;
	assert_int_equal(mgm_auth(c, mgm_default), 0x9000);
	assert_int_equal(tx(c, "00 47 00 9D 05 AC 03 80 01 14"), 0x9000);
	card_pub = pub_from_7f49(rdata, rlen, "P-384");
	assert_int_equal(EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	    pt, sizeof(pt), &ptn), 1);
	assert_int_equal(ptn, 97);
	memcpy(cmd, "\x00\x87\x14\x9D\x67\x7C\x65\x82\x00\x85\x61", 11);
	memcpy(cmd + 11, pt, 97);
	assert_int_equal(txb(c, cmd, 108), 0x6982);       /* PIN once */
	assert_int_equal(tx(c, "00 20 00 80 08 31 32 33 34 35 36 FF FF"), 0x9000);
	assert_int_equal(tx_all(c, cmd, 108, resp, &rn), 0x9000);
	assert_int_equal(rn, 52);
	assert_memory_equal(resp, "\x7C\x32\x82\x30", 4);
	ctx = EVP_PKEY_CTX_new(peer, NULL);
	assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(ctx, card_pub), 1);
	assert_int_equal(EVP_PKEY_derive(ctx, z, &zn), 1);
	assert_int_equal(zn, 48);
	assert_memory_equal(resp + 4, z, 48);
	/* A point not on the curve: 6A80. */
	cmd[11 + 50] ^= 1;
	assert_int_equal(txb(c, cmd, 108), 0x6A80);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(card_pub);
	EVP_PKEY_free(peer);
	vcard_free(&c);
}

static void
test_malformed_apdus(void **state)
{
	vcard *c = new_card();
	uint8_t resp[VCARD_RESP_MAX];
	size_t rn;

	(void)state;
	assert_int_equal(tx(c, ""), 0x6700);
	assert_int_equal(tx(c, "00"), 0x6700);
	assert_int_equal(tx(c, "00 A4 04"), 0x6700);
	assert_int_equal(tx(c, "00 A4 04 00 05 A0 00 00"), 0x6700);         /* Lc too big */
	assert_int_equal(tx(c, "00 A4 04 00 02 A0 00 00 00 00"), 0x6700);   /* Lc too small */
	assert_int_equal(tx(c, "00 FD 00 00 00 01 00"), 0x9000);            /* case 2E */
	assert_int_equal(tx(c, "00 A4 04 00 00 00 00 AA"), 0x6700);         /* 3E with Lc 0 */
	assert_int_equal(tx(c, "00 A4 04 00 00 00"), 0x6700);               /* 6 bytes, 5th 00 */
	assert_int_equal(tx(c, "80 FD 00 00 00"), 0x6E00);
	assert_int_equal(tx(c, "00 B0 00 00 00"), 0x6D00);
	assert_int_equal(tx(c, "00 C0 00 00 00"), 0x6985);
	assert_int_equal(tx(c, "00 C0 01 00 00"), 0x6A86);
	assert_int_equal(tx(c, "00 87 11 9A 03 7C 05 82"), 0x6A80);         /* TLV past the end */
	assert_int_equal(tx(c, "00 87 11 9A 04 7C 02 82 00 00"), 0x6A88);
	assert_int_equal(tx(c, "00 87 03 9B 06 7C 04 80 00 80 00"), 0x6A80); /* tag twice */
	assert_int_equal(tx(c, "00 87 03 9B 05 7C 83 00 00 00"), 0x6A80);    /* bad length form */
	assert_int_equal(tx(c, "00 CB 3F FF 02 5C 00"), 0x6A80);
	assert_int_equal(tx(c, "00 CB 3F FE 05 5C 03 5F C1 05"), 0x6A86);
	assert_int_equal(tx(c, "00 CB 3F FF 06 5C 04 5F C1 05 01"), 0x6A80);
	assert_int_equal(tx(c, "00 20 02 80"), 0x6A86);
	assert_int_equal(tx(c, "00 FA 00 00 00"), 0x6982);
	/* Extended-length VERIFY is understood too. */
	assert_int_equal(tx(c, "00 20 00 80 00 00 08 31 32 33 34 35 36 FF FF"), 0x9000);
	assert_int_equal(tx(c, "00 20 00 80 00 00 08 31 32 33 34 35 36 FF FF 00 00"), 0x9000);
	/* A chain interrupted by another command is dropped. */
	assert_int_equal(tx(c, "10 DB 3F FF 03 5C 03 5F"), 0x9000);
	assert_int_equal(tx(c, "00 FD 00 00 00"), 0x9000);
	assert_int_equal(tx(c, "00 DB 3F FF 05 C1 05 53 01 AA"), 0x6982);
	/* Too small a response buffer is an API error, nothing runs. */
	assert_int_equal(vcard_apdu(c, (const uint8_t *)"\x00\xFD\x00\x00", 4, resp, 10, &rn),
	    HSM_ERR_USAGE);
	vcard_free(&c);
}

/* A deterministic storm of random and mutated APDUs: only valid SWs come
 * back, and nothing crashes (the fuzzer does this at scale). */
static void
test_random_apdus_never_crash(void **state)
{
	static const char *seeds[] = {
		"00 A4 04 00 05 A0 00 00 03 08", "00 20 00 80 08 31 32 33 34 35 36 FF FF",
		"00 87 03 9B 04 7C 02 80 00", "00 47 00 9A 05 AC 03 80 01 11",
		"00 CB 3F FF 05 5C 03 5F C1 05 00", "10 DB 3F FF 07 5C 03 5F C1 05 53 00",
		"00 87 11 9A 26 7C 24 82 00 81 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		"00 C0 00 00 00", "00 FE 11 9A 22 06 20 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08",
	};
	vcard *c = new_card();
	uint8_t cmd[600];
	uint32_t x = 12345;

	(void)state;
	assert_int_equal(mgm_auth(c, mgm_default), 0x9000);
	for (int i = 0; i < 20000; i++) {
		size_t n = unhex(seeds[i % 9], cmd, sizeof(cmd));
		uint16_t sw;
		int muts;

		x = x * 1103515245u + 12345u;
		muts = (int)(x >> 16) % 4;
		for (int m = 0; m < muts; m++) {
			x = x * 1103515245u + 12345u;
			if ((x >> 8) % 5 == 0 && n < sizeof(cmd))
				n++;
			else if ((x >> 8) % 5 == 1 && n > 0)
				n--;
			else if (n > 0)
				cmd[(x >> 12) % n] = (uint8_t)(x >> 20);
		}
		sw = txb(c, cmd, n);
		assert_true((sw >> 8) == 0x90 || (sw >> 8) == 0x61 || (sw >> 8) == 0x63 ||
		    (sw >> 8) == 0x67 || (sw >> 8) == 0x69 || (sw >> 8) == 0x6A ||
		    (sw >> 8) == 0x6B || (sw >> 8) == 0x6D || (sw >> 8) == 0x6E ||
		    (sw >> 8) == 0x68 || (sw >> 8) == 0x6F);
	}
	vcard_free(&c);
}

static void
test_attestation(void **state)
{
	vcard *c = new_card();
	uint8_t cmd[8], der[4096], f9obj[2048];
	size_t n, fn;
	const uint8_t *p;
	X509 *att, *ca;
	EVP_PKEY *capub, *p9c;

	(void)state;
	assert_int_equal(tx(c, "00 F9 9C 00 00"), 0x6A88);           /* empty slot */
	assert_int_equal(mgm_auth(c, mgm_default), 0x9000);
	assert_int_equal(tx(c, "00 47 00 9C 05 AC 03 80 01 11"), 0x9000);
	p9c = pub_from_7f49(rdata, rlen, "P-256");
	memcpy(cmd, "\x00\xF9\x9C\x00\x00", 5);
	assert_int_equal(tx_all(c, cmd, 5, der, &n), 0x9000);
	assert_int_equal(der[0], 0x30);
	p = der;
	att = d2i_X509(NULL, &p, (long)n);
	assert_non_null(att);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(att), p9c), 1);
	/* Signed by the F9 key, whose certificate is in 5FFF01. */
	{
		uint8_t gd[] = { 0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xFF, 0x01, 0x00 };
		assert_int_equal(tx_all(c, gd, sizeof(gd), f9obj, &fn), 0x9000);
	}
	assert_memory_equal(f9obj, "\x53\x82", 2);
	assert_memory_equal(f9obj + 4, "\x70\x82", 2);
	p = f9obj + 8;
	ca = d2i_X509(NULL, &p, (long)(fn - 8));
	assert_non_null(ca);
	capub = X509_get0_pubkey(ca);
	assert_int_equal(X509_verify(att, capub), 1);
	/* F9 signs nothing but attestations; imported keys cannot be attested. */
	assert_int_equal(tx(c, "00 87 11 F9 26 7C 24 82 00 81 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"), 0x6A88);
	assert_int_equal(tx(c, "00 FE 11 9A 22 06 20 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08"), 0x9000);
	assert_int_equal(tx(c, "00 F9 9A 00 00"), 0x6A80);
	assert_int_equal(tx(c, "00 F9 9C 01 00"), 0x6A86);
	/* RESET (PIN and PUK blocked) keeps the attestation key and certificate. */
	for (int i = 0; i < 3; i++) {
		tx(c, "00 20 00 80 08 39 39 39 39 39 39 FF FF");
		tx(c, "00 2C 00 80 10 39 39 39 39 39 39 39 39 36 35 34 33 32 31 FF FF");
	}
	assert_int_equal(tx(c, "00 FB 00 00 00"), 0x9000);
	assert_int_equal(tx(c, "00 F9 9C 00 00"), 0x6A88);
	assert_int_equal(tx(c, "00 CB 3F FF 05 5C 03 5F FF 01 00") >> 8, 0x61);
	assert_int_equal(tx(c, "00 F7 00 F9 00"), 0x9000);
	assert_int_equal(tx(c, "00 20 00 80 08 31 32 33 34 35 36 FF FF"), 0x9000);
	X509_free(att);
	X509_free(ca);
	EVP_PKEY_free(p9c);
	vcard_free(&c);
}

/* A slot named twice ("9e" and "9E" are one slot) is refused, and the
 * first key read is not leaked (the fuzzer found that leak). */
static void
same_slot_twice_refused(const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *keys;
	char *text;
	vcard *d = NULL;

	assert_non_null(root);
	keys = json_object_get(root, "keys");
	assert_non_null(json_object_get(keys, "9e"));
	assert_int_equal(json_object_set(keys, "9E", json_object_get(keys, "9e")), 0);
	assert_non_null(text = json_dumps(root, 0));
	assert_int_equal(vcard_parse(text, strlen(text), &d), HSM_ERR_FORMAT);
	assert_null(d);
	assert_non_null(strstr(hsm_errmsg(), "9E"));
	free(text);
	/* Objects likewise: only the lowercase name the writer uses. */
	json_object_del(keys, "9E");
	assert_int_equal(json_object_set_new(json_object_get(root, "objects"), "5FC10C",
	    json_string("5300")), 0);
	assert_non_null(text = json_dumps(root, 0));
	assert_int_equal(vcard_parse(text, strlen(text), &d), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "5FC10C"));
	free(text);
	json_decref(root);
}

static void
test_file_roundtrip_and_refusals(void **state)
{
	char dir[] = "/tmp/test_vcard.XXXXXX", path[128], bad[160];
	vcard *c = new_card(), *d = NULL;
	uint8_t dg[32] = { 1 }, cmd[64];
	EVP_PKEY *pub;
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/card.json", dir);
	assert_int_equal(mgm_auth(c, mgm_default), 0x9000);
	assert_int_equal(tx(c, "00 47 00 9E 08 AC 06 80 01 14 AB 01 02"), 0x9000);
	pub = pub_from_7f49(rdata, rlen, "P-384");
	assert_int_equal(tx(c, "00 DB 3F FF 0A 5C 03 5F C1 0C 53 03 C1 01 00"), 0x9000);
	assert_int_equal(tx(c, "00 20 00 80 08 39 39 39 39 39 39 FF FF"), 0x63C2);
	assert_int_equal(vcard_save(c, path, 1), HSM_OK);
	assert_int_equal(vcard_save(c, path, 1), HSM_ERR_EXISTS);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(vcard_load(path, &d), HSM_OK);
	/* Counters, objects and keys came back. */
	assert_int_equal(tx(d, "00 20 00 80"), 0x63C2);
	assert_int_equal(tx(d, "00 CB 3F FF 05 5C 03 5F C1 0C 00"), 0x9000);
	assert_memory_equal(rdata, "\x53\x03\xC1\x01\x00", 5);
	memcpy(cmd, "\x00\x87\x14\x9E\x26\x7C\x24\x82\x00\x81\x20", 11);
	memcpy(cmd + 11, dg, 32);
	assert_int_equal(txb(d, cmd, 43), 0x9000);
	verify_sig(pub, dg, 32, rdata, rlen);
	vcard_free(&d);
	same_slot_twice_refused(path);

	/* Refusals: missing file, not JSON, unknown field, bad tries. */
	snprintf(bad, sizeof(bad), "%s/none.json", dir);
	assert_int_equal(vcard_load(bad, &d), HSM_ERR_NOT_FOUND);
	assert_null(d);
	snprintf(bad, sizeof(bad), "%s/bad.json", dir);
	f = fopen(bad, "w");
	fputs("{\"format\": ", f);
	fclose(f);
	assert_int_equal(vcard_load(bad, &d), HSM_ERR_FORMAT);
	f = fopen(bad, "w");
	fputs("{\"format\": \"hsmadm-vcard/1\", \"extra\": 1}", f);
	fclose(f);
	assert_int_equal(vcard_load(bad, &d), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "extra"));
	f = fopen(bad, "w");
	fputs("{\"format\": \"hsmadm-vcard/1\", \"serial\": 5, \"version\": \"5.4.3\", \"pin\": \"123456\","
	    " \"puk\": \"12345678\", \"pin_tries\": {\"max\": 3, \"left\": 4},"
	    " \"puk_tries\": {\"max\": 3, \"left\": 3}, \"management_key\": {\"alg\": \"3des\","
	    " \"key\": \"010203040506070801020304050607080102030405060708\"}, \"keys\": {}, \"objects\": {}}", f);
	fclose(f);
	assert_int_equal(vcard_load(bad, &d), HSM_ERR_FORMAT);
	assert_null(d);
	unlink(bad);
	unlink(path);
	rmdir(dir);
	EVP_PKEY_free(pub);
	vcard_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_and_atr),
		cmocka_unit_test(test_pin_counts_down_blocks_and_puk_unblocks),
		cmocka_unit_test(test_change_pin_rules),
		cmocka_unit_test(test_put_data_chained_get_data_paged),
		cmocka_unit_test(test_mgm_auth_wrong_key),
		cmocka_unit_test(test_sign_pin_policies),
		cmocka_unit_test(test_ecdh_p384_matches_openssl),
		cmocka_unit_test(test_malformed_apdus),
		cmocka_unit_test(test_random_apdus_never_crash),
		cmocka_unit_test(test_attestation),
		cmocka_unit_test(test_file_roundtrip_and_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
