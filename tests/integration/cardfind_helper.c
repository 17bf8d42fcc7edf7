/* SPDX-License-Identifier: BSD-2-Clause */
/* cardfind_helper.c - drives smartcard/cardfind against the harness's
 * virtual cards for tests/integration/card_find.sh (not a ctest of its own:
 * it needs a private pcscd).
 *
 *   cardfind_helper signer|custodian ROLE [holder=H] [identity=ID] [card=ID]
 *       [install=I] [which=primary|backup] [not=ID] [exclude=ID] [part=P]
 *       [reader=R] [timeout=MS]
 *
 * Prints "found ROLE HOLDER CARDID BACKUPOF READER" on success (BACKUPOF "-"
 * for a primary card). signer: also signs with the card's 9C key (PIN from
 * fd 3) and checks the signature against the key of the card's 9C
 * certificate. On failure prints the message on stderr and exits with the
 * documented exit code of the error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/cardfind.h"
#include "hsmadm/cardsigner.h"
#include "hsmadm/crypto.h"

static int
usage(void)
{
	fprintf(stderr, "usage: cardfind_helper signer|custodian ROLE [key=value...]\n");
	return 2;
}

/* key=value arguments into w; 0 if one is not understood. */
static int
parse_args(int argc, char **argv, cardfind_want *w, const char **exclude)
{
	for (int i = 0; i < argc; i++) {
		char *v = strchr(argv[i], '=');
		if (v == NULL)
			return 0;
		*v++ = '\0';
		if (strcmp(argv[i], "holder") == 0) w->holder = v;
		else if (strcmp(argv[i], "identity") == 0) w->identity = v;
		else if (strcmp(argv[i], "card") == 0) w->card_id = v;
		else if (strcmp(argv[i], "install") == 0) w->installation = v;
		else if (strcmp(argv[i], "not") == 0) w->not_card_id = v;
		else if (strcmp(argv[i], "part") == 0) w->holds_part = v;
		else if (strcmp(argv[i], "reader") == 0) w->reader = v;
		else if (strcmp(argv[i], "timeout") == 0) w->timeout_ms = atoi(v);
		else if (strcmp(argv[i], "exclude") == 0) {
			exclude[0] = v;
			w->exclude = exclude;
			w->nexclude = 1;
		} else if (strcmp(argv[i], "which") == 0)
			w->which = strcmp(v, "backup") == 0 ? CARDFIND_BACKUP : CARDFIND_PRIMARY;
		else
			return 0;
	}
	return 1;
}

static void
found(const cardprofile *p, const char *reader)
{
	printf("found %s %s %s %s %s\n", card_role_name(p->role), p->holder, p->card_id,
	    p->backup_of[0] ? p->backup_of : "-", reader);
}

static hsm_rc
run_signer(pcsc_ctx *ctx, const cardfind_want *w)
{
	signer_card *c = NULL;
	EVP_PKEY *pub = NULL;
	uint8_t *sig = NULL;
	size_t siglen = 0;
	const char msg[] = "cardfind test message";
	hsm_rc rc;

	if ((rc = cardfind_signer(ctx, w, 3, &c)) != HSM_OK)
		goto out;
	found(&c->prof, c->reader);
	if ((rc = signer_sign(c->signer, msg, sizeof(msg), &sig, &siglen)) != HSM_OK ||
	    (rc = cardsigner_slot_pub(c->piv, PIV_SLOT_SIGN, &pub)) != HSM_OK ||
	    (rc = crypto_ecdsa_verify(pub, msg, sizeof(msg), sig, siglen)) != HSM_OK)
		goto out;
	printf("signed by %s\n", signer_label(c->signer));
out:
	free(sig);
	EVP_PKEY_free(pub);
	signer_card_free(&c);
	return rc;
}

static hsm_rc
run_custodian(pcsc_ctx *ctx, const cardfind_want *w)
{
	custodian_card *c = NULL;
	hsm_rc rc;

	if ((rc = cardfind_custodian(ctx, w, 3, 0, &c)) != HSM_OK)
		return rc;
	found(&c->prof, c->reader);
	if (c->kc.pub9d == NULL || c->kc.ka == NULL || c->kc.store == NULL ||
	    strcmp(c->kc.card_id, c->prof.card_id) != 0)
		rc = hsm_fail(HSM_ERR_INTERNAL, "the custodian card's keypart_card is incomplete");
	custodian_card_free(&c);
	return rc;
}

int
main(int argc, char **argv)
{
	cardfind_want w = { .timeout_ms = 0 };
	const char *exclude[1];
	pcsc_ctx *ctx = NULL;
	hsm_rc rc;

	if (argc < 3 || card_role_parse(argv[2], &w.role) != HSM_OK ||
	    !parse_args(argc - 3, argv + 3, &w, exclude))
		return usage();
	if ((rc = pcsc_open(&ctx)) == HSM_OK)
		rc = strcmp(argv[1], "signer") == 0 ? run_signer(ctx, &w) : run_custodian(ctx, &w);
	pcsc_close(&ctx);
	if (rc != HSM_OK) {
		fprintf(stderr, "cardfind_helper: %s\n", hsm_errmsg());
		return hsm_exit_code(rc);
	}
	return 0;
}
