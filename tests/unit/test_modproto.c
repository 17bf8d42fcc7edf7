/* test_modproto.c - frame and message parsing/building of the module protocol. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/modproto.h"

static size_t
frame(uint8_t *buf, const char *json)
{
	size_t n = strlen(json);

	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	memcpy(buf + 4, json, n);
	return n + 4;
}

static void
test_frame_parse_ok_and_partial(void **state)
{
	uint8_t buf[256];
	size_t n, used = 0;
	json_t *m = NULL;

	(void)state;
	n = frame(buf, "{\"id\":1,\"op\":\"hello\",\"params\":{}}");
	assert_int_equal(modproto_frame_parse(buf, n, &used, &m), HSM_OK);
	assert_int_equal(used, n);
	assert_true(json_is_object(m));
	json_decref(m);
	/* Fewer bytes than the frame: more needed, nothing parsed. */
	assert_int_equal(modproto_frame_parse(buf, 3, &used, &m), HSM_ERR_NOT_FOUND);
	assert_int_equal(modproto_frame_parse(buf, n - 1, &used, &m), HSM_ERR_NOT_FOUND);
	assert_null(m);
	assert_int_equal(used, 0);
}

static void
test_frame_parse_bad(void **state)
{
	uint8_t buf[64] = { 0 };
	size_t used;
	json_t *m = NULL;

	(void)state;
	/* zero length */
	assert_int_equal(modproto_frame_parse(buf, 8, &used, &m), HSM_ERR_FORMAT);
	/* 1 MiB + 1 */
	buf[0] = 0; buf[1] = 0x10; buf[2] = 0; buf[3] = 1;
	assert_int_equal(modproto_frame_parse(buf, 8, &used, &m), HSM_ERR_FORMAT);
	/* garbage, a non-object, trailing bytes, a real number */
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "{nope"), &used, &m), HSM_ERR_FORMAT);
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "[1,2]"), &used, &m), HSM_ERR_FORMAT);
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "{}x"), &used, &m), HSM_ERR_FORMAT);
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "{\"a\":1.5}"), &used, &m), HSM_ERR_FORMAT);
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "{\"a\":1,\"a\":2}"), &used, &m), HSM_ERR_FORMAT);
	assert_null(m);
}

static void
test_request_parse(void **state)
{
	const char *bad[] = {
		"{\"op\":\"hello\",\"params\":{}}",
		"{\"id\":-1,\"op\":\"hello\",\"params\":{}}",
		"{\"id\":\"1\",\"op\":\"hello\",\"params\":{}}",
		"{\"id\":1,\"params\":{}}",
		"{\"id\":1,\"op\":\"\",\"params\":{}}",
		"{\"id\":1,\"op\":\"hello\"}",
		"{\"id\":1,\"op\":\"hello\",\"params\":[]}",
		"{\"id\":1,\"op\":\"hello\",\"params\":{},\"x\":1}",
	};
	modproto_request r;
	json_t *m;
	size_t i;

	(void)state;
	m = json_loads("{\"id\":7,\"op\":\"domain.query\",\"params\":{\"domain\":3}}", 0, NULL);
	assert_int_equal(modproto_request_parse(m, &r), HSM_OK);
	assert_int_equal(r.id, 7);
	assert_string_equal(r.op, "domain.query");
	assert_int_equal(json_integer_value(json_object_get(r.params, "domain")), 3);
	json_decref(m);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = json_loads(bad[i], 0, NULL);
		assert_non_null(m);
		assert_int_equal(modproto_request_parse(m, &r), HSM_ERR_FORMAT);
		json_decref(m);
	}
}

static void
test_answers(void **state)
{
	json_t *a = NULL, *res = NULL, *r = NULL;
	char *reason = NULL;

	(void)state;
	res = json_pack("{s:i}", "x", 1);
	assert_int_equal(modproto_answer_ok(5, res, &a), HSM_OK);
	assert_int_equal(modproto_answer_check(a, 5, &r, &reason), HSM_OK);
	assert_true(json_equal(r, res));
	assert_null(reason);
	json_decref(r);
	/* wrong id */
	assert_int_equal(modproto_answer_check(a, 6, &r, NULL), HSM_ERR_MODULE);
	json_decref(a);
	json_decref(res);

	assert_int_equal(modproto_answer_err(5, MODPROTO_E_REPLAY, "counter_mismatch",
	                                     "already applied", &a), HSM_OK);
	assert_int_equal(modproto_answer_check(a, 5, &r, &reason), HSM_ERR_REPLAY);
	assert_string_equal(reason, "counter_mismatch");
	assert_non_null(strstr(hsm_errmsg(), "already applied"));
	free(reason);
	json_decref(a);
	/* id -1: the module could not read the request */
	assert_int_equal(modproto_answer_err(-1, MODPROTO_E_TOO_LARGE, "too_large", "big", &a), HSM_OK);
	assert_int_equal(modproto_answer_check(a, 9, &r, NULL), HSM_ERR_FORMAT);
	json_decref(a);
	/* malformed answers */
	a = json_loads("{\"id\":1,\"ok\":true}", 0, NULL);
	assert_int_equal(modproto_answer_check(a, 1, &r, NULL), HSM_ERR_MODULE);
	json_decref(a);
	a = json_loads("{\"id\":1,\"ok\":false,\"error\":{\"code\":\"x\"}}", 0, NULL);
	assert_int_equal(modproto_answer_check(a, 1, &r, NULL), HSM_ERR_MODULE);
	json_decref(a);
}

static void
test_request_new_and_codes(void **state)
{
	json_t *m = NULL, *p = json_pack("{s:i}", "domain", 2);
	modproto_request r;
	int c;

	(void)state;
	assert_int_equal(modproto_request_new(3, "domain.query", p, &m), HSM_OK);
	assert_int_equal(modproto_request_parse(m, &r), HSM_OK);
	assert_int_equal(r.id, 3);
	json_decref(m);
	json_decref(p);
	assert_int_equal(modproto_request_new(4, "hello", NULL, &m), HSM_OK);
	assert_int_equal(json_object_size(json_object_get(m, "params")), 0);
	json_decref(m);
	assert_int_equal(modproto_request_new(-1, "hello", NULL, &m), HSM_ERR_USAGE);
	/* every wire code maps to a distinct meaning and back */
	for (c = MODPROTO_E_BAD_REQUEST; c <= MODPROTO_E_TOO_LARGE; c++)
		assert_int_not_equal(modproto_rc_from_code(c), HSM_OK);
	assert_int_equal(modproto_rc_from_code(999), HSM_ERR_MODULE);
	assert_int_equal(modproto_code_from_rc(HSM_ERR_QUORUM), MODPROTO_E_QUORUM);
	assert_int_equal(modproto_rc_from_code(modproto_code_from_rc(HSM_ERR_EXPIRED)), HSM_ERR_EXPIRED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_parse_ok_and_partial),
		cmocka_unit_test(test_frame_parse_bad),
		cmocka_unit_test(test_request_parse),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_request_new_and_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
