/* SPDX-License-Identifier: BSD-2-Clause */
/* module_client.c - a small workstation-side client for the module
 * integration tests: connects with tlsctx (pinned CA, client certificate,
 * expected serial) and sends one request, a raw byte file, or an unsigned
 * imprint-mode admin.add. Exit code = hsm_exit_code of the failure.
 *
 *   module_client --ca CA --cert C --key K --addr H:P [--serial S] --op OP [--params JSON]
 *   module_client ... --raw FILE          (write FILE after the handshake,
 *                                          print every answer frame until close)
 *   module_client ... --imprint-add DOMAIN (new random admin key, unsigned admin.add)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/modproto.h"
#include "hsmadm/tlsctx.h"

static int
fail(hsm_rc rc)
{
	fprintf(stderr, "module_client: %s\n", hsm_errmsg());
	return hsm_exit_code(rc);
}

static void
print(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

static hsm_rc
raw(SSL *ssl, const char *file)
{
	FILE *f = fopen(file, "rb");
	char buf[65536];
	size_t n;
	hsm_rc rc = HSM_OK;

	if (f == NULL)
		return hsm_fail(HSM_ERR_IO, "cannot open %s", file);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		size_t w = 0;
		if (SSL_write_ex(ssl, buf, n, &w) != 1 || w != n) {
			/* The module may close on us mid-way: that is an allowed answer. */
			break;
		}
	}
	fclose(f);
	/* close_notify: the module answers what it read, then sees the end. */
	(void)SSL_shutdown(ssl);
	for (;;) {
		json_t *m = NULL;
		rc = modproto_recv(ssl, &m);
		if (rc != HSM_OK)
			break;
		print(m);
		json_decref(m);
	}
	/* A close or a timeout after the answers is the end of the exchange. */
	if (rc == HSM_ERR_NOT_FOUND || rc == HSM_ERR_TIMEOUT || rc == HSM_ERR_MODULE ||
	    rc == HSM_ERR_TLS)
		rc = HSM_OK;
	return rc;
}

static hsm_rc
imprint_add(SSL *ssl, long long *id, const char *serial, unsigned domain)
{
	json_t *res = NULL, *params = NULL, *cmdj = NULL, *q = NULL;
	EVP_PKEY *k = NULL;
	uint8_t *pt = NULL;
	size_t ptlen;
	char *hex = NULL, ident[40];
	admincmd *c = NULL;
	admincmd_target t;
	int64_t now = (int64_t)time(NULL);
	hsm_rc rc;

	q = json_pack("{s:i}", "domain", (int)domain);
	if ((rc = modproto_call(ssl, id, MODPROTO_OP_QUERY, q, &res, NULL)) != HSM_OK)
		goto out;
	t.module = serial;
	t.domain = domain;
	t.counter = (uint64_t)json_integer_value(json_object_get(res, "counter"));
	json_decref(res);
	res = NULL;
	if ((rc = crypto_ec_generate(HSM_CURVE_P384, &k)) != HSM_OK ||
	    (rc = crypto_ec_point(k, &pt, &ptlen)) != HSM_OK ||
	    (rc = hex_encode(pt, ptlen, &hex)) != HSM_OK)
		goto out;
	snprintf(ident, sizeof(ident), "%.32s", hex + 2);   /* 32 hex digits of X */
	params = json_pack("{s:s, s:s, s:s}", "pubkey", hex, "name", "Test Admin", "identity", ident);
	if ((rc = admincmd_new("admin.add", params, &t, 1, now - 60, now + 600, &c)) != HSM_OK ||
	    (rc = admincmd_to_json(c, &cmdj)) != HSM_OK)
		goto out;
	json_decref(q);
	q = json_pack("{s:i, s:O}", "domain", (int)domain, "command", cmdj);
	if ((rc = modproto_call(ssl, id, MODPROTO_OP_APPLY, q, &res, NULL)) != HSM_OK)
		goto out;
	print(res);
out:
	json_decref(res);
	json_decref(params);
	json_decref(cmdj);
	json_decref(q);
	admincmd_free(&c);
	EVP_PKEY_free(k);
	free(pt);
	free(hex);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'a' }, { "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' }, { "addr", required_argument, NULL, 'A' },
		{ "serial", required_argument, NULL, 's' }, { "op", required_argument, NULL, 'o' },
		{ "params", required_argument, NULL, 'p' }, { "raw", required_argument, NULL, 'r' },
		{ "imprint-add", required_argument, NULL, 'i' }, { NULL, 0, NULL, 0 } };
	const char *ca = NULL, *cert = NULL, *key = NULL, *addr = NULL, *serial = NULL;
	const char *op = NULL, *params = NULL, *rawf = NULL;
	long add_domain = -1;
	SSL_CTX *ctx = NULL;
	tls_conn *c = NULL;
	json_t *pj = NULL, *res = NULL;
	long long id = 1;
	char *reason = NULL;
	hsm_rc rc;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'A': addr = optarg; break;
		case 's': serial = optarg; break;
		case 'o': op = optarg; break;
		case 'p': params = optarg; break;
		case 'r': rawf = optarg; break;
		case 'i': add_domain = atol(optarg); break;
		default: return 2;
		}
	}
	if (ca == NULL || cert == NULL || key == NULL || addr == NULL ||
	    (op == NULL && rawf == NULL && add_domain < 0)) {
		fprintf(stderr, "module_client: missing options\n");
		return 2;
	}
	if ((rc = tlsctx_client_new(ca, cert, key, &ctx)) != HSM_OK)
		return fail(rc);
	if ((rc = tls_connect(ctx, addr, serial, 5000, &c)) != HSM_OK)
		goto out;
	if (rawf != NULL) {
		rc = raw(tls_conn_ssl(c), rawf);
		goto out;
	}
	if (add_domain >= 0) {
		rc = imprint_add(tls_conn_ssl(c), &id, serial ? serial : "", (unsigned)add_domain);
		goto out;
	}
	if (params != NULL && (pj = json_loads(params, 0, NULL)) == NULL) {
		rc = hsm_fail(HSM_ERR_USAGE, "--params is not JSON");
		goto out;
	}
	rc = modproto_call(tls_conn_ssl(c), &id, op, pj, &res, &reason);
	if (rc == HSM_OK)
		print(res);
	else if (reason != NULL)
		printf("reason=%s\n", reason);
out:
	if (rc != HSM_OK)
		fprintf(stderr, "module_client: %s\n", hsm_errmsg());
	free(reason);
	json_decref(pj);
	json_decref(res);
	tls_conn_free(&c);
	tlsctx_free(&ctx);
	return hsm_exit_code(rc);
}
