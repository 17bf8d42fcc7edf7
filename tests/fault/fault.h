/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault.h - failure injection for the fault build (HSMADM_FAULT=ON).
 *
 * The fault test links our static libraries with -Wl,--wrap=SYMBOL for every
 * call listed in fault.c (allocation, the OpenSSL primitives lib/ uses,
 * PC/SC, file I/O). The linker sends those calls to __wrap_SYMBOL here; calls
 * made inside shared libraries (libcrypto, jansson, libc itself) are not
 * rewritten, so only the failure paths of our own code are exercised.
 *
 * While armed, every wrapped call is counted, and the Nth one fails as the
 * real call would fail (NULL and ENOMEM, -1 and EIO, 0 from an EVP call, a
 * PC/SC communication error). A driver runs a flow with N = 1, 2, 3, ...
 * until a run completes with fewer than N wrapped calls: that run had no
 * failure injected, and every call site on the way has failed once.
 */
#ifndef HSMADM_FAULT_H
#define HSMADM_FAULT_H

/* Count wrapped calls from now on and fail the nth (n >= 1; 0: count only). */
void fault_arm(long n);
/* Stop counting and injecting; returns the number of wrapped calls seen
 * since fault_arm(). */
long fault_disarm(void);
/* 1 if the armed failure has been injected in this run. */
int fault_fired(void);
/* Name of the call that was made to fail ("malloc", "EVP_PKEY_derive"), or
 * "" if none; and the code address it was called from, for the report. */
const char *fault_fired_name(void);
void *fault_fired_caller(void);
/* The return addresses above the injected failure (innermost first, the
 * wrapper itself included), for matching a flow's best-effort list. */
#define FAULT_STACK_MAX 16
int fault_fired_stack(void *const **frames);

#endif
