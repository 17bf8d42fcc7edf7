/* SPDX-License-Identifier: BSD-2-Clause */
/* thread.c - starting a thread with a small stack (see thread.h). */
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
