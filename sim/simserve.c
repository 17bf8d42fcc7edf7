/* SPDX-License-Identifier: BSD-2-Clause */
/* simserve.c - TLS listener of hsmadm-simd: one thread per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "hsmadm/cjson.h"
#include "hsmadm/fileio.h"
#include "hsmadm/modproto.h"
#include "hsmadm/thread.h"
#include "hsmadm/tlsctx.h"

#include "simserve.h"

#define MAX_CONNS        64
#define PER_CLIENT_DEF   16      /* so that one address cannot take every slot */
#define IDLE_TIMEOUT_MS  (10 * 60 * 1000)
#define HANDSHAKE_MS     10000   /* a silent peer must not hold a slot for long */

typedef struct server {
	simmod         *mod;
	SSL_CTX        *ctx;
	int             delay_ms;
	pthread_mutex_t lock;
	pthread_cond_t  idle;
	int             fds[MAX_CONNS];   /* -1 = free slot */
	char            addr[MAX_CONNS][INET6_ADDRSTRLEN];   /* whose slot it is */
	int             max_per_client;
	int             nconns;
	int             stopping;
} server;

typedef struct conn_arg {
	server *srv;
	int     fd;
	int     slot;
} conn_arg;

static int stop_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (write(stop_pipe[1], &c, 1) < 0) {
		/* Nothing to do: the pipe is full, a stop is pending anyway. */
	}
	errno = saved;
}

static void
sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
send_answer(server *srv, SSL *ssl, json_t *answer)
{
	if (srv->delay_ms > 0)
		sleep_ms(srv->delay_ms);
	if (modproto_send(ssl, answer) != HSM_OK)
		fprintf(stderr, "hsmadm-simd: could not send an answer: %s\n", hsm_errmsg());
}

static void
release_slot(server *srv, int slot)
{
	pthread_mutex_lock(&srv->lock);
	srv->fds[slot] = -1;
	pthread_mutex_unlock(&srv->lock);
}

/* After an answer that ends the connection: say goodbye, stop writing, and
 * swallow what the peer still sends for a moment, so that closing with
 * unread bytes does not reset the connection before the answer arrives. */
static void
linger_close(tls_conn *c)
{
	char junk[4096];
	int fd = tls_conn_fd(c);
	size_t total = 0;
	struct timeval tv = { 1, 0 };

	(void)SSL_shutdown(tls_conn_ssl(c));
	(void)shutdown(fd, SHUT_WR);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (total < 4u * MODPROTO_MAX_FRAME) {
		ssize_t n = recv(fd, junk, sizeof(junk), 0);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

static void
serve_conn(server *srv, int fd, int slot)
{
	tls_conn *c = NULL;
	char peer[128];
	SSL *ssl;
	hsm_rc rc;

	if ((rc = tls_accept(srv->ctx, fd, HANDSHAKE_MS, &c)) != HSM_OK) {
		release_slot(srv, slot);
		fprintf(stderr, "hsmadm-simd: refused a connection: %s\n", hsm_errmsg());
		return;
	}
	{
		/* Authenticated: a workstation may think for a while between requests. */
		struct timeval tv = { IDLE_TIMEOUT_MS / 1000, 0 };
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	ssl = tls_conn_ssl(c);
	if (tls_conn_peer_name(c, peer, sizeof(peer)) != HSM_OK)
		snprintf(peer, sizeof(peer), "?");
	for (;;) {
		char *buf = NULL;
		size_t len = 0;
		json_t *msg = NULL, *answer = NULL;
		int drop = 0;

		/* msg: the tree the frame's canonical check built (parsed once). */
		rc = modproto_read_frame_msg(ssl, &buf, &len, &msg);
		if (rc == HSM_ERR_FORMAT) {
			/* A bad length: the stream cannot be resynchronised. Say why, close. */
			int code = strstr(hsm_errmsg(), "larger") ? MODPROTO_E_TOO_LARGE
			                                            : MODPROTO_E_BAD_REQUEST;
			if (modproto_answer_err(-1, code,
			        code == MODPROTO_E_TOO_LARGE ? "too_large" : "bad_request",
			        hsm_errmsg(), &answer) == HSM_OK)
				send_answer(srv, ssl, answer);
			json_decref(answer);
			linger_close(c);
			break;
		}
		if (rc != HSM_OK)
			break;   /* closed, timed out or broken: nothing to answer */
		rc = msg != NULL ? HSM_OK : cjson_parse(buf, len, &msg);
		free(buf);
		if (rc != HSM_OK)
			rc = simmod_error_answer(HSM_ERR_FORMAT, hsm_errmsg(), &answer);
		else
			rc = simmod_handle(srv->mod, msg, &answer, &drop);
		json_decref(msg);
		if (rc != HSM_OK) {
			fprintf(stderr, "hsmadm-simd: cannot answer %s: %s\n", peer, hsm_errmsg());
			break;
		}
		if (drop) {
			json_decref(answer);
			break;
		}
		send_answer(srv, ssl, answer);
		json_decref(answer);
	}
	/* Forget the fd before it is closed, so a stop never shuts down a reused one. */
	release_slot(srv, slot);
	tls_conn_free(&c);
}

static void *
conn_main(void *p)
{
	conn_arg *a = p;
	server *srv = a->srv;

	serve_conn(srv, a->fd, a->slot);   /* closes the fd */
	pthread_mutex_lock(&srv->lock);
	srv->nconns--;
	pthread_cond_broadcast(&srv->idle);
	pthread_mutex_unlock(&srv->lock);
	free(a);
	return NULL;
}

static hsm_rc
open_listener(const char *spec, int *fdout, char *shown, size_t shown_n, int *portout)
{
	char host[256];
	const char *colon, *port;
	struct addrinfo hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, one = 1, err;
	size_t hl;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (end == NULL || end[1] != ':')
			return hsm_fail(HSM_ERR_USAGE, "bad --listen \"%s\" (want [addr]:port)", spec);
		hl = (size_t)(end - spec - 1);
		if (hl == 0 || hl >= sizeof(host))
			return hsm_fail(HSM_ERR_USAGE, "bad --listen \"%s\"", spec);
		memcpy(host, spec + 1, hl);
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			return hsm_fail(HSM_ERR_USAGE, "bad --listen \"%s\" (want address:port)", spec);
		hl = (size_t)(colon - spec);
		if (hl == 0 || hl >= sizeof(host))
			return hsm_fail(HSM_ERR_USAGE, "bad --listen \"%s\"", spec);
		memcpy(host, spec, hl);
	}
	host[hl] = '\0';
	port = colon + 1;
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || atol(port) > 65535)
		return hsm_fail(HSM_ERR_USAGE, "bad port in --listen \"%s\"", spec);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	if ((err = getaddrinfo(host, port, &hints, &res)) != 0)
		return hsm_fail(HSM_ERR_USAGE, "--listen wants a numeric address (%s): %s", host,
		                gai_strerror(err));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		return hsm_fail(HSM_ERR_IO, "cannot create a socket: %s", strerror(errno));
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 32) != 0) {
		err = errno;
		freeaddrinfo(res);
		close(fd);
		return hsm_fail(HSM_ERR_IO, "cannot listen on %s: %s; pick another port or port 0",
		                spec, strerror(err));
	}
	freeaddrinfo(res);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		close(fd);
		return hsm_fail(HSM_ERR_IO, "getsockname: %s", strerror(errno));
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		char a[INET6_ADDRSTRLEN];
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			fprintf(stderr, "hsmadm-simd: warning: listening beyond this machine; the emulator keeps its keys in clear files, use it for rehearsals only\n");
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		*portout = ntohs(s6->sin6_port);
		snprintf(shown, shown_n, "[%s]:%d", a, *portout);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		char a[INET_ADDRSTRLEN];
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			fprintf(stderr, "hsmadm-simd: warning: listening beyond this machine; the emulator keeps its keys in clear files, use it for rehearsals only\n");
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		*portout = ntohs(s4->sin_port);
		snprintf(shown, shown_n, "%s:%d", a, *portout);
	}
	*fdout = fd;
	return HSM_OK;
}

static hsm_rc
write_port_file(const char *path, int port)
{
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d\n", port);

	/* Whoever waits for this file sees it whole or not at all. */
	return hsm_file_replace(path, buf, (size_t)n, 0644);
}

/* The client's IP address as text ("?" if unknown): the unit of the
 * per-client cap (the port changes with every connection). */
static void
peer_addr(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	const void *a = NULL;

	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (a == NULL || inet_ntop(ss->ss_family, a, buf, (socklen_t)n) == NULL)
		snprintf(buf, n, "?");
}

/* A thread for the connection just accepted on lfd (a full table, a client
 * address that already holds max_per_client slots, or a failed thread closes
 * it: the client sees the connection refused). Without the per-address cap
 * one slow or hostile client could take all 64 slots and lock every
 * workstation out until its connections time out. */
static void
accept_one(server *srv, int lfd)
{
	sigset_t block, old;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char who[INET6_ADDRSTRLEN];
	conn_arg *a;
	int cfd, slot = -1, same = 0, i;

	memset(&ss, 0, sizeof(ss));
	cfd = accept(lfd, (struct sockaddr *)&ss, &sl);
	if (cfd < 0)
		return;
	(void)fcntl(cfd, F_SETFD, FD_CLOEXEC);
	peer_addr(&ss, who, sizeof(who));
	pthread_mutex_lock(&srv->lock);
	for (i = 0; i < MAX_CONNS; i++) {
		if (srv->fds[i] < 0) {
			if (slot < 0)
				slot = i;
		} else if (strcmp(srv->addr[i], who) == 0)
			same++;
	}
	if (same >= srv->max_per_client) {
		pthread_mutex_unlock(&srv->lock);
		fprintf(stderr, "hsmadm-simd: %s holds %d connections, the most one client "
		        "address may (--max-per-client); refusing another\n", who, same);
		close(cfd);
		return;
	}
	if (slot < 0) {
		pthread_mutex_unlock(&srv->lock);
		fprintf(stderr, "hsmadm-simd: %d connections open; refusing another from %s\n",
		        MAX_CONNS, who);
		close(cfd);
		return;
	}
	if ((a = malloc(sizeof(*a))) == NULL) {
		pthread_mutex_unlock(&srv->lock);
		close(cfd);
		return;
	}
	a->srv = srv;
	a->fd = cfd;
	a->slot = slot;
	srv->fds[slot] = cfd;
	snprintf(srv->addr[slot], sizeof(srv->addr[slot]), "%s", who);
	srv->nconns++;
	/* Threads leave signals to the main loop. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (hsm_thread_start(NULL, conn_main, a, 1) != HSM_OK) {
		fprintf(stderr, "hsmadm-simd: %s; connection closed\n", hsm_errmsg());
		srv->fds[slot] = -1;
		srv->nconns--;
		close(cfd);
		free(a);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_unlock(&srv->lock);
}

/* SIGTERM/SIGINT write to the stop pipe, which the accept loop polls. */
static hsm_rc
stop_signals(void)
{
	struct sigaction sa;
	int i;

	if (pipe(stop_pipe) != 0)
		return hsm_fail(HSM_ERR_IO, "pipe: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		(void)fcntl(stop_pipe[i], F_SETFD, FD_CLOEXEC);
		(void)fcntl(stop_pipe[i], F_SETFL, O_NONBLOCK);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return HSM_OK;
}

hsm_rc
simserve_run(const simserve_opts *o)
{
	server srv;
	char cert[4200], key[4200], cca[4200], shown[128];
	int lfd = -1, port = 0, i;
	hsm_rc rc;

	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.idle, NULL);
	for (i = 0; i < MAX_CONNS; i++)
		srv.fds[i] = -1;
	srv.delay_ms = o->delay_ms;
	srv.max_per_client = o->max_per_client > 0 ? o->max_per_client : PER_CLIENT_DEF;
	if ((rc = simmod_open_pin(o->dir, &o->faults, o->has_pin_fd ? o->pin_fd : -1, &srv.mod)) != HSM_OK)
		goto out;
	simmod_path(srv.mod, "tls.pem", cert, sizeof(cert));
	simmod_path(srv.mod, "tls.key", key, sizeof(key));
	simmod_path(srv.mod, "client-ca.pem", cca, sizeof(cca));
	if ((rc = tlsctx_server_new(cert, key, cca, &srv.ctx)) != HSM_OK)
		goto out;
	if ((rc = open_listener(o->listen ? o->listen : "127.0.0.1:0", &lfd, shown,
	                        sizeof(shown), &port)) != HSM_OK)
		goto out;

	if ((rc = stop_signals()) != HSM_OK)
		goto out;

	if (o->port_file != NULL && (rc = write_port_file(o->port_file, port)) != HSM_OK)
		goto out;
	printf("listening on %s\n", shown);
	fflush(stdout);
	fprintf(stderr, "hsmadm-simd: module %s serving on %s\n", simmod_serial(srv.mod), shown);

	for (;;) {
		struct pollfd pf[2];

		pf[0].fd = lfd;
		pf[0].events = POLLIN;
		pf[1].fd = stop_pipe[0];
		pf[1].events = POLLIN;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = hsm_fail(HSM_ERR_IO, "poll: %s", strerror(errno));
			break;
		}
		if (pf[1].revents)
			break;
		if (!(pf[0].revents & POLLIN))
			continue;
		accept_one(&srv, lfd);
	}

	/* Clean stop: no new connections; wake every connection thread and
	 * wait for them. A command being applied finishes first (the domain
	 * lock), so no state file is left half-written. */
	close(lfd);
	lfd = -1;
	pthread_mutex_lock(&srv.lock);
	srv.stopping = 1;
	for (i = 0; i < MAX_CONNS; i++)
		if (srv.fds[i] >= 0)
			shutdown(srv.fds[i], SHUT_RDWR);
	while (srv.nconns > 0)
		pthread_cond_wait(&srv.idle, &srv.lock);
	pthread_mutex_unlock(&srv.lock);
	fprintf(stderr, "hsmadm-simd: module %s stopped\n", simmod_serial(srv.mod));
	if (rc == HSM_ERR_IO && srv.stopping)
		rc = HSM_OK;
out:
	if (lfd >= 0)
		close(lfd);
	tlsctx_free(&srv.ctx);
	simmod_free(&srv.mod);
	pthread_cond_destroy(&srv.idle);
	pthread_mutex_destroy(&srv.lock);
	return rc;
}
