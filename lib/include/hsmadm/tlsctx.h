/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsctx.h - TLS 1.3 with mutual authentication between workstations and
 * crypto modules (DESIGN §7, invariant 4).
 *
 * Server (the module): presents its TLS certificate, requires a client
 * certificate and verifies it against the client CA file it was given.
 * Client (the workstation): presents its client certificate, verifies the
 * server chain against a pinned CA file (the module CA) and then checks that
 * the server certificate's subject serialNumber attribute (OID 2.5.4.5)
 * equals the module serial it meant to reach. Only TLS 1.3 is offered.
 *
 * Certificates and keys are PEM files. Errors: HSM_ERR_IO (file), HSM_ERR_TLS
 * (handshake, protocol), HSM_ERR_TRUST (chain or serial does not match),
 * HSM_ERR_TIMEOUT (connect/handshake too slow), HSM_ERR_MODULE (connect
 * refused).
 */
#ifndef HSMADM_TLSCTX_H
#define HSMADM_TLSCTX_H

#include <openssl/ssl.h>
#include "hsmadm/err.h"

/* Module side. */
hsm_rc tlsctx_server_new(const char *cert_pem, const char *key_pem,
                         const char *client_ca_pem, SSL_CTX **out);
/* Workstation side. */
hsm_rc tlsctx_client_new(const char *pinned_ca_pem, const char *cert_pem,
                         const char *key_pem, SSL_CTX **out);
/* The workstation's certificate and key with no CA trusted: one context for
 * connections to modules pinned to different CAs, each bringing its pin
 * (tls_connect_pinned); without one, every chain is refused. A context
 * costs more CPU than a handshake, a pin one PEM read. */
hsm_rc tlsctx_client_identity_new(const char *cert_pem, const char *key_pem, SSL_CTX **out);
/* The certificates of a PEM CA file as a trust store: a module's pin. Free
 * it with X509_STORE_free. */
hsm_rc tlsctx_pin_load(const char *ca_pem, X509_STORE **out);
void   tlsctx_free(SSL_CTX **ctx);

/* A connected, handshaken TLS session plus its socket. */
typedef struct tls_conn tls_conn;

/* Connect to "host:port" (IPv4/IPv6 literal or name; "[::1]:port" form too),
 * handshake, verify the chain and the expected module serial (NULL: chain
 * only). timeout_ms bounds the connect, the whole handshake (a deadline:
 * a peer that sends its part one byte at a time does not stretch it), and
 * each later socket read/write (0 = 30 s). */
hsm_rc tls_connect(SSL_CTX *ctx, const char *hostport, const char *expect_serial,
                   int timeout_ms, tls_conn **out);
/* tls_connect trusting only pin's CAs, not the context's (pin NULL: the
 * context's). */
hsm_rc tls_connect_pinned(SSL_CTX *ctx, X509_STORE *pin, const char *hostport,
                          const char *expect_serial, int timeout_ms, tls_conn **out);
/* Server side: wrap an accepted socket (takes the fd) and handshake, all of
 * it within timeout_ms (HSM_ERR_TIMEOUT); later reads time out after
 * timeout_ms each, until the caller sets its own (0 = 30 s). */
hsm_rc tls_accept(SSL_CTX *ctx, int fd, int timeout_ms, tls_conn **out);
SSL   *tls_conn_ssl(tls_conn *c);
int    tls_conn_fd(tls_conn *c);
/* The peer certificate's subject CN / serialNumber into buf ("" if none). */
hsm_rc tls_conn_peer_name(tls_conn *c, char *buf, size_t n);
/* Shut down TLS, close the socket, free, set *c to NULL. NULL-safe. */
void   tls_conn_free(tls_conn **c);

/* Check that cert's subject serialNumber equals serial (HSM_ERR_TRUST). */
hsm_rc tlsctx_check_serial(X509 *cert, const char *serial);

#endif
