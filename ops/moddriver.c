/* SPDX-License-Identifier: BSD-2-Clause */
/* moddriver.c - the driver dispatch (moddriver.h): one ops table and its
 * context behind every module connection, whichever backend serves it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/moddriver.h"

struct moddrv {
	const struct moddrv_ops       *ops;
	const struct moddrv_batch_ops *batch;
	const struct moddrv_blob_ops  *blob;
	void *ctx;
	char *serial;
	/* One request at a time on a connection: the members of a group share
	 * their module's connection. */
	pthread_mutex_t lock;
};

hsm_rc
moddrv_new(const struct moddrv_ops *ops, void *ctx, const char *serial, moddrv **out)
{
	moddrv *d;

	if (out)
		*out = NULL;
	if (ops == NULL || out == NULL || serial == NULL) {
		if (ops && ops->close)
			ops->close(ctx);
		return hsm_fail(HSM_ERR_USAGE, "moddrv_new: bad arguments");
	}
	if ((d = calloc(1, sizeof(*d))) == NULL || (d->serial = strdup(serial)) == NULL) {
		free(d);
		if (ops->close)
			ops->close(ctx);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	d->ops = ops;
	d->ctx = ctx;
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return HSM_OK;
}

const char *
moddrv_serial(const moddrv *d)
{
	return d ? d->serial : NULL;
}

hsm_rc
moddrv_info(moddrv *d, json_t **out)
{
	hsm_rc rc;

	if (d == NULL || out == NULL || d->ops->info == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_info: bad arguments");
	pthread_mutex_lock(&d->lock);
	rc = d->ops->info(d->ctx, out);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

hsm_rc
moddrv_query(moddrv *d, unsigned domain, json_t **out)
{
	hsm_rc rc;

	if (d == NULL || out == NULL || d->ops->query == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_query: bad arguments");
	pthread_mutex_lock(&d->lock);
	rc = d->ops->query(d->ctx, domain, out);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

hsm_rc
moddrv_apply(moddrv *d, unsigned domain, const admincmd *cmd, json_t **receipt)
{
	hsm_rc rc;

	if (d == NULL || cmd == NULL || receipt == NULL || d->ops->apply == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_apply: bad arguments");
	pthread_mutex_lock(&d->lock);
	rc = d->ops->apply(d->ctx, domain, cmd, receipt);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

hsm_rc
moddrv_receipts(moddrv *d, unsigned domain, uint64_t from_counter, json_t **out)
{
	hsm_rc rc;

	if (d == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_receipts: bad arguments");
	*out = NULL;
	if (d->ops->receipts == NULL)
		return hsm_fail(HSM_ERR_STATE, "module %s keeps no receipts to fetch again",
		                d->serial);
	pthread_mutex_lock(&d->lock);
	rc = d->ops->receipts(d->ctx, domain, from_counter, out);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void
moddrv_free(moddrv **d)
{
	if (d == NULL || *d == NULL)
		return;
	if ((*d)->ops->close)
		(*d)->ops->close((*d)->ctx);
	free((*d)->serial);
	pthread_mutex_destroy(&(*d)->lock);
	free(*d);
	*d = NULL;
}

void
moddrv_set_batch(moddrv *d, const struct moddrv_batch_ops *b)
{
	if (d != NULL)
		d->batch = b;
}

void
moddrv_results_clear(moddrv_result *res, size_t n)
{
	size_t k;

	for (k = 0; res != NULL && k < n; k++) {
		json_decref(res[k].out);
		memset(&res[k], 0, sizeof(res[k]));
	}
}

/* One domain's outcome from a single-domain op (the fallback). */
static void
one_result(moddrv_result *r, hsm_rc rc)
{
	r->rc = rc;
	if (rc != HSM_OK)
		snprintf(r->msg, sizeof(r->msg), "%s", hsm_errmsg());
}

/* A transport failure of a batch is every domain's outcome. */
static hsm_rc
all_failed(moddrv_result *res, size_t n, hsm_rc rc)
{
	size_t k;

	if (rc == HSM_OK)
		return rc;
	for (k = 0; k < n; k++) {
		if (res[k].rc != HSM_OK)
			continue;
		json_decref(res[k].out);
		res[k].out = NULL;
		one_result(&res[k], rc);
	}
	return rc;
}

enum many_kind { MANY_QUERY, MANY_APPLY, MANY_RECEIPTS };

static hsm_rc
many(moddrv *d, enum many_kind kind, const unsigned *domains, const uint64_t *from, size_t n,
     const admincmd *cmd, moddrv_result *res)
{
	hsm_rc rc = HSM_OK;
	size_t k;

	if (d == NULL || domains == NULL || res == NULL || (kind == MANY_APPLY && cmd == NULL) ||
	    (kind == MANY_RECEIPTS && from == NULL))
		return hsm_fail(HSM_ERR_USAGE, "moddrv: bad arguments");
	memset(res, 0, n * sizeof(*res));
	pthread_mutex_lock(&d->lock);
	hsm_err_clear();
	if (kind == MANY_QUERY && d->batch && d->batch->query)
		rc = all_failed(res, n, d->batch->query(d->ctx, domains, n, res));
	else if (kind == MANY_APPLY && d->batch && d->batch->apply)
		rc = all_failed(res, n, d->batch->apply(d->ctx, domains, n, cmd, res));
	else if (kind == MANY_RECEIPTS && d->batch && d->batch->receipts)
		rc = all_failed(res, n, d->batch->receipts(d->ctx, domains, from, n, res));
	else
		for (k = 0; k < n; k++) {
			hsm_err_clear();
			if (kind == MANY_QUERY)
				one_result(&res[k], d->ops->query(d->ctx, domains[k], &res[k].out));
			else if (kind == MANY_APPLY)
				one_result(&res[k], d->ops->apply(d->ctx, domains[k], cmd, &res[k].out));
			else if (d->ops->receipts == NULL)
				one_result(&res[k], hsm_fail(HSM_ERR_STATE,
				    "module %s keeps no receipts to fetch again", d->serial));
			else
				one_result(&res[k], d->ops->receipts(d->ctx, domains[k], from[k],
				    &res[k].out));
		}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

hsm_rc
moddrv_query_many(moddrv *d, const unsigned *domains, size_t n, moddrv_result *res)
{
	return many(d, MANY_QUERY, domains, NULL, n, NULL, res);
}

hsm_rc
moddrv_apply_many(moddrv *d, const unsigned *domains, size_t n, const admincmd *cmd,
                  moddrv_result *res)
{
	return many(d, MANY_APPLY, domains, NULL, n, cmd, res);
}

hsm_rc
moddrv_receipts_many(moddrv *d, const unsigned *domains, const uint64_t *from, size_t n,
                     moddrv_result *res)
{
	return many(d, MANY_RECEIPTS, domains, from, n, NULL, res);
}

hsm_rc
moddrv_applied_many(moddrv *d, const unsigned *domains, const uint64_t *counter_before,
                    size_t n, moddrv_result *res)
{
	hsm_rc rc;

	if (d == NULL || domains == NULL || counter_before == NULL || res == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_applied_many: bad arguments");
	memset(res, 0, n * sizeof(*res));
	if (d->batch == NULL || d->batch->applied == NULL)
		return all_failed(res, n, hsm_fail(HSM_ERR_STATE, "module %s keeps no applied "
		    "commands to fetch", d->serial));
	pthread_mutex_lock(&d->lock);
	hsm_err_clear();
	rc = all_failed(res, n, d->batch->applied(d->ctx, domains, counter_before, n, res));
	pthread_mutex_unlock(&d->lock);
	return rc;
}

hsm_rc
moddrv_query_reserve_many(moddrv *d, const unsigned *domains, const uint64_t *counters,
                          size_t n, const char *digest, long long ballot, moddrv_result *res)
{
	hsm_rc rc;

	if (d == NULL || domains == NULL || counters == NULL || digest == NULL || res == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_query_reserve_many: bad arguments");
	if (d->batch == NULL || d->batch->query_reserve == NULL)
		return moddrv_query_many(d, domains, n, res);
	memset(res, 0, n * sizeof(*res));
	pthread_mutex_lock(&d->lock);
	hsm_err_clear();
	rc = all_failed(res, n, d->batch->query_reserve(d->ctx, domains, counters, n, digest,
	    ballot, res));
	pthread_mutex_unlock(&d->lock);
	return rc;
}

hsm_rc
moddrv_apply_reserved_many(moddrv *d, const unsigned *domains, size_t n, const admincmd *cmd,
                           long long ballot, moddrv_result *res)
{
	hsm_rc rc;

	if (d == NULL || domains == NULL || cmd == NULL || res == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_apply_reserved_many: bad arguments");
	memset(res, 0, n * sizeof(*res));
	if (d->batch == NULL || d->batch->apply_reserved == NULL)
		return all_failed(res, n, hsm_fail(HSM_ERR_STATE, "the driver of module %s makes "
		    "no reservations; nothing was sent", d->serial));
	pthread_mutex_lock(&d->lock);
	hsm_err_clear();
	rc = all_failed(res, n, d->batch->apply_reserved(d->ctx, domains, n, cmd, ballot, res));
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* ---- key blobs ------------------------------------------------------------- */

void
moddrv_set_blob(moddrv *d, const struct moddrv_blob_ops *b)
{
	if (d != NULL)
		d->blob = b;
}

int
moddrv_has_blob(const moddrv *d)
{
	return d != NULL && d->blob != NULL;
}

static hsm_rc
no_blob(const moddrv *d)
{
	return hsm_fail(HSM_ERR_STATE, "the driver of module %s has no blob operations",
	                d ? d->serial : "?");
}

hsm_rc
moddrv_blob_generate(moddrv *d, unsigned domain, const char *usage, const char *label,
                     size_t count, uint8_t *out, uint8_t mkvp[HSM_VP_LEN])
{
	hsm_rc rc;

	if (d == NULL || d->blob == NULL || d->blob->generate == NULL)
		return no_blob(d);
	if (out == NULL || count == 0 || count > BLOB_BATCH_MAX)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_blob_generate: 1 to %d blobs", BLOB_BATCH_MAX);
	pthread_mutex_lock(&d->lock);
	rc = d->blob->generate(d->ctx, domain, usage, label, count, out, mkvp);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

hsm_rc
moddrv_blob_crypt(moddrv *d, unsigned domain, int enc, const uint8_t blob[BLOB_LEN],
                  const uint8_t *in, size_t n, uint8_t **out, size_t *outlen)
{
	hsm_rc rc;

	if (d == NULL || d->blob == NULL || d->blob->crypt == NULL)
		return no_blob(d);
	if (blob == NULL || (in == NULL && n > 0) || out == NULL || outlen == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_blob_crypt: bad arguments");
	pthread_mutex_lock(&d->lock);
	rc = d->blob->crypt(d->ctx, domain, enc, blob, in, n, out, outlen);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

hsm_rc
moddrv_blob_reencipher(moddrv *d, unsigned domain, const char *to, const uint8_t *in,
                       size_t n, uint8_t *out, size_t *nok, moddrv_blob_fail *fails,
                       size_t *nfail, uint8_t mkvp[HSM_VP_LEN])
{
	hsm_rc rc;

	if (d == NULL || d->blob == NULL || d->blob->reencipher == NULL)
		return no_blob(d);
	if (to == NULL || in == NULL || out == NULL || nok == NULL || fails == NULL ||
	    nfail == NULL || n == 0 || n > BLOB_BATCH_MAX)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_blob_reencipher: bad arguments");
	pthread_mutex_lock(&d->lock);
	rc = d->blob->reencipher(d->ctx, domain, to, in, n, out, nok, fails, nfail, mkvp);
	pthread_mutex_unlock(&d->lock);
	/* The driver's count is checked here once for every backend. */
	if (rc == HSM_OK && *nok + *nfail != n)
		rc = hsm_fail(HSM_ERR_MODULE, "module %s answered %zu blobs and %zu failures for %zu",
		              d->serial, *nok, *nfail, n);
	return rc;
}
