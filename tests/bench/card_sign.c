/* SPDX-License-Identifier: BSD-2-Clause */
/* card_sign - benchmark helper: N admin signatures as hsmadm makes them
 * (connect + SELECT, VERIFY PIN, GENERAL AUTHENTICATE with 9C over a SHA-384
 * digest), each on a fresh connection like a command run. Prints APDUs and
 * milliseconds per signature. Usage: card_sign READER N, PIN on fd 3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/cardsigner.h"
#include "hsmadm/crypto.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	hsm_secbuf *pin = NULL;
	EVP_PKEY *pub = NULL;
	uint8_t dg[48], *sig = NULL;
	size_t siglen = 0;
	unsigned long apdus = 0;
	double t, total = 0, worst = 0;
	int i, n;

	if (argc != 3 || (n = atoi(argv[2])) < 1)
		return 2;
	if (secure_init() != HSM_OK || secure_read_line(NULL, 3, PIV_PIN_MAX, &pin) != HSM_OK ||
	    pcsc_open(&ctx) != HSM_OK)
		goto fail;
	if (piv_connect(ctx, argv[1], &card) != HSM_OK ||
	    cardsigner_slot_pub(card, PIV_SLOT_SIGN, &pub) != HSM_OK)
		goto fail;
	piv_free(&card);
	for (i = 0; i < n; i++) {
		if (crypto_random(dg, sizeof(dg)) != HSM_OK)
			goto fail;
		t = now_ms();
		if (piv_connect(ctx, argv[1], &card) != HSM_OK || piv_verify_pin(card, pin) != HSM_OK ||
		    piv_sign(card, PIV_SLOT_SIGN, HSM_CURVE_P384, dg, sizeof(dg), &sig, &siglen)
		    != HSM_OK)
			goto fail;
		apdus += pcsc_apdu_count(piv_pcsc(card));
		piv_free(&card);
		t = now_ms() - t;
		total += t;
		if (t > worst)
			worst = t;
		if (crypto_ecdsa_verify_digest(pub, dg, sizeof(dg), sig, siglen) != HSM_OK) {
			fprintf(stderr, "card_sign: signature %d does not verify\n", i);
			return 1;
		}
		free(sig);
		sig = NULL;
	}
	printf("signatures=%d apdus_per_sig=%.2f ms_per_sig=%.3f worst_ms=%.3f\n", n,
	    (double)apdus / n, total / n, worst);
	EVP_PKEY_free(pub);
	secbuf_free(&pin);
	pcsc_close(&ctx);
	return 0;
fail:
	fprintf(stderr, "card_sign: %s\n", hsm_errmsg());
	return 1;
}
