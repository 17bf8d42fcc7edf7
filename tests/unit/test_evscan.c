/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evscan.c - one scan of a log for the workflows (evscan.h): key parts,
 * master-key records per group, receipt high-water marks per domain, signed
 * commands; torn tails, broken chains and malformed records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/evlog.h"
#include "hsmadm/evscan.h"
#include "test_evlog_fixture.h"

static struct evfix F;
static char full[400];     /* a log with command.sent and mk records */
static int case_no;

static int
setup_all(void **state)
{
	(void)state;
	if (evfix_setup(&F) != 0)
		return -1;
	snprintf(full, sizeof(full), "%s/full.log", F.dir);
	return evfix_ceremony(&F, full, EVFIX_NOSYNC | EVFIX_SENT | EVFIX_MK, NULL) == HSM_OK
	    ? 0 : -1;
}

static int
teardown_all(void **state)
{
	(void)state;
	evfix_teardown(&F);
	return 0;
}

static const char *
newpath(char *buf, size_t n)
{
	snprintf(buf, n, "%s/scan%d.log", F.dir, ++case_no);
	return buf;
}

/* What the fixture wrote, as the workflows need it. */
static void
check_full(const evscan *s)
{
	const evscan_part *p;
	const evscan_group *g;
	evscan_member m[2] = { { EVFIX_MODULE, EVFIX_DOMAIN }, { "DC9-M09", 1 } };
	uint64_t hwm[2], c = 0;
	uint8_t mk[32];
	size_t i;

	p = evscan_find_part(s, "part-1");
	assert_non_null(p);
	assert_int_equal(p->kpvp[0], 0x5a);
	assert_int_equal(p->kpvp[31], 0xf0);
	assert_string_equal(p->card_id, "c0ffee01");
	assert_int_equal(p->ncopied, 1);
	assert_string_equal(p->copied_to[0], "c0ffee02");
	assert_false(p->destroyed);
	assert_null(evscan_find_part(s, "part-2"));

	g = evscan_find_group(s, "DC1-pair");
	assert_non_null(g);
	memset(mk, EVFIX_MKVP, 32);
	assert_true(g->loaded.seq > 0);
	assert_true(g->committed.seq > g->loaded.seq);
	assert_int_equal(g->activated.seq, 0);
	assert_int_equal(g->loaded.ndoms, 1);
	assert_string_equal(g->loaded.doms[0].module, EVFIX_MODULE);
	assert_int_equal(g->loaded.doms[0].domain, EVFIX_DOMAIN);
	assert_memory_equal(g->loaded.doms[0].mkvp, mk, 32);
	assert_int_equal(g->loaded.nparts, 1);
	assert_string_equal(g->loaded.parts[0].part_id, "part-1");
	assert_null(evscan_find_group(s, "other"));

	assert_int_equal(evscan_hwm(s, EVFIX_MODULE, EVFIX_DOMAIN, &c), 1);
	assert_int_equal(c, 3);
	assert_int_equal(evscan_hwm(s, EVFIX_MODULE, EVFIX_DOMAIN + 1, &c), 0);
	evscan_hwm_members(s, m, 2, hwm);
	assert_int_equal(hwm[0], 3);
	assert_true(hwm[1] == EVSCAN_NONE);

	/* three commands sent and applied, a fourth only sent, in log order */
	assert_int_equal(s->ncmds, 4);
	assert_int_equal(json_array_size(s->commands), 4);
	for (i = 0; i < 3; i++) {
		assert_true(s->cmds[i].sent_seq > 0);
		assert_true(s->cmds[i].applied_seq > s->cmds[i].sent_seq);
		if (i > 0)
			assert_true(s->cmds[i].sent_seq > s->cmds[i - 1].applied_seq);
	}
	assert_true(s->cmds[3].sent_seq > s->cmds[2].applied_seq);
	assert_int_equal(s->cmds[3].applied_seq, 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_array_get(s->commands, 3), "body"), "op")), "zeroize");
	assert_ptr_equal(json_array_get(s->commands, 3), s->cmds[3].command);
}

static void
test_scan_path(void **state)
{
	evscan *s = NULL;

	(void)state;
	assert_int_equal(evscan_path(full, 0, &s), HSM_OK);
	check_full(s);
	assert_false(s->torn);
	assert_false(s->complete);
	assert_true(s->head_seq > 20);
	assert_true(strlen(s->log_id) == 32);
	evscan_free(&s);
	assert_null(s);
	evscan_free(&s);   /* NULL-safe */
}

/* The same from a writer's own descriptor: no second open. */
static void
test_scan_writer(void **state)
{
	evlog *log = NULL;
	evscan *s = NULL;

	(void)state;
	assert_int_equal(evlog_open(full, NULL, &log), HSM_OK);
	assert_int_equal(evscan_log(log, &s), HSM_OK);
	check_full(s);
	evscan_free(&s);
	evlog_close(&log);
}

/* Commands only applied (no command.sent): known, with no sent seq. */
static void
test_scan_without_intents(void **state)
{
	char path[400];
	evscan *s = NULL;
	size_t i;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evfix_ceremony(&F, path, EVFIX_NOSYNC, NULL), HSM_OK);
	assert_int_equal(evscan_path(path, 0, &s), HSM_OK);
	assert_int_equal(s->ncmds, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(s->cmds[i].sent_seq, 0);
		assert_true(s->cmds[i].applied_seq > 0);
	}
	assert_int_equal(s->ngroups, 0);
	evscan_free(&s);
}

/* A torn tail ends the scan only when the caller accepts it. */
static void
test_scan_torn(void **state)
{
	char path[400], *buf;
	size_t len;
	evscan *s = NULL;

	(void)state;
	buf = evfix_slurp(full, &len);
	assert_non_null(buf);
	newpath(path, sizeof(path));
	assert_int_equal(evfix_spit(path, buf, len - 30), 0);
	assert_int_equal(evscan_path(path, 0, &s), HSM_ERR_FORMAT);
	assert_null(s);
	assert_non_null(strstr(hsm_errmsg(), "no line end"));
	assert_int_equal(evscan_path(path, 1, &s), HSM_OK);
	assert_true(s->torn);
	assert_non_null(evscan_find_part(s, "part-1"));
	evscan_free(&s);
	free(buf);
	assert_int_equal(evscan_path("/nonexistent/x.log", 1, &s), HSM_ERR_NOT_FOUND);
}

static int
edit_kpvp(json_t *rec, long long seq, void *arg)
{
	(void)seq;
	if (strcmp(json_string_value(json_object_get(rec, "type")), EV_KEYPART_COPIED) == 0) {
		*(long long *)arg = seq;
		json_object_set_new(json_object_get(rec, "body"), "kpvp", json_string("xyz"));
	}
	return 0;
}

/* A record the scan needs without its members: refused, naming the seq; a
 * broken chain: refused even with torn_ok. */
static void
test_scan_refuses(void **state)
{
	char path[400], want[64], *buf, *p;
	size_t len;
	long long seq = 0;
	evscan *s = NULL;

	(void)state;
	buf = evfix_slurp(full, &len);
	assert_non_null(buf);
	newpath(path, sizeof(path));
	assert_int_equal(evfix_spit(path, buf, len), 0);
	assert_int_equal(evfix_rewrite(path, edit_kpvp, &seq), 0);
	assert_int_equal(evscan_path(path, 1, &s), HSM_ERR_FORMAT);
	snprintf(want, sizeof(want), "seq %lld: keypart.copied", seq);
	assert_non_null(strstr(hsm_errmsg(), want));
	assert_non_null(strstr(hsm_errmsg(), "\"kpvp\" must be 64 lowercase hex"));

	p = strstr(buf, "c0ffee02");
	assert_non_null(p);
	p[0] = 'd';
	newpath(path, sizeof(path));
	assert_int_equal(evfix_spit(path, buf, len), 0);
	assert_int_equal(evscan_path(path, 1, &s), HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "prev hash does not match"));
	assert_null(s);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_path),
		cmocka_unit_test(test_scan_writer),
		cmocka_unit_test(test_scan_without_intents),
		cmocka_unit_test(test_scan_torn),
		cmocka_unit_test(test_scan_refuses),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
