/* SPDX-License-Identifier: BSD-2-Clause */
/* test_keypart_load.c - the decisions of the master-key load (keypart_load.h)
 * that depend only on the register states the members report: which step is
 * next (the resume), refusing a PENDING that is not this key (another part
 * pattern, another part count), members that disagree on the PENDING MKVP,
 * a new key equal to CURRENT or OLD refused before any command is sent, and
 * bad part lists.
 *
 * The members are reached through moddriver.h's ops table, the plug-in
 * point for module backends: the driver (fake_moddrv.h) answers
 * domain.query with a fixed public state in the shape of
 * docs/formats/module-protocol.md and counts apply calls (none may happen
 * in these cases). No card is needed:
 * every case stops, or finishes, before a custodian card or a signer would
 * be asked for, and the io callbacks count that they were not called. The
 * real loading against hsmadm-simd runs in tests/integration/ceremony_e2e.sh
 * and examples_commit.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/codec.h"
#include "hsmadm/keypart_load.h"
#include "hsmadm/moddriver.h"
#include "fake_moddrv.h"

#define KP1 "1111111111111111111111111111111111111111111111111111111111111111"
#define KP2 "2222222222222222222222222222222222222222222222222222222222222222"
#define KP3 "3333333333333333333333333333333333333333333333333333333333333333"
#define KPX "9999999999999999999999999999999999999999999999999999999999999999"
#define MK_NEW "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa00000000"
#define MK_CUR "cccccccccccccccccccccccccccccccccccccccccccccccccccccccc00000000"
#define MK_OLD "dddddddddddddddddddddddddddddddddddddddddddddddddddddddd00000000"
#define MK_ODD "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee00000000"

/* A register: state and MKVP (NULL: none). */
static json_t *
reg(const char *state, const char *mkvp)
{
	return json_pack("{s:s, s:s?}", "state", state, "mkvp", mkvp);
}

/* A PENDING register of nparts parts with the given loaded parts
 * ("1:KPVP,2:KPVP" as index/kpvp pairs in loaded[]). */
static json_t *
pending(const char *state, const char *mkvp, int nparts, const char *const *loaded)
{
	json_t *p = reg(state, mkvp), *pl = json_array();

	for (int i = 0; loaded != NULL && loaded[i] != NULL; i++)
		json_array_append_new(pl, json_pack("{s:i, s:s}", "index", i + 1, "kpvp", loaded[i]));
	if (strcmp(state, "empty") != 0)
		json_object_set_new(p, "parts_total", json_integer(nparts));
	json_object_set_new(p, "parts_loaded", pl);
	return p;
}

static json_t *
dstate(unsigned domain, json_t *pend, const char *cur, const char *old)
{
	return json_pack("{s:s, s:i, s:I, s:{s:o, s:o, s:o}}", "module", "TEST", "domain",
	    (int)domain, "counter", (json_int_t)7, "registers", "pending", pend, "current",
	    reg(cur ? "valid" : "empty", cur), "old", reg(old ? "valid" : "empty", old));
}

/* ---- the group: two members, each its own driver ---- */

struct grp {
	group_member m[2];
	unsigned     applies;
	mkload_part  parts[3];
};

static void
grp_set(struct grp *g, json_t *s0, json_t *s1)
{
	static const char *const mods[2] = { "DC1-M01", "DC2-M01" };
	static const char *const kp[3] = { KP1, KP2, KP3 };
	static const char *const ids[3] = { "p1", "p2", "p3" };
	json_t *s[2] = { s0, s1 };

	memset(g, 0, sizeof(*g));
	for (int i = 0; i < 2; i++) {
		assert_non_null(s[i]);
		g->m[i].module = mods[i];
		g->m[i].domain = 3;
		assert_int_equal(fake_moddrv_open(mods[i], s[i], &g->applies, &g->m[i].drv), HSM_OK);
	}
	for (int i = 0; i < 3; i++) {
		g->parts[i].part_id = ids[i];
		assert_int_equal(hex_decode_into(kp[i], g->parts[i].kpvp, HSM_VP_LEN), HSM_OK);
	}
}

static void
grp_free(struct grp *g)
{
	for (int i = 0; i < 2; i++)
		moddrv_free(&g->m[i].drv);
}

static const char *
jstr(const json_t *o, const char *path1, const char *path2)
{
	const json_t *v = json_object_get(o, path1);

	if (path2 != NULL)
		v = json_object_get(v, path2);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* next step and MKVP of a status on states s0, s1 (3 parts). */
static void
expect_next(json_t *s0, json_t *s1, const uint8_t *known, const char *next, const char *mkvp)
{
	struct grp g;
	json_t *rep = NULL;

	grp_set(&g, s0, s1);
	assert_int_equal(mkload_status(g.m, 2, "pair", g.parts, 3, known, &rep), HSM_OK);
	assert_string_equal(jstr(rep, "next", NULL), next);
	if (mkvp == NULL)
		assert_true(json_is_null(json_object_get(rep, "mkvp")));
	else
		assert_string_equal(jstr(rep, "mkvp", NULL), mkvp);
	assert_int_equal(json_array_size(json_object_get(rep, "members")), 2);
	assert_int_equal(g.applies, 0);
	json_decref(rep);
	grp_free(&g);
}

static const char *const L1[] = { KP1, NULL };
static const char *const L12[] = { KP1, KP2, NULL };
static const char *const L123[] = { KP1, KP2, KP3, NULL };

static void
test_next_step(void **unused)
{
	uint8_t known[HSM_VP_LEN];

	(void)unused;
	assert_int_equal(hex_decode_into(MK_NEW, known, HSM_VP_LEN), HSM_OK);
	/* nothing loaded */
	expect_next(dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL),
	    dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL), NULL, "load", NULL);
	/* interrupted: part 1 on one member, parts 1 and 2 on the other */
	expect_next(dstate(3, pending("partial", NULL, 3, L1), MK_CUR, NULL),
	    dstate(3, pending("partial", NULL, 3, L12), MK_CUR, NULL), NULL, "load", NULL);
	/* one member full, the other still partial: load before commit */
	expect_next(dstate(3, pending("uncommitted", MK_NEW, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("partial", NULL, 3, L12), MK_CUR, NULL), NULL, "load", MK_NEW);
	/* both full */
	expect_next(dstate(3, pending("uncommitted", MK_NEW, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("uncommitted", MK_NEW, 3, L123), MK_CUR, NULL), NULL, "commit",
	    MK_NEW);
	/* commit reached one member only */
	expect_next(dstate(3, pending("committed", MK_NEW, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("uncommitted", MK_NEW, 3, L123), MK_CUR, NULL), NULL, "commit",
	    MK_NEW);
	expect_next(dstate(3, pending("committed", MK_NEW, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("committed", MK_NEW, 3, L123), MK_CUR, NULL), NULL, "activate",
	    MK_NEW);
	/* activated on one member: with the MKVP known from the log it is done */
	expect_next(dstate(3, pending("empty", NULL, 0, NULL), MK_NEW, MK_CUR),
	    dstate(3, pending("committed", MK_NEW, 3, L123), MK_CUR, NULL), NULL, "activate",
	    MK_NEW);
	/* activated everywhere: only the log's MKVP tells it is this key */
	expect_next(dstate(3, pending("empty", NULL, 0, NULL), MK_NEW, MK_CUR),
	    dstate(3, pending("empty", NULL, 0, NULL), MK_NEW, MK_CUR), known, "none", MK_NEW);
	expect_next(dstate(3, pending("empty", NULL, 0, NULL), MK_NEW, MK_CUR),
	    dstate(3, pending("empty", NULL, 0, NULL), MK_NEW, MK_CUR), NULL, "load", NULL);
}

static void
test_report_members(void **unused)
{
	struct grp g;
	json_t *rep = NULL, *m0, *m1;

	(void)unused;
	grp_set(&g, dstate(3, pending("partial", NULL, 3, L1), MK_CUR, MK_OLD),
	    dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL));
	assert_int_equal(mkload_status(g.m, 2, "pair", g.parts, 3, NULL, &rep), HSM_OK);
	assert_string_equal(jstr(rep, "group", NULL), "pair");
	assert_int_equal(json_array_size(json_object_get(rep, "parts")), 3);
	m0 = json_array_get(json_object_get(rep, "members"), 0);
	m1 = json_array_get(json_object_get(rep, "members"), 1);
	assert_string_equal(jstr(m0, "module", NULL), "DC1-M01");
	assert_string_equal(jstr(m0, "pending", NULL), "partial");
	assert_string_equal(jstr(m0, "current_mkvp", NULL), MK_CUR);
	assert_string_equal(jstr(m0, "old_mkvp", NULL), MK_OLD);
	assert_int_equal(json_array_size(json_object_get(m0, "parts_loaded")), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(m0, "parts_loaded"), 0)), 1);
	assert_int_equal(json_array_size(json_object_get(m1, "parts_loaded")), 0);
	assert_true(json_is_null(json_object_get(m1, "old_mkvp")));
	assert_true(json_is_false(json_object_get(m1, "activated")));
	json_decref(rep);
	grp_free(&g);
}

/* status refuses with rc, the message containing text. */
static void
expect_status_fails(json_t *s0, json_t *s1, hsm_rc rc, const char *text)
{
	struct grp g;
	json_t *rep = NULL;

	grp_set(&g, s0, s1);
	assert_int_equal(mkload_status(g.m, 2, "pair", g.parts, 3, NULL, &rep), rc);
	assert_non_null(strstr(hsm_errmsg(), text));
	assert_null(rep);
	assert_int_equal(g.applies, 0);
	grp_free(&g);
}

static void
test_pending_not_this_key(void **unused)
{
	static const char *const LX[] = { KP1, KPX, NULL };
	static const char *const LBAD[] = { "zz", NULL };

	(void)unused;
	/* part 2 in one PENDING has another pattern */
	expect_status_fails(dstate(3, pending("partial", NULL, 3, L1), MK_CUR, NULL),
	    dstate(3, pending("partial", NULL, 3, LX), MK_CUR, NULL), HSM_ERR_VERIFY,
	    "which is not part p2 of this key");
	/* a PENDING being loaded with 2 parts, not 3 */
	expect_status_fails(dstate(3, pending("partial", NULL, 2, L1), MK_CUR, NULL),
	    dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL), HSM_ERR_STATE,
	    "with 2 parts, not the 3 given here");
	/* a module's answer that makes no sense */
	expect_status_fails(dstate(3, pending("partial", NULL, 3, LBAD), MK_CUR, NULL),
	    dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL), HSM_ERR_MODULE,
	    "malformed loaded part");
	expect_status_fails(dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL),
	    json_pack("{s:i, s:{}}", "domain", 3, "registers"), HSM_ERR_MODULE,
	    "reports no pending register");
	expect_status_fails(dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL),
	    dstate(4, pending("empty", NULL, 0, NULL), MK_CUR, NULL), HSM_ERR_MODULE,
	    "the state of another domain");
}

static void
test_mkvps_disagree(void **unused)
{
	(void)unused;
	expect_status_fails(dstate(3, pending("uncommitted", MK_NEW, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("uncommitted", MK_ODD, 3, L123), MK_CUR, NULL), HSM_ERR_VERIFY,
	    "pending keys differ (module DC2-M01 domain 3");
	expect_status_fails(dstate(3, pending("committed", MK_NEW, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("uncommitted", MK_ODD, 3, L123), MK_CUR, NULL), HSM_ERR_VERIFY,
	    "do not commit");
}

/* ---- mkload_run: a custodian callback that counts, a signer source that
 * fails loudly if asked, and a real evidence log that must stay unchanged ---- */

struct calls {
	unsigned custodian;
};

static hsm_rc
io_custodian(void *ctx, const mkload_part *p, unsigned index, const keypart_card **card)
{
	(void)p;
	(void)index;
	*card = NULL;
	((struct calls *)ctx)->custodian++;
	return hsm_fail(HSM_ERR_NO_CARD, "no card in this test");
}

static void
io_custodian_done(void *ctx)
{
	(void)ctx;
}

/* mkload_run(stages) on s0, s1: rc, message text, nothing sent or asked. */
static void
expect_run(json_t *s0, json_t *s1, unsigned stages, const uint8_t *known, hsm_rc rc,
           const char *text, const char *outcome)
{
	struct grp g;
	struct calls c = { 0 };
	/* a signer asked for would fail with "cannot read", not with rc */
	static const char *const nokey[] = { "/nonexistent/admin.pem" };
	struct signers_opts so = { .key_files = nokey, .nkeys = 1, .pin_fd = -1, .enter_fd = -1 };
	char dir[] = "/tmp/test_keypart_load.XXXXXX", path[64];
	struct submit_ev ev;
	struct mkload_io io;
	long long seq0, seq1;
	uint8_t h[32];
	json_t *rep = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ev.jsonl", dir);
	memset(&ev, 0, sizeof(ev));
	ev.path = path;
	ev.system.name = "test";
	ev.system.role = "system";
	assert_int_equal(evlog_open(path, NULL, &ev.log), HSM_OK);
	evlog_head(ev.log, &seq0, h);
	memset(&io, 0, sizeof(io));
	io.ctx = &c;
	io.custodian = io_custodian;
	io.custodian_done = io_custodian_done;
	io.ev = &ev;
	assert_int_equal(signers_new(&so, &io.admins), HSM_OK);
	grp_set(&g, s0, s1);
	assert_int_equal(mkload_run(g.m, 2, "pair", g.parts, 3, stages, known, &io, &rep), rc);
	if (text != NULL)
		assert_non_null(strstr(hsm_errmsg(), text));
	assert_non_null(rep);
	assert_string_equal(jstr(rep, "outcome", NULL), outcome);
	assert_int_equal(g.applies, 0);
	assert_int_equal(c.custodian, 0);
	evlog_head(ev.log, &seq1, h);
	assert_int_equal(seq1, seq0);   /* nothing recorded */
	json_decref(rep);
	grp_free(&g);
	signers_free(&io.admins);
	evlog_close(&ev.log);
	submit_ev_clear(&ev);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_equal_to_current_or_old(void **unused)
{
	(void)unused;
	/* loaded on both, and the new key is the key already in CURRENT */
	expect_run(dstate(3, pending("uncommitted", MK_CUR, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("uncommitted", MK_CUR, 3, L123), MK_CUR, NULL), MKLOAD_ALL, NULL,
	    HSM_ERR_REFUSED, "equals its CURRENT master key", "stopped");
	/* commit alone checks it too */
	expect_run(dstate(3, pending("uncommitted", MK_OLD, 3, L123), MK_CUR, MK_OLD),
	    dstate(3, pending("uncommitted", MK_OLD, 3, L123), MK_CUR, MK_OLD), MKLOAD_COMMIT,
	    NULL, HSM_ERR_REFUSED, "equals its OLD master key", "stopped");
	/* only one member has it as OLD: still refused, naming that member */
	expect_run(dstate(3, pending("uncommitted", MK_OLD, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("uncommitted", MK_OLD, 3, L123), MK_CUR, MK_OLD), MKLOAD_COMMIT,
	    NULL, HSM_ERR_REFUSED, "module DC2-M01 domain 3 equals its OLD", "stopped");
}

static void
test_run_state_checks(void **unused)
{
	uint8_t known[HSM_VP_LEN];

	(void)unused;
	assert_int_equal(hex_decode_into(MK_NEW, known, HSM_VP_LEN), HSM_OK);
	/* activate before commit */
	expect_run(dstate(3, pending("uncommitted", MK_NEW, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("committed", MK_NEW, 3, L123), MK_CUR, NULL), MKLOAD_ACTIVATE, NULL,
	    HSM_ERR_STATE, "commit it first", "stopped");
	/* commit before every part is loaded */
	expect_run(dstate(3, pending("uncommitted", MK_NEW, 3, L123), MK_CUR, NULL),
	    dstate(3, pending("partial", NULL, 3, L12), MK_CUR, NULL), MKLOAD_COMMIT, NULL,
	    HSM_ERR_STATE, "load all parts first", "stopped");
	/* a PENDING of another key stops the run before any card is asked for */
	expect_run(dstate(3, pending("partial", NULL, 3, (const char *const[]){ KPX, NULL }),
	    MK_CUR, NULL), dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL), MKLOAD_ALL,
	    NULL, HSM_ERR_VERIFY, "not part p1 of this key", "stopped");
	/* all activated, the MKVP known from the log: nothing to do, nothing asked */
	expect_run(dstate(3, pending("empty", NULL, 0, NULL), MK_NEW, MK_CUR),
	    dstate(3, pending("empty", NULL, 0, NULL), MK_NEW, MK_CUR), MKLOAD_ALL, known, HSM_OK,
	    NULL, "nothing-to-do");
}

static void
test_bad_parts(void **unused)
{
	struct grp g;
	json_t *rep = NULL;
	mkload_part many[MKLOAD_MAX_PARTS + 1];

	(void)unused;
	grp_set(&g, dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL),
	    dstate(3, pending("empty", NULL, 0, NULL), MK_CUR, NULL));
	assert_int_equal(mkload_status(g.m, 2, "pair", g.parts, 1, NULL, &rep), HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "2 to 20 parts"));
	assert_int_equal(mkload_status(g.m, 2, "pair", NULL, 3, NULL, &rep), HSM_ERR_USAGE);
	memset(many, 0, sizeof(many));
	for (int i = 0; i <= MKLOAD_MAX_PARTS; i++)
		many[i] = g.parts[0];
	assert_int_equal(mkload_status(g.m, 2, "pair", many, MKLOAD_MAX_PARTS + 1, NULL, &rep),
	    HSM_ERR_USAGE);
	g.parts[2].part_id = "p1";
	assert_int_equal(mkload_status(g.m, 2, "pair", g.parts, 3, NULL, &rep), HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "part p1 is named twice"));
	g.parts[2].part_id = "";
	assert_int_equal(mkload_status(g.m, 2, "pair", g.parts, 3, NULL, &rep), HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "part 3 has no valid part id"));
	g.parts[2].part_id = "p3";
	assert_int_equal(mkload_status(NULL, 0, "pair", g.parts, 3, NULL, &rep), HSM_ERR_USAGE);
	assert_null(rep);
	assert_int_equal(g.applies, 0);
	grp_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_step),
		cmocka_unit_test(test_report_members),
		cmocka_unit_test(test_pending_not_this_key),
		cmocka_unit_test(test_mkvps_disagree),
		cmocka_unit_test(test_equal_to_current_or_old),
		cmocka_unit_test(test_run_state_checks),
		cmocka_unit_test(test_bad_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
