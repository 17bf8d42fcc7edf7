/* SPDX-License-Identifier: BSD-2-Clause */
/* p11.c - a PKCS#11 token through its vendor library (p11.h). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "hsmadm/crypto.h"
#include "hsmadm/secbuf.h"

#include "p11.h"

struct p11 {
	void                *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE    s;
	int                  inited, open;
	pthread_mutex_t      lock;
	char                 desc[128];
};

/* DER of the OID of secp384r1: the CKA_EC_PARAMS of every pair made here. */
static const CK_BYTE p384_params[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };

static CK_BBOOL ck_true = CK_TRUE, ck_false = CK_FALSE;

static hsm_rc
ckfail(const char *what, CK_RV rv)
{
	if (rv == CKR_PIN_INCORRECT)
		return hsm_fail(HSM_ERR_PIN_WRONG, "%s: the token PIN is wrong", what);
	if (rv == CKR_PIN_LOCKED)
		return hsm_fail(HSM_ERR_PIN_BLOCKED, "%s: the token PIN is locked", what);
	if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
	    rv == CKR_SIGNATURE_INVALID)
		return hsm_fail(HSM_ERR_VERIFY, "%s: the data does not authenticate", what);
	if (rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)
		return hsm_fail(HSM_ERR_NOT_FOUND, "%s: the token object is gone", what);
	return hsm_fail(HSM_ERR_CRYPTO, "%s: the token says CKR 0x%lx", what, (unsigned long)rv);
}

/* A fixed-width PKCS#11 text field without its blank padding. */
static void
unpad(const CK_UTF8CHAR *s, size_t n, char *out, size_t outn)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0'))
		n--;
	if (n >= outn)
		n = outn - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

static hsm_rc
load_lib(p11 *p, const char *lib)
{
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS ia;
	CK_RV rv;

	if ((p->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return hsm_fail(HSM_ERR_USAGE, "cannot load the PKCS#11 library %s: %s", lib,
		                dlerror());
	*(void **)&gfl = dlsym(p->dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&p->f) != CKR_OK || p->f == NULL)
		return hsm_fail(HSM_ERR_USAGE, "%s is not a PKCS#11 library (no C_GetFunctionList)",
		                lib);
	memset(&ia, 0, sizeof(ia));
	ia.flags = CKF_OS_LOCKING_OK;
	rv = p->f->C_Initialize(&ia);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return ckfail("C_Initialize", rv);
	p->inited = rv == CKR_OK;
	return HSM_OK;
}

static hsm_rc
find_slot(p11 *p, const char *token, CK_SLOT_ID *slot)
{
	CK_SLOT_ID ids[64];
	CK_ULONG n = 64, i;
	CK_TOKEN_INFO ti;
	char label[33], man[33], model[17], serial[17];
	CK_RV rv;

	if ((rv = p->f->C_GetSlotList(CK_TRUE, ids, &n)) != CKR_OK)
		return ckfail("C_GetSlotList", rv);
	for (i = 0; i < n; i++) {
		if (p->f->C_GetTokenInfo(ids[i], &ti) != CKR_OK)
			continue;
		unpad(ti.label, sizeof(ti.label), label, sizeof(label));
		if (strcmp(label, token) != 0)
			continue;
		unpad(ti.manufacturerID, sizeof(ti.manufacturerID), man, sizeof(man));
		unpad(ti.model, sizeof(ti.model), model, sizeof(model));
		unpad(ti.serialNumber, sizeof(ti.serialNumber), serial, sizeof(serial));
		snprintf(p->desc, sizeof(p->desc), "%s %s %s", man, model, serial);
		*slot = ids[i];
		return HSM_OK;
	}
	return hsm_fail(HSM_ERR_NOT_FOUND, "no initialized token labelled \"%s\" in this PKCS#11 library",
	                token);
}

hsm_rc
p11_open(const char *lib, const char *token, const hsm_secbuf *pin, p11 **out)
{
	p11 *p;
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	hsm_rc rc;

	*out = NULL;
	if (lib == NULL || token == NULL || pin == NULL || strlen(token) > 32)
		return hsm_fail(HSM_ERR_USAGE, "give a PKCS#11 library, a token label (at most 32 bytes) and a PIN");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	if ((rc = load_lib(p, lib)) != HSM_OK || (rc = find_slot(p, token, &slot)) != HSM_OK)
		goto fail;
	if ((rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
	    &p->s)) != CKR_OK) {
		rc = ckfail("C_OpenSession", rv);
		goto fail;
	}
	p->open = 1;
	rv = p->f->C_Login(p->s, CKU_USER, pin->data, pin->len);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		rc = ckfail("login to the token", rv);
		goto fail;
	}
	*out = p;
	return HSM_OK;
fail:
	p11_close(&p);
	return rc;
}

void
p11_close(p11 **pp)
{
	p11 *p;

	if (pp == NULL || *pp == NULL)
		return;
	p = *pp;
	if (p->open)
		(void)p->f->C_CloseSession(p->s);
	if (p->inited)
		(void)p->f->C_Finalize(NULL);
	if (p->dl != NULL)
		dlclose(p->dl);
	pthread_mutex_destroy(&p->lock);
	free(p);
	*pp = NULL;
}

const char *
p11_token_desc(const p11 *p)
{
	return p->desc;
}

hsm_rc
p11_read_pin(int fd, const char *path, hsm_secbuf **out)
{
	struct stat sb;
	int own = -1;
	hsm_rc rc;

	*out = NULL;
	if (fd < 0 && path == NULL)
		return hsm_fail(HSM_ERR_USAGE, "give the token PIN with --pin-fd or --pin-file");
	if (fd < 0) {
		if ((own = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return hsm_fail(HSM_ERR_IO, "cannot open the PIN file %s: %s", path,
			                strerror(errno));
		if (fstat(own, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			close(own);
			return hsm_fail(HSM_ERR_IO, "the PIN file %s is not a regular file", path);
		}
		/* A PIN others can read or change is no PIN. */
		if ((sb.st_mode & 077) != 0 || (sb.st_uid != geteuid() && sb.st_uid != 0)) {
			close(own);
			return hsm_fail(HSM_ERR_AUTH, "the PIN file %s must belong to this user (or root) and be mode 0600 or 0400, not 0%03o",
			                path, (unsigned)(sb.st_mode & 0777));
		}
		fd = own;
	}
	rc = secure_read_line(NULL, fd, P11_PIN_MAX, out);
	if (own >= 0)
		close(own);
	if (rc == HSM_OK && (*out)->len == 0) {
		secbuf_free(out);
		return hsm_fail(HSM_ERR_USAGE, "the token PIN is empty");
	}
	return rc == HSM_OK ? HSM_OK : hsm_fail_wrap(rc, "cannot read the token PIN");
}

/* Caller holds the lock. */
static hsm_rc
find_locked(p11 *p, int cls, const char *label, CK_OBJECT_HANDLE *h, CK_ULONG *n)
{
	static const CK_OBJECT_CLASS classes[] = { CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY };
	CK_OBJECT_CLASS c = classes[cls];
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &c, sizeof(c) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_RV rv;

	if ((rv = p->f->C_FindObjectsInit(p->s, t, 2)) != CKR_OK)
		return ckfail("C_FindObjectsInit", rv);
	rv = p->f->C_FindObjects(p->s, h, 2, n);
	(void)p->f->C_FindObjectsFinal(p->s);
	return rv == CKR_OK ? HSM_OK : ckfail("C_FindObjects", rv);
}

hsm_rc
p11_find(p11 *p, int cls, const char *label, p11_obj *out)
{
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	hsm_rc rc;

	pthread_mutex_lock(&p->lock);
	rc = find_locked(p, cls, label, h, &n);
	pthread_mutex_unlock(&p->lock);
	if (rc != HSM_OK)
		return rc;
	if (n == 0)
		return hsm_fail(HSM_ERR_NOT_FOUND, "the token holds no object labelled %s", label);
	if (n > 1)
		return hsm_fail(HSM_ERR_EXISTS, "the token holds two objects labelled %s", label);
	*out = h[0];
	return HSM_OK;
}

hsm_rc
p11_aes_import(p11 *p, const char *label, const uint8_t key[32], int use, p11_obj *out)
{
	CK_OBJECT_CLASS c = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_BBOOL *u = use ? &ck_true : &ck_false;
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &c, sizeof(c) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &ck_true, 1 }, { CKA_PRIVATE, &ck_true, 1 },
		{ CKA_SENSITIVE, &ck_true, 1 }, { CKA_EXTRACTABLE, &ck_false, 1 },
		{ CKA_ENCRYPT, u, 1 }, { CKA_DECRYPT, u, 1 },
		{ CKA_WRAP, &ck_false, 1 }, { CKA_UNWRAP, &ck_false, 1 },
		{ CKA_SIGN, &ck_false, 1 }, { CKA_VERIFY, &ck_false, 1 },
		{ CKA_DERIVE, &ck_false, 1 },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_VALUE, (void *)key, 32 },
	};
	CK_RV rv;

	pthread_mutex_lock(&p->lock);
	rv = p->f->C_CreateObject(p->s, t, sizeof(t) / sizeof(t[0]), &h);
	pthread_mutex_unlock(&p->lock);
	if (rv != CKR_OK)
		return ckfail("C_CreateObject (AES-256 key)", rv);
	*out = h;
	return HSM_OK;
}

hsm_rc
p11_aes_generate(p11 *p, const char *label, p11_obj *out)
{
	CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE t[] = {
		{ CKA_TOKEN, &ck_true, 1 }, { CKA_PRIVATE, &ck_true, 1 },
		{ CKA_SENSITIVE, &ck_true, 1 }, { CKA_EXTRACTABLE, &ck_false, 1 },
		{ CKA_ENCRYPT, &ck_true, 1 }, { CKA_DECRYPT, &ck_true, 1 },
		{ CKA_WRAP, &ck_false, 1 }, { CKA_UNWRAP, &ck_false, 1 },
		{ CKA_SIGN, &ck_false, 1 }, { CKA_VERIFY, &ck_false, 1 },
		{ CKA_DERIVE, &ck_false, 1 },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_RV rv;

	pthread_mutex_lock(&p->lock);
	rv = p->f->C_GenerateKey(p->s, &m, t, sizeof(t) / sizeof(t[0]), &h);
	pthread_mutex_unlock(&p->lock);
	if (rv != CKR_OK)
		return ckfail("C_GenerateKey (AES-256)", rv);
	*out = h;
	return HSM_OK;
}

/* The uncompressed point in CKA_EC_POINT: a DER OCTET STRING around it
 * (PKCS#11 2.40), or, from some libraries, the bare point. */
static hsm_rc
point_to_pkey(const uint8_t *v, size_t n, EVP_PKEY **pub)
{
	if (n == 99 && v[0] == 0x04 && v[1] == 97)
		return crypto_ec_from_point(HSM_CURVE_P384, v + 2, 97, pub);
	if (n == 97 && v[0] == 0x04)
		return crypto_ec_from_point(HSM_CURVE_P384, v, 97, pub);
	return hsm_fail(HSM_ERR_FORMAT, "the token's EC point is not a P-384 point");
}

static hsm_rc
read_point(p11 *p, CK_OBJECT_HANDLE h, EVP_PKEY **pub)
{
	uint8_t v[160];
	CK_ATTRIBUTE a = { CKA_EC_POINT, v, sizeof(v) };
	CK_RV rv;

	pthread_mutex_lock(&p->lock);
	rv = p->f->C_GetAttributeValue(p->s, h, &a, 1);
	pthread_mutex_unlock(&p->lock);
	if (rv != CKR_OK)
		return ckfail("C_GetAttributeValue (CKA_EC_POINT)", rv);
	return point_to_pkey(v, a.ulValueLen, pub);
}

hsm_rc
p11_ec_generate(p11 *p, const char *label, int usage, EVP_PKEY **pub, p11_obj *priv)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL *sign = (usage & P11_EC_SIGN) ? &ck_true : &ck_false;
	CK_BBOOL *derive = (usage & P11_EC_DERIVE) ? &ck_true : &ck_false;
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_ATTRIBUTE tpub[] = {
		{ CKA_TOKEN, &ck_true, 1 }, { CKA_VERIFY, sign, 1 },
		{ CKA_ENCRYPT, &ck_false, 1 }, { CKA_WRAP, &ck_false, 1 },
		{ CKA_DERIVE, &ck_false, 1 },
		{ CKA_EC_PARAMS, (void *)p384_params, sizeof(p384_params) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_ATTRIBUTE tpriv[] = {
		{ CKA_TOKEN, &ck_true, 1 }, { CKA_PRIVATE, &ck_true, 1 },
		{ CKA_SENSITIVE, &ck_true, 1 }, { CKA_EXTRACTABLE, &ck_false, 1 },
		{ CKA_SIGN, sign, 1 }, { CKA_DERIVE, derive, 1 },
		{ CKA_DECRYPT, &ck_false, 1 }, { CKA_UNWRAP, &ck_false, 1 },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_RV rv;
	hsm_rc rc;

	*pub = NULL;
	pthread_mutex_lock(&p->lock);
	rv = p->f->C_GenerateKeyPair(p->s, &m, tpub, sizeof(tpub) / sizeof(tpub[0]), tpriv,
	                             sizeof(tpriv) / sizeof(tpriv[0]), &hpub, &hpriv);
	pthread_mutex_unlock(&p->lock);
	if (rv != CKR_OK)
		return ckfail("C_GenerateKeyPair (P-384)", rv);
	if ((rc = read_point(p, hpub, pub)) != HSM_OK) {
		(void)p11_destroy(p, label, NULL);
		return rc;
	}
	*priv = hpriv;
	return HSM_OK;
}

hsm_rc
p11_ec_public(p11 *p, const char *label, EVP_PKEY **pub)
{
	p11_obj h;
	hsm_rc rc;

	*pub = NULL;
	if ((rc = p11_find(p, P11_PUBLIC, label, &h)) != HSM_OK)
		return rc;
	return read_point(p, h, pub);
}

hsm_rc
p11_ecdsa(p11 *p, p11_obj priv, const uint8_t *dg, size_t dglen, uint8_t raw[96])
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_ULONG n = 96;
	CK_RV rv;

	pthread_mutex_lock(&p->lock);
	rv = p->f->C_SignInit(p->s, &m, priv);
	if (rv == CKR_OK)
		rv = p->f->C_Sign(p->s, (CK_BYTE_PTR)dg, dglen, raw, &n);
	pthread_mutex_unlock(&p->lock);
	if (rv != CKR_OK)
		return ckfail("C_Sign (ECDSA)", rv);
	if (n != 96)
		return hsm_fail(HSM_ERR_CRYPTO, "the token's ECDSA signature has %lu bytes, not 96",
		                (unsigned long)n);
	return HSM_OK;
}

hsm_rc
p11_ecdh(p11 *p, p11_obj priv, const uint8_t *point, size_t n, hsm_secbuf **shared)
{
	CK_ECDH1_DERIVE_PARAMS ep = { CKD_NULL, 0, NULL, n, (CK_BYTE_PTR)point };
	CK_MECHANISM m = { CKM_ECDH1_DERIVE, &ep, sizeof(ep) };
	CK_OBJECT_CLASS c = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ULONG len = 48;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	/* A session object that may be read: the one value that leaves the
	 * token, because the key-part KDF (HKDF-SHA-384) is not a token
	 * mechanism. Read into locked memory and destroyed at once. */
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &c, sizeof(c) }, { CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &ck_false, 1 }, { CKA_SENSITIVE, &ck_false, 1 },
		{ CKA_EXTRACTABLE, &ck_true, 1 }, { CKA_VALUE_LEN, &len, sizeof(len) },
	};
	CK_ATTRIBUTE v = { CKA_VALUE, NULL, 48 };
	CK_RV rv;
	hsm_rc rc;

	*shared = NULL;
	if ((rc = secbuf_new(48, shared)) != HSM_OK)
		return rc;
	v.pValue = (*shared)->data;
	pthread_mutex_lock(&p->lock);
	rv = p->f->C_DeriveKey(p->s, &m, priv, t, sizeof(t) / sizeof(t[0]), &h);
	if (rv == CKR_OK) {
		rv = p->f->C_GetAttributeValue(p->s, h, &v, 1);
		(void)p->f->C_DestroyObject(p->s, h);
	}
	pthread_mutex_unlock(&p->lock);
	if (rv != CKR_OK || v.ulValueLen != 48) {
		secbuf_free(shared);
		return rv != CKR_OK ? ckfail("C_DeriveKey (ECDH)", rv)
		                    : hsm_fail(HSM_ERR_CRYPTO, "the token's ECDH result is not 48 bytes");
	}
	(*shared)->len = 48;
	return HSM_OK;
}

hsm_rc
p11_gcm(p11 *p, p11_obj key, int enc, const uint8_t iv[12], const uint8_t *aad, size_t aadlen,
        const uint8_t *in, size_t n, uint8_t *out)
{
	CK_GCM_PARAMS gp = { (CK_BYTE_PTR)iv, 12, 96, (CK_BYTE_PTR)aad, aadlen, 128 };
	CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof(gp) };
	uint8_t tmp[P11_GCM_MAX + 16];   /* decrypt: room for the tag, which some tokens want */
	CK_ULONG outlen;
	CK_RV rv;

	if ((!enc && n < 16) || n > P11_GCM_MAX + (enc ? 0 : 16))
		return hsm_fail(HSM_ERR_FORMAT, "AES-GCM input of %zu bytes: the token seals keys of at most %d bytes",
		                n, P11_GCM_MAX);
	outlen = enc ? n + 16 : n;
	pthread_mutex_lock(&p->lock);
	if (enc) {
		rv = p->f->C_EncryptInit(p->s, &m, key);
		if (rv == CKR_OK)
			rv = p->f->C_Encrypt(p->s, (CK_BYTE_PTR)in, n, out, &outlen);
	} else {
		rv = p->f->C_DecryptInit(p->s, &m, key);
		/* A tag that does not match: CKR_ENCRYPTED_DATA_INVALID by the
		 * standard, CKR_GENERAL_ERROR / CKR_FUNCTION_FAILED from some
		 * libraries (SoftHSMv2). */
		if (rv == CKR_OK && ((rv = p->f->C_Decrypt(p->s, (CK_BYTE_PTR)in, n, tmp,
		    &outlen)) == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED))
			rv = CKR_ENCRYPTED_DATA_INVALID;
	}
	pthread_mutex_unlock(&p->lock);
	if (rv == CKR_OK && outlen != (enc ? n + 16 : n - 16))
		rv = CKR_DATA_LEN_RANGE;
	if (rv == CKR_OK && !enc)
		memcpy(out, tmp, outlen);
	secure_wipe(tmp, sizeof(tmp));   /* it held plaintext */
	if (rv != CKR_OK)
		return ckfail(enc ? "C_Encrypt (AES-GCM)" : "C_Decrypt (AES-GCM)", rv);
	return HSM_OK;
}

hsm_rc
p11_digest_key(p11 *p, p11_obj key, uint8_t prefix, uint8_t out[32])
{
	CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
	CK_ULONG n = 32;
	CK_RV rv;

	pthread_mutex_lock(&p->lock);
	rv = p->f->C_DigestInit(p->s, &m);
	if (rv == CKR_OK && (rv = p->f->C_DigestUpdate(p->s, &prefix, 1)) == CKR_OK &&
	    (rv = p->f->C_DigestKey(p->s, key)) == CKR_OK)
		rv = p->f->C_DigestFinal(p->s, out, &n);
	else if (rv != CKR_OPERATION_ACTIVE)
		(void)p->f->C_DigestFinal(p->s, NULL, &n);   /* end the operation */
	pthread_mutex_unlock(&p->lock);
	if (rv == CKR_KEY_INDIGESTIBLE || rv == CKR_FUNCTION_NOT_SUPPORTED ||
	    rv == CKR_KEY_FUNCTION_NOT_PERMITTED || rv == CKR_MECHANISM_INVALID)
		return hsm_fail(HSM_ERR_STATE, "the token does not digest this key");
	if (rv != CKR_OK || n != 32)
		return rv != CKR_OK ? ckfail("C_DigestKey (SHA-256)", rv)
		                    : hsm_fail(HSM_ERR_CRYPTO, "the token's SHA-256 is not 32 bytes");
	return HSM_OK;
}

hsm_rc
p11_destroy(p11 *p, const char *label, size_t *n)
{
	CK_OBJECT_HANDLE h[2];
	CK_ULONG got = 0, i;
	size_t done = 0;
	int cls;
	CK_RV rv = CKR_OK;
	hsm_rc rc = HSM_OK;

	pthread_mutex_lock(&p->lock);
	for (cls = P11_SECRET; cls <= P11_PUBLIC && rc == HSM_OK; cls++) {
		do {
			if ((rc = find_locked(p, cls, label, h, &got)) != HSM_OK)
				break;
			for (i = 0; i < got && rv == CKR_OK; i++, done++)
				rv = p->f->C_DestroyObject(p->s, h[i]);
			if (rv != CKR_OK)
				rc = ckfail("C_DestroyObject", rv);
		} while (rc == HSM_OK && got > 0);
	}
	pthread_mutex_unlock(&p->lock);
	if (n != NULL)
		*n = done;
	return rc;
}

void
p11_labels_free(char **labels, size_t n)
{
	size_t i;

	for (i = 0; labels != NULL && i < n; i++)
		free(labels[i]);
	free(labels);
}

/* Add label to the list unless it is there. */
static hsm_rc
labels_add(char ***l, size_t *n, const char *label)
{
	char **nl;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*l)[i], label) == 0)
			return HSM_OK;
	if ((nl = realloc(*l, (*n + 1) * sizeof(*nl))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	*l = nl;
	if ((nl[*n] = strdup(label)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	(*n)++;
	return HSM_OK;
}

hsm_rc
p11_labels(p11 *p, const char *prefix, char ***labels, size_t *n)
{
	CK_OBJECT_HANDLE h[32];
	CK_ULONG got = 0, i;
	char lb[P11_LABEL_MAX + 1];
	CK_ATTRIBUTE a = { CKA_LABEL, lb, P11_LABEL_MAX };
	CK_RV rv;
	hsm_rc rc = HSM_OK;

	*labels = NULL;
	*n = 0;
	pthread_mutex_lock(&p->lock);
	if ((rv = p->f->C_FindObjectsInit(p->s, NULL, 0)) != CKR_OK) {
		pthread_mutex_unlock(&p->lock);
		return ckfail("C_FindObjectsInit", rv);
	}
	while (rc == HSM_OK && (rv = p->f->C_FindObjects(p->s, h, 32, &got)) == CKR_OK && got > 0) {
		for (i = 0; i < got && rc == HSM_OK; i++) {
			a.ulValueLen = P11_LABEL_MAX;
			if (p->f->C_GetAttributeValue(p->s, h[i], &a, 1) != CKR_OK ||
			    a.ulValueLen > P11_LABEL_MAX)
				continue;
			lb[a.ulValueLen] = '\0';
			if (strncmp(lb, prefix, strlen(prefix)) == 0)
				rc = labels_add(labels, n, lb);
		}
	}
	(void)p->f->C_FindObjectsFinal(p->s);
	pthread_mutex_unlock(&p->lock);
	if (rc == HSM_OK && rv != CKR_OK)
		rc = ckfail("C_FindObjects", rv);
	if (rc != HSM_OK) {
		p11_labels_free(*labels, *n);
		*labels = NULL;
		*n = 0;
	}
	return rc;
}
