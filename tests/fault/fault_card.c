/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_card.c - the "card" flow (fault_card.h). Everything PC/SC is opened
 * inside the run, so each run (in its own child process) has its own
 * connection to pcscd. The injected failures stop a call before it reaches
 * pcscd, so the card never sees a half-sent APDU; what the check looks for
 * is what a failure must not leave behind: a PIN try spent, or a verified
 * PIN on the card for the next program to use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/cardsigner.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"

#include "fault_card.h"

static const char card_msg[] = "hsmadm fault injection: signed on a card";

/* The PIN, one line on a pipe, as hsmadm-card's --pin-fd reads it. */
int
fault_card_reset(struct fault_fx *fx)
{
	const char *pin = getenv("FAULT_CARD_PIN");
	int p[2];
	size_t n;

	if (pin == NULL || pipe(p) != 0)
		return -1;
	n = strlen(pin);
	if (write(p[1], pin, n) != (ssize_t)n || write(p[1], "\n", 1) != 1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	fx->pin_fd = p[0];
	return 0;
}

hsm_rc
fault_card_run(struct fault_fx *fx)
{
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	hsm_signer *s = NULL;
	hsm_rc rc;

	if ((rc = pcsc_open(&ctx)) == HSM_OK &&
	    (rc = piv_connect(ctx, getenv("FAULT_CARD_READER"), &card)) == HSM_OK &&
	    (rc = cardsigner_new(card, fx->pin_fd, "fault card", &s)) == HSM_OK)
		/* signer_sign checks the signature against the card's key */
		rc = signer_sign(s, card_msg, sizeof(card_msg) - 1, &fx->sig, &fx->siglen);
	signer_free(&s);
	piv_free(&card);
	pcsc_close(&ctx);
	return rc;
}

/* A new connection: all PIN tries left, and the PIN not verified. */
int
fault_card_check(struct fault_fx *fx, hsm_rc rc)
{
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	int tries = -1, verified = -1, bad = 1;

	(void)fx;
	(void)rc;
	if (pcsc_open(&ctx) == HSM_OK &&
	    piv_connect(ctx, getenv("FAULT_CARD_READER"), &card) == HSM_OK &&
	    piv_tries(card, PIV_REF_PIN, &tries, &verified) == HSM_OK)
		bad = tries != atoi(getenv("FAULT_CARD_TRIES") ? getenv("FAULT_CARD_TRIES") : "3") ||
		      verified != 0;
	if (bad)
		fprintf(stderr, "card: PIN tries %d, verified %d: %s\n", tries, verified,
		        hsm_errmsg());
	piv_free(&card);
	pcsc_close(&ctx);
	return bad;
}

void
fault_card_clean(struct fault_fx *fx)
{
	if (fx->pin_fd >= 0)
		close(fx->pin_fd);
	fx->pin_fd = -1;
	free(fx->sig);
	fx->sig = NULL;
}
