/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fileio.h - the one file writer (and reader) of hsmadm.
 *
 * A file that another run reads back (a card file, a config file, a key, a
 * certificate, a report, a receipts file) is never written in place: a crash
 * or a full disk half-way would leave a torn file where a good one was.
 * Instead the new content goes to a temporary file beside the target
 * ("<path>.tmp.XXXXXX", created with O_EXCL so nothing else is clobbered or
 * followed), is written in full, fsync'ed, then renamed over the target (or
 * linked to it, when the target must not exist yet), and the directory is
 * fsync'ed so the new name survives a crash. On any failure before the
 * rename the temporary file is removed and the old file is untouched.
 *
 * The mode is applied exactly (fchmod), whatever the umask: callers say what
 * they mean (0600 for anything secret).
 */
#ifndef HSMADM_FILEIO_H
#define HSMADM_FILEIO_H

#include <stddef.h>
#include <sys/types.h>
#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"

/* Write all len bytes to fd: retries on EINTR and short writes. HSM_ERR_IO
 * with the system's reason; callers wrap it with the file's name. */
hsm_rc hsm_write_all(int fd, const void *buf, size_t len);

/* fsync the directory that holds path, so a new or renamed entry is durable. */
hsm_rc hsm_fsync_dir_of(const char *path);

/* Many files made durable at once (an emulated module's batch of domains):
 * hsm_fs_batch_open on a folder of their file system BEFORE they are
 * written, write them with no fsync, then hsm_fs_batch_sync: one flush of
 * the whole file system instead of one per file. The handle is opened
 * first so that a write-back error of any of them is reported (Linux
 * syncfs(2) reports the errors since the handle was opened). Close *fd. */
hsm_rc hsm_fs_batch_open(const char *dir, int *fd);
hsm_rc hsm_fs_batch_sync(int fd, const char *dir);

/* Swap the names a and b in one atomic step (Linux renameat2
 * RENAME_EXCHANGE): both must exist; each then names the other's file, and
 * no instant sees either name missing. HSM_ERR_IO when they cannot be
 * swapped (a missing name, a file system without exchange): the caller
 * takes another way. Not durable until the folder is synced. */
hsm_rc hsm_file_exchange(const char *a, const char *b);

/* Replace (or create) path with exactly buf[0..len), mode applied exactly. */
hsm_rc hsm_file_replace(const char *path, const void *buf, size_t len, mode_t mode);

/* Create path with buf[0..len); HSM_ERR_EXISTS if path already exists (it is
 * never replaced, not even for an instant). */
hsm_rc hsm_file_create(const char *path, const void *buf, size_t len, mode_t mode);

/* The same, written in pieces: begin, write as often as needed, then commit
 * (replace), commit_new (create, as hsm_file_create) or abort. A failed
 * write is remembered, so commit refuses even if its rc was ignored. Commit
 * and abort free *tx and set it to NULL; abort(NULL or &NULL) is a no-op. */
typedef struct hsm_file_tx hsm_file_tx;
hsm_rc hsm_file_begin(const char *path, mode_t mode, hsm_file_tx **tx);
hsm_rc hsm_file_write(hsm_file_tx *tx, const void *buf, size_t len);
hsm_rc hsm_file_commit(hsm_file_tx **tx);
hsm_rc hsm_file_commit_new(hsm_file_tx **tx);
void   hsm_file_abort(hsm_file_tx **tx);

/* The one file reader: the whole regular file at path, at most max bytes,
 * into *buf (malloc'ed, NUL-terminated; *len does not count the NUL).
 * HSM_ERR_NOT_FOUND if it does not exist, HSM_ERR_IO if it is not a regular
 * file (a FIFO does not block the open) or cannot be read or changed size
 * while read, HSM_ERR_FORMAT if it is larger than max. Messages name path. */
hsm_rc hsm_file_read(const char *path, size_t max, char **buf, size_t *len);

/* The same into locked memory, for a file that holds a secret (a private
 * key): (*out)->len bytes, a NUL after them. */
hsm_rc hsm_file_read_secret(const char *path, size_t max, hsm_secbuf **out);

#endif
