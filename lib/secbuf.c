/* SPDX-License-Identifier: BSD-2-Clause */
/* secbuf.c - locked, non-dumpable, wiped memory for secrets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <openssl/crypto.h>

#include "hsmadm/secbuf.h"

/* OpenSSL keeps private-key bignums in its secure heap once it exists. */
#define SECURE_HEAP_SIZE (64 * 1024)

hsm_rc
secure_init(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return hsm_fail(HSM_ERR_INTERNAL, "cannot turn core dumps off: %s",
		    strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return hsm_fail(HSM_ERR_INTERNAL, "cannot mark process non-dumpable: %s",
		    strerror(errno));
	/* Best effort: under a low RLIMIT_MEMLOCK the secure heap may be refused;
	 * secbuf_new() still fails loudly if it cannot lock. */
	if (!CRYPTO_secure_malloc_initialized())
		(void)CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, 32);
	return HSM_OK;
}

void
secure_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

int
secure_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

static size_t
page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return ((n + pg - 1) / pg) * pg;
}

hsm_rc
secbuf_new(size_t cap, hsm_secbuf **out)
{
	hsm_secbuf *sb = NULL;
	size_t maplen;
	void *p;

	*out = NULL;
	if (cap == 0 || cap > (1u << 20))
		return hsm_fail(HSM_ERR_USAGE, "secure buffer size %zu out of range", cap);
	maplen = page_round(cap);
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return hsm_fail(HSM_ERR_NOMEM, "cannot map secure memory: %s", strerror(errno));
	if (mlock(p, maplen) != 0) {
		int e = errno;
		munmap(p, maplen);
		return hsm_fail(HSM_ERR_NOMEM,
		    "cannot lock secure memory (%s); raise the memlock limit (ulimit -l)",
		    strerror(e));
	}
	(void)madvise(p, maplen, MADV_DONTDUMP);
	if ((sb = calloc(1, sizeof(*sb))) == NULL) {
		munlock(p, maplen);
		munmap(p, maplen);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	sb->data = p;
	sb->cap = cap;
	sb->len = 0;
	*out = sb;
	return HSM_OK;
}

hsm_rc
secbuf_from(const void *p, size_t n, hsm_secbuf **out)
{
	hsm_rc rc;

	if ((rc = secbuf_new(n ? n : 1, out)) != HSM_OK)
		return rc;
	if (n)
		memcpy((*out)->data, p, n);
	(*out)->len = n;
	return HSM_OK;
}

void
secbuf_free(hsm_secbuf **sbp)
{
	hsm_secbuf *sb;
	size_t maplen;

	if (sbp == NULL || (sb = *sbp) == NULL)
		return;
	maplen = page_round(sb->cap);
	explicit_bzero(sb->data, maplen);
	munlock(sb->data, maplen);
	munmap(sb->data, maplen);
	explicit_bzero(sb, sizeof(*sb));
	free(sb);
	*sbp = NULL;
}

/* Read one line into sb byte by byte so no stdio buffer keeps a copy. */
static hsm_rc
read_line_fd(int fd, hsm_secbuf *sb, size_t max)
{
	for (;;) {
		uint8_t c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return hsm_fail(HSM_ERR_IO, "cannot read secret: %s", strerror(errno));
		if (r == 0) {
			if (sb->len == 0)
				return hsm_fail(HSM_ERR_CANCELLED, "no input (end of file)");
			return HSM_OK;
		}
		if (c == '\n')
			return HSM_OK;
		if (c == '\r')
			continue;
		if (sb->len >= max)
			return hsm_fail(HSM_ERR_USAGE, "input longer than %zu characters", max);
		sb->data[sb->len++] = c;
	}
}

hsm_rc
secure_read_line(const char *prompt, int fd, size_t max, hsm_secbuf **out)
{
	hsm_secbuf *sb = NULL;
	struct termios old, noecho;
	int tty = -1, restore = 0;
	hsm_rc rc;

	*out = NULL;
	if ((rc = secbuf_new(max + 1, &sb)) != HSM_OK)
		return rc;
	if (fd < 0) {
		if ((tty = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0) {
			rc = hsm_fail(HSM_ERR_USAGE,
			    "no terminal to ask for the secret; give it on a file descriptor instead");
			goto out;
		}
		if (prompt != NULL)
			(void)!write(tty, prompt, strlen(prompt));
		if (tcgetattr(tty, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
			noecho.c_lflag |= ICANON;
			if (tcsetattr(tty, TCSAFLUSH, &noecho) == 0)
				restore = 1;
		}
		rc = read_line_fd(tty, sb, max);
		if (restore)
			(void)tcsetattr(tty, TCSAFLUSH, &old);
		(void)!write(tty, "\n", 1);
	} else {
		rc = read_line_fd(fd, sb, max);
	}
	if (rc == HSM_OK)
		*out = sb, sb = NULL;
out:
	if (tty >= 0)
		close(tty);
	secbuf_free(&sb);
	return rc;
}
