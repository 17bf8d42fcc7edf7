/* SPDX-License-Identifier: BSD-2-Clause */
/* fileio.c - write-all, the temp/fsync/rename file writer and the whole-file
 * reader (see fileio.h). */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE   /* syncfs, renameat2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsmadm/fileio.h"

struct hsm_file_tx {
	char  *path;
	char  *tmp;
	int    fd;
	hsm_rc err;     /* first failed write */
};

hsm_rc
hsm_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return hsm_fail(HSM_ERR_IO, "write failed: %s", strerror(errno));
		if (w == 0)
			return hsm_fail(HSM_ERR_IO, "write failed: no progress");
		p += w;
		len -= (size_t)w;
	}
	return HSM_OK;
}

/* The directory part of path ("." for a bare name, "/" for "/x"). */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

hsm_rc
hsm_fsync_dir_of(const char *path)
{
	char *dir = dir_of(path);
	hsm_rc rc = HSM_OK;
	int dfd;

	if (dir == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0)
		rc = hsm_fail(HSM_ERR_IO, "cannot flush directory %s to disk: %s", dir,
		    strerror(errno));
	if (dfd >= 0)
		close(dfd);
	free(dir);
	return rc;
}

hsm_rc
hsm_fs_batch_open(const char *dir, int *fd)
{
	if ((*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return hsm_fail(HSM_ERR_IO, "cannot open %s: %s", dir, strerror(errno));
	return HSM_OK;
}

hsm_rc
hsm_fs_batch_sync(int fd, const char *dir)
{
#ifndef __linux__
#error "hsm_fs_batch_sync needs syncfs(2), which reports write-back errors (Linux)"
#endif
	if (syncfs(fd) == 0)
		return HSM_OK;
	return hsm_fail(HSM_ERR_IO, "cannot flush the files under %s to disk: %s", dir,
	    strerror(errno));
}

hsm_rc
hsm_file_exchange(const char *a, const char *b)
{
	if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0)
		return HSM_OK;
	return hsm_fail(HSM_ERR_IO, "cannot swap %s and %s: %s", a, b, strerror(errno));
}

static void
tx_free(hsm_file_tx *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->tmp != NULL)
		(void)unlink(t->tmp);
	free(t->tmp);
	free(t->path);
	free(t);
}

hsm_rc
hsm_file_begin(const char *path, mode_t mode, hsm_file_tx **tx)
{
	hsm_file_tx *t = NULL;
	char *dir = NULL;
	size_t n;
	hsm_rc rc;

	if (tx == NULL)
		return hsm_fail(HSM_ERR_USAGE, "file write: no transaction given");
	*tx = NULL;
	if (path == NULL || *path == '\0')
		return hsm_fail(HSM_ERR_USAGE, "no file name given");
	n = strlen(path);
	if (path[n - 1] == '/')
		return hsm_fail(HSM_ERR_USAGE, "%s names a directory, not a file", path);
	if ((mode & ~(mode_t)07777) != 0)
		return hsm_fail(HSM_ERR_USAGE, "file mode %o is not valid", (unsigned)mode);
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->path = strdup(path)) == NULL || (t->tmp = malloc(n + 16)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory writing %s", path);
		goto fail;
	}
	t->fd = -1;
	memcpy(t->tmp, path, n);
	memcpy(t->tmp + n, ".tmp.XXXXXX", sizeof(".tmp.XXXXXX"));
	/* mkstemp opens with O_EXCL: an existing file or a planted symbolic
	 * link is never written through. */
	if ((t->fd = mkstemp(t->tmp)) < 0) {
		int e = errno;
		free(t->tmp);
		t->tmp = NULL;
		dir = dir_of(path);
		rc = hsm_fail(HSM_ERR_IO, "cannot create a temporary file in %s: %s",
		    dir ? dir : path, strerror(e));
		goto fail;
	}
	if (fcntl(t->fd, F_SETFD, FD_CLOEXEC) != 0 || fchmod(t->fd, mode) != 0) {
		rc = hsm_fail(HSM_ERR_IO, "cannot set the mode of %s: %s", t->tmp, strerror(errno));
		goto fail;
	}
	*tx = t;
	return HSM_OK;
fail:
	free(dir);
	if (t != NULL)
		tx_free(t);
	return rc;
}

hsm_rc
hsm_file_write(hsm_file_tx *tx, const void *buf, size_t len)
{
	hsm_rc rc;

	if (tx == NULL)
		return hsm_fail(HSM_ERR_USAGE, "file write: no transaction given");
	if (tx->err != HSM_OK)
		return tx->err;
	if ((rc = hsm_write_all(tx->fd, buf, len)) != HSM_OK)
		tx->err = hsm_fail_wrap(rc, "cannot write %s", tx->tmp);
	return rc;
}

/* Flush and close the temporary file, then put it in place. */
static hsm_rc
tx_finish(hsm_file_tx **tx, int create)
{
	hsm_file_tx *t;
	hsm_rc rc;

	if (tx == NULL || *tx == NULL)
		return hsm_fail(HSM_ERR_USAGE, "file write: no transaction given");
	t = *tx;
	*tx = NULL;
	if ((rc = t->err) != HSM_OK)
		goto out;
	if (fsync(t->fd) != 0) {
		rc = hsm_fail(HSM_ERR_IO, "cannot flush %s to disk: %s", t->tmp, strerror(errno));
		goto out;
	}
	rc = close(t->fd) == 0 ? HSM_OK :
	    hsm_fail(HSM_ERR_IO, "cannot write %s: %s", t->tmp, strerror(errno));
	t->fd = -1;
	if (rc != HSM_OK)
		goto out;
	if (create) {
		/* link() fails if path exists: an existing file is never replaced,
		 * not even for an instant. The temporary name goes in tx_free. */
		if (link(t->tmp, t->path) != 0) {
			rc = errno == EEXIST ?
			    hsm_fail(HSM_ERR_EXISTS, "%s already exists; not replacing it", t->path) :
			    hsm_fail(HSM_ERR_IO, "cannot create %s: %s", t->path, strerror(errno));
			goto out;
		}
	} else {
		if (rename(t->tmp, t->path) != 0) {
			rc = hsm_fail(HSM_ERR_IO, "cannot replace %s: %s", t->path, strerror(errno));
			goto out;
		}
		free(t->tmp);
		t->tmp = NULL;
	}
	/* The new name is durable only once the directory entry is on disk. */
	rc = hsm_fsync_dir_of(t->path);
out:
	tx_free(t);
	return rc;
}

hsm_rc
hsm_file_commit(hsm_file_tx **tx)
{
	return tx_finish(tx, 0);
}

hsm_rc
hsm_file_commit_new(hsm_file_tx **tx)
{
	return tx_finish(tx, 1);
}

void
hsm_file_abort(hsm_file_tx **tx)
{
	if (tx == NULL || *tx == NULL)
		return;
	tx_free(*tx);
	*tx = NULL;
}

static hsm_rc
write_whole(const char *path, const void *buf, size_t len, mode_t mode, int create)
{
	hsm_file_tx *tx = NULL;
	hsm_rc rc;

	if (buf == NULL && len > 0)
		return hsm_fail(HSM_ERR_USAGE, "file write: no data given for %s", path);
	if ((rc = hsm_file_begin(path, mode, &tx)) != HSM_OK)
		return rc;
	if ((rc = hsm_file_write(tx, buf, len)) != HSM_OK) {
		hsm_file_abort(&tx);
		return rc;
	}
	return tx_finish(&tx, create);
}

hsm_rc
hsm_file_replace(const char *path, const void *buf, size_t len, mode_t mode)
{
	return write_whole(path, buf, len, mode, 0);
}

hsm_rc
hsm_file_create(const char *path, const void *buf, size_t len, mode_t mode)
{
	return write_whole(path, buf, len, mode, 1);
}

/* "64 MiB" or "4096 bytes": limits read as people write them. */
static void
size_text(size_t n, char *out, size_t cap)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(out, cap, "%zu MiB", n >> 20);
	else
		snprintf(out, cap, "%zu bytes", n);
}

/* Open path for reading and check it: a regular file of at most max bytes.
 * *size gets its size. */
static hsm_rc
open_regular(const char *path, size_t max, int *fd, size_t *size)
{
	struct stat st;
	char lim[32];
	hsm_rc rc = HSM_OK;

	*fd = -1;
	if (path == NULL || *path == '\0')
		return hsm_fail(HSM_ERR_USAGE, "no file name given");
	/* O_NONBLOCK: a FIFO given by mistake must not hang the open; it is
	 * refused below as not a regular file. */
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return hsm_fail(errno == ENOENT ? HSM_ERR_NOT_FOUND : HSM_ERR_IO,
		    "cannot open %s: %s", path, strerror(errno));
	if (fstat(*fd, &st) != 0)
		rc = hsm_fail(HSM_ERR_IO, "cannot read %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = hsm_fail(HSM_ERR_IO, "%s is not a regular file", path);
	else if ((unsigned long long)st.st_size > max) {
		size_text(max, lim, sizeof(lim));
		rc = hsm_fail(HSM_ERR_FORMAT, "%s is larger than %s; refused", path, lim);
	}
	if (rc != HSM_OK) {
		close(*fd);
		*fd = -1;
		return rc;
	}
	*size = (size_t)st.st_size;
	return HSM_OK;
}

/* Exactly size bytes from fd into buf (which has room for size + 1): one
 * more byte read means the file grew, fewer that it shrank. */
static hsm_rc
read_exact(int fd, const char *path, unsigned char *buf, size_t size)
{
	size_t got = 0;

	while (got <= size) {
		ssize_t r = read(fd, buf + got, size + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return hsm_fail(HSM_ERR_IO, "cannot read %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != size)
		return hsm_fail(HSM_ERR_IO, "%s changed while it was read; try again", path);
	buf[size] = '\0';
	return HSM_OK;
}

hsm_rc
hsm_file_read(const char *path, size_t max, char **buf, size_t *len)
{
	unsigned char *b = NULL;
	size_t size = 0;
	int fd = -1;
	hsm_rc rc;

	if (buf == NULL || len == NULL)
		return hsm_fail(HSM_ERR_USAGE, "file read: bad arguments");
	*buf = NULL;
	*len = 0;
	if ((rc = open_regular(path, max, &fd, &size)) != HSM_OK)
		return rc;
	if ((b = malloc(size + 1)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory reading %s", path);
		goto out;
	}
	if ((rc = read_exact(fd, path, b, size)) != HSM_OK)
		goto out;
	*buf = (char *)b;
	*len = size;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

hsm_rc
hsm_file_read_secret(const char *path, size_t max, hsm_secbuf **out)
{
	hsm_secbuf *sb = NULL;
	size_t size = 0;
	int fd = -1;
	hsm_rc rc;

	if (out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "file read: bad arguments");
	*out = NULL;
	if ((rc = open_regular(path, max, &fd, &size)) != HSM_OK)
		return rc;
	if ((rc = secbuf_new(size + 1, &sb)) != HSM_OK ||
	    (rc = read_exact(fd, path, sb->data, size)) != HSM_OK)
		goto out;
	sb->len = size;
	*out = sb;
	sb = NULL;
out:
	secbuf_free(&sb);
	close(fd);
	return rc;
}
