/* SPDX-License-Identifier: BSD-2-Clause */
/* test_piv_card.c - key-part envelopes on a real (virtual) custodian card
 * through pcscd: cardenv put/get/list/delete, the 20-object limit, the
 * PIN-protected management key, and envelope_open() with the card's 9D key.
 * Run by tests/integration/card_env.sh with the reader name as argv[1] and
 * the card's PIN on fd 3; argv[2] "junk" instead replaces one envelope by a
 * damaged one. Not a ctest of its own: it needs the harness. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/cardprofile.h"
#include "hsmadm/cardsigner.h"
#include "hsmadm/envelope.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"
#include "hsmadm/vp.h"

static int failures;

#define CHECK(cond, what) do { \
	if (cond) { printf("ok: %s\n", what); } \
	else { printf("FAIL: %s (%s) [%s]\n", what, #cond, hsm_errmsg()); failures++; } \
} while (0)

/* A pipe holding the PIN n times, as a card signer reads it. */
static int
pin_pipe(const hsm_secbuf *pin, int n)
{
	int p[2], i;

	if (pipe(p) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (write(p[1], pin->data, pin->len) != (ssize_t)pin->len || write(p[1], "\n", 1) != 1)
			return -1;
	}
	close(p[1]);
	return p[0];
}

static hsm_rc
seal_part(piv *card, const char *card_id, const char *part_id, hsm_secbuf **part,
          uint8_t **blob, size_t *n)
{
	uint8_t kpvp[HSM_VP_LEN];
	EVP_PKEY *pub = NULL;
	hsm_rc rc;

	if ((rc = secbuf_new(HSM_KEY_LEN, part)) != HSM_OK)
		return rc;
	(*part)->len = HSM_KEY_LEN;
	if ((rc = crypto_random((*part)->data, HSM_KEY_LEN)) != HSM_OK ||
	    (rc = vp_compute((*part)->data, kpvp)) != HSM_OK ||
	    (rc = cardsigner_slot_pub(card, PIV_SLOT_KM, &pub)) != HSM_OK)
		return rc;
	rc = envelope_seal(*part, pub, card_id, part_id, kpvp, blob, n);
	EVP_PKEY_free(pub);
	return rc;
}

int
main(int argc, char **argv)
{
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	hsm_secbuf *pin = NULL, *part = NULL, *opened = NULL;
	hsm_keyagree *ka = NULL;
	cardprofile prof;
	uint8_t *blob = NULL, *back = NULL;
	size_t n = 0, bn = 0, nids = 0;
	char **ids = NULL, id[32];
	int i, fd;

	if (argc < 2)
		return 2;
	if (secure_init() != HSM_OK || secure_read_line(NULL, 3, PIV_PIN_MAX, &pin) != HSM_OK ||
	    pcsc_open(&ctx) != HSM_OK || piv_connect(ctx, argv[1], &card) != HSM_OK) {
		printf("FAIL: setup: %s\n", hsm_errmsg());
		return 1;
	}
	CHECK(cardprofile_read(card, &prof) == HSM_OK && prof.role == CARD_ROLE_CUSTODIAN,
	    "custodian profile");
	if (argc > 2 && strcmp(argv[2], "junk") == 0) {
		static const uint8_t junk[] = "HKPE this is not an envelope";
		CHECK(cardmgmt_auth(card, pin, NULL, 0) == HSM_OK, "PIN-protected management key");
		CHECK(cardenv_delete(card, "part-5") == HSM_OK, "delete part-5");
		CHECK(cardenv_put(card, "part-5", junk, sizeof(junk)) == HSM_OK, "junk as part-5");
		goto out;
	}

	CHECK(cardenv_put(card, "p0", (const uint8_t *)"x", 1) == HSM_ERR_AUTH,
	    "writing without the management key is refused");
	CHECK(cardmgmt_auth(card, pin, NULL, 0) == HSM_OK, "PIN-protected management key");
	CHECK(cardenv_list(card, &ids, &nids) == HSM_OK && nids == 0, "no envelopes yet");
	cardenv_list_free(&ids, nids);
	CHECK(seal_part(card, prof.card_id, "part-1", &part, &blob, &n) == HSM_OK, "seal part-1");
	CHECK(cardenv_put(card, "part-1", blob, n) == HSM_OK, "put part-1");
	CHECK(cardenv_put(card, "part-1", blob, n) == HSM_ERR_EXISTS, "put part-1 twice refused");
	CHECK(cardenv_get(card, "part-1", &back, &bn) == HSM_OK && bn == n &&
	    memcmp(back, blob, n) == 0, "get part-1 returns the same bytes");
	free(back);
	back = NULL;
	CHECK(cardenv_get(card, "nope", &back, &bn) == HSM_ERR_NOT_FOUND, "get unknown part");

	/* Open it with the card: ECDH on the card, PIN asked (from a pipe). */
	fd = pin_pipe(pin, 1);
	CHECK(cardkeyagree_new(card, fd, "test custodian", &ka) == HSM_OK, "card keyagree");
	CHECK(envelope_open(blob, n, ka, prof.card_id, "part-1", &opened, NULL) == HSM_OK &&
	    opened->len == HSM_KEY_LEN && memcmp(opened->data, part->data, HSM_KEY_LEN) == 0,
	    "envelope opened by the card gives the part back");
	keyagree_free(&ka);
	close(fd);
	secbuf_free(&opened);
	secbuf_free(&part);

	/* A wrong PIN on the pipe: the card says so, nothing opens. */
	{
		hsm_secbuf *bad = NULL;
		secbuf_from("00000000", 8, &bad);
		fd = pin_pipe(bad, 1);
		secbuf_free(&bad);
		cardkeyagree_new(card, fd, NULL, &ka);
		CHECK(envelope_open(blob, n, ka, prof.card_id, "part-1", &opened, NULL) ==
		    HSM_ERR_PIN_WRONG && strstr(hsm_errmsg(), "2 tries left") != NULL,
		    "wrong PIN when opening");
		keyagree_free(&ka);
		close(fd);
	}
	CHECK(cardmgmt_auth(card, pin, NULL, 0) == HSM_OK, "PIN resets the counter");

	CHECK(cardenv_delete(card, "part-1") == HSM_OK, "delete part-1");
	CHECK(cardenv_delete(card, "part-1") == HSM_ERR_NOT_FOUND, "delete it again");
	free(blob);
	blob = NULL;

	/* Fill all 20 objects; the 21st is refused. */
	for (i = 1; i <= CARDENV_SLOTS; i++) {
		snprintf(id, sizeof(id), "part-%d", i);
		if (seal_part(card, prof.card_id, id, &part, &blob, &n) != HSM_OK ||
		    cardenv_put(card, id, blob, n) != HSM_OK) {
			CHECK(0, id);
		}
		secbuf_free(&part);
		free(blob);
		blob = NULL;
	}
	CHECK(cardenv_list(card, &ids, &nids) == HSM_OK && nids == CARDENV_SLOTS &&
	    strcmp(ids[0], "part-1") == 0 && strcmp(ids[19], "part-20") == 0, "20 envelopes listed");
	cardenv_list_free(&ids, nids);
	CHECK(cardenv_put(card, "part-21", (const uint8_t *)"x", 1) == HSM_ERR_STATE,
	    "a 21st envelope is refused");
out:
	free(blob);
	secbuf_free(&part);
	secbuf_free(&pin);
	piv_free(&card);
	pcsc_close(&ctx);
	printf("%s\n", failures ? "test_piv_card: FAILED" : "test_piv_card: all passed");
	return failures ? 1 : 0;
}
