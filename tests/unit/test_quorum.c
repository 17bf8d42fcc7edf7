/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_quorum.c - the loop that collects administrator signatures until
 * every targeted member would accept a command (ops/quorum.c), over two
 * members whose domain states come from the test driver (fake_moddrv.h):
 * Alice and Bob administer both, Carol only the first, Mallory neither;
 * two signatures are needed. Checked: strangers and half-administrators
 * are not used, a second signature of the same key is not counted, the
 * signatures are recorded in the log as they are made, the first signer is
 * reported, a command that already has its quorum asks no one, running
 * out of signers is HSM_ERR_QUORUM naming how many are missing, a command
 * the members would refuse for another reason (counter) is refused before
 * any signer is asked, and nothing is ever applied.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/quorum.h"
#include "fake_moddrv.h"
#include "test_tmpdir.h"

enum { ALICE, BOB, CAROL, MALLORY, NEWBIE, NPEOPLE };
static const char *const names[NPEOPLE] = { "Alice", "Bob", "Carol", "Mallory", "Newbie" };

struct fx {
	char        *dir;
	char         key[NPEOPLE][600], log[600];
	char        *pubhex[NPEOPLE];
	group_member m[2];
	unsigned     applies;
	char        *said[32];
	size_t       nsaid;
};

static void
keep_line(void *ctx, const char *line)
{
	struct fx *f = ctx;

	if (f->nsaid < 32)
		f->said[f->nsaid++] = strdup(line);
}

/* The line said n-th (0-based) contains text. */
static void
said_at(const struct fx *f, size_t n, const char *text)
{
	if (n >= f->nsaid || strstr(f->said[n], text) == NULL)
		fail_msg("line %zu is \"%s\", not \"%s\"", n, n < f->nsaid ? f->said[n] : "(none)",
		         text);
}

static json_t *
admin_json(const struct fx *f, int who)
{
	EVP_PKEY *k = NULL;
	uint8_t ski[HSM_SKI_LEN];
	char skihex[2 * HSM_SKI_LEN + 1];

	assert_int_equal(crypto_priv_load_pem(f->key[who], &k), HSM_OK);
	assert_int_equal(crypto_ski(k, ski), HSM_OK);
	EVP_PKEY_free(k);
	hex_encode_buf(ski, HSM_SKI_LEN, skihex);
	return json_pack("{s:s, s:s, s:s, s:s}", "ski", skihex, "name", names[who],
	                 "identity", names[who], "pubkey", f->pubhex[who]);
}

/* A domain state at counter with the admins in mask (bit per person). */
static json_t *
state_of(const struct fx *f, const char *module, unsigned mask, long long counter)
{
	json_t *admins = json_array();
	char digest[65];
	int i;

	for (i = 0; i < NPEOPLE; i++)
		if (mask & (1u << i))
			json_array_append_new(admins, admin_json(f, i));
	memset(digest, '0', 64);
	digest[64] = '\0';
	return json_pack("{s:s, s:i, s:I, s:o, s:{s:i, s:i}, s:b, s:s, s:{s:{s:s}, s:{s:s}, "
	    "s:{s:s}}}", "module", module, "domain", 3, "counter", (json_int_t)counter,
	    "admins", admins, "thresholds", "signature", 2, "revocation", 2, "imprint", 0,
	    "state_digest", digest, "registers", "current", "state", "empty", "pending",
	    "state", "empty", "old", "state", "empty");
}

static void
open_members(struct fx *f, long long counter)
{
	static const char *const mods[2] = { "DC1-M01", "DC2-M01" };
	const unsigned masks[2] = { 1u << ALICE | 1u << BOB | 1u << CAROL,
	                            1u << ALICE | 1u << BOB };

	for (int i = 0; i < 2; i++) {
		moddrv_free(&f->m[i].drv);
		f->m[i].module = mods[i];
		f->m[i].domain = 3;
		assert_int_equal(fake_moddrv_open(mods[i], state_of(f, mods[i], masks[i], counter),
		                                  &f->applies, &f->m[i].drv), HSM_OK);
	}
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = make_tmpdir_named("quorum");
	for (int i = 0; i < NPEOPLE; i++) {
		EVP_PKEY *k = NULL;
		uint8_t *pt = NULL;
		size_t n = 0;
		snprintf(f->key[i], sizeof(f->key[i]), "%s/%s.pem", f->dir, names[i]);
		assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
		assert_int_equal(crypto_priv_save_pem(f->key[i], k), HSM_OK);
		assert_int_equal(crypto_ec_point(k, &pt, &n), HSM_OK);
		assert_int_equal(hex_encode(pt, n, &f->pubhex[i]), HSM_OK);
		free(pt);
		EVP_PKEY_free(k);
	}
	snprintf(f->log, sizeof(f->log), "%s/ev.jsonl", f->dir);
	open_members(f, 7);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->applies, 0);
	for (int i = 0; i < 2; i++)
		moddrv_free(&f->m[i].drv);
	for (int i = 0; i < NPEOPLE; i++)
		free(f->pubhex[i]);
	for (size_t i = 0; i < f->nsaid; i++)
		free(f->said[i]);
	rm_tmpdir(f->dir);
	free(f);
	return 0;
}

/* admin.add of Newbie for both members at their counters. */
static admincmd *
propose(struct fx *f)
{
	admincmd *c = NULL;
	json_t *p = json_pack("{s:s, s:s, s:s}", "pubkey", f->pubhex[NEWBIE], "name", "Newbie",
	                      "identity", "newbie");

	assert_int_equal(group_propose(f->m, 2, ADMINCMD_OP_ADMIN_ADD, p, (int64_t)time(NULL),
	                               600, &c), HSM_OK);
	json_decref(p);
	return c;
}

/* Signers from the key files of the people listed (-1 ends the list). */
static signers *
key_signers(const struct fx *f, const int *who)
{
	const char *keys[8];
	struct signers_opts so;
	signers *s = NULL;
	size_t n = 0;

	while (who[n] >= 0 && n < 8) {
		keys[n] = f->key[who[n]];
		n++;
	}
	memset(&so, 0, sizeof(so));
	so.key_files = keys;
	so.nkeys = n;
	so.pin_fd = so.enter_fd = -1;
	assert_int_equal(signers_new(&so, &s), HSM_OK);
	return s;
}

/* The actor names of the log's command.signed records, in order. */
static size_t
signed_in_log(const char *path, char out[][32], size_t max)
{
	evlog_reader *r = NULL;
	evlog_record rec;
	size_t n = 0;

	memset(&rec, 0, sizeof(rec));
	assert_int_equal(evlog_reader_open(path, &r), HSM_OK);
	while (evlog_reader_next(r, &rec) == HSM_OK)
		if (strcmp(rec.type, EV_COMMAND_SIGNED) == 0 && n < max)
			snprintf(out[n++], 32, "%s",
			         json_string_value(json_object_get(rec.actor, "name")));
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	return n;
}

static void
test_collects_from_admins_only(void **state)
{
	struct fx *f = *state;
	const int who[] = { MALLORY, CAROL, ALICE, ALICE, BOB, MALLORY, -1 };
	signers *src = key_signers(f, who);
	struct quorum_io io = { keep_line, f, NULL };
	struct quorum_first first;
	admincmd *c = propose(f);
	char logged[4][32];

	assert_int_equal(evlog_open(f->log, NULL, &io.log), HSM_OK);
	assert_int_equal(quorum_collect(f->m, 2, c, src, &io, &first), HSM_OK);
	assert_int_equal(admincmd_nsigs(c), 2);
	said_at(f, 0, "not an administrator of every domain concerned; not used");
	assert_non_null(strstr(f->said[0], f->key[MALLORY]));
	said_at(f, 1, "not an administrator of every domain concerned; not used");
	assert_non_null(strstr(f->said[1], f->key[CAROL]));
	said_at(f, 2, "Signed by Alice.");
	said_at(f, 3, "Alice has signed this command already");
	said_at(f, 4, "Signed by Bob.");
	assert_int_equal(f->nsaid, 5);   /* the last Mallory was never needed */
	assert_true(first.set);
	assert_string_equal(first.name, "Alice");
	assert_int_equal(strlen(first.ski), 2 * HSM_SKI_LEN);
	assert_int_equal(group_preflight(f->m, 2, c, (int64_t)time(NULL), NULL), HSM_OK);
	evlog_close(&io.log);
	assert_int_equal(signed_in_log(f->log, logged, 4), 2);
	assert_string_equal(logged[0], "Alice");
	assert_string_equal(logged[1], "Bob");
	signers_free(&src);
	admincmd_free(&c);
}

static void
test_runs_out(void **state)
{
	struct fx *f = *state;
	const int who[] = { CAROL, ALICE, -1 };
	signers *src = key_signers(f, who);
	struct quorum_io io = { keep_line, f, NULL };
	struct quorum_first first;
	admincmd *c = propose(f);

	assert_int_equal(quorum_collect(f->m, 2, c, src, &io, &first), HSM_ERR_QUORUM);
	assert_non_null(strstr(hsm_errmsg(), "1 more signature(s) needed"));
	assert_non_null(strstr(hsm_errmsg(), ADMINCMD_OP_ADMIN_ADD));
	assert_int_equal(admincmd_nsigs(c), 1);
	assert_true(first.set);
	assert_string_equal(first.name, "Alice");
	signers_free(&src);
	admincmd_free(&c);
	/* no signer at all: both missing; no io, no first */
	src = key_signers(f, (const int[]){ -1 });
	c = propose(f);
	assert_int_equal(quorum_collect(f->m, 2, c, src, NULL, NULL), HSM_ERR_QUORUM);
	assert_non_null(strstr(hsm_errmsg(), "2 more signature(s) needed"));
	assert_int_equal(admincmd_nsigs(c), 0);
	signers_free(&src);
	admincmd_free(&c);
}

/* A command signed beforehand needs no one; the signers are not asked. */
static void
test_already_signed(void **state)
{
	struct fx *f = *state;
	const int who[] = { ALICE, BOB, -1 };
	signers *pre = key_signers(f, who), *src = key_signers(f, (const int[]){ MALLORY, -1 });
	struct quorum_io io = { keep_line, f, NULL };
	struct quorum_first first;
	admincmd *c = propose(f);

	assert_int_equal(quorum_collect(f->m, 2, c, pre, NULL, NULL), HSM_OK);
	assert_int_equal(quorum_collect(f->m, 2, c, src, &io, &first), HSM_OK);
	assert_false(first.set);
	assert_int_equal(f->nsaid, 0);
	assert_int_equal(admincmd_nsigs(c), 2);
	signers_free(&pre);
	signers_free(&src);
	admincmd_free(&c);
}

/* The members moved on (counter 8): no signature can make them accept the
 * command, so none is asked for and the refusal is the members'. */
static void
test_refused_otherwise(void **state)
{
	struct fx *f = *state;
	const int who[] = { ALICE, BOB, -1 };
	signers *src = key_signers(f, who);
	struct quorum_io io = { keep_line, f, NULL };
	admincmd *c = propose(f);
	hsm_rc rc;

	open_members(f, 8);
	rc = quorum_collect(f->m, 2, c, src, &io, NULL);
	assert_int_equal(rc, HSM_ERR_REPLAY);
	assert_non_null(strstr(hsm_errmsg(), "expects counter 7 but the domain is at 8"));
	assert_int_equal(admincmd_nsigs(c), 0);
	assert_int_equal(f->nsaid, 0);
	signers_free(&src);
	admincmd_free(&c);
}

static void
test_sayf(void **state)
{
	struct fx *f = *state;
	char big[2000];

	quorum_sayf(keep_line, f, "%d of %s", 2, "3");
	quorum_sayf(NULL, f, "not said");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	quorum_sayf(keep_line, f, "%s", big);     /* cut, not overflowed */
	assert_int_equal(f->nsaid, 2);
	assert_string_equal(f->said[0], "2 of 3");
	assert_true(strlen(f->said[1]) > 0 && strlen(f->said[1]) < sizeof(big) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_collects_from_admins_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_already_signed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_otherwise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sayf, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
