/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_groupcmd.c - one administrator command from proposal to sending
 * (ops/groupcmd.c), over two members that answer from the test driver
 * (fake_group.h) and refuse every command sent to them: the command is
 * announced with its digest and words; with no signers it stops at the
 * quorum saying how many signatures are missing (singular and plural) and
 * sends nothing; a proposal that cannot be made (unknown op, no members)
 * stops before anything is said or sent; a signed command for members
 * that differ is not sent; one for members configured the same is sent,
 * to the first member only once it refuses, and that refusal is the
 * result, with the report. test_submit.c runs the same against the emulator's
 * real module logic, where the command is applied.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/groupcmd.h"
#include "fake_group.h"

static int
setup(void **state)
{
	struct fake_group *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	fg_setup(g, "groupcmd");
	*state = g;
	return 0;
}

static int
teardown(void **state)
{
	struct fake_group *g = *state;

	fg_teardown(g);
	free(g);
	return 0;
}

static hsm_rc
run(struct fake_group *g, size_t n, const char *op, const struct groupcmd_io *io,
    group_report **rep)
{
	json_t *p = fg_add_newbie(g);
	hsm_rc rc = groupcmd_run(g->m, n, op, p, "Add Newbie", 0, io, rep);

	json_decref(p);
	return rc;
}

static void
test_no_signers(void **state)
{
	struct fake_group *g = *state;
	struct groupcmd_io io = { NULL, NULL, fg_say, g };
	group_report *rep = (group_report *)g;

	assert_int_equal(run(g, 2, ADMINCMD_OP_ADMIN_ADD, &io, &rep), HSM_ERR_QUORUM);
	assert_null(rep);
	assert_non_null(strstr(hsm_errmsg(), "admin.add needs 2 more administrator signatures"));
	assert_int_equal(g->nsaid, 1);
	fg_said_at(g, 0, "Add Newbie: command admin.add on 2 domains; digest ");
	/* no io at all: the same refusal, nothing said */
	assert_int_equal(run(g, 2, ADMINCMD_OP_ADMIN_ADD, NULL, NULL), HSM_ERR_QUORUM);
	assert_int_equal(g->nsaid, 1);
	/* one signature needed: said in the singular; one member: one domain */
	fg_members(g, 7, 1, 0);
	assert_int_equal(run(g, 1, ADMINCMD_OP_ADMIN_ADD, &io, &rep), HSM_ERR_QUORUM);
	assert_non_null(strstr(hsm_errmsg(), "admin.add needs 1 more administrator signature"));
	assert_null(strstr(hsm_errmsg(), "signatures"));
	fg_said_at(g, 1, "Add Newbie: command admin.add on 1 domain; digest ");
	assert_int_equal(g->applies, 0);
}

/* The announcement shows the first 16 hex digits of the digest, then the
 * words that people compare, in parentheses. */
static void
test_announcement(void **state)
{
	struct fake_group *g = *state;
	struct groupcmd_io io = { NULL, NULL, fg_say, g };
	const char *d;
	size_t i;

	assert_int_equal(run(g, 2, ADMINCMD_OP_ADMIN_ADD, &io, NULL), HSM_ERR_QUORUM);
	d = strstr(g->said[0], "digest ");
	assert_non_null(d);
	d += strlen("digest ");
	for (i = 0; i < 16; i++)
		assert_non_null(strchr("0123456789abcdef", d[i]));
	assert_memory_equal(d + 16, "... (", 5);
	assert_int_equal(g->said[0][strlen(g->said[0]) - 1], ')');
}

static void
test_bad_proposal(void **state)
{
	struct fake_group *g = *state;
	const int who[] = { FG_ALICE, FG_BOB, -1 };
	signers *src = fg_signers(g, who);
	struct groupcmd_io io = { src, NULL, fg_say, g };
	group_report *rep = (group_report *)g;

	assert_int_not_equal(run(g, 2, "admin.frobnicate", &io, &rep), HSM_OK);
	assert_null(rep);
	assert_int_equal(run(g, 0, ADMINCMD_OP_ADMIN_ADD, &io, &rep), HSM_ERR_USAGE);
	assert_null(rep);
	/* nothing said, no signer asked, nothing sent */
	assert_int_equal(g->nsaid, 0);
	assert_int_equal(g->applies, 0);
	signers_free(&src);
}

/* Signed by Alice and Bob (Mallory passed over); the members differ in
 * their admins (Carol), so the command is not sent: refused as a whole,
 * with the report saying so. */
static void
test_members_differ(void **state)
{
	struct fake_group *g = *state;
	const int who[] = { FG_MALLORY, FG_ALICE, FG_BOB, -1 };
	signers *src = fg_signers(g, who);
	struct groupcmd_io io = { src, NULL, fg_say, g };
	group_report *rep = NULL;

	assert_int_equal(run(g, 2, ADMINCMD_OP_ADMIN_ADD, &io, &rep), HSM_ERR_STATE);
	assert_non_null(strstr(hsm_errmsg(), "not configured the same"));
	assert_non_null(rep);
	assert_string_equal(rep->outcome, "refused");
	assert_int_equal(g->applies, 0);
	fg_said_at(g, 0, "Add Newbie: command admin.add on 2 domains");
	fg_said_at(g, 1, "not an administrator of every domain concerned");
	fg_said_at(g, 2, "Signed by Alice.");
	fg_said_at(g, 3, "Signed by Bob.");
	group_report_free(&rep);
	signers_free(&src);
}

/* Members configured the same: signed, then sent; the members refuse it,
 * and their refusal is the result. */
static void
test_signed_and_sent(void **state)
{
	struct fake_group *g = *state;
	const int who[] = { FG_CAROL, FG_BOB, -1 };
	signers *src = fg_signers(g, who);
	struct groupcmd_io io = { src, NULL, fg_say, g };
	group_report *rep = NULL;

	fg_members(g, 7, 2, 1);
	assert_int_equal(run(g, 2, ADMINCMD_OP_ADMIN_ADD, &io, &rep), HSM_ERR_REFUSED);
	assert_non_null(strstr(hsm_errmsg(), "the test driver applies nothing"));
	/* the first member refused: the second was never sent it */
	assert_int_equal(g->applies, 1);
	assert_non_null(rep);
	assert_string_equal(rep->outcome, "failed");
	fg_said_at(g, 1, "Signed by Carol.");
	fg_said_at(g, 2, "Signed by Bob.");
	group_report_free(&rep);
	signers_free(&src);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_signers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_announcement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_proposal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_members_differ, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signed_and_sent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
