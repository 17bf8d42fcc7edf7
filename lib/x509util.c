/* SPDX-License-Identifier: BSD-2-Clause */
/* x509util.c - issue and inspect the few certificates hsmadm makes itself. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsmadm/fileio.h"
#include "hsmadm/x509util.h"

static const char *
kind_ou(x509u_kind kind)
{
	switch (kind) {
	case X509U_MODULE_CA:  return X509U_OU_MODULE_CA;
	case X509U_OA:         return X509U_OU_OA;
	case X509U_TLS_SERVER: return X509U_OU_TLS_SERVER;
	case X509U_CLIENT_CA:  return X509U_OU_CLIENT_CA;
	case X509U_CLIENT:     return X509U_OU_CLIENT;
	}
	return NULL;
}

/* The digest that goes with the signing key's curve (ECDSA). */
static const EVP_MD *
key_md(EVP_PKEY *k)
{
	int bits = EVP_PKEY_get_bits(k);

	if (bits > 384)
		return EVP_sha512();
	if (bits > 256)
		return EVP_sha384();
	return EVP_sha256();
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

hsm_rc
x509u_issue(x509u_kind kind, const char *cn, const char *serial,
            EVP_PKEY *pub, X509 *issuer, EVP_PKEY *issuer_key,
            int days, X509 **out)
{
	X509 *cert = NULL;
	X509_NAME *name = NULL;
	ASN1_INTEGER *sn = NULL;
	unsigned char rnd[16];
	BIGNUM *bn = NULL;
	const char *ou = kind_ou(kind);
	int is_ca = (kind == X509U_MODULE_CA || kind == X509U_CLIENT_CA);
	hsm_rc rc = HSM_ERR_CRYPTO;

	*out = NULL;
	if (ou == NULL || cn == NULL || *cn == '\0' || pub == NULL ||
	    issuer_key == NULL || days <= 0)
		return hsm_fail(HSM_ERR_USAGE, "x509u_issue: bad arguments");
	if (is_ca != (issuer == NULL))
		return hsm_fail(HSM_ERR_USAGE, "x509u_issue: CAs are self-signed, others need an issuer");

	if ((cert = X509_new()) == NULL)
		goto crypto;
	if (!X509_set_version(cert, 2))
		goto crypto;
	/* 127-bit random serial number: unique without a counter file. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto crypto;
	rnd[0] &= 0x7f;
	rnd[0] |= 0x01;
	if ((bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_set_serialNumber(cert, sn))
		goto crypto;
	/* An hour of slack for clocks that disagree a little. */
	if (X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) == NULL)
		goto crypto;
	if (!X509_set_pubkey(cert, pub))
		goto crypto;

	if ((name = X509_NAME_new()) == NULL)
		goto crypto;
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	                                (const unsigned char *)"hsmadm", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
	                                (const unsigned char *)ou, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                                (const unsigned char *)cn, -1, -1, 0))
		goto crypto;
	if (serial != NULL &&
	    !X509_NAME_add_entry_by_NID(name, NID_serialNumber, MBSTRING_ASC,
	                                (const unsigned char *)serial, -1, -1, 0)) {
		rc = hsm_fail(HSM_ERR_USAGE, "module serial \"%s\" cannot go in a certificate", serial);
		goto out;
	}
	if (!X509_set_subject_name(cert, name))
		goto crypto;
	if (!X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name))
		goto crypto;

	if (!add_ext(cert, issuer, NID_subject_key_identifier, "hash"))
		goto crypto;
	if (issuer != NULL && !add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always"))
		goto crypto;
	switch (kind) {
	case X509U_MODULE_CA:
	case X509U_CLIENT_CA:
		if (!add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
		    !add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign"))
			goto crypto;
		break;
	case X509U_OA:
		if (!add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    !add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature,nonRepudiation"))
			goto crypto;
		break;
	case X509U_TLS_SERVER:
		if (!add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    !add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature") ||
		    !add_ext(cert, issuer, NID_ext_key_usage, "serverAuth") ||
		    !add_ext(cert, issuer, NID_subject_alt_name,
		             "DNS:localhost,IP:127.0.0.1,IP:::1"))
			goto crypto;
		break;
	case X509U_CLIENT:
		if (!add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    !add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature") ||
		    !add_ext(cert, issuer, NID_ext_key_usage, "clientAuth"))
			goto crypto;
		break;
	}
	if (X509_sign(cert, issuer_key, key_md(issuer_key)) <= 0)
		goto crypto;
	*out = cert;
	cert = NULL;
	rc = HSM_OK;
	goto out;
crypto:
	rc = hsm_fail(HSM_ERR_CRYPTO, "could not build the %s certificate for \"%s\"", ou ? ou : "?", cn);
out:
	X509_NAME_free(name);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	X509_free(cert);
	return rc;
}

hsm_rc
x509u_load_pem(const char *path, X509 **out)
{
	FILE *f;
	X509 *c;

	*out = NULL;
	if ((f = fopen(path, "r")) == NULL)
		return hsm_fail(HSM_ERR_IO, "cannot open certificate %s: %s", path, strerror(errno));
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (c == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "%s is not a PEM certificate", path);
	*out = c;
	return HSM_OK;
}

/* Pinned CA files, parsed once per distinct content: a group's modules
 * often pin copies of one CA, and decoding a certificate (its key through
 * OpenSSL's decoders) costs far more than reading its file. Lives as long
 * as the process; a full table only means more parsing. */
#define PEM_MEMO_MAX 16
#define PEM_FILE_MAX (64 * 1024)
static pthread_mutex_t pem_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint8_t digest[32];
	X509   *cert;
} pem_memo[PEM_MEMO_MAX];
static size_t pem_nmemo;

/* Caller holds pem_lock: a new reference to the memo's certificate. */
static X509 *
pem_memo_find(const uint8_t digest[32])
{
	size_t i;

	for (i = 0; i < pem_nmemo; i++)
		if (memcmp(pem_memo[i].digest, digest, 32) == 0 &&
		    X509_up_ref(pem_memo[i].cert) == 1)
			return pem_memo[i].cert;
	return NULL;
}

hsm_rc
x509u_load_pem_shared(const char *path, X509 **out)
{
	char *data = NULL;
	uint8_t digest[32];
	size_t n = 0;
	X509 *c = NULL;
	BIO *bio = NULL;
	hsm_rc rc;

	*out = NULL;
	if ((rc = hsm_file_read(path, PEM_FILE_MAX, &data, &n)) != HSM_OK)
		return hsm_fail_wrap(rc == HSM_ERR_NOT_FOUND ? HSM_ERR_IO : rc, "certificate");
	if (EVP_Digest(data, n, digest, NULL, EVP_sha256(), NULL) != 1) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot hash %s", path);
		goto out;
	}
	/* Parsed under the lock: the threads that open a group's modules at
	 * once would otherwise all parse the same content. */
	pthread_mutex_lock(&pem_lock);
	if ((c = pem_memo_find(digest)) != NULL)
		goto unlock;
	if ((bio = BIO_new_mem_buf(data, (int)n)) == NULL ||
	    (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		pthread_mutex_unlock(&pem_lock);
		rc = hsm_fail(HSM_ERR_FORMAT, "%s is not a PEM certificate", path);
		goto out;
	}
	if (pem_nmemo < PEM_MEMO_MAX && X509_up_ref(c) == 1) {
		memcpy(pem_memo[pem_nmemo].digest, digest, 32);
		pem_memo[pem_nmemo++].cert = c;   /* the memo's reference */
	}
unlock:
	pthread_mutex_unlock(&pem_lock);
	*out = c;
	c = NULL;
	rc = HSM_OK;
out:
	X509_free(c);
	BIO_free(bio);
	free(data);
	return rc;
}

hsm_rc
x509u_save_pem(const char *path, X509 *cert)
{
	BIO *bio = NULL;
	char *data = NULL;
	long len;
	hsm_rc rc;

	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(bio, cert) != 1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot encode the certificate for %s", path);
		goto out;
	}
	/* A certificate is public: readable by all, as before. */
	rc = hsm_file_replace(path, data, (size_t)len, 0644);
out:
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

hsm_rc
x509u_to_der(X509 *cert, uint8_t **out, size_t *outlen)
{
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);

	*out = NULL;
	if (n <= 0)
		return hsm_fail(HSM_ERR_CRYPTO, "cannot encode a certificate");
	*out = malloc((size_t)n);
	if (*out == NULL) {
		OPENSSL_free(der);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	memcpy(*out, der, (size_t)n);
	*outlen = (size_t)n;
	OPENSSL_free(der);
	return HSM_OK;
}

hsm_rc
x509u_from_der(const uint8_t *der, size_t n, X509 **out)
{
	const unsigned char *p = der;
	X509 *c;

	*out = NULL;
	if (n == 0 || n > 65536)
		return hsm_fail(HSM_ERR_FORMAT, "certificate has an impossible length (%zu bytes)", n);
	c = d2i_X509(NULL, &p, (long)n);
	if (c == NULL || p != der + n) {
		X509_free(c);
		return hsm_fail(HSM_ERR_FORMAT, "not a DER certificate (or trailing bytes)");
	}
	*out = c;
	return HSM_OK;
}

hsm_rc
x509u_to_pem(X509 *cert, char **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;

	*out = NULL;
	if (b == NULL || PEM_write_bio_X509(b, cert) != 1) {
		BIO_free(b);
		return hsm_fail(HSM_ERR_CRYPTO, "cannot encode a certificate as PEM");
	}
	n = BIO_get_mem_data(b, &p);
	*out = malloc((size_t)n + 1);
	if (*out == NULL) {
		BIO_free(b);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	memcpy(*out, p, (size_t)n);
	(*out)[n] = '\0';
	BIO_free(b);
	return HSM_OK;
}

static hsm_rc
subject_entry(X509 *cert, int nid, const char *what, char *buf, size_t n)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int idx, len;
	X509_NAME_ENTRY *e;
	ASN1_STRING *s;
	unsigned char *utf8 = NULL;

	if (n == 0)
		return hsm_fail(HSM_ERR_USAGE, "subject_entry: empty buffer");
	buf[0] = '\0';
	idx = name ? X509_NAME_get_index_by_NID(name, nid, -1) : -1;
	if (idx < 0)
		return hsm_fail(HSM_ERR_NOT_FOUND, "certificate subject has no %s", what);
	/* Exactly one: a second value would make "the" serial ambiguous. */
	if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0)
		return hsm_fail(HSM_ERR_FORMAT, "certificate subject has more than one %s", what);
	e = X509_NAME_get_entry(name, idx);
	s = X509_NAME_ENTRY_get_data(e);
	len = ASN1_STRING_to_UTF8(&utf8, s);
	if (len < 0)
		return hsm_fail(HSM_ERR_FORMAT, "certificate subject %s is not text", what);
	if ((size_t)len >= n || memchr(utf8, '\0', (size_t)len) != NULL) {
		OPENSSL_free(utf8);
		return hsm_fail(HSM_ERR_FORMAT, "certificate subject %s is too long or has a NUL", what);
	}
	memcpy(buf, utf8, (size_t)len);
	buf[len] = '\0';
	OPENSSL_free(utf8);
	return HSM_OK;
}

hsm_rc
x509u_subject_serial(X509 *cert, char *buf, size_t n)
{
	return subject_entry(cert, NID_serialNumber, "serialNumber (module serial)", buf, n);
}

hsm_rc
x509u_subject_ou(X509 *cert, char *buf, size_t n)
{
	return subject_entry(cert, NID_organizationalUnitName, "OU", buf, n);
}

hsm_rc
x509u_subject_cn(X509 *cert, char *buf, size_t n)
{
	return subject_entry(cert, NID_commonName, "CN", buf, n);
}

hsm_rc
x509u_verify_issued_by(X509 *cert, X509 *ca)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	hsm_rc rc;
	int ok;

	if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot set up certificate verification");
		goto out;
	}
	/* Our chains are CA -> leaf; the pinned CA is the only trust anchor. */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	ok = X509_verify_cert(ctx);
	if (ok != 1) {
		int err = X509_STORE_CTX_get_error(ctx);
		rc = hsm_fail(HSM_ERR_TRUST, "certificate does not chain to the pinned CA: %s",
		              X509_verify_cert_error_string(err));
		goto out;
	}
	/* A self-signed leaf equal to the CA would verify against itself;
	 * insist on a certificate the CA issued. */
	if (X509_cmp(cert, ca) == 0) {
		rc = hsm_fail(HSM_ERR_TRUST, "certificate is the CA itself, not one it issued");
		goto out;
	}
	rc = HSM_OK;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

hsm_rc
x509u_fingerprint(X509 *cert, uint8_t out[32])
{
	unsigned int n = 32;

	if (X509_digest(cert, EVP_sha256(), out, &n) != 1 || n != 32)
		return hsm_fail(HSM_ERR_CRYPTO, "cannot fingerprint a certificate");
	return HSM_OK;
}
