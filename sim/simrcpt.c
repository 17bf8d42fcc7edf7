/* SPDX-License-Identifier: BSD-2-Clause */
/* simrcpt.c - the per-domain receipts file of hsmadm-simd. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsmadm/cjson.h"
#include "hsmadm/fileio.h"
#include "simrcpt.h"

#define FILE_MAX (64L * 1024 * 1024)

/* The one file reader (fileio.h); a missing file reads as empty. */
static hsm_rc
read_file(const char *path, char **out, size_t *len)
{
	hsm_rc rc = hsm_file_read(path, FILE_MAX, out, len);

	if (rc == HSM_ERR_NOT_FOUND) {
		hsm_err_clear();
		*out = NULL;
		*len = 0;
		return HSM_OK;
	}
	return rc;
}

static int
ctr_of(const json_t *r, const char *key, uint64_t *v)
{
	long long x;

	if (cjson_get_int(json_object_get(r, "body"), key, &x) != HSM_OK || x < 0)
		return 0;
	*v = (uint64_t)x;
	return 1;
}

static int
by_before(const void *a, const void *b)
{
	uint64_t x = 0, y = 0;

	ctr_of(*(json_t *const *)a, "counter_before", &x);
	ctr_of(*(json_t *const *)b, "counter_before", &y);
	return x < y ? -1 : x > y;
}

hsm_rc
simrcpt_parse(const char *buf, size_t len, uint64_t from, uint64_t counter, json_t **out)
{
	json_t **v = NULL, *arr = NULL;
	size_t n = 0, cap = 0, i, j, start = 0, pos;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	/* Only complete lines: a torn last line (no "\n") is not a receipt. */
	for (pos = 0; pos < len; pos++) {
		json_t *r = NULL;
		uint64_t b, a;

		if (buf[pos] != '\n')
			continue;
		if (pos > start && cjson_parse(buf + start, pos - start, &r) == HSM_OK &&
		    json_is_object(r) && ctr_of(r, "counter_before", &b) &&
		    ctr_of(r, "counter_after", &a) && a == b + 1 && b >= from && a <= counter) {
			/* the last line for a counter_before wins */
			for (j = 0; j < n; j++) {
				uint64_t o = 0;
				ctr_of(v[j], "counter_before", &o);
				if (o == b)
					break;
			}
			if (j < n) {
				json_decref(v[j]);
				v[j] = r;
				r = NULL;
			} else {
				if (n == cap) {
					json_t **nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));
					if (nv == NULL) {
						json_decref(r);
						rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
						goto out;
					}
					v = nv;
					cap = cap ? cap * 2 : 16;
				}
				v[n++] = r;
				r = NULL;
			}
		}
		json_decref(r);
		start = pos + 1;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), by_before);
	if ((arr = json_array()) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (json_array_append(arr, v[i]) != 0) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	*out = arr;
	arr = NULL;
out:
	for (i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
	json_decref(arr);
	return rc;
}

hsm_rc
simrcpt_load(const char *path, uint64_t from, uint64_t counter, json_t **out)
{
	char *buf = NULL;
	size_t len = 0;
	hsm_rc rc;

	*out = NULL;
	if ((rc = read_file(path, &buf, &len)) != HSM_OK)
		return rc;
	rc = simrcpt_parse(buf ? buf : "", len, from, counter, out);
	free(buf);
	return rc;
}

/* Rewrite the file with its last SIMRCPT_KEEP receipts through the one file
 * writer (temp, fsync, rename, fsync the folder), so a crash leaves the old
 * file or the new one. */
static hsm_rc
compact(const char *path, long *lines)
{
	json_t *all = NULL;
	char *line = NULL;
	size_t i, n, first, len = 0;
	hsm_file_tx *tx = NULL;
	hsm_rc rc;

	if ((rc = simrcpt_load(path, 0, UINT64_MAX, &all)) != HSM_OK)
		return rc;
	n = json_array_size(all);
	first = n > SIMRCPT_KEEP ? n - SIMRCPT_KEEP : 0;
	if ((rc = hsm_file_begin(path, 0600, &tx)) != HSM_OK)
		goto out;
	for (i = first; i < n; i++) {
		if ((rc = cjson_dump(json_array_get(all, i), &line, &len)) != HSM_OK ||
		    (rc = hsm_file_write(tx, line, len)) != HSM_OK ||
		    (rc = hsm_file_write(tx, "\n", 1)) != HSM_OK)
			goto out;
		free(line);
		line = NULL;
	}
	if ((rc = hsm_file_commit(&tx)) != HSM_OK)
		goto out;
	*lines = (long)(n - first);
out:
	hsm_file_abort(&tx);
	free(line);
	json_decref(all);
	return rc;
}

/* Best effort: the count only says when to compact. */
static long
count_lines(const char *path)
{
	char buf[8192];
	ssize_t k, i;
	long n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((k = read(fd, buf, sizeof(buf))) > 0 || (k < 0 && errno == EINTR))
		for (i = 0; i < k; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

hsm_rc
simrcpt_append(const char *path, const json_t *receipt, long *lines, int sync)
{
	char *line = NULL, last = '\n';
	size_t len = 0;
	struct stat sb;
	int fd = -1, isnew;
	hsm_rc rc;

	if (*lines < 0)
		*lines = count_lines(path);
	isnew = stat(path, &sb) != 0;
	if ((rc = cjson_dump(receipt, &line, &len)) != HSM_OK)
		return rc;
	if ((fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		rc = hsm_fail(HSM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	/* A torn last line (a crash mid-write) stays a line of its own; if the
	 * end of the file cannot be read, nothing is appended after it. */
	if (fstat(fd, &sb) != 0 ||
	    (sb.st_size > 0 && pread(fd, &last, 1, sb.st_size - 1) != 1)) {
		rc = hsm_fail(HSM_ERR_IO, "cannot read the end of %s: %s", path, strerror(errno));
		goto out;
	}
	if ((last != '\n' && (rc = hsm_write_all(fd, "\n", 1)) != HSM_OK) ||
	    (rc = hsm_write_all(fd, line, len)) != HSM_OK ||
	    (rc = hsm_write_all(fd, "\n", 1)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "cannot write %s", path);
		goto out;
	}
	if (sync && fsync(fd) != 0) {
		rc = hsm_fail(HSM_ERR_IO, "cannot sync %s: %s", path, strerror(errno));
		goto out;
	}
	if (sync && isnew && (rc = hsm_fsync_dir_of(path)) != HSM_OK)
		goto out;
	(*lines)++;
	/* The receipt is safe on disk; a failed compaction only leaves the
	 * file longer, so it does not fail the command. */
	if (*lines > 2 * SIMRCPT_KEEP && compact(path, lines) != HSM_OK)
		fprintf(stderr, "hsmadm-simd: %s: could not trim the receipts file: %s\n", path,
		        hsm_errmsg());
out:
	if (fd >= 0)
		close(fd);
	free(line);
	return rc;
}

/* ---- the applied commands ---- */

static hsm_rc
cmd_path(const char *dir, uint64_t counter_before, char *buf, size_t n)
{
	if ((size_t)snprintf(buf, n, "%s/%llu.json", dir, (unsigned long long)counter_before) >= n)
		return hsm_fail(HSM_ERR_USAGE, "path too long");
	return HSM_OK;
}

/* Written in place, not through a temporary and a rename: until it is
 * synced no receipt names it (the receipt is appended after), and a torn
 * one is read as not kept. A file creation per domain and command was a
 * twentieth of the module's CPU. A file of the same name (a command
 * superseded at this counter) is unlinked first, never written through:
 * it may be a link shared with another domain's command (share). */
static hsm_rc
write_in_place(const char *path, const char *buf, size_t len, int sync)
{
	int fd;
	hsm_rc rc;

	if (unlink(path) != 0 && errno != ENOENT)
		return hsm_fail(HSM_ERR_IO, "cannot replace %s: %s", path, strerror(errno));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return hsm_fail(HSM_ERR_IO, "cannot create %s: %s", path, strerror(errno));
	if ((rc = hsm_write_all(fd, buf, len)) == HSM_OK && sync && fsync(fd) != 0)
		rc = hsm_fail(HSM_ERR_IO, "cannot sync %s: %s", path, strerror(errno));
	if (close(fd) != 0 && rc == HSM_OK)
		rc = hsm_fail(HSM_ERR_IO, "cannot close %s: %s", path, strerror(errno));
	return rc == HSM_OK && sync ? hsm_fsync_dir_of(path) : rc;
}

/* The batch's command kept by one domain is linked by the others; the
 * first writes it. Falls back to writing when a link cannot be made. */
static hsm_rc
keep_shared(const char *path, const char *canon, size_t len, simrcpt_share *share)
{
	hsm_rc rc = HSM_OK;

	pthread_mutex_lock(&share->lock);
	if (share->path[0] != '\0' && (unlink(path) == 0 || errno == ENOENT) &&
	    link(share->path, path) == 0)
		goto out;
	if ((rc = write_in_place(path, canon, len, 0)) == HSM_OK)
		snprintf(share->path, sizeof(share->path), "%s", path);
out:
	pthread_mutex_unlock(&share->lock);
	return rc;
}

hsm_rc
simrcpt_keep_command(const char *dir, uint64_t counter_before, const char *canon, size_t len,
                     simrcpt_share *share)
{
	char path[4300];
	hsm_rc rc;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return hsm_fail(HSM_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
	if ((rc = cmd_path(dir, counter_before, path, sizeof(path))) != HSM_OK ||
	    (rc = share ? keep_shared(path, canon, len, share) :
	                  write_in_place(path, canon, len, 1)) != HSM_OK)
		return rc;
	/* bounded: the one that fell out of the window goes (no harm if absent) */
	if (counter_before >= 2 * SIMRCPT_KEEP &&
	    cmd_path(dir, counter_before - 2 * SIMRCPT_KEEP, path, sizeof(path)) == HSM_OK)
		(void)unlink(path);
	return HSM_OK;
}

hsm_rc
simrcpt_command(const char *dir, uint64_t counter_before, json_t **out)
{
	char path[4300], *buf = NULL;
	size_t len = 0;
	hsm_rc rc;

	*out = NULL;
	if ((rc = cmd_path(dir, counter_before, path, sizeof(path))) != HSM_OK ||
	    (rc = read_file(path, &buf, &len)) != HSM_OK)
		return rc;
	if (buf != NULL && cjson_parse(buf, len, out) != HSM_OK)
		*out = NULL;   /* damaged: as if not kept (the workstation verifies anyway) */
	free(buf);
	hsm_err_clear();
	return HSM_OK;
}
