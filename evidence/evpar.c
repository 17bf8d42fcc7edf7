/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evpar.c - the verifier's signature checks on worker threads (evint.h).
 *
 * The reading thread checks the chain, the records and the state in log
 * order and hands each ECDSA verification to the pool instead of doing it.
 * The pool is a ring of a fixed number of jobs (so memory does not grow with
 * the log); workers take jobs in order and verify them; the reading thread
 * joins them in the order it submitted them, so the first failing job is
 * the first failing check a single thread would have met. Jobs own copies
 * of what they verify; the only shared mutable state is the ring, under one
 * mutex.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/crypto.h"
#include "hsmadm/thread.h"
#include "evint.h"

enum { JOB_FREE = 0, JOB_QUEUED, JOB_TAKEN, JOB_DONE };

struct sigjob {
	EVP_PKEY *pub;
	uint8_t  *msg, *sig;
	size_t    len, siglen;
	long long seq;
	char      what[160];        /* "command.signed: signature of the admin" */
	struct ev_sigsnap snap;
	int       state;
	hsm_rc    rc;
};

struct ev_sigpool {
	pthread_mutex_t mu;
	pthread_cond_t  work, done, room;
	struct sigjob  *ring;
	size_t          cap;
	unsigned long long head, next, tail;   /* oldest unjoined, next to take, next free */
	int             stop;
	pthread_t      *th;
	int             nth;
	/* the first failure, in submission order */
	int             failed;
	long long       fail_seq;
	char            fail_msg[400];
	struct ev_sigsnap fail_snap;
};

static void
job_clear(struct sigjob *j)
{
	EVP_PKEY_free(j->pub);
	free(j->msg);
	free(j->sig);
	memset(j, 0, sizeof(*j));
}

static void *
worker(void *arg)
{
	struct ev_sigpool *p = arg;
	struct sigjob *j;
	hsm_rc rc;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->next == p->tail && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->next == p->tail)
			break;
		j = &p->ring[p->next++ % p->cap];
		j->state = JOB_TAKEN;
		pthread_mutex_unlock(&p->mu);
		/* the job is this thread's until it is marked done */
		rc = crypto_ecdsa_verify(j->pub, j->msg, j->len, j->sig, j->siglen);
		pthread_mutex_lock(&p->mu);
		j->rc = rc;
		j->state = JOB_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void
ev_sigpool_free(struct ev_sigpool **pp)
{
	struct ev_sigpool *p;
	int i;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	for (size_t k = 0; p->ring != NULL && k < p->cap; k++)
		job_clear(&p->ring[k]);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->room);
	free(p->ring);
	free(p->th);
	free(p);
	*pp = NULL;
}

hsm_rc
ev_sigpool_new(int nthreads, size_t window, struct ev_sigpool **out)
{
	struct ev_sigpool *p;

	*out = NULL;
	if (nthreads < 1 || window < 1)
		return hsm_fail(HSM_ERR_USAGE, "ev_sigpool_new: needs a thread and a window");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	pthread_cond_init(&p->room, NULL);
	p->cap = window;
	if ((p->ring = calloc(window, sizeof(*p->ring))) == NULL ||
	    (p->th = calloc((size_t)nthreads, sizeof(*p->th))) == NULL) {
		ev_sigpool_free(&p);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	for (; p->nth < nthreads; p->nth++)
		if (hsm_thread_start(&p->th[p->nth], worker, p, 0) != HSM_OK) {
			ev_sigpool_free(&p);
			return hsm_fail(HSM_ERR_INTERNAL, "cannot start a verification thread");
		}
	*out = p;
	return HSM_OK;
}

/* Join the oldest job (the lock held; it is done). */
static void
join_head(struct ev_sigpool *p)
{
	struct sigjob *j = &p->ring[p->head % p->cap];

	if (j->rc != HSM_OK && !p->failed) {
		p->failed = 1;
		p->fail_seq = j->seq;
		p->fail_snap = j->snap;
		snprintf(p->fail_msg, sizeof(p->fail_msg), "%s does not verify", j->what);
	}
	job_clear(j);
	p->head++;
}

int
ev_sigpool_join(struct ev_sigpool *p, int all)
{
	int failed;

	pthread_mutex_lock(&p->mu);
	while (p->head < p->tail) {
		struct sigjob *j = &p->ring[p->head % p->cap];
		if (j->state != JOB_DONE) {
			if (!all)
				break;
			pthread_cond_wait(&p->done, &p->mu);
			continue;
		}
		join_head(p);
	}
	failed = p->failed;
	pthread_mutex_unlock(&p->mu);
	return failed;
}

hsm_rc
ev_sigpool_submit(struct ev_sigpool *p, EVP_PKEY *pub, const void *msg, size_t len,
                  uint8_t *sig, size_t siglen, long long seq, const char *what,
                  const struct ev_sigsnap *snap)
{
	struct sigjob *j;
	uint8_t *m = malloc(len ? len : 1);

	if (m == NULL || EVP_PKEY_up_ref(pub) != 1) {
		free(m);
		free(sig);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	memcpy(m, msg, len);
	pthread_mutex_lock(&p->mu);
	/* a full window: wait for the oldest job, join it, reuse its slot */
	while (p->tail - p->head == p->cap) {
		if (p->ring[p->head % p->cap].state == JOB_DONE)
			join_head(p);
		else
			pthread_cond_wait(&p->done, &p->mu);
	}
	j = &p->ring[p->tail % p->cap];
	j->pub = pub;
	j->msg = m;
	j->len = len;
	j->sig = sig;
	j->siglen = siglen;
	j->seq = seq;
	snprintf(j->what, sizeof(j->what), "%s", what);
	j->snap = *snap;
	j->state = JOB_QUEUED;
	j->rc = HSM_OK;
	p->tail++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return HSM_OK;
}

int
ev_sigpool_failure(struct ev_sigpool *p, long long *seq, const char **msg,
                   const struct ev_sigsnap **snap)
{
	if (!p->failed)
		return 0;
	*seq = p->fail_seq;
	*msg = p->fail_msg;
	*snap = &p->fail_snap;
	return 1;
}
