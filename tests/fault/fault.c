/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault.c - the wrappers behind fault.h. Each WRAP_* line below is one
 * symbol given to the linker as --wrap=SYMBOL (tests/fault/fault.cmake reads
 * the list from this file, so the two cannot drift apart).
 *
 * A failure looks like the real one: allocation returns NULL with ENOMEM,
 * file calls return -1 with EIO (ENOSPC for write), OpenSSL calls return
 * their failure value, PC/SC calls SCARD_F_COMM_ERROR. The Nth write() is
 * made a short write of half its bytes followed by ENOSPC on the next
 * write(), as a disk that fills up mid-record does, because that is what
 * leaves a torn line behind if the writer does not undo it.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <PCSC/winscard.h>

#include "fault.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define FAULT_STACK() __sanitizer_print_stack_trace()
#else
#define FAULT_STACK() ((void)0)
#endif

/* The flags with which open() takes a mode argument. */
#ifdef O_TMPFILE
#define FAULT_O_MODE (O_CREAT | O_TMPFILE)
#else
#define FAULT_O_MODE O_CREAT
#endif

static atomic_long  calls;
static atomic_long  target;
static atomic_int   armed;
static atomic_int   fired;
static atomic_int   write_broken;   /* the short write happened: next write fails */
static const char *_Atomic fired_name;
static void *_Atomic fired_caller;
static void *fired_stack[FAULT_STACK_MAX];
static int   fired_depth;

void
fault_arm(long n)
{
	atomic_store(&calls, 0);
	atomic_store(&target, n);
	atomic_store(&fired, 0);
	atomic_store(&write_broken, 0);
	atomic_store(&fired_name, "");
	atomic_store(&fired_caller, NULL);
	fired_depth = 0;
	atomic_store(&armed, 1);
}

long
fault_disarm(void)
{
	atomic_store(&armed, 0);
	atomic_store(&write_broken, 0);
	return atomic_load(&calls);
}

int
fault_fired(void)
{
	return atomic_load(&fired);
}

const char *
fault_fired_name(void)
{
	const char *n = atomic_load(&fired_name);

	return n != NULL ? n : "";
}

void *
fault_fired_caller(void)
{
	return atomic_load(&fired_caller);
}

int
fault_fired_stack(void *const **frames)
{
	*frames = fired_stack;
	return fired_depth;
}

/* Count this call; 1 if it is the one to fail. */
static int
fault_now(const char *name, void *caller)
{
	long n;

	if (!atomic_load(&armed))
		return 0;
	n = atomic_fetch_add(&calls, 1) + 1;
	if (n != atomic_load(&target))
		return 0;
	atomic_store(&fired_name, name);
	atomic_store(&fired_caller, caller);
	fired_depth = backtrace(fired_stack, FAULT_STACK_MAX);
	atomic_store(&fired, 1);
	/* FAULT_STACK=1: where each injected failure comes from, for a
	 * report that names only the nearest caller. */
	if (getenv("FAULT_STACK") != NULL)
		FAULT_STACK();
	return 1;
}

#define FAULT_HERE(name) fault_now(name, __builtin_return_address(0))

/* WRAP_x(ret, name, params, args, failure statement): the prototype of the
 * real and of the wrapper, then a wrapper that either runs the failure
 * statement or calls through. */
#define WRAP_CALL(ret, name, params, args, fail)                       \
	ret __real_##name params;                                      \
	ret __wrap_##name params;                                      \
	ret __wrap_##name params                                       \
	{                                                              \
		if (FAULT_HERE(#name)) {                               \
			fail;                                          \
		}                                                      \
		return __real_##name args;                             \
	}

#define FAIL_ERRNO(e, v) do { errno = (e); return (v); } while (0)

/* ---- allocation ---- */
WRAP_CALL(void *, malloc, (size_t n), (n), FAIL_ERRNO(ENOMEM, NULL))
WRAP_CALL(void *, calloc, (size_t a, size_t b), (a, b), FAIL_ERRNO(ENOMEM, NULL))
WRAP_CALL(void *, realloc, (void *p, size_t n), (p, n), FAIL_ERRNO(ENOMEM, NULL))
WRAP_CALL(char *, strdup, (const char *s), (s), FAIL_ERRNO(ENOMEM, NULL))
WRAP_CALL(char *, strndup, (const char *s, size_t n), (s, n), FAIL_ERRNO(ENOMEM, NULL))
WRAP_CALL(void *, mmap, (void *a, size_t n, int p, int f, int fd, off_t o),
          (a, n, p, f, fd, o), FAIL_ERRNO(ENOMEM, MAP_FAILED))

/* ---- files ---- */
WRAP_CALL(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n), FAIL_ERRNO(EIO, -1))
WRAP_CALL(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o),
          FAIL_ERRNO(EIO, -1))
WRAP_CALL(int, fsync, (int fd), (fd), FAIL_ERRNO(EIO, -1))
WRAP_CALL(int, fdatasync, (int fd), (fd), FAIL_ERRNO(EIO, -1))
WRAP_CALL(int, ftruncate, (int fd, off_t n), (fd, n), FAIL_ERRNO(EIO, -1))
WRAP_CALL(int, fstat, (int fd, struct stat *st), (fd, st), FAIL_ERRNO(EIO, -1))
WRAP_CALL(int, flock, (int fd, int op), (fd, op), FAIL_ERRNO(EIO, -1))
WRAP_CALL(int, rename, (const char *a, const char *b), (a, b), FAIL_ERRNO(EIO, -1))
WRAP_CALL(int, link, (const char *a, const char *b), (a, b), FAIL_ERRNO(EIO, -1))
WRAP_CALL(int, mkstemp, (char *t), (t), FAIL_ERRNO(EIO, -1))
WRAP_CALL(FILE *, fopen, (const char *p, const char *m), (p, m), FAIL_ERRNO(EIO, NULL))
WRAP_CALL(FILE *, fdopen, (int fd, const char *m), (fd, m), FAIL_ERRNO(EIO, NULL))
WRAP_CALL(size_t, fwrite, (const void *p, size_t s, size_t n, FILE *f), (p, s, n, f),
          FAIL_ERRNO(EIO, 0))
WRAP_CALL(int, fflush, (FILE *f), (f), FAIL_ERRNO(EIO, EOF))

/* open and openat take a mode only with O_CREAT or O_TMPFILE. */
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int
__wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & FAULT_O_MODE) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (FAULT_HERE("open"))
		FAIL_ERRNO(EIO, -1);
	return __real_open(path, flags, mode);
}

int __real_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
int
__wrap_openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & FAULT_O_MODE) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (FAULT_HERE("openat"))
		FAIL_ERRNO(EIO, -1);
	return __real_openat(dirfd, path, flags, mode);
}

/* The chosen write() writes half and reports it; the writer's next write()
 * then finds the disk full. */
ssize_t __real_write(int fd, const void *b, size_t n);
ssize_t __wrap_write(int fd, const void *b, size_t n);
ssize_t
__wrap_write(int fd, const void *b, size_t n)
{
	if (atomic_load(&armed) && atomic_load(&write_broken))
		FAIL_ERRNO(ENOSPC, -1);
	if (FAULT_HERE("write")) {
		if (n < 2)
			FAIL_ERRNO(ENOSPC, -1);
		atomic_store(&write_broken, 1);
		return __real_write(fd, b, n / 2);
	}
	return __real_write(fd, b, n);
}

/* ---- OpenSSL: the primitives lib/crypto.c, kpwrap.c and signer.c call ---- */
#define WRAP_SSL(name, params, args) WRAP_CALL(int, name, params, args, return 0)
#define WRAP_SSL_PTR(type, name, params, args) WRAP_CALL(type *, name, params, args, return NULL)

WRAP_SSL(RAND_bytes, (unsigned char *b, int n), (b, n))
WRAP_SSL(RAND_priv_bytes, (unsigned char *b, int n), (b, n))
WRAP_SSL(EVP_Digest, (const void *d, size_t n, unsigned char *md, unsigned int *mdlen,
                      const EVP_MD *t, ENGINE *e), (d, n, md, mdlen, t, e))
WRAP_SSL(EVP_DigestInit_ex, (EVP_MD_CTX *c, const EVP_MD *t, ENGINE *e), (c, t, e))
WRAP_SSL(EVP_DigestUpdate, (EVP_MD_CTX *c, const void *d, size_t n), (c, d, n))
WRAP_SSL(EVP_DigestFinal_ex, (EVP_MD_CTX *c, unsigned char *md, unsigned int *n), (c, md, n))
WRAP_SSL(EVP_PKEY_sign_init, (EVP_PKEY_CTX *c), (c))
WRAP_SSL(EVP_PKEY_sign, (EVP_PKEY_CTX *c, unsigned char *sig, size_t *siglen,
                         const unsigned char *tbs, size_t tbslen), (c, sig, siglen, tbs, tbslen))
WRAP_SSL(EVP_PKEY_verify_init, (EVP_PKEY_CTX *c), (c))
WRAP_SSL(EVP_PKEY_derive_init, (EVP_PKEY_CTX *c), (c))
WRAP_SSL(EVP_PKEY_derive_set_peer_ex, (EVP_PKEY_CTX *c, EVP_PKEY *p, int v), (c, p, v))
WRAP_SSL(EVP_PKEY_derive, (EVP_PKEY_CTX *c, unsigned char *k, size_t *n), (c, k, n))
WRAP_SSL(EVP_PKEY_keygen_init, (EVP_PKEY_CTX *c), (c))
WRAP_SSL(EVP_PKEY_generate, (EVP_PKEY_CTX *c, EVP_PKEY **k), (c, k))
WRAP_SSL(EVP_EncryptInit_ex, (EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e,
                              const unsigned char *k, const unsigned char *iv), (c, t, e, k, iv))
WRAP_SSL(EVP_EncryptUpdate, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol,
                             const unsigned char *i, int il), (c, o, ol, i, il))
WRAP_SSL(EVP_EncryptFinal_ex, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol), (c, o, ol))
WRAP_SSL(EVP_DecryptInit_ex, (EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e,
                              const unsigned char *k, const unsigned char *iv), (c, t, e, k, iv))
WRAP_SSL(EVP_DecryptUpdate, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol,
                             const unsigned char *i, int il), (c, o, ol, i, il))
WRAP_SSL(EVP_DecryptFinal_ex, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol), (c, o, ol))
WRAP_SSL(EVP_CipherInit_ex, (EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e,
                             const unsigned char *k, const unsigned char *iv, int enc),
         (c, t, e, k, iv, enc))
WRAP_SSL(EVP_CipherUpdate, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol,
                            const unsigned char *i, int il), (c, o, ol, i, il))
WRAP_SSL(EVP_CipherFinal_ex, (EVP_CIPHER_CTX *c, unsigned char *o, int *ol), (c, o, ol))
WRAP_SSL(EVP_KDF_derive, (EVP_KDF_CTX *c, unsigned char *k, size_t n, const OSSL_PARAM p[]),
         (c, k, n, p))
WRAP_SSL(EVP_MAC_init, (EVP_MAC_CTX *c, const unsigned char *k, size_t n, const OSSL_PARAM p[]),
         (c, k, n, p))
WRAP_SSL(EVP_MAC_final, (EVP_MAC_CTX *c, unsigned char *o, size_t *ol, size_t os),
         (c, o, ol, os))
WRAP_SSL_PTR(EVP_MD_CTX, EVP_MD_CTX_new, (void), ())
WRAP_SSL_PTR(EVP_CIPHER_CTX, EVP_CIPHER_CTX_new, (void), ())
WRAP_SSL_PTR(EVP_PKEY_CTX, EVP_PKEY_CTX_new_from_pkey, (OSSL_LIB_CTX *l, EVP_PKEY *k,
                                                        const char *q), (l, k, q))

/* ---- PC/SC (smartcard/pcsc.c) ---- */
#define WRAP_PCSC(name, params, args) WRAP_CALL(LONG, name, params, args, return SCARD_F_COMM_ERROR)

WRAP_PCSC(SCardEstablishContext, (DWORD s, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT c),
          (s, r1, r2, c))
WRAP_PCSC(SCardConnect, (SCARDCONTEXT c, LPCSTR r, DWORD sm, DWORD pp, LPSCARDHANDLE h,
                         LPDWORD ap), (c, r, sm, pp, h, ap))
WRAP_PCSC(SCardReconnect, (SCARDHANDLE h, DWORD sm, DWORD pp, DWORD init, LPDWORD ap),
          (h, sm, pp, init, ap))
WRAP_PCSC(SCardBeginTransaction, (SCARDHANDLE h), (h))
WRAP_PCSC(SCardTransmit, (SCARDHANDLE h, const SCARD_IO_REQUEST *spci, LPCBYTE sb, DWORD sl,
                          SCARD_IO_REQUEST *rpci, LPBYTE rb, LPDWORD rl),
          (h, spci, sb, sl, rpci, rb, rl))
WRAP_PCSC(SCardStatus, (SCARDHANDLE h, LPSTR rn, LPDWORD rl, LPDWORD st, LPDWORD pr,
                        LPBYTE atr, LPDWORD al), (h, rn, rl, st, pr, atr, al))
WRAP_PCSC(SCardListReaders, (SCARDCONTEXT c, LPCSTR g, LPSTR r, LPDWORD n), (c, g, r, n))
WRAP_PCSC(SCardGetStatusChange, (SCARDCONTEXT c, DWORD t, SCARD_READERSTATE *rs, DWORD n),
          (c, t, rs, n))
