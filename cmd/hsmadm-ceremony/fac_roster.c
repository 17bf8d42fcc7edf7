/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_roster.c - putting a person on the ceremony's roster. The roster is
 * how the verifier knows whose key may sign checkpoints and, for a
 * supervisor, the completion; so the key must come from the person's card
 * (profile and 9C certificate, both readable without a PIN) or from a
 * certificate file, never be typed in. A key that is already on the roster is
 * refused here, because the verifier would refuse the whole log for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hsmadm/cardprofile.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/piv.h"
#include "fac_int.h"

#define FAC_FILE_MAX (64 * 1024)

static const char *const roles[] = { "admin", "custodian", "supervisor", "witness",
                                     "facilitator", NULL };

hsm_rc
fac_check_role(const char *role)
{
	size_t i;

	for (i = 0; role != NULL && roles[i] != NULL; i++)
		if (strcmp(role, roles[i]) == 0)
			return HSM_OK;
	return hsm_fail(HSM_ERR_USAGE, "--role must be admin, custodian, supervisor, witness "
	    "or facilitator, not \"%s\"", role != NULL ? role : "");
}

/* Roles whose people hold an hsmadm card (cardprofile roles). */
static int
is_card_role(const char *role)
{
	return strcmp(role, "admin") == 0 || strcmp(role, "custodian") == 0 ||
	       strcmp(role, "supervisor") == 0;
}

/* A whole small file into memory (NUL-terminated). */
static hsm_rc
read_small(const char *what, const char *path, char **out, size_t *len)
{
	FILE *f;
	char *buf = NULL;
	size_t n;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	if ((f = fopen(path, "rb")) == NULL) {
		if (errno == ENOENT)
			return hsm_fail(HSM_ERR_NOT_FOUND, "%s %s does not exist", what, path);
		return hsm_fail(HSM_ERR_IO, "cannot read %s %s: %s", what, path, strerror(errno));
	}
	if ((buf = malloc(FAC_FILE_MAX + 1)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	n = fread(buf, 1, FAC_FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = hsm_fail(HSM_ERR_IO, "cannot read %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (n > FAC_FILE_MAX) {
		rc = hsm_fail(HSM_ERR_FORMAT, "%s %s is larger than %d bytes; it is not a "
		    "certificate or key", what, path, FAC_FILE_MAX);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return rc;
}

/* The certificate as PEM text (malloc'ed). */
static hsm_rc
cert_pem(X509 *x, char **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	if (b == NULL || PEM_write_bio_X509(b, x) != 1 || (n = BIO_get_mem_data(b, &p)) <= 0) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot write the certificate as PEM");
		goto out;
	}
	if ((*out = strndup(p, (size_t)n)) == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	BIO_free(b);
	return rc;
}

/* Add pubkey and ski of k, and the certificate x (may be NULL), to m. */
static hsm_rc
add_key(json_t *m, const EVP_PKEY *k, X509 *x)
{
	uint8_t *pt = NULL, ski[HSM_SKI_LEN];
	size_t ptlen = 0;
	char *pthex = NULL, skihex[2 * HSM_SKI_LEN + 1], *pem = NULL;
	hsm_curve c;
	hsm_rc rc;

	if ((rc = crypto_ec_curve(k, &c)) != HSM_OK)
		return hsm_fail_wrap(rc, "the key is not a P-256, P-384 or P-521 key");
	if ((rc = crypto_ec_point(k, &pt, &ptlen)) != HSM_OK ||
	    (rc = crypto_ski(k, ski)) != HSM_OK ||
	    (rc = hex_encode(pt, ptlen, &pthex)) != HSM_OK)
		goto out;
	hex_encode_buf(ski, sizeof(ski), skihex);
	if (x != NULL && (rc = cert_pem(x, &pem)) != HSM_OK)
		goto out;
	if (json_object_set_new(m, "pubkey", json_string(pthex)) != 0 ||
	    json_object_set_new(m, "ski", json_string(skihex)) != 0 ||
	    (pem != NULL && json_object_set_new(m, "cert", json_string(pem)) != 0))
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	free(pt);
	free(pthex);
	free(pem);
	return rc;
}

static hsm_rc
from_cert_file(const char *path, json_t *m)
{
	char *buf = NULL;
	size_t n = 0;
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *k;
	hsm_rc rc;

	if ((rc = read_small("certificate file", path, &buf, &n)) != HSM_OK)
		return rc;
	if ((b = BIO_new_mem_buf(buf, (int)n)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL ||
	    (k = X509_get0_pubkey(x)) == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "%s is not a PEM certificate "
		    "(-----BEGIN CERTIFICATE-----); export the person's signing certificate, "
		    "or use --card", path);
		goto out;
	}
	if ((rc = add_key(m, k, x)) != HSM_OK)
		hsm_fail_wrap(rc, "certificate %s", path);
out:
	X509_free(x);
	BIO_free(b);
	free(buf);
	return rc;
}

static hsm_rc
from_key_file(const char *path, json_t *m)
{
	char *buf = NULL;
	size_t n = 0;
	EVP_PKEY *k = NULL;
	hsm_rc rc;

	if ((rc = read_small("key file", path, &buf, &n)) != HSM_OK)
		return rc;
	/* A public key; or, in tests, a software private key of which only the
	 * public half is recorded. */
	if (crypto_pub_from_pem(buf, n, &k) != HSM_OK &&
	    crypto_priv_load_pem(path, &k) != HSM_OK) {
		rc = hsm_fail(HSM_ERR_FORMAT, "%s is not a PEM P-256/P-384/P-521 public or "
		    "private key", path);
		goto out;
	}
	if ((rc = add_key(m, k, NULL)) != HSM_OK)
		hsm_fail_wrap(rc, "key file %s", path);
out:
	EVP_PKEY_free(k);
	if (buf != NULL)
		secure_wipe(buf, n);   /* it may have held a test private key */
	free(buf);
	return rc;
}

/* The card's profile and 9C certificate. */
static hsm_rc
from_card(const struct fac_member_src *src, const char *role, const char **name,
          const char *installation, json_t *m)
{
	char *reader = NULL;
	pcsc_ctx *own = NULL, *pc = src->pc;
	piv *p = NULL;
	cardprofile prof;
	X509 *x = NULL;
	EVP_PKEY *k;
	hsm_rc rc;

	/* The smart card service only when a card is read, so that the other
	 * ways work on a workstation without pcscd. */
	if (pc == NULL) {
		if ((rc = pcsc_open(&own)) != HSM_OK)
			return hsm_fail_wrap(rc, "reading the card needs the smart card service");
		pc = own;
	}
	if ((rc = pcsc_find_reader(pc, src->reader, &reader)) != HSM_OK)
		goto out;
	if ((rc = piv_connect(pc, reader, &p)) != HSM_OK) {
		if (rc == HSM_ERR_NOT_FOUND)
			rc = hsm_fail(HSM_ERR_NO_CARD, "the card in %s is not a PIV card; insert "
			    "the person's hsmadm card", reader);
		goto out;
	}
	if ((rc = cardprofile_read(p, &prof)) != HSM_OK) {
		if (rc == HSM_ERR_NOT_FOUND)
			rc = hsm_fail(HSM_ERR_NO_CARD, "the card in %s is not set up for hsmadm "
			    "(no card profile); initialize it first with hsmadm-card init "
			    "--role %s", reader, role);
		else
			hsm_fail_wrap(rc, "reading the card profile in %s", reader);
		goto out;
	}
	if (strcmp(card_role_name(prof.role), role) != 0) {
		rc = hsm_fail(HSM_ERR_NO_CARD, "the card in %s is the %s card of %s, not a %s "
		    "card; insert the right card or fix --role", reader,
		    card_role_name(prof.role), prof.holder, role);
		goto out;
	}
	if (*name != NULL && strcmp(*name, prof.holder) != 0) {
		rc = hsm_fail(HSM_ERR_NO_CARD, "the card in %s belongs to %s, not to %s; "
		    "insert %s's card (or leave out --name to take the card's holder)",
		    reader, prof.holder, *name, *name);
		goto out;
	}
	if (installation != NULL && *installation != '\0' && prof.installation[0] != '\0' &&
	    strcmp(installation, prof.installation) != 0) {
		rc = hsm_fail(HSM_ERR_NO_CARD, "the card in %s (%s) belongs to installation %s, "
		    "but this ceremony is for installation %s", reader, prof.holder,
		    prof.installation, installation);
		goto out;
	}
	if ((rc = piv_read_cert(p, PIV_SLOT_SIGN, &x)) != HSM_OK) {
		hsm_fail_wrap(rc, "the card in %s (%s) has no readable signature certificate "
		    "(slot 9C); check it with hsmadm-card verify", reader, prof.holder);
		goto out;
	}
	k = X509_get0_pubkey(x);
	/* The card writes a self-signed 9C certificate; one that its own key
	 * does not sign was not made by hsmadm-card init. */
	if (k == NULL || X509_verify(x, k) != 1) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the signature certificate on the card in %s "
		    "(%s) is not signed by its own key; check the card with hsmadm-card "
		    "verify", reader, prof.holder);
		goto out;
	}
	if ((rc = add_key(m, k, x)) != HSM_OK)
		goto out;
	if (json_object_set_new(m, "card_id", json_string(prof.card_id)) != 0 ||
	    (prof.backup_of[0] != '\0' &&
	     json_object_set_new(m, "backup_of", json_string(prof.backup_of)) != 0) ||
	    json_object_set_new(m, "name", json_string(prof.holder)) != 0) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	*name = json_string_value(json_object_get(m, "name"));
out:
	X509_free(x);
	piv_free(&p);
	free(reader);
	pcsc_close(&own);
	return rc;
}

hsm_rc
fac_roster_add(const char *path, const char *role, const char *name,
               const struct fac_member_src *src, const struct fac_who *who, json_t **out)
{
	fac_ctx c;
	ev_actor a = fac_actor(who);
	ev_member em;
	json_t *m = NULL, *e;
	int nsrc = (src->card != 0) + (src->cert_file != NULL) + (src->key_file != NULL);
	const char *ski;
	size_t i;
	hsm_rc rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = fac_check_role(role)) != HSM_OK)
		return rc;
	if (nsrc > 1)
		return hsm_fail(HSM_ERR_USAGE, "give one of --card, --cert and --key-file");
	if (nsrc == 0 && is_card_role(role))
		return hsm_fail(HSM_ERR_USAGE, "a %s signs with a key: give --card (the "
		    "person's card in a reader) or --cert FILE", role);
	if (src->card && !is_card_role(role))
		return hsm_fail(HSM_ERR_USAGE, "a %s has no hsmadm card; use --cert FILE, or "
		    "no key at all", role);
	if (name == NULL && !src->card)
		return hsm_fail(HSM_ERR_USAGE, "no name given (--name NAME)");
	if (name != NULL && (rc = fac_check_text("the name (--name)", name, FAC_TITLE_MAX)) != HSM_OK)
		return rc;
	if ((m = json_object()) == NULL ||
	    json_object_set_new(m, "role", json_string(role)) != 0 ||
	    (name != NULL && json_object_set_new(m, "name", json_string(name)) != 0)) {
		json_decref(m);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	if ((rc = fac_begin(path, &c)) != HSM_OK) {
		json_decref(m);
		return rc;
	}
	if (src->card)
		rc = from_card(src, role, &name,
		               json_string_value(json_object_get(c.st, "installation")), m);
	else if (src->cert_file != NULL)
		rc = from_cert_file(src->cert_file, m);
	else if (src->key_file != NULL)
		rc = from_key_file(src->key_file, m);
	if (rc != HSM_OK)
		goto out;
	/* One key, one place on the roster (the verifier refuses a log that
	 * registers a key twice); a person without a key once per role. */
	ski = json_string_value(json_object_get(m, "ski"));
	json_array_foreach(json_object_get(c.st, "roster"), i, e) {
		const char *eski = json_string_value(json_object_get(e, "ski"));
		const char *ename = json_string_value(json_object_get(e, "name"));
		const char *erole = json_string_value(json_object_get(e, "role"));
		if (ski != NULL && eski != NULL && strcmp(ski, eski) == 0) {
			rc = hsm_fail(HSM_ERR_EXISTS, "this key (%.16s...) is already on the roster "
			    "of %s, for %s (%s, seq %lld); nothing was added", ski, path,
			    ename ? ename : "?", erole ? erole : "?",
			    (long long)json_integer_value(json_object_get(e, "seq")));
			goto out;
		}
		if (ski == NULL && eski == NULL && ename != NULL && erole != NULL &&
		    strcmp(ename, name) == 0 && strcmp(erole, role) == 0) {
			rc = hsm_fail(HSM_ERR_EXISTS, "%s is already on the roster of %s as %s; "
			    "nothing was added", name, path, role);
			goto out;
		}
	}
	memset(&em, 0, sizeof(em));
	em.name = json_string_value(json_object_get(m, "name"));
	em.role = role;
	em.card_id = json_string_value(json_object_get(m, "card_id"));
	em.ski = ski;
	em.pubkey = json_string_value(json_object_get(m, "pubkey"));
	em.identity = json_string_value(json_object_get(m, "identity"));
	em.cert = json_string_value(json_object_get(m, "cert"));
	em.backup_of = json_string_value(json_object_get(m, "backup_of"));
	if ((rc = evrec_roster(c.log, &a, &em, 1, NULL)) == HSM_OK)
		rc = fac_recorded(&c, path, out);
	if (rc == HSM_OK && out != NULL && *out != NULL &&
	    json_object_set(*out, "member", m) != 0)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	json_decref(m);
	fac_end(&c);
	return rc;
}
