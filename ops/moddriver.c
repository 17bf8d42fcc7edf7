/* SPDX-License-Identifier: BSD-2-Clause */
/* moddriver.c - the driver dispatch (moddriver.h): one ops table and its
 * context behind every module connection, whichever backend serves it. */
#include <stdlib.h>
#include <string.h>

#include "hsmadm/moddriver.h"

struct moddrv {
	const struct moddrv_ops *ops;
	void *ctx;
	char *serial;
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
	if (d == NULL || out == NULL || d->ops->info == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_info: bad arguments");
	return d->ops->info(d->ctx, out);
}

hsm_rc
moddrv_query(moddrv *d, unsigned domain, json_t **out)
{
	if (d == NULL || out == NULL || d->ops->query == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_query: bad arguments");
	return d->ops->query(d->ctx, domain, out);
}

hsm_rc
moddrv_apply(moddrv *d, unsigned domain, const admincmd *cmd, json_t **receipt)
{
	if (d == NULL || cmd == NULL || receipt == NULL || d->ops->apply == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_apply: bad arguments");
	return d->ops->apply(d->ctx, domain, cmd, receipt);
}

hsm_rc
moddrv_receipts(moddrv *d, unsigned domain, uint64_t from_counter, json_t **out)
{
	if (d == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "moddrv_receipts: bad arguments");
	*out = NULL;
	if (d->ops->receipts == NULL)
		return hsm_fail(HSM_ERR_STATE, "module %s keeps no receipts to fetch again",
		                d->serial);
	return d->ops->receipts(d->ctx, domain, from_counter, out);
}

void
moddrv_free(moddrv **d)
{
	if (d == NULL || *d == NULL)
		return;
	if ((*d)->ops->close)
		(*d)->ops->close((*d)->ctx);
	free((*d)->serial);
	free(*d);
	*d = NULL;
}
