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

#define IO_BLOCK 65536

struct evlog_reader {
	int        fd;
	int        own_fd;
	long long  file_off;    /* offset of io[0] in the file */
	char       io[IO_BLOCK];
	size_t     io_pos, io_len;
	char      *line;        /* grows up to EVLOG_MAX_LINE + 1 */
	size_t     line_cap;
	long long  line_off;    /* offset of the current line */
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
	char *canon = NULL;
	size_t clen = 0;
	const char *prev;
	hsm_rc rc;

	memset(rec, 0, sizeof(*rec));
	if (len == 0)
		return hsm_fail(HSM_ERR_FORMAT, "empty line");
	if (len > EVLOG_MAX_LINE)
		return hsm_fail(HSM_ERR_FORMAT, "line longer than %d bytes", EVLOG_MAX_LINE);
	if ((rc = cjson_parse(line, len, &obj)) != HSM_OK)
		return hsm_fail_wrap(HSM_ERR_FORMAT, "not valid JSON");
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
	if ((rc = cjson_dump(obj, &canon, &clen)) != HSM_OK) {
		rc = hsm_fail_wrap(HSM_ERR_FORMAT, "record cannot be canonicalized");
		goto out;
	}
	if (clen != len || memcmp(canon, line, len) != 0) {
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
	free(canon);
	json_decref(obj);
	if (rc != HSM_OK) {
		json_t *keep = rec->obj;
		memset(rec, 0, sizeof(*rec));
		json_decref(keep);
	}
	return rc;
}

hsm_rc
ev_reader_from_fd(int fd, evlog_reader **out)
{
	evlog_reader *r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory opening the log reader");
	r->fd = fd;
	r->own_fd = 0;
	*out = r;
	return HSM_OK;
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

void
evlog_reader_free(evlog_reader **r)
{
	if (r == NULL || *r == NULL)
		return;
	if ((*r)->own_fd)
		close((*r)->fd);
	free((*r)->line);
	free(*r);
	*r = NULL;
}

static hsm_rc
fill(evlog_reader *r)
{
	ssize_t n;

	r->file_off += (long long)r->io_len;
	r->io_pos = r->io_len = 0;
	for (;;) {
		n = pread(r->fd, r->io, sizeof(r->io), (off_t)r->file_off);
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

/* The next raw line: *line (without "\n", NUL-terminated, in the reader's
 * buffer), *had_nl 0 for a last line that ends without "\n". HSM_ERR_NOT_FOUND
 * at end of file. */
hsm_rc
ev_reader_next_raw(evlog_reader *r, const char **line, size_t *len, int *had_nl,
                   long long *offset)
{
	size_t n = 0;
	hsm_rc rc;

	r->line_off = r->file_off + (long long)r->io_pos;
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

hsm_rc
evlog_reader_next(evlog_reader *r, evlog_record *rec)
{
	const char *line;
	size_t len;
	int had_nl;
	long long off;
	hsm_rc rc;

	evlog_record_clear(rec);
	rc = ev_reader_next_raw(r, &line, &len, &had_nl, &off);
	if (rc == HSM_ERR_NOT_FOUND)
		return rc;
	if (rc != HSM_OK)
		return rc;
	if (!had_nl)
		return hsm_fail(HSM_ERR_FORMAT, "the last line (byte offset %lld) has no "
		    "line end: the log was cut while a record was being written", off);
	if ((rc = evlog_parse_line(line, len, rec)) != HSM_OK)
		return rc;
	rec->offset = off;
	return HSM_OK;
}
