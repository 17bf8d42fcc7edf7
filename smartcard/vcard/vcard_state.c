/* SPDX-License-Identifier: BSD-2-Clause */
/* vcard_state.c - the virtual card's state: factory defaults, the card file
 * (JSON, see docs/vcard.md), atomic saving, and the non-secret summary.
 * The PIN, PUK and management key live in one locked buffer while the card
 * runs; in the file they are in clear, because this is an emulator. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "hsmadm/codec.h"
#include "hsmadm/fileio.h"
#include "vcard_int.h"

#define VC_FORMAT "hsmadm-vcard/1"

static const uint8_t slot_ids[VC_NSLOTS] = {
	0x9A, 0x9C, 0x9D, 0x9E,
	0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B,
	0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0xF9,
};

static const uint8_t default_mgm[24] = {
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
};

int
vc_slot_index(uint8_t slot)
{
	for (int i = 0; i < VC_NSLOTS; i++)
		if (slot_ids[i] == slot)
			return i;
	return -1;
}

uint8_t
vc_default_pin_policy(uint8_t slot)
{
	switch (slot) {
	case 0x9C: return VC_PIN_ALWAYS;
	case 0x9E: case 0xF9: return VC_PIN_NEVER;
	default: return VC_PIN_ONCE;
	}
}

size_t
vc_mgm_keylen(uint8_t alg)
{
	switch (alg) {
	case VC_ALG_3DES: return 24;
	case VC_ALG_AES128: return 16;
	case VC_ALG_AES192: return 24;
	case VC_ALG_AES256: return 32;
	default: return 0;
	}
}

void
vc_reset_volatile(vcard *c)
{
	c->pin_ok = c->pin_fresh = c->mgm_ok = 0;
	c->witness_pending = c->challenge_pending = 0;
	c->chain_active = 0;
	c->chain_len = 0;
	c->out_len = c->out_pos = 0;
	secure_wipe(c->s->witness, sizeof(c->s->witness));
	secure_wipe(c->s->challenge, sizeof(c->s->challenge));
	secure_wipe(c->s->chain, sizeof(c->s->chain));
}

static void
pin_pad(uint8_t out[VC_PIN_LEN], const char *s)
{
	size_t n = strlen(s);

	memset(out, 0xFF, VC_PIN_LEN);
	memcpy(out, s, n > VC_PIN_LEN ? VC_PIN_LEN : n);
}

void
vc_factory_credentials(vcard *c)
{
	pin_pad(c->s->pin, VC_DEFAULT_PIN);
	pin_pad(c->s->puk, VC_DEFAULT_PUK);
	c->pin_max = c->pin_left = VC_DEFAULT_TRIES;
	c->puk_max = c->puk_left = VC_DEFAULT_TRIES;
	c->mgm_alg = VC_ALG_3DES;
	secure_wipe(c->s->mgm, sizeof(c->s->mgm));
	memcpy(c->s->mgm, default_mgm, sizeof(default_mgm));
	c->s->mgm_len = sizeof(default_mgm);
	c->dirty = 1;
}

void
vc_wipe_keys_objects(vcard *c, int keep_attest)
{
	size_t kept = 0;

	for (int i = 0; i < VC_NSLOTS; i++) {
		if (keep_attest && c->keys[i].slot == 0xF9)
			continue;
		EVP_PKEY_free(c->keys[i].pkey);
		memset(&c->keys[i], 0, sizeof(c->keys[i]));
	}
	for (size_t i = 0; i < c->nobjs; i++) {
		if (keep_attest && c->objs[i].tag == 0x5FFF01) {
			c->objs[kept++] = c->objs[i];
			continue;
		}
		free(c->objs[i].data);
	}
	for (size_t i = kept; i < c->nobjs; i++)
		memset(&c->objs[i], 0, sizeof(c->objs[i]));
	c->nobjs = kept;
	c->dirty = 1;
}

struct vcard_obj *
vc_obj_find(vcard *c, uint32_t tag)
{
	for (size_t i = 0; i < c->nobjs; i++)
		if (c->objs[i].tag == tag)
			return &c->objs[i];
	return NULL;
}

hsm_rc
vc_obj_put(vcard *c, uint32_t tag, const uint8_t *data, size_t len)
{
	struct vcard_obj *o = vc_obj_find(c, tag);
	uint8_t *copy = NULL;

	if (len > VC_OBJ_MAX)
		return hsm_fail(HSM_ERR_NOMEM, "object %06x: %zu bytes is more than %d",
		    tag, len, VC_OBJ_MAX);
	if (len == 0) {
		if (o != NULL) {
			free(o->data);
			*o = c->objs[--c->nobjs];
			memset(&c->objs[c->nobjs], 0, sizeof(c->objs[0]));
		}
		c->dirty = 1;
		return HSM_OK;
	}
	if (o == NULL && c->nobjs >= VC_OBJ_COUNT)
		return hsm_fail(HSM_ERR_NOMEM, "card is full (%d objects)", VC_OBJ_COUNT);
	if ((copy = malloc(len)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	memcpy(copy, data, len);
	if (o == NULL)
		o = &c->objs[c->nobjs++];
	free(o->data);
	o->tag = tag;
	o->data = copy;
	o->len = len;
	c->dirty = 1;
	return HSM_OK;
}

static hsm_rc
vc_alloc(vcard **out)
{
	vcard *c;
	hsm_rc rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = secbuf_new(sizeof(struct vcard_secrets), &c->secbuf)) != HSM_OK) {
		free(c);
		return rc;
	}
	c->s = (struct vcard_secrets *)(void *)c->secbuf->data;
	c->secbuf->len = sizeof(struct vcard_secrets);
	*out = c;
	return HSM_OK;
}

void
vcard_free(vcard **cp)
{
	vcard *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	vc_wipe_keys_objects(c, 0);
	secbuf_free(&c->secbuf);
	secure_wipe(c, sizeof(*c));
	free(c);
	*cp = NULL;
}

hsm_rc
vcard_new(uint32_t serial, vcard **out)
{
	return vc_new(serial, 1, out);
}

hsm_rc
vc_new(uint32_t serial, int attest, vcard **out)
{
	vcard *c = NULL;
	hsm_rc rc;

	if ((rc = vc_alloc(&c)) != HSM_OK)
		return rc;
	if (serial == 0) {
		uint32_t r;
		if ((rc = vk_random((uint8_t *)&r, sizeof(r))) != HSM_OK) {
			vcard_free(&c);
			return rc;
		}
		serial = 10000000u + r % 90000000u;
	}
	c->serial = serial;
	c->version[0] = 5, c->version[1] = 4, c->version[2] = 3;
	vc_factory_credentials(c);
	vc_reset_volatile(c);
	if (attest && (rc = vc_attest_init(c)) != HSM_OK) {
		vcard_free(&c);
		return rc;
	}
	*out = c;
	return HSM_OK;
}

int
vcard_dirty(const vcard *c)
{
	return c->dirty;
}

void
vcard_clear_dirty(vcard *c)
{
	c->dirty = 0;
}

/* ------------------------------------------------------------------ file */

static const char *
mgm_alg_name(uint8_t alg)
{
	switch (alg) {
	case VC_ALG_3DES: return "3des";
	case VC_ALG_AES128: return "aes128";
	case VC_ALG_AES192: return "aes192";
	case VC_ALG_AES256: return "aes256";
	default: return "?";
	}
}

static const char *const pin_policy_names[] = { "default", "never", "once", "always" };
static const char *const touch_policy_names[] = { "default", "never", "always", "cached" };

static int
name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/* PIN/PUK as stored text: the bytes before the 0xFF padding. */
static json_t *
pin_text(const uint8_t p[VC_PIN_LEN])
{
	size_t n = 0;

	while (n < VC_PIN_LEN && p[n] != 0xFF)
		n++;
	return json_stringn((const char *)p, n);
}

static hsm_rc
to_json(vcard *c, json_t **out)
{
	json_t *root = NULL, *keys = NULL, *objs = NULL;
	char *hex = NULL, *pem = NULL, ver[16], slot[4], tag[8];
	hsm_rc rc = HSM_OK;

	*out = NULL;
	snprintf(ver, sizeof(ver), "%u.%u.%u", c->version[0], c->version[1], c->version[2]);
	if ((rc = hex_encode(c->s->mgm, c->s->mgm_len, &hex)) != HSM_OK)
		return rc;
	root = json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:{s:i, s:i}, s:{s:i, s:i},"
	    " s:{s:s, s:s}}",
	    "comment", "hsmadm-vcard emulator card file: secrets are in clear; for tests only",
	    "format", VC_FORMAT, "serial", (json_int_t)c->serial, "version", ver,
	    "pin", pin_text(c->s->pin), "puk", pin_text(c->s->puk),
	    "pin_tries", "max", (int)c->pin_max, "left", (int)c->pin_left,
	    "puk_tries", "max", (int)c->puk_max, "left", (int)c->puk_left,
	    "management_key", "alg", mgm_alg_name(c->mgm_alg), "key", hex);
	secure_wipe(hex, strlen(hex));
	free(hex);
	hex = NULL;
	if (root == NULL || (keys = json_object()) == NULL || (objs = json_object()) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < VC_NSLOTS; i++) {
		struct vcard_key *k = &c->keys[i];
		json_t *jk;

		if (k->slot == 0)
			continue;
		if ((rc = vk_to_pem(k->pkey, &pem)) != HSM_OK)
			goto out;
		snprintf(slot, sizeof(slot), "%02x", k->slot);
		jk = json_pack("{s:s, s:s, s:s, s:s, s:s}",
		    "alg", k->alg == VC_ALG_P256 ? "p256" : "p384",
		    "pin_policy", pin_policy_names[k->pin_policy & 3],
		    "touch_policy", touch_policy_names[k->touch_policy & 3],
		    "origin", k->origin == VC_ORIGIN_IMPORTED ? "imported" : "generated",
		    "private_key_pem", pem);
		secure_wipe(pem, strlen(pem));
		free(pem);
		pem = NULL;
		if (jk == NULL || json_object_set_new(keys, slot, jk) != 0) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < c->nobjs; i++) {
		if ((rc = hex_encode(c->objs[i].data, c->objs[i].len, &hex)) != HSM_OK)
			goto out;
		snprintf(tag, sizeof(tag), "%06x", c->objs[i].tag);
		if (json_object_set_new(objs, tag, json_string(hex)) != 0) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		free(hex);
		hex = NULL;
	}
	json_object_set(root, "keys", keys);
	json_object_set(root, "objects", objs);
	*out = root;
	root = NULL;
out:
	free(hex);
	json_decref(keys);
	json_decref(objs);
	json_decref(root);
	return rc;
}

hsm_rc
vcard_save(vcard *c, const char *path, int excl)
{
	json_t *root = NULL;
	char *text = NULL;
	hsm_file_tx *tx = NULL;
	hsm_rc rc;

	if ((rc = to_json(c, &root)) != HSM_OK)
		return rc;
	if ((text = json_dumps(root, JSON_INDENT(2))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* The file holds the card's PIN, PUK and keys: owner only. */
	if ((rc = hsm_file_begin(path, 0600, &tx)) != HSM_OK ||
	    (rc = hsm_file_write(tx, text, strlen(text))) != HSM_OK ||
	    (rc = hsm_file_write(tx, "\n", 1)) != HSM_OK)
		goto out;
	/* create: link() refuses an existing file, so no card file is ever
	 * replaced by "create", not even for an instant. */
	rc = excl ? hsm_file_commit_new(&tx) : hsm_file_commit(&tx);
	if (rc == HSM_ERR_EXISTS)
		rc = hsm_fail(HSM_ERR_EXISTS,
		    "%s already exists; choose another name or remove it first", path);
out:
	hsm_file_abort(&tx);
	if (text != NULL) {
		secure_wipe(text, strlen(text));
		free(text);
	}
	json_decref(root);
	return rc;
}

/* Strict field readers: the message names the field. */
static hsm_rc
get_int(json_t *o, const char *name, json_int_t lo, json_int_t hi, json_int_t *v)
{
	json_t *j = json_object_get(o, name);

	if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
		return hsm_fail(HSM_ERR_FORMAT, "field \"%s\" missing or not an integer in %lld..%lld",
		    name, (long long)lo, (long long)hi);
	*v = json_integer_value(j);
	return HSM_OK;
}

static hsm_rc
get_str(json_t *o, const char *name, const char **v)
{
	json_t *j = json_object_get(o, name);

	if (!json_is_string(j))
		return hsm_fail(HSM_ERR_FORMAT, "field \"%s\" missing or not a string", name);
	*v = json_string_value(j);
	return HSM_OK;
}

static hsm_rc
get_pin(json_t *o, const char *name, uint8_t out[VC_PIN_LEN])
{
	const char *s = NULL;
	size_t n;
	hsm_rc rc;

	if ((rc = get_str(o, name, &s)) != HSM_OK)
		return rc;
	n = strlen(s);
	if (n < 6 || n > VC_PIN_LEN || (size_t)json_string_length(json_object_get(o, name)) != n)
		return hsm_fail(HSM_ERR_FORMAT, "field \"%s\" must be 6 to 8 characters", name);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] == 0xFF)
			return hsm_fail(HSM_ERR_FORMAT, "field \"%s\" has a 0xFF byte", name);
	pin_pad(out, s);
	return HSM_OK;
}

static hsm_rc
get_tries(json_t *o, const char *name, uint8_t *max, uint8_t *left)
{
	json_t *t = json_object_get(o, name);
	json_int_t m = 0, l = 0;
	hsm_rc rc;

	if (!json_is_object(t) || json_object_size(t) != 2)
		return hsm_fail(HSM_ERR_FORMAT, "field \"%s\" must be {\"max\", \"left\"}", name);
	if ((rc = get_int(t, "max", 1, 255, &m)) != HSM_OK ||
	    (rc = get_int(t, "left", 0, m, &l)) != HSM_OK)
		return hsm_fail_wrap(rc, "%s", name);
	*max = (uint8_t)m, *left = (uint8_t)l;
	return HSM_OK;
}

static hsm_rc
load_key(vcard *c, const char *slotname, json_t *jk)
{
	const char *alg = NULL, *pp = NULL, *tp = NULL, *origin = NULL, *pem = NULL;
	unsigned long slot;
	char *end;
	int idx, pi, ti;
	struct vcard_key *k;
	uint8_t kalg;
	hsm_rc rc;

	/* Lowercase only, as vcard_save writes it: "9e" and "9E" would be one
	 * slot filled twice. */
	slot = strtoul(slotname, &end, 16);
	if (strlen(slotname) != 2 || *end != '\0' || strspn(slotname, "0123456789abcdef") != 2 ||
	    (idx = vc_slot_index((uint8_t)slot)) < 0)
		return hsm_fail(HSM_ERR_FORMAT, "\"%s\" is not a key slot (9a, 9c, 9d, 9e, 82..95, f9)", slotname);
	if (c->keys[idx].pkey != NULL)
		return hsm_fail(HSM_ERR_FORMAT, "key slot %s is given twice", slotname);
	if (!json_is_object(jk) || json_object_size(jk) != 5)
		return hsm_fail(HSM_ERR_FORMAT, "key %s: needs exactly alg, pin_policy, touch_policy, origin, private_key_pem", slotname);
	if ((rc = get_str(jk, "alg", &alg)) != HSM_OK ||
	    (rc = get_str(jk, "pin_policy", &pp)) != HSM_OK ||
	    (rc = get_str(jk, "touch_policy", &tp)) != HSM_OK ||
	    (rc = get_str(jk, "origin", &origin)) != HSM_OK ||
	    (rc = get_str(jk, "private_key_pem", &pem)) != HSM_OK)
		return hsm_fail_wrap(rc, "key %s", slotname);
	if ((pi = name_index(pin_policy_names, 4, pp)) < 0 ||
	    (ti = name_index(touch_policy_names, 4, tp)) < 0)
		return hsm_fail(HSM_ERR_FORMAT, "key %s: unknown PIN or touch policy", slotname);
	if (strcmp(origin, "generated") != 0 && strcmp(origin, "imported") != 0)
		return hsm_fail(HSM_ERR_FORMAT, "key %s: origin must be generated or imported", slotname);
	k = &c->keys[idx];
	if ((rc = vk_from_pem(pem, &k->pkey)) != HSM_OK)
		return hsm_fail_wrap(rc, "key %s", slotname);
	if ((rc = vk_alg(k->pkey, &kalg)) != HSM_OK)
		return hsm_fail_wrap(rc, "key %s", slotname);
	if (strcmp(alg, kalg == VC_ALG_P256 ? "p256" : "p384") != 0)
		return hsm_fail(HSM_ERR_FORMAT, "key %s: alg \"%s\" does not match the key", slotname, alg);
	k->slot = (uint8_t)slot;
	k->alg = kalg;
	k->pin_policy = (uint8_t)pi;
	k->touch_policy = (uint8_t)ti;
	k->origin = origin[0] == 'i' ? VC_ORIGIN_IMPORTED : VC_ORIGIN_GENERATED;
	return HSM_OK;
}

static hsm_rc
from_json(vcard *c, json_t *root)
{
	const char *s = NULL;
	json_t *jm, *jk, *jo, *v;
	const char *name;
	json_int_t serial = 0;
	unsigned a, b, d;
	char extra;
	uint8_t *bytes = NULL;
	size_t n;
	hsm_rc rc;
	static const char *const known[] = { "comment", "format", "serial", "version",
	    "pin", "puk", "pin_tries", "puk_tries", "management_key", "keys", "objects" };

	if (!json_is_object(root))
		return hsm_fail(HSM_ERR_FORMAT, "not a JSON object");
	json_object_foreach(root, name, v) {
		size_t i;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(name, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			return hsm_fail(HSM_ERR_FORMAT, "unknown field \"%s\"", name);
	}
	if ((rc = get_str(root, "format", &s)) != HSM_OK)
		return rc;
	if (strcmp(s, VC_FORMAT) != 0)
		return hsm_fail(HSM_ERR_FORMAT, "format is \"%s\", expected \"%s\"", s, VC_FORMAT);
	if ((rc = get_int(root, "serial", 1, 0xFFFFFFFFll, &serial)) != HSM_OK)
		return rc;
	c->serial = (uint32_t)serial;
	if ((rc = get_str(root, "version", &s)) != HSM_OK)
		return rc;
	if (sscanf(s, "%u.%u.%u%c", &a, &b, &d, &extra) != 3 || a > 255 || b > 255 || d > 255)
		return hsm_fail(HSM_ERR_FORMAT, "version \"%s\" is not x.y.z", s);
	c->version[0] = (uint8_t)a, c->version[1] = (uint8_t)b, c->version[2] = (uint8_t)d;
	if ((rc = get_pin(root, "pin", c->s->pin)) != HSM_OK ||
	    (rc = get_pin(root, "puk", c->s->puk)) != HSM_OK ||
	    (rc = get_tries(root, "pin_tries", &c->pin_max, &c->pin_left)) != HSM_OK ||
	    (rc = get_tries(root, "puk_tries", &c->puk_max, &c->puk_left)) != HSM_OK)
		return rc;
	jm = json_object_get(root, "management_key");
	if (!json_is_object(jm) || json_object_size(jm) != 2)
		return hsm_fail(HSM_ERR_FORMAT, "field \"management_key\" must be {\"alg\", \"key\"}");
	if ((rc = get_str(jm, "alg", &s)) != HSM_OK)
		return rc;
	if (strcmp(s, "3des") == 0) c->mgm_alg = VC_ALG_3DES;
	else if (strcmp(s, "aes128") == 0) c->mgm_alg = VC_ALG_AES128;
	else if (strcmp(s, "aes192") == 0) c->mgm_alg = VC_ALG_AES192;
	else if (strcmp(s, "aes256") == 0) c->mgm_alg = VC_ALG_AES256;
	else return hsm_fail(HSM_ERR_FORMAT, "management key alg \"%s\" unknown (3des, aes128, aes192, aes256)", s);
	if ((rc = get_str(jm, "key", &s)) != HSM_OK)
		return rc;
	c->s->mgm_len = vc_mgm_keylen(c->mgm_alg);
	if (strlen(s) != 2 * c->s->mgm_len || hex_decode_into(s, c->s->mgm, c->s->mgm_len) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT, "management key must be %zu lowercase hex digits", 2 * c->s->mgm_len);
	jk = json_object_get(root, "keys");
	if (!json_is_object(jk))
		return hsm_fail(HSM_ERR_FORMAT, "field \"keys\" missing or not an object");
	json_object_foreach(jk, name, v)
		if ((rc = load_key(c, name, v)) != HSM_OK)
			return rc;
	jo = json_object_get(root, "objects");
	if (!json_is_object(jo))
		return hsm_fail(HSM_ERR_FORMAT, "field \"objects\" missing or not an object");
	json_object_foreach(jo, name, v) {
		unsigned long tag;
		char *end;

		tag = strtoul(name, &end, 16);
		if (strlen(name) != 6 || *end != '\0' || strspn(name, "0123456789abcdef") != 6 ||
		    ((tag >> 8) != 0x5FC1 && (tag >> 8) != 0x5FFF))
			return hsm_fail(HSM_ERR_FORMAT, "object \"%s\" is not a 5fc1xx or 5fffxx tag", name);
		if (!json_is_string(v) || hex_decode(json_string_value(v), &bytes, &n) != HSM_OK || n == 0)
			return hsm_fail(HSM_ERR_FORMAT, "object %s: contents must be non-empty lowercase hex", name);
		rc = vc_obj_put(c, (uint32_t)tag, bytes, n);
		free(bytes);
		bytes = NULL;
		if (rc != HSM_OK)
			return hsm_fail_wrap(HSM_ERR_FORMAT, "object %s", name);
	}
	return HSM_OK;
}

static hsm_rc
load_root(json_t *root, const char *name, vcard **out)
{
	vcard *c = NULL;
	hsm_rc rc;

	if ((rc = vc_alloc(&c)) != HSM_OK)
		return rc;
	if ((rc = from_json(c, root)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "card file %s", name);
		vcard_free(&c);
		return rc;
	}
	vc_reset_volatile(c);
	c->dirty = 0;
	*out = c;
	return HSM_OK;
}

hsm_rc
vcard_load(const char *path, vcard **out)
{
	json_t *root = NULL;
	json_error_t jerr;
	hsm_rc rc;

	*out = NULL;
	if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		if (access(path, R_OK) != 0)
			return hsm_fail(errno == ENOENT ? HSM_ERR_NOT_FOUND : HSM_ERR_IO,
			    "cannot read card file %s: %s; create one with 'hsmadm-vcard create %s'",
			    path, strerror(errno), path);
		return hsm_fail(HSM_ERR_FORMAT, "card file %s is not valid JSON (line %d, column %d)",
		    path, jerr.line, jerr.column);
	}
	rc = load_root(root, path, out);
	json_decref(root);
	return rc;
}

hsm_rc
vcard_parse(const char *text, size_t n, vcard **out)
{
	json_t *root = NULL;
	json_error_t jerr;
	hsm_rc rc;

	*out = NULL;
	if ((root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return hsm_fail(HSM_ERR_FORMAT, "card file is not valid JSON (line %d, column %d)",
		    jerr.line, jerr.column);
	rc = load_root(root, "(memory)", out);
	json_decref(root);
	return rc;
}

int
vc_ref_is_default(const vcard *c, uint8_t ref)
{
	uint8_t def[VC_PIN_LEN];

	if (ref == 0x9B)
		return c->mgm_alg == VC_ALG_3DES && c->s->mgm_len == sizeof(default_mgm) &&
		    secure_equal(c->s->mgm, default_mgm, sizeof(default_mgm));
	pin_pad(def, ref == 0x81 ? VC_DEFAULT_PUK : VC_DEFAULT_PIN);
	return secure_equal(def, ref == 0x81 ? c->s->puk : c->s->pin, VC_PIN_LEN);
}

hsm_rc
vcard_show_json(const vcard *c, json_t **out)
{
	json_t *root, *keys, *objs;
	char ver[16], name[8];
	int pin_default = vc_ref_is_default(c, 0x80), mgm_default = vc_ref_is_default(c, 0x9B);

	*out = NULL;
	snprintf(ver, sizeof(ver), "%u.%u.%u", c->version[0], c->version[1], c->version[2]);
	keys = json_object();
	objs = json_object();
	root = json_pack("{s:i, s:s, s:{s:i, s:i, s:b}, s:{s:i, s:i}, s:{s:s, s:b}, s:o, s:o}",
	    "serial", (json_int_t)c->serial, "version", ver,
	    "pin", "tries_left", c->pin_left, "tries_max", c->pin_max, "default", pin_default,
	    "puk", "tries_left", c->puk_left, "tries_max", c->puk_max,
	    "management_key", "alg", mgm_alg_name(c->mgm_alg), "default", mgm_default,
	    "slots", keys, "objects", objs);
	if (root == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (int i = 0; i < VC_NSLOTS; i++) {
		const struct vcard_key *k = &c->keys[i];
		uint8_t pt[1 + 2 * 48];
		size_t n;
		char *hex = NULL;

		if (k->slot == 0)
			continue;
		if (vk_point(k->pkey, pt, sizeof(pt), &n) != HSM_OK ||
		    hex_encode(pt, n, &hex) != HSM_OK) {
			json_decref(root);
			return hsm_fail(HSM_ERR_INTERNAL, "cannot encode the key in slot %02x", k->slot);
		}
		snprintf(name, sizeof(name), "%02x", k->slot);
		json_object_set_new(keys, name, json_pack("{s:s, s:s, s:s, s:s, s:s}",
		    "alg", k->alg == VC_ALG_P256 ? "p256" : "p384",
		    "pin_policy", pin_policy_names[k->pin_policy & 3],
		    "touch_policy", touch_policy_names[k->touch_policy & 3],
		    "origin", k->origin == VC_ORIGIN_IMPORTED ? "imported" : "generated",
		    "public_point", hex));
		free(hex);
	}
	for (size_t i = 0; i < c->nobjs; i++) {
		snprintf(name, sizeof(name), "%06x", c->objs[i].tag);
		json_object_set_new(objs, name, json_integer((json_int_t)c->objs[i].len));
	}
	*out = root;
	return HSM_OK;
}

hsm_rc
vcard_lock(const char *path, int *fd)
{
	char *lp;
	int lfd;

	*fd = -1;
	if ((lp = malloc(strlen(path) + 6)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	sprintf(lp, "%s.lock", path);
	if ((lfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		hsm_rc rc = hsm_fail(HSM_ERR_IO, "cannot open the lock file %s: %s", lp, strerror(errno));
		free(lp);
		return rc;
	}
	if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
		hsm_rc rc = errno == EWOULDBLOCK
		    ? hsm_fail(HSM_ERR_LOCKED, "card file %s is in use by another hsmadm-vcard; "
		        "stop that one first (a card can be in one reader only)", path)
		    : hsm_fail(HSM_ERR_IO, "cannot lock %s: %s", lp, strerror(errno));
		close(lfd);
		free(lp);
		return rc;
	}
	free(lp);
	*fd = lfd;
	return HSM_OK;
}
