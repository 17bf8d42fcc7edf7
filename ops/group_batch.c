/* SPDX-License-Identifier: BSD-2-Clause */
/* group_batch.c - the members grouped by their module connection, and one
 * request per connection carrying all of its members' domains, the
 * connections in parallel (a thread each). A module far away, or one that
 * waits before every answer, is then paid once per module, not once per
 * domain. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "group_int.h"
#include "hsmadm/thread.h"

long long
grp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
grp_plan_free(struct gplan *p)
{
	free(p->b);
	free(p->idx_store);
	free(p->dom_store);
	free(p->from_store);
	memset(p, 0, sizeof(*p));
}

hsm_rc
grp_plan(const group_member *m, size_t n, const char *sel, struct gplan *p)
{
	size_t i, k, pos = 0;

	memset(p, 0, sizeof(*p));
	p->b = calloc(n ? n : 1, sizeof(*p->b));
	p->idx_store = calloc(n ? n : 1, sizeof(*p->idx_store));
	p->dom_store = calloc(n ? n : 1, sizeof(*p->dom_store));
	p->from_store = calloc(n ? n : 1, sizeof(*p->from_store));
	if (p->b == NULL || p->idx_store == NULL || p->dom_store == NULL || p->from_store == NULL) {
		grp_plan_free(p);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	/* Batches in the order of their first member; each batch's members
	 * contiguous in the stores. */
	for (i = 0; i < n; i++) {
		if (sel != NULL && !sel[i])
			continue;
		for (k = 0; k < p->nb && p->b[k].drv != m[i].drv; k++)
			;
		if (k == p->nb)
			p->b[p->nb++].drv = m[i].drv;
		p->b[k].n++;
	}
	for (k = 0; k < p->nb; k++) {
		p->b[k].idx = p->idx_store + pos;
		p->b[k].domains = p->dom_store + pos;
		p->b[k].from = p->from_store + pos;
		pos += p->b[k].n;
		p->b[k].n = 0;
	}
	for (i = 0; i < n; i++) {
		if (sel != NULL && !sel[i])
			continue;
		for (k = 0; p->b[k].drv != m[i].drv; k++)
			;
		p->b[k].idx[p->b[k].n] = i;
		p->b[k].domains[p->b[k].n++] = m[i].domain;
	}
	return HSM_OK;
}

struct bthread {
	const struct gbatch *b;
	struct bcall        *c;
	moddrv_result       *res;    /* b->n results */
	long long            t_call;
};

/* each() for member 1 + i of one batch (hsm_thread_each). */
static void
each_after_first(void *ctx, size_t i)
{
	struct bthread *t = ctx;

	t->c->each(t->c->ctx, t->b->idx[1 + i], &t->res[1 + i]);
}

/* The answers of a module with many domains are checked (parsed, receipt
 * proofs checked) by a few threads, not one after another. The first is
 * checked alone: it pays for what its batch shares (the module's OA chain,
 * the batch signature), which the others then find done. */
#define EACH_THREADS 4
static void
run_each(struct bthread *t)
{
	if (t->b->n == 0)
		return;
	t->c->each(t->c->ctx, t->b->idx[0], &t->res[0]);
	hsm_thread_each(t->b->n - 1, t->b->n >= 8 ? EACH_THREADS : 1, each_after_first, t);
}

static void *
bworker(void *p)
{
	struct bthread *t = p;
	const struct gbatch *b = t->b;
	long long t0 = grp_now_ms();
	size_t k;

	hsm_err_clear();
	if (b->drv == NULL) {
		for (k = 0; k < b->n; k++) {
			t->res[k].rc = HSM_ERR_USAGE;
			snprintf(t->res[k].msg, sizeof(t->res[k].msg), "no connection to the module");
		}
	} else if (t->c->kind == BK_QUERY && t->c->digest != NULL)
		moddrv_query_reserve_many(b->drv, b->domains, b->from, b->n, t->c->digest,
		    t->c->ballot, t->res);
	else if (t->c->kind == BK_QUERY)
		moddrv_query_many(b->drv, b->domains, b->n, t->res);
	else if (t->c->kind == BK_APPLY && t->c->ballot > 0)
		moddrv_apply_reserved_many(b->drv, b->domains, b->n, t->c->cmd, t->c->ballot, t->res);
	else if (t->c->kind == BK_APPLY)
		moddrv_apply_many(b->drv, b->domains, b->n, t->c->cmd, t->res);
	else
		moddrv_receipts_many(b->drv, b->domains, b->from, b->n, t->res);
	t->t_call = grp_now_ms() - t0;
	if (t->c->each != NULL)
		run_each(t);
	return NULL;
}

void
grp_run_batches(const struct gplan *p, struct bcall *c, moddrv_result *res)
{
	struct bthread *t = calloc(p->nb ? p->nb : 1, sizeof(*t));
	moddrv_result *tmp = NULL;
	pthread_t *th = calloc(p->nb ? p->nb : 1, sizeof(*th));
	char *started = calloc(p->nb ? p->nb : 1, 1);
	size_t k, j, total = 0;

	for (k = 0; k < p->nb; k++)
		total += p->b[k].n;
	tmp = calloc(total ? total : 1, sizeof(*tmp));
	c->t_call_max = 0;
	for (k = 0, j = 0; k < p->nb && t != NULL && tmp != NULL; k++) {
		t[k].b = &p->b[k];
		t[k].c = c;
		t[k].res = tmp + j;
		j += p->b[k].n;
		if (th != NULL && started != NULL && p->nb > 1 &&
		    hsm_thread_start(&th[k], bworker, &t[k], 0) == HSM_OK)
			started[k] = 1;
		else {
			hsm_err_clear();
			bworker(&t[k]);   /* one module, or no thread: run it here */
		}
	}
	for (k = 0; k < p->nb && t != NULL && tmp != NULL; k++) {
		if (started != NULL && started[k])
			pthread_join(th[k], NULL);
		if (t[k].t_call > c->t_call_max)
			c->t_call_max = t[k].t_call;
		for (j = 0; j < p->b[k].n; j++)
			res[p->b[k].idx[j]] = t[k].res[j];   /* moves the references */
	}
	if (t == NULL || tmp == NULL)
		for (k = 0; k < p->nb; k++)
			for (j = 0; j < p->b[k].n; j++) {
				size_t i = p->b[k].idx[j];
				res[i].rc = HSM_ERR_NOMEM;
				snprintf(res[i].msg, MODDRV_MSG_MAX, "out of memory");
				/* nothing was sent: each member hears so, as from a
				 * module, or its row would keep a stale status */
				if (c->each != NULL)
					c->each(c->ctx, i, &res[i]);
			}
	free(tmp);
	free(t);
	free(th);
	free(started);
}
