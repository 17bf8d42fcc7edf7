/* SPDX-License-Identifier: BSD-2-Clause */
/* cardprofile.c - hsmadm's data objects on a PIV card (see cardprofile.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/cardprofile.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/bytes.h"

#define PROFILE_TAG  0xE0
#define ENVELOPE_TAG 0xE1
#define FORMAT_V1    0x01

static const char *const role_names[] = { "none", "admin", "custodian", "supervisor" };

const char *
card_role_name(card_role r)
{
	return (unsigned)r < 4 ? role_names[r] : "unknown";
}

hsm_rc
card_role_parse(const char *s, card_role *r)
{
	int i;

	for (i = 1; i < 4; i++)
		if (s != NULL && strcmp(s, role_names[i]) == 0) {
			*r = (card_role)i;
			return HSM_OK;
		}
	return hsm_fail(HSM_ERR_USAGE, "role must be admin, custodian or supervisor");
}

/* Valid UTF-8 without control characters; *chars gets the code points. */
static int
utf8_ok(const uint8_t *s, size_t n, size_t *chars)
{
	size_t i = 0, c = 0;

	while (i < n) {
		uint8_t b = s[i];
		size_t k, more;
		uint32_t cp;

		if (b < 0x20 || b == 0x7F)
			return 0;
		if (b < 0x80) {
			i++, c++;
			continue;
		}
		if ((b & 0xE0) == 0xC0)
			more = 1, cp = b & 0x1F;
		else if ((b & 0xF0) == 0xE0)
			more = 2, cp = b & 0x0F;
		else if ((b & 0xF8) == 0xF0)
			more = 3, cp = b & 0x07;
		else
			return 0;
		if (n - i <= more)
			return 0;
		for (k = 1; k <= more; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* No overlong forms, surrogates, C1 controls or values past U+10FFFF. */
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
		    (more == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp < 0xA0))
			return 0;
		i += more + 1;
		c++;
	}
	*chars = c;
	return 1;
}

hsm_rc
cardprofile_check_holder(const char *holder)
{
	size_t chars = 0, n = holder ? strlen(holder) : 0;

	if (n == 0 || !utf8_ok((const uint8_t *)holder, n, &chars) || chars > CARD_HOLDER_MAX ||
	    n > 4 * CARD_HOLDER_MAX || holder[0] == ' ' || holder[n - 1] == ' ')
		return hsm_fail(HSM_ERR_USAGE, "the holder name must be 1 to %d printable characters "
		    "(UTF-8), without leading or trailing spaces", CARD_HOLDER_MAX);
	return HSM_OK;
}

static int
printable_ascii(const char *s, size_t n, int allow_space)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < (allow_space ? 0x20 : 0x21) || s[i] > 0x7E)
			return 0;
	return 1;
}

hsm_rc
cardprofile_check_installation(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n > CARD_INSTALL_MAX || (n > 0 && !printable_ascii(id, n, 0)))
		return hsm_fail(HSM_ERR_USAGE, "the installation id must be at most %d printable "
		    "ASCII characters without spaces", CARD_INSTALL_MAX);
	return HSM_OK;
}

hsm_rc
cardprofile_check_card_id(const char *id)
{
	size_t i;

	if (id == NULL || strlen(id) != CARD_ID_HEX)
		goto bad;
	for (i = 0; i < CARD_ID_HEX; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			goto bad;
	return HSM_OK;
bad:
	return hsm_fail(HSM_ERR_USAGE, "a card id is %d lowercase hex digits (see "
	    "'hsmadm-card status')", CARD_ID_HEX);
}

hsm_rc
cardprofile_check(const cardprofile *p)
{
	hsm_rc rc;

	if (p->role < CARD_ROLE_ADMIN || p->role > CARD_ROLE_SUPERVISOR)
		return hsm_fail(HSM_ERR_USAGE, "role must be admin, custodian or supervisor");
	if ((rc = cardprofile_check_holder(p->holder)) != HSM_OK ||
	    (rc = cardprofile_check_installation(p->installation)) != HSM_OK ||
	    (rc = cardprofile_check_card_id(p->card_id)) != HSM_OK)
		return rc;
	if (p->backup_of[0] != '\0') {
		if ((rc = cardprofile_check_card_id(p->backup_of)) != HSM_OK)
			return hsm_fail_wrap(rc, "backup-of");
		if (strcmp(p->backup_of, p->card_id) == 0)
			return hsm_fail(HSM_ERR_USAGE, "a card cannot be its own backup");
	}
	return HSM_OK;
}

hsm_rc
cardprofile_encode(const cardprofile *p, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t id[CARD_ID_BYTES], bk[CARD_ID_BYTES], ver = FORMAT_V1, role;
	size_t hl, il, bl, inner, off = 0;
	hsm_rc rc;

	if ((rc = cardprofile_check(p)) != HSM_OK)
		return rc;
	role = (uint8_t)p->role;
	hl = strlen(p->holder);
	il = strlen(p->installation);
	bl = p->backup_of[0] ? CARD_ID_BYTES : 0;
	/* cardprofile_check() has checked both ids are lowercase hex. */
	if ((rc = hex_decode_into(p->card_id, id, CARD_ID_BYTES)) != HSM_OK ||
	    (bl && (rc = hex_decode_into(p->backup_of, bk, CARD_ID_BYTES)) != HSM_OK))
		return rc;
	inner = tlv_size(0x80, 1) + tlv_size(0x81, 1) + tlv_size(0x82, hl) + tlv_size(0x83, il) +
	    tlv_size(0x84, CARD_ID_BYTES) + tlv_size(0x85, bl);
	if ((rc = tlv_put_hdr(out, cap, &off, PROFILE_TAG, inner)) != HSM_OK ||
	    (rc = tlv_put(out, cap, &off, 0x80, &ver, 1)) != HSM_OK ||
	    (rc = tlv_put(out, cap, &off, 0x81, &role, 1)) != HSM_OK ||
	    (rc = tlv_put(out, cap, &off, 0x82, (const uint8_t *)p->holder, hl)) != HSM_OK ||
	    (rc = tlv_put(out, cap, &off, 0x83, (const uint8_t *)p->installation, il)) != HSM_OK ||
	    (rc = tlv_put(out, cap, &off, 0x84, id, CARD_ID_BYTES)) != HSM_OK ||
	    (rc = tlv_put(out, cap, &off, 0x85, bk, bl)) != HSM_OK)
		return rc;
	*len = off;
	return HSM_OK;
}

/* Copy a TLV value into a NUL-terminated string of at most max bytes. */
static hsm_rc
take_str(const tlv_item *it, char *dst, size_t max, const char *what)
{
	if (it->len > max)
		return hsm_fail(HSM_ERR_FORMAT, "card profile: %s too long", what);
	if (memchr(it->val, 0, it->len) != NULL)
		return hsm_fail(HSM_ERR_FORMAT, "card profile: %s holds a NUL byte", what);
	memcpy(dst, it->val, it->len);
	dst[it->len] = '\0';
	return HSM_OK;
}

hsm_rc
cardprofile_decode(const uint8_t *buf, size_t n, cardprofile *p)
{
	hsm_bytes c, in;
	tlv_item top, it;
	hsm_rc rc;

	memset(p, 0, sizeof(*p));
	bytes_init(&c, buf, n, "card profile");
	if ((rc = tlv_expect(&c, PROFILE_TAG, &top)) != HSM_OK)
		goto bad;
	if (!bytes_at_end(&c)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "trailing bytes after the profile");
		goto bad;
	}
	tlv_enter(&top, &in);
	if ((rc = tlv_expect(&in, 0x80, &it)) != HSM_OK)
		goto bad;
	if (it.len != 1 || it.val[0] != FORMAT_V1) {
		rc = hsm_fail(HSM_ERR_FORMAT, "unknown profile format version; is this hsmadm too old?");
		goto bad;
	}
	if ((rc = tlv_expect(&in, 0x81, &it)) != HSM_OK)
		goto bad;
	if (it.len != 1 || it.val[0] < CARD_ROLE_ADMIN || it.val[0] > CARD_ROLE_SUPERVISOR) {
		rc = hsm_fail(HSM_ERR_FORMAT, "unknown role");
		goto bad;
	}
	p->role = (card_role)it.val[0];
	if ((rc = tlv_expect(&in, 0x82, &it)) != HSM_OK ||
	    (rc = take_str(&it, p->holder, sizeof(p->holder) - 1, "holder")) != HSM_OK)
		goto bad;
	if ((rc = tlv_expect(&in, 0x83, &it)) != HSM_OK ||
	    (rc = take_str(&it, p->installation, CARD_INSTALL_MAX, "installation id")) != HSM_OK)
		goto bad;
	if ((rc = tlv_expect(&in, 0x84, &it)) != HSM_OK)
		goto bad;
	if (it.len != CARD_ID_BYTES) {
		rc = hsm_fail(HSM_ERR_FORMAT, "card id has %zu bytes", it.len);
		goto bad;
	}
	hex_encode_buf(it.val, CARD_ID_BYTES, p->card_id);
	if ((rc = tlv_expect(&in, 0x85, &it)) != HSM_OK)
		goto bad;
	if (it.len == CARD_ID_BYTES) {
		hex_encode_buf(it.val, CARD_ID_BYTES, p->backup_of);
	} else if (it.len != 0) {
		rc = hsm_fail(HSM_ERR_FORMAT, "backup-of has %zu bytes", it.len);
		goto bad;
	}
	if (!bytes_at_end(&in)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "unexpected fields");
		goto bad;
	}
	if ((rc = cardprofile_check(p)) != HSM_OK) {
		rc = hsm_fail_wrap(HSM_ERR_FORMAT, "invalid field");
		goto bad;
	}
	return HSM_OK;
bad:
	memset(p, 0, sizeof(*p));
	return hsm_fail_wrap(rc == HSM_OK ? HSM_ERR_FORMAT : rc,
	    "the card's hsmadm profile (object %06X) is damaged", CARDPROFILE_OBJ);
}

hsm_rc
cardprofile_read(piv *card, cardprofile *p)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	hsm_rc rc;

	memset(p, 0, sizeof(*p));
	rc = piv_get_data(card, CARDPROFILE_OBJ, &buf, &n);
	if (rc == HSM_ERR_NOT_FOUND)
		return hsm_fail(HSM_ERR_NOT_FOUND, "the card in \"%s\" is not initialized for hsmadm "
		    "(no profile); run 'hsmadm-card init'", piv_reader(card));
	if (rc != HSM_OK)
		return rc;
	rc = cardprofile_decode(buf, n, p);
	free(buf);
	return rc;
}

hsm_rc
cardprofile_write(piv *card, const cardprofile *p)
{
	uint8_t buf[512];
	size_t n = 0;
	hsm_rc rc;

	if ((rc = cardprofile_encode(p, buf, sizeof(buf), &n)) != HSM_OK)
		return rc;
	return piv_put_data(card, CARDPROFILE_OBJ, buf, n);
}

hsm_rc
cardprofile_erase(piv *card)
{
	return piv_put_data(card, CARDPROFILE_OBJ, NULL, 0);
}

static int
part_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n >= 1 && n <= CARDENV_ID_MAX && printable_ascii(id, n, 0);
}

hsm_rc
cardenv_encode(const char *part_id, const uint8_t *blob, size_t n,
               uint8_t *out, size_t cap, size_t *len)
{
	uint8_t ver = FORMAT_V1;
	size_t il, off = 0;
	hsm_rc rc;

	if (!part_id_ok(part_id))
		return hsm_fail(HSM_ERR_USAGE, "a part id is 1 to %d printable ASCII characters "
		    "without spaces", CARDENV_ID_MAX);
	if (n == 0 || n > CARDENV_BLOB_MAX)
		return hsm_fail(HSM_ERR_USAGE, "an envelope on a card holds 1 to %d bytes",
		    CARDENV_BLOB_MAX);
	il = strlen(part_id);
	if ((rc = tlv_put_hdr(out, cap, &off, ENVELOPE_TAG,
	    tlv_size(0x80, 1) + tlv_size(0x81, il) + tlv_size(0x82, n))) != HSM_OK ||
	    (rc = tlv_put(out, cap, &off, 0x80, &ver, 1)) != HSM_OK ||
	    (rc = tlv_put(out, cap, &off, 0x81, (const uint8_t *)part_id, il)) != HSM_OK ||
	    (rc = tlv_put(out, cap, &off, 0x82, blob, n)) != HSM_OK)
		return rc;
	*len = off;
	return HSM_OK;
}

hsm_rc
cardenv_decode(const uint8_t *buf, size_t n, char part_id[CARDENV_ID_MAX + 1],
               const uint8_t **blob, size_t *bloblen)
{
	hsm_bytes c, in;
	tlv_item top, it;
	hsm_rc rc;

	part_id[0] = '\0';
	*blob = NULL;
	*bloblen = 0;
	bytes_init(&c, buf, n, "key-part envelope object");
	if ((rc = tlv_expect(&c, ENVELOPE_TAG, &top)) != HSM_OK)
		goto bad;
	if (!bytes_at_end(&c)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "trailing bytes");
		goto bad;
	}
	tlv_enter(&top, &in);
	if ((rc = tlv_expect(&in, 0x80, &it)) != HSM_OK)
		goto bad;
	if (it.len != 1 || it.val[0] != FORMAT_V1) {
		rc = hsm_fail(HSM_ERR_FORMAT, "unknown format version");
		goto bad;
	}
	if ((rc = tlv_expect(&in, 0x81, &it)) != HSM_OK)
		goto bad;
	if (it.len < 1 || it.len > CARDENV_ID_MAX ||
	    !printable_ascii((const char *)it.val, it.len, 0)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "invalid part id");
		goto bad;
	}
	memcpy(part_id, it.val, it.len);
	part_id[it.len] = '\0';
	if ((rc = tlv_expect(&in, 0x82, &it)) != HSM_OK)
		goto bad;
	if (it.len < 1 || it.len > CARDENV_BLOB_MAX || !bytes_at_end(&in)) {
		rc = hsm_fail(HSM_ERR_FORMAT, "invalid envelope size or trailing fields");
		goto bad;
	}
	*blob = it.val;
	*bloblen = it.len;
	return HSM_OK;
bad:
	part_id[0] = '\0';
	return hsm_fail_wrap(rc, "a key-part envelope object on the card is damaged");
}

/* Walk the envelope objects. For each slot: *found set if it holds an
 * envelope for part_id (or, with part_id NULL, the first free slot index
 * in *free_slot). ids (may be NULL) collects every part id. */
struct scan {
	int      match;       /* slot index of part_id, -1 */
	int      free_slot;   /* first empty slot, -1 */
	uint8_t *obj;         /* contents of the matching object */
	size_t   objlen;
	char   **ids;
	size_t   nids;
};

static hsm_rc
scan_envelopes(piv *card, const char *part_id, int want_ids, struct scan *s)
{
	int i;
	hsm_rc rc = HSM_OK;

	memset(s, 0, sizeof(*s));
	s->match = -1;
	s->free_slot = -1;
	if (want_ids && (s->ids = calloc(CARDENV_SLOTS, sizeof(char *))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = piv_begin(card)) != HSM_OK)
		goto fail;
	for (i = 0; i < CARDENV_SLOTS; i++) {
		char id[CARDENV_ID_MAX + 1];
		const uint8_t *blob;
		uint8_t *buf = NULL;
		size_t n = 0, bl;

		rc = piv_get_data(card, CARDENV_OBJ_FIRST + (uint32_t)i, &buf, &n);
		if (rc == HSM_ERR_NOT_FOUND) {
			if (s->free_slot < 0)
				s->free_slot = i;
			rc = HSM_OK;
			hsm_err_clear();
			continue;
		}
		if (rc != HSM_OK)
			goto end;
		if ((rc = cardenv_decode(buf, n, id, &blob, &bl)) != HSM_OK) {
			free(buf);
			rc = hsm_fail_wrap(rc, "object %06X", CARDENV_OBJ_FIRST + (unsigned)i);
			goto end;
		}
		if (want_ids && (s->ids[s->nids++] = strdup(id)) == NULL) {
			free(buf);
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto end;
		}
		if (part_id != NULL && s->match < 0 && strcmp(id, part_id) == 0) {
			s->match = i;
			s->obj = buf;
			s->objlen = n;
		} else {
			free(buf);
		}
	}
end:
	piv_end(card);
	if (rc == HSM_OK)
		return HSM_OK;
fail:
	free(s->obj);
	cardenv_list_free(&s->ids, s->nids);
	return rc;
}

hsm_rc
cardenv_put(piv *card, const char *part_id, const uint8_t *blob, size_t n)
{
	uint8_t obj[CARDENV_BLOB_MAX + 128];
	size_t len = 0;
	struct scan s;
	hsm_rc rc;

	if ((rc = cardenv_encode(part_id, blob, n, obj, sizeof(obj), &len)) != HSM_OK)
		return rc;
	if ((rc = piv_begin(card)) != HSM_OK)
		return rc;
	if ((rc = scan_envelopes(card, part_id, 0, &s)) != HSM_OK)
		goto out;
	free(s.obj);
	if (s.match >= 0) {
		rc = hsm_fail(HSM_ERR_EXISTS, "the card already holds an envelope for part \"%s\"",
		    part_id);
		goto out;
	}
	if (s.free_slot < 0) {
		rc = hsm_fail(HSM_ERR_STATE, "the card holds %d envelopes, its maximum; delete one "
		    "or use another card", CARDENV_SLOTS);
		goto out;
	}
	rc = piv_put_data(card, CARDENV_OBJ_FIRST + (uint32_t)s.free_slot, obj, len);
out:
	piv_end(card);
	return rc;
}

hsm_rc
cardenv_get(piv *card, const char *part_id, uint8_t **blob, size_t *n)
{
	char id[CARDENV_ID_MAX + 1];
	const uint8_t *b;
	struct scan s;
	size_t bl;
	hsm_rc rc;

	*blob = NULL;
	*n = 0;
	if ((rc = scan_envelopes(card, part_id, 0, &s)) != HSM_OK)
		return rc;
	if (s.match < 0)
		return hsm_fail(HSM_ERR_NOT_FOUND, "the card holds no envelope for part \"%s\"",
		    part_id);
	if ((rc = cardenv_decode(s.obj, s.objlen, id, &b, &bl)) == HSM_OK) {
		if ((*blob = malloc(bl)) == NULL) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		} else {
			memcpy(*blob, b, bl);
			*n = bl;
		}
	}
	free(s.obj);
	return rc;
}

hsm_rc
cardenv_list(piv *card, char ***ids, size_t *n)
{
	struct scan s;
	hsm_rc rc;

	*ids = NULL;
	*n = 0;
	if ((rc = scan_envelopes(card, NULL, 1, &s)) != HSM_OK)
		return rc;
	*ids = s.ids;
	*n = s.nids;
	return HSM_OK;
}

void
cardenv_list_free(char ***ids, size_t n)
{
	size_t i;

	if (ids == NULL || *ids == NULL)
		return;
	for (i = 0; i < n; i++)
		free((*ids)[i]);
	free(*ids);
	*ids = NULL;
}

hsm_rc
cardenv_delete(piv *card, const char *part_id)
{
	struct scan s;
	hsm_rc rc;

	if ((rc = piv_begin(card)) != HSM_OK)
		return rc;
	if ((rc = scan_envelopes(card, part_id, 0, &s)) != HSM_OK)
		goto out;
	free(s.obj);
	if (s.match < 0) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "the card holds no envelope for part \"%s\"",
		    part_id);
		goto out;
	}
	rc = piv_put_data(card, CARDENV_OBJ_FIRST + (uint32_t)s.match, NULL, 0);
out:
	piv_end(card);
	return rc;
}

hsm_rc
cardenv_delete_all(piv *card)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int i;
	hsm_rc rc;

	if ((rc = piv_begin(card)) != HSM_OK)
		return rc;
	for (i = 0; i < CARDENV_SLOTS; i++) {
		rc = piv_get_data(card, CARDENV_OBJ_FIRST + (uint32_t)i, &buf, &n);
		free(buf);
		buf = NULL;
		if (rc == HSM_ERR_NOT_FOUND) {
			rc = HSM_OK;
			continue;
		}
		if (rc != HSM_OK)
			break;
		if ((rc = piv_put_data(card, CARDENV_OBJ_FIRST + (uint32_t)i, NULL, 0)) != HSM_OK)
			break;
	}
	piv_end(card);
	return rc;
}

uint8_t
cardmgmt_alg(size_t keylen)
{
	return keylen == 16 ? PIV_ALG_AES128 : keylen == 32 ? PIV_ALG_AES256 : PIV_ALG_3DES;
}

/* The PIN-protected management key in 5FC109 (88 { 89 key }), if any. */
static hsm_rc
stored_key(piv *card, hsm_secbuf **key)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	hsm_bytes c, in;
	tlv_item it;
	hsm_rc rc;

	*key = NULL;
	if ((rc = piv_get_data(card, CARDMGMT_OBJ_PRINTED, &buf, &n)) != HSM_OK)
		return rc;
	bytes_init(&c, buf, n, "card data");
	if ((rc = tlv_find(&c, 0x88, &it)) != HSM_OK)
		goto out;
	tlv_enter(&it, &in);
	if ((rc = tlv_find(&in, 0x89, &it)) != HSM_OK)
		goto out;
	if (it.len != 16 && it.len != 24 && it.len != 32) {
		rc = hsm_fail(HSM_ERR_FORMAT, "the stored management key has %zu bytes", it.len);
		goto out;
	}
	rc = secbuf_from(it.val, it.len, key);
out:
	if (rc == HSM_ERR_NOT_FOUND)
		hsm_fail(rc, "no PIN-protected management key on the card");
	if (buf != NULL)
		secure_wipe(buf, n);
	free(buf);
	return rc;
}

hsm_rc
cardmgmt_auth(piv *card, const hsm_secbuf *pin, const hsm_secbuf *key, int allow_default)
{
	static const uint8_t def[24] = {
		1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8
	};
	hsm_secbuf *k = NULL;
	hsm_rc rc;

	if ((rc = piv_begin(card)) != HSM_OK)
		return rc;
	if (key != NULL) {
		rc = piv_mgmt_auth(card, cardmgmt_alg(key->len), key, allow_default);
		goto out;
	}
	if (pin != NULL) {
		if ((rc = piv_verify_pin(card, pin)) != HSM_OK)
			goto out;
		rc = stored_key(card, &k);
		if (rc == HSM_OK) {
			rc = piv_mgmt_auth(card, cardmgmt_alg(k->len), k, allow_default);
			goto out;
		}
		if (rc != HSM_ERR_NOT_FOUND)
			goto out;
	}
	if (!allow_default) {
		rc = hsm_fail(HSM_ERR_AUTH, "the card has no PIN-protected management key; give the "
		    "management key (--mgmt-key-fd), or --allow-default-mgmt-key for a test card "
		    "that still has the default one");
		goto out;
	}
	if ((rc = secbuf_from(def, sizeof(def), &k)) != HSM_OK)
		goto out;
	rc = piv_mgmt_auth(card, PIV_ALG_3DES, k, allow_default);
out:
	secbuf_free(&k);
	piv_end(card);
	return rc;
}

hsm_rc
cardmgmt_store(piv *card, const hsm_secbuf *key)
{
	static const uint8_t admin[] = { 0x80, 0x03, 0x81, 0x01, 0x02 };
	hsm_secbuf *obj = NULL;
	size_t off = 0;
	hsm_rc rc;

	if (key == NULL || (key->len != 16 && key->len != 24 && key->len != 32))
		return hsm_fail(HSM_ERR_USAGE, "management key of a wrong size");
	if ((rc = secbuf_new(64, &obj)) != HSM_OK)
		return rc;
	if ((rc = tlv_put_hdr(obj->data, obj->cap, &off, 0x88, tlv_size(0x89, key->len))) != HSM_OK ||
	    (rc = tlv_put(obj->data, obj->cap, &off, 0x89, key->data, key->len)) != HSM_OK)
		goto out;
	obj->len = off;
	if ((rc = piv_begin(card)) != HSM_OK)
		goto out;
	if ((rc = piv_put_data(card, CARDMGMT_OBJ_PRINTED, obj->data, obj->len)) == HSM_OK)
		rc = piv_put_data(card, CARDMGMT_OBJ_ADMIN, admin, sizeof(admin));
	piv_end(card);
out:
	secbuf_free(&obj);
	return rc;
}
