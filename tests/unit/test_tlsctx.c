/* SPDX-License-Identifier: BSD-2-Clause */
/* test_tlsctx.c - mutual TLS 1.3 between a workstation and a module
 * (tlsctx.h), with certificates issued by x509util: a real handshake over a
 * socketpair and over loopback TCP; the module serial is checked; a client
 * from another CA, a client without a certificate, a TLS 1.2 client and a
 * module from an unpinned CA are all refused; one client identity serves
 * modules pinned to different CAs, each connection trusting its own pin
 * only; key and certificate files
 * that do not belong together are refused when the context is made. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/crypto.h"
#include "hsmadm/tlsctx.h"
#include "hsmadm/x509util.h"
#include "test_tmpdir.h"

#define SERIAL "DC1-M01"

struct pki {
	char *dir;
	char  mod_ca[600], srv_cert[600], srv_key[600];
	char  cli_ca[600], cli_cert[600], cli_key[600];
	char  rogue_ca[600], rogue_cert[600], rogue_key[600];   /* another CA's client */
};

static void
path(char *buf, const struct pki *p, const char *name)
{
	snprintf(buf, 600, "%s/%s", p->dir, name);
}

/* A CA (its certificate saved to ca_path) and one leaf it issued. */
static void
issue_pair(x509u_kind ca_kind, const char *ca_path, x509u_kind kind, const char *cn,
           const char *serial, const char *cert_path, const char *key_path)
{
	EVP_PKEY *ck = NULL, *lk = NULL;
	X509 *ca = NULL, *leaf = NULL;

	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &ck), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &lk), HSM_OK);
	assert_int_equal(x509u_issue(ca_kind, "test CA", NULL, ck, NULL, ck, 30, &ca), HSM_OK);
	assert_int_equal(x509u_issue(kind, cn, serial, lk, ca, ck, 30, &leaf), HSM_OK);
	assert_int_equal(x509u_save_pem(ca_path, ca), HSM_OK);
	assert_int_equal(x509u_save_pem(cert_path, leaf), HSM_OK);
	assert_int_equal(crypto_priv_save_pem(key_path, lk), HSM_OK);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(lk);
}

static int
setup(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->dir = make_tmpdir_named("tlsctx");
	path(p->mod_ca, p, "module-ca.pem");
	path(p->srv_cert, p, "tls.pem");
	path(p->srv_key, p, "tls.key");
	path(p->cli_ca, p, "client-ca.pem");
	path(p->cli_cert, p, "ws.pem");
	path(p->cli_key, p, "ws.key");
	path(p->rogue_ca, p, "rogue-ca.pem");
	path(p->rogue_cert, p, "rogue.pem");
	path(p->rogue_key, p, "rogue.key");
	issue_pair(X509U_MODULE_CA, p->mod_ca, X509U_TLS_SERVER, SERIAL, SERIAL, p->srv_cert,
	           p->srv_key);
	issue_pair(X509U_CLIENT_CA, p->cli_ca, X509U_CLIENT, "ws1", NULL, p->cli_cert, p->cli_key);
	issue_pair(X509U_CLIENT_CA, p->rogue_ca, X509U_CLIENT, "ws1", NULL, p->rogue_cert,
	           p->rogue_key);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pki *p = *state;

	rm_tmpdir(p->dir);
	free(p);
	return 0;
}

/* ---- the module side, in a thread ---- */

struct srv {
	SSL_CTX  *ctx;
	int       fd;        /* accepted socket, or -1 with lfd */
	int       lfd;       /* listening socket (TCP tests) */
	hsm_rc    rc;        /* tls_accept's */
	char      peer[128]; /* the client's name, as the module sees it */
	char      got[8];    /* what the client sent */
	pthread_t th;
};

static void *
serve(void *arg)
{
	struct srv *s = arg;
	tls_conn *c = NULL;
	struct pollfd pfd;

	if (s->fd < 0) {
		pfd.fd = s->lfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 10000) != 1 || (s->fd = accept(s->lfd, NULL, NULL)) < 0) {
			s->rc = HSM_ERR_TIMEOUT;
			return NULL;
		}
	}
	s->rc = tls_accept(s->ctx, s->fd, 5000, &c);
	if (s->rc == HSM_OK) {
		SSL *ssl = tls_conn_ssl(c);

		(void)tls_conn_peer_name(c, s->peer, sizeof(s->peer));
		if (SSL_read(ssl, s->got, 4) == 4)
			(void)SSL_write(ssl, "pong", 4);
	}
	tls_conn_free(&c);   /* closes the socket */
	return NULL;
}

static void
server_start(struct srv *s, const struct pki *p, int fd, int lfd)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(tlsctx_server_new(p->srv_cert, p->srv_key, p->cli_ca, &s->ctx), HSM_OK);
	s->fd = fd;
	s->lfd = lfd;
	s->rc = HSM_ERR_INTERNAL;
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void
server_join(struct srv *s)
{
	assert_int_equal(pthread_join(s->th, NULL), 0);
	tlsctx_free(&s->ctx);
	assert_null(s->ctx);
}

/* A raw client on fd: handshake, then ping; 1 if "pong" came back. */
static int
ping(SSL_CTX *cctx, int fd, int *handshake_ok, X509 **peer)
{
	SSL *ssl = SSL_new(cctx);
	char buf[4];
	int ok = 0;

	assert_non_null(ssl);
	assert_int_equal(SSL_set_fd(ssl, fd), 1);
	*handshake_ok = SSL_connect(ssl) == 1;
	if (*handshake_ok) {
		assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
		if (peer != NULL)
			*peer = SSL_get1_peer_certificate(ssl);
		ok = SSL_write(ssl, "ping", 4) == 4 && SSL_read(ssl, buf, 4) == 4 &&
		     memcmp(buf, "pong", 4) == 0;
	}
	SSL_free(ssl);
	close(fd);
	return ok;
}

static void
test_socketpair_handshake(void **state)
{
	struct pki *p = *state;
	SSL_CTX *cctx = NULL;
	struct srv s;
	X509 *peer = NULL;
	int sv[2], hs = 0;

	assert_int_equal(tlsctx_client_new(p->mod_ca, p->cli_cert, p->cli_key, &cctx), HSM_OK);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	server_start(&s, p, sv[0], -1);
	assert_int_equal(ping(cctx, sv[1], &hs, &peer), 1);
	server_join(&s);
	assert_int_equal(s.rc, HSM_OK);
	assert_memory_equal(s.got, "ping", 4);
	assert_non_null(strstr(s.peer, "ws1"));
	/* what the workstation checks after the chain: the module serial */
	assert_non_null(peer);
	assert_int_equal(tlsctx_check_serial(peer, SERIAL), HSM_OK);
	assert_int_equal(tlsctx_check_serial(peer, "DC2-M01"), HSM_ERR_TRUST);
	X509_free(peer);
	tlsctx_free(&cctx);
}

/* Clients the module must refuse: another CA's certificate, no certificate,
 * TLS 1.2. */
static void
test_module_refuses(void **state)
{
	struct pki *p = *state;
	SSL_CTX *cctx = NULL;
	struct srv s;
	int sv[2], hs = 0, i;

	for (i = 0; i < 3; i++) {
		if (i == 0) {
			assert_int_equal(tlsctx_client_new(p->mod_ca, p->rogue_cert, p->rogue_key,
			                                   &cctx), HSM_OK);
		} else {
			cctx = SSL_CTX_new(TLS_client_method());
			assert_non_null(cctx);
			SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
			if (i == 2)
				assert_int_equal(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION), 1);
		}
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		server_start(&s, p, sv[0], -1);
		assert_int_equal(ping(cctx, sv[1], &hs, NULL), 0);
		server_join(&s);
		assert_int_not_equal(s.rc, HSM_OK);
		assert_int_equal(s.peer[0], '\0');
		if (i == 2)
			assert_int_equal(hs, 0);   /* no TLS 1.2 handshake at all */
		SSL_CTX_free(cctx);
		cctx = NULL;
	}
}

/* A listening loopback socket; its port into *port. */
static int
listen_loopback(int *port)
{
	struct sockaddr_in a;
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* tls_connect_pinned over TCP with cctx and pin (NULL: the context's). */
static hsm_rc
connect_with(const struct pki *p, SSL_CTX *cctx, X509_STORE *pin, const char *serial)
{
	tls_conn *c = NULL;
	struct srv s;
	char hp[64];
	int port, lfd = listen_loopback(&port);
	hsm_rc rc;

	server_start(&s, p, -1, lfd);
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
	rc = tls_connect_pinned(cctx, pin, hp, serial, 5000, &c);
	if (rc == HSM_OK) {
		char buf[4];

		assert_int_equal(SSL_write(tls_conn_ssl(c), "ping", 4), 4);
		assert_int_equal(SSL_read(tls_conn_ssl(c), buf, 4), 4);
		assert_memory_equal(buf, "pong", 4);
		assert_true(tls_conn_fd(c) >= 0);
	}
	tls_conn_free(&c);
	assert_null(c);
	server_join(&s);
	close(lfd);
	return rc;
}

/* tls_connect over TCP: expect_serial decides; the pinned CA decides. */
static hsm_rc
connect_once(const struct pki *p, const char *pinned, const char *serial)
{
	SSL_CTX *cctx = NULL;
	hsm_rc rc;

	assert_int_equal(tlsctx_client_new(pinned, p->cli_cert, p->cli_key, &cctx), HSM_OK);
	rc = connect_with(p, cctx, NULL, serial);
	tlsctx_free(&cctx);
	return rc;
}

static void
test_tcp_connect(void **state)
{
	struct pki *p = *state;

	assert_int_equal(connect_once(p, p->mod_ca, SERIAL), HSM_OK);
	assert_int_equal(connect_once(p, p->mod_ca, NULL), HSM_OK);   /* chain only */
	assert_int_equal(connect_once(p, p->mod_ca, "DC2-M01"), HSM_ERR_TRUST);
	assert_non_null(strstr(hsm_errmsg(), "DC2-M01"));
	/* a module whose CA is not the pinned one */
	assert_int_equal(connect_once(p, p->rogue_ca, SERIAL), HSM_ERR_TRUST);
}

/* One client identity for modules pinned to different CAs: each connection
 * trusts its own pin only, and one without a pin trusts nothing. */
static void
test_identity_and_pins(void **state)
{
	struct pki *p = *state;
	SSL_CTX *cctx = NULL, *sctx = NULL;
	X509_STORE *good = NULL, *other = NULL, *none = NULL;
	char missing[600], empty[600];
	FILE *f;

	assert_int_equal(tlsctx_client_identity_new(p->cli_cert, p->cli_key, &cctx), HSM_OK);
	assert_int_equal(tlsctx_pin_load(p->mod_ca, &good), HSM_OK);
	assert_int_equal(tlsctx_pin_load(p->rogue_ca, &other), HSM_OK);
	assert_int_equal(connect_with(p, cctx, good, SERIAL), HSM_OK);
	assert_int_equal(connect_with(p, cctx, other, SERIAL), HSM_ERR_TRUST);
	/* the pin of one connection is not left on the shared context */
	assert_int_equal(connect_with(p, cctx, NULL, SERIAL), HSM_ERR_TRUST);
	assert_int_equal(connect_with(p, cctx, good, "DC2-M01"), HSM_ERR_TRUST);
	assert_int_equal(connect_with(p, cctx, good, SERIAL), HSM_OK);
	/* a pin must hold a certificate */
	path(missing, p, "missing.pem");
	path(empty, p, "empty.pem");
	assert_non_null(f = fopen(empty, "w"));
	fclose(f);
	assert_int_equal(tlsctx_pin_load(missing, &none), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "missing.pem"));
	assert_int_equal(tlsctx_pin_load(empty, &none), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "empty.pem"));
	assert_int_equal(tlsctx_pin_load(NULL, &none), HSM_ERR_USAGE);
	assert_null(none);
	/* a module always says whose clients it trusts */
	assert_int_equal(tlsctx_server_new(p->srv_cert, p->srv_key, NULL, &sctx), HSM_ERR_USAGE);
	assert_null(sctx);
	X509_STORE_free(good);
	X509_STORE_free(other);
	tlsctx_free(&cctx);
}

/* One client on a fresh socket pair to the module context sctx (kept). */
static hsm_rc
one_client(SSL_CTX *sctx, SSL_CTX *cctx)
{
	struct srv s;
	int sv[2], hs = 0, pong;

	memset(&s, 0, sizeof(s));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.ctx = sctx;
	s.fd = sv[0];
	s.lfd = -1;
	s.rc = HSM_ERR_INTERNAL;
	assert_int_equal(pthread_create(&s.th, NULL, serve, &s), 0);
	pong = ping(cctx, sv[1], &hs, NULL);
	assert_int_equal(pthread_join(s.th, NULL), 0);
	if (s.rc == HSM_OK) {
		assert_int_equal(pong, 1);
		assert_non_null(strstr(s.peer, "ws1"));
	}
	return s.rc;
}

/* A module context serves client after client: a chain it verified is
 * remembered for that very certificate only; another CA's client, with
 * the same name, is refused however often the good one came before; a
 * certificate sent with its chain is checked in full and accepted. */
static void
test_module_remembers_chains(void **state)
{
	struct pki *p = *state;
	SSL_CTX *sctx = NULL, *good = NULL, *rogue = NULL, *chained = NULL;
	char both[600];
	FILE *out, *in;
	int ch, round;

	path(both, p, "ws-chain.pem");
	assert_non_null(out = fopen(both, "w"));
	for (round = 0; round < 2; round++) {
		assert_non_null(in = fopen(round == 0 ? p->cli_cert : p->cli_ca, "r"));
		while ((ch = fgetc(in)) != EOF)
			fputc(ch, out);
		fclose(in);
	}
	fclose(out);
	assert_int_equal(tlsctx_server_new(p->srv_cert, p->srv_key, p->cli_ca, &sctx), HSM_OK);
	assert_int_equal(tlsctx_client_new(p->mod_ca, p->cli_cert, p->cli_key, &good), HSM_OK);
	assert_int_equal(tlsctx_client_new(p->mod_ca, p->rogue_cert, p->rogue_key, &rogue),
	                 HSM_OK);
	assert_int_equal(tlsctx_client_new(p->mod_ca, both, p->cli_key, &chained), HSM_OK);
	assert_int_equal(one_client(sctx, rogue), HSM_ERR_TRUST);
	for (round = 0; round < 2; round++) {
		assert_int_equal(one_client(sctx, good), HSM_OK);
		assert_int_equal(one_client(sctx, good), HSM_OK);
		assert_int_equal(one_client(sctx, rogue), HSM_ERR_TRUST);
		assert_int_equal(one_client(sctx, chained), HSM_OK);
	}
	tlsctx_free(&chained);
	tlsctx_free(&rogue);
	tlsctx_free(&good);
	tlsctx_free(&sctx);
}

static void
test_context_files(void **state)
{
	struct pki *p = *state;
	SSL_CTX *ctx = NULL;
	char missing[600];

	path(missing, p, "missing.pem");
	assert_int_equal(tlsctx_server_new(missing, p->srv_key, p->cli_ca, &ctx), HSM_ERR_IO);
	assert_int_equal(tlsctx_client_new(missing, p->cli_cert, p->cli_key, &ctx), HSM_ERR_IO);
	/* a key that is not the certificate's */
	assert_int_equal(tlsctx_server_new(p->srv_cert, p->cli_key, p->cli_ca, &ctx),
	                 HSM_ERR_USAGE);
	assert_int_equal(tlsctx_client_new(p->mod_ca, p->cli_cert, p->rogue_key, &ctx),
	                 HSM_ERR_USAGE);
	assert_null(ctx);
	tlsctx_free(&ctx);   /* NULL-safe */
	{
		tls_conn *c = NULL;

		assert_int_equal(tls_connect(NULL, "no-port", SERIAL, 1000, &c), HSM_ERR_USAGE);
		assert_null(c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socketpair_handshake),
		cmocka_unit_test(test_module_refuses),
		cmocka_unit_test(test_tcp_connect),
		cmocka_unit_test(test_identity_and_pins),
		cmocka_unit_test(test_module_remembers_chains),
		cmocka_unit_test(test_context_files),
	};

	/* A refused peer closes its end: writes then fail with EPIPE, as in
	 * hsmadm-simd, instead of killing the test. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
