/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evanchor.c - the trust anchors an auditor brings from outside the log (the
 * module CAs and the supervisors' keys, as options or one trust file), and
 * module receipts checked against them with each OA certificate decoded and
 * its chain verified once per run, however many receipts it signed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/ecdsa_lows.h"
#include "hsmadm/evverify.h"
#include "hsmadm/receipt.h"
#include "hsmadm/x509util.h"
#include "evint.h"

#define TRUST_MAX (1024 * 1024)
/* The verifier marks the CAs a log's receipts chained to in a 32-bit set. */
#define CAS_MAX   32

static hsm_rc
add_ca(struct ev_anchors *a, X509 *ca)
{
	void *np;

	if (a->ncas == CAS_MAX) {
		X509_free(ca);
		return hsm_fail(HSM_ERR_USAGE, "more than %d module CAs given; an installation "
		    "has a few", CAS_MAX);
	}
	if ((np = realloc(a->cas, (a->ncas + 1) * sizeof(*a->cas))) == NULL) {
		X509_free(ca);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	a->cas = np;
	a->cas[a->ncas++] = ca;
	return HSM_OK;
}

static hsm_rc
add_pin(struct ev_anchors *a, const uint8_t ski[32])
{
	void *np = realloc(a->pins, (a->npins + 1) * sizeof(*a->pins));

	if (np == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	a->pins = np;
	memcpy(a->pins[a->npins++], ski, 32);
	return HSM_OK;
}

/* A supervisor key file: a PEM public key or a PEM certificate. */
static hsm_rc
load_pin_file(struct ev_anchors *a, const char *path)
{
	X509 *cert = NULL;
	EVP_PKEY *k = NULL;
	uint8_t ski[32];
	FILE *f;
	hsm_rc rc;

	if ((f = fopen(path, "r")) == NULL)
		return hsm_fail(HSM_ERR_NOT_FOUND, "cannot open supervisor key %s", path);
	if ((k = PEM_read_PUBKEY(f, NULL, NULL, NULL)) == NULL) {
		rewind(f);
		if ((cert = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
			k = X509_get_pubkey(cert);
	}
	fclose(f);
	if (k == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "%s is neither a PEM public key nor a "
		    "PEM certificate", path);
		goto out;
	}
	if ((rc = crypto_ski(k, ski)) == HSM_OK)
		rc = add_pin(a, ski);
out:
	EVP_PKEY_free(k);
	X509_free(cert);
	return rc;
}

static hsm_rc
ca_from_pem(const char *pem, X509 **out)
{
	BIO *b = BIO_new_mem_buf(pem, -1);

	*out = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return *out != NULL ? HSM_OK : hsm_fail(HSM_ERR_FORMAT, "not a PEM certificate");
}

/* The trust file: {"hsmadm_trust": 1, "module_ca": [PEM], "supervisors":
 * [{"name", "ski", "pubkey"}], ...}. Unknown members are informational. */
static hsm_rc
load_trust(struct ev_anchors *a, const char *path)
{
	json_t *t = NULL, *e;
	json_error_t jerr;
	uint8_t ski[32], want[32];
	size_t i;
	hsm_rc rc = HSM_OK;

	if ((t = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		FILE *f = fopen(path, "r");
		if (f == NULL)
			return hsm_fail(HSM_ERR_NOT_FOUND, "cannot open trust file %s", path);
		fclose(f);
		return hsm_fail(HSM_ERR_FORMAT, "trust file %s is not JSON: %s", path, jerr.text);
	}
	if (json_integer_value(json_object_get(t, "hsmadm_trust")) != 1 ||
	    !json_is_array(json_object_get(t, "module_ca")) ||
	    json_array_size(json_object_get(t, "supervisors")) == 0) {
		rc = hsm_fail(HSM_ERR_FORMAT, "%s is not an hsmadm trust file (hsmadm_trust 1, "
		    "module_ca and supervisors, as hsmadm-audit export-trust writes it)", path);
		goto out;
	}
	json_array_foreach(json_object_get(t, "module_ca"), i, e) {
		X509 *ca = NULL;
		if (!json_is_string(e) || ca_from_pem(json_string_value(e), &ca) != HSM_OK) {
			rc = hsm_fail(HSM_ERR_FORMAT, "trust file %s: module_ca[%zu] is not a "
			    "PEM certificate", path, i);
			goto out;
		}
		if ((rc = add_ca(a, ca)) != HSM_OK)
			goto out;
	}
	json_array_foreach(json_object_get(t, "supervisors"), i, e) {
		const char *skihex = json_string_value(json_object_get(e, "ski"));
		if (admincmd_pubkey_from_hex(json_string_value(json_object_get(e, "pubkey")),
		    NULL, ski) != HSM_OK || skihex == NULL || !ev_is_hex(skihex, 32) ||
		    hex_decode_into(skihex, want, 32) != HSM_OK || memcmp(want, ski, 32) != 0) {
			rc = hsm_fail(HSM_ERR_FORMAT, "trust file %s: supervisors[%zu] needs a "
			    "pubkey and the ski of that key", path, i);
			goto out;
		}
		if ((rc = add_pin(a, ski)) != HSM_OK)
			goto out;
	}
out:
	json_decref(t);
	return rc;
}

hsm_rc
ev_anchors_load(const struct evlog_verify_opts *o, struct ev_anchors *a)
{
	size_t i;
	hsm_rc rc;

	memset(a, 0, sizeof(*a));
	snprintf(a->source, sizeof(a->source), "none");
	if (o == NULL)
		return HSM_OK;
	a->none = o->no_anchors;
	if (o->no_anchors && (o->n_module_ca > 0 || o->n_supervisor_keys > 0 ||
	    o->trust_file != NULL))
		return hsm_fail(HSM_ERR_USAGE, "no anchors, or anchors: not both");
	for (i = 0; i < o->n_module_ca; i++) {
		X509 *ca = NULL;
		if ((rc = x509u_load_pem(o->module_ca_files[i], &ca)) != HSM_OK)
			return hsm_fail_wrap(rc, "module CA %s", o->module_ca_files[i]);
		if ((rc = add_ca(a, ca)) != HSM_OK)
			return rc;
	}
	for (i = 0; i < o->n_supervisor_keys; i++)
		if ((rc = load_pin_file(a, o->supervisor_key_files[i])) != HSM_OK)
			return rc;
	if (o->trust_file != NULL && (rc = load_trust(a, o->trust_file)) != HSM_OK)
		return rc;
	if (o->trust_file != NULL)
		snprintf(a->source, sizeof(a->source), "trust file %s%s", o->trust_file,
		    o->n_module_ca + o->n_supervisor_keys > 0 ? " and options" : "");
	else if (a->ncas + a->npins > 0)
		snprintf(a->source, sizeof(a->source), "options");
	return HSM_OK;
}

/* The module CAs of a trust file as one PEM text, for a connection that
 * must pin them (replay --against with --trust alone). */
hsm_rc
evlog_trust_module_ca(const char *trust_file, char **pem)
{
	struct evlog_verify_opts o;
	struct ev_anchors a;
	BIO *b = NULL;
	char *data = NULL;
	long n;
	size_t i;
	hsm_rc rc;

	*pem = NULL;
	memset(&o, 0, sizeof(o));
	o.trust_file = trust_file;
	if ((rc = ev_anchors_load(&o, &a)) != HSM_OK)
		goto out;
	if (a.ncas == 0) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "trust file %s holds no module CA", trust_file);
		goto out;
	}
	rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	for (i = 0; i < a.ncas; i++)
		if (PEM_write_bio_X509(b, a.cas[i]) != 1)
			goto out;
	if ((n = BIO_get_mem_data(b, &data)) <= 0 || (*pem = malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	hsm_err_clear();
	rc = HSM_OK;
out:
	BIO_free(b);
	ev_anchors_free(&a);
	return rc;
}

void
ev_anchors_free(struct ev_anchors *a)
{
	size_t i;

	for (i = 0; i < a->ncas; i++)
		X509_free(a->cas[i]);
	free(a->cas);
	free(a->pins);
	memset(a, 0, sizeof(*a));
}

/* ---- receipts, each OA certificate decoded and chained once ---- */

struct ev_oa {
	uint8_t   der_hash[32];
	X509     *cert;
	hsm_rc    trust;         /* HSM_OK: chains to a CA (or no anchors asked) */
	char      why[256];      /* the trust failure, to repeat for each receipt */
	long      ca;            /* index of the CA it chains to */
	/* receipt_check_oa_fit for the module last asked (a certificate
	 * serves one module) */
	int       fit_known;
	char      fit_module[128];
	hsm_rc    fit;
	char      fit_why[256];
};

void
ev_oacache_free(struct ev_oacache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		X509_free(c->oa[i].cert);
	free(c->oa);
	receipt_memo_free(&c->memo);
	memset(c, 0, sizeof(*c));
}

/* Decode and judge a certificate the first time it is seen. */
static hsm_rc
oa_lookup(struct ev_oacache *c, const struct ev_anchors *a, const char *cert64,
          struct ev_oa **out)
{
	uint8_t *der = NULL, h[32];
	size_t derlen = 0, i;
	struct ev_oa *e;
	hsm_rc rc;

	if ((rc = b64_decode(cert64, &der, &derlen)) != HSM_OK ||
	    (rc = crypto_sha256(der, derlen, h)) != HSM_OK)
		goto out;
	for (i = 0; i < c->n; i++)
		if (memcmp(c->oa[i].der_hash, h, 32) == 0) {
			*out = &c->oa[i];
			goto out;
		}
	{
		void *np = realloc(c->oa, (c->n + 1) * sizeof(*c->oa));
		if (np == NULL) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		c->oa = np;
	}
	e = &c->oa[c->n];
	memset(e, 0, sizeof(*e));
	memcpy(e->der_hash, h, 32);
	if ((rc = x509u_from_der(der, derlen, &e->cert)) != HSM_OK)
		goto out;
	c->n++;
	e->ca = -1;
	e->trust = HSM_ERR_TRUST;
	snprintf(e->why, sizeof(e->why), "%s", a->none ? "" : "certificate does not chain "
	    "to the pinned CA");
	for (i = 0; !a->none && i < a->ncas; i++) {
		c->chain_checks++;
		if (x509u_verify_issued_by(e->cert, a->cas[i]) == HSM_OK) {
			e->ca = (long)i;
			break;
		}
		snprintf(e->why, sizeof(e->why), "%s", hsm_errmsg());
	}
	if (a->none || e->ca >= 0)
		e->trust = HSM_OK;
	*out = e;
out:
	free(der);
	return rc;
}

/* What receipt_check_oa asks of the certificate besides its chain, once
 * per certificate and module. */
static hsm_rc
oa_fit(struct ev_oa *oa, const char *module)
{
	if (!oa->fit_known || strcmp(oa->fit_module, module) != 0) {
		oa->fit_known = 1;
		snprintf(oa->fit_module, sizeof(oa->fit_module), "%s", module);
		oa->fit = receipt_check_oa_fit(oa->cert, module);
		snprintf(oa->fit_why, sizeof(oa->fit_why), "%s", oa->fit == HSM_OK ? "" :
		    hsm_errmsg());
	}
	return oa->fit == HSM_OK ? HSM_OK : hsm_fail(oa->fit, "%s", oa->fit_why);
}

hsm_rc
ev_receipt_verify(struct ev_oacache *c, const struct ev_anchors *a, const json_t *receipt,
                  const json_t **bodyp)
{
	struct ev_oa *oa = NULL;
	receipt_parts p;
	hsm_rc rc;

	*bodyp = NULL;
	/* not the log's fault: the auditor left out the anchor it needs */
	if (a->ncas == 0 && !a->none)
		return hsm_fail(HSM_ERR_USAGE, "the log holds module receipts, which cannot be "
		    "checked without the pinned module CA: give --module-ca FILE (or --trust "
		    "FILE)");
	if (c->memo == NULL && receipt_memo_new(&c->memo) != HSM_OK)
		hsm_err_clear();   /* no memo: each signature is checked */
	if ((rc = receipt_open(receipt, &p)) != HSM_OK)
		return rc;
	if ((rc = oa_lookup(c, a, p.oa_cert, &oa)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "receipt");
		goto out;
	}
	rc = HSM_ERR_TRUST;
	if (oa->trust != HSM_OK)
		hsm_fail(rc, "receipt from module %s: %s", p.module, oa->why);
	else if ((rc = oa_fit(oa, p.module)) != HSM_OK)
		hsm_fail_wrap(rc, "receipt from module %s", p.module);
	else if ((rc = receipt_check_sig(c->memo, X509_get0_pubkey(oa->cert), &p)) == HSM_OK) {
		if (oa->ca >= 0)
			c->used_ca |= 1u << oa->ca;   /* oa->ca < CAS_MAX */
		*bodyp = p.body;
	}
out:
	receipt_parts_clear(&p);
	return rc;
}
