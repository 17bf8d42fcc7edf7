/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evpar.c - the verifier's signature checks on worker threads
 * (evidence/evpar.c, ev_sigpool_* in evint.h): many more checks than the
 * window holds all verify; a forged signature, a wrong key and a signature
 * that is not DER are failures; the failure reported is the first in
 * submission order with its seq, message and counters even when a later
 * one finishes first; a job owns its signature and copies its message and
 * key reference (the caller may free or reuse them at once); a pool freed
 * with checks still queued frees them (ASan's leak check covers that).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "hsmadm/crypto.h"
#include "evint.h"

static EVP_PKEY *alice, *bob;

static int
setup_all(void **state)
{
	(void)state;
	return crypto_ec_generate(HSM_CURVE_P256, &alice) == HSM_OK &&
	       crypto_ec_generate(HSM_CURVE_P384, &bob) == HSM_OK ? 0 : -1;
}

static int
teardown_all(void **state)
{
	(void)state;
	EVP_PKEY_free(alice);
	EVP_PKEY_free(bob);
	return 0;
}

enum how { GOOD, FORGED, WRONG_KEY, NOT_DER };

/* Submit one check of msg for seq; the snapshot's records counter is seq so
 * that the reported snapshot can be told apart. The caller's message buffer
 * is overwritten after the submit: the job must have its own copy. */
static void
submit(struct ev_sigpool *p, long long seq, char *msg, size_t len, enum how how)
{
	struct ev_sigsnap snap;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	char what[64];

	memset(&snap, 0, sizeof(snap));
	snap.records = seq;
	snap.head_seq = seq - 1;
	snprintf(snap.head_hash, sizeof(snap.head_hash), "hash-%lld", seq);
	snprintf(what, sizeof(what), "record %lld: signature of the admin", seq);
	assert_int_equal(crypto_ecdsa_sign(alice, msg, len, &sig, &siglen), HSM_OK);
	if (how == FORGED)
		msg[0] ^= 1;              /* signed one thing, submitted another */
	if (how == NOT_DER)
		sig[0] = 0x31;
	assert_int_equal(ev_sigpool_submit(p, how == WRONG_KEY ? bob : alice, msg, len, sig,
	                                   siglen, seq, what, &snap), HSM_OK);
	memset(msg, 0xee, len);
}

static void
submit_n(struct ev_sigpool *p, long long from, long long to)
{
	char msg[64];
	long long s;

	for (s = from; s <= to; s++) {
		int n = snprintf(msg, sizeof(msg), "line %lld", s);
		submit(p, s, msg, (size_t)n, GOOD);
	}
}

static void
test_all_good(void **state)
{
	struct ev_sigpool *p = NULL;
	const struct ev_sigsnap *snap = NULL;
	const char *msg = NULL;
	long long seq = -1;

	(void)state;
	/* no thread or no window: refused (a division by zero, a join forever) */
	assert_int_equal(ev_sigpool_new(0, 3, &p), HSM_ERR_USAGE);
	assert_null(p);
	assert_int_equal(ev_sigpool_new(2, 0, &p), HSM_ERR_USAGE);
	assert_null(p);
	assert_int_equal(ev_sigpool_new(2, 3, &p), HSM_OK);
	assert_non_null(p);
	submit_n(p, 1, 40);           /* more than the window: submit waits */
	assert_int_equal(ev_sigpool_join(p, 1), 0);
	assert_int_equal(ev_sigpool_failure(p, &seq, &msg, &snap), 0);
	assert_int_equal(seq, -1);
	/* the pool goes on after a join */
	submit_n(p, 41, 45);
	assert_int_equal(ev_sigpool_join(p, 1), 0);
	ev_sigpool_free(&p);
	assert_null(p);
	ev_sigpool_free(&p);          /* freeing twice is harmless */
}

static void
check_first_failure(struct ev_sigpool *p, long long want)
{
	const struct ev_sigsnap *snap = NULL;
	const char *msg = NULL;
	char wantmsg[96];
	long long seq = -1;

	assert_int_equal(ev_sigpool_join(p, 1), 1);
	assert_int_equal(ev_sigpool_failure(p, &seq, &msg, &snap), 1);
	assert_int_equal(seq, want);
	snprintf(wantmsg, sizeof(wantmsg), "record %lld: signature of the admin does not verify",
	         want);
	assert_string_equal(msg, wantmsg);
	assert_non_null(snap);
	assert_int_equal(snap->records, want);
	assert_int_equal(snap->head_seq, want - 1);
	snprintf(wantmsg, sizeof(wantmsg), "hash-%lld", want);
	assert_string_equal(snap->head_hash, wantmsg);
}

static void
one_bad(int threads, size_t window, enum how how)
{
	struct ev_sigpool *p = NULL;
	char msg[16] = "line 4";

	assert_int_equal(ev_sigpool_new(threads, window, &p), HSM_OK);
	submit_n(p, 1, 3);
	submit(p, 4, msg, strlen(msg), how);
	submit_n(p, 5, 9);
	check_first_failure(p, 4);
	ev_sigpool_free(&p);
}

static void
test_one_bad(void **state)
{
	(void)state;
	one_bad(2, 4, FORGED);
	one_bad(3, 2, WRONG_KEY);
	one_bad(2, 16, NOT_DER);
	one_bad(1, 1, FORGED);
}

/* The first bad check is a slow one (a large message to hash), the second a
 * quick one submitted right after it: the report still names the first. */
static void
test_first_in_order(void **state)
{
	struct ev_sigpool *p = NULL;
	size_t big = 8u << 20;
	char *m = malloc(big), small[16] = "quick";
	int round;

	(void)state;
	assert_non_null(m);
	for (round = 0; round < 3; round++) {
		memset(m, 'a' + round, big);
		assert_int_equal(ev_sigpool_new(4, 8, &p), HSM_OK);
		submit_n(p, 1, 2);
		submit(p, 3, m, big, FORGED);
		submit(p, 4, small, strlen(small), FORGED);
		submit_n(p, 5, 6);
		check_first_failure(p, 3);
		/* later failures do not replace the first */
		submit(p, 7, small, strlen(small), WRONG_KEY);
		check_first_failure(p, 3);
		ev_sigpool_free(&p);
	}
	free(m);
}

/* The caller drops its key reference at once, and frees the pool with
 * checks queued and unjoined: no use after free, no leak, no hang. */
static void
test_ownership(void **state)
{
	struct ev_sigpool *p = NULL;
	EVP_PKEY *k = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	struct ev_sigsnap snap;
	int i;

	(void)state;
	memset(&snap, 0, sizeof(snap));
	assert_int_equal(ev_sigpool_new(2, 8, &p), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &k), HSM_OK);
	assert_int_equal(crypto_ecdsa_sign(k, "m", 1, &sig, &siglen), HSM_OK);
	assert_int_equal(ev_sigpool_submit(p, k, "m", 1, sig, siglen, 1, "mine", &snap), HSM_OK);
	EVP_PKEY_free(k);
	assert_int_equal(ev_sigpool_join(p, 1), 0);
	/* an empty message is a message */
	assert_int_equal(crypto_ecdsa_sign(alice, "", 0, &sig, &siglen), HSM_OK);
	assert_int_equal(ev_sigpool_submit(p, alice, "", 0, sig, siglen, 2, "empty", &snap),
	                 HSM_OK);
	assert_int_equal(ev_sigpool_join(p, 1), 0);
	for (i = 0; i < 8; i++) {
		char msg[16] = "pending";
		submit(p, 10 + i, msg, strlen(msg), i % 2 ? GOOD : FORGED);
	}
	ev_sigpool_free(&p);
	assert_null(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_good),
		cmocka_unit_test(test_one_bad),
		cmocka_unit_test(test_first_in_order),
		cmocka_unit_test(test_ownership),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
