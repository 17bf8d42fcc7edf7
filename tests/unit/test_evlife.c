/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evlife.c - the verifier's rotation and decommissioning rules
 * (evidence/evlife.c): a rotation finalized before its re-encipher finished,
 * an old key destroyed before the rotation was finalized, a backout to the
 * wrong key, a decommissioning that left a domain with a key or left one
 * out, and the orders that are right.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/evlog.h"
#include "evlife.h"

#define K1 "1111111111111111111111111111111111111111111111111111111111111111"
#define K2 "2222222222222222222222222222222222222222222222222222222222222222"
#define DOC "abababababababababababababababababababababababababababababababab"

static json_t *zeroized, *keyed;

static const json_t *
state_of(void *ctx, const char *module, long long domain)
{
	(void)ctx;
	if (strcmp(module, "M1") != 0)
		return NULL;
	return domain == 1 ? keyed : zeroized;
}

static hsm_rc
feed(struct ev_life *L, long long seq, const char *type, const char *body_json)
{
	json_error_t je;
	evlog_record r;
	hsm_rc rc;

	memset(&r, 0, sizeof(r));
	r.seq = seq;
	r.type = type;
	r.body = json_loads(body_json, 0, &je);
	assert_non_null(r.body);
	rc = ev_life_record(L, &r, state_of, NULL);
	json_decref(r.body);
	return rc;
}

#define REQ "\"request\":{\"id\":\"CR-1\",\"sha256\":\"" DOC "\"}"
#define DOMS(k) "\"group\":\"g\",\"domains\":[{\"module\":\"M1\",\"domain\":0,\"mkvp\":\"" k "\"}]"

static void
begin_and_reencipher(struct ev_life *L, long long done, long long total)
{
	char b[256];

	memset(L, 0, sizeof(*L));
	assert_int_equal(feed(L, 1, EV_MK_ACTIVATED, "{" DOMS(K1) "}"), HSM_OK);
	assert_int_equal(feed(L, 2, EV_ROTATION_BEGUN, "{\"group\":\"g\",\"mkvp_current\":\"" K1
	    "\"," REQ "}"), HSM_OK);
	snprintf(b, sizeof(b), "{\"done\":%lld,\"total\":%lld,\"mkvp_from\":\"" K1
	         "\",\"mkvp_to\":\"" K2 "\"}", done, total);
	assert_int_equal(feed(L, 3, EV_REENCIPHER, b), HSM_OK);
}

static void
test_rotation_in_order(void **state)
{
	struct ev_life L;

	(void)state;
	begin_and_reencipher(&L, 10, 10);
	assert_int_equal(feed(&L, 4, EV_MK_FINALIZED, "{" DOMS(K2) ",\"reencipher\":\"done\","
	    REQ "}"), HSM_OK);
	assert_int_equal(feed(&L, 5, EV_MK_DESTROYED, "{" DOMS(K1) "," REQ "}"), HSM_OK);
	/* the next rotation may begin */
	assert_int_equal(feed(&L, 6, EV_ROTATION_BEGUN, "{\"group\":\"g\",\"mkvp_current\":\"" K2
	    "\"," REQ "}"), HSM_OK);
}

static void
test_finalized_before_reencipher_finished(void **state)
{
	struct ev_life L;

	(void)state;
	begin_and_reencipher(&L, 4, 10);
	assert_int_equal(feed(&L, 4, EV_MK_FINALIZED, "{" DOMS(K2) ",\"reencipher\":\"done\","
	    REQ "}"), HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "4 of 10"));
	/* declared without blobs: allowed */
	assert_int_equal(feed(&L, 4, EV_MK_FINALIZED, "{" DOMS(K2) ",\"reencipher\":\"none\","
	    REQ "}"), HSM_OK);
}

static void
test_finalized_without_request_or_rotation(void **state)
{
	struct ev_life L;

	(void)state;
	begin_and_reencipher(&L, 10, 10);
	assert_int_equal(feed(&L, 4, EV_MK_FINALIZED, "{" DOMS(K2) ",\"reencipher\":\"done\"}"),
	    HSM_ERR_FORMAT);
	memset(&L, 0, sizeof(L));
	assert_int_equal(feed(&L, 4, EV_MK_FINALIZED, "{" DOMS(K2) ",\"reencipher\":\"none\","
	    REQ "}"), HSM_ERR_AUDIT);
}

static void
test_destroyed_before_finalized(void **state)
{
	struct ev_life L;

	(void)state;
	begin_and_reencipher(&L, 10, 10);
	assert_int_equal(feed(&L, 4, EV_MK_DESTROYED, "{" DOMS(K1) "," REQ "}"), HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "before the rotation that replaces it was finalized"));
	/* and the wrong key after finalizing */
	assert_int_equal(feed(&L, 5, EV_MK_FINALIZED, "{" DOMS(K2) ",\"reencipher\":\"done\","
	    REQ "}"), HSM_OK);
	assert_int_equal(feed(&L, 6, EV_MK_DESTROYED, "{" DOMS(K2) "," REQ "}"), HSM_ERR_AUDIT);
}

static void
test_backout(void **state)
{
	struct ev_life L;

	(void)state;
	begin_and_reencipher(&L, 10, 10);
	assert_int_equal(feed(&L, 4, EV_MK_FINALIZED, "{" DOMS(K2) ",\"reencipher\":\"done\","
	    REQ "}"), HSM_OK);
	assert_int_equal(feed(&L, 5, EV_MK_BACKED_OUT, "{" DOMS(K2) ",\"mkvp_set_aside\":\"" K2
	    "\"," REQ "}"), HSM_ERR_AUDIT);
	assert_int_equal(feed(&L, 5, EV_MK_BACKED_OUT, "{" DOMS(K1) ",\"mkvp_set_aside\":\"" K2
	    "\"," REQ "}"), HSM_OK);
	/* after the backout, nothing is left to destroy */
	assert_int_equal(feed(&L, 6, EV_MK_DESTROYED, "{" DOMS(K1) "," REQ "}"), HSM_ERR_AUDIT);
}

static void
test_decommissioning(void **state)
{
	struct ev_life L;

	(void)state;
	memset(&L, 0, sizeof(L));
	assert_int_equal(feed(&L, 1, EV_MK_ACTIVATED, "{\"group\":\"g\",\"domains\":["
	    "{\"module\":\"M1\",\"domain\":0,\"mkvp\":\"" K1 "\"},"
	    "{\"module\":\"M1\",\"domain\":1,\"mkvp\":\"" K1 "\"}]}"), HSM_OK);
	/* domain 1 still holds a key */
	assert_int_equal(feed(&L, 2, EV_GROUP_DECOMMISSIONED, "{\"group\":\"g\"," REQ
	    ",\"domains\":[{\"module\":\"M1\",\"domain\":0,\"counter\":9},"
	    "{\"module\":\"M1\",\"domain\":1,\"counter\":9}]}"), HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "left M1 domain 1 unzeroized"));
	/* domain 1 left out */
	assert_int_equal(feed(&L, 2, EV_GROUP_DECOMMISSIONED, "{\"group\":\"g\"," REQ
	    ",\"domains\":[{\"module\":\"M1\",\"domain\":0,\"counter\":9}]}"), HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "leaves out M1 domain 1"));
	/* a domain no receipt shows */
	assert_int_equal(feed(&L, 2, EV_GROUP_DECOMMISSIONED, "{\"group\":\"h\"," REQ
	    ",\"domains\":[{\"module\":\"M9\",\"domain\":0,\"counter\":9}]}"), HSM_ERR_AUDIT);
	/* a group whose every domain is zeroized */
	assert_int_equal(feed(&L, 2, EV_GROUP_DECOMMISSIONED, "{\"group\":\"h\"," REQ
	    ",\"domains\":[{\"module\":\"M1\",\"domain\":0,\"counter\":9}]}"), HSM_OK);
	assert_int_equal(feed(&L, 3, EV_CARD_DISPOSED, "{\"card_id\":\"c1\",\"disposition\":"
	    "\"destroyed\",\"witnesses\":[\"Wanda\"]}"), HSM_OK);
	assert_int_equal(feed(&L, 3, EV_CARD_DISPOSED, "{\"card_id\":\"c1\",\"disposition\":"
	    "\"lost\",\"witnesses\":[\"Wanda\"]}"), HSM_ERR_FORMAT);
	assert_int_equal(feed(&L, 3, EV_CARD_DISPOSED, "{\"card_id\":\"c1\",\"disposition\":"
	    "\"retained\",\"witnesses\":[]}"), HSM_ERR_FORMAT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation_in_order),
		cmocka_unit_test(test_finalized_before_reencipher_finished),
		cmocka_unit_test(test_finalized_without_request_or_rotation),
		cmocka_unit_test(test_destroyed_before_finalized),
		cmocka_unit_test(test_backout),
		cmocka_unit_test(test_decommissioning),
	};
	int r;

	zeroized = json_loads("{\"admins\":[],\"registers\":{\"current\":{\"state\":\"empty\"},"
	    "\"pending\":{\"state\":\"empty\"},\"old\":{\"state\":\"empty\"}}}", 0, NULL);
	keyed = json_loads("{\"admins\":[],\"registers\":{\"current\":{\"state\":\"valid\"},"
	    "\"pending\":{\"state\":\"empty\"},\"old\":{\"state\":\"empty\"}}}", 0, NULL);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	json_decref(zeroized);
	json_decref(keyed);
	return r;
}
