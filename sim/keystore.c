/* SPDX-License-Identifier: BSD-2-Clause */
/* keystore.c - the module's key store: the file store or a PKCS#11 token
 * (keystore.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/ecdsa_lows.h"
#include "hsmadm/fileio.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/vp.h"

#include "keystore.h"
#include "p11.h"

struct keystore {
	ks_backend backend;
	char       serial[33];
	char       library[4096];
	char       token[33];
	char       journal[4200];   /* "" none */
	p11       *p;
};

static const char pending_tag[] = "hsmadm pending v1";

/* Where each operation of the design runs on a token (docs/crypto.md). */
static const char *const ops_in_token[] = {
	"master-key registers (AES-256, sensitive, not extractable)",
	"blob wrapping keys (AES-256, sensitive, not extractable)",
	"blob.generate / encrypt / decrypt / reencipher: AES-256-GCM wrap and unwrap",
	"importer key pair generation and ECDH (P-384)",
	"receipt signing with the OA key (ECDSA P-384)",
	"sealing and opening a partly loaded PENDING (AES-256-GCM, state key)",
	"C_DestroyObject of replaced and zeroized keys",
	"MKVP of each new register recomputed from the object (C_DigestKey), where the token allows it",
};
static const char *const ops_in_memory[] = {
	"key-part unwrap after ECDH: HKDF-SHA-384 and AES key unwrap (RFC 5649)",
	"XOR of the key parts into PENDING",
	"MKVP of the whole key: SHA-256(0x01 || key)",
	"blob wrapping key: HKDF-SHA-256 of the master key, imported once",
	"the application key of a blob between unwrap and re-wrap or use",
};

int
ks_backend_parse(const char *s)
{
	if (s != NULL && strcmp(s, "file") == 0)
		return KS_FILE;
	if (s != NULL && strcmp(s, "pkcs11") == 0)
		return KS_PKCS11;
	return -1;
}

static hsm_rc
ks_alloc(const char *serial, ks_backend b, keystore **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	(*out)->backend = b;
	snprintf((*out)->serial, sizeof((*out)->serial), "%s", serial);
	return HSM_OK;
}

hsm_rc
ks_open_file(const char *serial, keystore **out)
{
	return ks_alloc(serial, KS_FILE, out);
}

hsm_rc
ks_open_pkcs11(const char *serial, const char *library, const char *token,
               const hsm_secbuf *pin, keystore **out)
{
	keystore *ks = NULL;
	hsm_rc rc;

	*out = NULL;
	if (library == NULL || *library != '/' || strlen(library) >= sizeof(ks->library))
		return hsm_fail(HSM_ERR_USAGE, "give the PKCS#11 library as an absolute path (--p11-lib)");
	if ((rc = ks_alloc(serial, KS_PKCS11, &ks)) != HSM_OK)
		return rc;
	snprintf(ks->library, sizeof(ks->library), "%s", library);
	snprintf(ks->token, sizeof(ks->token), "%s", token ? token : "");
	if ((rc = p11_open(library, token, pin, &ks->p)) != HSM_OK) {
		ks_free(&ks);
		return rc;
	}
	*out = ks;
	return HSM_OK;
}

void
ks_free(keystore **ks)
{
	if (ks == NULL || *ks == NULL)
		return;
	p11_close(&(*ks)->p);
	free(*ks);
	*ks = NULL;
}

int
ks_is_token(const keystore *ks)
{
	return ks != NULL && ks->backend == KS_PKCS11;
}

static json_t *
str_list(const char *const *s, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(s[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

hsm_rc
ks_describe(const keystore *ks, int ops, json_t **out)
{
	json_t *o;

	if (!ks_is_token(ks))
		o = json_pack("{s:s, s:s}", "backend", "file", "note",
		    "rehearsal store: every key in clear in the module's files");
	else
		o = json_pack("{s:s, s:s, s:s, s:s}", "backend", "pkcs11", "library", ks->library,
		              "token", ks->token, "token_desc", p11_token_desc(ks->p));
	if (o != NULL && ops && ks_is_token(ks) &&
	    (json_object_set_new(o, "in_token", str_list(ops_in_token,
	        sizeof(ops_in_token) / sizeof(ops_in_token[0]))) != 0 ||
	     json_object_set_new(o, "in_module_memory", str_list(ops_in_memory,
	        sizeof(ops_in_memory) / sizeof(ops_in_memory[0]))) != 0)) {
		json_decref(o);
		o = NULL;
	}
	*out = o;
	return o ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
}

/* ---- labels ---------------------------------------------------------------- */

static const char *const kind_names[] = { "mk", "bw", "imp" };

static void
label_of(const keystore *ks, unsigned dom, const char *kind, const char *id,
         char out[P11_LABEL_MAX + 1])
{
	if (id == NULL)
		snprintf(out, P11_LABEL_MAX + 1, "hsmadm:%s:%s", ks->serial, kind);
	else
		snprintf(out, P11_LABEL_MAX + 1, "hsmadm:%s:d%02u:%s:%s", ks->serial, dom, kind, id);
}

void
ks_set_journal(keystore *ks, const char *path)
{
	snprintf(ks->journal, sizeof(ks->journal), "%s", path);
}

/* "dNN KIND ID" appended and synced before the object is made, so that a
 * crash before the state naming it is saved leaves a record of it. */
static hsm_rc
journal_add(const keystore *ks, unsigned dom, const char *kind, const char *id)
{
	char line[64];
	int fd, n = snprintf(line, sizeof(line), "d%02u %s %s\n", dom, kind, id);
	hsm_rc rc;

	if (ks->journal[0] == '\0')
		return HSM_OK;
	if ((fd = open(ks->journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return hsm_fail(HSM_ERR_IO, "cannot open %s: %s", ks->journal, strerror(errno));
	rc = hsm_write_all(fd, line, (size_t)n);
	if (rc == HSM_OK && fsync(fd) != 0)
		rc = hsm_fail(HSM_ERR_IO, "cannot sync %s: %s", ks->journal, strerror(errno));
	close(fd);
	return rc;
}

/* 1 if the journal names (dom, kind, id). */
static int
journal_has(const char *j, unsigned dom, const char *kind, const char *id)
{
	char line[64];

	snprintf(line, sizeof(line), "d%02u %s %s\n", dom, kind, id);
	return j != NULL && strstr(j, line) != NULL;
}

static hsm_rc
new_id(char id[KS_ID_LEN + 1])
{
	uint8_t r[KS_ID_LEN / 2];
	hsm_rc rc;

	if ((rc = crypto_random(r, sizeof(r))) != HSM_OK)
		return rc;
	hex_encode_buf(r, sizeof(r), id);
	return HSM_OK;
}

hsm_rc
ks_labels_of(const keystore *ks, unsigned dom, ks_kind kind, const char *id, json_t *arr)
{
	char l[P11_LABEL_MAX + 1];

	label_of(ks, dom, kind == KS_REG ? "mk" : "imp", id, l);
	if (json_array_append_new(arr, json_string(l)) != 0)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (kind != KS_REG)
		return HSM_OK;
	label_of(ks, dom, "bw", id, l);
	if (json_array_append_new(arr, json_string(l)) != 0)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

hsm_rc
ks_destroy(keystore *ks, unsigned dom, ks_kind kind, const char *id)
{
	char l[P11_LABEL_MAX + 1];
	hsm_rc rc;

	label_of(ks, dom, kind == KS_REG ? "mk" : "imp", id, l);
	if ((rc = p11_destroy(ks->p, l, NULL)) != HSM_OK || kind != KS_REG)
		return rc;
	label_of(ks, dom, "bw", id, l);
	return p11_destroy(ks->p, l, NULL);
}

/* ---- module keys ----------------------------------------------------------- */

hsm_rc
ks_module_keys_make(keystore *ks, EVP_PKEY **oa_pub)
{
	char l[P11_LABEL_MAX + 1], prefix[64], **have = NULL;
	size_t n = 0;
	p11_obj h;
	hsm_rc rc;

	*oa_pub = NULL;
	snprintf(prefix, sizeof(prefix), "hsmadm:%s:", ks->serial);
	if ((rc = p11_labels(ks->p, prefix, &have, &n)) != HSM_OK)
		return rc;
	p11_labels_free(have, n);
	if (n > 0)
		return hsm_fail(HSM_ERR_EXISTS, "token %s already holds %zu objects of module %s (distinct labels); use another token or serial, or destroy them first",
		                ks->token, n, ks->serial);
	label_of(ks, 0, "oa", NULL, l);
	if ((rc = p11_ec_generate(ks->p, l, P11_EC_SIGN, oa_pub, &h)) != HSM_OK)
		return rc;
	label_of(ks, 0, "state", NULL, l);
	if ((rc = p11_aes_generate(ks->p, l, &h)) != HSM_OK) {
		EVP_PKEY_free(*oa_pub);
		*oa_pub = NULL;
		label_of(ks, 0, "oa", NULL, l);
		(void)p11_destroy(ks->p, l, NULL);
	}
	return rc;
}

hsm_rc
ks_module_keys_destroy(keystore *ks)
{
	char l[P11_LABEL_MAX + 1];
	hsm_rc rc;

	label_of(ks, 0, "oa", NULL, l);
	if ((rc = p11_destroy(ks->p, l, NULL)) != HSM_OK)
		return rc;
	label_of(ks, 0, "state", NULL, l);
	return p11_destroy(ks->p, l, NULL);
}

struct tsig {
	keystore *ks;
	p11_obj   h;
	EVP_PKEY *pub;
};

static hsm_rc
tsig_sign(void *ctx, const uint8_t *dg, size_t dglen, uint8_t **sig, size_t *siglen)
{
	struct tsig *t = ctx;
	uint8_t raw[96];
	hsm_rc rc;

	*sig = NULL;
	if ((rc = p11_ecdsa(t->ks->p, t->h, dg, dglen, raw)) != HSM_OK ||
	    (rc = crypto_ecdsa_raw_to_der(HSM_CURVE_P384, raw, sizeof(raw), sig, siglen)) != HSM_OK)
		return rc;
	/* Receipts accept one encoding: a token may give the high-S twin. */
	if ((rc = crypto_ecdsa_make_low_s(t->pub, sig, siglen)) != HSM_OK) {
		free(*sig);
		*sig = NULL;
	}
	return rc;
}

static void
tsig_free(void *ctx)
{
	struct tsig *t = ctx;

	if (t != NULL)
		EVP_PKEY_free(t->pub);
	free(t);
}

static const struct hsm_signer_ops tsig_ops = { tsig_sign, tsig_free };

hsm_rc
ks_oa_signer(keystore *ks, hsm_signer **out)
{
	char l[P11_LABEL_MAX + 1];
	struct tsig *t;
	hsm_rc rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	t->ks = ks;
	label_of(ks, 0, "oa", NULL, l);
	if ((rc = p11_find(ks->p, P11_PRIVATE, l, &t->h)) != HSM_OK ||
	    (rc = p11_ec_public(ks->p, l, &t->pub)) != HSM_OK) {
		tsig_free(t);
		return hsm_fail_wrap(rc, "the module's OA key is not on token %s", ks->token);
	}
	return signer_new(&tsig_ops, t, t->pub, "OA key on the token", out);
}

/* ---- registers ------------------------------------------------------------- */

/* The token's own MKVP of the object just made (C_DigestKey) must be the
 * one computed here; a token that will not digest a key is not asked. */
static hsm_rc
token_confirms_vp(keystore *ks, p11_obj h, const uint8_t key[32])
{
	uint8_t mine[HSM_VP_LEN], tok[32];
	hsm_rc rc;

	if ((rc = vp_compute(key, mine)) != HSM_OK)
		return rc;
	rc = p11_digest_key(ks->p, h, 0x01, tok);
	if (rc == HSM_ERR_STATE) {
		hsm_err_clear();
		return HSM_OK;
	}
	if (rc != HSM_OK)
		return rc;
	memset(tok + 28, 0, 4);   /* the MKVP's last 4 bytes are zero */
	if (!vp_equal(mine, tok))
		return hsm_fail(HSM_ERR_CRYPTO, "the token's object does not hold the key just given to it (its SHA-256 differs)");
	return HSM_OK;
}

hsm_rc
ks_register_make(keystore *ks, unsigned dom, const uint8_t key[32], char id[KS_ID_LEN + 1])
{
	char l[P11_LABEL_MAX + 1];
	hsm_secbuf *wk = NULL;
	p11_obj h;
	hsm_rc rc;

	if ((rc = new_id(id)) != HSM_OK || (rc = journal_add(ks, dom, "mk", id)) != HSM_OK ||
	    (rc = secbuf_new(BLOB_KEY_LEN, &wk)) != HSM_OK)
		return rc;
	/* HKDF is no token mechanism: the wrapping key is derived here, in
	 * locked memory, from the key the XOR of the parts left here anyway. */
	if ((rc = blob_wrap_key(key, wk->data)) != HSM_OK)
		goto out;
	label_of(ks, dom, "mk", id, l);
	if ((rc = p11_aes_import(ks->p, l, key, 0, &h)) != HSM_OK)
		goto out;
	if ((rc = token_confirms_vp(ks, h, key)) != HSM_OK) {
		(void)ks_destroy(ks, dom, KS_REG, id);
		goto out;
	}
	label_of(ks, dom, "bw", id, l);
	if ((rc = p11_aes_import(ks->p, l, wk->data, 1, &h)) != HSM_OK)
		(void)ks_destroy(ks, dom, KS_REG, id);
out:
	secbuf_free(&wk);
	return rc;
}

struct tgcm {
	keystore *ks;
	p11_obj   h;
};

static hsm_rc
tgcm_seal(void *ctx, const uint8_t iv[BLOB_IV_LEN], const uint8_t *aad, size_t aadlen,
          const uint8_t *pt, size_t n, uint8_t *out)
{
	struct tgcm *t = ctx;

	return p11_gcm(t->ks->p, t->h, 1, iv, aad, aadlen, pt, n, out);
}

static hsm_rc
tgcm_open(void *ctx, const uint8_t iv[BLOB_IV_LEN], const uint8_t *aad, size_t aadlen,
          const uint8_t *in, size_t n, uint8_t *out)
{
	struct tgcm *t = ctx;

	return p11_gcm(t->ks->p, t->h, 0, iv, aad, aadlen, in, n, out);
}

static void
tgcm_free(void *ctx)
{
	free(ctx);
}

static const blob_aead_ops tgcm_ops = { tgcm_seal, tgcm_open, tgcm_free };

/* A context naming domain dom's token object KIND:id of class cls (its
 * label in l). */
static hsm_rc
tobj_find(keystore *ks, unsigned dom, const char *kind, const char *id, int cls,
          char l[P11_LABEL_MAX + 1], struct tgcm **out)
{
	struct tgcm *t;
	hsm_rc rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	t->ks = ks;
	label_of(ks, dom, kind, id, l);
	if ((rc = p11_find(ks->p, cls, l, &t->h)) != HSM_OK) {
		free(t);
		return rc;
	}
	*out = t;
	return HSM_OK;
}

hsm_rc
ks_register_kctx(keystore *ks, unsigned dom, const char *id, const uint8_t mkvp[32],
                 blob_kctx **out)
{
	char l[P11_LABEL_MAX + 1];
	struct tgcm *t;
	hsm_rc rc;

	*out = NULL;
	if ((rc = tobj_find(ks, dom, "bw", id, P11_SECRET, l, &t)) != HSM_OK)
		return rc;
	return blob_kctx_new_ext(&tgcm_ops, t, mkvp, out);
}

/* ---- PENDING being loaded ---------------------------------------------------- */

static hsm_rc
pending_aad(const keystore *ks, unsigned dom, char *aad, size_t n, size_t *len)
{
	int l = snprintf(aad, n, "%s|%s|%u", pending_tag, ks->serial, dom);

	if (l < 0 || (size_t)l >= n)
		return hsm_fail(HSM_ERR_INTERNAL, "pending AAD too long");
	*len = (size_t)l;
	return HSM_OK;
}

hsm_rc
ks_pending_seal(keystore *ks, unsigned dom, const uint8_t acc[32], uint8_t out[KS_SEALED_LEN])
{
	char l[P11_LABEL_MAX + 1], aad[128];
	size_t aadlen = 0;
	p11_obj h;
	hsm_rc rc;

	label_of(ks, 0, "state", NULL, l);
	if ((rc = pending_aad(ks, dom, aad, sizeof(aad), &aadlen)) != HSM_OK ||
	    (rc = p11_find(ks->p, P11_SECRET, l, &h)) != HSM_OK ||
	    (rc = crypto_random(out, 12)) != HSM_OK)
		return rc;
	return p11_gcm(ks->p, h, 1, out, (const uint8_t *)aad, aadlen, acc, 32, out + 12);
}

hsm_rc
ks_pending_open(keystore *ks, unsigned dom, const uint8_t in[KS_SEALED_LEN], hsm_secbuf **acc)
{
	char l[P11_LABEL_MAX + 1], aad[128];
	size_t aadlen = 0;
	p11_obj h;
	hsm_rc rc;

	*acc = NULL;
	label_of(ks, 0, "state", NULL, l);
	if ((rc = pending_aad(ks, dom, aad, sizeof(aad), &aadlen)) != HSM_OK ||
	    (rc = p11_find(ks->p, P11_SECRET, l, &h)) != HSM_OK ||
	    (rc = secbuf_new(32, acc)) != HSM_OK)
		return rc;
	if ((rc = p11_gcm(ks->p, h, 0, in, (const uint8_t *)aad, aadlen, in + 12, 48,
	                  (*acc)->data)) != HSM_OK) {
		secbuf_free(acc);
		return hsm_fail_wrap(rc, "the pending key of domain %u does not open with the token's state key",
		                     dom);
	}
	(*acc)->len = 32;
	return HSM_OK;
}

/* ---- importer ----------------------------------------------------------------- */

hsm_rc
ks_importer_make(keystore *ks, unsigned dom, EVP_PKEY **pub, char id[KS_ID_LEN + 1])
{
	char l[P11_LABEL_MAX + 1];
	p11_obj h;
	hsm_rc rc;

	*pub = NULL;
	if ((rc = new_id(id)) != HSM_OK || (rc = journal_add(ks, dom, "imp", id)) != HSM_OK)
		return rc;
	label_of(ks, dom, "imp", id, l);
	return p11_ec_generate(ks->p, l, P11_EC_DERIVE, pub, &h);
}

static hsm_rc
tka_ecdh(void *ctx, EVP_PKEY *peer, hsm_secbuf **shared)
{
	struct tgcm *t = ctx;
	uint8_t *pt = NULL;
	size_t n = 0;
	hsm_rc rc;

	if ((rc = crypto_ec_point(peer, &pt, &n)) == HSM_OK)
		rc = p11_ecdh(t->ks->p, t->h, pt, n, shared);
	free(pt);
	return rc;
}

static const struct hsm_keyagree_ops tka_ops = { tka_ecdh, tgcm_free };

hsm_rc
ks_importer_agree(keystore *ks, unsigned dom, const char *id, EVP_PKEY *pub,
                  hsm_keyagree **out)
{
	char l[P11_LABEL_MAX + 1];
	struct tgcm *t;
	hsm_rc rc;

	*out = NULL;
	if ((rc = tobj_find(ks, dom, "imp", id, P11_PRIVATE, l, &t)) != HSM_OK)
		return rc;
	return keyagree_new(&tka_ops, t, pub, l, out);
}

/* ---- orphans -------------------------------------------------------------------- */

/* One orphan: destroyed when a record explains it, else kept. */
static hsm_rc
sweep_one(keystore *ks, const char *label, int say, const char *journal, unsigned dom,
          ks_kind kind, const char *id, json_t *gone, json_t *kept)
{
	hsm_rc rc;

	if (say == KS_NAMED)
		return HSM_OK;
	if (say == KS_UNKNOWN && !journal_has(journal, dom, kind == KS_REG ? "mk" : "imp", id))
		return json_array_append_new(kept, json_string(label)) == 0 ? HSM_OK :
		       hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = p11_destroy(ks->p, label, NULL)) != HSM_OK)
		return rc;
	return json_array_append_new(gone, json_string(label)) == 0 ? HSM_OK :
	       hsm_fail(HSM_ERR_NOMEM, "out of memory");
}

hsm_rc
ks_sweep(keystore *ks, ks_used_fn used, void *ctx, json_t **destroyed, json_t **kept)
{
	char prefix[64], kind[4], id[KS_ID_LEN + 1], **labels = NULL, *journal = NULL;
	size_t n = 0, i, jlen = 0;
	unsigned dom;
	int k, end;
	json_t *gone = json_array(), *keep = json_array();
	hsm_rc rc;

	if (destroyed != NULL)
		*destroyed = NULL;
	if (kept != NULL)
		*kept = NULL;
	if (gone == NULL || keep == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (ks->journal[0] != '\0' &&
	    (rc = hsm_file_read(ks->journal, 1 << 24, &journal, &jlen)) != HSM_OK &&
	    rc != HSM_ERR_NOT_FOUND)
		goto out;
	snprintf(prefix, sizeof(prefix), "hsmadm:%s:d", ks->serial);
	if ((rc = p11_labels(ks->p, prefix, &labels, &n)) != HSM_OK)
		goto out;
	for (i = 0; i < n && rc == HSM_OK; i++) {
		end = 0;
		if (sscanf(labels[i] + strlen(prefix), "%2u:%3[a-z]:%16[0-9a-f]%n", &dom, kind, id,
		           &end) != 3 || labels[i][strlen(prefix) + (size_t)end] != '\0')
			continue;   /* not a name this program makes: leave it */
		for (k = 0; k < 3 && strcmp(kind, kind_names[k]) != 0; k++)
			;
		if (k < 3)
			rc = sweep_one(ks, labels[i], used(ctx, dom, k == 2 ? KS_IMP : KS_REG, id,
			               labels[i]), journal, dom, k == 2 ? KS_IMP : KS_REG, id, gone, keep);
	}
	/* Every journal entry is now named by a saved state or destroyed. */
	if (rc == HSM_OK && journal != NULL)
		rc = hsm_file_replace(ks->journal, "", 0, 0600);
out:
	p11_labels_free(labels, n);
	free(journal);
	if (rc == HSM_OK && destroyed != NULL) {
		*destroyed = gone;
		gone = NULL;
	}
	if (rc == HSM_OK && kept != NULL) {
		*kept = keep;
		keep = NULL;
	}
	json_decref(gone);
	json_decref(keep);
	return rc;
}
