/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evrecover.c - the side journal of a torn-tail repair, "<log>.recovering".
 *
 * Cutting a torn last line destroys bytes; the log.recovered record says what
 * was destroyed. If that record could not be written after the cut (disk
 * full, power lost) the cut would go unrecorded. So the same facts are first
 * written to this small file with the one file writer (fileio.h: temporary
 * file, fsync, rename, fsync of the directory), so it is whole or absent;
 * only then is the log cut. The journal is removed once the
 * log.recovered record is in the log, and a later evlog_open that finds it
 * finishes the record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/cjson.h"
#include "hsmadm/fileio.h"
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

hsm_rc
ev_journal_write(const char *log_path, const struct ev_cut *c)
{
	char jp[4200], *text = NULL, *line = NULL;
	json_t *j = ev_cut_to_json(c);
	size_t len = 0;
	hsm_rc rc;

	if ((rc = journal_path(log_path, jp, sizeof(jp))) != HSM_OK)
		goto out;
	if (j == NULL || (rc = cjson_dump(j, &text, &len)) != HSM_OK ||
	    (line = malloc(len + 1)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(line, text, len);
	line[len] = '\n';
	/* the one file writer: a temporary file, fsync, rename, fsync of the
	 * directory; so the journal is either whole and durable, or absent */
	if ((rc = hsm_file_replace(jp, line, len + 1, 0640)) != HSM_OK)
		rc = hsm_fail_wrap(HSM_ERR_IO, "evidence log %s ends in a torn record, but "
		    "what would be cut cannot be recorded first in %s; nothing was cut. "
		    "Free disk space (or fix the directory's permissions) and run again",
		    log_path, jp);
out:
	free(line);
	free(text);
	json_decref(j);
	return rc;
}

hsm_rc
ev_journal_read(const char *log_path, struct ev_cut *c, int *found)
{
	char jp[4200], *buf = NULL;
	json_t *j = NULL;
	size_t len = 0;
	hsm_rc rc;

	*found = 0;
	memset(c, 0, sizeof(*c));
	if ((rc = journal_path(log_path, jp, sizeof(jp))) != HSM_OK)
		return rc;
	rc = hsm_file_read(jp, JOURNAL_MAX, &buf, &len);
	if (rc == HSM_ERR_NOT_FOUND) {
		hsm_err_clear();
		return HSM_OK;
	}
	/* present but not one canonical JSON line of a cut: not a journal the
	 * writer finished (the caller decides what that means) */
	*found = -1;
	if (rc == HSM_OK && len >= 2 && buf[len - 1] == '\n' &&
	    cjson_parse(buf, len - 1, &j) == HSM_OK && ev_cut_from_json(j, c) == HSM_OK)
		*found = 1;
	json_decref(j);
	free(buf);
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
	/* a journal that reappears after a crash is harmless: the log already
	 * ends with its record (finish_cut sees that) */
	(void)hsm_fsync_dir_of(jp);
	hsm_err_clear();
	return HSM_OK;
}
