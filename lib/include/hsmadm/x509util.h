/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * x509util.h - the few X.509 certificates hsmadm issues itself: a module CA,
 * a module's OA (outbound authentication) certificate, a module's TLS server
 * certificate, a rehearsal client CA and workstation client certificates.
 * All keys are EC (P-384 unless the caller passes another key); certificates
 * are signed with the curve's digest.
 *
 * Subjects: CN = the given name; the module serial, when given, goes in the
 * serialNumber attribute (OID 2.5.4.5), which tlsctx and receipt check; OU
 * names the role ("hsmadm module CA", "hsmadm OA", "hsmadm TLS server",
 * "hsmadm client CA", "hsmadm client").
 */
#ifndef HSMADM_X509UTIL_H
#define HSMADM_X509UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "hsmadm/err.h"

typedef enum x509u_kind {
	X509U_MODULE_CA = 1,  /* CA:TRUE, keyCertSign */
	X509U_OA,             /* digitalSignature, serialNumber = module */
	X509U_TLS_SERVER,     /* digitalSignature, EKU serverAuth, SAN localhost + 127.0.0.1 + ::1 */
	X509U_CLIENT_CA,      /* CA:TRUE, keyCertSign */
	X509U_CLIENT          /* digitalSignature, EKU clientAuth */
} x509u_kind;

#define X509U_OU_MODULE_CA  "hsmadm module CA"
#define X509U_OU_OA         "hsmadm OA"
#define X509U_OU_TLS_SERVER "hsmadm TLS server"
#define X509U_OU_CLIENT_CA  "hsmadm client CA"
#define X509U_OU_CLIENT     "hsmadm client"

/* Issue a certificate for pub, signed by issuer_key. CAs are self-signed:
 * pass issuer NULL and the CA's own private key as both pub and issuer_key.
 * serial may be NULL (no serialNumber attribute). Valid from one hour ago
 * (clock skew) for days days. */
hsm_rc x509u_issue(x509u_kind kind, const char *cn, const char *serial,
                   EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key,
                   int days, X509 **out);

hsm_rc x509u_load_pem(const char *path, X509 **out);
/* The first certificate of a PEM file (a pinned CA), decoded once per
 * process for each distinct file content: copies of one CA pinned for many
 * modules cost one decoding. A new reference (X509_free). HSM_ERR_IO (no
 * file), HSM_ERR_FORMAT (no PEM certificate). */
hsm_rc x509u_load_pem_shared(const char *path, X509 **out);
hsm_rc x509u_save_pem(const char *path, X509 *cert);       /* mode 0644, atomic */
hsm_rc x509u_to_der(X509 *cert, uint8_t **out, size_t *outlen);
hsm_rc x509u_from_der(const uint8_t *der, size_t n, X509 **out);
hsm_rc x509u_to_pem(X509 *cert, char **out);

/* Subject attributes into buf (NUL-terminated). HSM_ERR_NOT_FOUND if absent. */
hsm_rc x509u_subject_serial(X509 *cert, char *buf, size_t n);
hsm_rc x509u_subject_ou(X509 *cert, char *buf, size_t n);
hsm_rc x509u_subject_cn(X509 *cert, char *buf, size_t n);

/* Check cert is signed by ca (one level, as our chains are) and valid now.
 * HSM_ERR_TRUST if not. */
hsm_rc x509u_verify_issued_by(X509 *cert, X509 *ca);

/* SHA-256 of the DER, for fingerprints people compare. */
hsm_rc x509u_fingerprint(X509 *cert, uint8_t out[32]);

#endif
