/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_tlv - the checked TLV reader and every parser of card data built on
 * it. First input byte even: the bytes are one object (TLV walk, profile,
 * envelope). Odd: the rest is a scripted card: PC/SC is replaced below by a
 * fake whose SCardTransmit answers each command with the next response from
 * the input (2-byte length + bytes, ending in a status word), and a PIV
 * driver operation (or the card-finding decision) chosen by the second
 * byte runs against it, so the transport (61xx, 6Cxx, chaining) and every
 * response parser see hostile answers. Input exhausted = card removed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <winscard.h>

#include "hsmadm/cardadm.h"
#include "hsmadm/cardfind.h"
#include "hsmadm/cardprofile.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"
#include "hsmadm/bytes.h"

/* ---------------------------------------------------- fake PC/SC (scripted) */
static const uint8_t *fz_p;
static size_t fz_n;

LONG SCardEstablishContext(DWORD s, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT c)
{ (void)s; (void)r1; (void)r2; *c = 1; return SCARD_S_SUCCESS; }
LONG SCardReleaseContext(SCARDCONTEXT c) { (void)c; return SCARD_S_SUCCESS; }
LONG SCardConnect(SCARDCONTEXT c, LPCSTR r, DWORD m, DWORD pp, LPSCARDHANDLE h, LPDWORD ap)
{ (void)c; (void)r; (void)m; (void)pp; *h = 1; *ap = SCARD_PROTOCOL_T1; return SCARD_S_SUCCESS; }
LONG SCardReconnect(SCARDHANDLE h, DWORD m, DWORD pp, DWORD i, LPDWORD ap)
{ (void)h; (void)m; (void)pp; (void)i; *ap = SCARD_PROTOCOL_T1; return SCARD_S_SUCCESS; }
LONG SCardDisconnect(SCARDHANDLE h, DWORD d) { (void)h; (void)d; return SCARD_S_SUCCESS; }
LONG SCardBeginTransaction(SCARDHANDLE h) { (void)h; return SCARD_S_SUCCESS; }
LONG SCardEndTransaction(SCARDHANDLE h, DWORD d) { (void)h; (void)d; return SCARD_S_SUCCESS; }
LONG SCardStatus(SCARDHANDLE h, LPSTR n, LPDWORD nl, LPDWORD st, LPDWORD pr, LPBYTE atr, LPDWORD al)
{ (void)h; (void)n; (void)nl; (void)st; (void)pr; (void)atr; *al = 0; return SCARD_S_SUCCESS; }
LONG SCardTransmit(SCARDHANDLE h, const SCARD_IO_REQUEST *sp, LPCBYTE cmd, DWORD cl,
                   SCARD_IO_REQUEST *rp, LPBYTE rb, LPDWORD rl)
{
	size_t n;

	(void)h; (void)sp; (void)cmd; (void)cl; (void)rp;
	if (fz_n < 2)
		return SCARD_W_REMOVED_CARD;
	n = ((size_t)fz_p[0] << 8 | fz_p[1]) % 300;
	fz_p += 2, fz_n -= 2;
	if (n > fz_n)
		n = fz_n;
	if (n > *rl)
		return SCARD_E_INSUFFICIENT_BUFFER;
	memcpy(rb, fz_p, n);
	*rl = (DWORD)n;
	fz_p += n, fz_n -= n;
	return SCARD_S_SUCCESS;
}

static void
run_card(uint8_t op)
{
	static const uint8_t key24[24] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	    0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xF0, 0x01, 2, 3, 4, 5, 6, 7, 8, 9 };
	pcsc_ctx *ctx = NULL;
	piv *p = NULL;
	hsm_secbuf *k = NULL, *sh = NULL;
	uint8_t *buf = NULL, dg[48] = { 1 }, ver[3];
	size_t n = 0;
	uint32_t serial;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	int tries, verified;

	if (pcsc_open(&ctx) != HSM_OK)
		return;
	if (piv_connect(ctx, "fuzz reader", &p) != HSM_OK)
		goto out;
	switch (op % 12) {
	case 0: (void)piv_tries(p, PIV_REF_PIN, &tries, &verified); break;
	case 1: { cardprofile pr; (void)cardprofile_read(p, &pr); } break;
	case 2: if (piv_read_cert(p, PIV_SLOT_SIGN, &x) == HSM_OK) X509_free(x); break;
	case 3:
		if (secbuf_from(key24, sizeof(key24), &k) == HSM_OK)
			(void)piv_mgmt_auth(p, PIV_ALG_3DES, k, 0);
		break;
	case 4: if (piv_generate(p, PIV_SLOT_SIGN, HSM_CURVE_P384, 3, 1, &pub) == HSM_OK)
			EVP_PKEY_free(pub);
		break;
	case 5: if (piv_sign(p, PIV_SLOT_SIGN, HSM_CURVE_P384, dg, 48, &buf, &n) == HSM_OK)
			free(buf);
		break;
	case 6:
		if (crypto_ec_generate(HSM_CURVE_P256, &pub) == HSM_OK) {
			(void)piv_ecdh(p, PIV_SLOT_KM, HSM_CURVE_P256, pub, &sh);
			secbuf_free(&sh);
			EVP_PKEY_free(pub);
		}
		break;
	case 7: { char **ids = NULL; size_t ni = 0;
		if (cardenv_list(p, &ids, &ni) == HSM_OK) cardenv_list_free(&ids, ni); } break;
	case 8: (void)piv_get_version(p, ver); (void)piv_get_serial(p, &serial); break;
	case 9: { card_status st; (void)card_status_read(p, &st); } break;
	case 10: {
		/* the decision whether a card is the wanted one, on hostile answers */
		static const char *const ex[] = { "00112233445566778899aabbccddeeff" };
		cardfind_want w = { .role = CARD_ROLE_CUSTODIAN, .holder = "Carol",
		    .identity = "00112233445566778899aabbccddeeff", .exclude = ex, .nexclude = 1,
		    .holds_part = "part-1" };
		cardprofile pr;
		(void)cardfind_check(p, &w, &pr);
	} break;
	default: if (piv_get_data(p, 0x5FC102, &buf, &n) == HSM_OK) free(buf); break;
	}
out:
	secbuf_free(&k);
	piv_free(&p);
	pcsc_close(&ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(hsm_bytes *c, int depth)
{
	tlv_item it;

	while (!bytes_at_end(c)) {
		if (tlv_next(c, &it) != HSM_OK)
			return;
		/* constructed tags: bit 6 of the first tag byte */
		if (depth < 8) {
			uint32_t first = it.tag > 0xFFFF ? it.tag >> 16 : it.tag > 0xFF ? it.tag >> 8 : it.tag;
			if (first & 0x20) {
				hsm_bytes in;
				tlv_enter(&it, &in);
				walk(&in, depth + 1);
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cardprofile p;
	char id[CARDENV_ID_MAX + 1];
	const uint8_t *blob;
	size_t bl;
	hsm_bytes c;
	tlv_item it;
	uint32_t v;

	if (size >= 2 && (data[0] & 1)) {
		fz_p = data + 2;
		fz_n = size - 2;
		run_card(data[1]);
		return 0;
	}
	bytes_init(&c, data, size, "card data");
	walk(&c, 0);
	bytes_init(&c, data, size, "card data");
	(void)tlv_find(&c, 0x53, &it);
	(void)tlv_expect(&c, 0x7C, &it);
	(void)bytes_get_be32(&c, &v);
	if (cardprofile_decode(data, size, &p) == HSM_OK) {
		uint8_t out[512];
		size_t n = 0;
		cardprofile q;
		/* what decodes must encode, and decode again to the same profile
		 * (the bytes may differ: non-minimal lengths are accepted) */
		if (cardprofile_encode(&p, out, sizeof(out), &n) != HSM_OK ||
		    cardprofile_decode(out, n, &q) != HSM_OK || memcmp(&p, &q, sizeof(p)) != 0)
			__builtin_trap();
	}
	if (cardenv_decode(data, size, id, &blob, &bl) == HSM_OK &&
	    (blob < data || blob + bl > data + size))
		__builtin_trap();
	return 0;
}
