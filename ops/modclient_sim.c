/* SPDX-License-Identifier: BSD-2-Clause */
/* modclient_sim.c - the module driver for hsmadm-simd: modproto frames over a
 * mutually authenticated TLS 1.3 connection. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/codec.h"
#include "hsmadm/moddriver.h"
#include "hsmadm/modproto.h"
#include "hsmadm/tlsctx.h"

struct simctx {
	SSL_CTX    *sslctx;     /* the client identity, shared (ctx_get) */
	X509_STORE *pin;        /* this module's pinned CA */
	tls_conn   *conn;
	long long next_id;
	int       lost;         /* a call failed in transport: the connection is unusable */
	/* to connect again (receipts after a lost answer) */
	char     *hostport, *serial;
	int       timeout_ms;
};

/* The client TLS context (the workstation's certificate and key, no CA) is
 * shared by the connections that are open at the same time, each bringing
 * its module's pinned CA (tls_connect_pinned): building one costs more CPU
 * than a handshake (provider fetches, PEM and key decoding), and one per
 * module (each pins its own CA file) was, on a loaded machine, most of the
 * time a group command spent connecting. Kept only while some connection
 * uses it, so files changed between commands are read again. */
#define SHARED_MAX 16
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t shared_built = PTHREAD_COND_INITIALIZER;
static struct shared_ctx {
	int      used;      /* 0: free entry */
	SSL_CTX *ctx;       /* NULL while its first user builds it */
	char    *cert, *key;
	unsigned users;
} shared[SHARED_MAX];

static void
shared_clear(struct shared_ctx *e)
{
	free(e->cert);
	free(e->key);
	memset(e, 0, sizeof(*e));
}

static struct shared_ctx *
shared_find(const char *cert, const char *key)
{
	size_t i;

	for (i = 0; i < SHARED_MAX; i++)
		if (shared[i].used && strcmp(shared[i].cert, cert) == 0 &&
		    strcmp(shared[i].key, key) == 0)
			return &shared[i];
	return NULL;
}

/* A second user of the same files waits for the first one's context. */
static hsm_rc
ctx_get(const char *cert, const char *key, SSL_CTX **out)
{
	struct shared_ctx *e;
	hsm_rc rc;
	size_t i;

	*out = NULL;
	pthread_mutex_lock(&shared_lock);
	while ((e = shared_find(cert, key)) != NULL && e->ctx == NULL)
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
		e->cert = strdup(cert);
		e->key = strdup(key);
		if (e->cert != NULL && e->key != NULL)
			e->used = 1;
		else
			shared_clear(e);   /* not shared then */
		if (!e->used)
			e = NULL;
	}
	pthread_mutex_unlock(&shared_lock);

	rc = tlsctx_client_identity_new(cert, key, out);

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
	X509_STORE_free(c->pin);
	free(c->hostport);
	free(c->serial);
	free(c);
}

static hsm_rc
sim_call(struct simctx *c, const char *op, json_t *params, json_t **result)
{
	int first = (c->next_id == 1);
	char *reason = NULL;
	hsm_rc rc;

	if (c->conn == NULL)
		return hsm_fail(HSM_ERR_MODULE, "the connection to the module was lost earlier");
	rc = modproto_call(tls_conn_ssl(c->conn), &c->next_id, op, params, result, &reason);
	/* An answer, even a refusal (a blob op's not_found), proves the
	 * connection was accepted: not the certificate case below. */
	if (reason != NULL)
		first = 0;
	free(reason);
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
	if ((rc = tls_connect_pinned(c->sslctx, c->pin, c->hostport, c->serial, c->timeout_ms,
	    &conn)) != HSM_OK)
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

/* ---- several domains in one request (module-protocol.md §2.5) ---- */

/* A batch entry's "reservation" (module-protocol.md §2.7), if any. */
static void
resv_from(const json_t *rv, moddrv_resv *out)
{
	const json_t *h = json_object_get(rv, "holder");
	const char *dg = json_string_value(json_object_get(h, "digest"));

	memset(out, 0, sizeof(*out));
	if (!json_is_object(rv))
		return;
	out->state = json_is_true(json_object_get(rv, "granted")) ? 1 : -1;
	snprintf(out->digest, sizeof(out->digest), "%s", dg ? dg : "");
	out->expires_ms = (long long)json_integer_value(json_object_get(h, "expires_ms"));
}

/* The per-domain entries of a batch answer into res. */
static hsm_rc
sim_batch(struct simctx *c, const char *op, json_t *params, const unsigned *domains, size_t n,
          moddrv_result *res)
{
	json_t *result = NULL, *answers;
	size_t k;
	hsm_rc rc;

	if ((rc = sim_call(c, op, params, &result)) != HSM_OK)
		return rc;
	answers = json_object_get(result, "answers");
	if (!json_is_array(answers) || json_array_size(answers) != n) {
		json_decref(result);
		c->lost = 1;   /* out of step with the module: do not reuse */
		return hsm_fail(HSM_ERR_MODULE, "the module answered for %zu domains, not the %zu "
		    "asked", json_array_size(answers), n);
	}
	for (k = 0; k < n; k++) {
		hsm_err_clear();
		if ((res[k].rc = modproto_batch_entry(answers, k, domains[k], &res[k].out)) != HSM_OK)
			snprintf(res[k].msg, sizeof(res[k].msg), "%s", hsm_errmsg());
		else
			resv_from(json_object_get(json_array_get(answers, k), "reservation"),
			    &res[k].resv);
	}
	json_decref(result);
	return HSM_OK;
}

static json_t *
int_list(const unsigned *domains, size_t n)
{
	json_t *a = json_array();
	size_t k;

	for (k = 0; a != NULL && k < n; k++)
		if (json_array_append_new(a, json_integer((json_int_t)domains[k])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static hsm_rc
simb_query(void *vctx, const unsigned *domains, size_t n, moddrv_result *res)
{
	json_t *p = json_pack("{s:o}", "domains", int_list(domains, n));
	hsm_rc rc;

	if (p == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = sim_batch(vctx, MODPROTO_OP_QUERY, p, domains, n, res);
	json_decref(p);
	return rc;
}

/* A query reserving counters[k] of domains[k] for one command (§2.7). */
static hsm_rc
simb_query_reserve(void *vctx, const unsigned *domains, const uint64_t *counters, size_t n,
                   const char *digest, long long ballot, moddrv_result *res)
{
	json_t *cs = json_array(), *p;
	size_t k;
	hsm_rc rc;

	for (k = 0; cs != NULL && k < n; k++)
		if (json_array_append_new(cs, counters[k] == MODDRV_NO_COUNTER ? json_null() :
		    json_integer((json_int_t)counters[k])) != 0) {
			json_decref(cs);
			cs = NULL;
		}
	p = json_pack("{s:o, s:{s:s, s:I, s:o}}", "domains", int_list(domains, n), "reserve",
	    "digest", digest, "ballot", (json_int_t)ballot, "counters", cs);
	if (p == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = sim_batch(vctx, MODPROTO_OP_QUERY, p, domains, n, res);
	json_decref(p);
	return rc;
}

/* ballot > 0: claiming the reservations made with it. */
static hsm_rc
apply_batch(void *vctx, const unsigned *domains, size_t n, const admincmd *cmd,
            long long ballot, moddrv_result *res)
{
	json_t *file = NULL, *p, *r;
	size_t k;
	hsm_rc rc;

	if ((rc = admincmd_to_json(cmd, &file)) != HSM_OK)
		return rc;
	if ((p = json_pack("{s:o, s:o}", "domains", int_list(domains, n), "command", file)) == NULL ||
	    (ballot > 0 && json_object_set_new(p, "reservation",
	    json_pack("{s:I}", "ballot", (json_int_t)ballot)) != 0)) {
		json_decref(p);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	rc = sim_batch(vctx, MODPROTO_OP_APPLY, p, domains, n, res);
	json_decref(p);
	for (k = 0; rc == HSM_OK && k < n; k++) {
		if (res[k].rc != HSM_OK)
			continue;
		r = json_incref(json_object_get(res[k].out, "receipt"));
		json_decref(res[k].out);
		if ((res[k].out = r) == NULL || !json_is_object(r)) {
			res[k].rc = hsm_fail(HSM_ERR_MODULE, "the module answered without a receipt");
			snprintf(res[k].msg, sizeof(res[k].msg), "%s", hsm_errmsg());
		}
	}
	return rc;
}

/* One page for the domains still wanting more: their receipts appended to
 * res[k].out, from[k] moved past them, more[k] set when the module has
 * others. */
static hsm_rc
simb_page(struct simctx *c, const unsigned *domains, uint64_t *from, char *more, size_t n,
          moddrv_result *res)
{
	json_t *list = json_array(), *p = NULL, *r;
	unsigned *doms = calloc(n ? n : 1, sizeof(*doms));
	moddrv_result *page = calloc(n ? n : 1, sizeof(*page));
	size_t k, j = 0, i;
	hsm_rc rc = HSM_OK;

	if (list == NULL || doms == NULL || page == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (k = 0; k < n; k++)
		if (more[k] && res[k].rc == HSM_OK) {
			doms[j++] = domains[k];
			json_array_append_new(list, json_pack("{s:I, s:I}", "domain",
			    (json_int_t)domains[k], "from_counter", (json_int_t)from[k]));
		}
	p = json_pack("{s:O}", "domains", list);
	if (p == NULL || (rc = sim_batch(c, MODPROTO_OP_RECEIPTS, p, doms, j, page)) != HSM_OK)
		goto out;
	for (k = 0, j = 0; k < n; k++) {
		if (!more[k] || res[k].rc != HSM_OK)
			continue;
		more[k] = 0;
		if ((res[k].rc = page[j].rc) != HSM_OK) {
			snprintf(res[k].msg, sizeof(res[k].msg), "%s", page[j++].msg);
			continue;
		}
		json_array_foreach(json_object_get(page[j].out, "receipts"), i, r) {
			json_int_t a = json_integer_value(json_object_get(json_object_get(r, "body"),
			    "counter_after"));
			json_array_append(res[k].out, r);
			if (a > (json_int_t)from[k])
				from[k] = (uint64_t)a;
			more[k] = 1;   /* something came: ask again if the module has more */
		}
		more[k] &= json_is_true(json_object_get(page[j].out, "more"));
		j++;   /* not inside json_is_true: a macro that reads its argument twice */
	}
out:
	moddrv_results_clear(page, n);
	free(page);
	free(doms);
	json_decref(list);
	json_decref(p);
	return rc;
}

static hsm_rc
simb_receipts(void *vctx, const unsigned *domains, const uint64_t *from0, size_t n,
              moddrv_result *res)
{
	struct simctx *c = vctx;
	uint64_t *from = calloc(n ? n : 1, sizeof(*from));
	char *more = calloc(n ? n : 1, 1);
	size_t k, left = n;
	int round;
	hsm_rc rc = HSM_OK;

	if (from == NULL || more == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((c->lost || c->conn == NULL) && (rc = sim_reconnect(c)) != HSM_OK)
		goto out;
	for (k = 0; k < n; k++) {
		from[k] = from0[k];
		more[k] = 1;
		if ((res[k].out = json_array()) == NULL) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	/* An answer holds at most a page; "more" asks for the next one. */
	for (round = 0; round < 64 && left > 0 && rc == HSM_OK; round++) {
		rc = simb_page(c, domains, from, more, n, res);
		for (k = 0, left = 0; k < n; k++)
			left += more[k] && res[k].rc == HSM_OK;
	}
out:
	free(from);
	free(more);
	return rc;
}

/* One page from each counter_before: its first receipt, if it is the one
 * for that counter, with the command the module kept beside it. */
static hsm_rc
simb_applied(void *vctx, const unsigned *domains, const uint64_t *cb, size_t n,
             moddrv_result *res)
{
	struct simctx *c = vctx;
	json_t *list = json_array(), *p = NULL, *r, *cmd;
	size_t k;
	hsm_rc rc;

	if (list == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((c->lost || c->conn == NULL) && (rc = sim_reconnect(c)) != HSM_OK)
		goto out;
	for (k = 0; k < n; k++)
		json_array_append_new(list, json_pack("{s:I, s:I}", "domain", (json_int_t)domains[k],
		    "from_counter", (json_int_t)cb[k]));
	if ((p = json_pack("{s:O}", "domains", list)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sim_batch(c, MODPROTO_OP_RECEIPTS, p, domains, n, res)) != HSM_OK)
		goto out;
	for (k = 0; k < n; k++) {
		json_t *page = res[k].out;
		if (res[k].rc != HSM_OK)
			continue;
		r = json_array_get(json_object_get(page, "receipts"), 0);
		cmd = json_array_get(json_object_get(page, "commands"), 0);
		if (!json_is_object(r) || !json_is_object(cmd) ||
		    json_integer_value(json_object_get(json_object_get(r, "body"), "counter_before")) !=
		    (json_int_t)cb[k]) {
			res[k].rc = hsm_fail(HSM_ERR_NOT_FOUND, "the module keeps no command for "
			    "counter %llu", (unsigned long long)cb[k]);
			snprintf(res[k].msg, sizeof(res[k].msg), "%s", hsm_errmsg());
			res[k].out = NULL;
		} else
			res[k].out = json_pack("{s:O, s:O}", "receipt", r, "command", cmd);
		json_decref(page);
	}
out:
	json_decref(list);
	json_decref(p);
	return rc;
}

static hsm_rc
simb_apply(void *vctx, const unsigned *domains, size_t n, const admincmd *cmd,
           moddrv_result *res)
{
	return apply_batch(vctx, domains, n, cmd, 0, res);
}

static const struct moddrv_ops sim_ops = {
	sim_info, sim_query, sim_apply, sim_close, sim_receipts,
};

static const struct moddrv_batch_ops sim_batch_ops = {
	simb_query, simb_apply, simb_receipts, simb_applied, simb_query_reserve, apply_batch,
};

/* ---- key blobs (module-protocol.md §2.6) ------------------------------------ */

static hsm_rc
mkvp_from(const json_t *res, uint8_t mkvp[HSM_VP_LEN])
{
	const char *s = json_string_value(json_object_get(res, "mkvp"));

	if (s == NULL || hex_decode_into(s, mkvp, HSM_VP_LEN) != HSM_OK)
		return hsm_fail(HSM_ERR_MODULE, "the module's answer has no valid \"mkvp\"");
	return HSM_OK;
}

static hsm_rc
simblob_generate(void *vctx, unsigned domain, const char *usage, const char *label,
                 size_t count, uint8_t *out, uint8_t mkvp[HSM_VP_LEN])
{
	json_t *p, *res = NULL, *b;
	size_t n = 0;
	hsm_rc rc;

	p = json_pack("{s:I, s:s, s:I}", "domain", (json_int_t)domain, "usage",
	              usage ? usage : "all", "count", (json_int_t)count);
	if (p == NULL || (label != NULL && json_object_set_new(p, "label", json_string(label)) != 0)) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sim_call(vctx, "blob.generate", p, &res)) != HSM_OK ||
	    (rc = mkvp_from(res, mkvp)) != HSM_OK)
		goto out;
	b = json_object_get(res, "blobs");
	if (!json_is_string(b) ||
	    blob_b64_decode(json_string_value(b), json_string_length(b), count, out, &n) != HSM_OK ||
	    n != count)
		rc = hsm_fail(HSM_ERR_MODULE, "the module answered blob.generate with %zu blobs, not %zu",
		              n, count);
out:
	json_decref(p);
	json_decref(res);
	return rc;
}

static hsm_rc
simblob_crypt(void *vctx, unsigned domain, int enc, const uint8_t blob[BLOB_LEN],
              const uint8_t *in, size_t n, uint8_t **out, size_t *outlen)
{
	char b64[BLOB_B64_LEN + 1], *data = NULL;
	json_t *p = NULL, *res = NULL;
	const char *s;
	hsm_rc rc;

	*out = NULL;
	*outlen = 0;
	blob_b64_encode(blob, 1, b64);
	if ((rc = b64_encode(in, n, &data)) != HSM_OK)
		return rc;
	if ((p = json_pack("{s:I, s:s, s:s}", "domain", (json_int_t)domain, "blob", b64,
	                   "data", data)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sim_call(vctx, enc ? "blob.encrypt" : "blob.decrypt", p, &res)) != HSM_OK)
		goto out;
	if ((s = json_string_value(json_object_get(res, "data"))) == NULL ||
	    b64_decode(s, out, outlen) != HSM_OK)
		rc = hsm_fail(HSM_ERR_MODULE, "the module's answer has no valid \"data\"");
out:
	free(data);
	json_decref(p);
	json_decref(res);
	return rc;
}

static hsm_rc
fails_from(const json_t *arr, size_t n, moddrv_blob_fail *fails, size_t *nfail)
{
	size_t i;

	*nfail = json_array_size(arr);
	if (!json_is_array(arr) || *nfail > n)
		return hsm_fail(HSM_ERR_MODULE, "the module's list of failed blobs is not valid");
	for (i = 0; i < *nfail; i++) {
		const json_t *f = json_array_get(arr, i);
		json_int_t at = json_integer_value(json_object_get(f, "index"));
		const char *why = json_string_value(json_object_get(f, "reason"));
		const char *pfx = json_string_value(json_object_get(f, "prefix"));
		if (!json_is_integer(json_object_get(f, "index")) || at < 0 || (size_t)at >= n ||
		    (i > 0 && (size_t)at <= fails[i - 1].index) || why == NULL || pfx == NULL)
			return hsm_fail(HSM_ERR_MODULE, "the module's list of failed blobs is not valid");
		fails[i].index = (size_t)at;
		snprintf(fails[i].reason, sizeof(fails[i].reason), "%s", why);
		snprintf(fails[i].prefix, sizeof(fails[i].prefix), "%s", pfx);
	}
	return HSM_OK;
}

static hsm_rc
simblob_reencipher(void *vctx, unsigned domain, const char *to, const uint8_t *in, size_t n,
                   uint8_t *out, size_t *nok, moddrv_blob_fail *fails, size_t *nfail,
                   uint8_t mkvp[HSM_VP_LEN])
{
	json_t *p = NULL, *res = NULL, *b;
	char *text = NULL;
	hsm_rc rc;

	*nok = *nfail = 0;
	if ((text = malloc(n * BLOB_B64_LEN + 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	blob_b64_encode(in, n, text);
	/* One string for the batch, not one per blob; it is plain base64, so
	 * the UTF-8 check is skipped. */
	if ((p = json_pack("{s:I, s:s, s:o}", "domain", (json_int_t)domain, "to", to, "blobs",
	                   json_stringn_nocheck(text, n * BLOB_B64_LEN))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	free(text);
	text = NULL;
	if ((rc = sim_call(vctx, "blob.reencipher", p, &res)) != HSM_OK ||
	    (rc = mkvp_from(res, mkvp)) != HSM_OK ||
	    (rc = fails_from(json_object_get(res, "failed"), n, fails, nfail)) != HSM_OK)
		goto out;
	b = json_object_get(res, "blobs");
	if (*nfail == n && json_is_string(b) && json_string_length(b) == 0)
		goto out;
	if (!json_is_string(b) ||
	    blob_b64_decode(json_string_value(b), json_string_length(b), n, out, nok) != HSM_OK ||
	    *nok + *nfail != n)
		rc = hsm_fail(HSM_ERR_MODULE, "the module answered blob.reencipher with a bad blob list");
out:
	free(text);
	json_decref(p);
	json_decref(res);
	return rc;
}

static const struct moddrv_blob_ops sim_blob_ops = {
	simblob_generate, simblob_crypt, simblob_reencipher,
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
	if ((rc = tlsctx_pin_load(pinned_ca_pem, &c->pin)) != HSM_OK ||
	    (rc = ctx_get(client_cert_pem, client_key_pem, &c->sslctx)) != HSM_OK)
		goto out;
	if ((rc = tls_connect_pinned(c->sslctx, c->pin, hostport, expect_serial, timeout_ms,
	    &c->conn)) != HSM_OK) {
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
	if (rc == HSM_OK) {
		moddrv_set_batch(*out, &sim_batch_ops);
		moddrv_set_blob(*out, &sim_blob_ops);
	}
out:
	json_decref(info);
	sim_close(c);
	return rc;
}
