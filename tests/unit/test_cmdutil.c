/* SPDX-License-Identifier: BSD-2-Clause */
/* test_cmdutil - cmd_parse_int, cmd_parse_fd and cmd_read_text, which the
 * mains use for every numeric option and for small text files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cmdutil.h"

static void
test_parse_int(void **state)
{
	int v = -7;

	(void)state;
	assert_int_equal(cmd_parse_int("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cmd_parse_int("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(cmd_parse_int("-3", -5, 5, &v), 0);
	assert_int_equal(v, -3);
	v = 42;
	/* Every refusal leaves *v as it was. */
	assert_int_equal(cmd_parse_int("11", 0, 10, &v), -1);
	assert_int_equal(cmd_parse_int("-1", 0, 10, &v), -1);
	assert_int_equal(cmd_parse_int("", 0, 10, &v), -1);
	assert_int_equal(cmd_parse_int("5x", 0, 10, &v), -1);
	assert_int_equal(cmd_parse_int("x5", 0, 10, &v), -1);
	assert_int_equal(cmd_parse_int("99999999999999999999999", 0, 10, &v), -1);
	assert_int_equal(cmd_parse_int("99999999999999999999999", 0, 0x7fffffffL, &v), -1);
	assert_int_equal(v, 42);
}

static void
test_parse_fd(void **state)
{
	int fds[2], fd = -1;
	char num[16];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	snprintf(num, sizeof(num), "%d", fds[0]);
	assert_int_equal(cmd_parse_fd("t", "--pin-fd", num, &fd), 0);
	assert_int_equal(fd, fds[0]);
	close(fds[0]);
	close(fds[1]);
	fd = -1;
	/* A closed descriptor: usage error (exit 2), fd untouched. */
	assert_int_equal(cmd_parse_fd("t", "--pin-fd", num, &fd), 2);
	assert_int_equal(fd, -1);
	/* A PIN where the number belongs, and non-numbers: usage errors. */
	assert_int_equal(cmd_parse_fd("t", "--pin-fd", "24682468", &fd), 2);
	assert_int_equal(cmd_parse_fd("t", "--pin-fd", "1025", &fd), 2);
	assert_int_equal(cmd_parse_fd("t", "--pin-fd", "-1", &fd), 2);
	assert_int_equal(cmd_parse_fd("t", "--pin-fd", "", &fd), 2);
	assert_int_equal(cmd_parse_fd("t", "--pin-fd", "3a", &fd), 2);
	assert_int_equal(fd, -1);
}

static void
write_file(const char *path, size_t n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fputc('a' + (int)(i % 26), f);
	assert_int_equal(fclose(f), 0);
}

static void
test_read_text(void **state)
{
	char dir[] = "/tmp/test_cmdutil.XXXXXX", path[64];
	char *t;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);

	write_file(path, 0);
	assert_non_null(t = cmd_read_text(path, 16));
	assert_string_equal(t, "");
	free(t);

	write_file(path, 16);
	assert_non_null(t = cmd_read_text(path, 16));
	assert_int_equal(strlen(t), 16);
	assert_memory_equal(t, "abcdefghijklmnop", 16);
	free(t);

	/* One byte over the limit: refused, not cut short. */
	write_file(path, 17);
	assert_null(cmd_read_text(path, 16));

	assert_int_equal(unlink(path), 0);
	assert_null(cmd_read_text(path, 16));
	/* A directory is not a text file. */
	assert_null(cmd_read_text(dir, 16));
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_parse_fd),
		cmocka_unit_test(test_read_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
