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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_has_text_and_exit),
		cmocka_unit_test(test_message_and_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
