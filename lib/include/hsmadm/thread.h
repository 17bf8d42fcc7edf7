/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * thread.h - the one way hsmadm starts a thread: with a 1 MiB stack, not
 * the 8 MiB default. Our threads are short-lived workers (a module per
 * request, a domain of a batch, a connection); mapping and unmapping the
 * default stack cost more than many of them work (a 16-thread burst: ~550
 * against ~190 us a thread), and 1 MiB holds our deepest call chains (a
 * TLS handshake, JSON at its depth limit) many times over.
 */
#ifndef HSMADM_THREAD_H
#define HSMADM_THREAD_H

#include <pthread.h>
#include "hsmadm/err.h"

#define HSM_THREAD_STACK (1024u * 1024u)

/* Start fn(arg); joinable, or detached when detached is 1 (th may then be
 * NULL). HSM_ERR_NOMEM (no thread could be made) with a message. */
hsm_rc hsm_thread_start(pthread_t *th, void *(*fn)(void *), void *arg, int detached);

/* fn(ctx, i) for every i in [0, n), by at most max threads (the caller is
 * one of them), each taking the next i in turn; returns when all are done.
 * A thread that cannot be started leaves its share to the others. */
#define HSM_THREAD_EACH_MAX 8
void hsm_thread_each(size_t n, size_t max, void (*fn)(void *ctx, size_t i), void *ctx);

#endif
