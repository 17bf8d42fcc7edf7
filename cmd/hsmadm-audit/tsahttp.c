/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tsahttp.c - the RFC 3161 HTTP transport (RFC 3161 section 3.4): one POST
 * of application/timestamp-query to a time-stamping authority over plain
 * HTTP/1.1, the DER reply back. The reply needs no transport security: it is
 * signed, and checked against the query (and the TSA's CA) before anything
 * is recorded. Here, not in evidence/, because evidence/ opens no connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* strcasestr */
#endif
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hsmadm/fileio.h"
#include "tsahttp.h"

#define REPLY_MAX (1 << 20)

/* "http://host[:port][/path]" into its parts. */
static hsm_rc
parse_url(const char *url, char host[256], char port[8], char path[512])
{
	const char *h, *slash, *colon;
	size_t hl;

	if (strncasecmp(url, "http://", 7) != 0)
		return hsm_fail(HSM_ERR_USAGE, "--tsa-url must be an http:// URL (the reply is "
		    "signed, and checked before it is recorded)");
	h = url + 7;
	slash = strchr(h, '/');
	hl = slash ? (size_t)(slash - h) : strlen(h);
	colon = memchr(h, ':', hl);
	if (hl == 0 || (colon ? (size_t)(colon - h) : hl) >= 256 ||
	    (colon && (hl - (size_t)(colon - h) - 1 == 0 || hl - (size_t)(colon - h) - 1 >= 8)))
		return hsm_fail(HSM_ERR_USAGE, "--tsa-url %s: no host, or a bad port", url);
	snprintf(host, 256, "%.*s", (int)(colon ? colon - h : (long)hl), h);
	snprintf(port, 8, "%.*s", colon ? (int)(hl - (size_t)(colon - h) - 1) : 2,
	    colon ? colon + 1 : "80");
	snprintf(path, 512, "%s", slash ? slash : "/");
	return HSM_OK;
}

static hsm_rc
dial(const char *host, const char *port, int timeout_ms, int *fd)
{
	struct addrinfo hints, *ai = NULL, *a;
	int s = -1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &ai)) != 0)
		return hsm_fail(HSM_ERR_IO, "TSA %s:%s: %s", host, port, gai_strerror(e));
	for (a = ai; a != NULL && s < 0; a = a->ai_next) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		if ((s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol)) < 0)
			continue;
		/* the same bound on connecting, sending and receiving */
		(void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(s, a->ai_addr, a->ai_addrlen) != 0) {
			close(s);
			s = -1;
		}
	}
	freeaddrinfo(ai);
	if (s < 0)
		return hsm_fail(HSM_ERR_IO, "cannot connect to the TSA at %s:%s: %s", host, port,
		    strerror(errno));
	*fd = s;
	return HSM_OK;
}

/* The whole answer, up to REPLY_MAX bytes, until the server closes. */
static hsm_rc
read_all(int fd, char **buf, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *b = malloc(cap + 1), *nb;
	ssize_t got;

	if (b == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (;;) {
		if (n == cap) {
			if (cap >= REPLY_MAX || (nb = realloc(b, cap * 2 + 1)) == NULL) {
				free(b);
				return hsm_fail(cap >= REPLY_MAX ? HSM_ERR_FORMAT : HSM_ERR_NOMEM,
				    "the TSA's answer is too large");
			}
			b = nb;
			cap *= 2;
		}
		got = read(fd, b + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(b);
			return hsm_fail(HSM_ERR_IO, "reading the TSA's answer: %s", strerror(errno));
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return HSM_OK;
}

/* Status 200, a timestamp-reply body of Content-Length bytes (or up to the
 * close). Chunked bodies are refused: the request says HTTP/1.0-style close. */
static hsm_rc
parse_answer(const char *a, size_t n, uint8_t **body, size_t *blen)
{
	const char *end = NULL, *cl;
	int status = 0;
	size_t hl, want;

	for (size_t i = 0; i + 3 < n && end == NULL; i++)
		if (memcmp(a + i, "\r\n\r\n", 4) == 0)
			end = a + i;
	if (end == NULL || sscanf(a, "HTTP/1.%*d %d", &status) != 1)
		return hsm_fail(HSM_ERR_FORMAT, "the TSA's answer is not HTTP");
	if (status != 200)
		return hsm_fail(HSM_ERR_REFUSED, "the TSA answered HTTP %d", status);
	hl = (size_t)(end - a) + 4;
	if ((cl = strcasestr(a, "\r\ntransfer-encoding:")) != NULL && cl < end)
		return hsm_fail(HSM_ERR_FORMAT, "the TSA's answer is chunked, which is not supported");
	if (strcasestr(a, "\r\ncontent-type: application/timestamp-reply") == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "the TSA's answer is not application/timestamp-reply");
	want = n - hl;
	if ((cl = strcasestr(a, "\r\ncontent-length:")) != NULL && cl < end &&
	    (sscanf(cl + 17, "%zu", &want) != 1 || want > n - hl))
		return hsm_fail(HSM_ERR_FORMAT, "the TSA's answer is shorter than it says");
	if ((*body = malloc(want ? want : 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	memcpy(*body, a + hl, want);
	*blen = want;
	return HSM_OK;
}

hsm_rc
tsa_http_post(const char *url, const uint8_t *query, size_t qlen, int timeout_ms,
              uint8_t **reply, size_t *rlen)
{
	char host[256], port[8], path[512], head[1024], *ans = NULL;
	size_t alen = 0;
	int fd = -1, hn;
	hsm_rc rc;

	*reply = NULL;
	*rlen = 0;
	if ((rc = parse_url(url, host, port, path)) != HSM_OK ||
	    (rc = dial(host, port, timeout_ms, &fd)) != HSM_OK)
		return rc;
	hn = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
	    "application/timestamp-query\r\nAccept: application/timestamp-reply\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", path, host, qlen);
	if ((rc = hsm_write_all(fd, head, (size_t)hn)) != HSM_OK ||
	    (rc = hsm_write_all(fd, query, qlen)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "sending the query to the TSA");
		goto out;
	}
	if ((rc = read_all(fd, &ans, &alen)) == HSM_OK)
		rc = parse_answer(ans, alen, reply, rlen);
out:
	free(ans);
	close(fd);
	return rc;
}
