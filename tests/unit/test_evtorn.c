/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evtorn.c - the one reader (chain checked once, first bad seq named)
 * and torn-tail recovery that is itself recorded: the record of a cut is
 * durable before the cut, even when the disk is full (a real EFBIG from
 * RLIMIT_FSIZE in a child process). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evrec.h"
#include "test_evlog_fixture.h"

static char dir[256];
static int case_no;
static const ev_actor fac = { "Fay", "facilitator", NULL, NULL };
static const char torn[] = "{\"actor\":{\"name\":\"Fay\",\"role\":\"facilitator\"},\"bo";

static int
setup_all(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/evtorn.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR")
	    : "/tmp");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
teardown_all(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static off_t
fsize(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* A log of n witness statements, then a torn record; *whole = its size
 * before the torn bytes. */
static void
torn_log(char *path, size_t n, int records, off_t *whole)
{
	evlog *log = NULL;
	FILE *f;
	int i;

	snprintf(path, n, "%s/torn%d.log", dir, ++case_no);
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	for (i = 0; i < records; i++)
		assert_int_equal(evrec_witness_ack(log, &fac, "all as planned", NULL), HSM_OK);
	evlog_close(&log);
	*whole = fsize(path);
	assert_non_null(f = fopen(path, "a"));
	assert_int_equal(fwrite(torn, 1, sizeof(torn) - 1, f), sizeof(torn) - 1);
	fclose(f);
}

/* evlog_open in a child whose files may not grow past limit bytes: a write
 * beyond it fails with EFBIG, as on a full disk. Returns the child's hsm_rc. */
static int
open_with_fsize_limit(const char *path, rlim_t limit)
{
	pid_t pid = fork();
	int st = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { limit, limit };
		evlog *log = NULL;
		hsm_rc rc;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(100);
		rc = evlog_open(path, NULL, &log);
		if (rc != HSM_OK)
			fprintf(stderr, "child: %s\n", hsm_errmsg());
		evlog_close(&log);
		_exit((int)rc);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The last record of the log (new reference). */
static json_t *
last_record(const char *path)
{
	evlog_reader *r = NULL;
	evlog_record rec;
	json_t *last = NULL;
	hsm_rc rc;

	memset(&rec, 0, sizeof(rec));
	assert_int_equal(evlog_reader_open(path, &r), HSM_OK);
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK) {
		json_decref(last);
		last = json_incref(rec.obj);
	}
	assert_int_equal(rc, HSM_ERR_NOT_FOUND);
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	return last;
}

/* The disk fills up after the cut: the append of log.recovered fails with
 * EFBIG. The cut must still be on record when the log is next opened. */
static void
test_cut_recorded_despite_full_disk(void **state)
{
	char path[400], jpath[420], want[65];
	uint8_t h[32];
	off_t whole;
	json_t *rec, *b;
	evlog *log = NULL;

	(void)state;
	torn_log(path, sizeof(path), 3, &whole);
	/* room for the torn bytes, not for the log.recovered record */
	assert_int_not_equal(open_with_fsize_limit(path, (rlim_t)(whole + sizeof(torn) - 1)),
	    HSM_OK);
	snprintf(jpath, sizeof(jpath), "%s.recovering", path);
	assert_int_equal(access(jpath, F_OK), 0);   /* the cut's record survives */
	/* the next writer completes the recording */
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	evlog_close(&log);
	rec = last_record(path);
	b = json_object_get(rec, "body");
	assert_string_equal(json_string_value(json_object_get(rec, "type")), EV_LOG_RECOVERED);
	assert_int_equal(json_integer_value(json_object_get(b, "lost_bytes")), sizeof(torn) - 1);
	assert_int_equal(json_integer_value(json_object_get(b, "at_offset")), whole);
	assert_int_equal(crypto_sha256(torn, sizeof(torn) - 1, h), HSM_OK);
	hex_encode_buf(h, 32, want);
	assert_string_equal(json_string_value(json_object_get(b, "lost_sha256")), want);
	json_decref(rec);
	assert_int_equal(access(jpath, F_OK), -1);  /* done: the journal is gone */
	/* and only once */
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	evlog_close(&log);
	rec = last_record(path);
	assert_int_equal(json_integer_value(json_object_get(rec, "seq")), 5);
	json_decref(rec);
}

/* No room even for the journal: nothing is cut, and the error says why. */
static void
test_no_journal_no_cut(void **state)
{
	char path[400], jpath[420];
	off_t whole, before;
	evlog *log = NULL;
	hsm_rc rc;

	(void)state;
	torn_log(path, sizeof(path), 1, &whole);
	before = fsize(path);
	/* a journal that cannot be written (a directory holds its name):
	 * nothing may be cut */
	snprintf(jpath, sizeof(jpath), "%s.recovering", path);
	assert_int_equal(mkdir(jpath, 0700), 0);
	rc = evlog_open(path, NULL, &log);
	assert_int_equal(rc, HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "cannot be recorded first"));
	assert_non_null(strstr(hsm_errmsg(), "nothing was cut"));
	assert_null(log);
	assert_int_equal(fsize(path), before);
	assert_int_equal(rmdir(jpath), 0);
	/* a full disk while writing the journal: the same */
	assert_int_not_equal(open_with_fsize_limit(path, 16), HSM_OK);
	assert_int_equal(fsize(path), before);
	assert_int_equal(access(jpath, F_OK), -1);
	/* with room, the cut happens and is recorded */
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	evlog_close(&log);
	assert_true(fsize(path) > whole);
}

/* The reader checks the chain and names the first bad seq; a torn tail says
 * which commands repair it. */
static void
test_reader_checks_chain(void **state)
{
	char path[400], *buf;
	size_t len;
	off_t whole;
	evlog_reader *r = NULL;
	evlog_record rec;
	hsm_rc rc;
	char *p;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	torn_log(path, sizeof(path), 4, &whole);
	assert_non_null(buf = evfix_slurp(path, &len));
	/* torn: 5 good records, then the message */
	assert_int_equal(evlog_reader_open_mem(buf, len, &r), HSM_OK);
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK)
		;
	assert_int_equal(rc, HSM_ERR_FORMAT);
	assert_int_equal(evlog_reader_bad_seq(r), 6);
	assert_int_equal(evlog_reader_seq(r, NULL), 5);
	assert_non_null(strstr(hsm_errmsg(), "seq 6: the last line"));
	assert_non_null(strstr(hsm_errmsg(), "repairs it and records the cut"));
	assert_non_null(strstr(hsm_errmsg(), "hsmadm-ceremony exception"));
	evlog_reader_free(&r);
	/* an edited record 3: record 4's prev no longer matches */
	p = strstr(buf, "all as planned");
	p = strstr(p + 1, "all as planned");     /* seq 3 */
	p[0] = 'A';
	assert_int_equal(evlog_reader_open_mem(buf, (size_t)whole, &r), HSM_OK);
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK)
		;
	assert_int_equal(rc, HSM_ERR_AUDIT);
	assert_int_equal(evlog_reader_bad_seq(r), 4);
	assert_string_equal(hsm_errmsg(), "seq 4: prev hash does not match seq 3");
	/* a stopped reader stays stopped */
	assert_int_equal(evlog_reader_next(r, &rec), HSM_ERR_AUDIT);
	evlog_reader_free(&r);
	/* a missing record: seq 2 dropped */
	p[0] = 'a';
	{
		char *l1 = strchr(buf, '\n') + 1, *l2 = strchr(l1, '\n') + 1;
		memmove(l1, l2, (size_t)whole - (size_t)(l2 - buf));
		assert_int_equal(evlog_reader_open_mem(buf, (size_t)whole - (size_t)(l2 - l1),
		    &r), HSM_OK);
	}
	assert_int_equal(evlog_reader_next(r, &rec), HSM_OK);
	assert_int_equal(evlog_reader_next(r, &rec), HSM_ERR_AUDIT);
	assert_int_equal(evlog_reader_bad_seq(r), 2);
	assert_non_null(strstr(hsm_errmsg(), "seq 2: missing or out of order: the record "
	    "in its place says seq 3"));
	evlog_reader_free(&r);
	evlog_record_clear(&rec);
	free(buf);
}

/* Write text as the journal of the log at path. */
static void
put_journal(const char *path, const char *text)
{
	char jpath[420];
	FILE *f;

	snprintf(jpath, sizeof(jpath), "%s.recovering", path);
	assert_non_null(f = fopen(jpath, "w"));
	fputs(text, f);
	fclose(f);
}

/* Stopped after the journal, before the cut: the next open redoes it, once.
 * Stopped after the record, before the journal went: nothing is added. A
 * journal that names another cut, or cannot be read, next to a whole log:
 * refused, nothing written. */
static void
test_journal_states(void **state)
{
	char path[400], jpath[420];
	off_t whole, size;
	evlog *log = NULL;
	json_t *rec;

	(void)state;
	torn_log(path, sizeof(path), 2, &whole);
	snprintf(jpath, sizeof(jpath), "%s.recovering", path);
	put_journal(path, "{\"at_offset\":1,\"lost_bytes\":2,\"lost_sha256\":\"00");
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);   /* torn: redone */
	evlog_close(&log);
	rec = last_record(path);
	assert_string_equal(json_string_value(json_object_get(rec, "type")), EV_LOG_RECOVERED);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "body"),
	    "at_offset")), whole);
	assert_int_equal(access(jpath, F_OK), -1);
	/* the journal of that very cut comes back: the log already says it */
	{
		char text[300];
		json_t *b = json_object_get(rec, "body");
		snprintf(text, sizeof(text), "{\"at_offset\":%lld,\"lost_bytes\":%lld,"
		    "\"lost_sha256\":\"%s\"}\n",
		    (long long)json_integer_value(json_object_get(b, "at_offset")),
		    (long long)json_integer_value(json_object_get(b, "lost_bytes")),
		    json_string_value(json_object_get(b, "lost_sha256")));
		put_journal(path, text);
	}
	json_decref(rec);
	size = fsize(path);
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	evlog_close(&log);
	assert_int_equal(fsize(path), size);
	assert_int_equal(access(jpath, F_OK), -1);
	/* a journal of a cut this log does not show */
	put_journal(path, "{\"at_offset\":7,\"lost_bytes\":3,\"lost_sha256\":\""
	    "00000000000000000000000000000000000000000000000000000000000000ff\"}\n");
	assert_int_equal(evlog_open(path, NULL, &log), HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "names a cut at byte 7"));
	assert_int_equal(fsize(path), size);
	/* an unreadable journal next to a whole log */
	put_journal(path, "garbage");
	assert_int_equal(evlog_open(path, NULL, &log), HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "cannot be read"));
	assert_int_equal(fsize(path), size);
	assert_int_equal(unlink(jpath), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_checks_chain),
		cmocka_unit_test(test_cut_recorded_despite_full_disk),
		cmocka_unit_test(test_no_journal_no_cut),
		cmocka_unit_test(test_journal_states),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
