/* SPDX-License-Identifier: BSD-2-Clause */
/* simdom.c - the domain state machine of the module emulator (DESIGN §4). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/fileio.h"
#include "hsmadm/kpwrap.h"
#include "hsmadm/modproto.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/vp.h"

#include "simdom.h"

#define SIMDOM_FILE_VERSION 1
#define POINT_MAX 133   /* P-521 uncompressed point */

enum { REG_EMPTY = 0, REG_VALID };
enum { PEND_EMPTY = 0, PEND_PARTIAL, PEND_UNCOMMITTED, PEND_COMMITTED };

static const char *const reg_names[] = { "empty", "valid" };
static const char *const pend_names[] = { "empty", "partial", "uncommitted", "committed" };

typedef struct simdom_admin {
	uint8_t   ski[HSM_SKI_LEN];
	EVP_PKEY *pub;
	char      pubhex[2 * POINT_MAX + 1];
	char      name[ADMINCMD_NAME_MAX + 1];
	char      identity[ADMINCMD_IDENTITY_MAX + 1];
} simdom_admin;

typedef struct simdom_reg {
	int          state;
	hsm_secbuf  *key;               /* file store: HSM_KEY_LEN bytes when not empty */
	uint8_t      vp[HSM_VP_LEN];    /* valid / uncommitted / committed */
	char         obj[KS_ID_LEN + 1];         /* token: its objects' id, "" none */
	int          sealed_set;                 /* token: a PENDING being loaded, */
	uint8_t      sealed[KS_SEALED_LEN];      /* sealed under the state key */
} simdom_reg;

struct simdom {
	unsigned     index;
	simdom_admin admins[SIMDOM_MAX_ADMINS];   /* sorted by SKI */
	size_t       nadmins;
	unsigned     sig_thr, rev_thr;
	uint64_t     counter;
	simdom_reg   cur, pend, old;
	unsigned     parts_total;
	struct { unsigned index; uint8_t kpvp[HSM_VP_LEN]; } parts[SIMDOM_MAX_PARTS];
	size_t       nparts;
	/* mk.approve_load: the parts of the next PENDING, approved by the
	 * quorum; each loads with no further signature. Lives as long as that
	 * PENDING. approved[i] is part i + 1. */
	struct { char part_id[SIMDOM_PART_ID_MAX + 1]; uint8_t kpvp[HSM_VP_LEN]; }
	             approved[SIMDOM_MAX_PARTS];
	size_t       napproved;
	EVP_PKEY    *importer;              /* P-384 private key (token: public), or NULL */
	keystore    *ks;                    /* borrowed; NULL: the file store */
	char         imp_obj[KS_ID_LEN + 1];   /* token: the importer pair's id */
};

/* ---- life cycle ---------------------------------------------------------- */

static void
reg_clear(simdom_reg *r)
{
	secbuf_free(&r->key);
	r->state = REG_EMPTY;
	memset(r->vp, 0, sizeof(r->vp));
	memset(r->obj, 0, sizeof(r->obj));
	r->sealed_set = 0;
	memset(r->sealed, 0, sizeof(r->sealed));
}

static hsm_rc
reg_copy(simdom_reg *dst, const simdom_reg *src)
{
	dst->state = src->state;
	memcpy(dst->vp, src->vp, sizeof(dst->vp));
	memcpy(dst->obj, src->obj, sizeof(dst->obj));
	dst->sealed_set = src->sealed_set;
	memcpy(dst->sealed, src->sealed, sizeof(dst->sealed));
	dst->key = NULL;
	if (src->key != NULL)
		return secbuf_from(src->key->data, src->key->len, &dst->key);
	return HSM_OK;
}

hsm_rc
simdom_new(unsigned index, simdom **out)
{
	simdom *d;

	*out = NULL;
	if (index >= MODPROTO_MAX_DOMAINS)
		return hsm_fail(HSM_ERR_USAGE, "domain %u out of range", index);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	d->index = index;
	*out = d;
	return HSM_OK;
}

void
simdom_free(simdom **dp)
{
	simdom *d;
	size_t i;

	if (dp == NULL || *dp == NULL)
		return;
	d = *dp;
	for (i = 0; i < d->nadmins; i++)
		EVP_PKEY_free(d->admins[i].pub);
	reg_clear(&d->cur);
	reg_clear(&d->pend);
	reg_clear(&d->old);
	EVP_PKEY_free(d->importer);
	secure_wipe(d, sizeof(*d));
	free(d);
	*dp = NULL;
}

static hsm_rc
simdom_clone(const simdom *s, simdom **out)
{
	simdom *d;
	size_t i;
	hsm_rc rc;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	d->index = s->index;
	d->ks = s->ks;
	memcpy(d->imp_obj, s->imp_obj, sizeof(d->imp_obj));
	d->nadmins = s->nadmins;
	for (i = 0; i < s->nadmins; i++) {
		d->admins[i] = s->admins[i];
		/* Public keys never change: share them. */
		EVP_PKEY_up_ref(d->admins[i].pub);
	}
	d->sig_thr = s->sig_thr;
	d->rev_thr = s->rev_thr;
	d->counter = s->counter;
	d->parts_total = s->parts_total;
	d->nparts = s->nparts;
	memcpy(d->parts, s->parts, sizeof(d->parts));
	d->napproved = s->napproved;
	memcpy(d->approved, s->approved, sizeof(d->approved));
	if (s->importer != NULL) {
		EVP_PKEY_up_ref(s->importer);
		d->importer = s->importer;
	}
	if ((rc = reg_copy(&d->cur, &s->cur)) != HSM_OK ||
	    (rc = reg_copy(&d->pend, &s->pend)) != HSM_OK ||
	    (rc = reg_copy(&d->old, &s->old)) != HSM_OK) {
		simdom_free(&d);
		return rc;
	}
	*out = d;
	return HSM_OK;
}

uint64_t
simdom_counter(const simdom *d)
{
	return d->counter;
}

unsigned
simdom_index(const simdom *d)
{
	return d->index;
}

static size_t
count_identities(const simdom_admin *a, size_t n)
{
	size_t i, j, distinct = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(a[i].identity, a[j].identity) == 0)
				break;
		if (j == i)
			distinct++;
	}
	return distinct;
}

hsm_rc
simdom_blob_key(const simdom *d, simdom_regid r, blob_kctx **out)
{
	const simdom_reg *g = r == SIMDOM_REG_CURRENT ? &d->cur
	                    : r == SIMDOM_REG_OLD ? &d->old : &d->pend;
	int whole = r == SIMDOM_REG_PENDING ? d->pend.state == PEND_COMMITTED
	                                    : g->state == REG_VALID;

	*out = NULL;
	if (whole && g->obj[0] != '\0')
		return ks_register_kctx(d->ks, d->index, g->obj, g->vp, out);
	if (!whole || g->key == NULL)
		return hsm_fail(HSM_ERR_STATE, "the register holds no whole key");
	return blob_kctx_new(g->key->data, g->vp, out);
}

/* ---- public state ---------------------------------------------------------- */

static json_t *
vp_json(const uint8_t vp[HSM_VP_LEN], int present)
{
	char hex[2 * HSM_VP_LEN + 1];

	if (!present)
		return json_null();
	hex_encode_buf(vp, HSM_VP_LEN, hex);
	return json_string(hex);
}

/* The approved load as the state shows it: [{index, part_id, kpvp}]. */
static json_t *
approved_json(const simdom *d)
{
	json_t *a = json_array();
	char hex[2 * HSM_VP_LEN + 1];

	for (size_t i = 0; a != NULL && i < d->napproved; i++) {
		hex_encode_buf(d->approved[i].kpvp, HSM_VP_LEN, hex);
		if (json_array_append_new(a, json_pack("{s:i, s:s, s:s}", "index", (int)i + 1,
		        "part_id", d->approved[i].part_id, "kpvp", hex)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static hsm_rc
importer_json(const simdom *d, json_t **out)
{
	uint8_t *pt = NULL, ski[HSM_SKI_LEN];
	size_t ptlen = 0;
	char *pthex = NULL, skihex[2 * HSM_SKI_LEN + 1];
	hsm_rc rc;

	*out = NULL;
	if (d->importer == NULL) {
		*out = json_null();
		return HSM_OK;
	}
	if ((rc = crypto_ec_point(d->importer, &pt, &ptlen)) != HSM_OK ||
	    (rc = crypto_ski(d->importer, ski)) != HSM_OK ||
	    (rc = hex_encode(pt, ptlen, &pthex)) != HSM_OK)
		goto out;
	hex_encode_buf(ski, HSM_SKI_LEN, skihex);
	*out = json_pack("{s:s, s:s}", "pubkey", pthex, "ski", skihex);
	if (*out == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	free(pt);
	free(pthex);
	return rc;
}

hsm_rc
simdom_public(const simdom *d, const char *module, int with_digest, json_t **out)
{
	json_t *st = NULL, *admins = NULL, *parts = NULL, *imp = NULL;
	char hex[2 * HSM_SKI_LEN + 1], dg[2 * 32 + 1];
	uint8_t digest[32];
	size_t i;
	hsm_rc rc;

	*out = NULL;
	if ((admins = json_array()) == NULL || (parts = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < d->nadmins; i++) {
		hex_encode_buf(d->admins[i].ski, HSM_SKI_LEN, hex);
		if (json_array_append_new(admins, json_pack("{s:s, s:s, s:s, s:s}",
		        "ski", hex, "name", d->admins[i].name,
		        "identity", d->admins[i].identity,
		        "pubkey", d->admins[i].pubhex)) != 0)
			goto nomem;
	}
	for (i = 0; i < d->nparts; i++) {
		hex_encode_buf(d->parts[i].kpvp, HSM_VP_LEN, hex);
		if (json_array_append_new(parts, json_pack("{s:i, s:s}", "index",
		        (int)d->parts[i].index, "kpvp", hex)) != 0)
			goto nomem;
	}
	if ((rc = importer_json(d, &imp)) != HSM_OK)
		goto out;
	st = json_pack("{s:s, s:i, s:b, s:O, s:{s:i, s:i}, s:I, s:{s:{s:s, s:o}, s:{s:s, s:o, s:i, s:O, s:o}, s:{s:s, s:o}}, s:O}",
	    "module", module, "domain", (int)d->index,
	    "imprint", d->sig_thr == 0 && d->rev_thr == 0,
	    "admins", admins,
	    "thresholds", "signature", (int)d->sig_thr, "revocation", (int)d->rev_thr,
	    "counter", (json_int_t)d->counter,
	    "registers",
	      "current", "state", reg_names[d->cur.state], "mkvp", vp_json(d->cur.vp, d->cur.state == REG_VALID),
	      "pending", "state", pend_names[d->pend.state],
	                 "mkvp", vp_json(d->pend.vp, d->pend.state >= PEND_UNCOMMITTED),
	                 "parts_total", (int)d->parts_total, "parts_loaded", parts,
	                 "approved", approved_json(d),
	      "old", "state", reg_names[d->old.state], "mkvp", vp_json(d->old.vp, d->old.state == REG_VALID),
	    "importer", imp);
	if (st == NULL)
		goto nomem;
	if (with_digest) {
		if ((rc = cjson_digest(st, digest)) != HSM_OK)
			goto out;
		hex_encode_buf(digest, 32, dg);
		if (json_object_set_new(st, "state_digest", json_string(dg)) != 0)
			goto nomem;
	}
	*out = st;
	st = NULL;
	rc = HSM_OK;
	goto out;
nomem:
	rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	json_decref(st);
	json_decref(admins);
	json_decref(parts);
	json_decref(imp);
	return rc;
}

/* ---- persistence ----------------------------------------------------------- */

/* A register on a token: the id of its objects and its MKVP (the key is
 * not here to compute it from), or a PENDING being loaded, sealed. */
static hsm_rc
reg_to_json_token(const simdom_reg *r, const char *const *names, json_t **out)
{
	char vp[2 * HSM_VP_LEN + 1], sealed[2 * KS_SEALED_LEN + 1];

	hex_encode_buf(r->vp, HSM_VP_LEN, vp);
	hex_encode_buf(r->sealed, KS_SEALED_LEN, sealed);
	if (r->sealed_set)
		*out = json_pack("{s:s, s:s}", "state", names[r->state], "sealed", sealed);
	else
		*out = json_pack("{s:s, s:s, s:s}", "state", names[r->state], "object", r->obj,
		                 "mkvp", vp);
	return *out ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
}

static hsm_rc
reg_to_json(const simdom_reg *r, const char *const *names, json_t **out)
{
	char *hex = NULL;
	hsm_rc rc;

	*out = NULL;
	if (r->obj[0] != '\0' || r->sealed_set)
		return reg_to_json_token(r, names, out);
	if (r->key != NULL && (rc = hex_encode(r->key->data, r->key->len, &hex)) != HSM_OK)
		return rc;
	*out = json_pack("{s:s, s:s?}", "state", names[r->state], "key", hex);
	if (hex != NULL) {
		secure_wipe(hex, strlen(hex));
		free(hex);
	}
	return *out ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
}

static hsm_rc
priv_to_pem(EVP_PKEY *k, char **out)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *p;
	long n;

	*out = NULL;
	if (b == NULL || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(b);
		return hsm_fail(HSM_ERR_CRYPTO, "cannot encode the importer key");
	}
	n = BIO_get_mem_data(b, &p);
	if ((*out = malloc((size_t)n + 1)) == NULL) {
		BIO_free(b);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	memcpy(*out, p, (size_t)n);
	(*out)[n] = '\0';
	BIO_free(b);
	return HSM_OK;
}

/* Wipe the characters of a JSON string that held key material (jansson
 * keeps its own copy on the ordinary heap). NULL-safe. */
static void
wipe_str(json_t *s)
{
	if (json_is_string(s))
		secure_wipe((void *)json_string_value(s), json_string_length(s));
}

/* path with a suffix: ".tmp" (a one-by-one save's temporary), ".next" (a
 * batch's staged state, and between saves the emptied spare it reuses),
 * ".prev" (the replaced state for an instant while it is placed). */
static hsm_rc
side_path(const char *path, const char *suffix, char *out, size_t n)
{
	if ((size_t)snprintf(out, n, "%s%s", path, suffix) >= n)
		return hsm_fail(HSM_ERR_USAGE, "path too long: %s", path);
	return HSM_OK;
}

/* buf to a file beside path (a fixed name: one writer per domain, its
 * lock). Unless staged: "<path>.tmp", synced and renamed over path, the
 * folder synced. Staged: "<path>.next", unsynced, for the batch's one
 * flush (simdom_place puts it in place). */
static hsm_rc
save_bytes(const char *path, const char *buf, size_t len, int staged)
{
	char tmp[4300];
	int fd;
	hsm_rc rc = HSM_OK;

	if ((rc = side_path(path, staged ? ".next" : ".tmp", tmp, sizeof(tmp))) != HSM_OK)
		return rc;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return hsm_fail(HSM_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
	if (fchmod(fd, 0600) != 0 ||
	    (rc = hsm_write_all(fd, buf, len)) != HSM_OK || (!staged && fsync(fd) != 0))
		rc = rc != HSM_OK ? rc : hsm_fail(HSM_ERR_IO, "cannot write %s: %s", tmp,
		    strerror(errno));
	if (close(fd) != 0 && rc == HSM_OK)
		rc = hsm_fail(HSM_ERR_IO, "cannot close %s: %s", tmp, strerror(errno));
	if (rc == HSM_OK && staged)
		return HSM_OK;
	if (rc == HSM_OK && rename(tmp, path) != 0)
		rc = hsm_fail(HSM_ERR_IO, "cannot rename %s: %s", tmp, strerror(errno));
	if (rc != HSM_OK) {
		(void)unlink(tmp);
		return rc;
	}
	return hsm_fsync_dir_of(path);
}

hsm_rc
simdom_place(const char *path)
{
	char next[4300], prev[4300];
	int kept;
	hsm_rc rc;

	if ((rc = side_path(path, ".next", next, sizeof(next))) != HSM_OK ||
	    (rc = side_path(path, ".prev", prev, sizeof(prev))) != HSM_OK)
		return rc;
	/* The replaced state's file becomes the next stage's file, emptied: a
	 * new file costs an inode (a quarter of a millisecond here), a link or
	 * a rename a twentieth of that. path names the old state or the new
	 * one at every instant: one exchange of the two names does it all;
	 * where it cannot (no state yet, a file system without it), a link
	 * and two renames. */
	if (hsm_file_exchange(next, path) == HSM_OK) {
		if (truncate(next, 0) != 0)
			(void)unlink(next);   /* the old state must not stay */
		return HSM_OK;
	}
	hsm_err_clear();
	(void)unlink(prev);
	kept = link(path, prev) == 0;
	if (rename(next, path) != 0) {
		rc = hsm_fail(HSM_ERR_IO, "cannot rename %s: %s", next, strerror(errno));
		(void)unlink(next);
		if (kept)
			(void)unlink(prev);
		return rc;
	}
	if (kept && (rename(prev, next) != 0 || truncate(next, 0) != 0)) {
		(void)unlink(prev);
		(void)unlink(next);
	}
	return HSM_OK;
}

void
simdom_unstage(const char *path)
{
	char next[4300];

	if (side_path(path, ".next", next, sizeof(next)) == HSM_OK)
		(void)unlink(next);
}

/* A token importer: the id of its pair and its public point. */
static hsm_rc
importer_token_json(const simdom *d, json_t *f)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	char *hex = NULL;
	hsm_rc rc;

	if ((rc = crypto_ec_point(d->importer, &pt, &n)) == HSM_OK &&
	    (rc = hex_encode(pt, n, &hex)) == HSM_OK &&
	    (json_object_set_new(f, "importer_object", json_string(d->imp_obj)) != 0 ||
	     json_object_set_new(f, "importer_pub", json_string(hex)) != 0))
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	free(pt);
	free(hex);
	return rc;
}

static hsm_rc
save_state(const simdom *d, const char *path, int staged)
{
	json_t *f = NULL, *admins = NULL, *parts = NULL, *cur = NULL, *pend = NULL, *old = NULL;
	char *pem = NULL, *buf = NULL, hex[2 * HSM_VP_LEN + 1];
	size_t i, len = 0;
	hsm_rc rc;

	if ((admins = json_array()) == NULL || (parts = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < d->nadmins; i++)
		if (json_array_append_new(admins, json_pack("{s:s, s:s, s:s}",
		        "pubkey", d->admins[i].pubhex, "name", d->admins[i].name,
		        "identity", d->admins[i].identity)) != 0)
			goto nomem;
	for (i = 0; i < d->nparts; i++) {
		hex_encode_buf(d->parts[i].kpvp, HSM_VP_LEN, hex);
		if (json_array_append_new(parts, json_pack("{s:i, s:s}", "index",
		        (int)d->parts[i].index, "kpvp", hex)) != 0)
			goto nomem;
	}
	if ((rc = reg_to_json(&d->cur, reg_names, &cur)) != HSM_OK ||
	    (rc = reg_to_json(&d->pend, pend_names, &pend)) != HSM_OK ||
	    (rc = reg_to_json(&d->old, reg_names, &old)) != HSM_OK)
		goto out;
	if (json_object_set_new(pend, "parts_total", json_integer(d->parts_total)) != 0 ||
	    json_object_set(pend, "parts_loaded", parts) != 0 ||
	    json_object_set_new(pend, "approved", approved_json(d)) != 0)
		goto nomem;
	if (d->importer != NULL && d->imp_obj[0] == '\0' &&
	    (rc = priv_to_pem(d->importer, &pem)) != HSM_OK)
		goto out;
	f = json_pack("{s:i, s:s, s:i, s:O, s:{s:i, s:i}, s:I, s:O, s:O, s:O, s:s?}",
	    "v", SIMDOM_FILE_VERSION,
	    "note", ks_is_token(d->ks)
	        ? "hsmadm-simd state: the keys are PKCS#11 token objects named here; no key material"
	        : "hsmadm-simd emulator state: holds key material in clear (rehearsal/test only)",
	    "domain", (int)d->index, "admins", admins,
	    "thresholds", "signature", (int)d->sig_thr, "revocation", (int)d->rev_thr,
	    "counter", (json_int_t)d->counter, "current", cur, "pending", pend, "old", old,
	    "importer", pem);
	if (f == NULL)
		goto nomem;
	if (d->imp_obj[0] != '\0' && (rc = importer_token_json(d, f)) != HSM_OK)
		goto out;
	if ((rc = cjson_dump(f, &buf, &len)) == HSM_OK)
		rc = save_bytes(path, buf, len, staged);
	if (rc != HSM_OK)
		rc = hsm_fail_wrap(rc, "cannot save domain %u", d->index);
	goto out;
nomem:
	rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	/* The JSON copies of the registers hold key bytes: wipe them. */
	wipe_str(json_object_get(cur, "key"));
	wipe_str(json_object_get(pend, "key"));
	wipe_str(json_object_get(old, "key"));
	if (pem != NULL) {
		secure_wipe(pem, strlen(pem));
		free(pem);
	}
	if (buf != NULL) {   /* the file's bytes hold the keys too */
		secure_wipe(buf, len);
		free(buf);
	}
	json_decref(f);
	json_decref(admins);
	json_decref(parts);
	json_decref(cur);
	json_decref(pend);
	json_decref(old);
	return rc;
}

hsm_rc
simdom_save(const simdom *d, const char *path)
{
	return save_state(d, path, 0);
}

hsm_rc
simdom_stage(const simdom *d, const char *path)
{
	return save_state(d, path, 1);
}

static int
name_index(const char *s, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* A register of a domain on a token: the id of its objects and its MKVP,
 * or (a PENDING being loaded) its sealed bytes. */
static hsm_rc
reg_from_json_token(const json_t *o, simdom_reg *r)
{
	const char *id;
	hsm_rc rc;

	if (json_object_get(o, "key") != NULL)
		return hsm_fail(HSM_ERR_FORMAT, "a register of a token domain holds a clear key");
	if (r->state == PEND_PARTIAL && json_object_get(o, "sealed") != NULL) {
		if ((rc = cjson_get_hex(o, "sealed", r->sealed, KS_SEALED_LEN)) != HSM_OK)
			return rc;
		r->sealed_set = 1;
		return HSM_OK;
	}
	if ((rc = cjson_get_str(o, "object", &id)) != HSM_OK ||
	    (rc = cjson_get_hex(o, "mkvp", r->vp, HSM_VP_LEN)) != HSM_OK)
		return rc;
	if (strlen(id) != KS_ID_LEN || strspn(id, "0123456789abcdef") != KS_ID_LEN)
		return hsm_fail(HSM_ERR_FORMAT, "bad token object id");
	memcpy(r->obj, id, KS_ID_LEN + 1);
	return HSM_OK;
}

static hsm_rc
reg_from_json(const json_t *o, const char *const *names, int nnames, const keystore *ks,
              simdom_reg *r)
{
	const char *st, *hex;
	json_t *k;
	hsm_rc rc;

	if ((rc = cjson_get_str(o, "state", &st)) != HSM_OK)
		return rc;
	if ((r->state = name_index(st, names, nnames)) < 0)
		return hsm_fail(HSM_ERR_FORMAT, "unknown register state \"%s\"", st);
	if (r->state != 0 && ks_is_token(ks))
		return reg_from_json_token(o, r);
	k = json_object_get(o, "key");
	if (json_is_null(k))
		k = NULL;
	if (r->state == 0) {
		if (k != NULL)
			return hsm_fail(HSM_ERR_FORMAT, "an empty register holds a key");
		return HSM_OK;
	}
	if (!json_is_string(k))
		return hsm_fail(HSM_ERR_FORMAT, "a register in state %s has no key", st);
	hex = json_string_value(k);
	if ((rc = secbuf_new(HSM_KEY_LEN, &r->key)) != HSM_OK)
		return rc;
	if ((rc = hex_decode_into(hex, r->key->data, HSM_KEY_LEN)) != HSM_OK)
		return rc;
	r->key->len = HSM_KEY_LEN;
	return vp_compute(r->key->data, r->vp);
}

/* What the domains of one batch share (simdom.h): the signature checks
 * of its command, once per admin set (admincmd_verify_memo), and the one
 * public key an admin.add names, decoded and checked once (a point check
 * costs a scalar multiplication). */
struct simdom_vmemo {
	admincmd_memo  *sigs;   /* NULL: each domain checks alone */
	pthread_mutex_t lock;   /* the key below */
	char           *khex;
	EVP_PKEY       *kpub;
	uint8_t         kski[HSM_SKI_LEN];
};

/* The decoded key of pubhex (*pub a new reference), through the memo. */
static hsm_rc
pubkey_of(simdom_vmemo *m, const char *pubhex, EVP_PKEY **pub, uint8_t ski[HSM_SKI_LEN])
{
	hsm_rc rc = HSM_OK;

	if (m == NULL)
		return admincmd_pubkey_from_hex(pubhex, pub, ski);
	pthread_mutex_lock(&m->lock);
	if (m->khex == NULL && admincmd_pubkey_from_hex(pubhex, &m->kpub, m->kski) == HSM_OK &&
	    (m->khex = strdup(pubhex)) == NULL) {
		EVP_PKEY_free(m->kpub);
		m->kpub = NULL;
	}
	if (m->khex != NULL && strcmp(m->khex, pubhex) == 0 && EVP_PKEY_up_ref(m->kpub) == 1) {
		*pub = m->kpub;
		memcpy(ski, m->kski, HSM_SKI_LEN);
	} else
		rc = admincmd_pubkey_from_hex(pubhex, pub, ski);   /* its own message */
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static hsm_rc
admin_set(simdom_admin *a, const char *pubhex, const char *name, const char *identity,
          simdom_vmemo *memo)
{
	hsm_rc rc;

	if (strlen(pubhex) >= sizeof(a->pubhex) || strlen(name) > ADMINCMD_NAME_MAX ||
	    strlen(identity) > ADMINCMD_IDENTITY_MAX || *identity == '\0')
		return hsm_fail(HSM_ERR_FORMAT, "administrator entry out of limits");
	if ((rc = pubkey_of(memo, pubhex, &a->pub, a->ski)) != HSM_OK)
		return rc;
	snprintf(a->pubhex, sizeof(a->pubhex), "%s", pubhex);
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->identity, sizeof(a->identity), "%s", identity);
	return HSM_OK;
}

/* The approved parts, from the domain file or from mk.approve_load's
 * params ([{index?, part_id, kpvp}] in part order; absent: none). */
static hsm_rc
approved_from_json(simdom *d, const json_t *a)
{
	size_t i, n;
	json_t *e;

	d->napproved = 0;
	if (a == NULL)
		return HSM_OK;
	if (!json_is_array(a) || (n = json_array_size(a)) > SIMDOM_MAX_PARTS ||
	    (n != 0 && n < SIMDOM_MIN_PARTS))
		return hsm_fail(HSM_ERR_FORMAT, "approved parts: a list of %d to %d parts",
		                SIMDOM_MIN_PARTS, SIMDOM_MAX_PARTS);
	json_array_foreach(a, i, e) {
		const char *id;
		json_t *ji = json_object_get(e, "index");
		hsm_rc rc;
		if ((ji != NULL && (!json_is_integer(ji) || json_integer_value(ji) != (json_int_t)i + 1)) ||
		    (rc = cjson_get_str(e, "part_id", &id)) != HSM_OK || id[0] == '\0' ||
		    strlen(id) > SIMDOM_PART_ID_MAX ||
		    (rc = cjson_get_hex(e, "kpvp", d->approved[i].kpvp, HSM_VP_LEN)) != HSM_OK)
			return hsm_fail(HSM_ERR_FORMAT, "approved part %zu: needs index %zu, a part_id "
			                "of 1 to %d characters and a kpvp", i + 1, i + 1, SIMDOM_PART_ID_MAX);
		snprintf(d->approved[i].part_id, sizeof(d->approved[i].part_id), "%s", id);
		for (size_t j = 0; j < i; j++)
			if (vp_equal(d->approved[j].kpvp, d->approved[i].kpvp) ||
			    strcmp(d->approved[j].part_id, id) == 0)
				return hsm_fail(HSM_ERR_FORMAT, "approved parts %zu and %zu have the same "
				                "part id or KPVP", j + 1, i + 1);
	}
	d->napproved = n;
	return HSM_OK;
}

static hsm_rc
importer_token_from_json(simdom *d, const json_t *f)
{
	const char *id, *pub;
	uint8_t pt[POINT_MAX];
	size_t n;
	hsm_rc rc;

	if (!ks_is_token(d->ks))
		return hsm_fail(HSM_ERR_FORMAT, "the domain names a token importer key, but the module's keys are in files");
	if ((rc = cjson_get_str(f, "importer_object", &id)) != HSM_OK ||
	    (rc = cjson_get_str(f, "importer_pub", &pub)) != HSM_OK)
		return rc;
	n = strlen(pub) / 2;
	if (strlen(id) != KS_ID_LEN || strspn(id, "0123456789abcdef") != KS_ID_LEN ||
	    n > sizeof(pt) || hex_decode_into(pub, pt, n) != HSM_OK ||
	    crypto_ec_from_point(HSM_CURVE_P384, pt, n, &d->importer) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT, "bad token importer entry");
	memcpy(d->imp_obj, id, KS_ID_LEN + 1);
	return HSM_OK;
}

static hsm_rc
load_json(simdom *d, const json_t *f)
{
	json_t *admins, *thr, *cur, *pend, *old, *parts, *imp;
	long long v, idx, st, rt, ctr, total;
	size_t i;
	hsm_rc rc;

	if ((rc = cjson_get_int(f, "v", &v)) != HSM_OK ||
	    (rc = cjson_get_int(f, "domain", &idx)) != HSM_OK ||
	    (rc = cjson_get_arr(f, "admins", &admins)) != HSM_OK ||
	    (rc = cjson_get_obj(f, "thresholds", &thr)) != HSM_OK ||
	    (rc = cjson_get_int(thr, "signature", &st)) != HSM_OK ||
	    (rc = cjson_get_int(thr, "revocation", &rt)) != HSM_OK ||
	    (rc = cjson_get_int(f, "counter", &ctr)) != HSM_OK ||
	    (rc = cjson_get_obj(f, "current", &cur)) != HSM_OK ||
	    (rc = cjson_get_obj(f, "pending", &pend)) != HSM_OK ||
	    (rc = cjson_get_obj(f, "old", &old)) != HSM_OK ||
	    (rc = cjson_get_int(pend, "parts_total", &total)) != HSM_OK ||
	    (rc = cjson_get_arr(pend, "parts_loaded", &parts)) != HSM_OK)
		return rc;
	if (v != SIMDOM_FILE_VERSION || idx != (long long)d->index || st < 0 ||
	    st > SIMDOM_MAX_ADMINS || rt < 0 || rt > SIMDOM_MAX_ADMINS || ctr < 0 ||
	    json_array_size(admins) > SIMDOM_MAX_ADMINS || total < 0 ||
	    total > SIMDOM_MAX_PARTS || json_array_size(parts) > (size_t)total)
		return hsm_fail(HSM_ERR_FORMAT, "values out of range");
	d->sig_thr = (unsigned)st;
	d->rev_thr = (unsigned)rt;
	d->counter = (uint64_t)ctr;
	d->parts_total = (unsigned)total;
	for (i = 0; i < json_array_size(admins); i++) {
		const char *pk, *nm, *id;
		json_t *a = json_array_get(admins, i);
		if ((rc = cjson_get_str(a, "pubkey", &pk)) != HSM_OK ||
		    (rc = cjson_get_str(a, "name", &nm)) != HSM_OK ||
		    (rc = cjson_get_str(a, "identity", &id)) != HSM_OK ||
		    (rc = admin_set(&d->admins[i], pk, nm, id, NULL)) != HSM_OK)
			return rc;
		d->nadmins = i + 1;
	}
	for (i = 0; i < json_array_size(parts); i++) {
		json_t *p = json_array_get(parts, i);
		long long pi;
		if ((rc = cjson_get_int(p, "index", &pi)) != HSM_OK ||
		    (rc = cjson_get_hex(p, "kpvp", d->parts[i].kpvp, HSM_VP_LEN)) != HSM_OK)
			return rc;
		if (pi < 1 || pi > total)
			return hsm_fail(HSM_ERR_FORMAT, "part index out of range");
		d->parts[i].index = (unsigned)pi;
		d->nparts = i + 1;
	}
	if ((rc = approved_from_json(d, json_object_get(pend, "approved"))) != HSM_OK)
		return rc;
	if ((rc = reg_from_json(cur, reg_names, 2, d->ks, &d->cur)) != HSM_OK ||
	    (rc = reg_from_json(pend, pend_names, 4, d->ks, &d->pend)) != HSM_OK ||
	    (rc = reg_from_json(old, reg_names, 2, d->ks, &d->old)) != HSM_OK)
		return rc;
	if (json_object_get(f, "importer_object") != NULL)
		return importer_token_from_json(d, f);
	imp = json_object_get(f, "importer");
	if (imp != NULL && !json_is_null(imp)) {
		BIO *b;
		if (!json_is_string(imp))
			return hsm_fail(HSM_ERR_FORMAT, "importer is not a PEM string");
		b = BIO_new_mem_buf(json_string_value(imp), (int)json_string_length(imp));
		d->importer = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		if (d->importer == NULL)
			return hsm_fail(HSM_ERR_FORMAT, "importer key does not parse");
	}
	return HSM_OK;
}

hsm_rc
simdom_load(const char *path, unsigned index, simdom **out)
{
	return simdom_load_ks(path, index, NULL, out);
}

hsm_rc
simdom_load_ks(const char *path, unsigned index, keystore *ks, simdom **out)
{
	struct stat sb;
	json_t *f = NULL;
	simdom *d = NULL;
	hsm_rc rc;

	*out = NULL;
	if ((rc = simdom_new(index, &d)) != HSM_OK)
		return rc;
	d->ks = ks;
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT) {
			*out = d;
			return HSM_OK;
		}
		simdom_free(&d);
		return hsm_fail(HSM_ERR_IO, "cannot read domain file %s: %s", path, strerror(errno));
	}
	if ((rc = cjson_load_file(path, &f)) != HSM_OK ||
	    (rc = load_json(d, f)) != HSM_OK) {
		rc = hsm_fail_wrap(HSM_ERR_FORMAT, "domain file %s is damaged", path);
		simdom_free(&d);
	}
	/* The file's key strings are in jansson's heap: wipe before freeing. */
	if (f != NULL) {
		wipe_str(json_object_get(json_object_get(f, "current"), "key"));
		wipe_str(json_object_get(json_object_get(f, "pending"), "key"));
		wipe_str(json_object_get(json_object_get(f, "old"), "key"));
		wipe_str(json_object_get(f, "importer"));
	}
	json_decref(f);
	*out = d;
	return rc;
}

/* ---- the rules ------------------------------------------------------------- */

#define REFUSE(code, why, ...) \
	do { *reason = (why); rc = hsm_fail((code), __VA_ARGS__); goto out; } while (0)

static hsm_rc
get_vp_param(const json_t *params, const char *key, uint8_t vp[HSM_VP_LEN])
{
	return cjson_get_hex(params, key, vp, HSM_VP_LEN);
}

static hsm_rc
op_admin_add(simdom *n, const json_t *params, simdom_vmemo *memo, json_t **result,
             const char **reason)
{
	const char *pk, *nm, *id;
	simdom_admin a;
	char hex[2 * HSM_SKI_LEN + 1];
	size_t i, pos;
	hsm_rc rc;

	memset(&a, 0, sizeof(a));
	if ((rc = cjson_get_str(params, "pubkey", &pk)) != HSM_OK ||
	    (rc = cjson_get_str(params, "name", &nm)) != HSM_OK ||
	    (rc = cjson_get_str(params, "identity", &id)) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "admin.add: %s", hsm_errmsg());
	if ((rc = admin_set(&a, pk, nm, id, memo)) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "admin.add: %s", hsm_errmsg());
	hex_encode_buf(a.ski, HSM_SKI_LEN, hex);
	for (i = 0; i < n->nadmins; i++)
		if (memcmp(n->admins[i].ski, a.ski, HSM_SKI_LEN) == 0)
			REFUSE(HSM_ERR_EXISTS, "admin_exists",
			       "administrator %.16s... is already registered in domain %u", hex, n->index);
	if (n->nadmins >= SIMDOM_MAX_ADMINS)
		REFUSE(HSM_ERR_REFUSED, "admin_list_full",
		       "domain %u already has %d administrators, the most it can hold; remove one first",
		       n->index, SIMDOM_MAX_ADMINS);
	for (pos = 0; pos < n->nadmins && memcmp(n->admins[pos].ski, a.ski, HSM_SKI_LEN) < 0; pos++)
		;
	memmove(&n->admins[pos + 1], &n->admins[pos], (n->nadmins - pos) * sizeof(a));
	n->admins[pos] = a;
	a.pub = NULL;
	n->nadmins++;
	*result = json_pack("{s:s}", "ski", hex);
	rc = HSM_OK;
out:
	EVP_PKEY_free(a.pub);
	return rc;
}

static hsm_rc
op_admin_remove(simdom *n, const json_t *params, json_t **result, const char **reason)
{
	uint8_t ski[HSM_SKI_LEN];
	char hex[2 * HSM_SKI_LEN + 1];
	simdom_admin gone;
	size_t i, left;
	hsm_rc rc;

	if ((rc = cjson_get_hex(params, "ski", ski, HSM_SKI_LEN)) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "admin.remove: %s", hsm_errmsg());
	hex_encode_buf(ski, HSM_SKI_LEN, hex);
	for (i = 0; i < n->nadmins; i++)
		if (memcmp(n->admins[i].ski, ski, HSM_SKI_LEN) == 0)
			break;
	if (i == n->nadmins)
		REFUSE(HSM_ERR_NOT_FOUND, "no_such_admin",
		       "no administrator with SKI %.16s... in domain %u", hex, n->index);
	if (n->nadmins == 1)
		REFUSE(HSM_ERR_REFUSED, "last_admin",
		       "administrator %.16s... is the last one of domain %u; add another first, or zeroize the domain",
		       hex, n->index);
	gone = n->admins[i];
	memmove(&n->admins[i], &n->admins[i + 1], (n->nadmins - i - 1) * sizeof(gone));
	n->nadmins--;
	left = count_identities(n->admins, n->nadmins);
	if (left < n->sig_thr || left < n->rev_thr) {
		/* Undo: the clone is thrown away, but keep it consistent. */
		memmove(&n->admins[i + 1], &n->admins[i], (n->nadmins - i) * sizeof(gone));
		n->admins[i] = gone;
		n->nadmins++;
		REFUSE(HSM_ERR_REFUSED, "below_threshold",
		       "removing %.16s... would leave %zu administrator identities in domain %u, fewer than the thresholds (signature %u, revocation %u); lower the thresholds first",
		       hex, left, n->index, n->sig_thr, n->rev_thr);
	}
	EVP_PKEY_free(gone.pub);
	*result = json_pack("{s:s}", "ski", hex);
	rc = HSM_OK;
out:
	return rc;
}

/* The threshold rules; also run before the signature check so that a
 * thresholds.set that could never pass says why, not "more signatures". */
static hsm_rc
check_thresholds(const simdom *d, const json_t *params, long long *sig, long long *rev,
                 const char **reason)
{
	size_t ids = count_identities(d->admins, d->nadmins);
	hsm_rc rc;

	if ((rc = cjson_get_int(params, "signature", sig)) != HSM_OK ||
	    (rc = cjson_get_int(params, "revocation", rev)) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "thresholds.set: %s", hsm_errmsg());
	if (*sig < 1)
		REFUSE(HSM_ERR_REFUSED, "signature_zero",
		       "the signature threshold must be at least 1 (0/0 is imprint mode; use zeroize to return to it)");
	if (*rev < 1)
		REFUSE(HSM_ERR_REFUSED, "revocation_zero",
		       "the revocation threshold must be at least 1");
	if (*sig > SIMDOM_MAX_ADMINS || *rev > SIMDOM_MAX_ADMINS ||
	    (size_t)*sig > ids || (size_t)*rev > ids)
		REFUSE(HSM_ERR_REFUSED, "threshold_exceeds_admins",
		       "thresholds %lld/%lld exceed the %zu administrator identities of domain %u; add administrators first",
		       *sig, *rev, ids, d->index);
	rc = HSM_OK;
out:
	return rc;
}

/* A new importer pair for the domain: on the token when it has one. */
static hsm_rc
importer_make(simdom *n)
{
	EVP_PKEY_free(n->importer);
	n->importer = NULL;
	memset(n->imp_obj, 0, sizeof(n->imp_obj));
	if (ks_is_token(n->ks))
		return ks_importer_make(n->ks, n->index, &n->importer, n->imp_obj);
	return crypto_ec_generate(HSM_CURVE_P384, &n->importer);
}

static hsm_rc
op_importer_generate(simdom *n, json_t **result)
{
	hsm_rc rc;

	if ((rc = importer_make(n)) != HSM_OK)
		return rc;
	return importer_json(n, result);
}

/* Unwrap a key part with the domain's importer key: ECDH in the token
 * when it is there (the KDF and the AES key unwrap after it are not token
 * mechanisms), else with the key from the file. */
static hsm_rc
unwrap_part(simdom *n, const kpwrap_blob *blob, const kpwrap_binding *b, hsm_secbuf **part)
{
	hsm_keyagree *ka = NULL;
	hsm_rc rc;

	if (n->imp_obj[0] == '\0')
		return kpwrap_unwrap_pkey(blob, n->importer, b, part);
	if ((rc = ks_importer_agree(n->ks, n->index, n->imp_obj, n->importer, &ka)) != HSM_OK)
		return rc;
	rc = kpwrap_unwrap(blob, ka, b, part);
	keyagree_free(&ka);
	return rc;
}

/* part XORed into PENDING (already counted in n->nparts); the last part
 * makes it whole and gives it its MKVP. */
static hsm_rc
xor_part_file(simdom *n, const hsm_secbuf *part)
{
	hsm_rc rc;

	if (n->pend.key == NULL) {
		if ((rc = secbuf_new(HSM_KEY_LEN, &n->pend.key)) != HSM_OK)
			return rc;
		n->pend.key->len = HSM_KEY_LEN;
	}
	vp_xor_into(n->pend.key->data, part->data);
	if (n->nparts < n->parts_total)
		return HSM_OK;
	n->pend.state = PEND_UNCOMMITTED;
	return vp_compute(n->pend.key->data, n->pend.vp);
}

/* The same on a token: the parts so far are opened from their sealed form
 * into locked memory, the part XORed in, and then either sealed again or,
 * whole, made the register's token objects; the clear key is wiped here. */
static hsm_rc
xor_part_token(simdom *n, const hsm_secbuf *part)
{
	hsm_secbuf *acc = NULL;
	hsm_rc rc;

	if (n->pend.sealed_set)
		rc = ks_pending_open(n->ks, n->index, n->pend.sealed, &acc);
	else if ((rc = secbuf_new(HSM_KEY_LEN, &acc)) == HSM_OK)
		acc->len = HSM_KEY_LEN;
	if (rc != HSM_OK)
		return rc;
	vp_xor_into(acc->data, part->data);
	if (n->nparts < n->parts_total) {
		rc = ks_pending_seal(n->ks, n->index, acc->data, n->pend.sealed);
		n->pend.sealed_set = rc == HSM_OK;
	} else if ((rc = vp_compute(acc->data, n->pend.vp)) == HSM_OK &&
	           (rc = ks_register_make(n->ks, n->index, acc->data, n->pend.obj)) == HSM_OK) {
		n->pend.state = PEND_UNCOMMITTED;
		n->pend.sealed_set = 0;
		memset(n->pend.sealed, 0, sizeof(n->pend.sealed));
	}
	secbuf_free(&acc);
	return rc;
}

static hsm_rc
op_load_part(simdom *n, const char *module, const json_t *params, json_t **result,
             const char **reason)
{
	long long idx, total;
	uint8_t kpvp[HSM_VP_LEN], got[HSM_VP_LEN];
	char hex[2 * HSM_VP_LEN + 1];
	json_t *wrapped;
	kpwrap_blob blob;
	kpwrap_binding b;
	hsm_secbuf *part = NULL;
	size_t i;
	hsm_rc rc;

	if ((rc = cjson_get_int(params, "part_index", &idx)) != HSM_OK ||
	    (rc = cjson_get_int(params, "parts", &total)) != HSM_OK ||
	    (rc = get_vp_param(params, "kpvp", kpvp)) != HSM_OK ||
	    (rc = cjson_get_obj(params, "wrapped", &wrapped)) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "mk.load_part: %s", hsm_errmsg());
	if (total < SIMDOM_MIN_PARTS || total > SIMDOM_MAX_PARTS)
		REFUSE(HSM_ERR_FORMAT, "bad_params",
		       "mk.load_part: a master key has %d to %d parts, not %lld",
		       SIMDOM_MIN_PARTS, SIMDOM_MAX_PARTS, total);
	if (idx < 1 || idx > total)
		REFUSE(HSM_ERR_FORMAT, "bad_params",
		       "mk.load_part: part index %lld is not between 1 and %lld", idx, total);
	if (n->importer == NULL)
		REFUSE(HSM_ERR_STATE, "no_importer",
		       "domain %u has no importer key; generate one first (importer.generate)", n->index);
	if (n->pend.state != PEND_EMPTY && n->pend.state != PEND_PARTIAL)
		REFUSE(HSM_ERR_STATE, "pending_full",
		       "the pending register of domain %u is already %s; clear it first (mk.clear_pending)",
		       n->index, pend_names[n->pend.state]);
	if (n->pend.state == PEND_PARTIAL && (unsigned)total != n->parts_total)
		REFUSE(HSM_ERR_REFUSED, "part_count_mismatch",
		       "the pending key of domain %u is being loaded in %u parts, not %lld",
		       n->index, n->parts_total, total);
	if (n->napproved > 0 && ((size_t)total != n->napproved ||
	    !vp_equal(n->approved[idx - 1].kpvp, kpvp)))
		REFUSE(HSM_ERR_REFUSED, "not_approved",
		       "the load approved for domain %u has %zu parts, and part %lld with this KPVP is not one of them",
		       n->index, n->napproved, idx);
	for (i = 0; i < n->nparts; i++)
		if (n->parts[i].index == (unsigned)idx)
			REFUSE(HSM_ERR_EXISTS, "part_loaded",
			       "part %lld is already loaded into the pending register of domain %u",
			       idx, n->index);
	if ((rc = kpwrap_blob_for_target(wrapped, module, n->index, &blob)) != HSM_OK)
		REFUSE(rc == HSM_ERR_NOT_FOUND ? HSM_ERR_REFUSED : HSM_ERR_FORMAT,
		       rc == HSM_ERR_NOT_FOUND ? "not_a_target" : "bad_params",
		       "mk.load_part: %s", hsm_errmsg());
	b.module_serial = module;
	b.domain = n->index;
	b.part_index = (uint32_t)idx;
	if ((rc = unwrap_part(n, &blob, &b, &part)) != HSM_OK)
		REFUSE(rc == HSM_ERR_VERIFY ? HSM_ERR_VERIFY : rc, "unwrap_failed",
		       "part %lld does not unwrap with the importer key of domain %u (made for another module, domain, importer key or position?): %s",
		       idx, n->index, hsm_errmsg());
	if (part->len != HSM_KEY_LEN)
		REFUSE(HSM_ERR_VERIFY, "unwrap_failed", "unwrapped part has the wrong length");
	if ((rc = vp_compute(part->data, got)) != HSM_OK)
		goto out;
	if (!vp_equal(got, kpvp))
		REFUSE(HSM_ERR_VERIFY, "kpvp_mismatch",
		       "part %lld unwrapped but its verification pattern does not match the KPVP in the command; nothing was loaded",
		       idx);
	if (n->pend.state == PEND_EMPTY) {
		n->parts_total = (unsigned)total;
		n->pend.state = PEND_PARTIAL;
	}
	n->parts[n->nparts].index = (unsigned)idx;
	memcpy(n->parts[n->nparts].kpvp, kpvp, HSM_VP_LEN);
	n->nparts++;
	if ((rc = ks_is_token(n->ks) ? xor_part_token(n, part) : xor_part_file(n, part)) != HSM_OK)
		goto out;
	hex_encode_buf(kpvp, HSM_VP_LEN, hex);
	*result = json_pack("{s:i, s:s, s:s, s:o}", "part_index", (int)idx, "kpvp", hex,
	                    "pending_state", pend_names[n->pend.state],
	                    "pending_mkvp", vp_json(n->pend.vp, n->pend.state == PEND_UNCOMMITTED));
	rc = HSM_OK;
out:
	secbuf_free(&part);
	return rc;
}

/* Two registers hold one key: the bytes where they are here, else (a
 * token) the MKVPs, which differ for different keys but with a chance of
 * 2^-224. */
static int
same_key(const simdom_reg *a, const simdom_reg *b)
{
	if (a->key != NULL && b->key != NULL)
		return secure_equal(a->key->data, b->key->data, HSM_KEY_LEN);
	return vp_equal(a->vp, b->vp);
}

/* One decision for the whole load: the parts by index, id and KPVP. A
 * PENDING partly loaded already may be approved only with the parts it
 * holds (a resumed ceremony); the importer key is made where missing. */
static hsm_rc
op_approve_load(simdom *n, const json_t *params, json_t **result, const char **reason)
{
	json_t *imp = NULL;
	size_t i;
	hsm_rc rc;

	if ((rc = approved_from_json(n, json_object_get(params, "parts"))) != HSM_OK ||
	    n->napproved == 0)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "mk.approve_load: %s",
		       rc != HSM_OK ? hsm_errmsg() : "no parts");
	if (n->pend.state != PEND_EMPTY && n->pend.state != PEND_PARTIAL)
		REFUSE(HSM_ERR_STATE, "pending_full",
		       "the pending register of domain %u is already %s; clear it first (mk.clear_pending)",
		       n->index, pend_names[n->pend.state]);
	if (n->pend.state == PEND_PARTIAL && n->parts_total != n->napproved)
		REFUSE(HSM_ERR_REFUSED, "part_count_mismatch",
		       "the pending key of domain %u is being loaded in %u parts, not %zu",
		       n->index, n->parts_total, n->napproved);
	for (i = 0; i < n->nparts; i++)
		if (!vp_equal(n->approved[n->parts[i].index - 1].kpvp, n->parts[i].kpvp))
			REFUSE(HSM_ERR_REFUSED, "not_approved",
			       "part %u already loaded into domain %u is not the part approved as %u",
			       n->parts[i].index, n->index, n->parts[i].index);
	if (n->importer == NULL && (rc = importer_make(n)) != HSM_OK)
		goto out;
	if ((rc = importer_json(n, &imp)) != HSM_OK)
		goto out;
	*result = json_pack("{s:i, s:o}", "approved", (int)n->napproved, "importer", imp);
	rc = HSM_OK;
out:
	return rc;
}

static hsm_rc
op_commit(simdom *n, const json_t *params, json_t **result, const char **reason)
{
	uint8_t want[HSM_VP_LEN];
	char hex[2 * HSM_VP_LEN + 1];
	hsm_rc rc;

	if ((rc = get_vp_param(params, "mkvp", want)) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "mk.commit: %s", hsm_errmsg());
	if (n->pend.state != PEND_UNCOMMITTED)
		REFUSE(HSM_ERR_STATE, "pending_not_uncommitted",
		       "the pending register of domain %u is %s, not uncommitted; load all parts first",
		       n->index, pend_names[n->pend.state]);
	if (!vp_equal(want, n->pend.vp))
		REFUSE(HSM_ERR_VERIFY, "mkvp_mismatch",
		       "the pending key of domain %u has another verification pattern than the command expects; the parts loaded differ",
		       n->index);
	if (n->cur.state == REG_VALID && same_key(&n->cur, &n->pend))
		REFUSE(HSM_ERR_REFUSED, "equals_current",
		       "the pending key equals the current master key of domain %u; generate new parts",
		       n->index);
	if (n->old.state == REG_VALID && same_key(&n->old, &n->pend))
		REFUSE(HSM_ERR_REFUSED, "equals_old",
		       "the pending key equals the old master key of domain %u; generate new parts",
		       n->index);
	n->pend.state = PEND_COMMITTED;
	hex_encode_buf(n->pend.vp, HSM_VP_LEN, hex);
	*result = json_pack("{s:s}", "mkvp", hex);
	rc = HSM_OK;
out:
	return rc;
}

static hsm_rc
op_activate(simdom *n, const json_t *params, json_t **result, const char **reason)
{
	uint8_t want[HSM_VP_LEN];
	char hex[2 * HSM_VP_LEN + 1];
	hsm_rc rc;

	if ((rc = get_vp_param(params, "mkvp", want)) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "mk.activate: %s", hsm_errmsg());
	if (n->pend.state != PEND_COMMITTED)
		REFUSE(HSM_ERR_STATE, "pending_not_committed",
		       "the pending register of domain %u is %s, not committed; commit it first",
		       n->index, pend_names[n->pend.state]);
	if (!vp_equal(want, n->pend.vp))
		REFUSE(HSM_ERR_VERIFY, "mkvp_mismatch",
		       "the committed key of domain %u has another verification pattern than the command expects",
		       n->index);
	if (n->cur.state == REG_VALID && n->old.state == REG_VALID)
		REFUSE(HSM_ERR_STATE, "old_present",
		       "domain %u still holds an old master key; destroy it first (mk.destroy_old)",
		       n->index);
	if (n->cur.state == REG_VALID) {
		n->old = n->cur;
		memset(&n->cur, 0, sizeof(n->cur));
	}
	n->cur = n->pend;   /* the key (or its token objects) moves */
	n->cur.state = REG_VALID;
	memset(&n->pend, 0, sizeof(n->pend));
	n->parts_total = 0;
	n->nparts = 0;
	memset(n->parts, 0, sizeof(n->parts));
	n->napproved = 0;
	hex_encode_buf(n->cur.vp, HSM_VP_LEN, hex);
	*result = json_pack("{s:s}", "mkvp", hex);
	rc = HSM_OK;
out:
	return rc;
}

static void
pending_clear(simdom *n)
{
	reg_clear(&n->pend);
	n->parts_total = 0;
	n->nparts = 0;
	memset(n->parts, 0, sizeof(n->parts));
	n->napproved = 0;
	memset(n->approved, 0, sizeof(n->approved));
}

static hsm_rc
op_clear_pending(simdom *n, json_t **result, const char **reason)
{
	hsm_rc rc;

	if (n->pend.state == PEND_EMPTY && n->napproved == 0)
		REFUSE(HSM_ERR_STATE, "pending_empty",
		       "the pending register of domain %u is already empty", n->index);
	pending_clear(n);
	*result = json_object();
	rc = HSM_OK;
out:
	return rc;
}

static hsm_rc
op_destroy_old(simdom *n, const json_t *params, json_t **result, const char **reason)
{
	uint8_t want[HSM_VP_LEN];
	char hex[2 * HSM_VP_LEN + 1];
	hsm_rc rc;

	if (n->old.state != REG_VALID)
		REFUSE(HSM_ERR_STATE, "old_empty",
		       "domain %u holds no old master key", n->index);
	if (json_object_get(params, "mkvp") != NULL) {
		if ((rc = get_vp_param(params, "mkvp", want)) != HSM_OK)
			REFUSE(HSM_ERR_FORMAT, "bad_params", "mk.destroy_old: %s", hsm_errmsg());
		if (!vp_equal(want, n->old.vp))
			REFUSE(HSM_ERR_VERIFY, "mkvp_mismatch",
			       "the old key of domain %u has another verification pattern than the command names",
			       n->index);
	}
	hex_encode_buf(n->old.vp, HSM_VP_LEN, hex);
	reg_clear(&n->old);
	*result = json_pack("{s:s}", "mkvp", hex);
	rc = HSM_OK;
out:
	return rc;
}

/* Rotation backout: return to the OLD key while it still exists. The new
 * (current) key is not lost: it is set aside in PENDING, committed, so a
 * later mk.activate can take it again, or mk.clear_pending discards it. */
static hsm_rc
op_backout(simdom *n, const json_t *params, json_t **result, const char **reason)
{
	uint8_t want[HSM_VP_LEN];
	char hex[2 * HSM_VP_LEN + 1], phex[2 * HSM_VP_LEN + 1];
	simdom_reg cur;
	hsm_rc rc;

	if ((rc = get_vp_param(params, "mkvp", want)) != HSM_OK)
		REFUSE(HSM_ERR_FORMAT, "bad_params", "mk.backout: %s", hsm_errmsg());
	if (n->old.state != REG_VALID)
		REFUSE(HSM_ERR_STATE, "old_empty",
		       "domain %u holds no old master key to return to (destroyed, or never rotated)",
		       n->index);
	if (n->cur.state != REG_VALID)
		REFUSE(HSM_ERR_STATE, "current_empty",
		       "domain %u holds no current master key", n->index);
	if (n->pend.state != PEND_EMPTY)
		REFUSE(HSM_ERR_STATE, "pending_not_empty",
		       "the pending register of domain %u is %s; the new key is set aside there, so clear it first (mk.clear_pending)",
		       n->index, pend_names[n->pend.state]);
	if (!vp_equal(want, n->old.vp))
		REFUSE(HSM_ERR_VERIFY, "mkvp_mismatch",
		       "the old key of domain %u has another verification pattern than the command names",
		       n->index);
	pending_clear(n);
	cur = n->cur;
	n->cur = n->old;
	memset(&n->old, 0, sizeof(n->old));
	n->pend = cur;
	n->pend.state = PEND_COMMITTED;
	hex_encode_buf(n->cur.vp, HSM_VP_LEN, hex);
	hex_encode_buf(n->pend.vp, HSM_VP_LEN, phex);
	*result = json_pack("{s:s, s:s}", "mkvp", hex, "pending_mkvp", phex);
	rc = HSM_OK;
out:
	return rc;
}

static void
zeroize(simdom *n)
{
	size_t i;

	for (i = 0; i < n->nadmins; i++)
		EVP_PKEY_free(n->admins[i].pub);
	memset(n->admins, 0, sizeof(n->admins));
	n->nadmins = 0;
	n->sig_thr = n->rev_thr = 0;
	reg_clear(&n->cur);
	reg_clear(&n->old);
	pending_clear(n);
	EVP_PKEY_free(n->importer);
	n->importer = NULL;
	memset(n->imp_obj, 0, sizeof(n->imp_obj));
}

/* ---- token objects ---------------------------------------------------------- */

/* The token objects d names: the registers' and the importer pair. */
static size_t
dom_objects(const simdom *d, ks_kind kind[4], const char *id[4])
{
	const simdom_reg *r[3] = { &d->cur, &d->pend, &d->old };
	size_t i, n = 0;

	for (i = 0; i < 3; i++)
		if (r[i]->obj[0] != '\0') {
			kind[n] = KS_REG;
			id[n++] = r[i]->obj;
		}
	if (d->imp_obj[0] != '\0') {
		kind[n] = KS_IMP;
		id[n++] = d->imp_obj;
	}
	return n;
}

int
simdom_names(const simdom *d, ks_kind kind, const char *id)
{
	ks_kind k[4];
	const char *ids[4];
	size_t i, n = dom_objects(d, k, ids);

	for (i = 0; i < n; i++)
		if (k[i] == kind && strcmp(ids[i], id) == 0)
			return 1;
	return 0;
}

hsm_rc
simdom_objects_gone(const simdom *from, const simdom *to, int destroy, json_t *labels)
{
	ks_kind k[4];
	const char *ids[4];
	size_t i, n = dom_objects(from, k, ids);
	hsm_rc rc = HSM_OK, r;

	if (!ks_is_token(from->ks))
		return HSM_OK;
	for (i = 0; i < n; i++) {
		if (to != NULL && simdom_names(to, k[i], ids[i]))
			continue;
		if (labels != NULL && (r = ks_labels_of(from->ks, from->index, k[i], ids[i],
		    labels)) != HSM_OK)
			rc = r;
		if (destroy && (r = ks_destroy(from->ks, from->index, k[i], ids[i])) != HSM_OK)
			rc = r;
	}
	return rc;
}

/* The receipt says which token objects the change destroys (the module
 * destroys them once the new state is saved). */
static hsm_rc
note_destroyed(const simdom *d, const simdom *n, json_t *result)
{
	json_t *l = json_array();
	hsm_rc rc;

	if (l == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = simdom_objects_gone(d, n, 0, l)) == HSM_OK && json_array_size(l) > 0 &&
	    json_object_set(result, "token_objects_destroyed", l) != 0)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_decref(l);
	return rc;
}

static const char *const known_ops[] = {
	ADMINCMD_OP_ADMIN_ADD, ADMINCMD_OP_ADMIN_REMOVE, ADMINCMD_OP_THRESHOLDS_SET,
	ADMINCMD_OP_IMPORTER_GENERATE, ADMINCMD_OP_MK_LOAD_PART, ADMINCMD_OP_MK_COMMIT,
	ADMINCMD_OP_MK_ACTIVATE, ADMINCMD_OP_MK_CLEAR_PENDING, ADMINCMD_OP_MK_DESTROY_OLD,
	ADMINCMD_OP_MK_BACKOUT, ADMINCMD_OP_ZEROIZE, ADMINCMD_OP_MK_APPROVE_LOAD,
};

static const char *
verify_reason(hsm_rc rc, const admincmd *cmd, int64_t now)
{
	switch (rc) {
	case HSM_ERR_REFUSED: return "unknown_signer";
	case HSM_ERR_STATE:   return "imprint_mode";
	case HSM_ERR_EXPIRED: return now < admincmd_not_before(cmd) ? "not_yet_valid" : "expired";
	case HSM_ERR_REPLAY:  return "counter_mismatch";
	case HSM_ERR_VERIFY:  return "bad_signature";
	case HSM_ERR_QUORUM:  return "insufficient_signatures";
	case HSM_ERR_FORMAT:  return "bad_command";
	default:              return "internal";
	}
}

/* ---- signature checks shared by the domains of one batch ---- */

hsm_rc
simdom_vmemo_new(simdom_vmemo **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&(*out)->lock, NULL);
	if (admincmd_memo_new(&(*out)->sigs) != HSM_OK)
		hsm_err_clear();   /* each domain checks alone */
	return HSM_OK;
}

void
simdom_vmemo_free(simdom_vmemo **m)
{
	if (m == NULL || *m == NULL)
		return;
	admincmd_memo_free(&(*m)->sigs);
	pthread_mutex_destroy(&(*m)->lock);
	EVP_PKEY_free((*m)->kpub);
	free((*m)->khex);
	free(*m);
	*m = NULL;
}

/* The command's signatures as domain d sees them: its admins, counted over
 * distinct identities, its thresholds, its approved load; through memo
 * (may be NULL), which shares one check per admin set. */
static hsm_rc
verify_memo(const simdom *d, const char *module, const admincmd *cmd, int64_t now,
            simdom_vmemo *memo)
{
	admincmd_admin admins[SIMDOM_MAX_ADMINS];
	json_t *approved = NULL;
	size_t i;
	hsm_rc rc;

	for (i = 0; i < d->nadmins; i++) {
		memcpy(admins[i].ski, d->admins[i].ski, HSM_SKI_LEN);
		admins[i].pub = d->admins[i].pub;
		admins[i].identity = d->admins[i].identity;
		admins[i].name = d->admins[i].name;
	}
	if (d->napproved > 0 && (approved = approved_json(d)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = admincmd_verify_memo(memo ? memo->sigs : NULL, cmd, module, d->index, d->counter, now,
	    admins, d->nadmins, d->sig_thr, d->rev_thr, approved, NULL);
	json_decref(approved);
	return rc;
}

/* The op's change on the clone n. */
static hsm_rc
apply_op(simdom *n, const char *op, const char *module, const json_t *params,
         simdom_vmemo *memo, long long sig, long long rev, json_t **result,
         const char **reason)
{
	if (strcmp(op, ADMINCMD_OP_ADMIN_ADD) == 0)
		return op_admin_add(n, params, memo, result, reason);
	if (strcmp(op, ADMINCMD_OP_ADMIN_REMOVE) == 0)
		return op_admin_remove(n, params, result, reason);
	if (strcmp(op, ADMINCMD_OP_THRESHOLDS_SET) == 0) {
		n->sig_thr = (unsigned)sig;
		n->rev_thr = (unsigned)rev;
		*result = json_object();
		return HSM_OK;
	}
	if (strcmp(op, ADMINCMD_OP_IMPORTER_GENERATE) == 0)
		return op_importer_generate(n, result);
	if (strcmp(op, ADMINCMD_OP_MK_LOAD_PART) == 0)
		return op_load_part(n, module, params, result, reason);
	if (strcmp(op, ADMINCMD_OP_MK_APPROVE_LOAD) == 0)
		return op_approve_load(n, params, result, reason);
	if (strcmp(op, ADMINCMD_OP_MK_COMMIT) == 0)
		return op_commit(n, params, result, reason);
	if (strcmp(op, ADMINCMD_OP_MK_ACTIVATE) == 0)
		return op_activate(n, params, result, reason);
	if (strcmp(op, ADMINCMD_OP_MK_CLEAR_PENDING) == 0)
		return op_clear_pending(n, result, reason);
	if (strcmp(op, ADMINCMD_OP_MK_DESTROY_OLD) == 0)
		return op_destroy_old(n, params, result, reason);
	if (strcmp(op, ADMINCMD_OP_MK_BACKOUT) == 0)
		return op_backout(n, params, result, reason);
	zeroize(n);
	*result = json_object();
	return HSM_OK;
}

hsm_rc
simdom_apply_cmd(const simdom *d, const char *module, const admincmd *cmd, int64_t now,
                 simdom_vmemo *memo, simdom **next, json_t **result, const char **opout,
                 const char **reason)
{
	simdom *n = NULL;
	const json_t *params;
	const char *op = NULL;
	long long sig = 0, rev = 0;
	size_t i;
	hsm_rc rc;

	*next = NULL;
	*result = NULL;
	*opout = NULL;
	*reason = "internal";
	for (i = 0; i < sizeof(known_ops) / sizeof(known_ops[0]); i++)
		if (strcmp(admincmd_op(cmd), known_ops[i]) == 0)
			op = known_ops[i];
	if (op == NULL)
		REFUSE(HSM_ERR_FORMAT, "unknown_op", "this module does not know the command \"%s\"",
		       admincmd_op(cmd));
	*opout = op;
	params = admincmd_params(cmd);
	if (admincmd_target_for(cmd, module, d->index, NULL) != HSM_OK)
		REFUSE(HSM_ERR_REFUSED, "not_a_target",
		       "the command is not addressed to module %s domain %u", module, d->index);
	if (strcmp(op, ADMINCMD_OP_THRESHOLDS_SET) == 0 &&
	    (rc = check_thresholds(d, params, &sig, &rev, reason)) != HSM_OK)
		goto out;
	if ((rc = verify_memo(d, module, cmd, now, memo)) != HSM_OK) {
		*reason = verify_reason(rc, cmd, now);
		goto out;
	}
	if ((rc = simdom_clone(d, &n)) != HSM_OK ||
	    (rc = apply_op(n, op, module, params, memo, sig, rev, result, reason)) != HSM_OK)
		goto out;
	if (*result == NULL)
		REFUSE(HSM_ERR_NOMEM, "internal", "out of memory");
	if (ks_is_token(n->ks) && (rc = note_destroyed(d, n, *result)) != HSM_OK)
		goto out;
	n->counter++;
	*next = n;
	n = NULL;
	*reason = NULL;
	rc = HSM_OK;
out:
	if (rc != HSM_OK) {
		json_decref(*result);
		*result = NULL;
		/* Token objects made for a state that will never be saved. */
		if (n != NULL && ks_is_token(n->ks))
			(void)simdom_objects_gone(n, d, 1, NULL);
	}
	simdom_free(&n);
	return rc;
}

hsm_rc
simdom_apply(const simdom *d, const char *module, const json_t *command, int64_t now,
             simdom **next, json_t **result, const char **opout, const char **reason)
{
	admincmd *cmd = NULL;
	hsm_rc rc;

	*next = NULL;
	*result = NULL;
	*opout = NULL;
	if (admincmd_from_json(command, &cmd) != HSM_OK) {
		*reason = "bad_command";
		return hsm_fail(HSM_ERR_FORMAT, "the command does not parse: %s", hsm_errmsg());
	}
	rc = simdom_apply_cmd(d, module, cmd, now, NULL, next, result, opout, reason);
	admincmd_free(&cmd);
	return rc;
}
