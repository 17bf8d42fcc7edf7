/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evverify.c - what the auditor's "verified" rests on: trust anchors
 * from outside the log (a forger with the log but not the supervisor's key
 * is never verified), and the cross-checks that tie the loaded master key to
 * the custodians' parts (parts loaded per receipt against the parts
 * generated, the MKVP every mk record states, the key activated is the key
 * committed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>

#include "hsmadm/codec.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evverify.h"
#include "test_evlog_fixture.h"

static struct evfix F;
static int case_no;

static int
setup_all(void **state)
{
	(void)state;
	return evfix_setup(&F);
}

static int
teardown_all(void **state)
{
	(void)state;
	evfix_teardown(&F);
	return 0;
}

static const char *
newlog(char *buf, size_t n, int flags)
{
	snprintf(buf, n, "%s/v%d.log", F.dir, ++case_no);
	assert_int_equal(evfix_ceremony(&F, buf, flags | EVFIX_NOSYNC, NULL), HSM_OK);
	return buf;
}

/* Verify with the module CA, and the real supervisor's key when pin. */
static hsm_rc
verify(const char *path, int pin, int incomplete, evlog_verify_result *res)
{
	const char *cas[1] = { F.ca_pem };
	const char *pins[1] = { F.sup_pub };
	struct evlog_verify_opts o = { cas, 1, pins, pin ? 1 : 0, incomplete, NULL, 0, NULL, 0 };

	return evlog_verify(path, &o, res);
}

/* "verified" in the result's JSON (what --json prints). */
static int
json_verified(const evlog_verify_result *res)
{
	json_t *j = evlog_verify_result_json(res);
	int v;

	assert_non_null(j);
	v = json_is_true(json_object_get(j, "verified"));
	json_decref(j);
	return v;
}

static int
rename_admin(json_t *rec, long long seq, void *arg)
{
	json_t *m;
	size_t i;

	(void)seq;
	(void)arg;
	if (strcmp(json_string_value(json_object_get(rec, "type")), "roster") != 0)
		return 0;
	json_array_foreach(json_object_get(json_object_get(rec, "body"), "members"), i, m)
		if (strcmp(json_string_value(json_object_get(m, "name")), "Alice Example") == 0)
			json_object_set_new(m, "name", json_string("Eve Example"));
	return 0;
}

static int
change_kpvp(json_t *rec, long long seq, void *arg)
{
	const char *t = json_string_value(json_object_get(rec, "type"));

	(void)seq;
	(void)arg;
	if (strncmp(t, "keypart.", 8) == 0)
		json_object_set_new(json_object_get(rec, "body"), "kpvp", json_string(
		    "7777777777777777777777777777777777777777777777777777777777777777"));
	return 0;
}

static int
drop_activated(json_t *rec, long long seq, void *arg)
{
	(void)seq;
	(void)arg;
	return strcmp(json_string_value(json_object_get(rec, "type")), "mk.activated") == 0;
}

static int
drop_copied(json_t *rec, long long seq, void *arg)
{
	(void)seq;
	(void)arg;
	return strcmp(json_string_value(json_object_get(rec, "type")), "keypart.copied") == 0;
}

/* A forged log re-signed by the forger is consistent in itself; only a
 * supervisor key from outside the log tells it apart, and without one the
 * answer is never "verified". */
static void
test_forged_log_needs_supervisor_anchor(void **state)
{
	evfix_edit_fn edits[5] = { NULL, rename_admin, drop_copied, change_kpvp, drop_activated };
	evlog_verify_result res;
	char path[400];
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		newlog(path, sizeof(path), EVFIX_COMPLETE | (i == 4 ? EVFIX_MKFULL : 0));
		assert_int_equal(evfix_forge(&F, path, edits[i], NULL), 0);
		/* the CA alone anchors the receipts, not who closed the log */
		assert_int_equal(verify(path, 0, 0, &res), HSM_OK);
		assert_int_equal(res.ok, 1);
		assert_int_equal(json_verified(&res), 0);
		assert_int_equal(res.anchored, 0);
		evlog_verify_result_clear(&res);
		/* the real supervisor's key: the forger's completion fails */
		assert_int_equal(verify(path, 1, 0, &res), HSM_ERR_AUDIT);
		assert_non_null(strstr(res.reason, "pinned"));
		evlog_verify_result_clear(&res);
	}
	/* the genuine log with both anchors is verified, and says so */
	newlog(path, sizeof(path), EVFIX_COMPLETE);
	assert_int_equal(verify(path, 1, 0, &res), HSM_OK);
	assert_int_equal(json_verified(&res), 1);
	assert_int_equal(res.anchored, 1);
	evlog_verify_result_clear(&res);
}

/* --no-anchors: receipts are checked against their own OA certificates and
 * the roster's keys, and the result is consistent but never verified. */
static void
test_no_anchors_is_consistency_only(void **state)
{
	struct evlog_verify_opts o;
	evlog_verify_result res;
	json_t *j;
	char path[400];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.no_anchors = 1;
	newlog(path, sizeof(path), EVFIX_COMPLETE);
	assert_int_equal(evlog_verify(path, &o, &res), HSM_OK);
	assert_int_equal(res.anchored, 0);
	j = evlog_verify_result_json(&res);
	assert_true(json_is_false(json_object_get(j, "verified")));
	assert_true(json_is_true(json_object_get(j, "consistent")));
	assert_non_null(json_object_get(j, "anchors"));
	json_decref(j);
	evlog_verify_result_clear(&res);
	/* a broken receipt is still found */
	newlog(path, sizeof(path), EVFIX_COMPLETE | EVFIX_WEAK_QUORUM);
	assert_int_equal(evlog_verify(path, &o, &res), HSM_ERR_AUDIT);
	evlog_verify_result_clear(&res);
}

/* A trust file carries both anchors. */
static void
test_trust_file(void **state)
{
	const char *cas[1] = { F.ca_pem };
	struct evlog_verify_opts o;
	evlog_verify_result res;
	char path[400], trust[400];
	json_t *t = NULL;

	(void)state;
	newlog(path, sizeof(path), EVFIX_COMPLETE);
	memset(&o, 0, sizeof(o));
	o.module_ca_files = cas;
	o.n_module_ca = 1;
	assert_int_equal(evlog_export_trust(path, &o, &t), HSM_OK);
	snprintf(trust, sizeof(trust), "%s/trust%d.json", F.dir, case_no);
	assert_int_equal(json_dump_file(t, trust, 0), 0);
	json_decref(t);
	memset(&o, 0, sizeof(o));
	o.trust_file = trust;
	assert_int_equal(evlog_verify(path, &o, &res), HSM_OK);
	assert_int_equal(res.anchored, 1);
	evlog_verify_result_clear(&res);
	/* the same trust file does not make a forged log verify */
	assert_int_equal(evfix_forge(&F, path, rename_admin, NULL), 0);
	assert_int_equal(evlog_verify(path, &o, &res), HSM_ERR_AUDIT);
	evlog_verify_result_clear(&res);
}

/* The module loaded a part no custodian generated: the receipt's
 * parts_loaded does not match the keypart.generated records. */
static void
test_foreign_part_loaded(void **state)
{
	evlog_verify_result res;
	char path[400];

	(void)state;
	newlog(path, sizeof(path), EVFIX_COMPLETE | EVFIX_MKFULL);
	assert_int_equal(verify(path, 1, 0, &res), HSM_OK);
	evlog_verify_result_clear(&res);
	newlog(path, sizeof(path), EVFIX_COMPLETE | EVFIX_MKFULL | EVFIX_FOREIGN_PART);
	assert_int_equal(verify(path, 1, 0, &res), HSM_ERR_AUDIT);
	assert_non_null(strstr(res.reason, "part"));
	/* named at the receipt that shows it: the mk.load_part command.applied */
	assert_int_equal(res.bad_seq, 16);
	evlog_verify_result_clear(&res);
}

/* An approved load (docs/formats/command.md): after the quorum's
 * mk.approve_load the part loads with no signature, and the log verifies;
 * an unsigned load of a part the approval does not name fails at its
 * receipt; and a receipt that shows an approval no mk.approve_load set is
 * refused (it would let an unsigned part in). */
static void
test_approved_load(void **state)
{
	evlog_verify_result res;
	char path[400];

	(void)state;
	newlog(path, sizeof(path), EVFIX_COMPLETE | EVFIX_MKFULL | EVFIX_APPROVED);
	assert_int_equal(verify(path, 1, 0, &res), HSM_OK);
	evlog_verify_result_clear(&res);
	newlog(path, sizeof(path), EVFIX_COMPLETE | EVFIX_MKFULL | EVFIX_APPROVED |
	    EVFIX_FOREIGN_PART);
	assert_int_equal(verify(path, 1, 0, &res), HSM_ERR_AUDIT);
	assert_non_null(strstr(res.reason, "mk.load_part"));
	assert_non_null(strstr(res.reason, "needed signatures"));
	evlog_verify_result_clear(&res);
	newlog(path, sizeof(path), EVFIX_COMPLETE | EVFIX_MKFULL | EVFIX_APPROVAL_FORGED);
	assert_int_equal(verify(path, 1, 0, &res), HSM_ERR_AUDIT);
	assert_non_null(strstr(res.reason, "no mk.approve_load in the log set"));
	assert_int_equal(res.bad_seq, 16);
	evlog_verify_result_clear(&res);
}

/* The module activated another key than the one committed, and the log's
 * mk.activated says so too: caught at the receipt. */
static void
test_other_key_activated(void **state)
{
	evlog_verify_result res;
	char path[400];

	(void)state;
	newlog(path, sizeof(path), EVFIX_COMPLETE | EVFIX_MKFULL | EVFIX_OTHER_KEY);
	assert_int_equal(verify(path, 1, 0, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, 20);
	assert_non_null(strstr(res.reason, "mk.activate"));
	assert_non_null(strstr(res.reason, "committed before"));
	evlog_verify_result_clear(&res);
}

/* (r, s) -> (r, n - s): the other valid signature of the same message. */
static char *
high_s_twin(const char *b64)
{
	uint8_t *der = NULL, *out = NULL;
	const uint8_t *p;
	size_t n = 0;
	int len;
	char *res = NULL;
	ECDSA_SIG *sig = NULL;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);
	BIGNUM *s2 = BN_new();
	const BIGNUM *r, *s;

	assert_int_equal(b64_decode(b64, &der, &n), HSM_OK);
	p = der;
	assert_non_null(sig = d2i_ECDSA_SIG(NULL, &p, (long)n));
	ECDSA_SIG_get0(sig, &r, &s);
	assert_int_equal(BN_sub(s2, EC_GROUP_get0_order(g), s), 1);
	assert_int_equal(ECDSA_SIG_set0(sig, BN_dup(r), s2), 1);
	assert_true((len = i2d_ECDSA_SIG(sig, &out)) > 0);
	assert_int_equal(b64_encode(out, (size_t)len, &res), HSM_OK);
	OPENSSL_free(out);
	ECDSA_SIG_free(sig);
	EC_GROUP_free(g);
	free(der);
	return res;
}

static int
high_s_receipt(json_t *rec, long long seq, void *arg)
{
	json_t *r;
	char *twin;

	(void)arg;
	if (seq != 5)
		return 0;
	r = json_array_get(json_object_get(json_object_get(rec, "body"), "receipts"), 0);
	twin = high_s_twin(json_string_value(json_object_get(r, "signature")));
	json_object_set_new(r, "signature", json_string(twin));
	free(twin);
	return 0;
}

/* A receipt's OA signature in its high-S form verifies mathematically but
 * is not the one accepted encoding: refused at that receipt. */
static void
test_receipt_high_s_refused(void **state)
{
	evlog_verify_result res;
	char path[400];

	(void)state;
	newlog(path, sizeof(path), EVFIX_COMPLETE);
	assert_int_equal(evfix_rewrite(path, high_s_receipt, NULL), 0);
	assert_int_equal(verify(path, 1, 0, &res), HSM_ERR_AUDIT);
	if (res.bad_seq != 5)
		fail_msg("%s", res.reason);
	assert_non_null(strstr(res.reason, "low S"));
	evlog_verify_result_clear(&res);
}

struct mkedit {
	const char *type;
	const char *what;   /* "mkvp", "part", "domain_mkvp" */
};

/* Edits of an mk record on an unfinished log, re-chained (the checkpoint
 * after them would fail too, but later: the first failure is the edit). */
static int
mk_edit(json_t *rec, long long seq, void *arg)
{
	struct mkedit *e = arg;
	const char *t = json_string_value(json_object_get(rec, "type"));
	json_t *b = json_object_get(rec, "body");

	(void)seq;
	if (strcmp(t, e->type) != 0)
		return 0;
	if (strcmp(e->what, "mkvp") == 0)
		json_object_set_new(b, "mkvp", json_string(
		    "1111111111111111111111111111111111111111111111111111111111111111"));
	else if (strcmp(e->what, "part") == 0)
		json_object_set_new(json_array_get(json_object_get(b, "parts"), 0), "part_id",
		    json_string("part-9"));
	else if (strcmp(e->what, "drop_parts") == 0)
		json_array_clear(json_object_get(b, "parts"));
	return 0;
}

static void
test_mk_records_cross_checked(void **state)
{
	struct mkedit cases[] = {
		{ "mk.loaded", "mkvp" },       /* top-level MKVP differs from the domains' */
		{ "mk.committed", "mkvp" },
		{ "mk.loaded", "part" },       /* claims a part never generated */
		{ "mk.loaded", "drop_parts" }, /* says nothing of the parts the module loaded */
	};
	long long seqs[] = { 17, 19, 17, 17 };
	evlog_verify_result res;
	char path[400];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		newlog(path, sizeof(path), EVFIX_MKFULL);
		assert_int_equal(evfix_rewrite(path, mk_edit, &cases[i]), 0);
		assert_int_equal(verify(path, 1, 1, &res), HSM_ERR_AUDIT);
		if (res.bad_seq != seqs[i])
			fail_msg("case %zu: %s", i, res.reason);
		evlog_verify_result_clear(&res);
	}
}

/* What verification costs: each distinct key decoded once, each OA
 * certificate's chain verified once, however many receipts name them. */
static void
test_keys_and_chains_once(void **state)
{
	evlog_verify_result res;
	char path[400];

	(void)state;
	newlog(path, sizeof(path), EVFIX_COMPLETE | EVFIX_MKFULL);
	assert_int_equal(verify(path, 1, 0, &res), HSM_OK);
	assert_int_equal(res.receipts, 6);
	assert_int_equal(res.chain_checks, 1);
	/* the supervisor, Alice and Bob: on the roster, in six receipts' admin
	 * lists, in the signed heads */
	assert_int_equal(res.key_imports, 3);
	evlog_verify_result_clear(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forged_log_needs_supervisor_anchor),
		cmocka_unit_test(test_no_anchors_is_consistency_only),
		cmocka_unit_test(test_trust_file),
		cmocka_unit_test(test_foreign_part_loaded),
		cmocka_unit_test(test_mk_records_cross_checked),
		cmocka_unit_test(test_keys_and_chains_once),
		cmocka_unit_test(test_other_key_activated),
		cmocka_unit_test(test_approved_load),
		cmocka_unit_test(test_receipt_high_s_refused),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
