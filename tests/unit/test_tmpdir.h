/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_tmpdir.h - a private scratch directory for a unit test (under
 * $TMPDIR or /tmp, so tests run in parallel), removed with everything in it.
 * Header-only: include it after <cmocka.h>.
 */
#ifndef HSMADM_TEST_TMPDIR_H
#define HSMADM_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

/* A new directory named after the test (malloc'ed; free with rm_tmpdir). */
static inline char *
make_tmpdir_named(const char *test)
{
	const char *base = getenv("TMPDIR");
	char *d = malloc(512);

	assert_non_null(d);
	snprintf(d, 512, "%s/hsmadm-%s-XXXXXX", base && *base ? base : "/tmp", test);
	assert_non_null(mkdtemp(d));
	return d;
}

static inline void
rm_tmpdir(char *d)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

/* cmocka fixtures for tests that each want a fresh scratch directory as
 * *state. */
static inline int
tmpdir_setup(void **state)
{
	*state = make_tmpdir_named("unit");
	return 0;
}

static inline int
tmpdir_teardown(void **state)
{
	rm_tmpdir(*state);
	return 0;
}

#endif
