/* SPDX-License-Identifier: BSD-2-Clause */
/* group_trust.c - what a group command pays once instead of once per
 * domain: decoding the admins' public keys, checking the command's
 * signatures against an admin set, reading a pinned module CA and verifying
 * a module's OA certificate chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "group_int.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/receipt.h"
#include "hsmadm/thread.h"
#include "hsmadm/x509util.h"

/* ---- admins' public keys ---- */

void
grp_pkcache_init(struct pkcache *pc)
{
	memset(pc, 0, sizeof(*pc));
	pthread_mutex_init(&pc->lock, NULL);
}

void
grp_pkcache_done(struct pkcache *pc)
{
	size_t i;

	for (i = 0; i < pc->n; i++) {
		EVP_PKEY_free(pc->e[i].pub);
		free(pc->e[i].hex);
	}
	pc->n = 0;
	pthread_mutex_destroy(&pc->lock);
}

static int
pk_lookup(struct pkcache *pc, const char *hex, EVP_PKEY **pub, uint8_t ski[HSM_SKI_LEN])
{
	size_t i;

	for (i = 0; i < pc->n; i++)
		if (strcmp(pc->e[i].hex, hex) == 0 && EVP_PKEY_up_ref(pc->e[i].pub) == 1) {
			*pub = pc->e[i].pub;
			memcpy(ski, pc->e[i].ski, HSM_SKI_LEN);
			return 1;
		}
	return 0;
}

hsm_rc
grp_pubkey_cached(struct pkcache *pc, const char *hex, EVP_PKEY **pub, uint8_t ski[HSM_SKI_LEN])
{
	size_t i;
	hsm_rc rc;
	int hit;

	*pub = NULL;
	if (pc == NULL)
		return admincmd_pubkey_from_hex(hex, pub, ski);
	pthread_mutex_lock(&pc->lock);
	hit = pk_lookup(pc, hex, pub, ski);
	pthread_mutex_unlock(&pc->lock);
	if (hit)
		return HSM_OK;
	/* Decoded outside the lock: other threads may decode the same key at
	 * the same moment; the first one to finish is kept. */
	if ((rc = admincmd_pubkey_from_hex(hex, pub, ski)) != HSM_OK)
		return rc;
	pthread_mutex_lock(&pc->lock);
	for (i = 0; i < pc->n; i++)
		if (strcmp(pc->e[i].hex, hex) == 0)
			break;
	if (i == pc->n && pc->n < PKCACHE_MAX && (pc->e[i].hex = strdup(hex)) != NULL) {
		if (EVP_PKEY_up_ref(*pub) == 1) {
			pc->e[i].pub = *pub;
			memcpy(pc->e[i].ski, ski, HSM_SKI_LEN);
			pc->n++;
		} else {
			free(pc->e[i].hex);
			pc->e[i].hex = NULL;
		}
	}
	pthread_mutex_unlock(&pc->lock);
	return HSM_OK;
}

/* ---- receipts: pinned CAs and OA certificates, once per process ---- */

/* A command run is one process: each pinned CA is decoded once
 * (x509u_load_pem_shared) and each module's OA certificate chain is
 * verified once; later receipts from the same module (the same
 * certificate, byte for byte) only have their signature checked. */
#define TRUST_MAX 64
static pthread_mutex_t trust_lock = PTHREAD_MUTEX_INITIALIZER;
static struct oa_entry {
	char     *ca_path, *serial, *oa_b64;
	EVP_PKEY *pub;
	char      fp[GROUP_HEX32];   /* SHA-256 of the certificate, hex */
} oas[TRUST_MAX];
static size_t noas;

/* Caller holds trust_lock: a certificate verified before, or NULL. */
static const struct oa_entry *
oa_find(const char *ca_path, const char *serial, const char *oa_b64)
{
	size_t i;

	for (i = 0; i < noas; i++)
		if (strcmp(oas[i].ca_path, ca_path) == 0 && strcmp(oas[i].serial, serial) == 0 &&
		    strcmp(oas[i].oa_b64, oa_b64) == 0)
			return &oas[i];
	return NULL;
}

/* Caller holds trust_lock: remember an OA certificate that verified (x,
 * as parsed by the check). */
static void
oa_add(const char *ca_path, const char *serial, const char *oa_b64, X509 *x)
{
	uint8_t fp[32];
	EVP_PKEY *pub;

	if (noas >= TRUST_MAX || x509u_fingerprint(x, fp) != HSM_OK ||
	    (pub = X509_get_pubkey(x)) == NULL)
		goto out;
	hex_encode_buf(fp, 32, oas[noas].fp);
	oas[noas].ca_path = strdup(ca_path);
	oas[noas].serial = strdup(serial);
	oas[noas].oa_b64 = strdup(oa_b64);
	oas[noas].pub = pub;
	if (oas[noas].ca_path && oas[noas].serial && oas[noas].oa_b64)
		noas++;
	else {
		free(oas[noas].ca_path);
		free(oas[noas].serial);
		free(oas[noas].oa_b64);
		EVP_PKEY_free(pub);
	}
out:
	hsm_err_clear();
}

int
grp_oa_fingerprint(const char *ca_path, const char *serial, const char *oa_b64,
                   char hex[GROUP_HEX32])
{
	const struct oa_entry *e;

	pthread_mutex_lock(&trust_lock);
	if ((e = oa_find(ca_path, serial, oa_b64)) != NULL)
		memcpy(hex, e->fp, GROUP_HEX32);
	pthread_mutex_unlock(&trust_lock);
	return e != NULL;
}

hsm_rc
group_oa_trust(const char *ca_path, const char *serial, const char *oa_b64)
{
	uint8_t *der = NULL;
	size_t derlen = 0;
	X509 *x = NULL, *ca = NULL;
	int known;
	hsm_rc rc;

	if (ca_path == NULL || serial == NULL || oa_b64 == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_oa_trust: bad arguments");
	pthread_mutex_lock(&trust_lock);
	known = oa_find(ca_path, serial, oa_b64) != NULL;
	pthread_mutex_unlock(&trust_lock);
	if (known)
		return HSM_OK;
	if (b64_decode(oa_b64, &der, &derlen) != HSM_OK ||
	    x509u_from_der(der, derlen, &x) != HSM_OK) {
		rc = hsm_fail(HSM_ERR_TRUST, "the OA certificate of module %s is not a "
		    "certificate", serial);
		goto out;
	}
	if ((rc = x509u_load_pem_shared(ca_path, &ca)) != HSM_OK ||
	    (rc = receipt_check_oa(x, ca, serial)) != HSM_OK)
		goto out;
	pthread_mutex_lock(&trust_lock);
	if (oa_find(ca_path, serial, oa_b64) == NULL)
		oa_add(ca_path, serial, oa_b64, x);
	pthread_mutex_unlock(&trust_lock);
out:
	free(der);
	X509_free(x);
	X509_free(ca);
	return rc;
}

/* The pinned OA certificates of a group's modules, each checked once. */
static void *
oa_warm_main(void *p)
{
	const struct grp_warm *w = p;
	size_t i, j;

	for (i = 0; i < w->n; i++) {
		const group_member *m = &w->m[i];
		for (j = 0; j < i && strcmp(w->m[j].module, m->module) != 0; j++)
			;
		if (j < i || m->oa_cert == NULL || m->ca_pem == NULL)
			continue;   /* seen, or nothing pinned to check ahead */
		/* One that does not verify is not kept: its receipts get the whole
		 * check, and its message, as before. */
		(void)group_oa_trust(m->ca_pem, m->module, m->oa_cert);
		hsm_err_clear();
	}
	return NULL;
}

int
grp_oa_warm_start(const group_member *m, size_t n, struct grp_warm *w)
{
	w->started = 0;
	w->m = m;
	w->n = n;
	if (hsm_thread_start(&w->th, oa_warm_main, w, 0) != HSM_OK) {
		hsm_err_clear();   /* then each first receipt checks its certificate */
		return 0;
	}
	w->started = 1;
	return 1;
}

void
grp_oa_warm_join(struct grp_warm *w)
{
	if (w->started)
		pthread_join(w->th, NULL);
	w->started = 0;
}

/* The batch signatures verified in this process (receipt.h): the receipts
 * of one module's batch share one. Lives as long as the process. */
static receipt_memo *rmemo;

/* The checks receipt_verify makes that do not depend on the chain, with an
 * OA key verified before. */
static receipt_memo *
memo_get(void)
{
	receipt_memo *memo;

	pthread_mutex_lock(&trust_lock);
	if (rmemo == NULL && receipt_memo_new(&rmemo) != HSM_OK)
		hsm_err_clear();   /* no memo: each signature is checked */
	memo = rmemo;
	pthread_mutex_unlock(&trust_lock);
	return memo;
}

static hsm_rc
verify_known(const json_t *receipt, EVP_PKEY *pub, const json_t **body)
{
	receipt_parts p;
	hsm_rc rc;

	if ((rc = receipt_open(receipt, &p)) != HSM_OK)
		return rc;
	if ((rc = receipt_check_sig(memo_get(), pub, &p)) == HSM_OK)
		*body = p.body;
	receipt_parts_clear(&p);
	return rc;
}

hsm_rc
grp_receipt_verify(const char *ca_path, const char *serial, const json_t *receipt,
                   const json_t **body)
{
	const char *oa64 = json_string_value(json_object_get(receipt, "oa_cert"));
	const char *mod = json_string_value(json_object_get(json_object_get(receipt, "body"),
	    "module"));
	const struct oa_entry *e;
	EVP_PKEY *pub = NULL;
	X509 *ca = NULL, *x = NULL;
	hsm_rc rc;

	*body = NULL;
	if (ca_path == NULL || serial == NULL)
		return hsm_fail(HSM_ERR_USAGE, "receipt check: no pinned CA");
	pthread_mutex_lock(&trust_lock);
	if (oa64 != NULL && mod != NULL && strcmp(mod, serial) == 0 &&
	    (e = oa_find(ca_path, serial, oa64)) != NULL && EVP_PKEY_up_ref(e->pub) == 1)
		pub = e->pub;
	pthread_mutex_unlock(&trust_lock);
	if (pub != NULL) {
		rc = verify_known(receipt, pub, body);
		EVP_PKEY_free(pub);
		return rc;
	}
	/* First receipt of this module in this process: the whole check, the
	 * modules' at the same time. */
	rc = x509u_load_pem_shared(ca_path, &ca);
	if (rc == HSM_OK && (rc = receipt_verify_memo(receipt, ca, serial, memo_get(),
	    body, &x)) == HSM_OK &&
	    oa64 != NULL) {
		pthread_mutex_lock(&trust_lock);
		if (oa_find(ca_path, serial, oa64) == NULL)
			oa_add(ca_path, serial, oa64, x);
		pthread_mutex_unlock(&trust_lock);
	}
	X509_free(x);
	X509_free(ca);
	return rc;
}
