/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evread.c - the one checked reader of log bytes (evidence/evread.c):
 * evlog_parse_line member by member (each of seq, time, type, actor, body,
 * prev of the wrong type or form, a member too many or too few, a line not
 * in canonical form, a line of exactly the maximum length and one byte
 * more); the file reader and the memory reader giving the same records,
 * hashes and head for records that straddle the read buffer's growing
 * sizes; a read limit ending on a line end and inside a line (torn), with
 * a caller's fd left open; how a chain must start (ceremony.open with a
 * log id that seeds prev); empty lines, CRLF, a missing file and a
 * directory. (test_evtorn.c covers torn tails and the chain after seq 1.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/evlog.h"
#include "evint.h"
#include "test_tmpdir.h"

#define LOG_ID "test-log-0001"

/* A log being built in memory, each line chained to the one before. */
struct lg {
	char     *buf;
	size_t    len;
	uint8_t   head[32];
	long long seq;
	long long off[64];     /* byte offset of each seq's line */
};

/* One canonical line (malloc'ed, no "\n") of a record. body is stolen. */
static char *
line_of(long long seq, const char *type, json_t *body, const uint8_t prev[32], size_t *len)
{
	char prevhex[65], *out = NULL;
	json_t *r;

	hex_encode_buf(prev, 32, prevhex);
	r = json_pack("{s:I, s:s, s:s, s:{s:s, s:s}, s:o, s:s}", "seq", (json_int_t)seq,
	              "time", "2026-12-05T16:33:50Z", "type", type, "actor", "name", "Sam",
	              "role", "supervisor", "body", body, "prev", prevhex);
	assert_non_null(r);
	assert_int_equal(cjson_dump(r, &out, len), HSM_OK);
	json_decref(r);
	return out;
}

static void
lg_raw(struct lg *g, const char *line, size_t n)
{
	g->buf = realloc(g->buf, g->len + n + 1);
	assert_non_null(g->buf);
	memcpy(g->buf + g->len, line, n);
	g->len += n;
	g->buf[g->len] = '\0';
}

static void
lg_add(struct lg *g, const char *type, json_t *body)
{
	size_t n = 0;
	char *l = line_of(g->seq + 1, type, body, g->head, &n);

	g->seq++;
	if (g->seq < 64)
		g->off[g->seq] = (long long)g->len;
	lg_raw(g, l, n);
	lg_raw(g, "\n", 1);
	assert_int_equal(ev_sha256_2(l, n, "\n", 1, g->head), HSM_OK);
	free(l);
}

static void
lg_open(struct lg *g)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(ev_sha256_2(LOG_ID, strlen(LOG_ID), NULL, 0, g->head), HSM_OK);
	lg_add(g, EV_CEREMONY_OPEN, json_pack("{s:s, s:s}", "log_id", LOG_ID,
	                                      "ceremony", "test"));
}

/* A note whose body holds pad bytes of text. */
static void
lg_note(struct lg *g, size_t pad)
{
	char *s = malloc(pad + 1);

	assert_non_null(s);
	memset(s, 'n', pad);
	s[pad] = '\0';
	lg_add(g, "note", json_pack("{s:s}", "text", s));
	free(s);
}

/* ---- evlog_parse_line ---- */

static json_t *
good_record(void)
{
	uint8_t prev[32];
	size_t n;
	char *l;
	json_t *r;

	memset(prev, 0xab, 32);
	l = line_of(7, "note", json_pack("{s:s}", "text", "hello"), prev, &n);
	assert_int_equal(cjson_parse(l, n, &r), HSM_OK);
	free(l);
	return r;
}

static hsm_rc
parse_json(const json_t *r, evlog_record *rec)
{
	char *l = NULL;
	size_t n = 0;
	hsm_rc rc;

	assert_int_equal(cjson_dump(r, &l, &n), HSM_OK);
	rc = evlog_parse_line(l, n, rec);
	free(l);
	return rc;
}

static void
test_parse_good(void **state)
{
	json_t *r = good_record();
	evlog_record rec;
	uint8_t h[32], prev[32];
	char *l = NULL;
	size_t n = 0;

	(void)state;
	memset(prev, 0xab, 32);
	assert_int_equal(cjson_dump(r, &l, &n), HSM_OK);
	assert_int_equal(evlog_parse_line(l, n, &rec), HSM_OK);
	assert_int_equal(rec.seq, 7);
	assert_string_equal(rec.type, "note");
	assert_string_equal(rec.time, "2026-12-05T16:33:50Z");
	assert_string_equal(json_string_value(json_object_get(rec.actor, "name")), "Sam");
	assert_string_equal(json_string_value(json_object_get(rec.body, "text")), "hello");
	assert_memory_equal(rec.prev, prev, 32);
	assert_ptr_equal(rec.line, l);
	assert_int_equal(rec.len, n);
	assert_int_equal(ev_sha256_2(l, n, "\n", 1, h), HSM_OK);
	assert_memory_equal(rec.hash, h, 32);
	evlog_record_clear(&rec);
	assert_null(rec.obj);
	evlog_record_clear(NULL);
	free(l);
	json_decref(r);
}

struct mut {
	const char *key;
	const char *value;    /* JSON; NULL: delete the member */
};

static void
test_parse_members(void **state)
{
	static const struct mut m[] = {
		{ "seq", "0" }, { "seq", "-1" }, { "seq", "\"7\"" }, { "seq", "true" },
		{ "seq", NULL },
		{ "time", "\"2026-12-05T16:33:50\"" }, { "time", "\"2026-12-05 16:33:50Z\"" },
		{ "time", "1" }, { "time", NULL },
		{ "type", "\"Note\"" }, { "type", "\"\"" }, { "type", "[\"note\"]" },
		{ "type", NULL },
		{ "actor", "\"Sam\"" }, { "actor", "null" }, { "actor", NULL },
		{ "body", "[]" }, { "body", "\"x\"" }, { "body", NULL },
		{ "prev", "\"ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\"" },
		{ "prev", "\"abab\"" }, { "prev", "0" }, { "prev", NULL },
		{ "extra", "1" },
	};
	evlog_record rec;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		json_t *r = good_record();
		if (m[i].value == NULL)
			json_object_del(r, m[i].key);
		else
			json_object_set_new(r, m[i].key, json_loads(m[i].value,
			                    JSON_DECODE_ANY, NULL));
		if (parse_json(r, &rec) != HSM_ERR_FORMAT)
			fail_msg("%s = %s: not refused", m[i].key, m[i].value ? m[i].value : "(none)");
		assert_null(rec.obj);
		assert_int_equal(rec.seq, 0);
		json_decref(r);
	}
}

static void
test_parse_not_canonical(void **state)
{
	json_t *r = good_record();
	evlog_record rec;
	char *l = NULL, *alt;
	size_t n = 0;

	(void)state;
	assert_int_equal(cjson_dump(r, &l, &n), HSM_OK);
	/* the same record with its members in another order */
	{
		static const char *k[] = { "type", "time", "seq", "prev", "body", "actor" };
		json_t *rev = json_object();
		size_t i;
		for (i = 0; i < 6; i++)
			json_object_set(rev, k[i], json_object_get(r, k[i]));
		alt = json_dumps(rev, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(rev);
	}
	assert_non_null(alt);
	assert_int_equal(strlen(alt), n);
	assert_int_not_equal(memcmp(alt, l, n), 0);
	assert_int_equal(evlog_parse_line(alt, n, &rec), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "canonical"));
	/* a carriage return before the line end: JSON white space, not canonical */
	assert_non_null(l = realloc(l, n + 2));
	l[n] = '\r';
	assert_int_equal(evlog_parse_line(l, n + 1, &rec), HSM_ERR_FORMAT);
	/* a second value after the object */
	l[n] = '1';
	assert_int_equal(evlog_parse_line(l, n + 1, &rec), HSM_ERR_FORMAT);
	/* cut short */
	assert_int_equal(evlog_parse_line(l, n - 1, &rec), HSM_ERR_FORMAT);
	assert_null(rec.obj);
	free(alt);
	free(l);
	json_decref(r);
}

/* A record line of exactly len bytes (a note padded to that length). */
static char *
line_of_len(size_t len)
{
	uint8_t prev[32];
	size_t n = 0, pad;
	char *l, *s;

	memset(prev, 0, 32);
	l = line_of(2, "note", json_pack("{s:s}", "text", ""), prev, &n);
	free(l);
	pad = len - n;
	s = malloc(pad + 1);
	assert_non_null(s);
	memset(s, 'p', pad);
	s[pad] = '\0';
	l = line_of(2, "note", json_pack("{s:s}", "text", s), prev, &n);
	free(s);
	assert_int_equal(n, len);
	return l;
}

static void
test_parse_max_line(void **state)
{
	evlog_record rec;
	char *l = line_of_len(EVLOG_MAX_LINE);

	(void)state;
	assert_int_equal(evlog_parse_line(l, EVLOG_MAX_LINE, &rec), HSM_OK);
	evlog_record_clear(&rec);
	free(l);
	l = line_of_len(EVLOG_MAX_LINE + 1);
	assert_int_equal(evlog_parse_line(l, EVLOG_MAX_LINE + 1, &rec), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "longer than"));
	assert_null(rec.obj);
	free(l);
	assert_int_equal(evlog_parse_line("", 0, &rec), HSM_ERR_FORMAT);
}

/* ---- the readers ---- */

static char *
write_log(const char *dir, const char *name, const char *buf, size_t len)
{
	char *path = malloc(600);
	FILE *f;

	assert_non_null(path);
	snprintf(path, 600, "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Read both ways; the same records and the same end. Returns the end's rc. */
static hsm_rc
read_both(const char *path, const char *buf, size_t len, long long *nrec)
{
	evlog_reader *rf = NULL, *rm = NULL;
	evlog_record a, b;
	uint8_t ha[32], hb[32];
	hsm_rc ra, rb;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(evlog_reader_open(path, &rf), HSM_OK);
	assert_int_equal(evlog_reader_open_mem(buf, len, &rm), HSM_OK);
	*nrec = 0;
	for (;;) {
		ra = evlog_reader_next(rf, &a);
		rb = evlog_reader_next(rm, &b);
		assert_int_equal(ra, rb);
		if (ra != HSM_OK)
			break;
		(*nrec)++;
		assert_int_equal(a.seq, *nrec);
		assert_int_equal(b.seq, *nrec);
		assert_int_equal(a.offset, b.offset);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.line, b.line, a.len);
		assert_memory_equal(a.hash, b.hash, 32);
	}
	assert_null(a.obj);
	assert_null(b.obj);
	assert_int_equal(evlog_reader_seq(rf, ha), evlog_reader_seq(rm, hb));
	assert_memory_equal(ha, hb, 32);
	assert_int_equal(evlog_reader_bad_seq(rf), evlog_reader_bad_seq(rm));
	evlog_reader_free(&rf);
	evlog_reader_free(&rm);
	assert_null(rf);
	return ra;
}

static void
test_file_and_memory_agree(void **state)
{
	static const size_t pads[] = { 10, 4000, 4096, 5000, 8191, 20000, 70000, 200000, 3,
	                               65536, 1 };
	char *dir = make_tmpdir_named("evread"), *path;
	struct lg g;
	long long n = 0;
	uint8_t head[32];
	evlog_reader *r = NULL;
	size_t i;

	(void)state;
	lg_open(&g);
	for (i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
		lg_note(&g, pads[i]);
		lg_note(&g, i * 7);
	}
	path = write_log(dir, "big.log", g.buf, g.len);
	assert_int_equal(read_both(path, g.buf, g.len, &n), HSM_ERR_NOT_FOUND);
	assert_int_equal(n, g.seq);
	assert_int_equal(evlog_reader_open(path, &r), HSM_OK);
	{
		evlog_record rec;
		memset(&rec, 0, sizeof(rec));
		while (evlog_reader_next(r, &rec) == HSM_OK)
			;
	}
	assert_int_equal(evlog_reader_seq(r, head), g.seq);
	assert_memory_equal(head, g.head, 32);
	evlog_reader_free(&r);
	free(path);
	free(g.buf);
	rm_tmpdir(dir);
}

/* Lines of exactly the maximum length read from a file and from memory, and
 * a line one byte longer refused by both at its offset. */
static void
test_long_lines(void **state)
{
	char *dir = make_tmpdir_named("evread"), *path, *l;
	struct lg g;
	long long n = 0;
	evlog_reader *r = NULL;
	evlog_record rec;
	long long off, off5;
	size_t len;
	int torn;

	(void)state;
	lg_open(&g);
	lg_note(&g, 100);
	{   /* seq 3 at exactly EVLOG_MAX_LINE: pad to it */
		size_t n0 = 0, pad;
		char *probe = line_of(3, "note", json_pack("{s:s}", "text", ""), g.head, &n0);
		free(probe);
		pad = EVLOG_MAX_LINE - n0;
		lg_note(&g, pad);
		assert_int_equal(g.off[3] + EVLOG_MAX_LINE + 1, (long long)g.len);
	}
	lg_note(&g, 5);
	path = write_log(dir, "max.log", g.buf, g.len);
	assert_int_equal(read_both(path, g.buf, g.len, &n), HSM_ERR_NOT_FOUND);
	assert_int_equal(n, 4);
	free(path);
	/* now seq 5 one byte too long (its content does not matter) */
	l = line_of_len(EVLOG_MAX_LINE + 1);
	off5 = (long long)g.len;
	lg_raw(&g, l, EVLOG_MAX_LINE + 1);
	lg_raw(&g, "\n", 1);
	free(l);
	path = write_log(dir, "long.log", g.buf, g.len);
	assert_int_equal(read_both(path, g.buf, g.len, &n), HSM_ERR_FORMAT);
	assert_int_equal(n, 4);
	assert_int_equal(evlog_reader_open(path, &r), HSM_OK);
	memset(&rec, 0, sizeof(rec));
	while (evlog_reader_next(r, &rec) == HSM_OK)
		;
	assert_int_equal(evlog_reader_bad_seq(r), 5);
	ev_reader_failure(r, &off, &len, &torn);
	assert_int_equal(off, off5);
	assert_int_equal(len, EV_LEN_TOO_LONG);
	assert_false(torn);
	evlog_reader_free(&r);
	free(path);
	free(g.buf);
	rm_tmpdir(dir);
}

static void
test_limit_and_fd(void **state)
{
	char *dir = make_tmpdir_named("evread"), *path;
	struct lg g;
	evlog_reader *r = NULL;
	evlog_record rec;
	long long off;
	size_t len;
	int fd, torn, i;

	(void)state;
	lg_open(&g);
	for (i = 0; i < 5; i++)
		lg_note(&g, 3000);
	path = write_log(dir, "lim.log", g.buf, g.len);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	memset(&rec, 0, sizeof(rec));
	/* a limit on a line end: a shorter, whole log */
	assert_int_equal(ev_reader_from_fd(fd, &r), HSM_OK);
	ev_reader_set_limit(r, g.off[4]);
	for (i = 1; i <= 3; i++)
		assert_int_equal(evlog_reader_next(r, &rec), HSM_OK);
	assert_int_equal(evlog_reader_next(r, &rec), HSM_ERR_NOT_FOUND);
	assert_int_equal(evlog_reader_seq(r, NULL), 3);
	evlog_reader_free(&r);
	/* a limit inside seq 4: torn there, however the fd's position moved */
	assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)g.len);
	assert_int_equal(ev_reader_from_fd(fd, &r), HSM_OK);
	ev_reader_set_limit(r, g.off[4] + 100);
	for (i = 1; i <= 3; i++)
		assert_int_equal(evlog_reader_next(r, &rec), HSM_OK);
	assert_int_equal(evlog_reader_next(r, &rec), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "seq 4: the last line"));
	ev_reader_failure(r, &off, &len, &torn);
	assert_int_equal(off, g.off[4]);
	assert_int_equal(len, 100);
	assert_true(torn);
	assert_null(rec.obj);
	evlog_reader_free(&r);
	/* the caller's fd is the caller's */
	assert_int_not_equal(fcntl(fd, F_GETFD), -1);
	close(fd);
	free(path);
	free(g.buf);
	rm_tmpdir(dir);
}

/* The first record of a log, read from memory; the end's rc and message. */
static hsm_rc
first_of(const char *type, json_t *body, const char *prev_seed, long long seq)
{
	uint8_t prev[32];
	evlog_reader *r = NULL;
	evlog_record rec;
	size_t n = 0;
	char *l, *buf;
	hsm_rc rc;

	assert_int_equal(ev_sha256_2(prev_seed, strlen(prev_seed), NULL, 0, prev), HSM_OK);
	l = line_of(seq, type, body, prev, &n);
	assert_non_null(buf = malloc(n + 1));
	memcpy(buf, l, n);
	buf[n] = '\n';
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(evlog_reader_open_mem(buf, n + 1, &r), HSM_OK);
	rc = evlog_reader_next(r, &rec);
	if (rc == HSM_OK)
		assert_int_equal(evlog_reader_next(r, &rec), HSM_ERR_NOT_FOUND);
	else
		assert_int_equal(evlog_reader_bad_seq(r), 1);
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	free(buf);
	free(l);
	return rc;
}

static void
test_chain_start(void **state)
{
	char id129[130];

	(void)state;
	memset(id129, 'i', 129);
	id129[129] = '\0';
	assert_int_equal(first_of(EV_CEREMONY_OPEN, json_pack("{s:s}", "log_id", LOG_ID),
	                          LOG_ID, 1), HSM_OK);
	/* prev seeded from another id */
	assert_int_equal(first_of(EV_CEREMONY_OPEN, json_pack("{s:s}", "log_id", LOG_ID),
	                          "another-log", 1), HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "prev hash does not match the log id"));
	assert_int_equal(first_of("note", json_pack("{s:s}", "log_id", LOG_ID), LOG_ID, 1),
	                 HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "must start with a ceremony.open"));
	assert_int_equal(first_of(EV_CEREMONY_OPEN, json_object(), LOG_ID, 1), HSM_ERR_AUDIT);
	assert_int_equal(first_of(EV_CEREMONY_OPEN, json_pack("{s:i}", "log_id", 1), LOG_ID, 1),
	                 HSM_ERR_AUDIT);
	assert_int_equal(first_of(EV_CEREMONY_OPEN, json_pack("{s:s}", "log_id", ""), "", 1),
	                 HSM_ERR_AUDIT);
	assert_int_equal(first_of(EV_CEREMONY_OPEN, json_pack("{s:s}", "log_id", id129),
	                          id129, 1), HSM_ERR_AUDIT);
	id129[128] = '\0';
	assert_int_equal(first_of(EV_CEREMONY_OPEN, json_pack("{s:s}", "log_id", id129),
	                          id129, 1), HSM_OK);
	/* a log that starts at seq 2 */
	assert_int_equal(first_of(EV_CEREMONY_OPEN, json_pack("{s:s}", "log_id", LOG_ID),
	                          LOG_ID, 2), HSM_ERR_AUDIT);
	assert_non_null(strstr(hsm_errmsg(), "seq 1: missing or out of order"));
}

static void
test_odd_files(void **state)
{
	char *dir = make_tmpdir_named("evread"), *path, missing[600];
	evlog_reader *r = (evlog_reader *)dir;
	evlog_record rec;
	struct lg g;
	long long n = 0;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	snprintf(missing, sizeof(missing), "%s/none.log", dir);
	assert_int_equal(evlog_reader_open(missing, &r), HSM_ERR_NOT_FOUND);
	assert_null(r);
	/* a directory opens, and cannot be read */
	assert_int_equal(evlog_reader_open(dir, &r), HSM_OK);
	assert_int_equal(evlog_reader_next(r, &rec), HSM_ERR_IO);
	evlog_reader_free(&r);
	/* an empty log: a clean end at once */
	path = write_log(dir, "empty.log", "", 0);
	assert_int_equal(read_both(path, "", 0, &n), HSM_ERR_NOT_FOUND);
	assert_int_equal(n, 0);
	free(path);
	/* an empty line after seq 2, and a stopped reader stays stopped */
	lg_open(&g);
	lg_note(&g, 1);
	lg_raw(&g, "\n", 1);
	lg_note(&g, 1);
	path = write_log(dir, "blank.log", g.buf, g.len);
	assert_int_equal(read_both(path, g.buf, g.len, &n), HSM_ERR_FORMAT);
	assert_int_equal(n, 2);
	assert_int_equal(evlog_reader_open_mem(g.buf, g.len, &r), HSM_OK);
	while (evlog_reader_next(r, &rec) == HSM_OK)
		;
	assert_non_null(strstr(hsm_errmsg(), "empty line"));
	assert_int_equal(evlog_reader_next(r, &rec), HSM_ERR_AUDIT);
	assert_int_equal(evlog_reader_bad_seq(r), 3);
	evlog_reader_free(&r);
	free(path);
	free(g.buf);
	rm_tmpdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_members),
		cmocka_unit_test(test_parse_not_canonical),
		cmocka_unit_test(test_parse_max_line),
		cmocka_unit_test(test_file_and_memory_agree),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_limit_and_fd),
		cmocka_unit_test(test_chain_start),
		cmocka_unit_test(test_odd_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
