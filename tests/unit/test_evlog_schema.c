/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evlog_schema.c - every record the writer produces in a real ceremony
 * (and a recovered torn tail) matches the published schema of its type, and
 * the checker refuses records that do not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/evlog.h"
#include "hsmadm/evrec.h"
#include "hsmadm/evschema.h"
#include "test_evlog_fixture.h"

static json_t *
schema_for(const char *type)
{
	char path[512];
	json_error_t e;
	json_t *s;

	snprintf(path, sizeof(path), "%s/%s.schema.json", HSMADM_SCHEMA_DIR, type);
	s = json_load_file(path, 0, &e);
	if (s == NULL)
		fail_msg("no schema for record type %s (%s)", type, e.text);
	return s;
}

/* Check every record of a log; returns the number of distinct types seen. */
static int
check_log(const char *path, char seen[][32], int nseen)
{
	evlog_reader *r = NULL;
	evlog_record rec;
	hsm_rc rc;
	int i;

	memset(&rec, 0, sizeof(rec));
	assert_int_equal(evlog_reader_open(path, &r), HSM_OK);
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK) {
		json_t *s = schema_for(rec.type);
		if (evschema_check(s, rec.obj) != HSM_OK)
			fail_msg("seq %lld (%s): %s", rec.seq, rec.type, hsm_errmsg());
		json_decref(s);
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], rec.type) == 0)
				break;
		if (i == nseen && nseen < 64)
			snprintf(seen[nseen++], 32, "%s", rec.type);
	}
	assert_int_equal(rc, HSM_ERR_NOT_FOUND);
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	return nseen;
}

/* Without cmocka: 0 if every record matches, else prints the first miss. */
static int
check_log_plain(const char *path, char seen[][32])
{
	evlog_reader *r = NULL;
	evlog_record rec;
	hsm_rc rc;
	int bad = 0;

	(void)seen;
	memset(&rec, 0, sizeof(rec));
	if (evlog_reader_open(path, &r) != HSM_OK) {
		fprintf(stderr, "%s\n", hsm_errmsg());
		return 1;
	}
	while (!bad && (rc = evlog_reader_next(r, &rec)) == HSM_OK) {
		char sp[512];
		json_error_t e;
		json_t *s;

		snprintf(sp, sizeof(sp), "%s/%s.schema.json", HSMADM_SCHEMA_DIR, rec.type);
		if ((s = json_load_file(sp, 0, &e)) == NULL) {
			fprintf(stderr, "seq %lld: no schema for %s\n", rec.seq, rec.type);
			bad = 1;
		} else if (evschema_check(s, rec.obj) != HSM_OK) {
			fprintf(stderr, "seq %lld (%s): %s\n", rec.seq, rec.type, hsm_errmsg());
			bad = 1;
		}
		json_decref(s);
	}
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	if (!bad)
		printf("%s: every record matches its schema\n", path);
	return bad;
}

static void
test_records_match_schemas(void **state)
{
	struct evfix f;
	char seen[64][32], path[400];
	size_t len = 0;
	char *buf;
	evlog *log = NULL;
	int n;

	(void)state;
	assert_int_equal(evfix_setup(&f), 0);
	assert_int_equal(evfix_ceremony(&f, f.log, EVFIX_COMPLETE | EVFIX_NOSYNC | EVFIX_SENT |
	    EVFIX_MK, NULL), HSM_OK);
	n = check_log(f.log, seen, 0);
	/* a torn tail, recovered: log.recovered must match its schema too */
	buf = evfix_slurp(f.log, &len);
	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/torn.log", f.dir);
	assert_int_equal(evfix_spit(path, buf, len - 40), 0);
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	evlog_close(&log);
	n = check_log(path, seen, n);
	assert_true(n >= 20);   /* with command.sent, mk.loaded, mk.committed */
	free(buf);
	evfix_teardown(&f);
}

/* The records of the key's life after the ceremony (hsmadm-rotate). */
static void
test_life_records_match_schemas(void **state)
{
	struct evfix f;
	char seen[64][32];
	evlog *log = NULL;
	ev_actor sys = { "hsmadm-rotate", "system", NULL, NULL };
	ev_request req = { "CR-2026-17", { 0 } };
	ev_mkdom d = { "M1", 3, { 0 } };
	ev_cardwipe cw[2] = { { "card-c1", "p1", 0 }, { "card-c1b", "p1", 1 } };
	ev_zdom z = { "M1", 3, 12 };
	const char *wit[] = { "Wanda Witness" };
	uint8_t k2[32];

	(void)state;
	memset(req.sha256, 0xab, sizeof(req.sha256));
	memset(d.mkvp, 0x11, sizeof(d.mkvp));
	memset(k2, 0x22, sizeof(k2));
	assert_int_equal(evfix_setup(&f), 0);
	assert_int_equal(evlog_open(f.log, NULL, &log), HSM_OK);
	assert_int_equal(evrec_rotation_begun(log, &sys, "g", &req, d.mkvp, NULL), HSM_OK);
	assert_int_equal(evrec_reencipher(log, &sys, 5, 5, d.mkvp, k2, NULL), HSM_OK);
	assert_int_equal(evrec_mk_finalized(log, &sys, "g", &d, 1, &req, "done", NULL), HSM_OK);
	assert_int_equal(evrec_mk_backed_out(log, &sys, "g", &d, 1, &req, k2, NULL), HSM_OK);
	assert_int_equal(evrec_mk_destroyed(log, &sys, "g", &d, 1, &req, cw, 2, NULL), HSM_OK);
	assert_int_equal(evrec_group_decommissioned(log, &sys, "g", &req, &z, 1, NULL), HSM_OK);
	assert_int_equal(evrec_card_disposed(log, &sys, "card-c1", "retained", "Carl", wit, 1,
	    &req, NULL), HSM_OK);
	/* what the writers refuse */
	assert_int_equal(evrec_mk_finalized(log, &sys, "g", &d, 1, &req, "maybe", NULL),
	    HSM_ERR_USAGE);
	assert_int_equal(evrec_mk_finalized(log, &sys, "g", &d, 1, NULL, "done", NULL),
	    HSM_ERR_USAGE);
	assert_int_equal(evrec_card_disposed(log, &sys, "card-c1", "lost", NULL, wit, 1, NULL,
	    NULL), HSM_ERR_USAGE);
	assert_int_equal(evrec_card_disposed(log, &sys, "card-c1", "destroyed", NULL, wit, 0,
	    NULL, NULL), HSM_ERR_USAGE);
	evlog_close(&log);
	assert_int_equal(check_log(f.log, seen, 0), 8);   /* 7 types and ceremony.open */
	evfix_teardown(&f);
}

static void
test_checker_refuses(void **state)
{
	json_t *s = schema_for(EV_KEYPART_GENERATED), *rec;

	(void)state;
	rec = json_pack("{s:i, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:s}", "seq", 3,
	    "time", "2026-11-24T03:00:00Z", "type", "keypart.generated",
	    "actor", "name", "Carl", "role", "custodian",
	    "body", "part_id", "p1", "kpvp", "ABC",
	    "prev", "00000000000000000000000000000000000000000000000000000000000000");
	assert_int_equal(evschema_check(s, rec), HSM_ERR_FORMAT);   /* card_id missing */
	assert_non_null(strstr(hsm_errmsg(), "card_id"));
	json_object_set_new(json_object_get(rec, "body"), "card_id", json_string("c1"));
	assert_int_equal(evschema_check(s, rec), HSM_ERR_FORMAT);   /* kpvp not hex */
	json_object_set_new(json_object_get(rec, "body"), "kpvp", json_string(
	    "5a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0"));
	assert_int_equal(evschema_check(s, rec), HSM_ERR_FORMAT);   /* prev too short */
	json_object_set_new(rec, "prev", json_string(
	    "5a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0"));
	assert_int_equal(evschema_check(s, rec), HSM_OK);
	json_object_set_new(rec, "extra", json_true());
	assert_int_equal(evschema_check(s, rec), HSM_ERR_FORMAT);   /* additional */
	json_decref(rec);
	json_decref(s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_match_schemas),
		cmocka_unit_test(test_checker_refuses),
		cmocka_unit_test(test_life_records_match_schemas),
	};
	/* test_evlog_schema LOG: check one log (used by the shell tests on logs
	 * written by the real commands and modules) */
	if (argc == 2) {
		char seen[64][32];
		return check_log_plain(argv[1], seen) ? 1 : 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
