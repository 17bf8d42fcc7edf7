/*
 * ceremony_roster - TEST HELPER ONLY: append a roster record naming one
 * person with a signing key (NAME, ROLE, public key PEM) to an evidence log,
 * through the real evlog API. No hsmadm command writes roster records yet
 * (that is the ceremony runner's step); the end-to-end test needs one for the
 * supervisor's completion signature to verify.
 * Usage: ceremony_roster LOG NAME ROLE PUBKEY.pem
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"

int
main(int argc, char **argv)
{
	FILE *f;
	char pem[8192], *pt_hex = NULL, *ski_hex = NULL;
	size_t n;
	EVP_PKEY *k = NULL;
	uint8_t *pt = NULL, ski[HSM_SKI_LEN];
	size_t ptlen = 0;
	evlog *log = NULL;
	json_t *actor, *body;
	hsm_rc rc;

	if (argc != 5) {
		fprintf(stderr, "usage: ceremony_roster LOG NAME ROLE PUBKEY.pem\n");
		return 2;
	}
	if ((f = fopen(argv[4], "r")) == NULL)
		return 1;
	n = fread(pem, 1, sizeof(pem) - 1, f);
	fclose(f);
	pem[n] = '\0';
	if ((rc = crypto_pub_from_pem(pem, n, &k)) != HSM_OK ||
	    (rc = crypto_ec_point(k, &pt, &ptlen)) != HSM_OK ||
	    (rc = crypto_ski(k, ski)) != HSM_OK ||
	    (rc = hex_encode(pt, ptlen, &pt_hex)) != HSM_OK ||
	    (rc = hex_encode(ski, sizeof(ski), &ski_hex)) != HSM_OK)
		goto out;
	actor = json_pack("{s:s, s:s}", "name", "facilitator", "role", "facilitator");
	body = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "members", "name", argv[2], "role", argv[3],
	                 "pubkey", pt_hex, "ski", ski_hex);
	if ((rc = evlog_open(argv[1], NULL, &log)) == HSM_OK)
		rc = evlog_append(log, EV_ROSTER, actor, body, NULL);
	json_decref(actor);
	json_decref(body);
	evlog_close(&log);
out:
	if (rc != HSM_OK)
		fprintf(stderr, "ceremony_roster: %s\n", hsm_errmsg());
	EVP_PKEY_free(k);
	free(pt);
	free(pt_hex);
	free(ski_hex);
	return rc == HSM_OK ? 0 : 1;
}
