/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsctx.c - TLS 1.3 mutual authentication for the module protocol. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509err.h>

#include "hsmadm/tlsctx.h"
#include "hsmadm/x509util.h"

struct tls_conn {
	SSL *ssl;
	int  fd;
};

/* The last OpenSSL error as text, for messages; clears the queue. */
static const char *
ossl_reason(char *buf, size_t n)
{
	unsigned long e = ERR_get_error();
	unsigned long next;

	/* The most recent error is usually the most specific. */
	while ((next = ERR_get_error()) != 0)
		e = next;
	if (e == 0) {
		snprintf(buf, n, "no details");
		return buf;
	}
	ERR_error_string_n(e, buf, n);
	return buf;
}

static hsm_rc
ctx_common(SSL_CTX *ctx, const char *cert_pem, const char *key_pem, const char *ca_pem)
{
	char why[256];

	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		return hsm_fail(HSM_ERR_TLS, "cannot restrict TLS to version 1.3");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_pem) != 1)
		return hsm_fail(HSM_ERR_IO, "cannot load certificate %s: %s", cert_pem,
		                ossl_reason(why, sizeof(why)));
	ERR_clear_error();
	if (SSL_CTX_use_PrivateKey_file(ctx, key_pem, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			return hsm_fail(HSM_ERR_USAGE, "private key %s does not belong to certificate %s",
			                key_pem, cert_pem);
		}
		return hsm_fail(HSM_ERR_IO, "cannot load private key %s: %s", key_pem,
		                ossl_reason(why, sizeof(why)));
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return hsm_fail(HSM_ERR_USAGE, "private key %s does not belong to certificate %s",
		                key_pem, cert_pem);
	/* Only the given CA file is trusted: no system store. None given (a
	 * client identity): nothing is trusted until a connection brings its
	 * pin. */
	if (ca_pem != NULL && SSL_CTX_load_verify_locations(ctx, ca_pem, NULL) != 1)
		return hsm_fail(HSM_ERR_IO, "cannot load CA certificate %s: %s", ca_pem,
		                ossl_reason(why, sizeof(why)));
	SSL_CTX_set_verify_depth(ctx, 2);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	/* No session tickets or resumption: every connection authenticates. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return HSM_OK;
}

/*
 * A module serves many connections from the same few workstations, each
 * handshake costing it a P-384 check of the client certificate's chain.
 * The chains it has verified are remembered per server context (the leaf's
 * SHA-256, and the times within which every certificate of the chain is
 * valid): a later handshake with that very certificate skips the chain's
 * signature check, while the handshake itself still proves that the client
 * holds the key (CertificateVerify). The context's trust store never
 * changes once made; a leaf sent with other certificates is always checked
 * in full; the times are checked on every use.
 */
#define CHAIN_MEMO_MAX 16
struct chain_memo {
	pthread_mutex_t lock;
	size_t          n, next;
	struct { uint8_t fp[32]; time_t from, until; } e[CHAIN_MEMO_MAX];
};

static int chain_memo_index = -1;
static pthread_once_t chain_memo_once = PTHREAD_ONCE_INIT;

static void
chain_memo_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct chain_memo *m = ptr;

	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void
chain_memo_init(void)
{
	chain_memo_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, chain_memo_free);
}

/* t as seconds since the epoch; 0 if it cannot be read. */
static int
asn1_epoch(const ASN1_TIME *t, time_t now, time_t *out)
{
	int days = 0, secs = 0;

	if (t == NULL || ASN1_TIME_diff(&days, &secs, NULL, t) != 1)
		return 0;
	*out = now + (time_t)days * 86400 + secs;
	return 1;
}

/* The window in which every certificate of x's verified chain is valid. */
static int
chain_window(X509_STORE_CTX *x, time_t now, time_t *from, time_t *until)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(x);
	time_t a, b;
	int i;

	*from = 0;
	*until = 0;
	if (chain == NULL || sk_X509_num(chain) < 1)
		return 0;
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);
		if (!asn1_epoch(X509_get0_notBefore(c), now, &a) ||
		    !asn1_epoch(X509_get0_notAfter(c), now, &b))
			return 0;
		if (i == 0 || a > *from)
			*from = a;
		if (i == 0 || b < *until)
			*until = b;
	}
	return 1;
}

static int
chain_memo_find(struct chain_memo *m, const uint8_t fp[32], time_t now)
{
	size_t i;
	int hit = 0;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n && !hit; i++)
		hit = memcmp(m->e[i].fp, fp, 32) == 0 && m->e[i].from <= now && now < m->e[i].until;
	pthread_mutex_unlock(&m->lock);
	return hit;
}

static void
chain_memo_add(struct chain_memo *m, const uint8_t fp[32], time_t from, time_t until)
{
	pthread_mutex_lock(&m->lock);
	memcpy(m->e[m->next].fp, fp, 32);
	m->e[m->next].from = from;
	m->e[m->next].until = until;
	m->next = (m->next + 1) % CHAIN_MEMO_MAX;
	if (m->n < CHAIN_MEMO_MAX)
		m->n++;
	pthread_mutex_unlock(&m->lock);
}

/* The server context's chain check (SSL_CTX_set_cert_verify_callback). */
static int
verify_remembered(X509_STORE_CTX *x, void *arg)
{
	struct chain_memo *m = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	STACK_OF(X509) *sent = X509_STORE_CTX_get0_untrusted(x);
	uint8_t fp[32];
	unsigned len = 0;
	time_t now = time(NULL), from, until;
	int alone = sent == NULL || sk_X509_num(sent) <= 1, keyed, ok;

	keyed = alone && leaf != NULL && X509_digest(leaf, EVP_sha256(), fp, &len) == 1 &&
	    len == 32;
	if (keyed && chain_memo_find(m, fp, now)) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	ok = X509_verify_cert(x);
	if (ok == 1 && keyed && chain_window(x, now, &from, &until))
		chain_memo_add(m, fp, from, until);
	return ok;
}

/* ctx checks client chains through a memo of its own (freed with ctx). */
static hsm_rc
chain_memo_attach(SSL_CTX *ctx)
{
	struct chain_memo *m;

	if (pthread_once(&chain_memo_once, chain_memo_init) != 0 || chain_memo_index < 0 ||
	    (m = calloc(1, sizeof(*m))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&m->lock, NULL);
	if (SSL_CTX_set_ex_data(ctx, chain_memo_index, m) != 1) {
		chain_memo_free(NULL, m, NULL, 0, 0, NULL);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	SSL_CTX_set_cert_verify_callback(ctx, verify_remembered, m);
	return HSM_OK;
}

hsm_rc
tlsctx_server_new(const char *cert_pem, const char *key_pem,
                  const char *client_ca_pem, SSL_CTX **out)
{
	SSL_CTX *ctx;
	STACK_OF(X509_NAME) *names;
	hsm_rc rc;

	*out = NULL;
	if (client_ca_pem == NULL)
		return hsm_fail(HSM_ERR_USAGE, "a module's TLS context needs its client CA");
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return hsm_fail(HSM_ERR_TLS, "cannot create a TLS server context");
	if ((rc = ctx_common(ctx, cert_pem, key_pem, client_ca_pem)) != HSM_OK)
		goto out;
	names = SSL_load_client_CA_file(client_ca_pem);
	if (names == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "client CA file %s has no certificate", client_ca_pem);
		goto out;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if ((rc = chain_memo_attach(ctx)) != HSM_OK)
		goto out;
	*out = ctx;
	return HSM_OK;
out:
	SSL_CTX_free(ctx);
	return rc;
}

hsm_rc
tlsctx_client_identity_new(const char *cert_pem, const char *key_pem, SSL_CTX **out)
{
	return tlsctx_client_new(NULL, cert_pem, key_pem, out);
}

hsm_rc
tlsctx_pin_load(const char *ca_pem, X509_STORE **out)
{
	X509_STORE *st = NULL;
	X509 *ca = NULL;
	hsm_rc rc;

	*out = NULL;
	if (ca_pem == NULL)
		return hsm_fail(HSM_ERR_USAGE, "no CA file to pin");
	/* The file's first certificate: the one receipts are checked against. */
	if ((rc = x509u_load_pem_shared(ca_pem, &ca)) != HSM_OK)
		return hsm_fail_wrap(HSM_ERR_IO, "cannot load CA certificate %s", ca_pem);
	if ((st = X509_STORE_new()) == NULL || X509_STORE_add_cert(st, ca) != 1) {
		X509_STORE_free(st);
		st = NULL;
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	X509_free(ca);
	*out = st;
	return rc;
}

hsm_rc
tlsctx_client_new(const char *pinned_ca_pem, const char *cert_pem,
                  const char *key_pem, SSL_CTX **out)
{
	SSL_CTX *ctx;
	hsm_rc rc;

	*out = NULL;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return hsm_fail(HSM_ERR_TLS, "cannot create a TLS client context");
	if ((rc = ctx_common(ctx, cert_pem, key_pem, pinned_ca_pem)) != HSM_OK) {
		SSL_CTX_free(ctx);
		return rc;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	*out = ctx;
	return HSM_OK;
}

void
tlsctx_free(SSL_CTX **ctx)
{
	if (ctx == NULL || *ctx == NULL)
		return;
	SSL_CTX_free(*ctx);
	*ctx = NULL;
}

static void
set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv;

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* "host:port" or "[v6]:port" into host and port strings. */
static hsm_rc
split_hostport(const char *hp, char *host, size_t hn, char *port, size_t pn)
{
	const char *colon;
	size_t hl;

	if (hp == NULL || *hp == '\0')
		return hsm_fail(HSM_ERR_USAGE, "no module address given (want host:port)");
	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');
		if (end == NULL || end[1] != ':')
			return hsm_fail(HSM_ERR_USAGE, "bad module address \"%s\" (want [addr]:port)", hp);
		hl = (size_t)(end - hp - 1);
		if (hl == 0 || hl >= hn)
			return hsm_fail(HSM_ERR_USAGE, "bad module address \"%s\"", hp);
		memcpy(host, hp + 1, hl);
		host[hl] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(hp, ':');
		if (colon == NULL)
			return hsm_fail(HSM_ERR_USAGE, "bad module address \"%s\" (want host:port)", hp);
		hl = (size_t)(colon - hp);
		if (hl == 0 || hl >= hn)
			return hsm_fail(HSM_ERR_USAGE, "bad module address \"%s\"", hp);
		memcpy(host, hp, hl);
		host[hl] = '\0';
	}
	if (colon[1] == '\0' || strlen(colon + 1) >= pn ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) <= 0 ||
	    atoi(colon + 1) > 65535)
		return hsm_fail(HSM_ERR_USAGE, "bad port in module address \"%s\"", hp);
	snprintf(port, pn, "%s", colon + 1);
	return HSM_OK;
}

static hsm_rc
tcp_connect(const char *hostport, int timeout_ms, int *fdout)
{
	char host[256], port[8];
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, err, last_errno = 0;
	hsm_rc rc;

	*fdout = -1;
	if ((rc = split_hostport(hostport, host, sizeof(host), port, sizeof(port))) != HSM_OK)
		return rc;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	err = getaddrinfo(host, port, &hints, &res);
	if (err != 0)
		return hsm_fail(HSM_ERR_MODULE, "cannot resolve module address %s: %s",
		                hostport, gai_strerror(err));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		int flags, soerr = 0, one = 1;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		flags = fcntl(fd, F_GETFL);
		(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			if (errno != EINPROGRESS) {
				last_errno = errno;
				close(fd);
				fd = -1;
				continue;
			}
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, timeout_ms) != 1) {
				close(fd);
				freeaddrinfo(res);
				return hsm_fail(HSM_ERR_TIMEOUT, "module %s did not answer within %d ms; check that it runs and the address is right",
				                hostport, timeout_ms);
			}
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
				last_errno = soerr ? soerr : errno;
				close(fd);
				fd = -1;
				continue;
			}
		}
		(void)fcntl(fd, F_SETFL, flags);
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return hsm_fail(HSM_ERR_MODULE, "cannot connect to module %s: %s; check that it runs and the address is right",
		                hostport, strerror(last_errno));
	set_timeouts(fd, timeout_ms);
	*fdout = fd;
	return HSM_OK;
}

static hsm_rc
handshake_error(SSL *ssl, int ret, const char *who)
{
	char why[256];
	long vr = SSL_get_verify_result(ssl);
	int se = SSL_get_error(ssl, ret);

	if (vr != X509_V_OK) {
		ERR_clear_error();
		return hsm_fail(HSM_ERR_TRUST, "%s certificate is not trusted: %s",
		                who, X509_verify_cert_error_string(vr));
	}
	if ((se == SSL_ERROR_SYSCALL || se == SSL_ERROR_WANT_READ ||
	    se == SSL_ERROR_WANT_WRITE) && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		ERR_clear_error();
		return hsm_fail(HSM_ERR_TIMEOUT, "TLS handshake with the %s timed out", who);
	}
	return hsm_fail(HSM_ERR_TLS, "TLS handshake with the %s failed: %s", who,
	                ossl_reason(why, sizeof(why)));
}

/* Milliseconds on a monotonic clock, for deadlines. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The whole handshake within timeout_ms. A socket receive timeout bounds
 * each read only: a peer sending one byte every few seconds kept a blocking
 * SSL_accept going for ever (and its connection slot with it). So the
 * handshake runs on a non-blocking socket, polled against one deadline.
 * Returns SSL_accept's / SSL_connect's last result; on a missed deadline 0
 * with errno EAGAIN, which handshake_error reports as a timeout.
 */
static int
handshake_within(SSL *ssl, int fd, int server, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int flags = fcntl(fd, F_GETFL), ret;

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return server ? SSL_accept(ssl) : SSL_connect(ssl);   /* per-read timeout only */
	for (;;) {
		struct pollfd pf = { .fd = fd };
		long long left;
		int e;

		ret = server ? SSL_accept(ssl) : SSL_connect(ssl);
		if (ret == 1)
			break;
		e = SSL_get_error(ssl, ret);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			break;
		if ((left = deadline - now_ms()) <= 0) {
			ret = 0;
			errno = EAGAIN;
			break;
		}
		pf.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	{
		int keep = errno;   /* handshake_error reads it */
		(void)fcntl(fd, F_SETFL, flags);
		errno = keep;
	}
	return ret;
}

/* A connection over fd (which it owns from the call on, closed on failure)
 * with a fresh SSL from ctx, not yet handshaken. */
static hsm_rc
conn_new(SSL_CTX *ctx, int fd, tls_conn **out)
{
	tls_conn *c;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	c->fd = fd;
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		tls_conn_free(&c);
		return hsm_fail(HSM_ERR_TLS, "cannot set up TLS");
	}
	*out = c;
	return HSM_OK;
}

hsm_rc
tls_connect(SSL_CTX *ctx, const char *hostport, const char *expect_serial,
            int timeout_ms, tls_conn **out)
{
	return tls_connect_pinned(ctx, NULL, hostport, expect_serial, timeout_ms, out);
}

hsm_rc
tls_connect_pinned(SSL_CTX *ctx, X509_STORE *pin, const char *hostport,
                   const char *expect_serial, int timeout_ms, tls_conn **out)
{
	tls_conn *c = NULL;
	X509 *peer = NULL;
	int fd = -1, ret;
	hsm_rc rc;

	*out = NULL;
	if (timeout_ms <= 0)
		timeout_ms = 30000;
	if ((rc = tcp_connect(hostport, timeout_ms, &fd)) != HSM_OK)
		return rc;
	if ((rc = conn_new(ctx, fd, &c)) != HSM_OK)
		return rc;
	/* The pin replaces the context's store for this connection only. */
	if (pin != NULL && SSL_set1_verify_cert_store(c->ssl, pin) != 1) {
		rc = hsm_fail(HSM_ERR_TLS, "cannot set up TLS");
		goto fail;
	}
	ERR_clear_error();
	ret = handshake_within(c->ssl, fd, 0, timeout_ms);
	if (ret != 1) {
		rc = hsm_fail_wrap(handshake_error(c->ssl, ret, "module"), "module %s", hostport);
		goto fail;
	}
	if ((peer = SSL_get1_peer_certificate(c->ssl)) == NULL) {
		rc = hsm_fail(HSM_ERR_TRUST, "module %s sent no certificate", hostport);
		goto fail;
	}
	if (expect_serial != NULL &&
	    (rc = tlsctx_check_serial(peer, expect_serial)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "module %s", hostport);
		goto fail;
	}
	X509_free(peer);
	*out = c;
	return HSM_OK;
fail:
	X509_free(peer);
	tls_conn_free(&c);
	return rc;
}

hsm_rc
tls_accept(SSL_CTX *ctx, int fd, int timeout_ms, tls_conn **out)
{
	tls_conn *c;
	int ret;
	hsm_rc rc;

	*out = NULL;
	if (timeout_ms <= 0)
		timeout_ms = 30000;
	set_timeouts(fd, timeout_ms);
	/* A frame is one TLS write (modproto_write_frame), but a frame longer
	 * than one segment ends in a short one, and the session tickets sent
	 * after the handshake may still be unacknowledged when the first answer
	 * goes: Nagle would hold that until the client's delayed ACK (40 ms). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if ((rc = conn_new(ctx, fd, &c)) != HSM_OK)
		return rc;
	ERR_clear_error();
	ret = handshake_within(c->ssl, fd, 1, timeout_ms);
	if (ret != 1) {
		rc = handshake_error(c->ssl, ret, "workstation");
		goto fail;
	}
	*out = c;
	return HSM_OK;
fail:
	tls_conn_free(&c);
	return rc;
}

SSL *
tls_conn_ssl(tls_conn *c)
{
	return c ? c->ssl : NULL;
}

int
tls_conn_fd(tls_conn *c)
{
	return c ? c->fd : -1;
}

hsm_rc
tls_conn_peer_name(tls_conn *c, char *buf, size_t n)
{
	X509 *peer;
	hsm_rc rc;

	if (n == 0)
		return hsm_fail(HSM_ERR_USAGE, "tls_conn_peer_name: empty buffer");
	buf[0] = '\0';
	if (c == NULL || (peer = SSL_get1_peer_certificate(c->ssl)) == NULL)
		return HSM_OK;
	rc = x509u_subject_cn(peer, buf, n);
	X509_free(peer);
	if (rc == HSM_ERR_NOT_FOUND) {
		buf[0] = '\0';
		rc = HSM_OK;
	}
	return rc;
}

void
tls_conn_free(tls_conn **c)
{
	if (c == NULL || *c == NULL)
		return;
	if ((*c)->ssl != NULL) {
		/* Best effort close_notify; the peer may already be gone. */
		(void)SSL_shutdown((*c)->ssl);
		SSL_free((*c)->ssl);
	}
	if ((*c)->fd >= 0)
		close((*c)->fd);
	ERR_clear_error();
	free(*c);
	*c = NULL;
}

hsm_rc
tlsctx_check_serial(X509 *cert, const char *serial)
{
	char got[128];
	hsm_rc rc;

	if (serial == NULL || *serial == '\0')
		return hsm_fail(HSM_ERR_USAGE, "no module serial to check against");
	rc = x509u_subject_serial(cert, got, sizeof(got));
	if (rc != HSM_OK)
		return hsm_fail(HSM_ERR_TRUST, "certificate names no module serial: %s", hsm_errmsg());
	if (strcmp(got, serial) != 0)
		return hsm_fail(HSM_ERR_TRUST,
		                "certificate is for module %s, not %s; check the module address",
		                got, serial);
	return HSM_OK;
}
