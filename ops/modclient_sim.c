/* SPDX-License-Identifier: BSD-2-Clause */
/* modclient_sim.c - the module driver for hsmadm-simd: modproto frames over a
 * mutually authenticated TLS 1.3 connection. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/moddriver.h"
#include "hsmadm/modproto.h"
#include "hsmadm/tlsctx.h"

struct simctx {
	SSL_CTX  *sslctx;
	tls_conn *conn;
	long long next_id;
	int       lost;         /* a call failed in transport: the connection is unusable */
	/* to connect again (receipts after a lost answer) */
	char     *hostport, *serial;
	int       timeout_ms;
};

/* The client TLS context is shared by the connections that are open at the
 * same time with the same CA, certificate and key (a group opens one per
 * member at once): building one costs more CPU than a handshake (provider
 * fetches, PEM and key decoding), and 16 of them on a loaded machine were
 * most of the time a group command spent connecting. Kept only while some
 * connection uses it, so files changed between commands are read again. */
#define SHARED_MAX 16
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t shared_built = PTHREAD_COND_INITIALIZER;
static struct shared_ctx {
	int      used;      /* 0: free entry */
	SSL_CTX *ctx;       /* NULL while its first user builds it */
	char    *ca, *cert, *key;
	unsigned users;
} shared[SHARED_MAX];

static void
shared_clear(struct shared_ctx *e)
{
	free(e->ca);
	free(e->cert);
	free(e->key);
	memset(e, 0, sizeof(*e));
}

static struct shared_ctx *
shared_find(const char *ca, const char *cert, const char *key)
{
	size_t i;

	for (i = 0; i < SHARED_MAX; i++)
		if (shared[i].used && strcmp(shared[i].ca, ca) == 0 &&
		    strcmp(shared[i].cert, cert) == 0 && strcmp(shared[i].key, key) == 0)
			return &shared[i];
	return NULL;
}

/* Contexts for different files are built at the same time (one per module
 * CA); a second user of the same files waits for the first one's. */
static hsm_rc
ctx_get(const char *ca, const char *cert, const char *key, SSL_CTX **out)
{
	struct shared_ctx *e;
	hsm_rc rc;
	size_t i;

	*out = NULL;
	pthread_mutex_lock(&shared_lock);
	while ((e = shared_find(ca, cert, key)) != NULL && e->ctx == NULL)
		pthread_cond_wait(&shared_built, &shared_lock);
	if (e != NULL && SSL_CTX_up_ref(e->ctx) == 1) {
		e->users++;
		*out = e->ctx;
		pthread_mutex_unlock(&shared_lock);
		return HSM_OK;
	}
	/* Reserve an entry, so that others with the same files wait for it. */
	for (i = 0, e = NULL; i < SHARED_MAX && e == NULL; i++)
		if (!shared[i].used)
			e = &shared[i];
	if (e != NULL) {
		e->ca = strdup(ca);
		e->cert = strdup(cert);
		e->key = strdup(key);
		if (e->ca != NULL && e->cert != NULL && e->key != NULL)
			e->used = 1;
		else
			shared_clear(e);   /* not shared then */
		if (!e->used)
			e = NULL;
	}
	pthread_mutex_unlock(&shared_lock);

	rc = tlsctx_client_new(ca, cert, key, out);

	pthread_mutex_lock(&shared_lock);
	if (e != NULL) {
		if (rc == HSM_OK && SSL_CTX_up_ref(*out) == 1) {
			e->ctx = *out;   /* the cache's reference */
			e->users = 1;
		} else
			shared_clear(e);   /* waiters build their own */
		pthread_cond_broadcast(&shared_built);
	}
	pthread_mutex_unlock(&shared_lock);
	return rc;
}

static void
ctx_put(SSL_CTX **ctx)
{
	size_t i;

	if (ctx == NULL || *ctx == NULL)
		return;
	pthread_mutex_lock(&shared_lock);
	for (i = 0; i < SHARED_MAX; i++) {
		if (shared[i].used && shared[i].ctx == *ctx) {
			if (--shared[i].users == 0) {
				SSL_CTX_free(shared[i].ctx);   /* the cache's reference */
				shared_clear(&shared[i]);
			}
			break;
		}
	}
	pthread_mutex_unlock(&shared_lock);
	tlsctx_free(ctx);
}

static void
sim_close(void *vctx)
{
	struct simctx *c = vctx;

	if (c == NULL)
		return;
	tls_conn_free(&c->conn);
	ctx_put(&c->sslctx);
	free(c->hostport);
	free(c->serial);
	free(c);
}

static hsm_rc
sim_call(struct simctx *c, const char *op, json_t *params, json_t **result)
{
	int first = (c->next_id == 1);
	hsm_rc rc;

	if (c->conn == NULL)
		return hsm_fail(HSM_ERR_MODULE, "the connection to the module was lost earlier");
	rc = modproto_call(tls_conn_ssl(c->conn), &c->next_id, op, params, result, NULL);
	if (rc == HSM_ERR_MODULE || rc == HSM_ERR_TLS || rc == HSM_ERR_IO ||
	    rc == HSM_ERR_TIMEOUT)
		c->lost = 1;
	/* TLS 1.3 finishes the client's side of the handshake before the
	 * module has checked the client certificate: a refusal shows up as a
	 * connection lost on the first request. */
	if (first && (rc == HSM_ERR_MODULE || rc == HSM_ERR_TLS || rc == HSM_ERR_NOT_FOUND))
		return hsm_fail_wrap(HSM_ERR_TLS, "the module closed the connection at the first "
		    "request; it probably does not trust this workstation's client certificate "
		    "(see: hsmadm-domain client set)");
	return rc;
}

static hsm_rc
sim_info(void *vctx, json_t **out)
{
	return sim_call(vctx, MODPROTO_OP_INFO, NULL, out);
}

static hsm_rc
sim_query(void *vctx, unsigned domain, json_t **out)
{
	json_t *p = json_pack("{s:I}", "domain", (json_int_t)domain);
	hsm_rc rc;

	if (p == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = sim_call(vctx, MODPROTO_OP_QUERY, p, out);
	json_decref(p);
	return rc;
}

static hsm_rc
sim_apply(void *vctx, unsigned domain, const admincmd *cmd, json_t **receipt)
{
	json_t *file = NULL, *p = NULL, *res = NULL, *r;
	hsm_rc rc;

	*receipt = NULL;
	if ((rc = admincmd_to_json(cmd, &file)) != HSM_OK)
		return rc;
	p = json_pack("{s:I, s:o}", "domain", (json_int_t)domain, "command", file);
	if (p == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sim_call(vctx, MODPROTO_OP_APPLY, p, &res)) != HSM_OK)
		goto out;
	if ((r = json_object_get(res, "receipt")) == NULL || !json_is_object(r)) {
		rc = hsm_fail(HSM_ERR_MODULE, "the module answered without a receipt");
		goto out;
	}
	*receipt = json_incref(r);
	rc = HSM_OK;
out:
	json_decref(res);
	json_decref(p);
	return rc;
}

/* A fresh connection to the same module (same pinned CA, serial, client
 * certificate), replacing one whose answer was lost. */
static hsm_rc
sim_reconnect(struct simctx *c)
{
	tls_conn *conn = NULL;
	hsm_rc rc;

	if (c->hostport == NULL || c->serial == NULL)
		return hsm_fail(HSM_ERR_MODULE, "the connection to the module was lost");
	if ((rc = tls_connect(c->sslctx, c->hostport, c->serial, c->timeout_ms, &conn)) != HSM_OK)
		return hsm_fail_wrap(rc, "module at %s (connecting again)", c->hostport);
	tls_conn_free(&c->conn);
	c->conn = conn;
	c->next_id = 2;   /* not the first request: a refusal now is not a trust problem */
	c->lost = 0;
	return HSM_OK;
}

static hsm_rc
sim_receipts(void *vctx, unsigned domain, uint64_t from, json_t **out)
{
	struct simctx *c = vctx;
	json_t *all = json_array(), *p = NULL, *res = NULL, *arr, *r;
	size_t i;
	int round;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	if (all == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((c->lost || c->conn == NULL) && (rc = sim_reconnect(c)) != HSM_OK)
		goto out;
	/* An answer holds at most a page; "more" asks for the next one. */
	for (round = 0; round < 64; round++) {
		int more;
		p = json_pack("{s:I, s:I}", "domain", (json_int_t)domain, "from_counter",
		              (json_int_t)from);
		if (p == NULL) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = sim_call(c, MODPROTO_OP_RECEIPTS, p, &res)) != HSM_OK)
			goto out;
		arr = json_object_get(res, "receipts");
		if (!json_is_array(arr)) {
			rc = hsm_fail(HSM_ERR_MODULE, "the module answered domain.receipts without receipts");
			goto out;
		}
		more = json_is_true(json_object_get(res, "more"));
		json_array_foreach(arr, i, r) {
			json_int_t after = json_integer_value(json_object_get(json_object_get(r, "body"),
			                                      "counter_after"));
			json_array_append(all, r);
			if (after > (json_int_t)from)
				from = (uint64_t)after;
		}
		json_decref(p);
		json_decref(res);
		p = res = NULL;
		if (!more || json_array_size(arr) == 0)
			break;
	}
	*out = all;
	all = NULL;
out:
	json_decref(p);
	json_decref(res);
	json_decref(all);
	return rc;
}

static const struct moddrv_ops sim_ops = {
	sim_info, sim_query, sim_apply, sim_close, sim_receipts,
};

hsm_rc
modclient_sim_open(const char *hostport, const char *expect_serial,
                   const char *pinned_ca_pem, const char *client_cert_pem,
                   const char *client_key_pem, int timeout_ms, moddrv **out)
{
	struct simctx *c = NULL;
	json_t *info = NULL;
	const char *serial = expect_serial;
	hsm_rc rc;

	if (out)
		*out = NULL;
	if (hostport == NULL || pinned_ca_pem == NULL || client_cert_pem == NULL ||
	    client_key_pem == NULL || out == NULL)
		return hsm_fail(HSM_ERR_USAGE, "modclient_sim_open: bad arguments");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	c->next_id = 1;
	if ((rc = ctx_get(pinned_ca_pem, client_cert_pem, client_key_pem, &c->sslctx)) != HSM_OK)
		goto out;
	if ((rc = tls_connect(c->sslctx, hostport, expect_serial, timeout_ms, &c->conn)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "module at %s", hostport);
		goto out;
	}
	if (serial == NULL) {
		/* First contact: the chain is checked; learn the serial. */
		if ((rc = sim_call(c, MODPROTO_OP_HELLO, NULL, &info)) != HSM_OK)
			goto out;
		serial = json_string_value(json_object_get(info, "module"));
		if (serial == NULL) {
			rc = hsm_fail(HSM_ERR_MODULE, "module at %s did not say its serial",
			    hostport);
			goto out;
		}
		if ((rc = tlsctx_check_serial(SSL_get0_peer_certificate(tls_conn_ssl(c->conn)),
		    serial)) != HSM_OK) {
			rc = hsm_fail_wrap(rc, "module at %s", hostport);
			goto out;
		}
	}
	c->hostport = strdup(hostport);
	c->serial = strdup(serial);
	c->timeout_ms = timeout_ms;
	rc = moddrv_new(&sim_ops, c, serial, out);
	c = NULL;   /* owned by the driver, or closed by moddrv_new */
out:
	json_decref(info);
	sim_close(c);
	return rc;
}
