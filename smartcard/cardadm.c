/* SPDX-License-Identifier: BSD-2-Clause */
/* cardadm.c - list, status, init and health check of hsmadm cards (see cardadm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsmadm/cardadm.h"
#include "hsmadm/cardsigner.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/envelope.h"
#include "hsmadm/x509util.h"

static const char FACTORY_PIN[] = "123456";
static const char FACTORY_PUK[] = "12345678";

/* Key info from a slot's certificate; absent certificate is not an error. */
static hsm_rc
key_info(piv *card, uint8_t slot, card_key_info *ki, X509 **cert_out)
{
	uint8_t ski[HSM_SKI_LEN];
	X509 *x = NULL;
	EVP_PKEY *pub = NULL;
	hsm_rc rc;

	memset(ki, 0, sizeof(*ki));
	if (cert_out != NULL)
		*cert_out = NULL;
	rc = piv_read_cert(card, slot, &x);
	if (rc == HSM_ERR_NOT_FOUND)
		return HSM_OK;
	if (rc != HSM_OK)
		return rc;
	ki->present = 1;
	/* Shown, and compared with the holder by the health check; a subject
	 * without exactly one readable CN shows none (the check then fails). */
	(void)x509u_subject_cn(x, ki->subject_cn, sizeof(ki->subject_cn));
	if ((pub = X509_get_pubkey(x)) != NULL && crypto_ec_curve(pub, &ki->curve) == HSM_OK &&
	    crypto_ski(pub, ski) == HSM_OK)
		hex_encode_buf(ski, sizeof(ski), ki->ski);
	EVP_PKEY_free(pub);
	if (cert_out != NULL)
		*cert_out = x;
	else
		X509_free(x);
	return HSM_OK;
}

hsm_rc
card_list(pcsc_ctx *ctx, card_summary **out, size_t *n)
{
	pcsc_reader *rd = NULL;
	card_summary *s = NULL;
	size_t nr = 0, i;
	hsm_rc rc;

	*out = NULL;
	*n = 0;
	if ((rc = pcsc_list(ctx, &rd, &nr)) != HSM_OK)
		return rc;
	if (nr > 0 && (s = calloc(nr, sizeof(*s))) == NULL) {
		pcsc_list_free(&rd, nr);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	for (i = 0; i < nr; i++) {
		piv *card = NULL;

		snprintf(s[i].reader, sizeof(s[i].reader), "%s", rd[i].name);
		s[i].card_present = rd[i].card_present;
		if (!rd[i].card_present)
			continue;
		rc = piv_connect(ctx, rd[i].name, &card);
		if (rc == HSM_OK && (rc = piv_begin(card)) == HSM_OK) {
			s[i].piv = 1;
			rc = cardprofile_read(card, &s[i].profile);
			if (rc == HSM_OK)
				s[i].initialized = 1;
			if (rc == HSM_OK || rc == HSM_ERR_NOT_FOUND) {
				uint8_t ver[3];

				rc = HSM_OK;
				if (piv_get_version(card, ver) == HSM_OK && ver[0] >= 5 &&
				    piv_get_serial(card, &s[i].serial) == HSM_OK)
					s[i].have_serial = 1;
			}
			piv_end(card);
		}
		if (rc != HSM_OK)
			snprintf(s[i].note, sizeof(s[i].note), "%s", hsm_errmsg());
		piv_free(&card);
		hsm_err_clear();
	}
	pcsc_list_free(&rd, nr);
	*out = s;
	*n = nr;
	return HSM_OK;
}

hsm_rc
card_status_read(piv *card, card_status *st)
{
	hsm_rc rc;

	memset(st, 0, sizeof(*st));
	snprintf(st->reader, sizeof(st->reader), "%s", piv_reader(card));
	st->envelopes = -1;
	if ((rc = piv_begin(card)) != HSM_OK)
		return rc;
	if (piv_get_version(card, st->version) == HSM_OK) {
		st->have_version = 1;
		if (st->version[0] >= 5 && piv_get_serial(card, &st->serial) == HSM_OK)
			st->have_serial = 1;
	}
	hsm_err_clear();
	if ((rc = piv_tries(card, PIV_REF_PIN, &st->pin_tries, NULL)) != HSM_OK)
		goto out;
	if ((rc = piv_tries(card, PIV_REF_PUK, &st->puk_tries, NULL)) != HSM_OK)
		goto out;
	if ((rc = key_info(card, PIV_SLOT_SIGN, &st->sign, NULL)) != HSM_OK ||
	    (rc = key_info(card, PIV_SLOT_KM, &st->keymgmt, NULL)) != HSM_OK)
		goto out;
	rc = cardprofile_read(card, &st->profile);
	if (rc == HSM_ERR_NOT_FOUND) {
		rc = HSM_OK;
		hsm_err_clear();
		goto out;
	}
	if (rc != HSM_OK)
		goto out;
	st->initialized = 1;
	if (st->profile.role == CARD_ROLE_CUSTODIAN) {
		char **ids = NULL;
		size_t n = 0;

		if ((rc = cardenv_list(card, &ids, &n)) != HSM_OK)
			goto out;
		st->envelopes = (int)n;
		cardenv_list_free(&ids, n);
	}
out:
	piv_end(card);
	return rc;
}

/* Build a certificate for pub, signed on the card by the key in sign_slot.
 * OpenSSL cannot call the card, so the certificate is first signed with a
 * throw-away key of the same curve (which fills in both algorithm fields),
 * then the signature value is replaced by the card's signature over the
 * to-be-signed part, and the result is re-parsed and verified. */
static hsm_rc
card_cert(piv *card, uint8_t sign_slot, EVP_PKEY *sign_pub, EVP_PKEY *pub,
          const cardprofile *p, const char *ou, X509 *issuer, int days,
          const hsm_secbuf *pin, X509 **out)
{
	X509 *x = NULL, *y = NULL;
	X509_NAME *name = NULL;
	EVP_PKEY *tmp = NULL;
	ASN1_INTEGER *sn = NULL;
	BIGNUM *bn = NULL;
	unsigned char *tbs = NULL, *der = NULL;
	const unsigned char *q;
	const ASN1_BIT_STRING *csig = NULL;
	ASN1_BIT_STRING *sigbits;
	uint8_t rnd[16], dg[64], *sig = NULL;
	size_t siglen = 0;
	hsm_curve curve;
	hsm_md md;
	int tbslen, derlen;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	if ((rc = crypto_ec_curve(sign_pub, &curve)) != HSM_OK)
		return rc;
	md = crypto_curve_md(curve);
	if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL)
		goto ossl;
	if ((rc = crypto_random(rnd, sizeof(rnd))) != HSM_OK)
		goto out;
	rnd[0] &= 0x7F;
	if ((bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || !X509_set_version(x, 2) ||
	    !X509_set_serialNumber(x, sn) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) == NULL ||
	    !X509_set_pubkey(x, pub))
		goto ossl;
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	        (const unsigned char *)"hsmadm", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
	        (const unsigned char *)ou, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	        (const unsigned char *)p->holder, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_NID(name, NID_serialNumber, MBSTRING_ASC,
	        (const unsigned char *)p->card_id, -1, -1, 0) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name))
		goto ossl;
	if ((rc = crypto_ec_generate(curve, &tmp)) != HSM_OK)
		goto out;
	if (X509_sign(x, tmp, md == HSM_MD_SHA384 ? EVP_sha384() :
	    md == HSM_MD_SHA512 ? EVP_sha512() : EVP_sha256()) <= 0)
		goto ossl;
	if ((tbslen = i2d_re_X509_tbs(x, &tbs)) <= 0)
		goto ossl;
	if ((rc = crypto_digest(md, tbs, (size_t)tbslen, dg)) != HSM_OK)
		goto out;
	if ((rc = piv_verify_pin(card, pin)) != HSM_OK ||
	    (rc = piv_sign(card, sign_slot, curve, dg, crypto_md_len(md), &sig, &siglen)) != HSM_OK)
		goto out;
	/* OpenSSL offers no setter for the signature value; the bit string it
	 * hands out is the certificate's own. */
	X509_get0_signature(&csig, NULL, x);
	sigbits = (ASN1_BIT_STRING *)csig;
	if (!ASN1_BIT_STRING_set(sigbits, sig, (int)siglen))
		goto ossl;
	sigbits->flags &= ~(long)(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sigbits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	if ((derlen = i2d_X509(x, &der)) <= 0)
		goto ossl;
	q = der;
	if ((y = d2i_X509(NULL, &q, derlen)) == NULL)
		goto ossl;
	if (X509_verify(y, sign_pub) != 1) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the card's signature on the new certificate does "
		    "not verify; the card may be faulty");
		goto out;
	}
	*out = y;
	y = NULL;
	goto out;
ossl:
	rc = hsm_fail(HSM_ERR_CRYPTO, "cannot build the card certificate");
out:
	X509_free(x);
	X509_free(y);
	X509_NAME_free(name);
	EVP_PKEY_free(tmp);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	OPENSSL_free(tbs);
	OPENSSL_free(der);
	free(sig);
	return rc;
}

static hsm_rc
factory(const char *s, hsm_secbuf **out)
{
	return secbuf_from(s, strlen(s), out);
}

/* Set the new PIN and PUK. Preferred: YubiKey SET PIN RETRIES (3/3), which
 * also puts both back to the factory values, so the current PUK need not be
 * known. Cards without it: change PIN from the current one and PUK from the
 * given (or factory) one. */
static hsm_rc
set_pins(piv *card, const card_init_opts *o)
{
	hsm_secbuf *fpin = NULL, *fpuk = NULL;
	const hsm_secbuf *oldpin = o->pin, *oldpuk = o->puk;
	uint16_t sw = 0;
	hsm_rc rc;

	if ((rc = factory(FACTORY_PIN, &fpin)) != HSM_OK ||
	    (rc = factory(FACTORY_PUK, &fpuk)) != HSM_OK)
		goto out;
	if ((rc = piv_verify_pin(card, o->pin)) != HSM_OK)
		goto out;
	rc = pcsc_apdu(piv_pcsc(card), 0x00, 0xFA, 3, 3, NULL, 0, NULL, 0, NULL, &sw);
	if (rc != HSM_OK)
		goto out;
	if (sw == 0x9000) {
		oldpin = fpin;
		oldpuk = fpuk;
	} else if (sw == 0x6D00 || sw == 0x6A81 || sw == 0x6E00) {
		if (oldpuk == NULL)
			oldpuk = fpuk;
	} else {
		rc = piv_sw_rc(sw, "resetting the PIN and PUK tries", 0);
		goto out;
	}
	if ((rc = piv_change(card, PIV_REF_PIN, oldpin, o->new_pin)) != HSM_OK)
		goto out;
	if ((rc = piv_change(card, PIV_REF_PUK, oldpuk, o->new_puk)) != HSM_OK) {
		if (rc == HSM_ERR_PIN_WRONG && oldpuk == fpuk && o->puk == NULL)
			rc = hsm_fail_wrap(rc, "the card's PUK is not the factory one; give it with "
			    "--puk-fd");
		goto out;
	}
out:
	secbuf_free(&fpin);
	secbuf_free(&fpuk);
	return rc;
}

/* The new profile from the options, checked; a fresh random card id. */
static hsm_rc
init_profile(const card_init_opts *o, cardprofile *p)
{
	uint8_t id[CARD_ID_BYTES];
	hsm_rc rc;

	memset(p, 0, sizeof(*p));
	p->role = o->role;
	snprintf(p->holder, sizeof(p->holder), "%s", o->holder ? o->holder : "");
	snprintf(p->installation, sizeof(p->installation), "%s",
	    o->installation ? o->installation : "");
	snprintf(p->backup_of, sizeof(p->backup_of), "%s", o->backup_of ? o->backup_of : "");
	if ((rc = crypto_random(id, sizeof(id))) != HSM_OK)
		return rc;
	hex_encode_buf(id, sizeof(id), p->card_id);
	if (o->holder == NULL || strlen(o->holder) >= sizeof(p->holder) ||
	    (o->installation != NULL && strlen(o->installation) > CARD_INSTALL_MAX) ||
	    (o->backup_of != NULL && strlen(o->backup_of) > CARD_ID_HEX))
		return hsm_fail(HSM_ERR_USAGE, "holder, installation id or backup-of too long");
	if ((rc = cardprofile_check(p)) != HSM_OK)
		return rc;
	if (o->pin == NULL || o->new_pin == NULL || o->new_puk == NULL)
		return hsm_fail(HSM_ERR_USAGE, "card_init: PINs missing");
	if ((rc = piv_pin_check(o->new_pin, PIV_REF_PIN)) != HSM_OK ||
	    (rc = piv_pin_check(o->new_puk, PIV_REF_PUK)) != HSM_OK)
		return rc;
	return HSM_OK;
}

/* Never overwrite a card silently: an initialized card needs --force and a
 * typed confirmation. old->card_id is "" for a card without a profile. */
static hsm_rc
confirm_overwrite(piv *card, const card_init_opts *o, cardprofile *old)
{
	char q[512];
	hsm_rc rc;

	rc = cardprofile_read(card, old);
	if (rc == HSM_ERR_NOT_FOUND) {
		old->card_id[0] = '\0';
		hsm_err_clear();
		return HSM_OK;
	}
	if (rc != HSM_OK)
		return rc;
	if (!o->force)
		return hsm_fail(HSM_ERR_EXISTS, "the card is already initialized (%s card of %s, "
		    "card id %s); nothing was changed. To wipe its keys and start again use "
		    "--force", card_role_name(old->role), old->holder, old->card_id);
	snprintf(q, sizeof(q), "The card is the %s card of %s (card id %s). Initializing it "
	    "again destroys its keys%s for good.", card_role_name(old->role), old->holder,
	    old->card_id, old->role == CARD_ROLE_CUSTODIAN ? " and key-part envelopes" : "");
	if (o->confirm == NULL)
		return hsm_fail(HSM_ERR_CANCELLED, "re-initializing needs a typed confirmation");
	return o->confirm(o->confirm_arg, q, old->card_id);
}

/* The confirmation was given without the card being held; now that it is
 * held, it must still be the card confirmed. */
static hsm_rc
still_same_card(piv *card, const cardprofile *old)
{
	cardprofile now;
	hsm_rc rc = cardprofile_read(card, &now);

	if ((rc == HSM_OK && strcmp(now.card_id, old->card_id) != 0) ||
	    (rc == HSM_ERR_NOT_FOUND && old->card_id[0] != '\0'))
		return hsm_fail(HSM_ERR_STATE, "the card changed while waiting for the "
		    "confirmation; nothing was changed, run the command again");
	if (rc != HSM_OK && rc != HSM_ERR_NOT_FOUND)
		return rc;
	hsm_err_clear();
	return HSM_OK;
}

/* Current management key, new PIN and PUK, then the new management key
 * (kept PIN-protected on the card) right away, so a later failure leaves a
 * card that a second run can finish with the new PIN. */
static hsm_rc
init_credentials(piv *card, const card_init_opts *o)
{
	hsm_secbuf *newkey = NULL;
	const hsm_secbuf *mk = o->new_mgmt_key;
	hsm_rc rc;

	if ((rc = cardmgmt_auth(card, o->pin, o->mgmt_key, o->allow_default_mgmt)) != HSM_OK ||
	    (rc = set_pins(card, o)) != HSM_OK)
		goto out;
	if (mk == NULL) {
		if ((rc = secbuf_new(24, &newkey)) != HSM_OK ||
		    (rc = crypto_random(newkey->data, 24)) != HSM_OK)
			goto out;
		newkey->len = 24;
		mk = newkey;
	}
	if ((rc = piv_set_mgmkey(card, cardmgmt_alg(mk->len), mk)) != HSM_OK ||
	    (rc = piv_mgmt_auth(card, cardmgmt_alg(mk->len), mk, 0)) != HSM_OK ||
	    (rc = cardmgmt_store(card, mk)) != HSM_OK)
		goto out;
out:
	secbuf_free(&newkey);
	return rc;
}

/* Keys generated on the card, certificates signed by the card: 9C for
 * every role, 9D for a custodian (a former custodian card loses its 9D
 * certificate, which names someone else). */
static hsm_rc
init_keys(piv *card, const card_init_opts *o, const cardprofile *p)
{
	int days = o->validity_days > 0 ? o->validity_days : 3650;
	EVP_PKEY *spub = NULL, *kpub = NULL;
	X509 *scert = NULL, *kcert = NULL;
	hsm_rc rc;

	if ((rc = piv_generate(card, PIV_SLOT_SIGN, HSM_CURVE_P384, PIV_PINPOL_ALWAYS,
	    PIV_TOUCH_NEVER, &spub)) != HSM_OK)
		goto out;
	if ((rc = card_cert(card, PIV_SLOT_SIGN, spub, spub, p, "hsmadm signature", NULL, days,
	    o->new_pin, &scert)) != HSM_OK ||
	    (rc = piv_write_cert(card, PIV_SLOT_SIGN, scert)) != HSM_OK)
		goto out;
	if (p->role == CARD_ROLE_CUSTODIAN) {
		if ((rc = piv_generate(card, PIV_SLOT_KM, HSM_CURVE_P384, PIV_PINPOL_ALWAYS,
		    PIV_TOUCH_NEVER, &kpub)) != HSM_OK)
			goto out;
		if ((rc = card_cert(card, PIV_SLOT_SIGN, spub, kpub, p, "hsmadm key management",
		    scert, days, o->new_pin, &kcert)) != HSM_OK ||
		    (rc = piv_write_cert(card, PIV_SLOT_KM, kcert)) != HSM_OK)
			goto out;
	} else {
		rc = piv_put_data(card, PIV_OBJ_CERT_9D, NULL, 0);
		if (rc == HSM_ERR_NOT_FOUND)
			rc = HSM_OK;
	}
out:
	EVP_PKEY_free(spub);
	EVP_PKEY_free(kpub);
	X509_free(scert);
	X509_free(kcert);
	return rc;
}

hsm_rc
card_init(piv *card, const card_init_opts *o, card_status *result)
{
	cardprofile old, p;
	hsm_rc rc;

	if ((rc = init_profile(o, &p)) != HSM_OK)
		return rc;
	/* 1. Confirmed, and still the card that was confirmed. */
	if ((rc = confirm_overwrite(card, o, &old)) != HSM_OK)
		return rc;
	if ((rc = piv_begin(card)) != HSM_OK)
		return rc;
	if ((rc = still_same_card(card, &old)) != HSM_OK)
		goto out;
	/* 2. Management key, PIN and PUK. */
	if ((rc = init_credentials(card, o)) != HSM_OK)
		goto out;
	/* 3. Forget the old identity before making the new one. */
	if ((rc = cardprofile_erase(card)) != HSM_OK && rc != HSM_ERR_NOT_FOUND)
		goto out;
	if ((rc = cardenv_delete_all(card)) != HSM_OK)
		goto out;
	/* 4. Keys and certificates. */
	if ((rc = init_keys(card, o, &p)) != HSM_OK)
		goto out;
	/* 5. The profile last: a card with a profile is a finished card. */
	if ((rc = cardprofile_write(card, &p)) != HSM_OK)
		goto out;
	if (result != NULL)
		rc = card_status_read(card, result);
out:
	if (rc != HSM_OK)
		rc = hsm_fail_wrap(rc, "initializing the card in \"%s\"", piv_reader(card));
	piv_end(card);
	return rc;
}

hsm_rc
card_verify(piv *card, int pin_fd, card_check *chk)
{
	uint8_t chal[48], *sig = NULL, ski[HSM_SKI_LEN];
	size_t siglen = 0;
	hsm_signer *s = NULL;
	X509 *scert = NULL, *kcert = NULL;
	EVP_PKEY *pub = NULL;
	char label[200];
	hsm_rc rc;

	memset(chk, 0, sizeof(*chk));
	chk->envelopes = -1;
	if ((rc = piv_begin(card)) != HSM_OK)
		return rc;
	rc = cardprofile_read(card, &chk->profile);
	if (rc == HSM_OK) {
		chk->initialized = 1;
	} else if (rc == HSM_ERR_NOT_FOUND) {
		hsm_err_clear();   /* a plain PIV card: check its 9C key anyway */
	} else {
		goto out;
	}
	if ((rc = key_info(card, PIV_SLOT_SIGN, &chk->sign, &scert)) != HSM_OK)
		goto out;
	if (!chk->sign.present) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "the card has no certificate in slot 9C, so its "
		    "signature key cannot be checked; initialize it with 'hsmadm-card init'");
		goto out;
	}
	if ((pub = X509_get_pubkey(scert)) == NULL) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the 9C certificate has no usable public key");
		goto out;
	}
	/* hsmadm writes a self-signed certificate naming the holder; a plain
	 * PIV card may carry any certificate (often CA-issued), so there only
	 * the key match below is checked. */
	chk->cert_ok = !chk->initialized || (X509_verify(scert, pub) == 1 &&
	    strcmp(chk->sign.subject_cn, chk->profile.holder) == 0);
	if (chk->initialized)
		snprintf(label, sizeof(label), "%s card of %s", card_role_name(chk->profile.role),
		    chk->profile.holder);
	else
		snprintf(label, sizeof(label), "card in \"%s\"", piv_reader(card));
	if ((rc = cardsigner_new(card, pin_fd, label, &s)) != HSM_OK)
		goto out;
	if ((rc = crypto_random(chal, sizeof(chal))) != HSM_OK)
		goto out;
	/* Do not hold the card while a person types the PIN. */
	piv_end(card);
	rc = signer_sign(s, chal, sizeof(chal), &sig, &siglen);
	/* signer_sign() checks the signature itself and calls a mismatch a
	 * crypto failure; for a health check it is the finding. */
	if (rc == HSM_ERR_CRYPTO)
		rc = hsm_fail(HSM_ERR_VERIFY, "the card's signature does not match its certificate: "
		    "the 9C key and certificate do not belong together; re-initialize the card");
	if (rc == HSM_OK)
		rc = piv_begin(card);
	if (rc != HSM_OK)
		goto out;   /* not inside a transaction: piv_end() below does nothing */
	rc = crypto_ecdsa_verify(pub, chal, sizeof(chal), sig, siglen);
	if (rc == HSM_ERR_VERIFY) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the card's signature does not match its certificate: "
		    "the 9C key and certificate do not belong together; re-initialize the card");
		goto out;
	}
	if (rc != HSM_OK)
		goto out;
	chk->signature_ok = 1;
	if (crypto_ski(pub, ski) == HSM_OK)
		hex_encode_buf(ski, sizeof(ski), chk->sign.ski);
	if (chk->initialized && chk->profile.role == CARD_ROLE_CUSTODIAN) {
		char **ids = NULL;
		size_t n = 0, i;

		if ((rc = key_info(card, PIV_SLOT_KM, &(card_key_info){ 0 }, &kcert)) != HSM_OK)
			goto out;
		chk->keymgmt_ok = kcert != NULL && X509_verify(kcert, pub) == 1;
		if ((rc = cardenv_list(card, &ids, &n)) != HSM_OK)
			goto out;
		chk->envelopes = (int)n;
		for (i = 0; i < n; i++) {
			uint8_t *blob = NULL;
			size_t bl = 0;
			envelope_info ei;

			if (cardenv_get(card, ids[i], &blob, &bl) != HSM_OK ||
			    envelope_parse(blob, bl, &ei) != HSM_OK ||
			    strcmp(ei.card_id, chk->profile.card_id) != 0 ||
			    strcmp(ei.part_id, ids[i]) != 0)
				chk->envelopes_bad++;
			free(blob);
		}
		cardenv_list_free(&ids, n);
		hsm_err_clear();
	}
	if (!chk->cert_ok) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the 9C certificate is not self-signed by the card's "
		    "key or does not name the holder in the profile");
		goto out;
	}
	if (chk->initialized && chk->profile.role == CARD_ROLE_CUSTODIAN && !chk->keymgmt_ok) {
		rc = hsm_fail(HSM_ERR_VERIFY, "the 9D key-management certificate is missing or not "
		    "issued by the card's 9C key");
		goto out;
	}
	if (chk->envelopes_bad > 0) {
		rc = hsm_fail(HSM_ERR_VERIFY, "%d key-part envelope(s) on the card are damaged or "
		    "belong to another card", chk->envelopes_bad);
		goto out;
	}
out:
	piv_end(card);
	signer_free(&s);
	EVP_PKEY_free(pub);
	X509_free(scert);
	X509_free(kcert);
	free(sig);
	return rc;
}
