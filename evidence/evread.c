/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evread.c - the one checked reader of evidence-log bytes: splits the file
 * into lines with a bounded buffer (constant memory, whatever the file size)
 * and parses each line strictly (canonical form, exact members, types).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/evlog.h"
#include "evint.h"

/* The read buffer starts small and doubles up to IO_MAX while the file goes
 * on, so that opening a reader on a short log (the fuzzer, every command's
 * look at its log) costs a few KiB, and a long one is read in 64 KiB blocks. */
#define IO_START 4096
#define IO_MAX   65536

struct evlog_reader {
	int        fd;
	int        own_fd;
	const char *mem;        /* reading from memory instead of fd */
	size_t     mem_len;
	long long  limit;       /* stop at this offset (-1: end of file) */
	long long  file_off;    /* offset of io[0] in the file */
	char      *io;
	size_t     io_cap, io_pos, io_len;
	char      *line;        /* grows up to EVLOG_MAX_LINE + 1 */
	size_t     line_cap;
	long long  line_off;    /* offset of the current line */
	/* the hash chain, checked once here for every consumer */
	long long  seq;         /* last good record (0: none yet) */
	uint8_t    head[32];    /* its line's hash (or the log id's, before seq 1) */
	long long  bad_seq;     /* first bad seq, 0 while all is well */
	long long  bad_off;     /* byte offset of the bad line */
	size_t     bad_len;
	int        bad_torn;    /* the bad line is a last line without "\n" */
	int        failed;      /* no more records after a failure */
};

void
evlog_record_clear(evlog_record *rec)
{
	if (rec == NULL)
		return;
	json_decref(rec->obj);
	memset(rec, 0, sizeof(*rec));
}

hsm_rc
evlog_parse_line(const char *line, size_t len, evlog_record *rec)
{
	json_t *obj = NULL, *v;
	const char *prev;
	int canonical = 0;
	hsm_rc rc;

	memset(rec, 0, sizeof(*rec));
	if (len == 0)
		return hsm_fail(HSM_ERR_FORMAT, "empty line");
	if (len > EVLOG_MAX_LINE)
		return hsm_fail(HSM_ERR_FORMAT, "line longer than %d bytes", EVLOG_MAX_LINE);
	/* only bad bytes are damage: running out of memory is not a torn line.
	 * Parsed and checked for canonical form in one pass (no copy written
	 * back for the plain lines most records are). */
	if ((rc = cjson_parse_canonical(line, len, &obj, &canonical)) != HSM_OK)
		return rc == HSM_ERR_FORMAT ? hsm_fail_wrap(rc, "not valid JSON") : rc;
	if (!json_is_object(obj)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "line is not a JSON object");
		goto out;
	}
	if (json_object_size(obj) != 6) {
		rc = hsm_fail(HSM_ERR_FORMAT, "record must have exactly the members "
		    "actor, body, prev, seq, time, type (it has %zu members)",
		    json_object_size(obj));
		goto out;
	}
	v = json_object_get(obj, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		rc = hsm_fail(HSM_ERR_FORMAT, "\"seq\" must be an integer >= 1");
		goto out;
	}
	rec->seq = json_integer_value(v);
	v = json_object_get(obj, "time");
	if (!json_is_string(v) || !ev_is_rfc3339_utc(json_string_value(v))) {
		rc = hsm_fail(HSM_ERR_FORMAT, "\"time\" must be a UTC RFC 3339 time ending in Z");
		goto out;
	}
	rec->time = json_string_value(v);
	v = json_object_get(obj, "type");
	if (!json_is_string(v) || !ev_is_type_name(json_string_value(v))) {
		rc = hsm_fail(HSM_ERR_FORMAT, "\"type\" must be a record type name");
		goto out;
	}
	rec->type = json_string_value(v);
	rec->actor = json_object_get(obj, "actor");
	if (!json_is_object(rec->actor)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "\"actor\" must be an object");
		goto out;
	}
	rec->body = json_object_get(obj, "body");
	if (!json_is_object(rec->body)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "\"body\" must be an object");
		goto out;
	}
	v = json_object_get(obj, "prev");
	prev = json_is_string(v) ? json_string_value(v) : NULL;
	if (!ev_is_hex(prev, 32) || hex_decode_into(prev, rec->prev, 32) != HSM_OK) {
		rc = hsm_fail(HSM_ERR_FORMAT, "\"prev\" must be 64 lowercase hex digits");
		goto out;
	}
	/* The signed and hashed bytes are the line itself, so it must be the one
	 * canonical spelling of its content: no reformatting can hide. */
	if (!canonical) {
		rc = hsm_fail(HSM_ERR_FORMAT, "line is not in RFC 8785 canonical form");
		goto out;
	}
	if ((rc = ev_sha256_2(line, len, "\n", 1, rec->hash)) != HSM_OK)
		goto out;
	rec->line = line;
	rec->len = len;
	rec->obj = obj;
	obj = NULL;
out:
	json_decref(obj);
	if (rc != HSM_OK) {
		json_t *keep = rec->obj;
		memset(rec, 0, sizeof(*rec));
		json_decref(keep);
	}
	return rc;
}

static hsm_rc
reader_new(evlog_reader **out)
{
	evlog_reader *r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory opening the log reader");
	r->fd = -1;
	r->limit = -1;
	*out = r;
	return HSM_OK;
}

hsm_rc
ev_reader_from_fd(int fd, evlog_reader **out)
{
	hsm_rc rc;

	if ((rc = reader_new(out)) != HSM_OK)
		return rc;
	(*out)->fd = fd;
	return HSM_OK;
}

void
ev_reader_set_limit(evlog_reader *r, long long limit)
{
	r->limit = limit;
}

hsm_rc
evlog_reader_open(const char *path, evlog_reader **out)
{
	int fd;
	hsm_rc rc;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return hsm_fail(errno == ENOENT ? HSM_ERR_NOT_FOUND : HSM_ERR_IO,
		    "cannot open evidence log %s: %s", path, strerror(errno));
	if ((rc = ev_reader_from_fd(fd, out)) != HSM_OK) {
		close(fd);
		return rc;
	}
	(*out)->own_fd = 1;
	return HSM_OK;
}

hsm_rc
evlog_reader_open_mem(const char *buf, size_t len, evlog_reader **out)
{
	hsm_rc rc;

	if ((rc = reader_new(out)) != HSM_OK)
		return rc;
	(*out)->mem = buf != NULL ? buf : "";
	(*out)->mem_len = buf != NULL ? len : 0;
	return HSM_OK;
}

void
evlog_reader_free(evlog_reader **r)
{
	if (r == NULL || *r == NULL)
		return;
	if ((*r)->own_fd)
		close((*r)->fd);
	free((*r)->io);
	free((*r)->line);
	free(*r);
	*r = NULL;
}

long long
evlog_reader_seq(const evlog_reader *r, uint8_t head[32])
{
	if (head != NULL)
		memcpy(head, r->head, 32);
	return r->seq;
}

long long
evlog_reader_bad_seq(const evlog_reader *r)
{
	return r->bad_seq;
}

void
ev_reader_failure(const evlog_reader *r, long long *offset, size_t *len, int *torn)
{
	*offset = r->bad_off;
	*len = r->bad_len;
	*torn = r->bad_torn;
}

static hsm_rc
fill(evlog_reader *r)
{
	size_t want;
	ssize_t n;

	r->file_off += (long long)r->io_len;
	r->io_pos = r->io_len = 0;
	if (r->io_cap < IO_MAX) {
		/* grow while the file goes on: a small log never costs 64 KiB */
		size_t cap = r->io_cap == 0 ? IO_START : r->io_cap * 2;
		char *nio = realloc(r->io, cap);
		if (nio == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory reading the evidence log");
		r->io = nio;
		r->io_cap = cap;
	}
	want = r->io_cap;
	if (r->limit >= 0) {
		if (r->file_off >= r->limit)
			return HSM_OK;
		if ((long long)want > r->limit - r->file_off)
			want = (size_t)(r->limit - r->file_off);
	}
	for (;;) {
		n = pread(r->fd, r->io, want, (off_t)r->file_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hsm_fail(HSM_ERR_IO, "cannot read the evidence log: %s",
			    strerror(errno));
		r->io_len = (size_t)n;
		return HSM_OK;
	}
}

static hsm_rc
line_put(evlog_reader *r, size_t len, const char *p, size_t n)
{
	size_t want = len + n + 1;
	char *nl;

	if (len + n > EVLOG_MAX_LINE)
		return hsm_fail(HSM_ERR_FORMAT, "line at byte offset %lld is longer than "
		    "%d bytes", r->line_off, EVLOG_MAX_LINE);
	if (want > r->line_cap) {
		size_t cap = r->line_cap ? r->line_cap : 4096;
		while (cap < want)
			cap *= 2;
		if ((nl = realloc(r->line, cap)) == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory reading a log line");
		r->line = nl;
		r->line_cap = cap;
	}
	memcpy(r->line + len, p, n);
	return HSM_OK;
}

/* Over memory a line is not copied: it points into the caller's buffer (so
 * it is not NUL-terminated; every consumer takes the length). */
static hsm_rc
mem_next_raw(evlog_reader *r, const char **line, size_t *len, int *had_nl,
             long long *offset)
{
	size_t pos = (size_t)r->line_off, avail;
	const char *p = r->mem + pos, *nl;

	if (pos >= r->mem_len)
		return HSM_ERR_NOT_FOUND;
	avail = r->mem_len - pos;
	nl = memchr(p, '\n', avail);
	*len = nl != NULL ? (size_t)(nl - p) : avail;
	if (*len > EVLOG_MAX_LINE)
		return hsm_fail(HSM_ERR_FORMAT, "line at byte offset %lld is longer than "
		    "%d bytes", r->line_off, EVLOG_MAX_LINE);
	*had_nl = nl != NULL;
	r->file_off = (long long)(pos + *len + (nl != NULL));
	*line = p;
	*offset = r->line_off;
	return HSM_OK;
}

/* The next raw line: *line (without "\n"; from a file NUL-terminated in the
 * reader's buffer, from memory in the caller's buffer), *had_nl 0 for a last
 * line that ends without "\n". HSM_ERR_NOT_FOUND at end of file. */
hsm_rc
ev_reader_next_raw(evlog_reader *r, const char **line, size_t *len, int *had_nl,
                   long long *offset)
{
	size_t n = 0;
	hsm_rc rc;

	r->line_off = r->file_off + (long long)r->io_pos;
	if (r->mem != NULL)
		return mem_next_raw(r, line, len, had_nl, offset);
	for (;;) {
		char *nl;
		size_t avail;

		if (r->io_pos == r->io_len) {
			if ((rc = fill(r)) != HSM_OK)
				return rc;
			if (r->io_len == 0) {
				if (n == 0)
					return HSM_ERR_NOT_FOUND;
				*had_nl = 0;
				break;
			}
		}
		avail = r->io_len - r->io_pos;
		nl = memchr(r->io + r->io_pos, '\n', avail);
		if (nl != NULL) {
			size_t k = (size_t)(nl - (r->io + r->io_pos));
			if ((rc = line_put(r, n, r->io + r->io_pos, k)) != HSM_OK)
				return rc;
			n += k;
			r->io_pos += k + 1;
			*had_nl = 1;
			break;
		}
		if ((rc = line_put(r, n, r->io + r->io_pos, avail)) != HSM_OK)
			return rc;
		n += avail;
		r->io_pos = r->io_len;
	}
	if (r->line == NULL && (rc = line_put(r, 0, "", 0)) != HSM_OK)
		return rc;
	r->line[n] = '\0';
	*line = r->line;
	*len = n;
	*offset = r->line_off;
	return HSM_OK;
}

/* Record the first failure (message already set) and stop the reader. */
static hsm_rc
failed(evlog_reader *r, hsm_rc rc, long long off, size_t len, int torn)
{
	r->failed = 1;
	r->bad_seq = r->seq + 1;
	r->bad_off = off;
	r->bad_len = len;
	r->bad_torn = torn;
	return rc;
}

/* The hash chain: seq 1 is a ceremony.open naming the log id, whose SHA-256
 * seeds prev; every later record follows the one before by seq and prev. */
static hsm_rc
chain_check(evlog_reader *r, const evlog_record *rec)
{
	long long want = r->seq + 1;

	if (rec->seq != want)
		return hsm_fail(HSM_ERR_AUDIT, "seq %lld: missing or out of order: the record "
		    "in its place says seq %lld", want, rec->seq);
	if (want == 1) {
		json_t *id = json_object_get(rec->body, "log_id");
		if (strcmp(rec->type, EV_CEREMONY_OPEN) != 0 || !json_is_string(id) ||
		    json_string_length(id) == 0 || json_string_length(id) > 128)
			return hsm_fail(HSM_ERR_AUDIT, "seq 1: the log must start with a "
			    "ceremony.open record carrying the log id");
		if (ev_sha256_2(json_string_value(id), json_string_length(id), NULL, 0,
		    r->head) != HSM_OK)
			return hsm_errcode();
		if (memcmp(rec->prev, r->head, 32) != 0)
			return hsm_fail(HSM_ERR_AUDIT, "seq 1: prev hash does not match the log id");
	} else if (memcmp(rec->prev, r->head, 32) != 0) {
		return hsm_fail(HSM_ERR_AUDIT, "seq %lld: prev hash does not match seq %lld",
		    want, want - 1);
	}
	return HSM_OK;
}

hsm_rc
evlog_reader_next(evlog_reader *r, evlog_record *rec)
{
	const char *line;
	size_t len;
	int had_nl;
	long long off;
	hsm_rc rc;

	evlog_record_clear(rec);
	if (r->failed)
		return hsm_fail(HSM_ERR_AUDIT, "seq %lld: the log was already found bad here",
		    r->bad_seq);
	rc = ev_reader_next_raw(r, &line, &len, &had_nl, &off);
	if (rc == HSM_ERR_NOT_FOUND)
		return rc;
	if (rc == HSM_ERR_FORMAT) {
		hsm_fail_wrap(rc, "seq %lld", r->seq + 1);
		return failed(r, rc, r->line_off, EV_LEN_TOO_LONG, 0);
	}
	if (rc != HSM_OK)
		return rc;
	if (!had_nl) {
		hsm_fail(HSM_ERR_FORMAT, "seq %lld: the last line (byte offset %lld) has no "
		    "line end: the log was cut while a record was being written. Any "
		    "command that writes to this log repairs it and records the cut (e.g. "
		    "hsmadm-ceremony exception --log LOG --text \"power lost\", or the next "
		    "hsmadm-commit or hsmadm-domain --evidence run); what comes before it "
		    "is intact", r->seq + 1, off);
		return failed(r, HSM_ERR_FORMAT, off, len, 1);
	}
	if ((rc = evlog_parse_line(line, len, rec)) != HSM_OK) {
		hsm_fail_wrap(rc, "seq %lld (byte offset %lld)", r->seq + 1, off);
		return failed(r, rc, off, len, 0);
	}
	rec->offset = off;
	if ((rc = chain_check(r, rec)) != HSM_OK) {
		evlog_record_clear(rec);
		return failed(r, rc, off, len, 0);
	}
	r->seq = rec->seq;
	memcpy(r->head, rec->hash, 32);
	return HSM_OK;
}
