/* SPDX-License-Identifier: BSD-2-Clause */
/* simmod.c - the emulated module: state folder, keys, domains, requests. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/fileio.h"
#include "hsmadm/modproto.h"
#include "hsmadm/receipt.h"
#include "hsmadm/thread.h"
#include "hsmadm/x509util.h"

#include "keystore.h"
#include "p11.h"
#include "simblob.h"
#include "simdom.h"
#include "simmod.h"
#include "simrcpt.h"

#define MODULE_FILE_VERSION 1
#define SERIAL_MAX 32

/* A domain's reservation of its next counter for one command (module-
 * protocol.md §2.7), in memory only: a restart forgets it, which can only
 * refuse a reserved apply, never admit one. */
#define RESV_MS 60000
struct resv {
	int       held;
	uint64_t  counter;
	char      digest[65];
	long long ballot;
	long long at_ms;        /* CLOCK_MONOTONIC */
};

struct simmod {
	char            dir[4096];
	char            serial[SERIAL_MAX + 1];
	unsigned        ndomains;
	keystore       *ks;              /* where the OA key and the domains' keys are */
	EVP_PKEY       *oa_key;          /* file store */
	hsm_signer     *oa_signer;       /* token */
	X509           *oa_cert;
	char           *oa_cert_b64;
	simdom         *doms[MODPROTO_MAX_DOMAINS];   /* loaded lazily */
	/* One lock per domain, so that the members of a group on one module
	 * are served in parallel; a domain's commands are applied one at a
	 * time. flock guards the fault counters. */
	pthread_mutex_t dlock[MODPROTO_MAX_DOMAINS];
	pthread_mutex_t flock;
	simmod_faults   faults;
	long            napply_req;                   /* command.apply requests seen */
	long            napplied;                     /* commands applied */
	long            nsaving;                      /* commands about to be saved */
	long            rlines[MODPROTO_MAX_DOMAINS]; /* receipts file lines, -1 unknown */
	struct resv     resv[MODPROTO_MAX_DOMAINS];   /* under dlock[] */
};

static int
serial_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > SERIAL_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

const char *
simmod_path(const simmod *m, const char *file, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", m->dir, file);
	return buf;
}

static hsm_rc
join(char *buf, size_t n, const char *dir, const char *file)
{
	if ((size_t)snprintf(buf, n, "%s/%s", dir, file) >= n)
		return hsm_fail(HSM_ERR_USAGE, "path too long: %s/%s", dir, file);
	return HSM_OK;
}

/* ---- init ------------------------------------------------------------------ */

static hsm_rc
new_key_file(const char *dir, const char *file, EVP_PKEY **key)
{
	char path[4200];
	hsm_rc rc;

	*key = NULL;
	if ((rc = join(path, sizeof(path), dir, file)) != HSM_OK ||
	    (rc = crypto_ec_generate(HSM_CURVE_P384, key)) != HSM_OK)
		return rc;
	if ((rc = crypto_priv_save_pem(path, *key)) != HSM_OK) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	return rc;
}

static hsm_rc
save_cert(const char *dir, const char *file, X509 *c)
{
	char path[4200];
	hsm_rc rc;

	if ((rc = join(path, sizeof(path), dir, file)) != HSM_OK)
		return rc;
	return x509u_save_pem(path, c);
}

static hsm_rc
fingerprint_hex(X509 *c, char out[65])
{
	uint8_t fp[32];
	hsm_rc rc;

	if ((rc = x509u_fingerprint(c, fp)) != HSM_OK)
		return rc;
	hex_encode_buf(fp, 32, out);
	return HSM_OK;
}

/* Module CA: the one the workstations pin (reused, or a new rehearsal one). */
static hsm_rc
init_ca(const simmod_init_opts *o, EVP_PKEY **ca_key, X509 **ca)
{
	char ou[64];
	hsm_rc rc;

	if (o->ca_key == NULL) {
		if ((rc = new_key_file(o->dir, "ca.key", ca_key)) != HSM_OK ||
		    (rc = x509u_issue(X509U_MODULE_CA, "hsmadm rehearsal module CA", NULL, *ca_key,
		                      NULL, *ca_key, 3650, ca)) != HSM_OK)
			return rc;
		return save_cert(o->dir, "ca.pem", *ca);
	}
	if ((rc = crypto_priv_load_pem(o->ca_key, ca_key)) != HSM_OK ||
	    (rc = x509u_load_pem(o->ca_cert, ca)) != HSM_OK)
		return rc;
	if (X509_check_private_key(*ca, *ca_key) != 1)
		return hsm_fail(HSM_ERR_USAGE, "module CA key %s does not belong to %s",
		                o->ca_key, o->ca_cert);
	if (x509u_subject_ou(*ca, ou, sizeof(ou)) != HSM_OK ||
	    strcmp(ou, X509U_OU_MODULE_CA) != 0)
		return hsm_fail(HSM_ERR_USAGE, "%s is not an hsmadm module CA certificate", o->ca_cert);
	return save_cert(o->dir, "ca.pem", *ca);
}

/* The key store init asks for: the token opened and logged in (its keys
 * are made later), or the file store. */
static hsm_rc
init_keystore(const simmod_init_opts *o, keystore **ks)
{
	hsm_secbuf *pin = NULL;
	int b = ks_backend_parse(o->keystore != NULL ? o->keystore : "file");
	hsm_rc rc;

	*ks = NULL;
	if (b < 0)
		return hsm_fail(HSM_ERR_USAGE, "--keystore is file or pkcs11, not \"%s\"", o->keystore);
	if (b == KS_FILE) {
		if (o->p11_lib != NULL || o->token != NULL || o->pin_file != NULL || o->has_pin_fd)
			return hsm_fail(HSM_ERR_USAGE, "--p11-lib, --token-label, --pin-file and --pin-fd go with --keystore pkcs11");
		return ks_open_file(o->serial, ks);
	}
	if (o->p11_lib == NULL || o->token == NULL)
		return hsm_fail(HSM_ERR_USAGE, "--keystore pkcs11 needs --p11-lib and --token-label");
	if (o->pin_file != NULL && o->pin_file[0] != '/')
		return hsm_fail(HSM_ERR_USAGE, "give --pin-file as an absolute path (serve reads it from module.json)");
	if ((rc = p11_read_pin(o->has_pin_fd ? o->pin_fd : -1, o->pin_file, &pin)) != HSM_OK)
		return rc;
	rc = ks_open_pkcs11(o->serial, o->p11_lib, o->token, pin, ks);
	secbuf_free(&pin);
	return rc;
}

/* module.json's "keystore": the backend and, on a token, where to find it
 * (never the PIN: at most the path of its file). */
static json_t *
ks_entry(const simmod_init_opts *o)
{
	if (ks_backend_parse(o->keystore != NULL ? o->keystore : "file") != KS_PKCS11)
		return json_pack("{s:s}", "backend", "file");
	json_t *e = json_pack("{s:s, s:s, s:s}", "backend", "pkcs11", "library", o->p11_lib,
	                      "token", o->token);

	if (e != NULL && o->pin_file != NULL &&
	    json_object_set_new(e, "pin_file", json_string(o->pin_file)) != 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

hsm_rc
simmod_init(const simmod_init_opts *o, json_t **info)
{
	EVP_PKEY *ca_key = NULL, *oa_key = NULL, *tls_key = NULL, *cc_key = NULL;
	X509 *ca = NULL, *oa = NULL, *tls = NULL, *cc = NULL;
	json_t *mod = NULL, *kd = NULL;
	keystore *ks = NULL;
	char path[4200], cn[96], fp[65];
	struct stat sb;
	int made = 0;
	hsm_rc rc;

	if (info != NULL)
		*info = NULL;
	if (o->dir == NULL || !serial_ok(o->serial))
		return hsm_fail(HSM_ERR_USAGE,
		                "give --dir and a --serial of 1 to %d letters, digits, '.', '_' or '-'",
		                SERIAL_MAX);
	if (o->domains < 1 || o->domains > MODPROTO_MAX_DOMAINS)
		return hsm_fail(HSM_ERR_USAGE, "--domains must be between 1 and %d", MODPROTO_MAX_DOMAINS);
	if ((o->ca_key == NULL) != (o->ca_cert == NULL))
		return hsm_fail(HSM_ERR_USAGE, "give both --module-ca-key and --module-ca-cert, or neither");
	if ((rc = join(path, sizeof(path), o->dir, "module.json")) != HSM_OK)
		return rc;
	if (stat(path, &sb) == 0)
		return hsm_fail(HSM_ERR_EXISTS, "%s already holds a module; pick another --dir", o->dir);
	/* The token first: a wrong library, label or PIN leaves no folder. */
	if ((rc = init_keystore(o, &ks)) != HSM_OK)
		return rc;
	if ((rc = join(path, sizeof(path), o->dir, "domains")) != HSM_OK)
		goto out;
	if ((mkdir(o->dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(path, 0700) != 0 && errno != EEXIST)) {
		rc = hsm_fail(HSM_ERR_IO, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}

	if ((rc = init_ca(o, &ca_key, &ca)) != HSM_OK)
		goto out;
	snprintf(cn, sizeof(cn), "%s OA", o->serial);
	/* On a token the OA certificate is issued over the token's key. */
	if (ks_is_token(ks))
		rc = ks_module_keys_make(ks, &oa_key);
	else
		rc = new_key_file(o->dir, "oa.key", &oa_key);
	made = rc == HSM_OK && ks_is_token(ks);
	if (rc != HSM_OK ||
	    (rc = x509u_issue(X509U_OA, cn, o->serial, oa_key, ca, ca_key, 3650, &oa)) != HSM_OK ||
	    (rc = save_cert(o->dir, "oa.pem", oa)) != HSM_OK)
		goto out;
	if ((rc = new_key_file(o->dir, "tls.key", &tls_key)) != HSM_OK ||
	    (rc = x509u_issue(X509U_TLS_SERVER, o->serial, o->serial, tls_key, ca, ca_key, 3650,
	                      &tls)) != HSM_OK ||
	    (rc = save_cert(o->dir, "tls.pem", tls)) != HSM_OK)
		goto out;

	/* The client CA the module trusts. */
	if (o->client_ca != NULL) {
		if ((rc = x509u_load_pem(o->client_ca, &cc)) != HSM_OK)
			goto out;
	} else {
		if ((rc = new_key_file(o->dir, "client-ca.key", &cc_key)) != HSM_OK ||
		    (rc = x509u_issue(X509U_CLIENT_CA, "hsmadm rehearsal client CA", NULL, cc_key,
		                      NULL, cc_key, 3650, &cc)) != HSM_OK)
			goto out;
	}
	if ((rc = save_cert(o->dir, "client-ca.pem", cc)) != HSM_OK)
		goto out;

	/* module.json last: its presence means the folder is complete. */
	mod = json_pack("{s:i, s:s, s:i, s:o}", "v", MODULE_FILE_VERSION, "serial", o->serial,
	                "domains", (int)o->domains, "keystore", ks_entry(o));
	if (mod == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = join(path, sizeof(path), o->dir, "module.json")) != HSM_OK ||
	    (rc = cjson_save_file(path, mod, 0644)) != HSM_OK)
		goto out;
	if (info != NULL) {
		if ((rc = fingerprint_hex(ca, fp)) != HSM_OK)
			goto out;
		if ((rc = ks_describe(ks, 0, &kd)) != HSM_OK)
			goto out;
		*info = json_pack("{s:s, s:s, s:i, s:s, s:s, s:b, s:O}", "serial", o->serial,
		                  "dir", o->dir, "domains", (int)o->domains,
		                  "module_ca", "ca.pem", "module_ca_sha256", fp,
		                  "rehearsal_client_ca", o->client_ca == NULL, "keystore", kd);
	}
	rc = HSM_OK;
out:
	if (rc != HSM_OK && made)
		(void)ks_module_keys_destroy(ks);
	ks_free(&ks);
	json_decref(kd);
	json_decref(mod);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(oa_key);
	EVP_PKEY_free(tls_key);
	EVP_PKEY_free(cc_key);
	X509_free(ca);
	X509_free(oa);
	X509_free(tls);
	X509_free(cc);
	return rc;
}

hsm_rc
simmod_issue_client(const char *dir, const char *name, const char *out_key,
                    const char *out_cert, json_t **info)
{
	EVP_PKEY *cc_key = NULL, *key = NULL;
	X509 *cc = NULL, *cert = NULL;
	char path[4200], fp[65];
	struct stat sb;
	hsm_rc rc;

	if (info != NULL)
		*info = NULL;
	if (dir == NULL || name == NULL || *name == '\0' || strlen(name) > 64 ||
	    out_key == NULL || out_cert == NULL)
		return hsm_fail(HSM_ERR_USAGE, "give --dir, --name (1..64 characters), --out-key and --out-cert");
	if (stat(out_key, &sb) == 0 || stat(out_cert, &sb) == 0)
		return hsm_fail(HSM_ERR_EXISTS, "%s or %s already exists; not overwriting", out_key, out_cert);
	if ((rc = join(path, sizeof(path), dir, "client-ca.key")) != HSM_OK)
		return rc;
	if (stat(path, &sb) != 0)
		return hsm_fail(HSM_ERR_NOT_FOUND,
		                "%s has no rehearsal client CA (it was made with --client-ca); issue client certificates from that CA instead",
		                dir);
	if ((rc = crypto_priv_load_pem(path, &cc_key)) != HSM_OK)
		goto out;
	if ((rc = join(path, sizeof(path), dir, "client-ca.pem")) != HSM_OK ||
	    (rc = x509u_load_pem(path, &cc)) != HSM_OK)
		goto out;
	if ((rc = crypto_ec_generate(HSM_CURVE_P384, &key)) != HSM_OK ||
	    (rc = x509u_issue(X509U_CLIENT, name, NULL, key, cc, cc_key, 825, &cert)) != HSM_OK)
		goto out;
	if ((rc = crypto_priv_save_pem(out_key, key)) != HSM_OK)
		goto out;
	if ((rc = x509u_save_pem(out_cert, cert)) != HSM_OK) {
		unlink(out_key);
		goto out;
	}
	if (info != NULL) {
		if ((rc = fingerprint_hex(cert, fp)) != HSM_OK)
			goto out;
		*info = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "key", out_key,
		                  "cert", out_cert, "cert_sha256", fp);
	}
	rc = HSM_OK;
out:
	EVP_PKEY_free(cc_key);
	EVP_PKEY_free(key);
	X509_free(cc);
	X509_free(cert);
	return rc;
}

/* ---- open ------------------------------------------------------------------ */

/* The key store module.json names, and the OA key in it. */
static hsm_rc
open_keystore(simmod *m, const json_t *mod, int pin_fd)
{
	const json_t *e = json_object_get(mod, "keystore");
	const char *b = e ? json_string_value(json_object_get(e, "backend")) : "file";
	const char *lib = json_string_value(json_object_get(e, "library"));
	const char *tok = json_string_value(json_object_get(e, "token"));
	const char *pf = json_string_value(json_object_get(e, "pin_file"));
	hsm_secbuf *pin = NULL;
	char path[4200];
	hsm_rc rc;

	if (ks_backend_parse(b) == KS_FILE) {
		if (pin_fd >= 0)
			return hsm_fail(HSM_ERR_USAGE, "module %s keeps its keys in files: it takes no token PIN",
			                m->serial);
		if ((rc = ks_open_file(m->serial, &m->ks)) != HSM_OK ||
		    (rc = join(path, sizeof(path), m->dir, "oa.key")) != HSM_OK)
			return rc;
		return crypto_priv_load_pem(path, &m->oa_key);
	}
	if (ks_backend_parse(b) != KS_PKCS11 || lib == NULL || tok == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "%s/module.json: unknown or incomplete keystore", m->dir);
	if (pin_fd < 0 && pf == NULL)
		return hsm_fail(HSM_ERR_USAGE, "module %s keeps its keys on token %s: give its PIN with --pin-fd (module.json names no PIN file)",
		                m->serial, tok);
	if ((rc = p11_read_pin(pin_fd, pin_fd >= 0 ? NULL : pf, &pin)) != HSM_OK)
		return rc;
	rc = ks_open_pkcs11(m->serial, lib, tok, pin, &m->ks);
	secbuf_free(&pin);
	if (rc != HSM_OK || (rc = join(path, sizeof(path), m->dir, "token-journal")) != HSM_OK)
		return rc;
	ks_set_journal(m->ks, path);
	return ks_oa_signer(m->ks, &m->oa_signer);
}

static hsm_rc
dom_path(const simmod *m, unsigned idx, char *buf, size_t n)
{
	if ((size_t)snprintf(buf, n, "%s/domains/%02u.json", m->dir, idx) >= n)
		return hsm_fail(HSM_ERR_USAGE, "path too long");
	return HSM_OK;
}

static hsm_rc
rcpt_path(const simmod *m, unsigned idx, char *buf, size_t n)
{
	if ((size_t)snprintf(buf, n, "%s/domains/%02u.receipts.jsonl", m->dir, idx) >= n)
		return hsm_fail(HSM_ERR_USAGE, "path too long");
	return HSM_OK;
}

/* 1 if a saved change's receipt (counter_after <= the domain's) of domain
 * dom names label among the token objects it destroys. */
static int
given_up(const simmod *m, unsigned dom, const char *label)
{
	json_t *all = NULL, *r, *l;
	char path[4200];
	size_t i, k;
	int found = 0;

	if (rcpt_path(m, dom, path, sizeof(path)) != HSM_OK ||
	    simrcpt_load(path, 0, simdom_counter(m->doms[dom]), &all) != HSM_OK)
		return 0;
	json_array_foreach(all, i, r)
		json_array_foreach(json_object_get(json_object_get(json_object_get(r, "body"),
		    "result"), "token_objects_destroyed"), k, l)
			found |= json_is_string(l) && strcmp(json_string_value(l), label) == 0;
	json_decref(all);
	return found;
}

/* Used by ks_sweep: what domain dom of m says of the object. A domain
 * that cannot be read keeps its objects (never destroy on a doubt). */
static int
sweep_used(void *ctx, unsigned dom, ks_kind kind, const char *id, const char *label)
{
	simmod *m = ctx;
	char path[4200];

	if (dom >= m->ndomains)
		return KS_UNKNOWN;
	if (m->doms[dom] == NULL && (dom_path(m, dom, path, sizeof(path)) != HSM_OK ||
	    simdom_load_ks(path, dom, m->ks, &m->doms[dom]) != HSM_OK))
		return KS_NAMED;
	if (simdom_names(m->doms[dom], kind, id))
		return KS_NAMED;
	return given_up(m, dom, label) ? KS_GIVEN_UP : KS_UNKNOWN;
}

/* Orphans: objects of a change never saved (the journal has them), or of
 * one saved but not finished (its receipt gives them up), are destroyed;
 * any other is kept and said (keystore.h). */
static hsm_rc
sweep(simmod *m)
{
	json_t *gone = NULL, *kept = NULL, *l;
	size_t i;
	hsm_rc rc;

	if ((rc = ks_sweep(m->ks, sweep_used, m, &gone, &kept)) != HSM_OK)
		return hsm_fail_wrap(rc, "cannot sweep the token's objects");
	json_array_foreach(gone, i, l)
		fprintf(stderr, "hsmadm-simd: destroyed token object %s, which no domain names (left by an interrupted change)\n",
		        json_string_value(l));
	json_array_foreach(kept, i, l)
		fprintf(stderr, "hsmadm-simd: kept token object %s: no domain names it and no record of this module says it was made or given up here (a restored state folder?); destroy it by hand once you know it is no key in use\n",
		        json_string_value(l));
	json_decref(gone);
	json_decref(kept);
	return HSM_OK;
}

hsm_rc
simmod_open(const char *dir, const simmod_faults *faults, simmod **out)
{
	return simmod_open_pin(dir, faults, -1, out);
}

hsm_rc
simmod_open_pin(const char *dir, const simmod_faults *faults, int pin_fd, simmod **out)
{
	simmod *m;
	json_t *mod = NULL;
	const char *serial;
	long long v, nd;
	char path[4200];
	uint8_t *der = NULL;
	size_t derlen = 0, i;
	hsm_rc rc;

	*out = NULL;
	if (dir == NULL || strlen(dir) >= sizeof(m->dir))
		return hsm_fail(HSM_ERR_USAGE, "give the module state folder with --dir");
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < MODPROTO_MAX_DOMAINS; i++) {
		pthread_mutex_init(&m->dlock[i], NULL);
		m->rlines[i] = -1;
	}
	pthread_mutex_init(&m->flock, NULL);
	snprintf(m->dir, sizeof(m->dir), "%s", dir);
	if (faults != NULL)
		m->faults = *faults;
	if ((rc = join(path, sizeof(path), dir, "module.json")) != HSM_OK)
		goto fail;
	if ((rc = cjson_load_file(path, &mod)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "%s is not a module state folder (run hsmadm-simd init first)", dir);
		goto fail;
	}
	if ((rc = cjson_get_int(mod, "v", &v)) != HSM_OK ||
	    (rc = cjson_get_str(mod, "serial", &serial)) != HSM_OK ||
	    (rc = cjson_get_int(mod, "domains", &nd)) != HSM_OK)
		goto fail;
	if (v != MODULE_FILE_VERSION || !serial_ok(serial) || nd < 1 || nd > MODPROTO_MAX_DOMAINS) {
		rc = hsm_fail(HSM_ERR_FORMAT, "%s: unsupported or damaged module.json", dir);
		goto fail;
	}
	snprintf(m->serial, sizeof(m->serial), "%s", serial);
	m->ndomains = (unsigned)nd;
	if ((rc = open_keystore(m, mod, pin_fd)) != HSM_OK ||
	    (rc = join(path, sizeof(path), dir, "oa.pem")) != HSM_OK ||
	    (rc = x509u_load_pem(path, &m->oa_cert)) != HSM_OK ||
	    (rc = x509u_to_der(m->oa_cert, &der, &derlen)) != HSM_OK ||
	    (rc = b64_encode(der, derlen, &m->oa_cert_b64)) != HSM_OK)
		goto fail;
	if (m->oa_signer != NULL &&
	    EVP_PKEY_eq(X509_get0_pubkey(m->oa_cert), signer_pub(m->oa_signer)) != 1) {
		rc = hsm_fail(HSM_ERR_TRUST, "the OA key on token and %s/oa.pem do not match", dir);
		goto fail;
	}
	if (ks_is_token(m->ks) && (rc = sweep(m)) != HSM_OK)
		goto fail;
	free(der);
	json_decref(mod);
	*out = m;
	return HSM_OK;
fail:
	free(der);
	json_decref(mod);
	simmod_free(&m);
	return rc;
}

void
simmod_free(simmod **mp)
{
	simmod *m;
	size_t i;

	if (mp == NULL || *mp == NULL)
		return;
	m = *mp;
	for (i = 0; i < MODPROTO_MAX_DOMAINS; i++)
		simdom_free(&m->doms[i]);
	EVP_PKEY_free(m->oa_key);
	signer_free(&m->oa_signer);
	X509_free(m->oa_cert);
	free(m->oa_cert_b64);
	ks_free(&m->ks);
	for (i = 0; i < MODPROTO_MAX_DOMAINS; i++)
		pthread_mutex_destroy(&m->dlock[i]);
	pthread_mutex_destroy(&m->flock);
	free(m);
	*mp = NULL;
}

const char *
simmod_serial(const simmod *m)
{
	return m->serial;
}

/* ---- requests ----------------------------------------------------------------- */

/* The applied commands of domain idx (simrcpt.h). */
static hsm_rc
cmds_path(const simmod *m, unsigned idx, char *buf, size_t n)
{
	if ((size_t)snprintf(buf, n, "%s/domains/%02u.cmd", m->dir, idx) >= n)
		return hsm_fail(HSM_ERR_USAGE, "path too long");
	return HSM_OK;
}

/* Caller holds m->dlock[idx]. */
static hsm_rc
get_dom(simmod *m, unsigned idx, simdom **out)
{
	char path[4200];
	hsm_rc rc;

	if (m->doms[idx] == NULL) {
		if ((rc = dom_path(m, idx, path, sizeof(path))) != HSM_OK ||
		    (rc = simdom_load_ks(path, idx, m->ks, &m->doms[idx])) != HSM_OK)
			return rc;
	}
	*out = m->doms[idx];
	return HSM_OK;
}

static hsm_rc
param_domain(const simmod *m, const json_t *params, unsigned *idx, const char **reason)
{
	long long d;

	if (cjson_get_int(params, "domain", &d) != HSM_OK) {
		*reason = "bad_request";
		return hsm_fail(HSM_ERR_FORMAT, "params.domain must be an integer");
	}
	if (d < 0 || d >= (long long)m->ndomains) {
		*reason = "no_such_domain";
		return hsm_fail(HSM_ERR_NOT_FOUND, "module %s has domains 0 to %u, not %lld",
		                m->serial, m->ndomains - 1, d);
	}
	*idx = (unsigned)d;
	return HSM_OK;
}

static void
utc_now(char out[32], int64_t *now)
{
	time_t t = time(NULL);
	struct tm tm;

	*now = (int64_t)t;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The body of a change's receipt: the next state's public form and
 * digest, the command, the counters (receipt.h). */
static hsm_rc
receipt_body(simmod *m, unsigned idx, const char *dhex, uint64_t before, const simdom *next,
             json_t *res, const char *op, const char *when, json_t **body)
{
	json_t *pub = NULL, *kd = NULL;
	uint8_t sdig[32];
	char shex[65];
	hsm_rc rc;

	if ((rc = simdom_public(next, m->serial, 0, &pub)) != HSM_OK ||
	    (rc = cjson_digest(pub, sdig)) != HSM_OK ||
	    (rc = ks_describe(m->ks, 0, &kd)) != HSM_OK)
		goto out;
	hex_encode_buf(sdig, 32, shex);
	/* "keystore": an auditor tells a rehearsal module from a real one. */
	*body = json_pack("{s:i, s:s, s:i, s:s, s:s, s:I, s:I, s:O, s:s, s:O, s:s, s:O}",
	                  "v", RECEIPT_VERSION, "module", m->serial, "domain", (int)idx,
	                  "op", op, "command_digest", dhex,
	                  "counter_before", (json_int_t)before,
	                  "counter_after", (json_int_t)simdom_counter(next),
	                  "state", pub, "state_digest", shex, "result", res, "time", when,
	                  "keystore", kd);
	if (*body == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	json_decref(kd);
	json_decref(pub);
	return rc;
}

/* One receipt signed by the OA key (a key file or the token's). */
static hsm_rc
oa_sign(simmod *m, json_t *body, json_t **receipt)
{
	if (m->oa_signer != NULL)
		return receipt_sign_with(body, m->oa_signer, m->oa_cert, receipt);
	return receipt_sign(body, m->oa_key, m->oa_cert, receipt);
}

/* The test faults that act once a command is persisted. */
static void
applied_faults(simmod *m, int *drop)
{
	long nth;

	pthread_mutex_lock(&m->flock);
	nth = ++m->napplied;
	pthread_mutex_unlock(&m->flock);
	if (m->faults.crash_after == nth) {
		fprintf(stderr, "hsmadm-simd: test fault: crashing after applied command %ld\n", nth);
		abort();
	}
	if (m->faults.drop_after == nth) {
		fprintf(stderr, "hsmadm-simd: test fault: dropping the answer to applied command %ld\n", nth);
		*drop = 1;
	}
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Caller holds m->dlock[idx]. */
static int
resv_live(const simmod *m, unsigned idx, uint64_t counter)
{
	const struct resv *r = &m->resv[idx];

	return r->held && r->counter == counter && mono_ms() - r->at_ms < RESV_MS;
}

/* May a command with digest dhex be applied at counter, given the
 * domain's reservation? ballot > 0: a reserved apply, which needs the
 * domain's live reservation to be exactly its own; 0: an apply that did
 * not reserve, which a live reservation for another command keeps out.
 * Caller holds m->dlock[idx]. */
static hsm_rc
resv_admit(const simmod *m, unsigned idx, uint64_t counter, const char *dhex, long long ballot,
           const char **reason)
{
	const struct resv *r = &m->resv[idx];
	int live = resv_live(m, idx, counter);

	if (ballot > 0 && live && r->ballot == ballot && strcmp(r->digest, dhex) == 0)
		return HSM_OK;
	if (live && (ballot > 0 || strcmp(r->digest, dhex) != 0)) {
		*reason = "reserved";
		return hsm_fail(HSM_ERR_REFUSED, "counter %llu of domain %u is reserved for command "
		    "%.16s... by another workstation for %lld ms more; nothing was changed",
		    (unsigned long long)counter, idx, r->digest,
		    (long long)RESV_MS - (mono_ms() - r->at_ms));
	}
	if (ballot > 0) {
		*reason = "reservation_expired";
		return hsm_fail(HSM_ERR_STATE, "the reservation of counter %llu of domain %u for "
		    "this command has expired or is gone (a reservation lasts %d s and a restart "
		    "forgets it); nothing was changed: read and reserve again",
		    (unsigned long long)counter, idx, RESV_MS / 1000);
	}
	return HSM_OK;
}

/* What the domains of one command.apply share: the command parsed and
 * digested once, one time, the signature memo (batch form), the
 * reservation it claims. A command that does not parse is refused per
 * domain, in the order a single request would be. */
struct applyctx {
	hsm_rc        rc;          /* the command's shape */
	const char   *why;
	char          msg[512];
	const json_t *json;
	char         *canon;       /* json, canonical: kept by every domain */
	size_t        clen;
	admincmd     *cmd;
	char          dhex[65];
	int64_t       now;
	char          when[32];
	long long     ballot;      /* params.reservation.ballot; 0: none */
	simdom_vmemo *memo;
	simrcpt_share *share;      /* batch: the command file its domains link */
};

static void
applyctx_init(struct applyctx *c, const json_t *params, int batch)
{
	const json_t *cmd = json_object_get(params, "command");
	const json_t *rv = json_object_get(params, "reservation");
	uint8_t cdig[32];

	memset(c, 0, sizeof(*c));
	utc_now(c->when, &c->now);
	c->json = cmd;
	hsm_err_clear();
	if (!json_is_object(cmd) || !json_is_object(json_object_get(cmd, "body"))) {
		c->why = "bad_request";
		c->rc = hsm_fail(HSM_ERR_FORMAT, "params.command must be a command file {body, signatures}");
	} else if (rv != NULL && (!json_is_integer(json_object_get(rv, "ballot")) ||
	    json_integer_value(json_object_get(rv, "ballot")) < 1)) {
		c->why = "bad_request";
		c->rc = hsm_fail(HSM_ERR_FORMAT, "params.reservation must be {\"ballot\": integer >= 1}");
	} else if ((c->rc = cjson_digest(json_object_get(cmd, "body"), cdig)) != HSM_OK)
		c->why = "bad_command";
	else if ((c->rc = cjson_dump(cmd, &c->canon, &c->clen)) != HSM_OK)
		c->why = "internal";
	if (c->rc != HSM_OK) {
		snprintf(c->msg, sizeof(c->msg), "%s", hsm_errmsg());
		return;
	}
	hex_encode_buf(cdig, 32, c->dhex);
	c->ballot = rv ? (long long)json_integer_value(json_object_get(rv, "ballot")) : 0;
	if (admincmd_from_json(cmd, &c->cmd) != HSM_OK)
		snprintf(c->msg, sizeof(c->msg), "%s", hsm_errmsg());
	if (batch && c->cmd != NULL && simdom_vmemo_new(&c->memo) != HSM_OK)
		c->memo = NULL;   /* each domain checks on its own */
	if (batch && (c->share = calloc(1, sizeof(*c->share))) != NULL)
		pthread_mutex_init(&c->share->lock, NULL);   /* else each keeps its own, synced */
	hsm_err_clear();
}

static void
applyctx_done(struct applyctx *c)
{
	admincmd_free(&c->cmd);
	simdom_vmemo_free(&c->memo);
	free(c->canon);
	if (c->share != NULL) {
		pthread_mutex_destroy(&c->share->lock);
		free(c->share);
	}
}

/* The test fault between a change's token objects (and receipt) and the
 * save of its state: what a power cut there leaves (keystore.h). In a
 * batch the receipts are kept later, once all its domains are staged, so
 * there it leaves token objects and no receipt. */
static void
saving_fault(simmod *m)
{
	long nth;

	pthread_mutex_lock(&m->flock);
	nth = ++m->nsaving;
	pthread_mutex_unlock(&m->flock);
	if (m->faults.crash_before_save == nth) {
		fprintf(stderr, "hsmadm-simd: test fault: crashing before saving command %ld\n", nth);
		abort();
	}
}

/* The token objects the saved state no longer names (its receipt listed
 * them) are destroyed; one that resists is said, and the next start's
 * sweep destroys it. */
static void
drop_replaced(const simdom *old, const simdom *next)
{
	if (simdom_objects_gone(old, next, 1, NULL) != HSM_OK)
		fprintf(stderr, "hsmadm-simd: %s (the next start destroys what is left)\n",
		        hsm_errmsg());
}

/* Check the command against the domain, make its receipt, keep the
 * command and the receipt, then save the state. Caller holds the lock.
 * keep NULL: each file is synced and the state becomes the domain's. Else
 * (a batch): *receipt is the receipt's body, unsigned and not yet kept,
 * the command is written unsynced and the state staged (simdom_stage) and
 * handed back in *keep; the batch signs the bodies at once and keeps the
 * receipts (grouped_seal), flushes the files once and places the states
 * (grouped_finish). */
static hsm_rc
apply_locked(simmod *m, unsigned idx, const struct applyctx *c, json_t **receipt,
             simdom **keep, const char **reason)
{
	simdom *d, *next = NULL;
	json_t *res = NULL, *body = NULL;
	const char *op = NULL;
	char path[4200];
	uint64_t before;
	int saving = 0;
	hsm_rc rc;

	if ((rc = get_dom(m, idx, &d)) != HSM_OK) {
		*reason = "io";
		return hsm_fail_wrap(HSM_ERR_MODULE, "domain %u cannot be read", idx);
	}
	before = simdom_counter(d);
	if (c->cmd == NULL) {
		*reason = "bad_command";
		return hsm_fail(HSM_ERR_FORMAT, "the command does not parse: %s", c->msg);
	}
	if ((rc = simdom_apply_cmd(d, m->serial, c->cmd, c->now, c->memo, &next, &res, &op,
	    reason)) != HSM_OK ||
	    (rc = resv_admit(m, idx, before, c->dhex, c->ballot, reason)) != HSM_OK)
		goto out;
	/* The receipt is made from the next state and kept on disk BEFORE that
	 * state is saved: a crash after the change never loses its receipt
	 * (simrcpt.h says how a receipt of a change that was not saved is
	 * left out). */
	if (receipt_body(m, idx, c->dhex, before, next, res, op, c->when, &body) != HSM_OK ||
	    (keep == NULL && oa_sign(m, body, receipt) != HSM_OK)) {
		*reason = "internal";
		rc = hsm_fail_wrap(HSM_ERR_MODULE, "no receipt could be made; nothing was changed");
		goto out;
	}
	if (keep != NULL) {
		*receipt = body;
		body = NULL;
	}
	if ((rc = cmds_path(m, idx, path, sizeof(path))) != HSM_OK ||
	    (rc = simrcpt_keep_command(path, before, c->canon, c->clen,
	        keep == NULL ? NULL : c->share)) != HSM_OK ||
	    (rc = rcpt_path(m, idx, path, sizeof(path))) != HSM_OK ||
	    (keep == NULL &&
	     (rc = simrcpt_append(path, *receipt, &m->rlines[idx], 1)) != HSM_OK)) {
		*reason = "io";
		rc = hsm_fail_wrap(HSM_ERR_MODULE, "the receipt cannot be kept; nothing was changed");
		goto out;
	}
	saving_fault(m);
	saving = 1;
	if ((rc = dom_path(m, idx, path, sizeof(path))) != HSM_OK ||
	    (rc = keep ? simdom_stage(next, path) : simdom_save(next, path)) != HSM_OK) {
		*reason = "io";
		rc = hsm_fail_wrap(HSM_ERR_MODULE, "nothing was changed");
		goto out;
	}
	if (keep != NULL) {
		*keep = next;
		next = NULL;
		goto out;
	}
	/* Persisted: from here on the new state is the state. */
	drop_replaced(m->doms[idx], next);
	simdom_free(&m->doms[idx]);
	m->doms[idx] = next;
	next = NULL;
	m->resv[idx].held = 0;
out:
	if (rc != HSM_OK) {
		json_decref(*receipt);
		*receipt = NULL;
	}
	/* Token objects of a state never saved go now; once a save was tried
	 * the file may name them, and the next start's sweep decides. */
	if (rc != HSM_OK && next != NULL && !saving)
		(void)simdom_objects_gone(next, d, 1, NULL);
	simdom_free(&next);
	json_decref(body);
	json_decref(res);
	return rc;
}

/* A command.apply request for one domain arrived: the drop-before fault. */
static int
dropped_before(simmod *m)
{
	long nth;

	pthread_mutex_lock(&m->flock);
	nth = ++m->napply_req;
	pthread_mutex_unlock(&m->flock);
	if (m->faults.drop_before != nth)
		return 0;
	fprintf(stderr, "hsmadm-simd: test fault: dropping command.apply request %ld unapplied\n", nth);
	return 1;
}

/* The domain of params, and the command's shape: refusals that come before
 * anything else, in the order of a single request. */
static hsm_rc
apply_target(simmod *m, const json_t *params, const struct applyctx *c, unsigned *idx,
             const char **reason)
{
	hsm_rc rc;

	if ((rc = param_domain(m, params, idx, reason)) != HSM_OK)
		return rc;
	if (c->rc != HSM_OK) {
		*reason = c->why;
		return hsm_fail(c->rc, "%s", c->msg);
	}
	return HSM_OK;
}

static hsm_rc
do_apply(simmod *m, const json_t *params, const struct applyctx *c, json_t **result,
         const char **reason, int *drop)
{
	json_t *receipt = NULL;
	unsigned idx = 0;
	hsm_rc rc;

	if ((rc = apply_target(m, params, c, &idx, reason)) != HSM_OK)
		return rc;
	if (dropped_before(m)) {
		*drop = 1;
		return HSM_OK;
	}
	pthread_mutex_lock(&m->dlock[idx]);
	rc = apply_locked(m, idx, c, &receipt, NULL, reason);
	pthread_mutex_unlock(&m->dlock[idx]);
	if (rc != HSM_OK)
		return rc;
	applied_faults(m, drop);
	*result = json_pack("{s:O}", "receipt", receipt);
	json_decref(receipt);
	if (*result == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

/* The reservation asked for by a query (want: {digest, ballot, counter}):
 * granted when the domain is at that counter and holds no live
 * reservation of a higher ballot. *out says what the domain holds now.
 * Caller holds m->dlock[idx]. */
static hsm_rc
resv_grant(simmod *m, unsigned idx, uint64_t counter, const json_t *want, json_t **out)
{
	struct resv *r = &m->resv[idx];
	const char *dg = json_string_value(json_object_get(want, "digest"));
	const json_t *wc = json_object_get(want, "counter");
	long long ballot = (long long)json_integer_value(json_object_get(want, "ballot"));
	int granted = 0;

	if (json_is_integer(wc) && (uint64_t)json_integer_value(wc) == counter &&
	    (!resv_live(m, idx, counter) || ballot > r->ballot ||
	     (ballot == r->ballot && strcmp(dg, r->digest) == 0))) {
		r->held = 1;
		r->counter = counter;
		r->ballot = ballot;
		r->at_ms = mono_ms();
		snprintf(r->digest, sizeof(r->digest), "%s", dg);
		granted = 1;
	}
	if (resv_live(m, idx, counter))
		*out = json_pack("{s:b, s:I, s:{s:s, s:I, s:I}}", "granted", granted,
		    "counter", (json_int_t)counter, "holder", "digest", r->digest,
		    "ballot", (json_int_t)r->ballot,
		    "expires_ms", (json_int_t)(RESV_MS - (mono_ms() - r->at_ms)));
	else
		*out = json_pack("{s:b, s:I, s:n}", "granted", 0, "counter", (json_int_t)counter,
		    "holder");
	return *out ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
}

/* resv (batch form only): the reservation asked for this domain, answered
 * in *resv_out beside the state. */
static hsm_rc
do_query(simmod *m, const json_t *params, const json_t *resv, json_t **result,
         json_t **resv_out, const char **reason)
{
	simdom *d;
	unsigned idx = 0;
	hsm_rc rc;

	if ((rc = param_domain(m, params, &idx, reason)) != HSM_OK)
		return rc;
	pthread_mutex_lock(&m->dlock[idx]);
	if ((rc = get_dom(m, idx, &d)) != HSM_OK) {
		*reason = "io";
		rc = hsm_fail_wrap(HSM_ERR_MODULE, "domain %u cannot be read", idx);
	} else if ((rc = simdom_public(d, m->serial, 1, result)) == HSM_OK && resv != NULL)
		rc = resv_grant(m, idx, simdom_counter(d), resv, resv_out);
	pthread_mutex_unlock(&m->dlock[idx]);
	return rc;
}

/* domain.receipts {domain, from_counter}: the receipts this domain keeps
 * with counter_before >= from_counter, oldest first, at most
 * SIMRCPT_MAX_ANSWER per answer ("more": true when there are others). */
/* The command each receipt of page is for, as the module kept it (null
 * where it keeps none), in the same order. */
static hsm_rc
page_commands(simmod *m, unsigned idx, const json_t *page, json_t **out)
{
	const json_t *r;
	json_t *c = NULL;
	char dir[4200];
	size_t i;
	hsm_rc rc;

	if ((*out = json_array()) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = cmds_path(m, idx, dir, sizeof(dir))) != HSM_OK)
		return rc;
	json_array_foreach(page, i, r) {
		json_int_t b = json_integer_value(json_object_get(json_object_get(r, "body"),
		    "counter_before"));
		if (simrcpt_command(dir, (uint64_t)b, &c) != HSM_OK)
			c = NULL;
		if (json_array_append_new(*out, c ? c : json_null()) != 0)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	return HSM_OK;
}

static hsm_rc
do_receipts(simmod *m, const json_t *params, size_t max, json_t **result, const char **reason)
{
	simdom *d;
	json_t *all = NULL, *page = NULL, *cmds = NULL;
	char path[4200];
	long long from;
	unsigned idx = 0;
	size_t i;
	hsm_rc rc;

	if ((rc = param_domain(m, params, &idx, reason)) != HSM_OK)
		return rc;
	if (cjson_get_int(params, "from_counter", &from) != HSM_OK || from < 0) {
		*reason = "bad_request";
		return hsm_fail(HSM_ERR_FORMAT, "params.from_counter must be an integer >= 0");
	}
	pthread_mutex_lock(&m->dlock[idx]);
	if ((rc = get_dom(m, idx, &d)) != HSM_OK ||
	    (rc = rcpt_path(m, idx, path, sizeof(path))) != HSM_OK ||
	    (rc = simrcpt_load(path, (uint64_t)from, simdom_counter(d), &all)) != HSM_OK) {
		*reason = "io";
		rc = hsm_fail_wrap(HSM_ERR_MODULE, "the receipts of domain %u cannot be read", idx);
	}
	pthread_mutex_unlock(&m->dlock[idx]);
	if (rc != HSM_OK)
		return rc;
	if ((page = json_array()) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(all) && i < max; i++)
		json_array_append(page, json_array_get(all, i));
	if ((rc = page_commands(m, idx, page, &cmds)) != HSM_OK)
		goto out;
	*result = json_pack("{s:i, s:o, s:o, s:b}", "domain", (int)idx, "receipts", page,
	                    "commands", cmds, "more", json_array_size(all) > max);
	page = cmds = NULL;
	if (*result == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	json_decref(cmds);
	json_decref(page);
	json_decref(all);
	return rc;
}

/* ---- several domains in one request (module-protocol.md §2.5) ---- */

/* One listed domain of a batch request. */
struct bent {
	simmod     *m;
	json_t     *p;          /* its single-domain params */
	const struct applyctx *ac;   /* command.apply: what the domains share */
	json_t     *want;       /* domain.query: the reservation asked for, or NULL */
	json_t     *resv;       /* ... and what the domain holds, answered beside */
	unsigned    idx;        /* grouped apply: the domain, */
	int         go;         /* 1: locked by the batch, to apply */
	simdom     *next;       /* its staged next state (grouped apply) */
	json_t     *receipt;    /* (grouped: its body until grouped_seal signs it) */
	json_t     *res;
	hsm_rc      rc;
	const char *why;
	char        msg[1024];
	int         drop;
};

static void
bent_done(struct bent *b, hsm_rc rc)
{
	b->rc = rc;
	if (rc != HSM_OK)
		snprintf(b->msg, sizeof(b->msg), "%s", hsm_errmsg());
}

/* Applying one domain fsyncs several files (command, receipt, state): the
 * domains of a batch are applied in parallel, each under its own domain
 * lock, so the batch costs about one apply, not one per domain. */
static void *
bent_apply(void *arg)
{
	struct bent *b = arg;

	hsm_err_clear();
	bent_done(b, do_apply(b->m, b->p, b->ac, &b->res, &b->why, &b->drop));
	return NULL;
}

/* Grouped apply, by a worker of the batch (pool_run): the batch holds the
 * domain's lock. */
static void *
bent_stage(void *arg)
{
	struct bent *b = arg;

	if (!b->go)
		return NULL;   /* refused before the batch */
	hsm_err_clear();
	if (dropped_before(b->m))
		b->drop = 1;
	else
		bent_done(b, apply_locked(b->m, b->idx, b->ac, &b->receipt, &b->next, &b->why));
	return NULL;
}

/* The domains of a batch are worked by a few threads (hsm_thread_each): a
 * thread per domain cost its stack's mapping and unmapping, a third of the
 * module's CPU. */
static void
stage_at(void *ctx, size_t i)
{
	bent_stage(&((struct bent *)ctx)[i]);
}

static void
apply_at(void *ctx, size_t i)
{
	bent_apply(&((struct bent *)ctx)[i]);
}

static void
pool_run(struct bent *b, size_t n, void (*fn)(void *, size_t))
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	hsm_thread_each(n, cpus < 2 ? 2 : (size_t)cpus, fn, b);
}

/* A staged domain of a batch refused after all: nothing was changed (its
 * staged state goes; token objects it made go at the next start's sweep). */
static void
grouped_drop(simmod *m, struct bent *e, const char *why, hsm_rc rc)
{
	char path[4200];

	if (dom_path(m, e->idx, path, sizeof(path)) == HSM_OK)
		simdom_unstage(path);
	e->why = why;
	e->rc = rc;
	snprintf(e->msg, sizeof(e->msg), "%s", hsm_errmsg());
	simdom_free(&e->next);
	json_decref(e->receipt);
	e->receipt = NULL;
}

/* The staged domains' receipts: their bodies signed as one batch (one OA
 * signature per request, receipt.h), then each appended, unsynced, to its
 * domain's receipts; grouped_finish flushes them before any state is
 * placed. Caller holds the locks. */
static void
grouped_seal(simmod *m, struct bent *b, size_t n)
{
	json_t *bodies[MODPROTO_MAX_DOMAINS], *signed_[MODPROTO_MAX_DOMAINS];
	size_t at[MODPROTO_MAX_DOMAINS], i, k = 0;
	char path[4200];
	hsm_rc rc;

	for (i = 0; i < n; i++)
		if (b[i].next != NULL && b[i].receipt != NULL) {
			at[k] = i;
			bodies[k++] = b[i].receipt;
		}
	if (k == 0)
		return;
	if ((rc = receipt_sign_batch(bodies, k, m->oa_signer ? NULL : m->oa_key, m->oa_signer,
	    m->oa_cert, signed_)) != HSM_OK)
		rc = hsm_fail_wrap(HSM_ERR_MODULE, "no receipt could be made; nothing was changed");
	for (i = 0; i < k; i++) {
		struct bent *e = &b[at[i]];

		if (rc != HSM_OK) {
			grouped_drop(m, e, "internal", rc);
			continue;
		}
		json_decref(e->receipt);
		e->receipt = signed_[i];
		if (rcpt_path(m, e->idx, path, sizeof(path)) != HSM_OK ||
		    simrcpt_append(path, e->receipt, &m->rlines[e->idx], 0) != HSM_OK)
			grouped_drop(m, e, "io", hsm_fail_wrap(HSM_ERR_MODULE, "the receipt cannot "
			    "be kept; nothing was changed"));
	}
}

/* The staged states become the domains': the batch's files (commands,
 * receipts, states) are flushed by one sync of the file system, so every
 * receipt is on disk before any state that counts it, then each state is
 * renamed into place and the folder synced once. A failed flush refuses
 * them all, as a failed save does. Caller holds the locks; sfd is the
 * handle opened before the batch wrote anything (hsm_fs_batch_open). */
static void
grouped_finish(simmod *m, struct bent *b, size_t n, int sfd)
{
	char path[4200], dir[4200];
	hsm_rc rc = HSM_OK;
	size_t i, placed = 0;

	simmod_path(m, "domains", dir, sizeof(dir));
	for (i = 0; i < n && b[i].next == NULL; i++)
		;
	if (i < n && (rc = hsm_fs_batch_sync(sfd, dir)) != HSM_OK)
		rc = hsm_fail_wrap(HSM_ERR_MODULE, "nothing was changed");
	for (i = 0; i < n; i++) {
		if (b[i].next == NULL)
			continue;
		if (rc != HSM_OK)
			grouped_drop(m, &b[i], "io", rc);
		else if (dom_path(m, b[i].idx, path, sizeof(path)) != HSM_OK ||
		    simdom_place(path) != HSM_OK)
			grouped_drop(m, &b[i], "io", hsm_fail_wrap(HSM_ERR_MODULE,
			    "nothing was changed"));
		else
			placed++;
	}
	if (placed > 0 && (rc = hsm_fsync_dir_of(path)) != HSM_OK)
		rc = hsm_fail_wrap(HSM_ERR_MODULE, "the new states may not survive a power cut");
	for (i = 0; i < n; i++) {
		if (b[i].next == NULL)
			continue;
		if (rc != HSM_OK) {
			b[i].why = "io";
			bent_done(&b[i], rc);
			simdom_free(&b[i].next);
			json_decref(b[i].receipt);
			b[i].receipt = NULL;
			continue;
		}
		drop_replaced(m->doms[b[i].idx], b[i].next);
		simdom_free(&m->doms[b[i].idx]);
		m->doms[b[i].idx] = b[i].next;
		b[i].next = NULL;
		m->resv[b[i].idx].held = 0;
	}
}

/* The domains of a batch applied together: the batch takes their locks (in
 * domain order, so two batches cannot wait for each other), each domain
 * checks, keeps its command and stages its state (pool_run), grouped_seal
 * signs and keeps their receipts, and grouped_finish flushes them once. Durable before the
 * answer, as one by one. */
static void
batch_grouped(struct bent *b, size_t n)
{
	char lock[MODPROTO_MAX_DOMAINS] = { 0 };
	char dir[4200];
	int sfd = -1;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i].go)
			lock[b[i].idx] = 1;
	for (i = 0; i < MODPROTO_MAX_DOMAINS; i++)
		if (lock[i])
			pthread_mutex_lock(&b[0].m->dlock[i]);
	/* Opened before anything is written: the flush reports the write-back
	 * errors since then (fileio.h). */
	if (hsm_fs_batch_open(simmod_path(b[0].m, "domains", dir, sizeof(dir)), &sfd) != HSM_OK) {
		hsm_rc rc = hsm_fail_wrap(HSM_ERR_MODULE, "nothing was changed");
		for (i = 0; i < n; i++)
			if (b[i].go) {
				b[i].why = "io";
				bent_done(&b[i], rc);
			}
	} else {
		pool_run(b, n, stage_at);
		grouped_seal(b[0].m, b, n);
		grouped_finish(b[0].m, b, n, sfd);
		close(sfd);
	}
	for (i = MODPROTO_MAX_DOMAINS; i-- > 0;)
		if (lock[i])
			pthread_mutex_unlock(&b[0].m->dlock[i]);
	for (i = 0; i < n; i++) {
		if (b[i].receipt == NULL || b[i].rc != HSM_OK)
			continue;
		applied_faults(b[0].m, &b[i].drop);
		if ((b[i].res = json_pack("{s:O}", "receipt", b[i].receipt)) == NULL)
			bent_done(&b[i], hsm_fail(HSM_ERR_NOMEM, "out of memory"));
	}
}

/* Which domains the grouped way takes (the others are refused already);
 * 0 when a domain is listed twice (then one by one, each under its lock). */
static int
batch_targets(struct bent *b, size_t n)
{
	char seen[MODPROTO_MAX_DOMAINS] = { 0 };
	size_t i;
	hsm_rc rc;

	for (i = 0; i < n; i++) {
		hsm_err_clear();
		if ((rc = apply_target(b[i].m, b[i].p, b[i].ac, &b[i].idx, &b[i].why)) != HSM_OK) {
			bent_done(&b[i], rc);
			continue;
		}
		if (seen[b[i].idx]++)
			return 0;
		b[i].go = 1;
	}
	return 1;
}

static void
batch_apply(struct bent *b, size_t n, const json_t *params)
{
	struct applyctx ac;
	size_t i;

	applyctx_init(&ac, params, 1);
	for (i = 0; i < n; i++)
		b[i].ac = &ac;
	if (n > 1 && batch_targets(b, n)) {
		batch_grouped(b, n);
		applyctx_done(&ac);
		return;
	}
	for (i = 0; i < n; i++) {
		b[i].rc = HSM_OK;
		b[i].go = 0;
	}
	pool_run(b, n, apply_at);
	applyctx_done(&ac);
}

/* One domain's answer inside a batch: {domain, ok, result} or {domain, ok,
 * error}, as a whole answer would carry it. */
static json_t *
batch_entry(const struct bent *b)
{
	json_int_t domain = json_integer_value(json_object_get(b->p, "domain"));
	int code = modproto_code_from_rc(b->rc);

	if (b->rc == HSM_OK && b->resv != NULL)
		return json_pack("{s:I, s:b, s:O, s:O}", "domain", domain, "ok", 1, "result", b->res,
		                 "reservation", b->resv);
	if (b->rc == HSM_OK)
		return json_pack("{s:I, s:b, s:O}", "domain", domain, "ok", 1, "result", b->res);
	return json_pack("{s:I, s:b, s:{s:i, s:s, s:s}}", "domain", domain, "ok", 0, "error",
	                 "code", code, "reason", b->why, "message", b->msg);
}

/* domain.query's params.reserve {digest, ballot, counters}: one counter
 * (or null: do not reserve) per listed domain. */
static hsm_rc
reserve_ok(const json_t *rv, size_t n, const char **reason)
{
	const char *dg = json_string_value(json_object_get(rv, "digest"));
	const json_t *b = json_object_get(rv, "ballot"), *c = json_object_get(rv, "counters"), *e;
	size_t i;

	*reason = "bad_request";
	if (dg == NULL || strlen(dg) != 64 || strspn(dg, "0123456789abcdef") != 64 ||
	    !json_is_integer(b) || json_integer_value(b) < 1 || !json_is_array(c) ||
	    json_array_size(c) != n)
		return hsm_fail(HSM_ERR_FORMAT, "params.reserve must be {\"digest\": 64 hex, "
		    "\"ballot\": integer >= 1, \"counters\": one per listed domain}");
	json_array_foreach(c, i, e)
		if (!json_is_null(e) && (!json_is_integer(e) || json_integer_value(e) < 0))
			return hsm_fail(HSM_ERR_FORMAT, "params.reserve.counters holds integers "
			    ">= 0 or null");
	return HSM_OK;
}

/* The entries of params.domains: integers (query, apply) or
 * {domain, from_counter} (receipts); at most as many as the module has
 * domains. */
static hsm_rc
batch_list(const simmod *m, const char *op, const json_t *params, struct bent *b, size_t *n,
           const char **reason)
{
	const json_t *list = json_object_get(params, "domains"), *e, *rv, *c;
	size_t i;
	hsm_rc rc;

	*n = 0;
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > m->ndomains) {
		*reason = "bad_request";
		return hsm_fail(HSM_ERR_FORMAT, "params.domains must be a list of 1 to %u domains",
		                m->ndomains);
	}
	rv = strcmp(op, MODPROTO_OP_QUERY) == 0 ? json_object_get(params, "reserve") : NULL;
	if (rv != NULL && (rc = reserve_ok(rv, json_array_size(list), reason)) != HSM_OK)
		return rc;
	json_array_foreach(list, i, e) {
		b[i].m = (simmod *)m;
		b[i].why = "bad_request";
		b[i].p = json_is_object(e) ? json_deep_copy(e) : json_pack("{s:O}", "domain", e);
		*n = i + 1;
		if (b[i].p == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		c = rv ? json_array_get(json_object_get(rv, "counters"), i) : NULL;
		if (json_is_integer(c) && (b[i].want = json_pack("{s:O, s:O, s:O}", "digest",
		    json_object_get(rv, "digest"), "ballot", json_object_get(rv, "ballot"),
		    "counter", c)) == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	return HSM_OK;
}

/* Each listed domain is answered on its own: one refusal does not stop
 * the others. Receipts share one budget per answer (the frame limit). A
 * fault that drops the connection drops the whole answer. */
static hsm_rc
do_batch(simmod *m, const char *op, const json_t *params, json_t **result,
         const char **reason, int *drop)
{
	/* As many entries as the request lists (batch_list refuses more than
	 * the module's domains): clearing room for every domain cost each
	 * request ~90 KiB of fresh stack pages. */
	size_t cap = json_array_size(json_object_get(params, "domains"));
	struct bent *b = calloc(cap > 0 && cap <= MODPROTO_MAX_DOMAINS ? cap : 1, sizeof(*b));
	json_t *answers = NULL;
	size_t i, n = 0, budget = SIMRCPT_MAX_ANSWER;
	hsm_rc rc;

	if (b == NULL) {
		*reason = "internal";
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	if ((rc = batch_list(m, op, params, b, &n, reason)) != HSM_OK)
		goto out;
	if (strcmp(op, MODPROTO_OP_APPLY) == 0)
		batch_apply(b, n, params);
	for (i = 0; i < n && strcmp(op, MODPROTO_OP_APPLY) != 0; i++) {
		hsm_err_clear();
		if (strcmp(op, MODPROTO_OP_QUERY) == 0)
			bent_done(&b[i], do_query(m, b[i].p, b[i].want, &b[i].res, &b[i].resv,
			    &b[i].why));
		else
			bent_done(&b[i], do_receipts(m, b[i].p, budget, &b[i].res, &b[i].why));
		if (b[i].rc == HSM_OK && strcmp(op, MODPROTO_OP_RECEIPTS) == 0)
			budget -= json_array_size(json_object_get(b[i].res, "receipts"));
	}
	if ((answers = json_array()) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		*drop |= b[i].drop;
		if (json_array_append_new(answers, batch_entry(&b[i])) != 0)
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	if (rc == HSM_OK && !*drop)
		*result = json_pack("{s:O}", "answers", answers);
	if (rc == HSM_OK && !*drop && *result == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	for (i = 0; i < n; i++) {
		json_decref(b[i].p);
		json_decref(b[i].receipt);
		json_decref(b[i].want);
		json_decref(b[i].resv);
		json_decref(b[i].res);
	}
	free(b);
	json_decref(answers);
	return rc;
}

/* The batch form when params carry "domains", else the single one. */
static hsm_rc
do_domain_op(simmod *m, const modproto_request *req, json_t **result, const char **reason,
             int *drop)
{
	if (json_object_get(req->params, "domains") != NULL)
		return do_batch(m, req->op, req->params, result, reason, drop);
	struct applyctx ac;
	hsm_rc rc;

	if (strcmp(req->op, MODPROTO_OP_QUERY) == 0)
		return do_query(m, req->params, NULL, result, NULL, reason);
	if (strcmp(req->op, MODPROTO_OP_RECEIPTS) == 0)
		return do_receipts(m, req->params, SIMRCPT_MAX_ANSWER, result, reason);
	applyctx_init(&ac, req->params, 0);
	rc = do_apply(m, req->params, &ac, result, reason, drop);
	applyctx_done(&ac);
	return rc;
}

/* Blob ops: a snapshot of the domain's register keys is taken under the
 * domain lock; the (long) batch runs without it, so admin commands on the
 * domain are not held up and an activation in between is seen by the next
 * batch. The keys are derived per request: a batch of thousands of blobs
 * pays two HKDFs, and no key outlives a destroyed register. */
static hsm_rc
do_blob(simmod *m, const modproto_request *req, json_t **result, const char **reason)
{
	simblob_keys keys;
	simdom *d;
	unsigned idx = 0;
	hsm_rc rc;

	if ((rc = param_domain(m, req->params, &idx, reason)) != HSM_OK)
		return rc;
	pthread_mutex_lock(&m->dlock[idx]);
	rc = get_dom(m, idx, &d);
	if (rc == HSM_OK)
		rc = simblob_keys_get(d, &keys);
	pthread_mutex_unlock(&m->dlock[idx]);
	if (rc != HSM_OK) {
		*reason = "io";
		return hsm_fail_wrap(HSM_ERR_MODULE, "domain %u cannot be read", idx);
	}
	rc = simblob_handle(req->op, &keys, req->params, result, reason);
	simblob_keys_clear(&keys);
	return rc;
}

hsm_rc
simmod_error_answer(hsm_rc rc, const char *message, json_t **answer)
{
	int code = rc == HSM_ERR_FORMAT ? MODPROTO_E_BAD_REQUEST : modproto_code_from_rc(rc);

	return modproto_answer_err(-1, code, rc == HSM_ERR_FORMAT ? "bad_json" : "error",
	                           message, answer);
}

/* hello / info: who the module is and where its keys are. */
static hsm_rc
info_answer(const simmod *m, json_t **result)
{
	json_t *kd = NULL;
	hsm_rc rc;

	if ((rc = ks_describe(m->ks, 1, &kd)) != HSM_OK)
		return rc;
	*result = json_pack("{s:i, s:s, s:i, s:s, s:s, s:o}", "protocol", MODPROTO_VERSION,
	                    "module", m->serial, "domains", (int)m->ndomains,
	                    "software", "hsmadm-simd " HSMADM_VERSION,
	                    "oa_cert", m->oa_cert_b64, "keystore", kd);
	return *result ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
}

hsm_rc
simmod_handle(simmod *m, json_t *msg, json_t **answer, int *drop)
{
	modproto_request req;
	json_t *result = NULL;
	const char *reason = "bad_request";
	int code;
	hsm_rc rc;

	*answer = NULL;
	*drop = 0;
	hsm_err_clear();
	if ((rc = modproto_request_parse(msg, &req)) != HSM_OK)
		return modproto_answer_err(req.id, MODPROTO_E_BAD_REQUEST, "bad_request",
		                           hsm_errmsg(), answer);
	if (strcmp(req.op, MODPROTO_OP_HELLO) == 0 || strcmp(req.op, MODPROTO_OP_INFO) == 0) {
		rc = info_answer(m, &result);
		reason = "internal";
	} else if (strcmp(req.op, MODPROTO_OP_QUERY) == 0 ||
	           strcmp(req.op, MODPROTO_OP_RECEIPTS) == 0 ||
	           strcmp(req.op, MODPROTO_OP_APPLY) == 0) {
		rc = do_domain_op(m, &req, &result, &reason, drop);
		if (*drop) {
			json_decref(result);
			return HSM_OK;
		}
	} else if (simblob_is_op(req.op)) {
		rc = do_blob(m, &req, &result, &reason);
	} else {
		reason = "unknown_op";
		rc = hsm_fail(HSM_ERR_FORMAT, "unknown op \"%.64s\" (want hello, info, domain.query, domain.receipts, command.apply or blob.*)",
		              req.op);
	}
	if (rc == HSM_OK) {
		rc = modproto_answer_ok(req.id, result, answer);
		json_decref(result);
		return rc;
	}
	json_decref(result);
	code = modproto_code_from_rc(rc);
	if (strcmp(reason, "unknown_op") == 0)
		code = MODPROTO_E_UNKNOWN_OP;
	return modproto_answer_err(req.id, code, reason, hsm_errmsg(), answer);
}
