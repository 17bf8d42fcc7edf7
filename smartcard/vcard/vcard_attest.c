/* SPDX-License-Identifier: BSD-2-Clause */
/* vcard_attest.c - YubiKey-style attestation (INS F9): a certificate for a
 * key generated on the card, signed by the card's attestation key in slot F9,
 * whose own certificate is in object 5FFF01. A new card gets a self-signed
 * P-256 attestation certificate (a YubiKey's is signed by Yubico's CA; this
 * one says plainly that it is an emulator). Extensions as Yubico documents
 * them: 1.3.6.1.4.1.41482.3.3 firmware, .3.7 serial, .3.8 PIN and touch
 * policy, .3.9 form factor. */
#include <string.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsmadm/bytes.h"
#include "vcard_int.h"

#define ATTEST_OBJ 0x5FFF01u

static hsm_rc
add_ext(X509 *x, const char *oid, const uint8_t *v, size_t n)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	hsm_rc rc = HSM_OK;

	if (obj == NULL || os == NULL || !ASN1_OCTET_STRING_set(os, v, (int)n) ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL ||
	    !X509_add_ext(x, ext, -1))
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot add extension %s", oid);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return rc;
}

static hsm_rc
set_random_serial(X509 *x)
{
	uint8_t r[16];
	BIGNUM *bn = NULL;
	hsm_rc rc = HSM_OK;

	if (vk_random(r, sizeof(r)) != HSM_OK)
		return hsm_fail(HSM_ERR_CRYPTO, "random generator failed");
	r[0] &= 0x7F;   /* positive */
	r[0] |= 0x01;   /* and 16 bytes long */
	if ((bn = BN_bin2bn(r, sizeof(r), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot set a certificate serial");
	BN_free(bn);
	return rc;
}

/* DER of a certificate into out (cap), as i2d_X509 writes it. */
static hsm_rc
cert_der(X509 *x, uint8_t *out, size_t cap, size_t *n)
{
	int len = i2d_X509(x, NULL);
	uint8_t *p = out;

	if (len <= 0 || (size_t)len > cap)
		return hsm_fail(HSM_ERR_CRYPTO, "cannot encode a certificate");
	*n = (size_t)i2d_X509(x, &p);
	return HSM_OK;
}

/* The attestation certificate from object 5FFF01 (70 LL <DER> ...). */
static X509 *
attest_cert(vcard *c)
{
	struct vcard_obj *o = vc_obj_find(c, ATTEST_OBJ);
	const uint8_t *p;
	hsm_bytes r;
	tlv_item it;

	if (o == NULL)
		return NULL;
	/* The object is read from the card file: checked like any input. */
	bytes_init(&r, o->data, o->len, "attestation certificate object");
	if (tlv_next(&r, &it) != HSM_OK || it.tag != 0x70)
		return NULL;
	p = it.val;
	return d2i_X509(NULL, &p, (long)it.len);
}

hsm_rc
vc_attest_init(vcard *c)
{
	int idx = vc_slot_index(0xF9);
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	X509_NAME *name = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	uint8_t der[1024], obj[1040];
	char cn[80];
	size_t n = 0, on = 0;
	hsm_rc rc;

	if ((rc = vk_generate(VC_ALG_P256, &k)) != HSM_OK)
		return rc;
	snprintf(cn, sizeof(cn), "hsmadm-vcard emulator attestation %u", c->serial);
	if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_version(x, 2) || !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, name) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 20L * 365 * 24 * 3600) == NULL ||
	    !X509_set_pubkey(x, k)) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot build the attestation certificate");
		goto out;
	}
	if ((rc = set_random_serial(x)) != HSM_OK)
		goto out;
	/* A CA for the attestations it signs (X.509 v3 wants it said). */
	if ((bc = BASIC_CONSTRAINTS_new()) == NULL ||
	    (bc->ca = 1, !X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT))) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot mark the attestation certificate as a CA");
		goto out;
	}
	if (!X509_sign(x, k, EVP_sha256())) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot sign the attestation certificate");
		goto out;
	}
	if ((rc = cert_der(x, der, sizeof(der), &n)) != HSM_OK)
		goto out;
	/* PIV certificate object: 70 <cert> 71 01 00 (not compressed) FE 00. */
	obj[on++] = 0x70;
	obj[on++] = 0x82, obj[on++] = (uint8_t)(n >> 8), obj[on++] = (uint8_t)n;
	memcpy(obj + on, der, n);
	on += n;
	memcpy(obj + on, "\x71\x01\x00\xFE\x00", 5);
	on += 5;
	if ((rc = vc_obj_put(c, ATTEST_OBJ, obj, on)) != HSM_OK)
		goto out;
	EVP_PKEY_free(c->keys[idx].pkey);
	c->keys[idx].slot = 0xF9;
	c->keys[idx].alg = VC_ALG_P256;
	c->keys[idx].pin_policy = VC_PIN_NEVER;
	c->keys[idx].touch_policy = VC_TOUCH_NEVER;
	c->keys[idx].origin = VC_ORIGIN_GENERATED;
	c->keys[idx].pkey = k;
	k = NULL;
out:
	BASIC_CONSTRAINTS_free(bc);
	EVP_PKEY_free(k);
	X509_NAME_free(name);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

hsm_rc
vc_attest(vcard *c, uint8_t slot, uint8_t *out, size_t cap, size_t *n)
{
	int idx = vc_slot_index(slot), fidx = vc_slot_index(0xF9);
	struct vcard_key *k, *f = &c->keys[fidx];
	X509 *ca = NULL, *x = NULL;
	X509_NAME *name = NULL;
	char cn[64];
	uint8_t fw[3], pol[2], ff = 0x81, ser[8], *sp = ser;
	ASN1_INTEGER *ai = NULL;
	int sl;
	hsm_rc rc;

	if (idx < 0 || slot == 0xF9)
		return hsm_fail(HSM_ERR_NOT_FOUND, "slot %02x cannot be attested", slot);
	k = &c->keys[idx];
	if (k->slot == 0)
		return hsm_fail(HSM_ERR_NOT_FOUND, "slot %02x is empty", slot);
	if (k->origin != VC_ORIGIN_GENERATED)
		return hsm_fail(HSM_ERR_STATE, "slot %02x holds an imported key", slot);
	if (f->slot == 0 || (ca = attest_cert(c)) == NULL)
		return hsm_fail(HSM_ERR_NOT_FOUND, "card has no attestation key or certificate");
	snprintf(cn, sizeof(cn), "YubiKey PIV Attestation %02x", slot);
	memcpy(fw, c->version, 3);
	pol[0] = k->pin_policy, pol[1] = k->touch_policy;
	if ((ai = ASN1_INTEGER_new()) == NULL || !ASN1_INTEGER_set_uint64(ai, c->serial) ||
	    (sl = i2d_ASN1_INTEGER(ai, NULL)) <= 0 || (size_t)sl > sizeof(ser)) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot encode the serial");
		goto out;
	}
	(void)i2d_ASN1_INTEGER(ai, &sp);
	if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_version(x, 2) || !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !X509_set1_notBefore(x, X509_get0_notBefore(ca)) ||
	    !X509_set1_notAfter(x, X509_get0_notAfter(ca)) ||
	    !X509_set_pubkey(x, k->pkey)) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot build the attestation");
		goto out;
	}
	if ((rc = set_random_serial(x)) != HSM_OK ||
	    (rc = add_ext(x, "1.3.6.1.4.1.41482.3.3", fw, 3)) != HSM_OK ||
	    (rc = add_ext(x, "1.3.6.1.4.1.41482.3.7", ser, (size_t)sl)) != HSM_OK ||
	    (rc = add_ext(x, "1.3.6.1.4.1.41482.3.8", pol, 2)) != HSM_OK ||
	    (rc = add_ext(x, "1.3.6.1.4.1.41482.3.9", &ff, 1)) != HSM_OK)
		goto out;
	if (!X509_sign(x, f->pkey, EVP_sha256())) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "cannot sign the attestation");
		goto out;
	}
	rc = cert_der(x, out, cap, n);
out:
	ASN1_INTEGER_free(ai);
	X509_NAME_free(name);
	X509_free(x);
	X509_free(ca);
	ERR_clear_error();
	return rc;
}
