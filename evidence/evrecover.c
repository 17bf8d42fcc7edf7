/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evrecover.c - the side journal of a torn-tail repair, "<log>.recovering".
 *
 * Cutting a torn last line destroys bytes; the log.recovered record says what
 * was destroyed. If that record could not be written after the cut (disk
 * full, power lost) the cut would go unrecorded. So the same facts are first
 * written to this small file and made durable (fsync of the file and of its
 * directory); only then is the log cut. The journal is removed once the
 * log.recovered record is in the log, and a later evlog_open that finds it
 * finishes the record.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/cjson.h"
#include "evint.h"

#define JOURNAL_MAX 1024   /* a journal is one short line */

static hsm_rc
journal_path(const char *log_path, char *out, size_t n)
{
	if ((size_t)snprintf(out, n, "%s.recovering", log_path) >= n)
		return hsm_fail(HSM_ERR_USAGE, "evidence log path too long: %s", log_path);
	return HSM_OK;
}

json_t *
ev_cut_to_json(const struct ev_cut *c)
{
	return json_pack("{s:I, s:s, s:I}", "lost_bytes", (json_int_t)c->lost_bytes,
	    "lost_sha256", c->lost_sha256, "at_offset", (json_int_t)c->at_offset);
}

hsm_rc
ev_cut_from_json(const json_t *body, struct ev_cut *c)
{
	json_t *lb = json_object_get(body, "lost_bytes");
	json_t *ao = json_object_get(body, "at_offset");
	const char *h = json_string_value(json_object_get(body, "lost_sha256"));

	if (!json_is_integer(lb) || json_integer_value(lb) < 1 || !json_is_integer(ao) ||
	    json_integer_value(ao) < 0 || !ev_is_hex(h, 32))
		return hsm_fail(HSM_ERR_FORMAT, "not a torn-tail record (lost_bytes, "
		    "lost_sha256, at_offset)");
	c->lost_bytes = json_integer_value(lb);
	c->at_offset = json_integer_value(ao);
	memcpy(c->lost_sha256, h, 65);
	return HSM_OK;
}

/* fsync the directory holding path, so that a created or removed name is
 * durable too. */
static int
sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, r = -1;

	if (copy == NULL)
		return -1;
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		r = fsync(fd);
		close(fd);
	}
	free(copy);
	return r;
}

static int
write_all_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

hsm_rc
ev_journal_write(const char *log_path, const struct ev_cut *c)
{
	char jp[4200], *text = NULL;
	json_t *j = ev_cut_to_json(c);
	size_t len = 0;
	int fd = -1, err = 0;
	hsm_rc rc;

	if ((rc = journal_path(log_path, jp, sizeof(jp))) != HSM_OK)
		goto out;
	if (j == NULL || (rc = cjson_dump(j, &text, &len)) != HSM_OK) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((fd = open(jp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0 ||
	    write_all_fd(fd, text, len) != 0 || write_all_fd(fd, "\n", 1) != 0 ||
	    fsync(fd) != 0 || close(fd) != 0 || (fd = -1, sync_dir(jp) != 0)) {
		err = errno;
		if (fd >= 0) {
			close(fd);
			fd = -1;
		}
		(void)unlink(jp);   /* a partial journal must not be trusted */
		rc = hsm_fail(HSM_ERR_IO, "evidence log %s ends in a torn record, but what "
		    "would be cut cannot be recorded first (%s: %s); nothing was cut. Free "
		    "disk space (or fix the directory's permissions) and run again",
		    log_path, jp, strerror(err));
	}
out:
	free(text);
	json_decref(j);
	return rc;
}

hsm_rc
ev_journal_read(const char *log_path, struct ev_cut *c, int *found)
{
	char jp[4200], buf[JOURNAL_MAX + 1];
	json_t *j = NULL;
	ssize_t n;
	size_t len;
	int fd;
	hsm_rc rc;

	*found = 0;
	memset(c, 0, sizeof(*c));
	if ((rc = journal_path(log_path, jp, sizeof(jp))) != HSM_OK)
		return rc;
	if ((fd = open(jp, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return HSM_OK;
		return hsm_fail(HSM_ERR_IO, "cannot read %s: %s", jp, strerror(errno));
	}
	n = read(fd, buf, JOURNAL_MAX);
	close(fd);
	if (n < 0)
		return hsm_fail(HSM_ERR_IO, "cannot read %s: %s", jp, strerror(errno));
	len = (size_t)n;
	*found = -1;
	/* one canonical JSON line: anything else was not finished being written */
	if (len < 2 || buf[len - 1] != '\n')
		return HSM_OK;
	if (cjson_parse(buf, len - 1, &j) == HSM_OK && ev_cut_from_json(j, c) == HSM_OK)
		*found = 1;
	json_decref(j);
	hsm_err_clear();
	return HSM_OK;
}

hsm_rc
ev_journal_done(const char *log_path)
{
	char jp[4200];
	hsm_rc rc;

	if ((rc = journal_path(log_path, jp, sizeof(jp))) != HSM_OK)
		return rc;
	if (unlink(jp) != 0 && errno != ENOENT)
		return hsm_fail(HSM_ERR_IO, "the torn tail of %s is cut and recorded, but its "
		    "journal %s cannot be removed: %s", log_path, jp, strerror(errno));
	(void)sync_dir(jp);   /* a journal that reappears after a crash is harmless:
	                         the log already ends with its record */
	return HSM_OK;
}
