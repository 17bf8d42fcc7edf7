/* SPDX-License-Identifier: BSD-2-Clause */
/* sim_driver.c - the in-process module driver of the unit tests (sim_driver.h). */
#include <stdlib.h>

#include "hsmadm/modproto.h"
#include "sim_driver.h"

static hsm_rc
call(struct sim_conn *c, const char *op, json_t *params, json_t **result)
{
	json_t *req = NULL, *ans = NULL;
	int drop = 0;
	hsm_rc rc;

	*result = NULL;
	if (c->lost)
		return hsm_fail(HSM_ERR_MODULE, "the connection to the module was lost earlier");
	if ((rc = modproto_request_new(++c->id, op, params, &req)) != HSM_OK)
		return rc;
	rc = simmod_handle(c->m, req, &ans, &drop);
	json_decref(req);
	if (rc != HSM_OK)
		return rc;
	if (drop) {
		c->lost = 1;
		json_decref(ans);
		return hsm_fail(HSM_ERR_MODULE, "connection lost while receiving");
	}
	/* the same answer check as the TLS driver: codes mapped the same way */
	rc = modproto_answer_check(ans, c->id, result, NULL);
	json_decref(ans);
	return rc;
}

static hsm_rc
d_info(void *ctx, json_t **out)
{
	return call(ctx, MODPROTO_OP_INFO, NULL, out);
}

static hsm_rc
d_query(void *ctx, unsigned domain, json_t **out)
{
	json_t *p = json_pack("{s:i}", "domain", (int)domain);
	hsm_rc rc = call(ctx, MODPROTO_OP_QUERY, p, out);

	json_decref(p);
	return rc;
}

static hsm_rc
d_apply(void *ctx, unsigned domain, const admincmd *cmd, json_t **receipt)
{
	json_t *file = NULL, *p, *res = NULL;
	hsm_rc rc;

	*receipt = NULL;
	if ((rc = admincmd_to_json(cmd, &file)) != HSM_OK)
		return rc;
	p = json_pack("{s:i, s:o}", "domain", (int)domain, "command", file);
	rc = call(ctx, MODPROTO_OP_APPLY, p, &res);
	json_decref(p);
	if (rc == HSM_OK)
		*receipt = json_incref(json_object_get(res, "receipt"));
	json_decref(res);
	return rc;
}

static hsm_rc
d_receipts(void *ctx, unsigned domain, uint64_t from, json_t **out)
{
	struct sim_conn *c = ctx;
	json_t *p = json_pack("{s:i, s:I}", "domain", (int)domain, "from_counter",
	    (json_int_t)from);
	json_t *res = NULL;
	hsm_rc rc;

	if (c->lost) {   /* connect again, as the TLS driver does */
		c->lost = 0;
		c->reconnects++;
	}
	rc = call(c, MODPROTO_OP_RECEIPTS, p, &res);
	json_decref(p);
	*out = rc == HSM_OK ? json_incref(json_object_get(res, "receipts")) : NULL;
	json_decref(res);
	return rc;
}

static void
d_close(void *ctx)
{
	free(ctx);
}

static const struct moddrv_ops sim_ops = {
	.info = d_info, .query = d_query, .apply = d_apply, .close = d_close,
	.receipts = d_receipts,
};

hsm_rc
sim_driver_open(simmod *m, const char *serial, moddrv **out, struct sim_conn **conn)
{
	struct sim_conn *c = calloc(1, sizeof(*c));
	hsm_rc rc;

	*out = NULL;
	if (conn != NULL)
		*conn = NULL;
	if (c == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	c->m = m;
	if ((rc = moddrv_new(&sim_ops, c, serial, out)) != HSM_OK)
		return rc;   /* moddrv_new closed (freed) c */
	if (conn != NULL)
		*conn = c;
	return HSM_OK;
}
