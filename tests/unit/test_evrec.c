/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evrec.c - the typed record writers (evrec.h) and the write-ahead
 * command.sent record: bodies as documented, refusals that write nothing, and
 * the verifier's matching of receipts to sent commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/codec.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evrec.h"
#include "hsmadm/evreport.h"
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
newpath(char *buf, size_t n)
{
	snprintf(buf, n, "%s/rec%d.log", F.dir, ++case_no);
	return buf;
}

static hsm_rc
verify(const char *path, evlog_verify_result *res)
{
	const char *cas[1] = { F.ca_pem };
	struct evlog_verify_opts o = { cas, 1, NULL, 0, 1, NULL, 0, NULL, 0 };

	return evlog_verify(path, &o, res);
}

/* The last record of the log at path (new reference). */
static json_t *
last_record(const char *path)
{
	evlog_reader *r = NULL;
	evlog_record rec;
	json_t *last = NULL;

	memset(&rec, 0, sizeof(rec));
	assert_int_equal(evlog_reader_open(path, &r), HSM_OK);
	while (evlog_reader_next(r, &rec) == HSM_OK) {
		json_decref(last);
		last = json_incref(rec.obj);
	}
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	return last;
}

static admincmd *
a_command(long long counter)
{
	admincmd_target t = { EVFIX_MODULE, EVFIX_DOMAIN, (uint64_t)counter };
	json_t *p = json_object();
	admincmd *cmd = NULL;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(admincmd_new(ADMINCMD_OP_ZEROIZE, p, &t, 1, now - 60, now + 3600,
	    &cmd), HSM_OK);
	json_decref(p);
	return cmd;
}

/* Bodies come out as docs/formats/evidence.md says. */
static void
test_bodies(void **state)
{
	static const ev_actor fac = { "Fay", "facilitator", NULL, NULL };
	ev_mkdom d[2] = { { "DC1-M01", 3, { 0 } }, { "DC2-M01", 3, { 0 } } };
	ev_mkpart p[1] = { { "part-1", { 0 } } };
	const char *open[2] = { "load", "commit" };
	char path[400], hex[65];
	evlog *log = NULL;
	admincmd *cmd = a_command(0);
	json_t *rec, *b;
	uint8_t dg[32];

	(void)state;
	memset(d[0].mkvp, 0xab, 32);
	memset(d[1].mkvp, 0xab, 32);
	memset(p[0].kpvp, 0x11, 32);
	newpath(path, sizeof(path));
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);

	assert_int_equal(evrec_mk_loaded(log, &fac, "pair-1", d, 2, p, 1, NULL), HSM_OK);
	rec = last_record(path);
	b = json_object_get(rec, "body");
	assert_string_equal(json_string_value(json_object_get(rec, "type")), EV_MK_LOADED);
	assert_string_equal(json_string_value(json_object_get(b, "group")), "pair-1");
	assert_int_equal(json_array_size(json_object_get(b, "domains")), 2);
	assert_string_equal(json_string_value(json_object_get(b, "mkvp")),
	    "abababababababababababababababababababababababababababababababab");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(b, "parts"), 0), "part_id")), "part-1");
	json_decref(rec);

	/* different MKVPs: no common body.mkvp, each domain keeps its own */
	d[1].mkvp[0] = 0xcd;
	assert_int_equal(evrec_mk_committed(log, &fac, NULL, d, 2, NULL), HSM_OK);
	rec = last_record(path);
	b = json_object_get(rec, "body");
	assert_null(json_object_get(b, "mkvp"));
	assert_null(json_object_get(b, "group"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(b, "domains"), 1), "mkvp")),
	    "cdababababababababababababababababababababababababababababababab");
	json_decref(rec);

	assert_int_equal(evrec_command_sent(log, &fac, cmd, "pair-1", NULL), HSM_OK);
	rec = last_record(path);
	b = json_object_get(rec, "body");
	assert_string_equal(json_string_value(json_object_get(rec, "type")), EV_COMMAND_SENT);
	assert_int_equal(admincmd_digest(cmd, dg), HSM_OK);
	hex_encode_buf(dg, 32, hex);
	assert_string_equal(json_string_value(json_object_get(b, "digest")), hex);
	assert_non_null(json_object_get(json_object_get(b, "command"), "body"));
	assert_non_null(json_object_get(json_object_get(b, "command"), "signatures"));
	json_decref(rec);

	assert_int_equal(evrec_exception(log, &fac, "reader died", "USB", NULL, open, 2,
	    NULL), HSM_OK);
	rec = last_record(path);
	b = json_object_get(rec, "body");
	assert_int_equal(json_array_size(json_object_get(b, "open_steps")), 2);
	assert_null(json_object_get(b, "resolution"));
	json_decref(rec);
	evlog_close(&log);
	admincmd_free(&cmd);
}

/* Every missing or malformed argument is refused, and nothing is written. */
static void
test_refusals_write_nothing(void **state)
{
	static const ev_actor fac = { "Fay", "facilitator", NULL, NULL };
	static const ev_actor noname = { NULL, "facilitator", NULL, NULL };
	static const ev_actor badski = { "Fay", "facilitator", NULL, "ABC" };
	ev_mkdom d[1] = { { NULL, 3, { 0 } } };
	uint8_t kp[32] = { 1 }, ski[32] = { 9 };
	admincmd *cmd = a_command(0);
	json_t *empty = json_array(), *notobj = json_pack("[s]", "x");
	char path[400];
	evlog *log = NULL;
	struct stat s1, s2;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	assert_int_equal(stat(path, &s1), 0);
	assert_int_equal(evrec_witness_ack(log, &noname, "hi", NULL), HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "the actor's name is missing"));
	assert_int_equal(evrec_witness_ack(log, &badski, "hi", NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_witness_ack(log, NULL, "hi", NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_witness_ack(log, &fac, "", NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_step_end(log, &fac, "s1", "maybe", NULL), HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "ok, failed or skipped"));
	assert_int_equal(evrec_keypart_copied(log, &fac, "p", kp, "c1", NULL, NULL, NULL),
	    HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "backup card id"));
	assert_int_equal(evrec_keypart_generated(log, &fac, "p", NULL, "c1", NULL, NULL),
	    HSM_ERR_USAGE);
	assert_int_equal(evrec_mk_activated(log, &fac, "g", d, 1, NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_mk_activated(log, &fac, "g", d, 0, NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_reencipher(log, &fac, 11, 10, NULL, NULL, NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_command_applied(log, &fac, cmd, empty, NULL), HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "no receipts"));
	assert_int_equal(evrec_command_applied(log, &fac, cmd, notobj, NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_command_applied_json(log, &fac, notobj, notobj, NULL),
	    HSM_ERR_USAGE);
	assert_int_equal(evrec_command_sent(log, &fac, NULL, NULL, NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_command_signed(log, &fac, cmd, ski, NULL), HSM_ERR_NOT_FOUND);
	assert_non_null(strstr(hsm_errmsg(), "no signature by key"));
	assert_int_equal(evrec_domain_baseline(log, &fac, NULL, NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_roster(log, &fac, NULL, 0, NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_admin_registered(log, &fac, "M", 1, "xyz", NULL, NULL, NULL),
	    HSM_ERR_USAGE);
	assert_int_equal(stat(path, &s2), 0);
	assert_int_equal(s1.st_size, s2.st_size);
	evlog_close(&log);
	admincmd_free(&cmd);
	json_decref(empty);
	json_decref(notobj);
}

/* A sent command answered by receipts is matched; one never answered is
 * counted, not failed; the report and the JSON say so. */
static void
test_sent_matched_and_unanswered(void **state)
{
	const char *cas[1] = { F.ca_pem };
	struct evlog_verify_opts o = { cas, 1, NULL, 0, 0, NULL, 0, NULL, 0 };
	evlog_verify_result res;
	char path[400], *txt = NULL;
	size_t len = 0;
	FILE *mf;
	json_t *j;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evfix_ceremony(&F, path, EVFIX_COMPLETE | EVFIX_NOSYNC | EVFIX_SENT,
	    NULL), HSM_OK);
	assert_int_equal(evlog_verify(path, &o, &res), HSM_OK);
	assert_true(res.ok);
	assert_int_equal(res.commands, 3);
	assert_int_equal(res.sent, 4);
	assert_int_equal(res.sent_no_outcome, 1);
	j = evlog_verify_result_json(&res);
	assert_int_equal(json_integer_value(json_object_get(j, "sent_no_outcome")), 1);
	json_decref(j);
	evlog_verify_result_clear(&res);
	assert_non_null(mf = open_memstream(&txt, &len));
	assert_int_equal(evlog_report(path, &o, EVREPORT_TEXT, mf, NULL), HSM_OK);
	fclose(mf);
	assert_non_null(strstr(txt, "4 command(s) announced by command.sent, 1 with no "
	    "recorded outcome"));
	assert_non_null(strstr(txt, "zeroize about to be sent"));
	free(txt);
}

static int
bad_sent_digest(json_t *rec, long long seq, void *arg)
{
	(void)seq;
	if (strcmp(json_string_value(json_object_get(rec, "type")), EV_COMMAND_SENT) == 0 &&
	    *(int *)arg == 0) {
		*(int *)arg = (int)seq;
		json_object_set_new(json_object_get(rec, "body"), "digest", json_string(
		    "0000000000000000000000000000000000000000000000000000000000000000"));
	}
	return 0;
}

static int
bad_sent_command(json_t *rec, long long seq, void *arg)
{
	if (strcmp(json_string_value(json_object_get(rec, "type")), EV_COMMAND_SENT) == 0 &&
	    *(int *)arg == 0) {
		*(int *)arg = (int)seq;
		json_object_set_new(json_object_get(rec, "body"), "command",
		    json_pack("{s:s}", "body", "not a command"));
	}
	return 0;
}

/* A command.sent whose digest is not its body's, or whose command does not
 * parse, fails at that record with the reason. */
static void
test_sent_bad(void **state)
{
	evlog_verify_result res;
	char path[400];
	int seq = 0;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evfix_ceremony(&F, path, EVFIX_NOSYNC | EVFIX_SENT, NULL), HSM_OK);
	assert_int_equal(evfix_rewrite(path, bad_sent_digest, &seq), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, seq);
	assert_non_null(strstr(res.reason, "command.sent: command digest does not match"));
	evlog_verify_result_clear(&res);

	newpath(path, sizeof(path));
	seq = 0;
	assert_int_equal(evfix_ceremony(&F, path, EVFIX_NOSYNC | EVFIX_SENT, NULL), HSM_OK);
	assert_int_equal(evfix_rewrite(path, bad_sent_command, &seq), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, seq);
	assert_non_null(strstr(res.reason, "command.sent: sent command"));
	evlog_verify_result_clear(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_refusals_write_nothing),
		cmocka_unit_test(test_sent_matched_and_unanswered),
		cmocka_unit_test(test_sent_bad),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
