/* SPDX-License-Identifier: BSD-2-Clause */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/err.h"

static void
test_every_code_has_text_and_exit(void **state)
{
	(void)state;
	for (int rc = 0; rc < HSM_ERR__COUNT; rc++) {
		assert_string_not_equal(hsm_strerror((hsm_rc)rc), "unknown error");
		if (rc == HSM_OK)
			assert_int_equal(hsm_exit_code((hsm_rc)rc), 0);
		else
			assert_true(hsm_exit_code((hsm_rc)rc) > 0);
	}
	assert_string_equal(hsm_strerror(HSM_ERR__COUNT), "unknown error");
	assert_int_equal(hsm_exit_code(HSM_ERR_USAGE), 2);
}

static void
test_message_and_wrap(void **state)
{
	(void)state;
	hsm_err_clear();
	assert_string_equal(hsm_errmsg(), "success");
	assert_int_equal(hsm_fail(HSM_ERR_PIN_WRONG, "wrong PIN, %d tries left", 2),
	    HSM_ERR_PIN_WRONG);
	assert_string_equal(hsm_errmsg(), "wrong PIN, 2 tries left");
	assert_int_equal(hsm_fail_wrap(HSM_ERR_PIN_WRONG, "card %s", "A1"), HSM_ERR_PIN_WRONG);
	assert_string_equal(hsm_errmsg(), "card A1: wrong PIN, 2 tries left");
	assert_int_equal(hsm_errcode(), HSM_ERR_PIN_WRONG);
	hsm_err_clear();
	assert_int_equal(hsm_errcode(), HSM_OK);
}

/* A caller that adds context to the message it got passes hsm_errmsg() as an
 * argument (sim/simdom.c: "admin.add: %s"). hsm_fail formats into the very
 * buffer it reads from; before the fix this overlapping vsnprintf garbled the
 * message (glibc wrote "admin.add: admin.add: ..." or cut it short). */
static void
test_fail_with_own_message(void **state)
{
	(void)state;
	hsm_err_clear();
	hsm_fail(HSM_ERR_FORMAT, "the key is listed twice");
	hsm_fail(HSM_ERR_FORMAT, "admin.add: %s", hsm_errmsg());
	assert_string_equal(hsm_errmsg(), "admin.add: the key is listed twice");
	hsm_fail(HSM_ERR_REFUSED, "%s (domain %d)", hsm_errmsg(), 3);
	assert_string_equal(hsm_errmsg(), "admin.add: the key is listed twice (domain 3)");
	hsm_fail_wrap(HSM_ERR_REFUSED, "again: %s", hsm_errmsg());
	assert_string_equal(hsm_errmsg(),
	    "again: admin.add: the key is listed twice (domain 3): "
	    "admin.add: the key is listed twice (domain 3)");
	assert_int_equal(hsm_errcode(), HSM_ERR_REFUSED);
	hsm_err_clear();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_has_text_and_exit),
		cmocka_unit_test(test_message_and_wrap),
		cmocka_unit_test(test_fail_with_own_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
