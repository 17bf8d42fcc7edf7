/* SPDX-License-Identifier: BSD-2-Clause */
/* test_envelope.c - key-part envelopes: round trip, wrong card, wrong part,
 * tampering, malformed input, and a forged pattern. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/crypto.h"
#include "hsmadm/envelope.h"
#include "hsmadm/signer.h"
#include "hsmadm/vp.h"

/* A key-agreement party on an in-memory key that counts its uses, so a test
 * can prove the "card" was never asked. */
struct counting {
	EVP_PKEY *priv;
	int calls;
};

static hsm_rc
counting_ecdh(void *ctx, EVP_PKEY *peer, hsm_secbuf **shared)
{
	struct counting *c = ctx;

	c->calls++;
	return crypto_ecdh(c->priv, peer, shared);
}

static void
counting_free(void *ctx)
{
	(void)ctx;   /* owned by the fixture */
}

static const struct hsm_keyagree_ops counting_ops = { counting_ecdh, counting_free };

struct fx {
	EVP_PKEY *card;        /* custodian card 9D key */
	EVP_PKEY *other;       /* another card's 9D key */
	struct counting cnt, cnt_other;
	hsm_keyagree *ka, *ka_other;
	hsm_secbuf *part;
	uint8_t kpvp[HSM_VP_LEN];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t p[HSM_KEY_LEN];

	if (f == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)(0x5a ^ (i * 13));
	if (crypto_ec_generate(HSM_CURVE_P384, &f->card) != HSM_OK ||
	    crypto_ec_generate(HSM_CURVE_P384, &f->other) != HSM_OK ||
	    secbuf_from(p, sizeof(p), &f->part) != HSM_OK ||
	    vp_compute(p, f->kpvp) != HSM_OK)
		return -1;
	f->cnt.priv = f->card;
	f->cnt_other.priv = f->other;
	if (keyagree_new(&counting_ops, &f->cnt, f->card, "test card A", &f->ka) != HSM_OK ||
	    keyagree_new(&counting_ops, &f->cnt_other, f->other, "test card B", &f->ka_other) != HSM_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	keyagree_free(&f->ka);
	keyagree_free(&f->ka_other);
	EVP_PKEY_free(f->card);
	EVP_PKEY_free(f->other);
	secbuf_free(&f->part);
	free(f);
	return 0;
}

static void
seal(struct fx *f, uint8_t **env, size_t *len)
{
	assert_int_equal(envelope_seal(f->part, f->card, "card-a1", "part-1", f->kpvp,
	                               env, len), HSM_OK);
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t *env = NULL, got[HSM_VP_LEN];
	size_t len = 0;
	hsm_secbuf *out = NULL;
	envelope_info info;

	seal(f, &env, &len);
	assert_int_equal(len, ENVELOPE_MIN_LEN + strlen("card-a1") - 1 + strlen("part-1") - 1);
	assert_true(len < 1024);
	assert_int_equal(envelope_parse(env, len, &info), HSM_OK);
	assert_string_equal(info.card_id, "card-a1");
	assert_string_equal(info.part_id, "part-1");
	assert_memory_equal(info.kpvp, f->kpvp, HSM_VP_LEN);
	/* The clear part is nowhere in the envelope. */
	for (size_t i = 0; i + 8 <= len; i++)
		assert_memory_not_equal(env + i, f->part->data, 8);

	f->cnt.calls = 0;
	assert_int_equal(envelope_open(env, len, f->ka, "card-a1", "part-1", &out, got), HSM_OK);
	assert_int_equal(f->cnt.calls, 1);
	assert_non_null(out);
	assert_int_equal(out->len, HSM_KEY_LEN);
	assert_true(secure_equal(out->data, f->part->data, HSM_KEY_LEN));
	assert_memory_equal(got, f->kpvp, HSM_VP_LEN);
	secbuf_free(&out);
	free(env);
}

static void
test_largest_envelope_fits_a_data_object(void **state)
{
	struct fx *f = *state;
	char id[ENVELOPE_ID_MAX + 1];
	uint8_t *env = NULL;
	size_t len = 0;
	hsm_secbuf *out = NULL;

	memset(id, 'x', ENVELOPE_ID_MAX);
	id[ENVELOPE_ID_MAX] = '\0';
	assert_int_equal(envelope_seal(f->part, f->card, id, id, f->kpvp, &env, &len), HSM_OK);
	assert_int_equal(len, ENVELOPE_MAX_LEN);
	assert_true(len < 1024);
	assert_int_equal(envelope_open(env, len, f->ka, id, id, &out, NULL), HSM_OK);
	secbuf_free(&out);
	free(env);
}

static void
test_wrong_card_refused_before_card_is_used(void **state)
{
	struct fx *f = *state;
	uint8_t *env = NULL;
	size_t len = 0;
	hsm_secbuf *out = NULL;

	seal(f, &env, &len);
	f->cnt_other.calls = 0;
	assert_int_equal(envelope_open(env, len, f->ka_other, "card-b2", "part-1", &out, NULL),
	                 HSM_ERR_VERIFY);
	assert_null(out);
	assert_int_equal(f->cnt_other.calls, 0);
	assert_non_null(strstr(hsm_errmsg(), "sealed for card card-a1, not for card card-b2"));

	/* Same card id claimed, but another 9D key (e.g. a re-initialized card):
	 * the tag fails. */
	assert_int_equal(envelope_open(env, len, f->ka_other, "card-a1", "part-1", &out, NULL),
	                 HSM_ERR_VERIFY);
	assert_null(out);
	assert_int_equal(f->cnt_other.calls, 1);
	assert_non_null(strstr(hsm_errmsg(), "does not open"));
	free(env);
}

static void
test_wrong_part_refused(void **state)
{
	struct fx *f = *state;
	uint8_t *env = NULL;
	size_t len = 0;
	hsm_secbuf *out = NULL;

	seal(f, &env, &len);
	f->cnt.calls = 0;
	assert_int_equal(envelope_open(env, len, f->ka, "card-a1", "part-2", &out, NULL),
	                 HSM_ERR_VERIFY);
	assert_null(out);
	assert_int_equal(f->cnt.calls, 0);
	assert_non_null(strstr(hsm_errmsg(), "holds part part-1, not part part-2"));
	free(env);
}

static void
test_every_flipped_bit_is_refused(void **state)
{
	struct fx *f = *state;
	uint8_t *env = NULL;
	size_t len = 0;
	hsm_secbuf *out = NULL;
	envelope_info info;

	seal(f, &env, &len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			hsm_rc rc;

			env[i] ^= (uint8_t)(1u << bit);
			rc = envelope_open(env, len, f->ka, "card-a1", "part-1", &out, NULL);
			assert_int_not_equal(rc, HSM_OK);
			assert_true(rc == HSM_ERR_VERIFY || rc == HSM_ERR_FORMAT);
			assert_null(out);
			env[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* A changed KPVP still parses (it is public) but never opens. */
	env[4 + 1 + 1 + 7 + 1 + 6] ^= 0x80;
	assert_int_equal(envelope_parse(env, len, &info), HSM_OK);
	assert_int_equal(envelope_open(env, len, f->ka, "card-a1", "part-1", &out, NULL),
	                 HSM_ERR_VERIFY);
	free(env);
}

static void
test_malformed_input(void **state)
{
	struct fx *f = *state;
	uint8_t *env = NULL, big[ENVELOPE_MAX_LEN + 2];
	size_t len = 0;
	envelope_info info;

	seal(f, &env, &len);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(envelope_parse(env, n, &info), HSM_ERR_FORMAT);
	memset(big, 0, sizeof(big));
	memcpy(big, env, len);
	assert_int_equal(envelope_parse(big, len + 1, &info), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "unexpected bytes"));
	assert_int_equal(envelope_parse(big, sizeof(big), &info), HSM_ERR_FORMAT);

	memcpy(big, env, len);
	big[0] = 'X';
	assert_int_equal(envelope_parse(big, len, &info), HSM_ERR_FORMAT);
	memcpy(big, env, len);
	big[4] = 2;
	assert_int_equal(envelope_parse(big, len, &info), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "version 2"));
	memcpy(big, env, len);
	big[5] = 0;                        /* empty card id */
	assert_int_equal(envelope_parse(big, len, &info), HSM_ERR_FORMAT);
	memcpy(big, env, len);
	big[5] = ENVELOPE_ID_MAX + 1;      /* too long */
	assert_int_equal(envelope_parse(big, len, &info), HSM_ERR_FORMAT);
	memcpy(big, env, len);
	big[6] = ' ';                      /* space in card id */
	assert_int_equal(envelope_parse(big, len, &info), HSM_ERR_FORMAT);
	memcpy(big, env, len);
	big[4 + 1 + 1 + 7 + 1 + 6 + HSM_VP_LEN] = 0x02;   /* compressed point prefix */
	assert_int_equal(envelope_parse(big, len, &info), HSM_ERR_FORMAT);
	assert_int_equal(envelope_parse(NULL, 0, &info), HSM_ERR_USAGE);
	free(env);
}

static void
test_seal_refuses_bad_arguments(void **state)
{
	struct fx *f = *state;
	uint8_t *env = NULL, badvp[HSM_VP_LEN];
	size_t len = 0;
	EVP_PKEY *p256 = NULL;
	hsm_secbuf *short_part = NULL;

	memcpy(badvp, f->kpvp, HSM_VP_LEN);
	badvp[0] ^= 1;
	assert_int_equal(envelope_seal(f->part, f->card, "c", "p", badvp, &env, &len),
	                 HSM_ERR_VERIFY);
	assert_null(env);
	assert_int_equal(envelope_seal(f->part, f->card, "", "p", f->kpvp, &env, &len),
	                 HSM_ERR_USAGE);
	assert_int_equal(envelope_seal(f->part, f->card, "c", "p q", f->kpvp, &env, &len),
	                 HSM_ERR_USAGE);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &p256), HSM_OK);
	assert_int_equal(envelope_seal(f->part, p256, "c", "p", f->kpvp, &env, &len),
	                 HSM_ERR_USAGE);
	EVP_PKEY_free(p256);
	assert_int_equal(secbuf_from(f->part->data, 16, &short_part), HSM_OK);
	assert_int_equal(envelope_seal(short_part, f->card, "c", "p", f->kpvp, &env, &len),
	                 HSM_ERR_USAGE);
	secbuf_free(&short_part);
	assert_null(env);
	assert_int_equal(len, 0);
}

/* A sealer that lies about the pattern: built by hand with the same
 * primitives, so that its tag is valid. Opening must still refuse it. */
static void
test_forged_pattern_refused_after_opening(void **state)
{
	struct fx *f = *state;
	static const char label[] = "hsmadm envelope v1";
	uint8_t env[ENVELOPE_MAX_LEN], info[128], key[32], *pt = NULL;
	size_t off = 0, hdr, ptlen = 0;
	EVP_PKEY *eph = NULL;
	hsm_secbuf *shared = NULL, *out = NULL;

	memcpy(env, "HKPE\x01", 5);
	off = 5;
	env[off++] = 7;
	memcpy(env + off, "card-a1", 7);
	off += 7;
	env[off++] = 6;
	memcpy(env + off, "part-1", 6);
	off += 6;
	memset(env + off, 0xEE, HSM_VP_LEN);     /* not the part's pattern */
	off += HSM_VP_LEN;
	hdr = off;
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &eph), HSM_OK);
	assert_int_equal(crypto_ec_point(eph, &pt, &ptlen), HSM_OK);
	assert_int_equal(ptlen, 97);
	memcpy(env + off, pt, 97);
	assert_int_equal(crypto_ecdh(eph, f->card, &shared), HSM_OK);
	memcpy(info, label, sizeof(label) - 1);
	memcpy(info + sizeof(label) - 1, env, hdr);
	assert_int_equal(crypto_hkdf(HSM_MD_SHA384, env + off, 97, shared->data, shared->len,
	                             info, sizeof(label) - 1 + hdr, key, 32), HSM_OK);
	memset(env + off + 97, 0x01, 12);
	assert_int_equal(crypto_gcm_seal(key, env + off + 97, env, hdr, f->part->data, 32,
	                                 env + off + 97 + 12, env + off + 97 + 12 + 32), HSM_OK);
	off += 97 + 12 + 32 + 16;

	assert_int_equal(envelope_open(env, off, f->ka, "card-a1", "part-1", &out, NULL),
	                 HSM_ERR_VERIFY);
	assert_null(out);
	assert_non_null(strstr(hsm_errmsg(), "does not match the KPVP"));
	secbuf_free(&shared);
	EVP_PKEY_free(eph);
	free(pt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_largest_envelope_fits_a_data_object),
		cmocka_unit_test(test_wrong_card_refused_before_card_is_used),
		cmocka_unit_test(test_wrong_part_refused),
		cmocka_unit_test(test_every_flipped_bit_is_refused),
		cmocka_unit_test(test_malformed_input),
		cmocka_unit_test(test_seal_refuses_bad_arguments),
		cmocka_unit_test(test_forged_pattern_refused_after_opening),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
