/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_quorum.c - the loop that collects administrator signatures until
 * every targeted member would accept a command (ops/quorum.c), over two
 * members whose domain states come from the test driver (fake_group.h):
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

#include "hsmadm/quorum.h"
#include "fake_group.h"

enum { ALICE = FG_ALICE, BOB = FG_BOB, CAROL = FG_CAROL, MALLORY = FG_MALLORY };

struct fx {
	struct fake_group g;
	char              log[600];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fg_setup(&f->g, "quorum");
	snprintf(f->log, sizeof(f->log), "%s/ev.jsonl", f->g.dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->g.applies, 0);
	fg_teardown(&f->g);
	free(f);
	return 0;
}

/* admin.add of Newbie for both members at their counters. */
static admincmd *
propose(struct fx *f)
{
	admincmd *c = NULL;
	json_t *p = fg_add_newbie(&f->g);

	assert_int_equal(group_propose(f->g.m, 2, ADMINCMD_OP_ADMIN_ADD, p, (int64_t)time(NULL),
	                               600, &c), HSM_OK);
	json_decref(p);
	return c;
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
	signers *src = fg_signers(&f->g, who);
	struct quorum_io io = { fg_say, &f->g, NULL };
	struct quorum_first first;
	admincmd *c = propose(f);
	char logged[4][32];

	assert_int_equal(evlog_open(f->log, NULL, &io.log), HSM_OK);
	assert_int_equal(quorum_collect(f->g.m, 2, c, src, &io, &first), HSM_OK);
	assert_int_equal(admincmd_nsigs(c), 2);
	fg_said_at(&f->g, 0, "not an administrator of every domain concerned; not used");
	assert_non_null(strstr(f->g.said[0], f->g.key[MALLORY]));
	fg_said_at(&f->g, 1, "not an administrator of every domain concerned; not used");
	assert_non_null(strstr(f->g.said[1], f->g.key[CAROL]));
	fg_said_at(&f->g, 2, "Signed by Alice.");
	fg_said_at(&f->g, 3, "Alice has signed this command already");
	fg_said_at(&f->g, 4, "Signed by Bob.");
	assert_int_equal(f->g.nsaid, 5);   /* the last Mallory was never needed */
	assert_true(first.set);
	assert_string_equal(first.name, "Alice");
	assert_int_equal(strlen(first.ski), 2 * HSM_SKI_LEN);
	assert_int_equal(group_preflight(f->g.m, 2, c, (int64_t)time(NULL), NULL), HSM_OK);
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
	signers *src = fg_signers(&f->g, who);
	struct quorum_io io = { fg_say, &f->g, NULL };
	struct quorum_first first;
	admincmd *c = propose(f);

	assert_int_equal(quorum_collect(f->g.m, 2, c, src, &io, &first), HSM_ERR_QUORUM);
	assert_non_null(strstr(hsm_errmsg(), "1 more signature(s) needed"));
	assert_non_null(strstr(hsm_errmsg(), ADMINCMD_OP_ADMIN_ADD));
	assert_int_equal(admincmd_nsigs(c), 1);
	assert_true(first.set);
	assert_string_equal(first.name, "Alice");
	signers_free(&src);
	admincmd_free(&c);
	/* no signer at all: both missing; no io, no first */
	src = fg_signers(&f->g, (const int[]){ -1 });
	c = propose(f);
	assert_int_equal(quorum_collect(f->g.m, 2, c, src, NULL, NULL), HSM_ERR_QUORUM);
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
	signers *pre = fg_signers(&f->g, who), *src = fg_signers(&f->g, (const int[]){ MALLORY, -1 });
	struct quorum_io io = { fg_say, &f->g, NULL };
	struct quorum_first first;
	admincmd *c = propose(f);

	assert_int_equal(quorum_collect(f->g.m, 2, c, pre, NULL, NULL), HSM_OK);
	assert_int_equal(quorum_collect(f->g.m, 2, c, src, &io, &first), HSM_OK);
	assert_false(first.set);
	assert_int_equal(f->g.nsaid, 0);
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
	signers *src = fg_signers(&f->g, who);
	struct quorum_io io = { fg_say, &f->g, NULL };
	admincmd *c = propose(f);
	hsm_rc rc;

	fg_members(&f->g, 8, 2, 0);
	rc = quorum_collect(f->g.m, 2, c, src, &io, NULL);
	assert_int_equal(rc, HSM_ERR_REPLAY);
	assert_non_null(strstr(hsm_errmsg(), "expects counter 7 but the domain is at 8"));
	/* The member is named once, though its reason names it already. */
	{
		const char *m = strstr(hsm_errmsg(), "module ");
		assert_non_null(m);
		assert_null(strstr(m + 1, "module "));
	}
	assert_int_equal(admincmd_nsigs(c), 0);
	assert_int_equal(f->g.nsaid, 0);
	signers_free(&src);
	admincmd_free(&c);
}

static void
test_sayf(void **state)
{
	struct fx *f = *state;
	char big[2000];

	quorum_sayf(fg_say, &f->g, "%d of %s", 2, "3");
	quorum_sayf(NULL, &f->g, "not said");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	quorum_sayf(fg_say, &f->g, "%s", big);     /* cut, not overflowed */
	assert_int_equal(f->g.nsaid, 2);
	assert_string_equal(f->g.said[0], "2 of 3");
	assert_true(strlen(f->g.said[1]) > 0 && strlen(f->g.said[1]) < sizeof(big) - 1);
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
