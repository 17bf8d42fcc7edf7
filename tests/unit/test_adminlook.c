/* SPDX-License-Identifier: BSD-2-Clause */
/* test_adminlook.c - names and identities that look alike (ops/adminlook.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/adminlook.h"

static void
test_alike(void **unused)
{
	(void)unused;
	assert_true(adminlook_alike("Admin 1", "admin1"));
	assert_true(adminlook_alike("Alice Smith", "Alice Smyth"));
	assert_true(adminlook_alike("Bob", "bob"));
	assert_false(adminlook_alike("Bob", "Rob"));         /* short: only exact folds */
	assert_false(adminlook_alike("Admin 1", "Admin 2")); /* numbered apart */
	assert_false(adminlook_alike("bench0", "bench1"));
	assert_true(adminlook_alike("Admin 12", "Admn 12")); /* same number, a typo */
	assert_false(adminlook_alike("Alice Smith", "Carol Jones"));
	assert_false(adminlook_alike("", "admin"));
	assert_false(adminlook_alike(NULL, "admin"));
}

static json_t *
state(void)
{
	return json_pack("{s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "admins",
	    "ski", "aa", "name", "Admin 1", "identity", "4f2a9c01",
	    "ski", "bb", "name", "Bob Jones", "identity", "b7e31d58");
}

static void
test_similar(void **unused)
{
	json_t *st[2] = { state(), state() };   /* a pair: the same admins twice */
	char out[1024];

	(void)unused;
	/* a second "Admin 1" under another identity: said once for the pair */
	assert_int_equal(adminlook_similar(st, 2, "admin1", "0c6d77e2", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "looks like \"Admin 1\""));
	/* a new name under a registered identity */
	assert_int_equal(adminlook_similar(st, 2, "Robert", "b7e31d58", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "already registered as \"Bob Jones\""));
	/* the same person's backup card: same name, same identity: nothing to say */
	assert_int_equal(adminlook_similar(st, 2, "Bob Jones", "b7e31d58", out, sizeof(out)), 0);
	/* an identity one edit away from another, same digits */
	assert_int_equal(adminlook_similar(st, 2, "Carol", "4f2a9d01", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "identity \"4f2a9d01\" looks like \"4f2a9c01\""));
	/* nobody alike */
	assert_int_equal(adminlook_similar(st, 2, "Zed Quentin", "zq-personnel-77", out,
	                 sizeof(out)), 0);
	assert_string_equal(out, "");
	/* a short buffer is cut, not overrun */
	assert_int_equal(adminlook_similar(st, 2, "admin1", "0c6d77e2", out, 8), 1);
	assert_int_equal(strlen(out), 7);
	json_decref(st[0]);
	json_decref(st[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alike),
		cmocka_unit_test(test_similar),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
