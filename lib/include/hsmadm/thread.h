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

#endif
