/* SPDX-License-Identifier: BSD-2-Clause */
/* test_piv.c - the card-free parts of the smart-card library: status words
 * to errors, PC/SC codes to errors, PIN and key input checks, the profile
 * and envelope object formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <winscard.h>

#include "hsmadm/cardprofile.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"
#include "hsmadm/secbuf.h"

static hsm_secbuf *
sb(const char *s)
{
	hsm_secbuf *b = NULL;

	assert_int_equal(secbuf_from(s, strlen(s), &b), HSM_OK);
	return b;
}

static void
test_sw_pin(void **st)
{
	(void)st;
	assert_int_equal(piv_sw_rc(0x9000, "x", PIV_REF_PIN), HSM_OK);
	assert_int_equal(piv_sw_rc(0x63C2, "verifying the PIN", PIV_REF_PIN), HSM_ERR_PIN_WRONG);
	assert_non_null(strstr(hsm_errmsg(), "wrong PIN: 2 tries left"));
	assert_int_equal(piv_sw_rc(0x63C1, "x", PIV_REF_PIN), HSM_ERR_PIN_WRONG);
	assert_non_null(strstr(hsm_errmsg(), "wrong PIN: 1 try left"));
	assert_int_equal(piv_sw_rc(0x63C1, "x", PIV_REF_PUK), HSM_ERR_PIN_WRONG);
	assert_non_null(strstr(hsm_errmsg(), "wrong PUK: 1 try left"));
	assert_int_equal(piv_sw_rc(0x63C0, "x", PIV_REF_PIN), HSM_ERR_PIN_BLOCKED);
	assert_int_equal(piv_sw_rc(0x6983, "x", PIV_REF_PIN), HSM_ERR_PIN_BLOCKED);
	assert_non_null(strstr(hsm_errmsg(), "unblock it with the PUK"));
	assert_int_equal(piv_sw_rc(0x6983, "x", PIV_REF_PUK), HSM_ERR_PIN_BLOCKED);
	assert_non_null(strstr(hsm_errmsg(), "PUK is blocked"));
}

static void
test_sw_other(void **st)
{
	(void)st;
	assert_int_equal(piv_sw_rc(0x6982, "signing", 0), HSM_ERR_AUTH);
	assert_non_null(strstr(hsm_errmsg(), "security status not satisfied"));
	assert_int_equal(piv_sw_rc(0x6A82, "reading", 0), HSM_ERR_NOT_FOUND);
	assert_int_equal(piv_sw_rc(0x6A88, "x", 0), HSM_ERR_NOT_FOUND);
	assert_int_equal(piv_sw_rc(0x6A80, "x", 0), HSM_ERR_CARD);
	assert_int_equal(piv_sw_rc(0x6A84, "x", 0), HSM_ERR_CARD);
	assert_int_equal(piv_sw_rc(0x6985, "x", 0), HSM_ERR_STATE);
	assert_int_equal(piv_sw_rc(0x6D00, "x", 0), HSM_ERR_CARD);
	assert_non_null(strstr(hsm_errmsg(), "6D00"));
	assert_int_equal(piv_sw_rc(0x6B00, "x", 0), HSM_ERR_CARD);
	assert_int_equal(piv_sw_rc(0x6F00, "x", 0), HSM_ERR_CARD);
	assert_non_null(strstr(hsm_errmsg(), "6F00"));
	/* 63Cx without a PIN reference is not a PIN message */
	assert_int_equal(piv_sw_rc(0x63C2, "x", 0), HSM_ERR_CARD);
}

static void
test_pcsc_codes(void **st)
{
	(void)st;
	assert_int_equal(pcsc_rc(SCARD_S_SUCCESS, "x", "r"), HSM_OK);
	assert_int_equal(pcsc_rc(SCARD_W_REMOVED_CARD, "signing", "Reader A"), HSM_ERR_CARD_REMOVED);
	assert_non_null(strstr(hsm_errmsg(), "Reader A"));
	assert_int_equal(pcsc_rc(SCARD_E_NO_SMARTCARD, "x", "r"), HSM_ERR_CARD_REMOVED);
	assert_int_equal(pcsc_rc(SCARD_W_RESET_CARD, "x", "r"), HSM_ERR_CARD_REMOVED);
	assert_int_equal(pcsc_rc(SCARD_E_READER_UNAVAILABLE, "x", "r"), HSM_ERR_CARD_REMOVED);
	assert_int_equal(pcsc_rc(SCARD_E_NO_SERVICE, "x", NULL), HSM_ERR_PCSC);
	assert_non_null(strstr(hsm_errmsg(), "pcscd"));
	assert_int_equal(pcsc_rc(SCARD_E_NO_READERS_AVAILABLE, "x", NULL), HSM_ERR_PCSC);
	assert_int_equal(pcsc_rc(SCARD_E_TIMEOUT, "x", NULL), HSM_ERR_TIMEOUT);
	assert_int_equal(pcsc_rc(SCARD_E_SHARING_VIOLATION, "x", "r"), HSM_ERR_LOCKED);
	assert_int_equal(pcsc_rc(SCARD_E_UNKNOWN_READER, "x", "r"), HSM_ERR_NOT_FOUND);
	assert_int_equal(pcsc_rc(SCARD_F_INTERNAL_ERROR, "x", NULL), HSM_ERR_PCSC);
}

static void
test_pin_check(void **st)
{
	const char *bad[] = { "", "12345", "123456789", ("12 4\x01" "56") };
	hsm_secbuf *b;
	size_t i;

	(void)st;
	b = sb("123456");
	assert_int_equal(piv_pin_check(b, PIV_REF_PIN), HSM_OK);
	secbuf_free(&b);
	b = sb("abcdefgh");
	assert_int_equal(piv_pin_check(b, PIV_REF_PUK), HSM_OK);
	secbuf_free(&b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = sb(bad[i]);
		assert_int_equal(piv_pin_check(b, PIV_REF_PIN), HSM_ERR_USAGE);
		secbuf_free(&b);
	}
	assert_int_equal(piv_pin_check(NULL, PIV_REF_PIN), HSM_ERR_USAGE);
}

static void
test_mgmt_key_parse(void **st)
{
	hsm_secbuf *hex, *key = NULL;

	(void)st;
	hex = sb("010203040506070801020304050607080102030405060708");
	assert_int_equal(piv_mgmt_key_parse(hex, &key), HSM_OK);
	assert_int_equal(key->len, 24);
	assert_true(piv_mgmt_key_is_default(key));
	assert_int_equal(cardmgmt_alg(key->len), PIV_ALG_3DES);
	secbuf_free(&key);
	secbuf_free(&hex);
	hex = sb("00112233445566778899AABBCCDDEEFF");
	assert_int_equal(piv_mgmt_key_parse(hex, &key), HSM_OK);
	assert_int_equal(key->len, 16);
	assert_false(piv_mgmt_key_is_default(key));
	assert_int_equal(cardmgmt_alg(key->len), PIV_ALG_AES128);
	secbuf_free(&key);
	secbuf_free(&hex);
	hex = sb("0011223344556677889");
	assert_int_equal(piv_mgmt_key_parse(hex, &key), HSM_ERR_USAGE);
	assert_null(key);
	secbuf_free(&hex);
	hex = sb("0011223344556677889900112233445g");
	assert_int_equal(piv_mgmt_key_parse(hex, &key), HSM_ERR_USAGE);
	secbuf_free(&hex);
}

static void
sample(cardprofile *p)
{
	memset(p, 0, sizeof(*p));
	p->role = CARD_ROLE_CUSTODIAN;
	strcpy(p->holder, "Zoë Example");
	strcpy(p->installation, "DC1-lab");
	strcpy(p->card_id, "00112233445566778899aabbccddeeff");
	strcpy(p->backup_of, "ffeeddccbbaa99887766554433221100");
}

static void
same_profile(const cardprofile *a, const cardprofile *b)
{
	assert_int_equal(a->role, b->role);
	assert_string_equal(a->holder, b->holder);
	assert_string_equal(a->installation, b->installation);
	assert_string_equal(a->card_id, b->card_id);
	assert_string_equal(a->backup_of, b->backup_of);
}

static void
test_profile_roundtrip(void **st)
{
	cardprofile a, b;
	uint8_t buf[512];
	size_t n = 0;

	(void)st;
	sample(&a);
	assert_int_equal(cardprofile_encode(&a, buf, sizeof(buf), &n), HSM_OK);
	assert_int_equal(cardprofile_decode(buf, n, &b), HSM_OK);
	same_profile(&a, &b);
	/* no backup, no installation */
	a.backup_of[0] = '\0';
	a.installation[0] = '\0';
	a.role = CARD_ROLE_ADMIN;
	assert_int_equal(cardprofile_encode(&a, buf, sizeof(buf), &n), HSM_OK);
	assert_int_equal(cardprofile_decode(buf, n, &b), HSM_OK);
	same_profile(&a, &b);
	/* every truncation and a trailing byte are refused */
	{
		size_t cut;
		for (cut = 0; cut < n; cut++)
			assert_int_equal(cardprofile_decode(buf, cut, &b), HSM_ERR_FORMAT);
		buf[n] = 0;
		assert_int_equal(cardprofile_decode(buf, n + 1, &b), HSM_ERR_FORMAT);
	}
	/* an unknown role byte is refused */
	sample(&a);
	assert_int_equal(cardprofile_encode(&a, buf, sizeof(buf), &n), HSM_OK);
	buf[7] = 9;   /* E0 LL 80 01 01 81 01 <role> */
	assert_int_equal(cardprofile_decode(buf, n, &b), HSM_ERR_FORMAT);
}

static void
test_profile_checks(void **st)
{
	cardprofile a;
	uint8_t buf[512];
	size_t n = 0;

	(void)st;
	assert_int_equal(cardprofile_check_holder("Alice Example"), HSM_OK);
	assert_int_equal(cardprofile_check_holder("ÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅ"), HSM_OK);
	assert_int_equal(cardprofile_check_holder("ÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅÅ"), HSM_ERR_USAGE);
	assert_int_equal(cardprofile_check_holder(""), HSM_ERR_USAGE);
	assert_int_equal(cardprofile_check_holder(" Alice"), HSM_ERR_USAGE);
	assert_int_equal(cardprofile_check_holder("Al\tice"), HSM_ERR_USAGE);
	assert_int_equal(cardprofile_check_holder("\xC3\x28"), HSM_ERR_USAGE);   /* bad UTF-8 */
	assert_int_equal(cardprofile_check_holder("\xC0\xAF"), HSM_ERR_USAGE);   /* overlong */
	assert_int_equal(cardprofile_check_installation("DC1"), HSM_OK);
	assert_int_equal(cardprofile_check_installation("DC 1"), HSM_ERR_USAGE);
	assert_int_equal(cardprofile_check_card_id("00112233445566778899aabbccddeeff"), HSM_OK);
	assert_int_equal(cardprofile_check_card_id("00112233445566778899AABBCCDDEEFF"),
	    HSM_ERR_USAGE);
	assert_int_equal(cardprofile_check_card_id("0011"), HSM_ERR_USAGE);
	sample(&a);
	strcpy(a.backup_of, a.card_id);
	assert_int_equal(cardprofile_encode(&a, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	sample(&a);
	a.role = CARD_ROLE_NONE;
	assert_int_equal(cardprofile_encode(&a, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	{
		card_role r;
		assert_int_equal(card_role_parse("custodian", &r), HSM_OK);
		assert_int_equal(r, CARD_ROLE_CUSTODIAN);
		assert_string_equal(card_role_name(r), "custodian");
		assert_int_equal(card_role_parse("root", &r), HSM_ERR_USAGE);
	}
}

static void
test_envelope_object(void **st)
{
	uint8_t blob[CARDENV_BLOB_MAX + 1], buf[CARDENV_BLOB_MAX + 128];
	char id[CARDENV_ID_MAX + 1];
	const uint8_t *b;
	size_t n = 0, bl, cut;

	(void)st;
	memset(blob, 0x42, sizeof(blob));
	assert_int_equal(cardenv_encode("part-1", blob, 324, buf, sizeof(buf), &n), HSM_OK);
	assert_int_equal(cardenv_decode(buf, n, id, &b, &bl), HSM_OK);
	assert_string_equal(id, "part-1");
	assert_int_equal(bl, 324);
	assert_memory_equal(b, blob, 324);
	for (cut = 0; cut < n; cut++)
		assert_int_equal(cardenv_decode(buf, cut, id, &b, &bl), HSM_ERR_FORMAT);
	assert_int_equal(cardenv_encode("part 1", blob, 10, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	assert_int_equal(cardenv_encode("", blob, 10, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	assert_int_equal(cardenv_encode("p", blob, 0, buf, sizeof(buf), &n), HSM_ERR_USAGE);
	assert_int_equal(cardenv_encode("p", blob, CARDENV_BLOB_MAX + 1, buf, sizeof(buf), &n),
	    HSM_ERR_USAGE);
	assert_int_equal(cardenv_encode("p", blob, CARDENV_BLOB_MAX, buf, sizeof(buf), &n), HSM_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sw_pin),
		cmocka_unit_test(test_sw_other),
		cmocka_unit_test(test_pcsc_codes),
		cmocka_unit_test(test_pin_check),
		cmocka_unit_test(test_mgmt_key_parse),
		cmocka_unit_test(test_profile_roundtrip),
		cmocka_unit_test(test_profile_checks),
		cmocka_unit_test(test_envelope_object),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
