/* SPDX-License-Identifier: BSD-2-Clause */
/* test_sim_domain.c - the emulator's domain state machine, called directly:
 * every rule of DESIGN §4 and every refusal, with real signatures (admincmd)
 * and real key-part wrapping (kpwrap). Built twice: test_sim_domain on the
 * file store, test_sim_domain_p11 (SIM_DOMAIN_P11) with the domain's keys on
 * a SoftHSMv2 token made in a scratch folder, where every test runs the
 * same and a few say what only a token shows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/fileio.h"
#include "hsmadm/kpwrap.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/signer.h"
#include "hsmadm/vp.h"

#include "simblob.h"
#include "simdom.h"

#ifdef SIM_DOMAIN_P11
#include "keystore.h"
#include "p11.h"
#define P11LIB "/usr/lib/softhsm/libsofthsm2.so"
static char      p11dir[] = "/tmp/test_sim_domain_p11.XXXXXX";
static keystore *tks;    /* the domains' key store */
static p11      *tp11;   /* the same token, to look at it */
#define LOAD(path, idx, out) simdom_load_ks((path), (idx), tks, (out))
#else
#define LOAD(path, idx, out) simdom_load((path), (idx), (out))
#endif

#define MOD "DC1-M01"
#define DOM 3
#define NADM 10

typedef struct fx {
	char        dir[64];
	hsm_signer *adm[NADM];
	char       *pubhex[NADM];
	char       *skihex[NADM];
	simdom     *d;
	int64_t     now;
	const char *reason;   /* of the last apply */
	json_t     *result;   /* of the last successful apply */
} fx;

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	int i;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_sim_domain.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	for (i = 0; i < NADM; i++) {
		EVP_PKEY *k = NULL;
		char path[128];
		uint8_t *pt = NULL, ski[HSM_SKI_LEN];
		size_t ptlen = 0;

		assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
		snprintf(path, sizeof(path), "%s/admin%d.pem", f->dir, i);
		assert_int_equal(crypto_priv_save_pem(path, k), HSM_OK);
		assert_int_equal(signer_from_keyfile(path, &f->adm[i]), HSM_OK);
		assert_int_equal(crypto_ec_point(k, &pt, &ptlen), HSM_OK);
		assert_int_equal(hex_encode(pt, ptlen, &f->pubhex[i]), HSM_OK);
		assert_int_equal(crypto_ski(k, ski), HSM_OK);
		assert_int_equal(hex_encode(ski, HSM_SKI_LEN, &f->skihex[i]), HSM_OK);
		free(pt);
		EVP_PKEY_free(k);
	}
	{
		char fresh[128];
		snprintf(fresh, sizeof(fresh), "%s/fresh.json", f->dir);
		assert_int_equal(LOAD(fresh, DOM, &f->d), HSM_OK);
	}
	f->now = (int64_t)time(NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	char cmd[128];
	int i;

	for (i = 0; i < NADM; i++) {
		signer_free(&f->adm[i]);
		free(f->pubhex[i]);
		free(f->skihex[i]);
	}
	simdom_free(&f->d);
	json_decref(f->result);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* Build op with params for (MOD, DOM, counter), signed by the admins listed
 * in `who` (indices, -1 terminated), valid [nb, na] relative to now. */
static json_t *
make_cmd(fx *f, const char *op, json_t *params, long long counter, const int *who,
         int64_t nb, int64_t na)
{
	admincmd *c = NULL;
	admincmd_target t = { MOD, DOM, (uint64_t)counter };
	json_t *j = NULL;

	assert_int_equal(admincmd_new(op, params, &t, 1, f->now + nb, f->now + na, &c), HSM_OK);
	for (; who != NULL && *who >= 0; who++)
		assert_int_equal(admincmd_sign(c, f->adm[*who]), HSM_OK);
	assert_int_equal(admincmd_to_json(c, &j), HSM_OK);
	admincmd_free(&c);
	json_decref(params);
	return j;
}

#ifdef SIM_DOMAIN_P11
/* What the module does once the next state is saved: destroy the objects
 * the result names, which must be exactly those the old state named and
 * the new one does not; they exist before and are gone after. */
static void
p11_replace(const simdom *old, const simdom *next, const json_t *result)
{
	json_t *want = json_array(), *named = json_object_get(result, "token_objects_destroyed");
	size_t i;
	p11_obj h;

	assert_int_equal(simdom_objects_gone(old, next, 0, want), HSM_OK);
	assert_true(json_array_size(want) == 0 ? named == NULL : json_equal(want, named));
	for (i = 0; i < json_array_size(want); i++) {
		const char *l = json_string_value(json_array_get(want, i));
		assert_true(p11_find(tp11, P11_SECRET, l, &h) == HSM_OK ||
		            p11_find(tp11, P11_PRIVATE, l, &h) == HSM_OK);
	}
	assert_int_equal(simdom_objects_gone(old, next, 1, NULL), HSM_OK);
	for (i = 0; i < json_array_size(want); i++) {
		const char *l = json_string_value(json_array_get(want, i));
		assert_int_equal(p11_find(tp11, P11_SECRET, l, &h), HSM_ERR_NOT_FOUND);
		assert_int_equal(p11_find(tp11, P11_PRIVATE, l, &h), HSM_ERR_NOT_FOUND);
	}
	json_decref(want);
}
#else
static void
p11_replace(const simdom *old, const simdom *next, const json_t *result)
{
	(void)old;
	(void)next;
	assert_null(json_object_get(result, "token_objects_destroyed"));
}
#endif

/* Apply a command file; on success the domain advances. */
static hsm_rc
apply_json(fx *f, json_t *cmd)
{
	simdom *next = NULL;
	const char *op = NULL;
	hsm_rc rc;

	json_decref(f->result);
	f->result = NULL;
	rc = simdom_apply(f->d, MOD, cmd, f->now, &next, &f->result, &op, &f->reason);
	if (rc == HSM_OK) {
		assert_non_null(next);
		assert_non_null(f->result);
		assert_null(f->reason);
		p11_replace(f->d, next, f->result);
		simdom_free(&f->d);
		f->d = next;
	} else {
		assert_null(next);
		assert_null(f->result);
		assert_non_null(f->reason);
	}
	json_decref(cmd);
	return rc;
}

static hsm_rc
apply(fx *f, const char *op, json_t *params, const int *who)
{
	return apply_json(f, make_cmd(f, op, params, (long long)simdom_counter(f->d), who,
	                              -60, 3600));
}

static const int none[] = { -1 };

static json_t *
add_params(fx *f, int i, const char *identity)
{
	char name[32];

	snprintf(name, sizeof(name), "Admin %d", i);
	return json_pack("{s:s, s:s, s:s}", "pubkey", f->pubhex[i], "name", name,
	                 "identity", identity);
}

static void
add_admin(fx *f, int i, const char *identity, const int *who)
{
	assert_int_equal(apply(f, "admin.add", add_params(f, i, identity), who), HSM_OK);
}

static json_t *
pub(fx *f)
{
	json_t *p = NULL;

	assert_int_equal(simdom_public(f->d, MOD, 1, &p), HSM_OK);
	return p;
}

static const char *
reg_state(fx *f, const char *reg)
{
	static char buf[32];
	json_t *p = pub(f);

	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(
	         json_object_get(json_object_get(p, "registers"), reg), "state")));
	json_decref(p);
	return buf;
}

/* Three admins a0 a1 a2 (distinct identities) and thresholds 2/1. */
static void
three_admins_2_of_3(fx *f)
{
	static const int two[] = { 0, 1, -1 };

	add_admin(f, 0, "alice", none);
	add_admin(f, 1, "bob", none);
	add_admin(f, 2, "carol", none);
	assert_int_equal(apply(f, "thresholds.set",
	                       json_pack("{s:i, s:i}", "signature", 2, "revocation", 1), two), HSM_OK);
}

/* ---- imprint mode --------------------------------------------------------- */

static void
test_imprint_add_unsigned_and_counter(void **state)
{
	fx *f = *state;
	json_t *p;

	assert_int_equal(simdom_counter(f->d), 0);
	add_admin(f, 0, "alice", none);
	assert_int_equal(simdom_counter(f->d), 1);
	p = pub(f);
	assert_true(json_is_true(json_object_get(p, "imprint")));
	assert_int_equal(json_array_size(json_object_get(p, "admins")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(p, "admins"), 0), "ski")),
	                    f->skihex[0]);
	assert_string_equal(json_string_value(json_object_get(f->result, "ski")), f->skihex[0]);
	json_decref(p);
	/* remove (unsigned in imprint) refuses the last admin */
	assert_int_equal(apply(f, "admin.remove", json_pack("{s:s}", "ski", f->skihex[0]), none),
	                 HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "last_admin");
	add_admin(f, 1, "bob", none);
	assert_int_equal(apply(f, "admin.remove", json_pack("{s:s}", "ski", f->skihex[0]), none), HSM_OK);
	assert_int_equal(simdom_counter(f->d), 3);
}

/* A batch's save: staged beside the file, the file unchanged until the
 * state is placed; unstaged, nothing is left behind. */
static void
test_stage_place_unstage(void **state)
{
	fx *f = *state;
	simdom *back = NULL;
	char path[512], tmp[520], prev[520];
	struct stat st;
	ino_t ino;
	int fd = -1;

	snprintf(path, sizeof(path), "%s/staged.json", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.next", path);
	assert_int_equal(simdom_save(f->d, path), HSM_OK);
	add_admin(f, 0, "alice", none);
	assert_int_equal(simdom_stage(f->d, path), HSM_OK);
	assert_int_equal(access(tmp, F_OK), 0);
	assert_int_equal(LOAD(path, DOM, &back), HSM_OK);
	assert_int_equal(simdom_counter(back), 0);   /* not placed yet */
	simdom_free(&back);
	assert_int_equal(hsm_fs_batch_open(f->dir, &fd), HSM_OK);
	assert_int_equal(hsm_fs_batch_sync(fd, f->dir), HSM_OK);
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	ino = st.st_ino;
	assert_int_equal(simdom_place(path), HSM_OK);
	assert_int_equal(LOAD(path, DOM, &back), HSM_OK);
	assert_int_equal(simdom_counter(back), 1);
	simdom_free(&back);
	/* the replaced file stays, emptied, as the next staged file */
	assert_int_equal(stat(tmp, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_ino, ino);
	snprintf(prev, sizeof(prev), "%s.prev", path);
	assert_int_not_equal(access(prev, F_OK), 0);
	/* unstaged: the file keeps the placed state, no temporary stays */
	add_admin(f, 1, "bob", none);
	assert_int_equal(simdom_stage(f->d, path), HSM_OK);
	simdom_unstage(path);
	assert_int_not_equal(access(tmp, F_OK), 0);
	assert_int_equal(LOAD(path, DOM, &back), HSM_OK);
	assert_int_equal(simdom_counter(back), 1);
	simdom_free(&back);
	/* nothing staged: placing says so and changes nothing */
	assert_int_equal(simdom_place(path), HSM_ERR_IO);
	assert_int_not_equal(access(prev, F_OK), 0);
	assert_non_null(strstr(hsm_errmsg(), "cannot rename"));
}

static void
test_imprint_refuses_mk_ops(void **state)
{
	fx *f = *state;
	static const int a0[] = { 0, -1 };
	const char *ops[] = { "importer.generate", "mk.clear_pending", "mk.destroy_old",
	                      "mk.backout" };
	size_t i;

	add_admin(f, 0, "alice", none);
	for (i = 0; i < 4; i++) {
		assert_int_equal(apply(f, ops[i], json_object(), a0), HSM_ERR_STATE);
		assert_string_equal(f->reason, "imprint_mode");
	}
	assert_int_equal(simdom_counter(f->d), 1);
}

static void
test_admin_list_full_and_duplicate(void **state)
{
	fx *f = *state;
	char id[8];
	int i;

	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		add_admin(f, i, id, none);
	}
	assert_int_equal(apply(f, "admin.add", add_params(f, 8, "id8"), none), HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "admin_list_full");
	assert_int_equal(apply(f, "admin.add", add_params(f, 3, "again"), none), HSM_ERR_EXISTS);
	assert_string_equal(f->reason, "admin_exists");
	assert_int_equal(simdom_counter(f->d), 8);
}

/* ---- thresholds ------------------------------------------------------------- */

static void
test_leave_imprint_needs_new_threshold(void **state)
{
	fx *f = *state;
	static const int one[] = { 0, -1 }, two[] = { 0, 1, -1 };

	add_admin(f, 0, "alice", none);
	add_admin(f, 1, "bob", none);
	add_admin(f, 2, "carol", none);
	assert_int_equal(apply(f, "thresholds.set",
	                       json_pack("{s:i, s:i}", "signature", 2, "revocation", 1), one),
	                 HSM_ERR_QUORUM);
	assert_string_equal(f->reason, "insufficient_signatures");
	/* 0 thresholds cannot even be expressed as a command: the module
	 * refuses the file (and would refuse the values: revocation_zero). */
	{
		json_t *c = make_cmd(f, "thresholds.set",
		                     json_pack("{s:i, s:i}", "signature", 2, "revocation", 1), 3, two, -60, 60);
		json_object_set_new(json_object_get(json_object_get(c, "body"), "params"),
		                    "revocation", json_integer(0));
		assert_int_equal(apply_json(f, c), HSM_ERR_FORMAT);
		assert_string_equal(f->reason, "bad_command");
	}
	assert_int_equal(apply(f, "thresholds.set",
	                       json_pack("{s:i, s:i}", "signature", 4, "revocation", 1), two),
	                 HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "threshold_exceeds_admins");
	assert_int_equal(simdom_counter(f->d), 3);
	assert_int_equal(apply(f, "thresholds.set",
	                       json_pack("{s:i, s:i}", "signature", 2, "revocation", 1), two), HSM_OK);
	{
		json_t *p = pub(f);
		assert_true(json_is_false(json_object_get(p, "imprint")));
		json_decref(p);
	}
	/* Out of imprint: admin.add needs the signature threshold (2). */
	assert_int_equal(apply(f, "admin.add", add_params(f, 3, "dave"), none), HSM_ERR_QUORUM);
	assert_int_equal(apply(f, "admin.add", add_params(f, 3, "dave"), one), HSM_ERR_QUORUM);
	assert_int_equal(apply(f, "admin.add", add_params(f, 3, "dave"), two), HSM_OK);
}

static void
test_identities_count_once(void **state)
{
	fx *f = *state;
	static const int same[] = { 0, 1, -1 }, two[] = { 0, 2, -1 };

	add_admin(f, 0, "alice", none);
	add_admin(f, 1, "alice", none);   /* alice's backup card */
	add_admin(f, 2, "bob", none);
	/* Two identities exist: a 3-threshold is refused. */
	assert_int_equal(apply(f, "thresholds.set",
	                       json_pack("{s:i, s:i}", "signature", 3, "revocation", 1), two),
	                 HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "threshold_exceeds_admins");
	/* Both of alice's cards count once. */
	assert_int_equal(apply(f, "thresholds.set",
	                       json_pack("{s:i, s:i}", "signature", 2, "revocation", 2), same),
	                 HSM_ERR_QUORUM);
	assert_int_equal(apply(f, "thresholds.set",
	                       json_pack("{s:i, s:i}", "signature", 2, "revocation", 2), two), HSM_OK);
	/* Removing bob would leave 1 identity < thresholds 2/2. */
	assert_int_equal(apply(f, "admin.remove", json_pack("{s:s}", "ski", f->skihex[2]), two),
	                 HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "below_threshold");
	/* Removing alice's backup keeps 2 identities. */
	assert_int_equal(apply(f, "admin.remove", json_pack("{s:s}", "ski", f->skihex[1]), two), HSM_OK);
}

static void
test_remove_needs_revocation_threshold(void **state)
{
	fx *f = *state;
	static const int one[] = { 1, -1 }, two[] = { 0, 1, -1 };

	add_admin(f, 0, "alice", none);
	add_admin(f, 1, "bob", none);
	add_admin(f, 2, "carol", none);
	assert_int_equal(apply(f, "thresholds.set",
	                       json_pack("{s:i, s:i}", "signature", 1, "revocation", 2), two), HSM_OK);
	assert_int_equal(apply(f, "admin.remove", json_pack("{s:s}", "ski", f->skihex[2]), one),
	                 HSM_ERR_QUORUM);
	assert_int_equal(apply(f, "admin.remove", json_pack("{s:s}", "ski", f->skihex[5]), two),
	                 HSM_ERR_NOT_FOUND);
	assert_string_equal(f->reason, "no_such_admin");
	assert_int_equal(apply(f, "admin.remove", json_pack("{s:s}", "ski", f->skihex[2]), two), HSM_OK);
}

/* ---- counters, time, signers ------------------------------------------------------ */

static void
test_counter_replay_and_window(void **state)
{
	fx *f = *state;
	json_t *c, *again;
	static const int a0[] = { 0, -1 }, a9[] = { 9, -1 };

	three_admins_2_of_3(f);
	assert_int_equal(simdom_counter(f->d), 4);
	/* stale and future counters */
	assert_int_equal(apply_json(f, make_cmd(f, "importer.generate", json_object(), 3, a0, -60, 60)),
	                 HSM_ERR_REPLAY);
	assert_string_equal(f->reason, "counter_mismatch");
	assert_int_equal(apply_json(f, make_cmd(f, "importer.generate", json_object(), 5, a0, -60, 60)),
	                 HSM_ERR_REPLAY);
	/* a command applies once */
	c = make_cmd(f, "importer.generate", json_object(), 4, a0, -60, 60);
	again = json_deep_copy(c);
	assert_int_equal(apply_json(f, c), HSM_OK);
	assert_int_equal(apply_json(f, again), HSM_ERR_REPLAY);
	/* time window */
	assert_int_equal(apply_json(f, make_cmd(f, "importer.generate", json_object(), 5, a0, -120, -60)),
	                 HSM_ERR_EXPIRED);
	assert_string_equal(f->reason, "expired");
	assert_int_equal(apply_json(f, make_cmd(f, "importer.generate", json_object(), 5, a0, 60, 120)),
	                 HSM_ERR_EXPIRED);
	assert_string_equal(f->reason, "not_yet_valid");
	/* a stranger's signature */
	assert_int_equal(apply(f, "importer.generate", json_object(), a9), HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "unknown_signer");
	/* not addressed to this domain */
	{
		admincmd *ac = NULL;
		admincmd_target t = { MOD, DOM + 1, 5 };
		json_t *j = NULL;
		assert_int_equal(admincmd_new("importer.generate", NULL, &t, 1, f->now - 5, f->now + 60, &ac), HSM_OK);
		assert_int_equal(admincmd_sign(ac, f->adm[0]), HSM_OK);
		assert_int_equal(admincmd_to_json(ac, &j), HSM_OK);
		admincmd_free(&ac);
		assert_int_equal(apply_json(f, j), HSM_ERR_REFUSED);
		assert_string_equal(f->reason, "not_a_target");
	}
	assert_int_equal(simdom_counter(f->d), 5);
}

static void
test_tampered_command(void **state)
{
	fx *f = *state;
	static const int a0[] = { 0, -1 };
	json_t *c;

	three_admins_2_of_3(f);
	c = make_cmd(f, "importer.generate", json_object(), 4, a0, -60, 60);
	/* Change the body after signing: a new nonce. */
	json_object_set_new(json_object_get(c, "body"), "nonce",
	                    json_string("00112233445566778899aabbccddeeff"));
	assert_int_equal(apply_json(f, c), HSM_ERR_VERIFY);
	assert_string_equal(f->reason, "bad_signature");
	/* Not a command at all. */
	assert_int_equal(apply_json(f, json_pack("{s:s}", "body", "x")), HSM_ERR_FORMAT);
	assert_string_equal(f->reason, "bad_command");
	assert_int_equal(simdom_counter(f->d), 4);
}

/* ---- master keys ---------------------------------------------------------------- */

typedef struct parts {
	hsm_secbuf *p[3];
	uint8_t     key[32];
	uint8_t     mkvp[32];
	char        mkvphex[65];
} parts;

static void
make_parts(parts *ps, int n, const uint8_t *want_key)
{
	int i;

	memset(ps->key, 0, 32);
	for (i = 0; i < n; i++) {
		assert_int_equal(secbuf_new(32, &ps->p[i]), HSM_OK);
		ps->p[i]->len = 32;
		assert_int_equal(crypto_random(ps->p[i]->data, 32), HSM_OK);
	}
	if (want_key != NULL) {
		/* Force the XOR of the parts to want_key via the last part. */
		uint8_t acc[32];
		memcpy(acc, want_key, 32);
		for (i = 0; i < n - 1; i++)
			vp_xor_into(acc, ps->p[i]->data);
		memcpy(ps->p[n - 1]->data, acc, 32);
	}
	for (i = 0; i < n; i++)
		vp_xor_into(ps->key, ps->p[i]->data);
	assert_int_equal(vp_compute(ps->key, ps->mkvp), HSM_OK);
	hex_encode_buf(ps->mkvp, 32, ps->mkvphex);
}

static void
free_parts(parts *ps)
{
	int i;

	for (i = 0; i < 3; i++)
		secbuf_free(&ps->p[i]);
}

static EVP_PKEY *
importer_pub(fx *f)
{
	json_t *p = pub(f);
	const char *hex = json_string_value(json_object_get(json_object_get(p, "importer"), "pubkey"));
	uint8_t *pt = NULL;
	size_t n = 0;
	EVP_PKEY *k = NULL;

	assert_non_null(hex);
	assert_int_equal(hex_decode(hex, &pt, &n), HSM_OK);
	assert_int_equal(crypto_ec_from_point(HSM_CURVE_P384, pt, n, &k), HSM_OK);
	free(pt);
	json_decref(p);
	return k;
}

static json_t *
load_params(fx *f, const parts *ps, int idx, int n, unsigned domain, const uint8_t *kpvp_override)
{
	EVP_PKEY *imp = importer_pub(f);
	kpwrap_binding b = { MOD, domain, (uint32_t)idx };
	kpwrap_blob blob;
	json_t *w = NULL;
	uint8_t kpvp[32];
	char hex[65];

	assert_int_equal(kpwrap_wrap(ps->p[idx - 1], imp, &b, &blob), HSM_OK);
	assert_int_equal(kpwrap_blob_to_json(&blob, &w), HSM_OK);
	if (kpvp_override)
		memcpy(kpvp, kpvp_override, 32);
	else
		assert_int_equal(vp_compute(ps->p[idx - 1]->data, kpvp), HSM_OK);
	hex_encode_buf(kpvp, 32, hex);
	EVP_PKEY_free(imp);
	return json_pack("{s:i, s:i, s:s, s:o}", "part_index", idx, "parts", n, "kpvp", hex,
	                 "wrapped", w);
}

static json_t *
vp_params(const char *hex)
{
	return json_pack("{s:s}", "mkvp", hex);
}

static const int A0[] = { 0, -1 }, A01[] = { 0, 1, -1 };

static void
load_commit(fx *f, parts *ps)
{
	assert_int_equal(apply(f, "mk.load_part", load_params(f, ps, 1, 2, DOM, NULL), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, ps, 2, 2, DOM, NULL), A0), HSM_OK);
	assert_string_equal(reg_state(f, "pending"), "uncommitted");
	assert_int_equal(apply(f, "mk.commit", vp_params(ps->mkvphex), A01), HSM_OK);
}

static void
test_master_key_lifecycle(void **state)
{
	fx *f = *state;
	parts k1, k2, k3, same;
	uint8_t zero[32] = { 0 };
	json_t *p;

	memset(&k1, 0, sizeof(k1));
	memset(&k2, 0, sizeof(k2));
	memset(&k3, 0, sizeof(k3));
	memset(&same, 0, sizeof(same));
	three_admins_2_of_3(f);
	make_parts(&k1, 2, NULL);

	/* No importer yet. */
	assert_int_equal(apply(f, "mk.clear_pending", json_object(), A0), HSM_ERR_STATE);
	assert_string_equal(f->reason, "pending_empty");
	{
		json_t *pp = json_pack("{s:i, s:i, s:s, s:{s:i, s:s, s:s}}", "part_index", 1, "parts", 2,
		                       "kpvp", k1.mkvphex, "wrapped", "v", 1, "epk", "00", "wrapped", "00");
		assert_int_equal(apply(f, "mk.load_part", pp, A0), HSM_ERR_STATE);
		assert_string_equal(f->reason, "no_importer");
	}
	assert_int_equal(apply(f, "importer.generate", json_object(), A0), HSM_OK);
	assert_non_null(json_object_get(f->result, "pubkey"));

	/* Part 1 in: partial. */
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k1, 1, 2, DOM, NULL), A0), HSM_OK);
	assert_string_equal(reg_state(f, "pending"), "partial");
	assert_string_equal(json_string_value(json_object_get(f->result, "pending_state")), "partial");
	/* The same index again, a different part count, a wrong KPVP, a part
	 * wrapped for another domain, one parts=1. */
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k1, 1, 2, DOM, NULL), A0), HSM_ERR_EXISTS);
	assert_string_equal(f->reason, "part_loaded");
	make_parts(&k3, 3, NULL);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k3, 2, 3, DOM, NULL), A0), HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "part_count_mismatch");
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k1, 2, 2, DOM, zero), A0), HSM_ERR_VERIFY);
	assert_string_equal(f->reason, "kpvp_mismatch");
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k1, 2, 2, DOM + 1, NULL), A0), HSM_ERR_VERIFY);
	assert_string_equal(f->reason, "unwrap_failed");
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k1, 1, 1, DOM, NULL), A0), HSM_ERR_FORMAT);
	assert_string_equal(f->reason, "bad_params");
	assert_string_equal(reg_state(f, "pending"), "partial");

	/* Part 2: uncommitted, MKVP reported. */
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k1, 2, 2, DOM, NULL), A0), HSM_OK);
	assert_string_equal(json_string_value(json_object_get(f->result, "pending_mkvp")), k1.mkvphex);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k1, 2, 2, DOM, NULL), A0), HSM_ERR_STATE);
	assert_string_equal(f->reason, "pending_full");
	/* Activate before commit; commit with one signature; wrong MKVP. */
	assert_int_equal(apply(f, "mk.activate", vp_params(k1.mkvphex), A0), HSM_ERR_STATE);
	assert_string_equal(f->reason, "pending_not_committed");
	assert_int_equal(apply(f, "mk.commit", vp_params(k1.mkvphex), A0), HSM_ERR_QUORUM);
	assert_int_equal(apply(f, "mk.commit", vp_params(f->skihex[0]), A01), HSM_ERR_VERIFY);
	assert_string_equal(f->reason, "mkvp_mismatch");
	assert_int_equal(apply(f, "mk.commit", vp_params(k1.mkvphex), A01), HSM_OK);
	assert_string_equal(reg_state(f, "pending"), "committed");
	assert_int_equal(apply(f, "mk.commit", vp_params(k1.mkvphex), A01), HSM_ERR_STATE);
	assert_string_equal(f->reason, "pending_not_uncommitted");
	assert_int_equal(apply(f, "mk.activate", vp_params(k1.mkvphex), A0), HSM_OK);
	assert_string_equal(reg_state(f, "current"), "valid");
	assert_string_equal(reg_state(f, "pending"), "empty");
	assert_string_equal(reg_state(f, "old"), "empty");

	/* A new key equal to CURRENT is refused at commit. */
	make_parts(&same, 2, k1.key);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &same, 1, 2, DOM, NULL), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &same, 2, 2, DOM, NULL), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.commit", vp_params(same.mkvphex), A01), HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "equals_current");
	assert_int_equal(apply(f, "mk.clear_pending", json_object(), A0), HSM_OK);
	assert_string_equal(reg_state(f, "pending"), "empty");

	/* Rotation: k2 pending -> activate: CURRENT k2, OLD k1. */
	make_parts(&k2, 2, NULL);
	load_commit(f, &k2);
	assert_int_equal(apply(f, "mk.activate", vp_params(k2.mkvphex), A0), HSM_OK);
	p = pub(f);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(p, "registers"), "current"), "mkvp")),
	                    k2.mkvphex);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(p, "registers"), "old"), "mkvp")),
	                    k1.mkvphex);
	json_decref(p);

	/* k1 again equals OLD. */
	free_parts(&same);
	make_parts(&same, 2, k1.key);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &same, 1, 2, DOM, NULL), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &same, 2, 2, DOM, NULL), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.commit", vp_params(same.mkvphex), A01), HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "equals_old");
	assert_int_equal(apply(f, "mk.clear_pending", json_object(), A0), HSM_OK);

	/* Another rotation while OLD is still there: activate refused. */
	free_parts(&k3);
	make_parts(&k3, 2, NULL);
	load_commit(f, &k3);
	assert_int_equal(apply(f, "mk.activate", vp_params(k3.mkvphex), A0), HSM_ERR_STATE);
	assert_string_equal(f->reason, "old_present");
	/* destroy-old: signature threshold, optional MKVP must match. */
	assert_int_equal(apply(f, "mk.destroy_old", json_object(), A0), HSM_ERR_QUORUM);
	assert_int_equal(apply(f, "mk.destroy_old", vp_params(k2.mkvphex), A01), HSM_ERR_VERIFY);
	assert_int_equal(apply(f, "mk.destroy_old", vp_params(k1.mkvphex), A01), HSM_OK);
	assert_string_equal(reg_state(f, "old"), "empty");
#ifdef SIM_DOMAIN_P11
	{   /* the result names OLD's two objects (apply_json saw them go) */
		json_t *gone = json_object_get(f->result, "token_objects_destroyed");
		assert_int_equal(json_array_size(gone), 2);
		assert_non_null(strstr(json_string_value(json_array_get(gone, 0)), "hsmadm:" MOD ":d03:mk:"));
		assert_non_null(strstr(json_string_value(json_array_get(gone, 1)), "hsmadm:" MOD ":d03:bw:"));
	}
#endif
	assert_int_equal(apply(f, "mk.destroy_old", json_object(), A01), HSM_ERR_STATE);
	assert_string_equal(f->reason, "old_empty");
	assert_int_equal(apply(f, "mk.activate", vp_params(k3.mkvphex), A0), HSM_OK);
	assert_string_equal(reg_state(f, "old"), "valid");

	free_parts(&k1);
	free_parts(&k2);
	free_parts(&k3);
	free_parts(&same);
}

/* {"parts": [{index, part_id, kpvp}...]} for the parts of ps. */
static json_t *
approve_params(const parts *ps, int n, const uint8_t *kpvp2_override)
{
	json_t *a = json_array();
	uint8_t kpvp[32];
	char hex[65], id[16];

	for (int i = 0; i < n; i++) {
		assert_int_equal(vp_compute(ps->p[i]->data, kpvp), HSM_OK);
		if (i == 1 && kpvp2_override != NULL)
			memcpy(kpvp, kpvp2_override, 32);
		hex_encode_buf(kpvp, 32, hex);
		snprintf(id, sizeof(id), "p%d", i + 1);
		json_array_append_new(a, json_pack("{s:i, s:s, s:s}", "index", i + 1, "part_id", id,
		    "kpvp", hex));
	}
	return json_pack("{s:o}", "parts", a);
}

/* mk.approve_load: one quorum decision names the parts by KPVP (and makes
 * the importer key); each approved part then loads with no signature, any
 * other part is refused, and the approval lasts as long as that PENDING. */
static void
test_approved_load(void **state)
{
	fx *f = *state;
	parts k1, k2;
	uint8_t zero[32] = { 0 };
	char path[128];
	simdom *back = NULL;
	json_t *p;

	memset(&k1, 0, sizeof(k1));
	memset(&k2, 0, sizeof(k2));
	three_admins_2_of_3(f);
	make_parts(&k1, 2, NULL);
	make_parts(&k2, 2, NULL);
	/* Unsigned loads need an approval; the approval needs the quorum. */
	assert_int_equal(apply(f, "mk.approve_load", approve_params(&k1, 2, NULL), A0), HSM_ERR_QUORUM);
	assert_int_equal(apply(f, "mk.approve_load", approve_params(&k1, 1, NULL), A01), HSM_ERR_FORMAT);
	assert_string_equal(f->reason, "bad_params");
	assert_int_equal(apply(f, "mk.approve_load", approve_params(&k1, 2, NULL), A01), HSM_OK);
	assert_int_equal(json_integer_value(json_object_get(f->result, "approved")), 2);
	assert_non_null(json_object_get(json_object_get(f->result, "importer"), "pubkey"));
	p = pub(f);
	assert_int_equal(json_array_size(json_object_get(json_object_get(json_object_get(p,
	    "registers"), "pending"), "approved")), 2);
	json_decref(p);
	/* The approval survives a restart of the module. */
	snprintf(path, sizeof(path), "%s/approved.json", f->dir);
	assert_int_equal(simdom_save(f->d, path), HSM_OK);
	assert_int_equal(LOAD(path, DOM, &back), HSM_OK);
	simdom_free(&f->d);
	f->d = back;
	/* A part of another key, unsigned: not approved, so a signature is
	 * needed; signed, it is still refused while the approval stands. */
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k2, 1, 2, DOM, NULL), none), HSM_ERR_QUORUM);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k2, 1, 2, DOM, NULL), A0), HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "not_approved");
	/* The approved KPVP claimed for another part's bytes: refused. */
	{
		uint8_t kp1[32];
		assert_int_equal(vp_compute(k1.p[0]->data, kp1), HSM_OK);
		assert_int_equal(apply(f, "mk.load_part", load_params(f, &k2, 1, 2, DOM, kp1), none), HSM_ERR_VERIFY);
		assert_string_equal(f->reason, "kpvp_mismatch");
	}
	/* The approved parts, unsigned. */
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k1, 1, 2, DOM, NULL), none), HSM_OK);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k1, 2, 2, DOM, NULL), none), HSM_OK);
	assert_string_equal(json_string_value(json_object_get(f->result, "pending_mkvp")), k1.mkvphex);
	assert_int_equal(apply(f, "mk.commit", vp_params(k1.mkvphex), A01), HSM_OK);
	assert_int_equal(apply(f, "mk.activate", vp_params(k1.mkvphex), A0), HSM_OK);
	/* Gone with the PENDING it was for: the next key needs its own. */
	p = pub(f);
	assert_int_equal(json_array_size(json_object_get(json_object_get(json_object_get(p,
	    "registers"), "pending"), "approved")), 0);
	json_decref(p);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k2, 1, 2, DOM, NULL), none), HSM_ERR_QUORUM);
	/* A partly loaded PENDING is approved only with the part it holds; an
	 * approval alone can be withdrawn (mk.clear_pending). */
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k2, 1, 2, DOM, NULL), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.approve_load", approve_params(&k1, 2, NULL), A01), HSM_ERR_REFUSED);
	assert_string_equal(f->reason, "not_approved");
	assert_int_equal(apply(f, "mk.approve_load", approve_params(&k2, 2, NULL), A01), HSM_OK);
	assert_int_equal(apply(f, "mk.clear_pending", json_object(), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.approve_load", approve_params(&k2, 2, zero), A01), HSM_OK);
	assert_int_equal(apply(f, "mk.clear_pending", json_object(), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.clear_pending", json_object(), A0), HSM_ERR_STATE);
	assert_string_equal(f->reason, "pending_empty");
	free_parts(&k1);
	free_parts(&k2);
}

/* mk.backout: OLD back to CURRENT, the new key set aside committed in
 * PENDING; a later mk.activate takes it again. */
static void
test_backout(void **state)
{
	fx *f = *state;
	parts k1, k2, k3;
	json_t *p;

	memset(&k1, 0, sizeof(k1));
	memset(&k2, 0, sizeof(k2));
	memset(&k3, 0, sizeof(k3));
	three_admins_2_of_3(f);
	assert_int_equal(apply(f, "importer.generate", json_object(), A0), HSM_OK);
	make_parts(&k1, 2, NULL);
	make_parts(&k2, 2, NULL);
	make_parts(&k3, 2, NULL);
	load_commit(f, &k1);
	assert_int_equal(apply(f, "mk.activate", vp_params(k1.mkvphex), A0), HSM_OK);
	/* No OLD yet. */
	assert_int_equal(apply(f, "mk.backout", vp_params(k1.mkvphex), A01), HSM_ERR_STATE);
	assert_string_equal(f->reason, "old_empty");
	load_commit(f, &k2);
	assert_int_equal(apply(f, "mk.activate", vp_params(k2.mkvphex), A0), HSM_OK);
	/* Needs the signature threshold, the OLD MKVP, an empty PENDING. */
	assert_int_equal(apply(f, "mk.backout", vp_params(k1.mkvphex), A0), HSM_ERR_QUORUM);
	assert_int_equal(apply(f, "mk.backout", json_object(), A01), HSM_ERR_FORMAT);
	assert_string_equal(f->reason, "bad_params");
	assert_int_equal(apply(f, "mk.backout", vp_params(k2.mkvphex), A01), HSM_ERR_VERIFY);
	assert_string_equal(f->reason, "mkvp_mismatch");
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k3, 1, 2, DOM, NULL), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.backout", vp_params(k1.mkvphex), A01), HSM_ERR_STATE);
	assert_string_equal(f->reason, "pending_not_empty");
	assert_int_equal(apply(f, "mk.clear_pending", json_object(), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.backout", vp_params(k1.mkvphex), A01), HSM_OK);
	assert_string_equal(json_string_value(json_object_get(f->result, "mkvp")), k1.mkvphex);
	assert_string_equal(json_string_value(json_object_get(f->result, "pending_mkvp")), k2.mkvphex);
	p = pub(f);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(p, "registers"), "current"), "mkvp")),
	                    k1.mkvphex);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(p, "registers"), "pending"), "mkvp")),
	                    k2.mkvphex);
	json_decref(p);
	assert_string_equal(reg_state(f, "pending"), "committed");
	assert_string_equal(reg_state(f, "old"), "empty");
	/* Twice: there is no OLD any more. */
	assert_int_equal(apply(f, "mk.backout", vp_params(k1.mkvphex), A01), HSM_ERR_STATE);
	assert_string_equal(f->reason, "old_empty");
	/* Finalize again: k2 CURRENT, k1 OLD. */
	assert_int_equal(apply(f, "mk.activate", vp_params(k2.mkvphex), A0), HSM_OK);
	assert_string_equal(reg_state(f, "old"), "valid");
	assert_string_equal(reg_state(f, "pending"), "empty");
	/* Or back out and discard the new key. */
	assert_int_equal(apply(f, "mk.backout", vp_params(k1.mkvphex), A01), HSM_OK);
	assert_int_equal(apply(f, "mk.clear_pending", json_object(), A0), HSM_OK);
	assert_string_equal(reg_state(f, "current"), "valid");
	assert_string_equal(reg_state(f, "pending"), "empty");
	free_parts(&k1);
	free_parts(&k2);
	free_parts(&k3);
}

/* ---- key blobs (simblob.c) --------------------------------------------------- */

/* Run one blob op on a snapshot of the domain; *reason of a refusal. */
static hsm_rc
blob_op(fx *f, const char *op, json_t *params, json_t **result, const char **reason)
{
	simblob_keys k;
	hsm_rc rc;

	*result = NULL;
	assert_int_equal(simblob_keys_get(f->d, &k), HSM_OK);
	rc = simblob_handle(op, &k, params, result, reason);
	simblob_keys_clear(&k);
	json_decref(params);
	return rc;
}

/* blob.encrypt "hello" with the blob; the ciphertext (malloc'ed b64). */
static char *
encrypt_hello(fx *f, const char *blob)
{
	json_t *r = NULL;
	const char *why;
	char *ct;

	assert_int_equal(blob_op(f, "blob.encrypt", json_pack("{s:i, s:s, s:s}", "domain", DOM,
	                 "blob", blob, "data", "aGVsbG8="), &r, &why), HSM_OK);
	ct = strdup(json_string_value(json_object_get(r, "data")));
	json_decref(r);
	return ct;
}

static hsm_rc
decrypt_is_hello(fx *f, const char *blob, const char *ct, const char **why)
{
	json_t *r = NULL;
	hsm_rc rc = blob_op(f, "blob.decrypt", json_pack("{s:i, s:s, s:s}", "domain", DOM,
	                    "blob", blob, "data", ct), &r, why);

	if (rc == HSM_OK)
		assert_string_equal(json_string_value(json_object_get(r, "data")), "aGVsbG8=");
	json_decref(r);
	return rc;
}

/* Re-encipher a run; the outputs (malloc'ed b64) all carry want's prefix. */
static char *
reencipher(fx *f, const char *to, const char *run, const char *wanthex, size_t want_ok)
{
	json_t *r = NULL;
	const char *why, *out;
	uint8_t bin[8 * BLOB_LEN];
	size_t n, i;
	char *copy;

	assert_int_equal(blob_op(f, "blob.reencipher", json_pack("{s:i, s:s, s:s}", "domain", DOM,
	                 "to", to, "blobs", run), &r, &why), HSM_OK);
	assert_string_equal(json_string_value(json_object_get(r, "mkvp")), wanthex);
	assert_int_equal(json_integer_value(json_object_get(r, "count")), want_ok);
	out = json_string_value(json_object_get(r, "blobs"));
	assert_int_equal(blob_b64_decode(out, strlen(out), 8, bin, &n), HSM_OK);
	assert_int_equal(n, want_ok);
	for (i = 0; i < n; i++) {
		char hex[17];
		blob_prefix_hex(bin + i * BLOB_LEN + 4, hex);
		assert_memory_equal(hex, wanthex, 16);
	}
	copy = strdup(out);
	json_decref(r);
	return copy;
}

static void
test_blob_ops(void **state)
{
	fx *f = *state;
	parts k1, k2;
	json_t *r = NULL;
	const char *why;
	char one[BLOB_B64_LEN + 1], *run, *ct, *re, *re1, *back, bad[4 * BLOB_B64_LEN + 1];

	memset(&k1, 0, sizeof(k1));
	memset(&k2, 0, sizeof(k2));
	three_admins_2_of_3(f);
	assert_int_equal(apply(f, "importer.generate", json_object(), A0), HSM_OK);
	/* No CURRENT: nothing to wrap under. */
	assert_int_equal(blob_op(f, "blob.generate", json_pack("{s:i}", "domain", DOM), &r, &why),
	                 HSM_ERR_STATE);
	assert_string_equal(why, "current_empty");
	make_parts(&k1, 2, NULL);
	make_parts(&k2, 2, NULL);
	load_commit(f, &k1);
	assert_int_equal(apply(f, "mk.activate", vp_params(k1.mkvphex), A0), HSM_OK);
	assert_int_equal(blob_op(f, "blob.generate", json_pack("{s:i, s:i, s:s}", "domain", DOM,
	                 "count", 3, "label", "payments"), &r, &why), HSM_OK);
	assert_string_equal(json_string_value(json_object_get(r, "mkvp")), k1.mkvphex);
	run = strdup(json_string_value(json_object_get(r, "blobs")));
	json_decref(r);
	assert_int_equal(strlen(run), 3 * BLOB_B64_LEN);
	memcpy(one, run, BLOB_B64_LEN);
	one[BLOB_B64_LEN] = '\0';
	ct = encrypt_hello(f, one);
	assert_int_equal(decrypt_is_hello(f, one, ct, &why), HSM_OK);
	/* Usage bits are enforced; bad params refused. */
	assert_int_equal(blob_op(f, "blob.generate", json_pack("{s:i, s:s}", "domain", DOM,
	                 "usage", "decrypt"), &r, &why), HSM_OK);
	{
		json_t *p = json_pack("{s:i, s:s, s:s}", "domain", DOM, "blob",
		                      json_string_value(json_object_get(r, "blobs")), "data", "aGVsbG8=");
		json_decref(r);
		assert_int_equal(blob_op(f, "blob.encrypt", p, &r, &why), HSM_ERR_REFUSED);
	}
	assert_string_equal(why, "usage_not_allowed");
	assert_int_equal(blob_op(f, "blob.generate", json_pack("{s:i, s:i}", "domain", DOM,
	                 "count", 0), &r, &why), HSM_ERR_FORMAT);
	assert_int_equal(blob_op(f, "blob.reencipher", json_pack("{s:i, s:s, s:s}", "domain", DOM,
	                 "to", "old", "blobs", run), &r, &why), HSM_ERR_FORMAT);
	/* To pending: refused until a committed key is there. */
	assert_int_equal(blob_op(f, "blob.reencipher", json_pack("{s:i, s:s, s:s}", "domain", DOM,
	                 "to", "pending", "blobs", run), &r, &why), HSM_ERR_STATE);
	assert_string_equal(why, "pending_not_committed");
	load_commit(f, &k2);
	re = reencipher(f, "pending", run, k2.mkvphex, 3);
	/* A blob under a pending key is not usable yet, and says so. */
	memcpy(one, re, BLOB_B64_LEN);
	assert_int_equal(decrypt_is_hello(f, one, ct, &why), HSM_ERR_NOT_FOUND);
	assert_string_equal(why, "no_such_key");
	assert_non_null(strstr(hsm_errmsg(), "only pending"));
	/* Per-blob failures: a damaged tag, an unknown key; the rest go through. */
	snprintf(bad, sizeof(bad), "%s", run);
	bad[BLOB_B64_LEN + 100] = bad[BLOB_B64_LEN + 100] == 'A' ? 'B' : 'A';
	memcpy(bad + 2 * BLOB_B64_LEN + 8, "AAAAAAAA", 8);  /* bytes 6..11: the prefix */
	assert_int_equal(blob_op(f, "blob.reencipher", json_pack("{s:i, s:s, s:s}", "domain", DOM,
	                 "to", "pending", "blobs", bad), &r, &why), HSM_OK);
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 1);
	assert_int_equal(json_array_size(json_object_get(r, "failed")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "failed"), 0), "reason")),
	                    "blob_verify");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r, "failed"), 1), "index")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "failed"), 1), "reason")),
	                    "no_such_key");
	json_decref(r);
	/* Finalize: the re-enciphered blob decrypts what the old one encrypted;
	 * the old blob still works under OLD. */
	assert_int_equal(apply(f, "mk.activate", vp_params(k2.mkvphex), A0), HSM_OK);
	assert_int_equal(decrypt_is_hello(f, one, ct, &why), HSM_OK);
	memcpy(one, run, BLOB_B64_LEN);
	assert_int_equal(decrypt_is_hello(f, one, ct, &why), HSM_OK);
	/* OLD -> CURRENT after activation (blobs the first pass missed). */
	re1 = reencipher(f, "current", run, k2.mkvphex, 3);
	/* Backout: k1 CURRENT again, k2 set aside; blobs re-enciphered back. */
	assert_int_equal(apply(f, "mk.backout", vp_params(k1.mkvphex), A01), HSM_OK);
	back = reencipher(f, "current", re, k1.mkvphex, 3);
	memcpy(one, back, BLOB_B64_LEN);
	assert_int_equal(decrypt_is_hello(f, one, ct, &why), HSM_OK);
	/* Finalize again and destroy the old key: its blobs are refused, named. */
	assert_int_equal(apply(f, "mk.activate", vp_params(k2.mkvphex), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.destroy_old", vp_params(k1.mkvphex), A01), HSM_OK);
	assert_int_equal(decrypt_is_hello(f, one, ct, &why), HSM_ERR_NOT_FOUND);
	assert_non_null(strstr(hsm_errmsg(), "no key with verification pattern"));
	{
		char pfx[17];
		memcpy(pfx, k1.mkvphex, 16);
		pfx[16] = '\0';
		assert_non_null(strstr(hsm_errmsg(), pfx));
	}
	memcpy(one, re1, BLOB_B64_LEN);
	assert_int_equal(decrypt_is_hello(f, one, ct, &why), HSM_OK);
	free(run);
	free(ct);
	free(re);
	free(re1);
	free(back);
	free_parts(&k1);
	free_parts(&k2);
}

static void
test_zeroize(void **state)
{
	fx *f = *state;
	parts k;
	json_t *p;
	uint64_t before;

	memset(&k, 0, sizeof(k));
	three_admins_2_of_3(f);
	assert_int_equal(apply(f, "importer.generate", json_object(), A0), HSM_OK);
	make_parts(&k, 2, NULL);
	load_commit(f, &k);
	assert_int_equal(apply(f, "zeroize", json_object(), A0), HSM_ERR_QUORUM);
	before = simdom_counter(f->d);
	assert_int_equal(apply(f, "zeroize", json_object(), A01), HSM_OK);
	assert_int_equal(simdom_counter(f->d), before + 1);
	p = pub(f);
	assert_true(json_is_true(json_object_get(p, "imprint")));
	assert_int_equal(json_array_size(json_object_get(p, "admins")), 0);
	assert_true(json_is_null(json_object_get(p, "importer")));
	json_decref(p);
	assert_string_equal(reg_state(f, "pending"), "empty");
	assert_string_equal(reg_state(f, "current"), "empty");
	/* Unsigned zeroize in imprint mode is fine; the counter keeps counting. */
	assert_int_equal(apply(f, "zeroize", json_object(), none), HSM_OK);
	assert_int_equal(simdom_counter(f->d), before + 2);
	free_parts(&k);
}

static void
test_persist_roundtrip(void **state)
{
	fx *f = *state;
	parts k;
	char path[128];
	simdom *back = NULL;
	json_t *a, *b;

	memset(&k, 0, sizeof(k));
	three_admins_2_of_3(f);
	assert_int_equal(apply(f, "importer.generate", json_object(), A0), HSM_OK);
	make_parts(&k, 2, NULL);
	load_commit(f, &k);
	assert_int_equal(apply(f, "mk.activate", vp_params(k.mkvphex), A0), HSM_OK);
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k, 1, 2, DOM, NULL), A0), HSM_OK);
	snprintf(path, sizeof(path), "%s/03.json", f->dir);
	assert_int_equal(simdom_save(f->d, path), HSM_OK);
#ifdef SIM_DOMAIN_P11
	{   /* no key in the file: not CURRENT's, not the part in PENDING */
		char *txt = NULL, hex[65];
		size_t n = 0;
		assert_int_equal(hsm_file_read(path, 1 << 20, &txt, &n), HSM_OK);
		hex_encode_buf(k.key, 32, hex);
		assert_null(strstr(txt, hex));
		hex_encode_buf(k.p[0]->data, 32, hex);
		assert_null(strstr(txt, hex));
		assert_null(strstr(txt, "PRIVATE KEY"));
		assert_non_null(strstr(txt, "\"sealed\""));
		free(txt);
	}
#endif
	assert_int_equal(LOAD(path, DOM, &back), HSM_OK);
	assert_int_equal(simdom_public(f->d, MOD, 1, &a), HSM_OK);
	assert_int_equal(simdom_public(back, MOD, 1, &b), HSM_OK);
	assert_true(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	/* The loaded state keeps working: part 2 completes with the loaded importer key. */
	simdom_free(&f->d);
	f->d = back;
	assert_int_equal(apply(f, "mk.load_part", load_params(f, &k, 2, 2, DOM, NULL), A0), HSM_OK);
	assert_string_equal(reg_state(f, "pending"), "uncommitted");
	/* A missing file is a fresh domain; a damaged one is refused. */
	snprintf(path, sizeof(path), "%s/none.json", f->dir);
	assert_int_equal(LOAD(path, DOM, &back), HSM_OK);
	assert_int_equal(simdom_counter(back), 0);
	simdom_free(&back);
	snprintf(path, sizeof(path), "%s/bad.json", f->dir);
	{
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		fputs("{\"v\":1,\"domain\":3}", fp);
		fclose(fp);
	}
	assert_int_equal(LOAD(path, DOM, &back), HSM_ERR_FORMAT);
	assert_null(back);
	free_parts(&k);
}

static void
test_state_digest_tracks_state(void **state)
{
	fx *f = *state;
	json_t *a = pub(f), *b;

	add_admin(f, 0, "alice", none);
	b = pub(f);
	assert_string_not_equal(json_string_value(json_object_get(a, "state_digest")),
	                        json_string_value(json_object_get(b, "state_digest")));
	/* digest = SHA-256 of the canonical state without the digest */
	{
		uint8_t dg[32];
		char hex[65];
		json_t *c = json_deep_copy(b);
		json_object_del(c, "state_digest");
		assert_int_equal(cjson_digest(c, dg), HSM_OK);
		hex_encode_buf(dg, 32, hex);
		assert_string_equal(hex, json_string_value(json_object_get(b, "state_digest")));
		json_decref(c);
	}
	json_decref(a);
	json_decref(b);
}

#ifdef SIM_DOMAIN_P11
/* One token for the run, in a scratch folder with its own SOFTHSM2_CONF. */
static int
group_setup(void **state)
{
	char conf[128], cmd[400];
	hsm_secbuf *pin = NULL;
	FILE *fp;

	(void)state;
	if (mkdtemp(p11dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", p11dir);
	snprintf(cmd, sizeof(cmd), "mkdir %s/tokens && softhsm2-util --init-token --free "
	         "--label simdom --so-pin 5678 --pin 1234 >/dev/null", p11dir);
	if ((fp = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(fp, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n", p11dir);
	fclose(fp);
	setenv("SOFTHSM2_CONF", conf, 1);
	if (system(cmd) != 0 || secbuf_from("1234", 4, &pin) != HSM_OK ||
	    ks_open_pkcs11(MOD, P11LIB, "simdom", pin, &tks) != HSM_OK ||
	    p11_open(P11LIB, "simdom", pin, &tp11) != HSM_OK) {
		secbuf_free(&pin);
		return -1;
	}
	secbuf_free(&pin);
	/* the state key a module makes at init (ks_module_keys_make) */
	{
		EVP_PKEY *oa = NULL;
		if (ks_module_keys_make(tks, &oa) != HSM_OK)
			return -1;
		EVP_PKEY_free(oa);
	}
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[200];

	(void)state;
	p11_close(&tp11);
	ks_free(&tks);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", p11dir);
	return system(cmd) == 0 ? 0 : -1;
}
#else
#define group_setup NULL
#define group_teardown NULL
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_imprint_add_unsigned_and_counter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_imprint_refuses_mk_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stage_place_unstage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_list_full_and_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leave_imprint_needs_new_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identities_count_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_needs_revocation_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter_replay_and_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_key_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approved_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zeroize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_digest_tracks_state, setup, teardown),
	};

	if (secure_init() != HSM_OK)
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
