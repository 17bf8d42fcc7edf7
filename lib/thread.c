/* SPDX-License-Identifier: BSD-2-Clause */
/* thread.c - starting a thread with a small stack, and a few threads for a
 * list of jobs (see thread.h). */
#include <string.h>

#include "hsmadm/thread.h"

hsm_rc
hsm_thread_start(pthread_t *th, void *(*fn)(void *), void *arg, int detached)
{
	pthread_attr_t attr;
	pthread_t own;
	int e;

	if (pthread_attr_init(&attr) != 0)
		return hsm_fail(HSM_ERR_NOMEM, "cannot start a thread");
	(void)pthread_attr_setstacksize(&attr, HSM_THREAD_STACK);
	if (detached)
		(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(th != NULL ? th : &own, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (e != 0)
		return hsm_fail(HSM_ERR_NOMEM, "cannot start a thread: %s", strerror(e));
	return HSM_OK;
}

struct each {
	size_t          n, next;
	void          (*fn)(void *, size_t);
	void           *ctx;
	pthread_mutex_t lock;
};

static void *
each_main(void *arg)
{
	struct each *e = arg;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&e->lock);
		i = e->next++;
		pthread_mutex_unlock(&e->lock);
		if (i >= e->n)
			return NULL;
		e->fn(e->ctx, i);
	}
}

void
hsm_thread_each(size_t n, size_t max, void (*fn)(void *ctx, size_t i), void *ctx)
{
	pthread_t th[HSM_THREAD_EACH_MAX];
	char started[HSM_THREAD_EACH_MAX] = { 0 };
	struct each e = { n, 0, fn, ctx, PTHREAD_MUTEX_INITIALIZER };
	size_t k, nth = max < 1 ? 1 : max > HSM_THREAD_EACH_MAX ? HSM_THREAD_EACH_MAX : max;

	if (nth > n)
		nth = n;
	for (k = 1; k < nth; k++)
		if (!(started[k] = hsm_thread_start(&th[k], each_main, &e, 0) == HSM_OK))
			hsm_err_clear();   /* fewer threads */
	each_main(&e);
	for (k = 1; k < nth; k++)
		if (started[k])
			pthread_join(th[k], NULL);
	pthread_mutex_destroy(&e.lock);
}
