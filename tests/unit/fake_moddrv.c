/* SPDX-License-Identifier: BSD-2-Clause */
/* fake_moddrv.c - see fake_moddrv.h. */
#include <stdlib.h>

#include "hsmadm/admincmd.h"
#include "fake_moddrv.h"

struct fixed {
	json_t   *state;
	unsigned *applies;
};

static hsm_rc
fx_info(void *ctx, json_t **out)
{
	(void)ctx;
	*out = json_pack("{s:s, s:i}", "module", "TEST", "domains", 8);
	return *out != NULL ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
}

static hsm_rc
fx_query(void *ctx, unsigned domain, json_t **out)
{
	struct fixed *f = ctx;

	(void)domain;
	*out = json_deep_copy(f->state);
	return *out != NULL ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
}

static hsm_rc
fx_apply(void *ctx, unsigned domain, const admincmd *cmd, json_t **receipt)
{
	struct fixed *f = ctx;

	(void)domain;
	(void)cmd;
	*receipt = NULL;
	(*f->applies)++;
	return hsm_fail(HSM_ERR_REFUSED, "the test driver applies nothing");
}

static void
fx_close(void *ctx)
{
	struct fixed *f = ctx;

	json_decref(f->state);
	free(f);
}

static const struct moddrv_ops fx_ops = {
	.info = fx_info, .query = fx_query, .apply = fx_apply, .close = fx_close,
};

hsm_rc
fake_moddrv_open(const char *serial, json_t *state, unsigned *applies, moddrv **out)
{
	struct fixed *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (f == NULL) {
		json_decref(state);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	f->state = state;
	f->applies = applies;
	/* moddrv_new closes (frees) f when it fails */
	return moddrv_new(&fx_ops, f, serial, out);
}
