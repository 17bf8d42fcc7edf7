/* SPDX-License-Identifier: BSD-2-Clause */
/* test_admincmd.c - signed admin commands: format, signing, the verification
 * a module runs, and the summary. Keys are generated into a private temp dir. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/signer.h"
#include "ecdsa_twin.h"

enum { K_ALICE, K_ALICE2, K_BOB, K_CAROL, K_DAVE, K_N };

static char tmpdir[64];
static hsm_signer *sg[K_N];
static EVP_PKEY *pubs[K_N];
static admincmd_admin admins[4];   /* alice, alice backup, bob, carol */
static const int64_t NOW = 1800000000;

static int
setup(void **state)
{
	static const char *ids[] = { "alice", "alice", "bob", "carol" };
	static const char *names[] = { "Alice Example", "Alice Example (backup)",
	    "Bob Example", "Carol Example" };
	char path[128];
	int i;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_admincmd.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	for (i = 0; i < K_N; i++) {
		EVP_PKEY *k = NULL;
		if (crypto_ec_generate(i == K_CAROL ? HSM_CURVE_P256 : HSM_CURVE_P384, &k) != HSM_OK)
			return -1;
		snprintf(path, sizeof(path), "%s/k%d.pem", tmpdir, i);
		if (crypto_priv_save_pem(path, k) != HSM_OK)
			return -1;
		EVP_PKEY_free(k);
		if (signer_from_keyfile(path, &sg[i]) != HSM_OK)
			return -1;
		pubs[i] = signer_pub(sg[i]);
	}
	for (i = 0; i < 4; i++) {
		if (crypto_ski(pubs[i], admins[i].ski) != HSM_OK)
			return -1;
		admins[i].pub = pubs[i];
		admins[i].identity = ids[i];
		admins[i].name = names[i];
	}
	return 0;
}

static int
teardown(void **state)
{
	char path[128];
	int i;

	(void)state;
	for (i = 0; i < K_N; i++) {
		signer_free(&sg[i]);
		snprintf(path, sizeof(path), "%s/k%d.pem", tmpdir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/cmd.json", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

static json_t *
add_params(int who, const char *name, const char *identity)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	char *hex = NULL;
	json_t *p;

	assert_int_equal(crypto_ec_point(pubs[who], &pt, &n), HSM_OK);
	assert_int_equal(hex_encode(pt, n, &hex), HSM_OK);
	p = json_pack("{s:s, s:s, s:s}", "pubkey", hex, "name", name, "identity", identity);
	free(pt);
	free(hex);
	return p;
}

static const admincmd_target two[] = {
	{ "DC1-M01", 3, 5 }, { "DC2-M01", 3, 7 },
};

static admincmd *
make_add(void)
{
	json_t *p = add_params(K_DAVE, "Bob Example", "bob2");
	admincmd *c = NULL;

	assert_int_equal(admincmd_new(ADMINCMD_OP_ADMIN_ADD, p, two, 2,
	    NOW - 60, NOW + 3600, &c), HSM_OK);
	json_decref(p);
	return c;
}

static void
test_roundtrip(void **state)
{
	admincmd *c = make_add(), *d = NULL;
	uint8_t d1[32], d2[32];
	char *buf = NULL, *buf2 = NULL, path[128];
	size_t len = 0, len2 = 0;
	uint64_t ctr = 0;

	(void)state;
	assert_int_equal(admincmd_sign(c, sg[K_ALICE]), HSM_OK);
	assert_int_equal(admincmd_nsigs(c), 1);
	assert_int_equal(admincmd_dump(c, &buf, &len), HSM_OK);
	assert_non_null(strstr(buf, "\"signatures\":[{\"signature\":"));
	assert_int_equal(admincmd_parse(buf, len, &d), HSM_OK);
	assert_int_equal(admincmd_digest(c, d1), HSM_OK);
	assert_int_equal(admincmd_digest(d, d2), HSM_OK);
	assert_memory_equal(d1, d2, 32);
	assert_int_equal(admincmd_dump(d, &buf2, &len2), HSM_OK);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	assert_string_equal(admincmd_op(d), "admin.add");
	assert_int_equal(admincmd_ntargets(d), 2);
	assert_int_equal(admincmd_target_for(d, "DC2-M01", 3, &ctr), HSM_OK);
	assert_int_equal(ctr, 7);
	assert_int_equal(admincmd_target_for(d, "DC2-M01", 4, NULL), HSM_ERR_NOT_FOUND);
	assert_true(admincmd_has_signer(d, admins[0].ski));
	assert_false(admincmd_has_signer(d, admins[2].ski));
	/* via a file, as cjson_save_file writes it (trailing newline) */
	snprintf(path, sizeof(path), "%s/cmd.json", tmpdir);
	assert_int_equal(admincmd_save(d, path), HSM_OK);
	admincmd_free(&d);
	assert_null(d);
	assert_int_equal(admincmd_load(path, &d), HSM_OK);
	assert_int_equal(admincmd_digest(d, d2), HSM_OK);
	assert_memory_equal(d1, d2, 32);
	free(buf);
	free(buf2);
	admincmd_free(&d);
	admincmd_free(&c);
	admincmd_free(&c);   /* NULL-safe */
}

static void
test_sign_twice_refused(void **state)
{
	admincmd *c = make_add();
	uint8_t d1[32], d2[32];

	(void)state;
	assert_int_equal(admincmd_digest(c, d1), HSM_OK);
	assert_int_equal(admincmd_sign(c, sg[K_BOB]), HSM_OK);
	assert_int_equal(admincmd_sign(c, sg[K_BOB]), HSM_ERR_EXISTS);
	assert_non_null(strstr(hsm_errmsg(), "already signed"));
	assert_int_equal(admincmd_nsigs(c), 1);
	/* signing never changes the body */
	assert_int_equal(admincmd_digest(c, d2), HSM_OK);
	assert_memory_equal(d1, d2, 32);
	admincmd_free(&c);
}

static hsm_rc
verify(admincmd *c, const char *mod, unsigned dom, uint64_t ctr, int64_t now,
       unsigned sig, unsigned rev, unsigned *counted)
{
	return admincmd_verify_for_domain(c, mod, dom, ctr, now, admins, 4, sig, rev, counted);
}

/* An mk.load_part needs no signature exactly when the domain's approved
 * load names its part count, index and KPVP; anything else keeps the rule. */
static void
test_approved_load_needs_no_signature(void **state)
{
	const char *k1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *k2 = "2222222222222222222222222222222222222222222222222222222222222222";
	json_t *approved = json_pack("[{s:i, s:s, s:s}, {s:i, s:s, s:s}]",
	    "index", 1, "part_id", "p1", "kpvp", k1, "index", 2, "part_id", "p2", "kpvp", k2);
	json_t *p = json_pack("{s:i, s:i, s:s, s:{}}", "part_index", 2, "parts", 2, "kpvp", k2,
	    "wrapped");
	admincmd *c = NULL;
	unsigned n = 99;

	(void)state;
	assert_int_equal(admincmd_new(ADMINCMD_OP_MK_LOAD_PART, p, two, 2, NOW - 60, NOW + 3600,
	    &c), HSM_OK);
	assert_int_equal(admincmd_verify_approved(c, "DC1-M01", 3, 5, NOW, admins, 4, 2, 1,
	    NULL, &n), HSM_ERR_QUORUM);
	assert_int_equal(admincmd_verify_approved(c, "DC1-M01", 3, 5, NOW, admins, 4, 2, 1,
	    approved, &n), HSM_OK);
	assert_int_equal(n, 0);
	assert_int_equal(admincmd_load_is_approved(p, approved), 1);
	/* Another KPVP, index or part count is not approved. */
	json_object_set_new(p, "kpvp", json_string(k1));
	assert_int_equal(admincmd_load_is_approved(p, approved), 0);
	json_object_set_new(p, "kpvp", json_string(k2));
	json_object_set_new(p, "part_index", json_integer(1));
	assert_int_equal(admincmd_load_is_approved(p, approved), 0);
	json_object_set_new(p, "part_index", json_integer(2));
	json_object_set_new(p, "parts", json_integer(3));
	assert_int_equal(admincmd_load_is_approved(p, approved), 0);
	/* Only mk.load_part: the same approval frees no other op. */
	admincmd_free(&c);
	assert_int_equal(admincmd_new(ADMINCMD_OP_MK_ACTIVATE, p, two, 2, NOW - 60, NOW + 3600,
	    &c), HSM_OK);
	json_object_set_new(p, "parts", json_integer(2));
	assert_int_equal(admincmd_verify_approved(c, "DC1-M01", 3, 5, NOW, admins, 4, 2, 1,
	    approved, &n), HSM_ERR_QUORUM);
	admincmd_free(&c);
	json_decref(p);
	json_decref(approved);
}

static void
test_quorum(void **state)
{
	admincmd *c = make_add();
	unsigned n = 99;

	(void)state;
	/* no signature, threshold 2 */
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 2, 1, &n), HSM_ERR_QUORUM);
	assert_int_equal(n, 0);
	assert_string_equal(hsm_errmsg(), "0 of 2 needed signatures present; 2 more needed");
	assert_int_equal(admincmd_sign(c, sg[K_ALICE]), HSM_OK);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 2, 1, &n), HSM_ERR_QUORUM);
	assert_int_equal(n, 1);
	assert_string_equal(hsm_errmsg(), "1 of 2 needed signatures present; 1 more needed");
	/* Alice's backup card: same identity, still one */
	assert_int_equal(admincmd_sign(c, sg[K_ALICE2]), HSM_OK);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 2, 1, &n), HSM_ERR_QUORUM);
	assert_int_equal(n, 1);
	assert_int_equal(admincmd_sign(c, sg[K_BOB]), HSM_OK);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 2, 1, &n), HSM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(verify(c, "DC2-M01", 3, 7, NOW, 2, 1, &n), HSM_OK);
	/* threshold 3: carol (P-256) completes it */
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 3, 1, &n), HSM_ERR_QUORUM);
	assert_string_equal(hsm_errmsg(), "2 of 3 needed signatures present; 1 more needed");
	assert_int_equal(admincmd_sign(c, sg[K_CAROL]), HSM_OK);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 3, 1, &n), HSM_OK);
	assert_int_equal(n, 3);
	admincmd_free(&c);
}

/* One check per admin set: a success is shared only by domains with the
 * same admins and thresholds; a refusal is checked again by each domain,
 * for a message that names it; a domain at another counter checks alone. */
static void
test_memo_per_admin_set(void **state)
{
	admincmd_admin others[2] = { admins[1], admins[3] };   /* alice's backup, carol */
	admincmd *c = make_add();
	admincmd_memo *m = NULL;
	unsigned n = 99;

	(void)state;
	assert_int_equal(admincmd_sign(c, sg[K_ALICE]), HSM_OK);
	assert_int_equal(admincmd_sign(c, sg[K_BOB]), HSM_OK);
	assert_int_equal(admincmd_memo_new(&m), HSM_OK);
	assert_int_equal(admincmd_verify_memo(m, c, "DC1-M01", 3, 5, NOW, admins, 4, 2, 1, NULL,
	    &n), HSM_OK);
	assert_int_equal(n, 2);
	n = 99;
	assert_int_equal(admincmd_verify_memo(m, c, "DC2-M01", 3, 7, NOW, admins, 4, 2, 1, NULL,
	    &n), HSM_OK);
	assert_int_equal(n, 2);
	/* another admin set: the success is not its */
	assert_int_equal(admincmd_verify_memo(m, c, "DC1-M01", 3, 5, NOW, others, 2, 2, 1, NULL,
	    NULL), HSM_ERR_REFUSED);
	assert_non_null(strstr(hsm_errmsg(), "module DC1-M01 domain 3"));
	assert_int_equal(admincmd_verify_memo(m, c, "DC2-M01", 3, 7, NOW, others, 2, 2, 1, NULL,
	    NULL), HSM_ERR_REFUSED);
	assert_non_null(strstr(hsm_errmsg(), "module DC2-M01 domain 3"));
	/* other thresholds */
	assert_int_equal(admincmd_verify_memo(m, c, "DC1-M01", 3, 5, NOW, admins, 4, 3, 1, NULL,
	    &n), HSM_ERR_QUORUM);
	assert_int_equal(n, 2);
	/* another counter: checked alone */
	assert_int_equal(admincmd_verify_memo(m, c, "DC1-M01", 3, 6, NOW, admins, 4, 2, 1, NULL,
	    NULL), HSM_ERR_REPLAY);
	/* no memo: each alone */
	assert_int_equal(admincmd_verify_memo(NULL, c, "DC2-M01", 3, 7, NOW, others, 2, 1, 1,
	    NULL, NULL), HSM_ERR_REFUSED);
	admincmd_memo_free(&m);
	assert_null(m);
	admincmd_memo_free(&m);   /* NULL-safe */
	admincmd_free(&c);
}

static void
test_refusals(void **state)
{
	admincmd *c = make_add();

	(void)state;
	assert_int_equal(admincmd_sign(c, sg[K_ALICE]), HSM_OK);
	assert_int_equal(admincmd_sign(c, sg[K_BOB]), HSM_OK);
	/* not a target */
	assert_int_equal(verify(c, "DC1-M01", 4, 5, NOW, 2, 1, NULL), HSM_ERR_REFUSED);
	assert_int_equal(verify(c, "DC3-M01", 3, 5, NOW, 2, 1, NULL), HSM_ERR_REFUSED);
	/* counters: applied already, and ahead */
	assert_int_equal(verify(c, "DC1-M01", 3, 6, NOW, 2, 1, NULL), HSM_ERR_REPLAY);
	assert_non_null(strstr(hsm_errmsg(), "already applied"));
	assert_int_equal(verify(c, "DC1-M01", 3, 4, NOW, 2, 1, NULL), HSM_ERR_REPLAY);
	/* time window, both ends inclusive */
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW + 3601, 2, 1, NULL), HSM_ERR_EXPIRED);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW - 61, 2, 1, NULL), HSM_ERR_EXPIRED);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW + 3600, 2, 1, NULL), HSM_OK);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW - 60, 2, 1, NULL), HSM_OK);
	/* a stranger's signature is refused, not ignored */
	assert_int_equal(admincmd_sign(c, sg[K_DAVE]), HSM_OK);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 2, 1, NULL), HSM_ERR_REFUSED);
	assert_non_null(strstr(hsm_errmsg(), "not an administrator"));
	admincmd_free(&c);
}

static void
test_tampered_body(void **state)
{
	admincmd *c = make_add(), *d = NULL;
	json_t *j = NULL, *params;

	(void)state;
	assert_int_equal(admincmd_sign(c, sg[K_ALICE]), HSM_OK);
	assert_int_equal(admincmd_sign(c, sg[K_BOB]), HSM_OK);
	assert_int_equal(admincmd_to_json(c, &j), HSM_OK);
	params = json_object_get(json_object_get(j, "body"), "params");
	json_object_set_new(params, "name", json_string("Mallory"));
	assert_int_equal(admincmd_from_json(j, &d), HSM_OK);
	assert_int_equal(verify(d, "DC1-M01", 3, 5, NOW, 2, 1, NULL), HSM_ERR_VERIFY);
	assert_non_null(strstr(hsm_errmsg(), "changed after signing"));
	json_decref(j);
	admincmd_free(&d);
	admincmd_free(&c);
}

static void
test_required_sigs(void **state)
{
	json_t *thr = json_pack("{s:i, s:i}", "signature", 3, "revocation", 2);
	unsigned n = 99;

	(void)state;
	assert_int_equal(admincmd_required_sigs("admin.add", NULL, 2, 1, &n), HSM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(admincmd_required_sigs("admin.remove", NULL, 2, 1, &n), HSM_OK);
	assert_int_equal(n, 1);
	assert_int_equal(admincmd_required_sigs("admin.remove", NULL, 3, 2, &n), HSM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(admincmd_required_sigs("thresholds.set", thr, 2, 2, &n), HSM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(admincmd_required_sigs("mk.commit", NULL, 3, 1, &n), HSM_OK);
	assert_int_equal(n, 3);
	assert_int_equal(admincmd_required_sigs("mk.destroy_old", NULL, 3, 1, &n), HSM_OK);
	assert_int_equal(n, 3);
	assert_int_equal(admincmd_required_sigs("zeroize", NULL, 3, 1, &n), HSM_OK);
	assert_int_equal(n, 3);
	assert_int_equal(admincmd_required_sigs("mk.load_part", NULL, 3, 1, &n), HSM_OK);
	assert_int_equal(n, 1);
	assert_int_equal(admincmd_required_sigs("mk.activate", NULL, 3, 1, &n), HSM_OK);
	assert_int_equal(n, 1);
	assert_int_equal(admincmd_required_sigs("importer.generate", NULL, 3, 1, &n), HSM_OK);
	assert_int_equal(n, 1);
	assert_int_equal(admincmd_required_sigs("mk.clear_pending", NULL, 3, 1, &n), HSM_OK);
	assert_int_equal(n, 1);
	/* imprint mode */
	assert_int_equal(admincmd_required_sigs("admin.add", NULL, 0, 0, &n), HSM_OK);
	assert_int_equal(n, 0);
	assert_int_equal(admincmd_required_sigs("admin.remove", NULL, 0, 0, &n), HSM_OK);
	assert_int_equal(n, 0);
	assert_int_equal(admincmd_required_sigs("zeroize", NULL, 0, 0, &n), HSM_OK);
	assert_int_equal(n, 0);
	assert_int_equal(admincmd_required_sigs("thresholds.set", thr, 0, 0, &n), HSM_OK);
	assert_int_equal(n, 3);   /* the NEW threshold */
	assert_int_equal(admincmd_required_sigs("mk.commit", NULL, 0, 0, &n), HSM_ERR_STATE);
	assert_non_null(strstr(hsm_errmsg(), "imprint mode"));
	assert_int_equal(admincmd_required_sigs("importer.generate", NULL, 0, 0, &n), HSM_ERR_STATE);
	assert_int_equal(admincmd_required_sigs("bogus", NULL, 1, 1, &n), HSM_ERR_FORMAT);
	json_decref(thr);
}

static void
test_imprint_leave(void **state)
{
	json_t *thr = json_pack("{s:i, s:i}", "signature", 2, "revocation", 1);
	admincmd *c = NULL;
	unsigned n;

	(void)state;
	assert_int_equal(admincmd_new("thresholds.set", thr, two, 2, NOW, NOW + 10, &c), HSM_OK);
	assert_int_equal(admincmd_sign(c, sg[K_ALICE]), HSM_OK);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 0, 0, &n), HSM_ERR_QUORUM);
	assert_string_equal(hsm_errmsg(), "1 of 2 needed signatures present; 1 more needed");
	assert_int_equal(admincmd_sign(c, sg[K_CAROL]), HSM_OK);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 0, 0, &n), HSM_OK);
	admincmd_free(&c);
	json_decref(thr);
}

static void
test_unsigned_imprint_add(void **state)
{
	admincmd *c = make_add();

	(void)state;
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 0, 0, NULL), HSM_OK);
	/* no admins at all yet: still fine */
	assert_int_equal(admincmd_verify_for_domain(c, "DC1-M01", 3, 5, NOW, NULL, 0, 0, 0, NULL),
	    HSM_OK);
	admincmd_free(&c);
}

static void
test_summary_and_digest(void **state)
{
	admincmd *c = make_add();
	char *s = NULL, *hex = NULL, *words = NULL, expect[64];
	uint8_t ski[32];

	(void)state;
	assert_int_equal(crypto_ski(pubs[K_DAVE], ski), HSM_OK);
	hex_encode_buf(ski, 8, expect);
	assert_int_equal(admincmd_summary(c, &s), HSM_OK);
	assert_non_null(strstr(s, "Add administrator Bob Example (SKI "));
	assert_non_null(strstr(s, expect));
	assert_non_null(strstr(s, " to DC1-M01 domain 3 and DC2-M01 domain 3"));
	assert_int_equal(admincmd_digest_text(c, &hex, &words), HSM_OK);
	assert_int_equal(strlen(hex), 64);
	assert_non_null(words);
	assert_true(strlen(words) > 32 * 3);
	free(s);
	free(hex);
	free(words);
	admincmd_free(&c);
}

static void
expect_parse_fail(const char *json, const char *needle)
{
	admincmd *c = NULL;

	assert_int_equal(admincmd_parse(json, strlen(json), &c), HSM_ERR_FORMAT);
	assert_null(c);
	if (needle != NULL && strstr(hsm_errmsg(), needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", hsm_errmsg(), needle);
}

#define NONCE "00112233445566778899aabbccddeeff"
#define BODY(op, params, targets, nb, na, nonce) \
	"{\"body\":{\"nonce\":\"" nonce "\",\"not_after\":" na ",\"not_before\":" nb \
	",\"op\":\"" op "\",\"params\":" params ",\"targets\":" targets ",\"v\":1}" \
	",\"signatures\":[]}"
#define T1 "[{\"counter\":0,\"domain\":1,\"module\":\"M1\"}]"

static void
test_parse_bad(void **state)
{
	(void)state;
	{	/* a well-formed one parses */
		const char *ok = BODY("zeroize", "{}", T1, "1", "2", NONCE);
		admincmd *c = NULL;
		assert_int_equal(admincmd_parse(ok, strlen(ok), &c), HSM_OK);
		admincmd_free(&c);
	}
	expect_parse_fail("[]", "JSON object");
	expect_parse_fail("{\"body\":{}}", NULL);
	expect_parse_fail("{\"body\":1,\"signatures\":[]}", "JSON object");
	expect_parse_fail(BODY("bogus", "{}", T1, "1", "2", NONCE), "unknown operation");
	expect_parse_fail(BODY("zeroize", "{\"x\":1}", T1, "1", "2", NONCE), "unexpected field");
	expect_parse_fail(BODY("zeroize", "{}", T1, "3", "2", NONCE), "not_after");
	expect_parse_fail(BODY("zeroize", "{}", T1, "1", "2", "0011"), NULL);
	expect_parse_fail(BODY("zeroize", "{}", T1, "1.5", "2", NONCE), NULL);
	expect_parse_fail(BODY("zeroize", "{}", T1, "-1", "2", NONCE), NULL);
	expect_parse_fail(BODY("zeroize", "{}", "[]", "1", "2", NONCE), "no target");
	expect_parse_fail(BODY("zeroize", "{}",
	    "[{\"counter\":0,\"domain\":85,\"module\":\"M1\"}]", "1", "2", NONCE), "domain");
	expect_parse_fail(BODY("zeroize", "{}",
	    "[{\"counter\":0,\"domain\":1,\"module\":\"M 1\"}]", "1", "2", NONCE), "serial");
	expect_parse_fail(BODY("zeroize", "{}",
	    "[{\"counter\":0,\"domain\":1,\"module\":\"M1\"},"
	    "{\"counter\":3,\"domain\":1,\"module\":\"M1\"}]", "1", "2", NONCE), "twice");
	expect_parse_fail(BODY("thresholds.set", "{\"revocation\":1,\"signature\":9}", T1,
	    "1", "2", NONCE), "signature");
	expect_parse_fail(BODY("admin.add", "{\"identity\":\"a\",\"name\":\"n\",\"pubkey\":\"04aa\"}",
	    T1, "1", "2", NONCE), "pubkey");
	expect_parse_fail(BODY("admin.remove", "{\"ski\":\"00\"}", T1, "1", "2", NONCE), NULL);
	/* version */
	expect_parse_fail("{\"body\":{\"nonce\":\"" NONCE "\",\"not_after\":2,\"not_before\":1,"
	    "\"op\":\"zeroize\",\"params\":{},\"targets\":" T1 ",\"v\":2},\"signatures\":[]}",
	    "version");
	/* duplicate key */
	expect_parse_fail("{\"body\":{},\"body\":{}}", NULL);
	/* signatures */
	expect_parse_fail("{\"body\":{\"nonce\":\"" NONCE "\",\"not_after\":2,\"not_before\":1,"
	    "\"op\":\"zeroize\",\"params\":{},\"targets\":" T1 ",\"v\":1},\"signatures\":"
	    "[{\"signature\":\"MAA=\",\"ski\":\"" NONCE NONCE "\"},"
	    "{\"signature\":\"MAA=\",\"ski\":\"" NONCE NONCE "\"}]}", "signed twice");
	expect_parse_fail("{\"body\":{\"nonce\":\"" NONCE "\",\"not_after\":2,\"not_before\":1,"
	    "\"op\":\"zeroize\",\"params\":{},\"targets\":" T1 ",\"v\":1},\"signatures\":"
	    "[{\"signature\":\"M A=\",\"ski\":\"" NONCE NONCE "\"}]}", NULL);
	expect_parse_fail("{\"body\":{\"nonce\":\"" NONCE "\",\"not_after\":2,\"not_before\":1,"
	    "\"op\":\"zeroize\",\"params\":{},\"targets\":" T1 ",\"v\":1},\"signatures\":"
	    "[{\"sig\":\"MAA=\",\"ski\":\"" NONCE NONCE "\"}]}", NULL);
	expect_parse_fail("{\"body\":{\"nonce\":\"" NONCE "\",\"not_after\":2,\"not_before\":1,"
	    "\"op\":\"zeroize\",\"params\":{},\"targets\":" T1 ",\"v\":1},\"extra\":1}",
	    "unexpected field");
}

static void
test_new_bad(void **state)
{
	admincmd *c = NULL;
	static const admincmd_target dup[] = { { "M1", 1, 0 }, { "M1", 1, 2 } };
	json_t *bad = json_pack("{s:i, s:i}", "signature", 0, "revocation", 1);

	(void)state;
	assert_int_equal(admincmd_new("zeroize", NULL, dup, 2, 1, 2, &c), HSM_ERR_FORMAT);
	assert_null(c);
	assert_int_equal(admincmd_new("zeroize", NULL, dup, 1, 2, 1, &c), HSM_ERR_FORMAT);
	assert_int_equal(admincmd_new("thresholds.set", bad, dup, 1, 1, 2, &c), HSM_ERR_FORMAT);
	assert_int_equal(admincmd_new("zeroize", NULL, dup, 0, 1, 2, &c), HSM_ERR_FORMAT);
	assert_int_equal(admincmd_new(NULL, NULL, dup, 1, 1, 2, &c), HSM_ERR_USAGE);
	json_decref(bad);
}

/* The signature of the first signer of c, decoded. */
static void
first_sig(admincmd *c, json_t **j, uint8_t **der, size_t *derlen)
{
	json_t *e;

	assert_int_equal(admincmd_to_json(c, j), HSM_OK);
	e = json_array_get(json_object_get(*j, "signatures"), 0);
	assert_non_null(e);
	assert_int_equal(b64_decode(json_string_value(json_object_get(e, "signature")), der,
	    derlen), HSM_OK);
}

/* A signer like a card: the raw signature of the key, in its high-S form
 * whenever OpenSSL made the low-S one, so that a test always sees high-S. */
static hsm_rc
card_like_sign(void *ctx, const uint8_t *dg, size_t dglen, uint8_t **sig, size_t *siglen)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, ctx, NULL);
	uint8_t buf[160];
	size_t len = sizeof(buf);
	hsm_rc rc = HSM_ERR_CRYPTO;

	if (pc != NULL && EVP_PKEY_sign_init(pc) > 0 &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha384()) > 0 &&
	    EVP_PKEY_sign(pc, buf, &len, dg, dglen) > 0) {
		if (ecdsa_is_high_s(ctx, buf, len) == 1) {
			if ((*sig = malloc(len)) != NULL) {
				memcpy(*sig, buf, len);
				*siglen = len;
				rc = HSM_OK;
			}
		} else if (ecdsa_twin(ctx, buf, len, sig, siglen) == 0)
			rc = HSM_OK;
	}
	EVP_PKEY_CTX_free(pc);
	return rc;
}

static void
card_like_free(void *ctx)
{
	EVP_PKEY_free(ctx);
}

static const struct hsm_signer_ops card_like_ops = {
	.sign_digest = card_like_sign, .free_ctx = card_like_free,
};

/* One signature, one encoding: a command carrying the high-S form (r, n - s)
 * of a valid signature is refused where a module verifies it, and our own
 * signers, a card's raw answer included, write the low-S form. Before, the
 * high-S twin counted towards the quorum like the original. */
static void
test_high_s_refused(void **state)
{
	admincmd *c = make_add(), *d = NULL;
	json_t *j = NULL, *e;
	uint8_t *der = NULL, *twin = NULL;
	size_t derlen = 0, twinlen = 0;
	char *b64 = NULL, path[128];
	EVP_PKEY *priv = NULL;
	hsm_signer *card = NULL;

	(void)state;
	assert_int_equal(admincmd_sign(c, sg[K_ALICE]), HSM_OK);
	assert_int_equal(admincmd_sign(c, sg[K_BOB]), HSM_OK);
	first_sig(c, &j, &der, &derlen);
	assert_int_equal(ecdsa_is_high_s(pubs[K_ALICE], der, derlen), 0);
	assert_int_equal(ecdsa_twin(pubs[K_ALICE], der, derlen, &twin, &twinlen), 0);
	assert_int_equal(b64_encode(twin, twinlen, &b64), HSM_OK);
	e = json_array_get(json_object_get(j, "signatures"), 0);
	json_object_set_new(e, "signature", json_string(b64));
	assert_int_equal(admincmd_from_json(j, &d), HSM_OK);
	assert_int_equal(verify(d, "DC1-M01", 3, 5, NOW, 2, 1, NULL), HSM_ERR_VERIFY);
	assert_non_null(strstr(hsm_errmsg(), "high-S"));
	admincmd_free(&d);
	json_decref(j);
	j = NULL;
	free(der);
	der = NULL;

	/* A card that answers high-S: the command stores the low-S form. */
	snprintf(path, sizeof(path), "%s/k%d.pem", tmpdir, K_BOB);
	assert_int_equal(crypto_priv_load_pem(path, &priv), HSM_OK);
	assert_int_equal(signer_new(&card_like_ops, priv, pubs[K_BOB], "card of Bob", &card),
	    HSM_OK);
	admincmd_free(&c);
	c = make_add();
	assert_int_equal(admincmd_sign(c, card), HSM_OK);
	first_sig(c, &j, &der, &derlen);
	assert_int_equal(ecdsa_is_high_s(pubs[K_BOB], der, derlen), 0);
	assert_int_equal(admincmd_sign(c, sg[K_ALICE]), HSM_OK);
	assert_int_equal(verify(c, "DC1-M01", 3, 5, NOW, 2, 1, NULL), HSM_OK);
	signer_free(&card);
	json_decref(j);
	free(der);
	free(twin);
	free(b64);
	admincmd_free(&c);
}

/* A command's window (not_after - not_before) is at most 7 days and an hour
 * (docs/formats/command.md): a signed command must not stay usable for
 * years. Before, 0 .. 2^53-1 was accepted. */
static void
test_window_limit(void **state)
{
	static const admincmd_target t[] = { { "M1", 1, 0 } };
	admincmd *c = NULL;

	(void)state;
	assert_int_equal(admincmd_new("zeroize", NULL, t, 1, NOW, NOW + 608400, &c), HSM_OK);
	admincmd_free(&c);
	assert_int_equal(admincmd_new("zeroize", NULL, t, 1, NOW, NOW + 608401, &c),
	    HSM_ERR_FORMAT);
	assert_null(c);
	assert_non_null(strstr(hsm_errmsg(), "7 days"));
	/* A module parses the file: the same limit there. */
	expect_parse_fail(BODY("zeroize", "{}", T1, "0", "9007199254740991", NONCE), "7 days");
	expect_parse_fail(BODY("zeroize", "{}", T1, "1800000000", "1800608401", NONCE), "7 days");
	{
		const char *ok = BODY("zeroize", "{}", T1, "1800000000", "1800608400", NONCE);
		assert_int_equal(admincmd_parse(ok, strlen(ok), &c), HSM_OK);
		admincmd_free(&c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_sign_twice_refused),
		cmocka_unit_test(test_quorum),
		cmocka_unit_test(test_approved_load_needs_no_signature),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_memo_per_admin_set),
		cmocka_unit_test(test_tampered_body),
		cmocka_unit_test(test_required_sigs),
		cmocka_unit_test(test_imprint_leave),
		cmocka_unit_test(test_unsigned_imprint_add),
		cmocka_unit_test(test_summary_and_digest),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_new_bad),
		cmocka_unit_test(test_high_s_refused),
		cmocka_unit_test(test_window_limit),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
