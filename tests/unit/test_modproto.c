/* SPDX-License-Identifier: BSD-2-Clause */
/* test_modproto.c - frame and message parsing/building of the module protocol. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "hsmadm/crypto.h"
#include "hsmadm/modproto.h"
#include "hsmadm/tlsctx.h"
#include "hsmadm/x509util.h"

static size_t
frame(uint8_t *buf, const char *json)
{
	size_t n = strlen(json);

	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	memcpy(buf + 4, json, n);
	return n + 4;
}

static void
test_frame_parse_ok_and_partial(void **state)
{
	uint8_t buf[256];
	size_t n, used = 0;
	json_t *m = NULL;

	(void)state;
	n = frame(buf, "{\"id\":1,\"op\":\"hello\",\"params\":{}}");
	assert_int_equal(modproto_frame_parse(buf, n, &used, &m), HSM_OK);
	assert_int_equal(used, n);
	assert_true(json_is_object(m));
	json_decref(m);
	/* Fewer bytes than the frame: more needed, nothing parsed. */
	assert_int_equal(modproto_frame_parse(buf, 3, &used, &m), HSM_ERR_NOT_FOUND);
	assert_int_equal(modproto_frame_parse(buf, n - 1, &used, &m), HSM_ERR_NOT_FOUND);
	assert_null(m);
	assert_int_equal(used, 0);
}

static void
test_frame_parse_bad(void **state)
{
	uint8_t buf[64] = { 0 };
	size_t used;
	json_t *m = NULL;

	(void)state;
	/* zero length */
	assert_int_equal(modproto_frame_parse(buf, 8, &used, &m), HSM_ERR_FORMAT);
	/* 1 MiB + 1 */
	buf[0] = 0; buf[1] = 0x10; buf[2] = 0; buf[3] = 1;
	assert_int_equal(modproto_frame_parse(buf, 8, &used, &m), HSM_ERR_FORMAT);
	/* garbage, a non-object, trailing bytes, a real number */
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "{nope"), &used, &m), HSM_ERR_FORMAT);
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "[1,2]"), &used, &m), HSM_ERR_FORMAT);
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "{}x"), &used, &m), HSM_ERR_FORMAT);
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "{\"a\":1.5}"), &used, &m), HSM_ERR_FORMAT);
	assert_int_equal(modproto_frame_parse(buf, frame(buf, "{\"a\":1,\"a\":2}"), &used, &m), HSM_ERR_FORMAT);
	assert_null(m);
}

/* A frame's JSON must be the canonical form (RFC 8785): the same message has
 * one spelling on the wire. Each of these parses, but is spelled otherwise. */
static void
test_frame_not_canonical(void **state)
{
	static const char *const bad[] = {
		"{\"id\": 1,\"op\":\"hello\",\"params\":{}}",        /* a space */
		"{\"op\":\"hello\",\"id\":1,\"params\":{}}",         /* keys not sorted */
		"{\"id\":1,\"op\":\"h\\u0065llo\",\"params\":{}}",   /* needless escape */
		"{\"id\":1,\"op\":\"hello\",\"params\":{}}\n",      /* trailing newline */
		"\t{\"id\":1,\"op\":\"hello\",\"params\":{}}",      /* leading tab */
		"{\"id\":-0,\"op\":\"hello\",\"params\":{}}",        /* -0 */
	};
	uint8_t buf[128];
	size_t used;
	json_t *m = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hsm_rc rc = modproto_frame_parse(buf, frame(buf, bad[i]), &used, &m);
		if (rc != HSM_ERR_FORMAT)
			fail_msg("accepted a non-canonical frame: %s", bad[i]);
		assert_null(m);
		assert_non_null(strstr(hsm_errmsg(), "canonical"));
	}
	/* Its canonical twin is accepted. */
	assert_int_equal(modproto_frame_parse(buf, frame(buf,
	    "{\"id\":1,\"op\":\"hello\",\"params\":{}}"), &used, &m), HSM_OK);
	json_decref(m);
}

static void
test_request_parse(void **state)
{
	const char *bad[] = {
		"{\"op\":\"hello\",\"params\":{}}",
		"{\"id\":-1,\"op\":\"hello\",\"params\":{}}",
		"{\"id\":\"1\",\"op\":\"hello\",\"params\":{}}",
		"{\"id\":1,\"params\":{}}",
		"{\"id\":1,\"op\":\"\",\"params\":{}}",
		"{\"id\":1,\"op\":\"hello\"}",
		"{\"id\":1,\"op\":\"hello\",\"params\":[]}",
		"{\"id\":1,\"op\":\"hello\",\"params\":{},\"x\":1}",
	};
	modproto_request r;
	json_t *m;
	size_t i;

	(void)state;
	m = json_loads("{\"id\":7,\"op\":\"domain.query\",\"params\":{\"domain\":3}}", 0, NULL);
	assert_int_equal(modproto_request_parse(m, &r), HSM_OK);
	assert_int_equal(r.id, 7);
	assert_string_equal(r.op, "domain.query");
	assert_int_equal(json_integer_value(json_object_get(r.params, "domain")), 3);
	json_decref(m);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = json_loads(bad[i], 0, NULL);
		assert_non_null(m);
		assert_int_equal(modproto_request_parse(m, &r), HSM_ERR_FORMAT);
		json_decref(m);
	}
}

static void
test_answers(void **state)
{
	json_t *a = NULL, *res = NULL, *r = NULL;
	char *reason = NULL;

	(void)state;
	res = json_pack("{s:i}", "x", 1);
	assert_int_equal(modproto_answer_ok(5, res, &a), HSM_OK);
	assert_int_equal(modproto_answer_check(a, 5, &r, &reason), HSM_OK);
	assert_true(json_equal(r, res));
	assert_null(reason);
	json_decref(r);
	/* wrong id */
	assert_int_equal(modproto_answer_check(a, 6, &r, NULL), HSM_ERR_MODULE);
	json_decref(a);
	json_decref(res);

	assert_int_equal(modproto_answer_err(5, MODPROTO_E_REPLAY, "counter_mismatch",
	                                     "already applied", &a), HSM_OK);
	assert_int_equal(modproto_answer_check(a, 5, &r, &reason), HSM_ERR_REPLAY);
	assert_string_equal(reason, "counter_mismatch");
	assert_non_null(strstr(hsm_errmsg(), "already applied"));
	free(reason);
	json_decref(a);
	/* id -1: the module could not read the request */
	assert_int_equal(modproto_answer_err(-1, MODPROTO_E_TOO_LARGE, "too_large", "big", &a), HSM_OK);
	assert_int_equal(modproto_answer_check(a, 9, &r, NULL), HSM_ERR_FORMAT);
	json_decref(a);
	/* malformed answers */
	a = json_loads("{\"id\":1,\"ok\":true}", 0, NULL);
	assert_int_equal(modproto_answer_check(a, 1, &r, NULL), HSM_ERR_MODULE);
	json_decref(a);
	a = json_loads("{\"id\":1,\"ok\":false,\"error\":{\"code\":\"x\"}}", 0, NULL);
	assert_int_equal(modproto_answer_check(a, 1, &r, NULL), HSM_ERR_MODULE);
	json_decref(a);
}

static void
test_request_new_and_codes(void **state)
{
	json_t *m = NULL, *p = json_pack("{s:i}", "domain", 2);
	modproto_request r;
	int c;

	(void)state;
	assert_int_equal(modproto_request_new(3, "domain.query", p, &m), HSM_OK);
	assert_int_equal(modproto_request_parse(m, &r), HSM_OK);
	assert_int_equal(r.id, 3);
	json_decref(m);
	json_decref(p);
	assert_int_equal(modproto_request_new(4, "hello", NULL, &m), HSM_OK);
	assert_int_equal(json_object_size(json_object_get(m, "params")), 0);
	json_decref(m);
	assert_int_equal(modproto_request_new(-1, "hello", NULL, &m), HSM_ERR_USAGE);
	/* every wire code maps to a distinct meaning and back */
	for (c = MODPROTO_E_BAD_REQUEST; c <= MODPROTO_E_TOO_LARGE; c++)
		assert_int_not_equal(modproto_rc_from_code(c), HSM_OK);
	assert_int_equal(modproto_rc_from_code(999), HSM_ERR_MODULE);
	assert_int_equal(modproto_code_from_rc(HSM_ERR_QUORUM), MODPROTO_E_QUORUM);
	assert_int_equal(modproto_rc_from_code(modproto_code_from_rc(HSM_ERR_EXPIRED)), HSM_ERR_EXPIRED);
}

/* ---- over real TLS, in process ------------------------------------------ */

typedef struct tlsfx {
	char     dir[64];
	char     ca[96], ca2[96], srv_cert[96], srv_key[96], cli_cert[96], cli_key[96];
	SSL_CTX *sctx;
	int      lfd, port;
	int      mode;      /* what the server thread does after the handshake */
	hsm_rc   srv_rc;
	long long srv_ms;   /* how long tls_accept took */
} tlsfx;

enum { SRV_ECHO = 0, SRV_HUGE, SRV_TRUNCATED, SRV_SLOW_HS };

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
save_key(const char *path, EVP_PKEY *k)
{
	assert_int_equal(crypto_priv_save_pem(path, k), HSM_OK);
}

static int
tls_setup(void **state)
{
	tlsfx *f = calloc(1, sizeof(*f));
	EVP_PKEY *cak, *ca2k, *sk, *ck, *cck;
	X509 *ca, *ca2, *sc, *cc, *ccc;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char cca[96];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_modproto.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", f->dir);
	snprintf(f->ca2, sizeof(f->ca2), "%s/ca2.pem", f->dir);
	snprintf(f->srv_cert, sizeof(f->srv_cert), "%s/srv.pem", f->dir);
	snprintf(f->srv_key, sizeof(f->srv_key), "%s/srv.key", f->dir);
	snprintf(f->cli_cert, sizeof(f->cli_cert), "%s/cli.pem", f->dir);
	snprintf(f->cli_key, sizeof(f->cli_key), "%s/cli.key", f->dir);
	snprintf(cca, sizeof(cca), "%s/cca.pem", f->dir);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &cak), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &ca2k), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &sk), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &ck), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &cck), HSM_OK);
	assert_int_equal(x509u_issue(X509U_MODULE_CA, "CA", NULL, cak, NULL, cak, 5, &ca), HSM_OK);
	assert_int_equal(x509u_issue(X509U_MODULE_CA, "CA2", NULL, ca2k, NULL, ca2k, 5, &ca2), HSM_OK);
	assert_int_equal(x509u_issue(X509U_TLS_SERVER, "M1", "M1", sk, ca, cak, 5, &sc), HSM_OK);
	assert_int_equal(x509u_issue(X509U_CLIENT_CA, "CCA", NULL, cck, NULL, cck, 5, &ccc), HSM_OK);
	assert_int_equal(x509u_issue(X509U_CLIENT, "ws", NULL, ck, ccc, cck, 5, &cc), HSM_OK);
	assert_int_equal(x509u_save_pem(f->ca, ca), HSM_OK);
	assert_int_equal(x509u_save_pem(f->ca2, ca2), HSM_OK);
	assert_int_equal(x509u_save_pem(f->srv_cert, sc), HSM_OK);
	assert_int_equal(x509u_save_pem(f->cli_cert, cc), HSM_OK);
	assert_int_equal(x509u_save_pem(cca, ccc), HSM_OK);
	save_key(f->srv_key, sk);
	save_key(f->cli_key, ck);
	assert_int_equal(tlsctx_server_new(f->srv_cert, f->srv_key, cca, &f->sctx), HSM_OK);
	EVP_PKEY_free(cak); EVP_PKEY_free(ca2k); EVP_PKEY_free(sk); EVP_PKEY_free(ck); EVP_PKEY_free(cck);
	X509_free(ca); X509_free(ca2); X509_free(sc); X509_free(cc); X509_free(ccc);

	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
	f->port = ntohs(sa.sin_port);
	*state = f;
	return 0;
}

static int
tls_teardown(void **state)
{
	tlsfx *f = *state;
	char cmd[96];

	close(f->lfd);
	tlsctx_free(&f->sctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* One connection: handshake, then per mode: echo one frame, send a huge
 * header, or send half a frame and close. */
static void *
server_main(void *p)
{
	tlsfx *f = p;
	tls_conn *c = NULL;
	int fd = accept(f->lfd, NULL, NULL);
	char *buf = NULL;
	size_t len = 0;

	long long t0 = mono_ms();

	f->srv_rc = tls_accept(f->sctx, fd, f->mode == SRV_SLOW_HS ? 1000 : 5000, &c);
	f->srv_ms = mono_ms() - t0;
	if (f->srv_rc != HSM_OK)
		return NULL;
	if (f->mode == SRV_ECHO) {
		f->srv_rc = modproto_read_frame(tls_conn_ssl(c), &buf, &len);
		if (f->srv_rc == HSM_OK)
			f->srv_rc = modproto_write_frame(tls_conn_ssl(c), buf, len);
		free(buf);
	} else if (f->mode == SRV_HUGE) {
		const unsigned char hdr[4] = { 0x00, 0x20, 0x00, 0x00 };
		size_t w;
		SSL_write_ex(tls_conn_ssl(c), hdr, 4, &w);
	} else {
		const unsigned char half[10] = { 0, 0, 0, 100, '{', '"', 'a', '"', ':', '1' };
		size_t w;
		SSL_write_ex(tls_conn_ssl(c), half, sizeof(half), &w);
	}
	tls_conn_free(&c);
	return NULL;
}

static hsm_rc
client(tlsfx *f, const char *ca, const char *serial, tls_conn **out)
{
	SSL_CTX *ctx = NULL;
	char addr[32];
	hsm_rc rc;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	assert_int_equal(tlsctx_client_new(ca, f->cli_cert, f->cli_key, &ctx), HSM_OK);
	rc = tls_connect(ctx, addr, serial, 5000, out);
	tlsctx_free(&ctx);
	return rc;
}

static void
test_tls_roundtrip(void **state)
{
	tlsfx *f = *state;
	pthread_t th;
	tls_conn *c = NULL;
	json_t *m = json_pack("{s:i, s:s, s:{}}", "id", 1, "op", "hello", "params"), *back = NULL;

	f->mode = SRV_ECHO;
	pthread_create(&th, NULL, server_main, f);
	assert_int_equal(client(f, f->ca, "M1", &c), HSM_OK);
	assert_int_equal(modproto_send(tls_conn_ssl(c), m), HSM_OK);
	assert_int_equal(modproto_recv(tls_conn_ssl(c), &back), HSM_OK);
	assert_true(json_equal(m, back));
	/* The server closed after one frame: a clean end. */
	json_decref(back);
	back = NULL;
	assert_int_equal(modproto_recv(tls_conn_ssl(c), &back), HSM_ERR_NOT_FOUND);
	tls_conn_free(&c);
	assert_null(c);
	pthread_join(th, NULL);
	assert_int_equal(f->srv_rc, HSM_OK);
	json_decref(m);
}

static void
test_tls_refusals(void **state)
{
	tlsfx *f = *state;
	pthread_t th;
	tls_conn *c = NULL;
	SSL_CTX *ctx = NULL;

	/* Another serial than the certificate names. */
	f->mode = SRV_ECHO;
	pthread_create(&th, NULL, server_main, f);
	assert_int_equal(client(f, f->ca, "M2", &c), HSM_ERR_TRUST);
	assert_non_null(strstr(hsm_errmsg(), "M1, not M2"));
	assert_null(c);
	pthread_join(th, NULL);
	/* A CA that did not issue the server certificate. */
	pthread_create(&th, NULL, server_main, f);
	assert_int_equal(client(f, f->ca2, "M1", &c), HSM_ERR_TRUST);
	pthread_join(th, NULL);
	/* Nobody listening; bad addresses. */
	assert_int_equal(tlsctx_client_new(f->ca, f->cli_cert, f->cli_key, &ctx), HSM_OK);
	{
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		char addr[32];
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
		close(s);   /* bound, never listened, now closed: refused */
		assert_int_equal(tls_connect(ctx, addr, "M1", 2000, &c), HSM_ERR_MODULE);
	}
	assert_int_equal(tls_connect(ctx, "127.0.0.1", "M1", 2000, &c), HSM_ERR_USAGE);
	assert_int_equal(tls_connect(ctx, "127.0.0.1:99999", "M1", 2000, &c), HSM_ERR_USAGE);
	assert_int_equal(tls_connect(ctx, "[::1:5", "M1", 2000, &c), HSM_ERR_USAGE);
	assert_int_equal(tls_connect(ctx, ":5", "M1", 2000, &c), HSM_ERR_USAGE);
	tlsctx_free(&ctx);
	assert_null(ctx);
	/* Key that does not match the certificate. */
	assert_int_equal(tlsctx_client_new(f->ca, f->cli_cert, f->srv_key, &ctx), HSM_ERR_USAGE);
	assert_int_equal(tlsctx_client_new(f->ca, "/nonexistent.pem", f->cli_key, &ctx), HSM_ERR_IO);
}

static void
test_tls_bad_frames(void **state)
{
	tlsfx *f = *state;
	pthread_t th;
	tls_conn *c = NULL;
	char *buf = NULL;
	size_t len = 0;

	f->mode = SRV_HUGE;
	pthread_create(&th, NULL, server_main, f);
	assert_int_equal(client(f, f->ca, "M1", &c), HSM_OK);
	assert_int_equal(modproto_read_frame(tls_conn_ssl(c), &buf, &len), HSM_ERR_FORMAT);
	assert_null(buf);
	tls_conn_free(&c);
	pthread_join(th, NULL);

	f->mode = SRV_TRUNCATED;
	pthread_create(&th, NULL, server_main, f);
	assert_int_equal(client(f, f->ca, "M1", &c), HSM_OK);
	assert_int_equal(modproto_read_frame(tls_conn_ssl(c), &buf, &len), HSM_ERR_MODULE);
	assert_null(buf);
	/* Writing an impossible frame is refused before anything is sent. */
	assert_int_equal(modproto_write_frame(tls_conn_ssl(c), "", 0), HSM_ERR_USAGE);
	tls_conn_free(&c);
	pthread_join(th, NULL);
}

/* A peer that sends its handshake one byte at a time, each well within the
 * per-read timeout: the handshake still ends at its deadline (1 s here),
 * not when the peer gives up (4 s). Before the deadline, tls_accept waited
 * as long as bytes kept trickling in, holding a connection slot. */
static void
test_tls_handshake_deadline(void **state)
{
	tlsfx *f = *state;
	const unsigned char rec[5] = { 0x16, 0x03, 0x01, 0x02, 0x00 };   /* 512-byte record */
	struct sockaddr_in sa;
	pthread_t th;
	long long t0;
	int s;

	f->mode = SRV_SLOW_HS;
	pthread_create(&th, NULL, server_main, f);
	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)f->port);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(s, rec, sizeof(rec), MSG_NOSIGNAL), (ssize_t)sizeof(rec));
	t0 = mono_ms();
	while (mono_ms() - t0 < 4000 && send(s, "\1", 1, MSG_NOSIGNAL) == 1)
		usleep(300 * 1000);
	close(s);
	pthread_join(th, NULL);
	assert_int_equal(f->srv_rc, HSM_ERR_TIMEOUT);
	assert_true(f->srv_ms < 2000);
}

/* The module reads a frame whose JSON is not canonical as a refusal. */
static void
test_tls_frame_not_canonical(void **state)
{
	tlsfx *f = *state;
	static const char spaced[] = "{\"id\":1, \"op\":\"hello\",\"params\":{}}";
	pthread_t th;
	tls_conn *c = NULL;

	f->mode = SRV_ECHO;
	pthread_create(&th, NULL, server_main, f);
	assert_int_equal(client(f, f->ca, "M1", &c), HSM_OK);
	assert_int_equal(modproto_write_frame(tls_conn_ssl(c), spaced, strlen(spaced)), HSM_OK);
	pthread_join(th, NULL);
	assert_int_equal(f->srv_rc, HSM_ERR_FORMAT);
	tls_conn_free(&c);
}

int
main(void)
{
	/* The refusal tests close connections under a writing peer; as in every
	 * hsmadm program that talks TLS, a dead peer must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_parse_ok_and_partial),
		cmocka_unit_test(test_frame_parse_bad),
		cmocka_unit_test(test_frame_not_canonical),
		cmocka_unit_test(test_request_parse),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_request_new_and_codes),
		cmocka_unit_test_setup_teardown(test_tls_roundtrip, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(test_tls_refusals, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(test_tls_bad_frames, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(test_tls_handshake_deadline, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(test_tls_frame_not_canonical, tls_setup, tls_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
