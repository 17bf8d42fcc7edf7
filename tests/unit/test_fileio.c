/* SPDX-License-Identifier: BSD-2-Clause */
/* test_fileio.c - the one file writer: a failed replace leaves the old file
 * and no temporary file, the mode is exact, create never replaces, and
 * write-all survives signals and short writes; the one file reader: limits,
 * what is not a regular file, and the locked-memory variant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hsmadm/fileio.h"
#include "test_tmpdir.h"

/* Entries in dir, dot files included (a temporary file must not hide). */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
assert_content(const char *path, const char *want)
{
	char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
test_replace_and_mode(void **state)
{
	const char *dir = *state;
	char path[512];
	mode_t old = umask(077);

	snprintf(path, sizeof(path), "%s/a.json", dir);
	assert_int_equal(hsm_file_replace(path, "one\n", 4, 0640), HSM_OK);
	assert_content(path, "one\n");
	assert_int_equal(mode_of(path), 0640);        /* exact, the umask does not apply */
	assert_int_equal(hsm_file_replace(path, "two\n", 4, 0600), HSM_OK);
	assert_content(path, "two\n");
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(hsm_file_replace(path, NULL, 0, 0644), HSM_OK);
	assert_content(path, "");
	assert_int_equal(count_entries(dir), 1);
	umask(old);
}

static void
test_create_never_replaces(void **state)
{
	const char *dir = *state;
	char path[512];

	snprintf(path, sizeof(path), "%s/key.pem", dir);
	assert_int_equal(hsm_file_create(path, "secret", 6, 0600), HSM_OK);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(hsm_file_create(path, "other", 5, 0600), HSM_ERR_EXISTS);
	assert_non_null(strstr(hsm_errmsg(), "already exists"));
	assert_content(path, "secret");
	assert_int_equal(count_entries(dir), 1);
}

/* In a child limited to 10 bytes per file, a 100-byte replace fails half-way
 * through the temporary file: the child reports what it got. */
static void
test_failed_replace_keeps_old(void **state)
{
	const char *dir = *state;
	char path[512], big[100];
	int status = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(hsm_file_replace(path, "old", 3, 0600), HSM_OK);
	memset(big, 'x', sizeof(big));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 10, 10 };
		hsm_file_tx *tx = NULL;
		hsm_rc rc;

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(100);
		rc = hsm_file_replace(path, big, sizeof(big), 0600);
		if (rc != HSM_ERR_IO || strstr(hsm_errmsg(), "cannot write") == NULL)
			_exit(101);
		/* in pieces: the failed write is remembered even if ignored */
		if (hsm_file_begin(path, 0600, &tx) != HSM_OK)
			_exit(102);
		(void)hsm_file_write(tx, big, sizeof(big));
		(void)hsm_file_write(tx, "y", 1);
		if (hsm_file_commit(&tx) != HSM_ERR_IO || tx != NULL)
			_exit(103);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_content(path, "old");
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(count_entries(dir), 1);
}

/* A directory nobody may write to: the temporary file cannot be made, the
 * old file stays. Root writes anyway, so this part needs another user. */
static void
test_readonly_dir(void **state)
{
	const char *dir = *state;
	char sub[512], path[600];

	snprintf(sub, sizeof(sub), "%s/ro", dir);
	snprintf(path, sizeof(path), "%s/f", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(hsm_file_replace(path, "old", 3, 0600), HSM_OK);
	assert_int_equal(chmod(sub, 0500), 0);
	if (geteuid() != 0) {
		assert_int_equal(hsm_file_replace(path, "new", 3, 0600), HSM_ERR_IO);
		assert_non_null(strstr(hsm_errmsg(), "cannot create a temporary file in"));
		assert_content(path, "old");
		assert_int_equal(count_entries(sub), 1);
	}
	assert_int_equal(chmod(sub, 0700), 0);
	/* a missing directory fails the same way */
	snprintf(path, sizeof(path), "%s/no/such/f", dir);
	assert_int_equal(hsm_file_replace(path, "x", 1, 0600), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "cannot create a temporary file in"));
}

/* The target is a directory: the rename fails, nothing is left behind. */
static void
test_target_is_directory(void **state)
{
	const char *dir = *state;
	char sub[512];

	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(hsm_file_replace(sub, "x", 1, 0600), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "cannot replace"));
	assert_int_equal(hsm_file_create(sub, "x", 1, 0600), HSM_ERR_EXISTS);
	assert_int_equal(count_entries(dir), 1);
}

static void
test_abort_and_refusals(void **state)
{
	const char *dir = *state;
	char path[512];
	hsm_file_tx *tx = NULL;

	snprintf(path, sizeof(path), "%s/never", dir);
	assert_int_equal(hsm_file_begin(path, 0600, &tx), HSM_OK);
	assert_int_equal(hsm_file_write(tx, "abc", 3), HSM_OK);
	hsm_file_abort(&tx);
	assert_null(tx);
	hsm_file_abort(&tx);                        /* twice is harmless */
	assert_int_equal(count_entries(dir), 0);
	assert_int_equal(hsm_file_commit(&tx), HSM_ERR_USAGE);
	assert_int_equal(hsm_file_replace(NULL, "x", 1, 0600), HSM_ERR_USAGE);
	assert_int_equal(hsm_file_replace("", "x", 1, 0600), HSM_ERR_USAGE);
	snprintf(path, sizeof(path), "%s/", dir);
	assert_int_equal(hsm_file_replace(path, "x", 1, 0600), HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "names a directory"));
	snprintf(path, sizeof(path), "%s/m", dir);
	assert_int_equal(hsm_file_replace(path, "x", 1, 010000), HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "mode"));
	assert_int_equal(hsm_file_replace(path, NULL, 1, 0600), HSM_ERR_USAGE);
	assert_int_equal(count_entries(dir), 0);
}

static volatile sig_atomic_t alarms;

static void
on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* 1 MiB into a pipe read slowly by a child, while a timer interrupts the
 * writer without SA_RESTART: write() returns short counts and EINTR, and
 * every byte still arrives once, in order. */
static void
test_write_all_signals(void **st)
{
	static uint8_t buf[1 << 20];
	struct sigaction sa, old;
	struct itimerval it = { { 0, 500 }, { 0, 500 } }, off = { { 0, 0 }, { 0, 0 } };
	int p[2], status = 0;
	pid_t pid;

	(void)st;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 11));
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint8_t r[4096];
		size_t got = 0;
		ssize_t n;

		close(p[1]);
		while ((n = read(p[0], r, sizeof(r))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				if (got + (size_t)i >= sizeof(buf) || r[i] != buf[got + (size_t)i])
					_exit(1);
			got += (size_t)n;
			usleep(50);
		}
		_exit(got == sizeof(buf) ? 0 : 2);
	}
	close(p[0]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0;                            /* no SA_RESTART: EINTR reaches write */
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	alarms = 0;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_int_equal(hsm_write_all(p[1], buf, sizeof(buf)), HSM_OK);
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	close(p[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(alarms > 0);
	/* a closed descriptor is an I/O error with the reason */
	assert_int_equal(hsm_write_all(p[1], buf, 1), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "write failed"));
}

static void
test_read(void **state)
{
	const char *dir = *state;
	char path[512], *buf = (char *)1;
	size_t len = 7;
	hsm_secbuf *sb = NULL;
	int fd;

	snprintf(path, sizeof(path), "%s/r.txt", dir);
	assert_int_equal(hsm_file_replace(path, "hello", 5, 0600), HSM_OK);
	assert_int_equal(hsm_file_read(path, 5, &buf, &len), HSM_OK);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");             /* NUL-terminated */
	free(buf);
	assert_int_equal(hsm_file_read(path, 4, &buf, &len), HSM_ERR_FORMAT);
	assert_null(buf);
	assert_non_null(strstr(hsm_errmsg(), "r.txt is larger than 4 bytes"));
	assert_int_equal(hsm_file_read_secret(path, 64, &sb), HSM_OK);
	assert_int_equal(sb->len, 5);
	assert_memory_equal(sb->data, "hello", 6);
	secbuf_free(&sb);
	/* empty is fine here; callers decide whether empty means anything */
	assert_int_equal(hsm_file_replace(path, NULL, 0, 0600), HSM_OK);
	assert_int_equal(hsm_file_read(path, 5, &buf, &len), HSM_OK);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	/* larger than a MiB limit, said in MiB (sparse, so cheap) */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(1 << 20) + 1), 0);
	close(fd);
	assert_int_equal(hsm_file_read(path, 1 << 20, &buf, &len), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "larger than 1 MiB"));
	assert_int_equal(hsm_file_read_secret(path, 1 << 20, &sb), HSM_ERR_FORMAT);
	assert_null(sb);
}

static void
test_read_refusals(void **state)
{
	const char *dir = *state;
	char path[512], *buf = NULL;
	size_t len = 0;
	hsm_secbuf *sb = NULL;

	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(hsm_file_read(path, 100, &buf, &len), HSM_ERR_NOT_FOUND);
	assert_non_null(strstr(hsm_errmsg(), "cannot open"));
	assert_int_equal(hsm_file_read_secret(path, 100, &sb), HSM_ERR_NOT_FOUND);
	assert_int_equal(hsm_file_read(dir, 100, &buf, &len), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "is not a regular file"));
	/* a FIFO with no writer would block a plain open: refused at once */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(hsm_file_read(path, 100, &buf, &len), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "fifo is not a regular file"));
	assert_int_equal(hsm_file_read("", 100, &buf, &len), HSM_ERR_USAGE);
	assert_int_equal(hsm_file_read(NULL, 100, &buf, &len), HSM_ERR_USAGE);
	assert_null(buf);
}

/* A batch flush: the handle must name a folder that exists; a flush on a
 * handle that is not open fails with the system's reason. */
static void
test_fs_batch(void **state)
{
	const char *dir = *state;
	char path[512];
	int fd = -1;

	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(hsm_fs_batch_open(path, &fd), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "none"));
	snprintf(path, sizeof(path), "%s/file", dir);
	assert_int_equal(hsm_file_replace(path, "x", 1, 0600), HSM_OK);
	assert_int_equal(hsm_fs_batch_open(path, &fd), HSM_ERR_IO);   /* not a folder */
	assert_int_equal(hsm_fs_batch_open(dir, &fd), HSM_OK);
	assert_int_equal(hsm_fs_batch_sync(fd, dir), HSM_OK);
	close(fd);
	assert_int_equal(hsm_fs_batch_sync(fd, dir), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "cannot flush the files under"));
}

/* Two names swapped in one step; a missing name swaps nothing. */
static void
test_exchange(void **state)
{
	const char *dir = *state;
	char a[512], b[512], none[512];

	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(none, sizeof(none), "%s/none", dir);
	assert_int_equal(hsm_file_replace(a, "old\n", 4, 0600), HSM_OK);
	assert_int_equal(hsm_file_replace(b, "new\n", 4, 0600), HSM_OK);
	assert_int_equal(hsm_file_exchange(b, a), HSM_OK);
	assert_content(a, "new\n");
	assert_content(b, "old\n");
	assert_int_equal(hsm_file_exchange(none, a), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "none"));
	assert_content(a, "new\n");
	assert_int_equal(count_entries(dir), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replace_and_mode, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_create_never_replaces, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_failed_replace_keeps_old, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_readonly_dir, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_target_is_directory, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_abort_and_refusals, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_write_all_signals),
		cmocka_unit_test_setup_teardown(test_read, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_exchange, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_read_refusals, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_fs_batch, tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
