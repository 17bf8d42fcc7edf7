/* SPDX-License-Identifier: BSD-2-Clause */
/* test_thread.c - hsm_thread_start: a joinable thread runs and gives its
 * result back, a detached one runs on its own, and both have the 1 MiB
 * stack thread.h promises, not the 8 MiB default; hsm_thread_each runs
 * every index once. */
#define _GNU_SOURCE   /* pthread_getattr_np */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/thread.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static size_t seen_stack;
static int ran;

static size_t
own_stack(void)
{
	pthread_attr_t a;
	size_t sz = 0;

	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		(void)pthread_attr_getstacksize(&a, &sz);
		pthread_attr_destroy(&a);
	}
	return sz;
}

static void *
joinable(void *arg)
{
	seen_stack = own_stack();
	return arg;
}

static void *
detached(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	seen_stack = own_stack();
	ran = 1;
	pthread_cond_signal(&done);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void
test_joinable(void **state)
{
	pthread_t th;
	void *back = NULL;
	int token = 7;

	(void)state;
	seen_stack = 0;
	assert_int_equal(hsm_thread_start(&th, joinable, &token, 0), HSM_OK);
	assert_int_equal(pthread_join(th, &back), 0);
	assert_ptr_equal(back, &token);
	assert_true(seen_stack >= HSM_THREAD_STACK);
	assert_true(seen_stack < 8u * 1024 * 1024);
}

static void
test_detached(void **state)
{
	(void)state;
	seen_stack = 0;
	assert_int_equal(hsm_thread_start(NULL, detached, NULL, 1), HSM_OK);
	pthread_mutex_lock(&lock);
	while (!ran)
		pthread_cond_wait(&done, &lock);
	pthread_mutex_unlock(&lock);
	assert_true(seen_stack >= HSM_THREAD_STACK);
	assert_true(seen_stack < 8u * 1024 * 1024);
}

/* hsm_thread_each: every index once, whatever the count of threads. */
static pthread_mutex_t hits_lock = PTHREAD_MUTEX_INITIALIZER;
static int hits[100];
static pthread_t who[100];

static void
count_hit(void *ctx, size_t i)
{
	(void)ctx;
	pthread_mutex_lock(&hits_lock);
	hits[i]++;
	who[i] = pthread_self();
	pthread_mutex_unlock(&hits_lock);
}

static void
test_each(void **state)
{
	static const size_t ns[] = { 0, 1, 5, 100 }, maxes[] = { 0, 1, 3, 20 };
	size_t a, b, i, others;

	(void)state;
	for (a = 0; a < 4; a++)
		for (b = 0; b < 4; b++) {
			memset(hits, 0, sizeof(hits));
			hsm_thread_each(ns[a], maxes[b], count_hit, NULL);
			for (i = 0; i < 100; i++)
				assert_int_equal(hits[i], i < ns[a] ? 1 : 0);
		}
	/* max 1: all on the calling thread */
	hsm_thread_each(5, 1, count_hit, NULL);
	for (i = 0, others = 0; i < 5; i++)
		others += !pthread_equal(who[i], pthread_self());
	assert_int_equal(others, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_joinable),
		cmocka_unit_test(test_detached),
		cmocka_unit_test(test_each),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
