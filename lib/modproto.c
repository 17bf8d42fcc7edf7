/* SPDX-License-Identifier: BSD-2-Clause */
/* modproto.c - frames and messages of the module protocol. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "hsmadm/bytes.h"
#include "hsmadm/cjson.h"
#include "hsmadm/modproto.h"

static const struct {
	int    code;
	hsm_rc rc;
} code_map[] = {
	{ MODPROTO_E_BAD_REQUEST, HSM_ERR_FORMAT },
	{ MODPROTO_E_UNKNOWN_OP,  HSM_ERR_FORMAT },
	{ MODPROTO_E_NOT_FOUND,   HSM_ERR_NOT_FOUND },
	{ MODPROTO_E_EXISTS,      HSM_ERR_EXISTS },
	{ MODPROTO_E_STATE,       HSM_ERR_STATE },
	{ MODPROTO_E_QUORUM,      HSM_ERR_QUORUM },
	{ MODPROTO_E_VERIFY,      HSM_ERR_VERIFY },
	{ MODPROTO_E_REPLAY,      HSM_ERR_REPLAY },
	{ MODPROTO_E_EXPIRED,     HSM_ERR_EXPIRED },
	{ MODPROTO_E_REFUSED,     HSM_ERR_REFUSED },
	{ MODPROTO_E_INTERNAL,    HSM_ERR_MODULE },
	{ MODPROTO_E_TOO_LARGE,   HSM_ERR_FORMAT },
};

int
modproto_code_from_rc(hsm_rc rc)
{
	switch (rc) {
	case HSM_ERR_FORMAT:    return MODPROTO_E_BAD_REQUEST;
	case HSM_ERR_USAGE:     return MODPROTO_E_BAD_REQUEST;
	case HSM_ERR_NOT_FOUND: return MODPROTO_E_NOT_FOUND;
	case HSM_ERR_EXISTS:    return MODPROTO_E_EXISTS;
	case HSM_ERR_STATE:     return MODPROTO_E_STATE;
	case HSM_ERR_QUORUM:    return MODPROTO_E_QUORUM;
	case HSM_ERR_VERIFY:    return MODPROTO_E_VERIFY;
	case HSM_ERR_REPLAY:    return MODPROTO_E_REPLAY;
	case HSM_ERR_EXPIRED:   return MODPROTO_E_EXPIRED;
	case HSM_ERR_REFUSED:   return MODPROTO_E_REFUSED;
	case HSM_ERR_TRUST:     return MODPROTO_E_REFUSED;
	default:                return MODPROTO_E_INTERNAL;
	}
}

hsm_rc
modproto_rc_from_code(int code)
{
	size_t i;

	for (i = 0; i < sizeof(code_map) / sizeof(code_map[0]); i++)
		if (code_map[i].code == code)
			return code_map[i].rc;
	return HSM_ERR_MODULE;
}

/* ---- frames over TLS --------------------------------------------------- */

/* Once a frame's first byte has arrived, the rest (at most 1 MiB) must come
 * within this: a slow sender must not hold a reader, and on the module a
 * connection slot, for ever (module-protocol.md §4). */
#define MODPROTO_FRAME_MS 30000

static hsm_rc
io_error(SSL *ssl, int ret, const char *what)
{
	int e = SSL_get_error(ssl, ret);
	char why[256] = "connection closed";

	if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		ERR_clear_error();
		return hsm_fail(HSM_ERR_TIMEOUT, "module connection timed out while %s", what);
	}
	if (e == SSL_ERROR_SSL) {
		unsigned long le = ERR_peek_last_error();
		if (ERR_GET_REASON(le) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			/* The peer vanished without close_notify: died or was killed. */
			ERR_clear_error();
			return hsm_fail(HSM_ERR_MODULE, "connection lost while %s (the peer closed without a TLS goodbye)", what);
		}
		if (le != 0)
			ERR_error_string_n(le, why, sizeof(why));
		ERR_clear_error();
		return hsm_fail(HSM_ERR_TLS, "TLS error while %s: %s", what, why);
	}
	ERR_clear_error();
	return hsm_fail(HSM_ERR_MODULE, "connection lost while %s", what);
}

/* Writes to the TLS session, not a file: hsm_write_all (fileio.h) is the
 * one writer for file descriptors. */
static hsm_rc
ssl_write_all(SSL *ssl, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t done = 0;

	while (done < len) {
		size_t w = 0;
		int ret = SSL_write_ex(ssl, p + done, len - done, &w);
		if (ret <= 0)
			return io_error(ssl, ret, "sending");
		done += w;
	}
	return HSM_OK;
}

/* Milliseconds on a monotonic clock, for the frame deadline. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until the socket can do what SSL asked for (e: WANT_READ/WRITE), or
 * the deadline passes (HSM_ERR_TIMEOUT). */
static hsm_rc
wait_until(int fd, int e, long long deadline)
{
	struct pollfd pf = { .fd = fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT };
	long long left = deadline - now_ms();

	if (left <= 0)
		return hsm_fail(HSM_ERR_TIMEOUT, "a frame did not arrive whole within %d s of its "
		    "first byte", MODPROTO_FRAME_MS / 1000);
	if (poll(&pf, 1, (int)left) < 0 && errno != EINTR)
		return hsm_fail(HSM_ERR_IO, "poll: %s", strerror(errno));
	return HSM_OK;
}

/*
 * Read exactly len bytes; *got says how many arrived before a close. With a
 * deadline (monotonic ms, 0 = none) the socket is non-blocking for the call
 * and polled against it: a receive timeout bounds each read only, and
 * OpenSSL keeps reading a TLS record until it is whole, so a peer that
 * sends one byte every few seconds would otherwise hold the reader for ever.
 */
static hsm_rc
read_all(SSL *ssl, void *buf, size_t len, size_t *got, long long deadline)
{
	unsigned char *p = buf;
	int fd = SSL_get_fd(ssl), flags = -1;
	hsm_rc rc = HSM_OK;

	*got = 0;
	if (deadline > 0 && fd >= 0 && (flags = fcntl(fd, F_GETFL)) >= 0 &&
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		flags = -1;
	while (*got < len) {
		size_t r = 0;
		int ret = SSL_read_ex(ssl, p + *got, len - *got, &r);
		if (ret <= 0) {
			int e = SSL_get_error(ssl, ret);
			if (flags >= 0 && (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)) {
				if ((rc = wait_until(fd, e, deadline)) != HSM_OK)
					break;
				continue;
			}
			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0)) {
				ERR_clear_error();
				rc = hsm_fail(HSM_ERR_NOT_FOUND, "peer closed the connection");
				break;
			}
			rc = io_error(ssl, ret, "receiving");
			break;
		}
		*got += r;
	}
	if (flags >= 0)
		(void)fcntl(fd, F_SETFL, flags);
	return rc;
}

/* The 4-byte big-endian length in front of a frame's len bytes. */
static hsm_rc
frame_head(unsigned char *frame, size_t len)
{
	if (len == 0 || len > MODPROTO_MAX_FRAME)
		return hsm_fail(HSM_ERR_USAGE, "message of %zu bytes does not fit in a frame (1..%u)",
		                len, MODPROTO_MAX_FRAME);
	frame[0] = (unsigned char)(len >> 24);
	frame[1] = (unsigned char)(len >> 16);
	frame[2] = (unsigned char)(len >> 8);
	frame[3] = (unsigned char)len;
	return HSM_OK;
}

hsm_rc
modproto_write_frame(SSL *ssl, const char *buf, size_t len)
{
	unsigned char small[4 + 4096], *frame;
	hsm_rc rc;

	if ((rc = frame_head(small, len)) != HSM_OK)
		return rc;
	/* Length and body in one write: one TLS record and one TCP segment for
	 * a small message, not a 4-byte record that the peer must wait on
	 * before the body follows. */
	frame = len <= sizeof(small) - 4 ? small : malloc(4 + len);
	if (frame == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	memcpy(frame, small, 4);
	memcpy(frame + 4, buf, len);
	rc = ssl_write_all(ssl, frame, 4 + len);
	if (frame != small)
		free(frame);
	return rc;
}

/* The length of a frame from its 4-byte big-endian header, within limits. */
static hsm_rc
frame_len(const unsigned char *hdr, size_t hlen, size_t *n)
{
	hsm_bytes c;
	uint32_t v = 0;

	bytes_init(&c, hdr, hlen, "frame header");
	if (bytes_get_be32(&c, &v) != HSM_OK)
		return hsm_fail(HSM_ERR_NOT_FOUND, "incomplete frame header");
	if (v == 0)
		return hsm_fail(HSM_ERR_FORMAT, "empty frame");
	if (v > MODPROTO_MAX_FRAME)
		return hsm_fail(HSM_ERR_FORMAT, "frame of %lu bytes is larger than the 1 MiB limit",
		    (unsigned long)v);
	*n = v;
	return HSM_OK;
}

/*
 * A frame carries its JSON in RFC 8785 canonical form and nothing else
 * (module-protocol.md §1): the same message has one spelling on the wire,
 * as a signed command has one in a file. Checked while parsing: the usual
 * frame in one pass, any other through a write-back and a byte comparison
 * (cjson_parse_canonical). Bytes that are no JSON at all are left to the
 * caller's parser, which answers bad_json and keeps the connection: *msg is
 * NULL then. msg may be NULL when only the verdict is wanted.
 */
static hsm_rc
frame_canonical(const char *buf, size_t n, json_t **msg)
{
	json_t *v = NULL;
	int canonical = 0;
	hsm_rc rc;

	if (msg != NULL)
		*msg = NULL;
	if ((rc = cjson_parse_canonical(buf, n, &v, &canonical)) != HSM_OK) {
		if (rc != HSM_ERR_FORMAT)
			return rc;   /* out of memory: not the peer's fault, not a pass */
		hsm_err_clear();
		return HSM_OK;
	}
	if (!canonical) {
		json_decref(v);
		return hsm_fail(HSM_ERR_FORMAT, "frame JSON is not in canonical form (RFC 8785: "
		    "sorted keys, no spaces, shortest escapes)");
	}
	if (msg != NULL)
		*msg = v;
	else
		json_decref(v);
	return HSM_OK;
}

/* One frame's bytes, its length checked, not its JSON. */
static hsm_rc
read_frame_raw(SSL *ssl, char **out, size_t *len)
{
	unsigned char hdr[4];
	long long deadline = 0;
	size_t got, n;
	char *buf;
	hsm_rc rc;

	*out = NULL;
	*len = 0;
	/* The first byte may take as long as the peer thinks (the socket's
	 * receive timeout: the module's idle limit); from then on the whole
	 * frame has MODPROTO_FRAME_MS. */
	rc = read_all(ssl, hdr, 1, &got, 0);
	if (rc == HSM_OK) {
		deadline = now_ms() + MODPROTO_FRAME_MS;
		rc = read_all(ssl, hdr + 1, 3, &got, deadline);
		got++;
	}
	if (rc != HSM_OK) {
		if (rc == HSM_ERR_NOT_FOUND && got > 0)
			return hsm_fail(HSM_ERR_MODULE, "connection closed in the middle of a frame header");
		return rc;
	}
	if ((rc = frame_len(hdr, sizeof(hdr), &n)) != HSM_OK)
		return rc;
	if ((buf = malloc(n + 1)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = read_all(ssl, buf, n, &got, deadline);
	if (rc != HSM_OK) {
		free(buf);
		if (rc == HSM_ERR_NOT_FOUND)
			return hsm_fail(HSM_ERR_MODULE, "connection closed in the middle of a frame (%zu of %zu bytes)",
			                got, n);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return HSM_OK;
}

hsm_rc
modproto_read_frame_msg(SSL *ssl, char **out, size_t *len, json_t **msg)
{
	hsm_rc rc;

	if (msg != NULL)
		*msg = NULL;
	if ((rc = read_frame_raw(ssl, out, len)) != HSM_OK)
		return rc;
	if ((rc = frame_canonical(*out, *len, msg)) != HSM_OK) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return rc;
}

hsm_rc
modproto_read_frame(SSL *ssl, char **out, size_t *len)
{
	return modproto_read_frame_msg(ssl, out, len, NULL);
}

hsm_rc
modproto_send(SSL *ssl, const json_t *msg)
{
	char *buf = NULL;
	size_t len = 0;
	hsm_rc rc;

	/* Written after room for the length, so a 230 KB batch of blobs is not
	 * copied once more to put 4 bytes in front of it. */
	if ((rc = cjson_dump_after(msg, 4, &buf, &len)) != HSM_OK)
		return rc;
	if ((rc = frame_head((unsigned char *)buf, len)) == HSM_OK)
		rc = ssl_write_all(ssl, buf, 4 + len);
	free(buf);
	return rc;
}

hsm_rc
modproto_recv(SSL *ssl, json_t **msg)
{
	char *buf = NULL;
	size_t len = 0;
	hsm_rc rc;

	*msg = NULL;
	if ((rc = read_frame_raw(ssl, &buf, &len)) != HSM_OK)
		return rc;
	/* The check's tree is the message: one parse, not two. Not JSON at
	 * all: parsed again for cjson_parse's message. */
	if ((rc = frame_canonical(buf, len, msg)) == HSM_OK && *msg == NULL)
		rc = cjson_parse(buf, len, msg);
	free(buf);
	if (rc == HSM_OK && !json_is_object(*msg)) {
		json_decref(*msg);
		*msg = NULL;
		rc = hsm_fail(HSM_ERR_FORMAT, "message is not a JSON object");
	}
	return rc;
}

/* ---- parsers on byte buffers ------------------------------------------ */

hsm_rc
modproto_frame_parse(const uint8_t *buf, size_t len, size_t *consumed, json_t **msg)
{
	size_t n;
	hsm_rc rc;

	*msg = NULL;
	*consumed = 0;
	if (len < 4)
		return hsm_fail(HSM_ERR_NOT_FOUND, "incomplete frame header");
	if ((rc = frame_len(buf, len, &n)) != HSM_OK)
		return rc;
	if (len - 4 < n)
		return hsm_fail(HSM_ERR_NOT_FOUND, "incomplete frame (%zu of %zu bytes)", len - 4, n);
	*consumed = 4 + n;
	if ((rc = frame_canonical((const char *)buf + 4, n, msg)) == HSM_OK && *msg == NULL)
		rc = cjson_parse((const char *)buf + 4, n, msg);
	if (rc != HSM_OK)
		return rc;
	if (!json_is_object(*msg)) {
		json_decref(*msg);
		*msg = NULL;
		return hsm_fail(HSM_ERR_FORMAT, "message is not a JSON object");
	}
	return HSM_OK;
}

hsm_rc
modproto_request_parse(json_t *msg, modproto_request *out)
{
	json_t *id, *op, *params;

	memset(out, 0, sizeof(*out));
	out->id = -1;
	if (!json_is_object(msg))
		return hsm_fail(HSM_ERR_FORMAT, "request is not a JSON object");
	id = json_object_get(msg, "id");
	if (!json_is_integer(id) || json_integer_value(id) < 0)
		return hsm_fail(HSM_ERR_FORMAT, "request has no \"id\" (a non-negative integer)");
	out->id = (long long)json_integer_value(id);
	op = json_object_get(msg, "op");
	if (!json_is_string(op) || json_string_length(op) == 0 || json_string_length(op) > 64)
		return hsm_fail(HSM_ERR_FORMAT, "request has no \"op\" (a short string)");
	params = json_object_get(msg, "params");
	if (!json_is_object(params))
		return hsm_fail(HSM_ERR_FORMAT, "request has no \"params\" object");
	if (json_object_size(msg) != 3)
		return hsm_fail(HSM_ERR_FORMAT, "request has keys other than id, op and params");
	out->op = json_string_value(op);
	out->params = params;
	return HSM_OK;
}

/* ---- building messages ------------------------------------------------ */

hsm_rc
modproto_request_new(long long id, const char *op, json_t *params, json_t **out)
{
	json_t *m;

	*out = NULL;
	if (id < 0 || op == NULL || (params != NULL && !json_is_object(params)))
		return hsm_fail(HSM_ERR_USAGE, "modproto_request_new: bad arguments");
	/* "o" steals the reference, also when packing fails. */
	m = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)id, "op", op,
	              "params", params ? json_incref(params) : json_object());
	if (m == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	*out = m;
	return HSM_OK;
}

hsm_rc
modproto_answer_ok(long long id, json_t *result, json_t **out)
{
	json_t *m;

	*out = NULL;
	if (result == NULL || !json_is_object(result))
		return hsm_fail(HSM_ERR_USAGE, "modproto_answer_ok: result must be an object");
	m = json_pack("{s:I, s:b, s:O}", "id", (json_int_t)id, "ok", 1, "result", result);
	if (m == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	*out = m;
	return HSM_OK;
}

hsm_rc
modproto_answer_err(long long id, int code, const char *reason, const char *message,
                    json_t **out)
{
	json_t *m;

	*out = NULL;
	m = json_pack("{s:I, s:b, s:{s:i, s:s, s:s}}", "id", (json_int_t)id, "ok", 0,
	              "error", "code", code, "reason", reason ? reason : "error",
	              "message", message ? message : "");
	if (m == NULL) {
		/* message may hold invalid UTF-8 from a peer; say so plainly. */
		m = json_pack("{s:I, s:b, s:{s:i, s:s, s:s}}", "id", (json_int_t)id, "ok", 0,
		              "error", "code", code, "reason", "error",
		              "message", "(message not representable)");
		if (m == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	*out = m;
	return HSM_OK;
}

hsm_rc
modproto_answer_check(json_t *answer, long long expect_id, json_t **result, char **reason)
{
	json_t *id, *ok, *res, *err;
	long long code;
	const char *rs, *msg;

	*result = NULL;
	if (reason != NULL)
		*reason = NULL;
	if (!json_is_object(answer))
		return hsm_fail(HSM_ERR_MODULE, "module answer is not a JSON object");
	id = json_object_get(answer, "id");
	ok = json_object_get(answer, "ok");
	if (!json_is_integer(id) || !json_is_boolean(ok))
		return hsm_fail(HSM_ERR_MODULE, "module answer lacks \"id\" or \"ok\"");
	if (json_is_true(ok)) {
		if (json_integer_value(id) != expect_id)
			return hsm_fail(HSM_ERR_MODULE, "module answered request %lld, expected %lld",
			                (long long)json_integer_value(id), expect_id);
		res = json_object_get(answer, "result");
		if (!json_is_object(res) || json_object_size(answer) != 3)
			return hsm_fail(HSM_ERR_MODULE, "module answer has no \"result\" object");
		*result = json_incref(res);
		return HSM_OK;
	}
	err = json_object_get(answer, "error");
	if (!json_is_object(err) || cjson_get_int(err, "code", &code) != HSM_OK ||
	    cjson_get_str(err, "reason", &rs) != HSM_OK ||
	    cjson_get_str(err, "message", &msg) != HSM_OK)
		return hsm_fail(HSM_ERR_MODULE, "module answer has a malformed \"error\"");
	/* -1: the module could not read our request at all. */
	if (json_integer_value(id) != expect_id && json_integer_value(id) != -1)
		return hsm_fail(HSM_ERR_MODULE, "module answered request %lld, expected %lld",
		                (long long)json_integer_value(id), expect_id);
	if (reason != NULL && (*reason = strdup(rs)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return hsm_fail(modproto_rc_from_code((int)code), "module refused: %s (%s)", msg, rs);
}

hsm_rc
modproto_batch_entry(const json_t *answers, size_t k, unsigned domain, json_t **result)
{
	const json_t *e = json_array_get(answers, k), *ok, *err;
	long long code;
	const char *rs, *msg;

	*result = NULL;
	ok = json_object_get(e, "ok");
	if (!json_is_object(e) || !json_is_boolean(ok) ||
	    !json_is_integer(json_object_get(e, "domain")) ||
	    json_integer_value(json_object_get(e, "domain")) != (json_int_t)domain)
		return hsm_fail(HSM_ERR_MODULE, "the module's answer for domain %u is missing or "
		                "malformed", domain);
	if (json_is_true(ok)) {
		if (!json_is_object(json_object_get(e, "result")))
			return hsm_fail(HSM_ERR_MODULE, "the module's answer for domain %u has no "
			                "result", domain);
		*result = json_incref(json_object_get(e, "result"));
		return HSM_OK;
	}
	err = json_object_get(e, "error");
	if (!json_is_object(err) || cjson_get_int(err, "code", &code) != HSM_OK ||
	    cjson_get_str(err, "reason", &rs) != HSM_OK ||
	    cjson_get_str(err, "message", &msg) != HSM_OK)
		return hsm_fail(HSM_ERR_MODULE, "the module's answer for domain %u has a "
		                "malformed \"error\"", domain);
	return hsm_fail(modproto_rc_from_code((int)code), "module refused: %s (%s)", msg, rs);
}

hsm_rc
modproto_call(SSL *ssl, long long *next_id, const char *op, json_t *params,
              json_t **result, char **reason)
{
	json_t *req = NULL, *ans = NULL;
	long long id = (*next_id)++;
	hsm_rc rc;

	*result = NULL;
	if (reason != NULL)
		*reason = NULL;
	if ((rc = modproto_request_new(id, op, params, &req)) != HSM_OK)
		return rc;
	if ((rc = modproto_send(ssl, req)) != HSM_OK)
		goto out;
	if ((rc = modproto_recv(ssl, &ans)) != HSM_OK) {
		if (rc == HSM_ERR_NOT_FOUND)
			rc = hsm_fail(HSM_ERR_MODULE, "module closed the connection without answering %s", op);
		goto out;
	}
	rc = modproto_answer_check(ans, id, result, reason);
out:
	json_decref(req);
	json_decref(ans);
	return rc;
}
