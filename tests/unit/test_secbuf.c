/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "hsmadm/secbuf.h"

static void
test_secure_init_disables_core_dumps(void **state)
{
	struct rlimit rl;

	(void)state;
	assert_int_equal(secure_init(), HSM_OK);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	assert_int_equal(rl.rlim_cur, 0);
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}

static void
test_new_is_zeroed_and_free_nulls(void **state)
{
	hsm_secbuf *sb = NULL;

	(void)state;
	assert_int_equal(secbuf_new(100, &sb), HSM_OK);
	assert_non_null(sb);
	assert_int_equal(sb->len, 0);
	for (size_t i = 0; i < sb->cap; i++)
		assert_int_equal(sb->data[i], 0);
	memset(sb->data, 0xA5, sb->cap);
	secbuf_free(&sb);
	assert_null(sb);
	secbuf_free(&sb); /* NULL-safe */
	assert_int_equal(secbuf_new(0, &sb), HSM_ERR_USAGE);
	assert_null(sb);
}

static void
test_from_and_equal(void **state)
{
	hsm_secbuf *sb = NULL;
	const uint8_t k[4] = { 1, 2, 3, 4 }, k2[4] = { 1, 2, 3, 5 };

	(void)state;
	assert_int_equal(secbuf_from(k, sizeof(k), &sb), HSM_OK);
	assert_int_equal(sb->len, 4);
	assert_true(secure_equal(sb->data, k, 4));
	assert_false(secure_equal(sb->data, k2, 4));
	secbuf_free(&sb);
}

static void
test_read_line_from_fd(void **state)
{
	int p[2];
	hsm_secbuf *sb = NULL;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "123456\nrest", 11), 11);
	close(p[1]);
	assert_int_equal(secure_read_line(NULL, p[0], 8, &sb), HSM_OK);
	assert_int_equal(sb->len, 6);
	assert_memory_equal(sb->data, "123456", 6);
	secbuf_free(&sb);
	/* "rest" without newline is still a line; then EOF cancels. */
	assert_int_equal(secure_read_line(NULL, p[0], 8, &sb), HSM_OK);
	secbuf_free(&sb);
	assert_int_equal(secure_read_line(NULL, p[0], 8, &sb), HSM_ERR_CANCELLED);
	assert_null(sb);
	close(p[0]);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "123456789\n", 10), 10);
	close(p[1]);
	assert_int_equal(secure_read_line(NULL, p[0], 8, &sb), HSM_ERR_USAGE);
	assert_null(sb);
	close(p[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secure_init_disables_core_dumps),
		cmocka_unit_test(test_new_is_zeroed_and_free_nulls),
		cmocka_unit_test(test_from_and_equal),
		cmocka_unit_test(test_read_line_from_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
