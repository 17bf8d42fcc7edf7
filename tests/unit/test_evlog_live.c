/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evlog_live.c - for the audit_live shell test: administers domain 1 of a
 * real hsmadm-simd module over mutual TLS and writes what happened into an
 * evidence log with the module's own receipts: two admins added in imprint
 * mode, thresholds set 2-of-2 (both signing), the supervisor's completion.
 *
 *   test_evlog_live HOST:PORT CA CLIENT_CERT CLIENT_KEY DIR
 *       writes DIR/{supervisor,alice,bob}.pem and DIR/live.log
 *   test_evlog_live --diverge HOST:PORT CA CLIENT_CERT CLIENT_KEY DIR
 *       applies one more properly signed command (thresholds 1-of-2, signed
 *       by both) that the log does not record: the module moves on without it
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evrec.h"
#include "hsmadm/moddriver.h"
#include "hsmadm/signer.h"

#define DOMAIN 1

static hsm_rc
keyfile(const char *dir, const char *name, hsm_signer **s)
{
	char path[512];
	EVP_PKEY *k = NULL;
	hsm_rc rc;

	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	if ((rc = signer_from_keyfile(path, s)) == HSM_OK)
		return rc;
	if ((rc = crypto_ec_generate(HSM_CURVE_P384, &k)) != HSM_OK ||
	    (rc = crypto_priv_save_pem(path, k)) != HSM_OK) {
		EVP_PKEY_free(k);
		return rc;
	}
	EVP_PKEY_free(k);
	return signer_from_keyfile(path, s);
}

static hsm_rc
pubhex(hsm_signer *s, char **hex, char skihex[65])
{
	uint8_t *pt = NULL, ski[32];
	size_t n = 0;
	hsm_rc rc;

	if ((rc = crypto_ec_point(signer_pub(s), &pt, &n)) != HSM_OK ||
	    (rc = hex_encode(pt, n, hex)) != HSM_OK || (rc = crypto_ski(signer_pub(s), ski)) != HSM_OK) {
		free(pt);
		return rc;
	}
	hex_encode_buf(ski, 32, skihex);
	free(pt);
	return HSM_OK;
}

/* Apply op to the domain at its current counter, signed by signers; log the
 * command with the module's receipt unless log is NULL. */
static hsm_rc
apply(moddrv *drv, evlog *log, const char *op, json_t *params, hsm_signer **signers,
      size_t n, const ev_actor *actor)
{
	json_t *st = NULL, *rcpt = NULL, *rcpts = NULL;
	admincmd *cmd = NULL;
	admincmd_target t;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	hsm_rc rc;

	if ((rc = moddrv_query(drv, DOMAIN, &st)) != HSM_OK)
		goto out;
	t.module = moddrv_serial(drv);
	t.domain = DOMAIN;
	t.counter = (uint64_t)json_integer_value(json_object_get(st, "counter"));
	if ((rc = admincmd_new(op, params, &t, 1, now - 60, now + 3600, &cmd)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++)
		if ((rc = admincmd_sign(cmd, signers[i])) != HSM_OK)
			goto out;
	/* the intent first, as the workflows write it */
	if (log != NULL && (rc = evrec_command_sent(log, actor, cmd, NULL, NULL)) != HSM_OK)
		goto out;
	if ((rc = moddrv_apply(drv, DOMAIN, cmd, &rcpt)) != HSM_OK)
		goto out;
	if (log == NULL)
		goto out;
	if ((rcpts = json_pack("[O]", rcpt)) == NULL) {
		rc = HSM_ERR_NOMEM;
		goto out;
	}
	rc = evrec_command_applied(log, actor, cmd, rcpts, NULL);
out:
	json_decref(st);
	json_decref(rcpt);
	json_decref(rcpts);
	admincmd_free(&cmd);
	return rc;
}

int
main(int argc, char **argv)
{
	int diverge = argc == 7 && strcmp(argv[1], "--diverge") == 0;
	char **a = argv + (diverge ? 2 : 1), path[512], *pa = NULL, *pb = NULL, *ps = NULL;
	char ska[65], skb[65], sks[65];
	hsm_signer *sup = NULL, *alice = NULL, *bob = NULL, *two[2];
	moddrv *drv = NULL;
	evlog *log = NULL;
	static const ev_actor fac = { "Fay Facilitator", "facilitator", NULL, NULL };
	json_t *supact = json_pack("{s:s, s:s}", "name", "Sam Supervisor", "role", "supervisor");
	json_t *p = NULL;
	hsm_rc rc;

	if (argc != (diverge ? 7 : 6)) {
		fprintf(stderr, "usage: %s [--diverge] HOST:PORT CA CLIENT_CERT CLIENT_KEY DIR\n",
		    argv[0]);
		return 2;
	}
	if ((rc = keyfile(a[4], "supervisor", &sup)) != HSM_OK ||
	    (rc = keyfile(a[4], "alice", &alice)) != HSM_OK ||
	    (rc = keyfile(a[4], "bob", &bob)) != HSM_OK ||
	    (rc = pubhex(alice, &pa, ska)) != HSM_OK || (rc = pubhex(bob, &pb, skb)) != HSM_OK ||
	    (rc = pubhex(sup, &ps, sks)) != HSM_OK)
		goto out;
	if ((rc = modclient_sim_open(a[0], NULL, a[1], a[2], a[3], 10000, &drv)) != HSM_OK)
		goto out;
	if (diverge) {
		two[0] = alice;
		two[1] = bob;
		p = json_pack("{s:i, s:i}", "signature", 1, "revocation", 1);
		rc = apply(drv, NULL, ADMINCMD_OP_THRESHOLDS_SET, p, two, 2, NULL);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/live.log", a[4]);
	if ((rc = evlog_open(path, NULL, &log)) != HSM_OK)
		goto out;
	{
		ev_member m[3] = {
			{ .name = "Sam Supervisor", .role = "supervisor", .ski = sks, .pubkey = ps },
			{ .name = "Alice Example", .role = "admin", .ski = ska, .pubkey = pa },
			{ .name = "Bob Example", .role = "admin", .ski = skb, .pubkey = pb },
		};
		if ((rc = evrec_roster(log, &fac, m, 3, NULL)) != HSM_OK)
			goto out;
	}
	p = json_pack("{s:s, s:s, s:s}", "pubkey", pa, "name", "Alice Example", "identity", "alice");
	if ((rc = apply(drv, log, ADMINCMD_OP_ADMIN_ADD, p, NULL, 0, &fac)) != HSM_OK)
		goto out;
	json_decref(p);
	p = json_pack("{s:s, s:s, s:s}", "pubkey", pb, "name", "Bob Example", "identity", "bob");
	if ((rc = apply(drv, log, ADMINCMD_OP_ADMIN_ADD, p, NULL, 0, &fac)) != HSM_OK)
		goto out;
	json_decref(p);
	p = json_pack("{s:i, s:i}", "signature", 2, "revocation", 1);
	two[0] = alice;
	two[1] = bob;
	if ((rc = apply(drv, log, ADMINCMD_OP_THRESHOLDS_SET, p, two, 2, &fac)) != HSM_OK)
		goto out;
	rc = evlog_complete(log, sup, supact, NULL, NULL);
out:
	if (rc != HSM_OK)
		fprintf(stderr, "test_evlog_live: %s\n", hsm_errmsg());
	evlog_close(&log);
	moddrv_free(&drv);
	signer_free(&sup);
	signer_free(&alice);
	signer_free(&bob);
	free(pa);
	free(pb);
	free(ps);
	json_decref(p);
	json_decref(supact);
	return rc == HSM_OK ? 0 : 1;
}
