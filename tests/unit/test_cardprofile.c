/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_cardprofile.c - the encoding of hsmadm's card objects
 * (smartcard/cardprofile.c) without a card: the profile object 5FFF20 for
 * every role, with and without a backup-of and an installation id, at the
 * field limits; each field of a hand-built object malformed in turn (version,
 * role, holder with a NUL or a control character or too long, installation
 * id with a space, card ids of the wrong length, a card its own backup,
 * fields missing, reordered or added) refused with the profile left zeroed;
 * every single-byte change of an object either refused or decoded into a
 * profile that encodes back to exactly those bytes (one encoding per
 * profile); a buffer too small refused without a byte written past it; the
 * key-part envelope objects likewise; role names; the management key's
 * algorithm by key length. (test_piv.c has the basic round trips.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/bytes.h"
#include "hsmadm/cardprofile.h"

#define ID1 "00112233445566778899aabbccddeeff"
#define ID2 "0123456789abcdef0123456789abcdef"

static void
profile(cardprofile *p, card_role role, const char *holder, const char *inst,
        const char *backup)
{
	memset(p, 0, sizeof(*p));
	p->role = role;
	snprintf(p->holder, sizeof(p->holder), "%s", holder);
	snprintf(p->installation, sizeof(p->installation), "%s", inst);
	snprintf(p->card_id, sizeof(p->card_id), "%s", ID1);
	snprintf(p->backup_of, sizeof(p->backup_of), "%s", backup);
}

static void
assert_zeroed(const cardprofile *p)
{
	static const cardprofile zero;

	assert_memory_equal(p, &zero, sizeof(zero));
}

/* Encode, decode: the same profile; the bytes fit the card's 512. */
static void
round_trip(const cardprofile *a)
{
	uint8_t buf[512], again[512];
	size_t n = 0, m = 0;
	cardprofile b;

	assert_int_equal(cardprofile_encode(a, buf, sizeof(buf), &n), HSM_OK);
	assert_int_equal(buf[0], 0xE0);
	assert_int_equal(cardprofile_decode(buf, n, &b), HSM_OK);
	assert_int_equal(b.role, a->role);
	assert_string_equal(b.holder, a->holder);
	assert_string_equal(b.installation, a->installation);
	assert_string_equal(b.card_id, a->card_id);
	assert_string_equal(b.backup_of, a->backup_of);
	assert_int_equal(cardprofile_encode(&b, again, sizeof(again), &m), HSM_OK);
	assert_int_equal(m, n);
	assert_memory_equal(again, buf, n);
}

static void
test_profile_round_trips(void **state)
{
	char longest[4 * CARD_HOLDER_MAX + 1] = "", inst[CARD_INSTALL_MAX + 1];
	cardprofile p;
	int i;

	(void)state;
	for (i = CARD_ROLE_ADMIN; i <= CARD_ROLE_SUPERVISOR; i++) {
		profile(&p, (card_role)i, "Alice Example", "", "");
		round_trip(&p);
		profile(&p, (card_role)i, "A", "DC1", ID2);
		round_trip(&p);
	}
	/* 30 four-byte characters (U+1F512), 64 installation characters */
	for (i = 0; i < CARD_HOLDER_MAX; i++)
		strcat(longest, "\xF0\x9F\x94\x92");
	memset(inst, '~', CARD_INSTALL_MAX);
	inst[CARD_INSTALL_MAX] = '\0';
	profile(&p, CARD_ROLE_CUSTODIAN, longest, inst, ID2);
	round_trip(&p);
	profile(&p, CARD_ROLE_ADMIN, "Zo\xC3\xAB d'Arc-M\xC3\xBCller", "x", "");
	round_trip(&p);
}

/* A profile object built field by field, to malform one at a time. */
struct fields {
	uint8_t     ver, role;
	const char *holder;
	size_t      holder_len;     /* 0: strlen(holder) */
	const char *inst;
	size_t      id_len, bk_len;
	int         swap;           /* holder and installation in each other's place */
	int         extra;          /* a field 0x86 at the end */
	int         skip;           /* leave out field 0x80 + skip (-1: none) */
	int         own_backup;     /* backup-of the card's own id */
};

static size_t
build(const struct fields *f, uint8_t *out, size_t cap)
{
	uint8_t inner[600], id[CARD_ID_BYTES + 1], bk[CARD_ID_BYTES + 1];
	size_t in = 0, off = 0, hl = f->holder_len ? f->holder_len : strlen(f->holder);
	struct { uint32_t tag; const uint8_t *v; size_t n; } t[7] = {
		{ 0x80, &f->ver, 1 }, { 0x81, &f->role, 1 },
		{ 0x82, (const uint8_t *)f->holder, hl },
		{ 0x83, (const uint8_t *)f->inst, strlen(f->inst) },
		{ 0x84, id, f->id_len }, { 0x85, bk, f->bk_len }, { 0x86, id, 1 },
	};
	int i;

	memset(id, 0x11, sizeof(id));
	memset(bk, f->own_backup ? 0x11 : 0x22, sizeof(bk));
	if (f->swap) {
		t[2].tag = 0x83;
		t[3].tag = 0x82;
	}
	for (i = 0; i < (f->extra ? 7 : 6); i++)
		if (i != f->skip)
			assert_int_equal(tlv_put(inner, sizeof(inner), &in, t[i].tag, t[i].v, t[i].n),
			                 HSM_OK);
	assert_int_equal(tlv_put(out, cap, &off, 0xE0, inner, in), HSM_OK);
	return off;
}

static const struct fields good = { 1, 2, "Carol", 0, "DC1", CARD_ID_BYTES, 0, 0, 0, -1, 0 };

static hsm_rc
decode_fields(const struct fields *f)
{
	uint8_t buf[700];
	size_t n = build(f, buf, sizeof(buf));
	cardprofile p;
	hsm_rc rc;

	memset(&p, 0x5A, sizeof(p));
	rc = cardprofile_decode(buf, n, &p);
	if (rc != HSM_OK)
		assert_zeroed(&p);
	return rc;
}

static void
test_profile_fields_refused(void **state)
{
	char big[CARD_INSTALL_MAX + 2];
	struct fields f;
	int i;

	(void)state;
	assert_int_equal(decode_fields(&good), HSM_OK);
#define REFUSED(field, value) do { f = good; f.field = value;                         \
	if (decode_fields(&f) != HSM_ERR_FORMAT) fail_msg("accepted " #field " = " #value); \
	} while (0)
	REFUSED(ver, 0);
	REFUSED(ver, 2);
	REFUSED(role, 0);
	REFUSED(role, 4);
	REFUSED(holder, "");
	REFUSED(holder, " Carol");
	REFUSED(holder, "Car\x01ol");
	REFUSED(holder, "Car\xC2\x85ol");          /* C1 control NEL */
	REFUSED(holder, "Car\xED\xA0\x80ol");      /* a surrogate */
	REFUSED(inst, "DC 1");
	REFUSED(id_len, CARD_ID_BYTES - 1);
	REFUSED(id_len, CARD_ID_BYTES + 1);
	REFUSED(bk_len, 1);
	REFUSED(bk_len, CARD_ID_BYTES + 1);
	REFUSED(swap, 1);
	REFUSED(extra, 1);
	for (i = 0; i < 6; i++)
		REFUSED(skip, i);
	memset(big, 'i', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	REFUSED(inst, big);
#undef REFUSED
	/* 31 characters, and 121 bytes */
	f = good;
	f.holder = "1234567890123456789012345678901";
	assert_int_equal(decode_fields(&f), HSM_ERR_FORMAT);
	{
		char h[4 * CARD_HOLDER_MAX + 2];
		memset(h, 'h', sizeof(h) - 1);
		h[sizeof(h) - 1] = '\0';
		f.holder = h;
		assert_int_equal(decode_fields(&f), HSM_ERR_FORMAT);
	}
	/* a NUL inside the holder */
	f = good;
	f.holder = "Carol\0xy";
	f.holder_len = 7;
	assert_int_equal(decode_fields(&f), HSM_ERR_FORMAT);
	/* a backup of another card, and of itself */
	f = good;
	f.bk_len = CARD_ID_BYTES;
	assert_int_equal(decode_fields(&f), HSM_OK);
	f.own_backup = 1;
	assert_int_equal(decode_fields(&f), HSM_ERR_FORMAT);
}

/* Every single-byte change of the object: refused, or a profile whose
 * encoding is exactly the changed bytes. */
static void
test_profile_every_byte(void **state)
{
	uint8_t buf[512], mut[512], again[512];
	size_t n = 0, m, i;
	cardprofile p;
	int delta;

	(void)state;
	profile(&p, CARD_ROLE_SUPERVISOR, "Sam", "DC2", ID2);
	assert_int_equal(cardprofile_encode(&p, buf, sizeof(buf), &n), HSM_OK);
	for (i = 0; i < n; i++)
		for (delta = 1; delta < 256; delta += 37) {
			memcpy(mut, buf, n);
			mut[i] = (uint8_t)(mut[i] + delta);
			if (cardprofile_decode(mut, n, &p) != HSM_OK) {
				assert_zeroed(&p);
				continue;
			}
			m = 0;
			assert_int_equal(cardprofile_encode(&p, again, sizeof(again), &m), HSM_OK);
			if (m != n || memcmp(again, mut, n) != 0)
				fail_msg("byte %zu + %d decodes to a profile that encodes otherwise", i,
				         delta);
		}
}

static void
test_profile_encode_refused(void **state)
{
	uint8_t buf[512];
	size_t n = 0, need = 0, cap;
	cardprofile p;

	(void)state;
	profile(&p, CARD_ROLE_ADMIN, "Alice", "DC1", ID2);
	assert_int_equal(cardprofile_encode(&p, buf, sizeof(buf), &need), HSM_OK);
	for (cap = 0; cap < need; cap++) {
		memset(buf, 0xCC, sizeof(buf));
		n = 12345;
		assert_int_not_equal(cardprofile_encode(&p, buf, cap, &n), HSM_OK);
		assert_int_equal(n, 12345);
		for (size_t k = cap; k < sizeof(buf); k++)
			if (buf[k] != 0xCC)
				fail_msg("cap %zu: byte %zu written", cap, k);
	}
	profile(&p, CARD_ROLE_ADMIN, "Alice", "DC1", ID1);   /* its own backup */
	assert_int_equal(cardprofile_encode(&p, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	profile(&p, CARD_ROLE_NONE, "Alice", "DC1", "");
	assert_int_equal(cardprofile_encode(&p, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	profile(&p, CARD_ROLE_ADMIN, "Alice", "DC1", "");
	p.card_id[0] = 'A';
	assert_int_equal(cardprofile_encode(&p, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	profile(&p, CARD_ROLE_ADMIN, "Alice ", "DC1", "");
	assert_int_equal(cardprofile_encode(&p, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	assert_int_equal(cardprofile_decode(NULL, 0, &p), HSM_ERR_FORMAT);
	assert_zeroed(&p);
}

static void
test_envelopes(void **state)
{
	uint8_t blob[CARDENV_BLOB_MAX], buf[CARDENV_BLOB_MAX + 128], mut[sizeof(buf)];
	uint8_t again[sizeof(buf)];
	char id[CARDENV_ID_MAX + 1], id64[CARDENV_ID_MAX + 2];
	const uint8_t *b;
	size_t n = 0, bl, m, i;

	(void)state;
	for (i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 7);
	memset(id64, 'p', CARDENV_ID_MAX);
	id64[CARDENV_ID_MAX] = '\0';
	assert_int_equal(cardenv_encode(id64, blob, 1, buf, sizeof(buf), &n), HSM_OK);
	assert_int_equal(cardenv_decode(buf, n, id, &b, &bl), HSM_OK);
	assert_string_equal(id, id64);
	assert_int_equal(bl, 1);
	id64[CARDENV_ID_MAX] = 'p';
	id64[CARDENV_ID_MAX + 1] = '\0';
	assert_int_equal(cardenv_encode(id64, blob, 1, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	assert_int_equal(cardenv_encode(NULL, blob, 1, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	assert_int_equal(cardenv_encode("p\x7f", blob, 1, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	assert_int_not_equal(cardenv_encode("p", blob, 10, buf, 10, &n), HSM_OK);
	/* every single-byte change of a 40-byte envelope */
	assert_int_equal(cardenv_encode("part-7", blob, 40, buf, sizeof(buf), &n), HSM_OK);
	for (i = 0; i < n; i++) {
		memcpy(mut, buf, n);
		mut[i] ^= 0x41;
		if (cardenv_decode(mut, n, id, &b, &bl) != HSM_OK) {
			assert_string_equal(id, "");
			assert_null(b);
			assert_int_equal(bl, 0);
			continue;
		}
		assert_true(b >= mut && b + bl <= mut + n);   /* borrowed from the input */
		assert_int_equal(cardenv_encode(id, b, bl, again, sizeof(again), &m), HSM_OK);
		assert_int_equal(m, n);
		assert_memory_equal(again, mut, n);
	}
	/* an envelope is not a profile, nor the other way round */
	{
		cardprofile p;
		assert_int_equal(cardprofile_decode(buf, n, &p), HSM_ERR_FORMAT);
		profile(&p, CARD_ROLE_ADMIN, "A", "", "");
		assert_int_equal(cardprofile_encode(&p, mut, sizeof(mut), &m), HSM_OK);
		assert_int_equal(cardenv_decode(mut, m, id, &b, &bl), HSM_ERR_FORMAT);
	}
}

static void
test_roles_and_alg(void **state)
{
	card_role r = CARD_ROLE_NONE;
	int i;

	(void)state;
	for (i = CARD_ROLE_ADMIN; i <= CARD_ROLE_SUPERVISOR; i++) {
		assert_int_equal(card_role_parse(card_role_name((card_role)i), &r), HSM_OK);
		assert_int_equal(r, i);
	}
	assert_string_equal(card_role_name(CARD_ROLE_NONE), "none");
	assert_string_equal(card_role_name((card_role)4), "unknown");
	assert_string_equal(card_role_name((card_role)-1), "unknown");
	r = CARD_ROLE_ADMIN;
	assert_int_equal(card_role_parse("none", &r), HSM_ERR_USAGE);
	assert_int_equal(card_role_parse("Admin", &r), HSM_ERR_USAGE);
	assert_int_equal(card_role_parse("", &r), HSM_ERR_USAGE);
	assert_int_equal(card_role_parse(NULL, &r), HSM_ERR_USAGE);
	assert_int_equal(r, CARD_ROLE_ADMIN);
	assert_int_equal(cardmgmt_alg(24), PIV_ALG_3DES);
	assert_int_equal(cardmgmt_alg(16), PIV_ALG_AES128);
	assert_int_equal(cardmgmt_alg(32), PIV_ALG_AES256);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_round_trips),
		cmocka_unit_test(test_profile_fields_refused),
		cmocka_unit_test(test_profile_every_byte),
		cmocka_unit_test(test_profile_encode_refused),
		cmocka_unit_test(test_envelopes),
		cmocka_unit_test(test_roles_and_alg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
