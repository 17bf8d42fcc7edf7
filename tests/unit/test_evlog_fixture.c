/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evlog_fixture.c - builds real ceremony logs for the evidence tests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evrec.h"
#include "hsmadm/receipt.h"
#include "hsmadm/signer.h"
#include "hsmadm/x509util.h"
#include "test_evlog_fixture.h"

static int
newkey(const char *path, const char *pubpath)
{
	EVP_PKEY *k = NULL;
	int ok = 0;

	if (crypto_ec_generate(HSM_CURVE_P384, &k) != HSM_OK ||
	    crypto_priv_save_pem(path, k) != HSM_OK)
		goto out;
	if (pubpath != NULL) {
		FILE *f = fopen(pubpath, "w");
		if (f == NULL)
			goto out;
		if (PEM_write_PUBKEY(f, k) != 1) {
			fclose(f);
			goto out;
		}
		fclose(f);
	}
	ok = 1;
out:
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

int
evfix_setup(struct evfix *f)
{
	const char *tmp = getenv("TMPDIR");

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "%s/evfix.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->sup_key, sizeof(f->sup_key), "%s/supervisor.pem", f->dir);
	snprintf(f->sup_pub, sizeof(f->sup_pub), "%s/supervisor.pub.pem", f->dir);
	snprintf(f->alice_key, sizeof(f->alice_key), "%s/alice.pem", f->dir);
	snprintf(f->bob_key, sizeof(f->bob_key), "%s/bob.pem", f->dir);
	snprintf(f->mallory_key, sizeof(f->mallory_key), "%s/mallory.pem", f->dir);
	snprintf(f->ca_pem, sizeof(f->ca_pem), "%s/module-ca.pem", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/ceremony.log", f->dir);
	if (newkey(f->sup_key, f->sup_pub) || newkey(f->alice_key, NULL) ||
	    newkey(f->bob_key, NULL) || newkey(f->mallory_key, NULL))
		return -1;
	if (crypto_ec_generate(HSM_CURVE_P384, &f->ca_key) != HSM_OK ||
	    crypto_ec_generate(HSM_CURVE_P384, &f->oa_key) != HSM_OK ||
	    x509u_issue(X509U_MODULE_CA, "Test module CA", NULL, f->ca_key, NULL,
	                f->ca_key, 30, &f->ca) != HSM_OK ||
	    x509u_issue(X509U_OA, "DC1-M01 OA", EVFIX_MODULE, f->oa_key, f->ca,
	                f->ca_key, 30, &f->oa) != HSM_OK ||
	    x509u_save_pem(f->ca_pem, f->ca) != HSM_OK)
		return -1;
	return 0;
}

void
evfix_release(struct evfix *f)
{
	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->oa_key);
	X509_free(f->ca);
	X509_free(f->oa);
	f->ca_key = f->oa_key = NULL;
	f->ca = f->oa = NULL;
}

void
evfix_teardown(struct evfix *f)
{
	char cmd[400];

	evfix_release(f);
	if (f->dir[0] != '\0' && strncmp(f->dir + strlen(f->dir) - 13, "/evfix.", 7) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", f->dir);
	}
	f->dir[0] = '\0';
}

json_t *
evfix_actor(const char *name, const char *role)
{
	return json_pack("{s:s, s:s}", "name", name, "role", role);
}

static json_t *
admin_entry(hsm_signer *s, const char *name, const char *identity)
{
	uint8_t ski[32], *pt = NULL;
	size_t n = 0;
	char skihex[65], *pk = NULL;
	json_t *j = NULL;

	if (crypto_ski(signer_pub(s), ski) != HSM_OK ||
	    crypto_ec_point(signer_pub(s), &pt, &n) != HSM_OK ||
	    hex_encode(pt, n, &pk) != HSM_OK)
		goto out;
	hex_encode_buf(ski, 32, skihex);
	j = json_pack("{s:s, s:s, s:s, s:s}", "ski", skihex, "name", name,
	    "identity", identity, "pubkey", pk);
out:
	free(pt);
	free(pk);
	return j;
}

static void
now_rfc3339(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Domain state as domain.query shows it. */
static json_t *
dstate(json_t *admins, int sig, int rev, long long counter)
{
	return json_pack("{s:s, s:i, s:b, s:O, s:{s:i, s:i}, s:I, s:{s:{s:s, s:n}, "
	    "s:{s:s, s:n, s:i, s:[]}, s:{s:s, s:n}}, s:n}",
	    "module", EVFIX_MODULE, "domain", EVFIX_DOMAIN, "imprint", sig == 0,
	    "admins", admins, "thresholds", "signature", sig, "revocation", rev,
	    "counter", (json_int_t)counter,
	    "registers", "current", "state", "empty", "mkvp",
	    "pending", "state", "empty", "mkvp", "parts_total", 0, "parts_loaded",
	    "old", "state", "empty", "mkvp", "importer");
}

/* Apply cmd as a module would and return its receipt. */
static hsm_rc
receipt_for(struct evfix *f, admincmd *cmd, long long before, json_t *state,
            json_t **out)
{
	uint8_t dg[32], sd[32];
	char dghex[65], sdhex[65], tb[32];
	json_t *body;
	hsm_rc rc;

	if ((rc = admincmd_digest(cmd, dg)) != HSM_OK || (rc = cjson_digest(state, sd)) != HSM_OK)
		return rc;
	hex_encode_buf(dg, 32, dghex);
	hex_encode_buf(sd, 32, sdhex);
	now_rfc3339(tb);
	body = json_pack("{s:i, s:s, s:i, s:s, s:s, s:I, s:I, s:O, s:s, s:{}, s:s}",
	    "v", RECEIPT_VERSION, "module", EVFIX_MODULE, "domain", EVFIX_DOMAIN,
	    "op", admincmd_op(cmd), "command_digest", dghex,
	    "counter_before", (json_int_t)before, "counter_after", (json_int_t)(before + 1),
	    "state", state, "state_digest", sdhex, "result", "time", tb);
	if (body == NULL)
		return HSM_ERR_NOMEM;
	rc = receipt_sign(body, f->oa_key, f->oa, out);
	json_decref(body);
	return rc;
}

/* Write a command.sent intent before each command (EVFIX_SENT). */
static int fix_sent;

/* An ev_actor over a JSON actor's strings (borrowed). */
static ev_actor
act(const json_t *a)
{
	ev_actor e = { json_string_value(json_object_get(a, "name")),
	               json_string_value(json_object_get(a, "role")),
	               json_string_value(json_object_get(a, "card_id")),
	               json_string_value(json_object_get(a, "ski")) };
	return e;
}

/* Make, sign (by the given signers), "apply" and log one command. */
static hsm_rc
apply(struct evfix *f, evlog *log, const char *op, json_t *params, long long counter,
      hsm_signer **signers, size_t nsig, json_t *state_after, json_t *actor)
{
	admincmd_target t = { EVFIX_MODULE, EVFIX_DOMAIN, (uint64_t)counter };
	admincmd *cmd = NULL;
	json_t *cj = NULL, *rcpt = NULL, *body = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	hsm_rc rc;

	if ((rc = admincmd_new(op, params, &t, 1, now - 60, now + 3600, &cmd)) != HSM_OK)
		goto out;
	for (i = 0; i < nsig; i++)
		if ((rc = admincmd_sign(cmd, signers[i])) != HSM_OK)
			goto out;
	if ((rc = admincmd_to_json(cmd, &cj)) != HSM_OK ||
	    (rc = receipt_for(f, cmd, counter, state_after, &rcpt)) != HSM_OK)
		goto out;
	if (fix_sent) {
		ev_actor a = act(actor);
		if ((rc = evrec_command_sent(log, &a, cmd, "DC1-pair", NULL)) != HSM_OK)
			goto out;
	}
	body = json_pack("[O]", rcpt);
	{
		ev_actor a = act(actor);
		rc = body ? evrec_command_applied(log, &a, cmd, body, NULL) : HSM_ERR_NOMEM;
	}
out:
	json_decref(body);
	json_decref(rcpt);
	json_decref(cj);
	admincmd_free(&cmd);
	return rc;
}

/* The command.signed record of one admin's signature over a command body. */
static hsm_rc
log_signed(evlog *log, const char *op, json_t *params, long long counter, hsm_signer *s,
           json_t *actor)
{
	admincmd_target t = { EVFIX_MODULE, EVFIX_DOMAIN, (uint64_t)counter };
	admincmd *cmd = NULL;
	uint8_t ski[32];
	ev_actor a;
	int64_t now = (int64_t)time(NULL);
	hsm_rc rc;

	if ((rc = admincmd_new(op, params, &t, 1, now - 60, now + 3600, &cmd)) != HSM_OK ||
	    (rc = admincmd_sign(cmd, s)) != HSM_OK || (rc = crypto_ski(signer_pub(s), ski)) != HSM_OK)
		goto out;
	a = act(actor);
	rc = evrec_command_signed(log, &a, cmd, ski, NULL);
out:
	admincmd_free(&cmd);
	return rc;
}

#define CK(x) do { if ((rc = (x)) != HSM_OK) goto out; } while (0)

/* One kpvp, as bytes. */
static void
kpvp_bytes(const char *hex, uint8_t out[32])
{
	(void)hex_decode_into(hex, out, 32);
}

/* A domain state whose registers are given (new reference). */
static json_t *
dstate_regs(json_t *admins, long long counter, json_t *regs)
{
	json_t *st = dstate(admins, 2, 1, counter);

	if (st != NULL && regs != NULL && json_object_set(st, "registers", regs) != 0) {
		json_decref(st);
		st = NULL;
	}
	json_decref(regs);
	return st;
}

/* EVFIX_MKFULL: a master key loaded, committed and activated on the domain,
 * with the module's receipts showing the parts it loaded. With
 * EVFIX_FOREIGN_PART the module's receipt shows a part the custodians never
 * generated, while the log's mk.loaded claims part-1. */
/* The pending register of a state: its state word, MKVP (or null), the
 * parts loaded (kp: part 1 or none) and the approved load (ap: part-1 or
 * none). New reference. */
static json_t *
pending_reg(const char *st, const char *mkhex, const char *kp, const char *ap)
{
	json_t *r = json_pack("{s:s, s:o, s:i, s:[], s:[]}", "state", st, "mkvp",
	    mkhex ? json_string(mkhex) : json_null(), "parts_total", kp ? 1 : 0,
	    "parts_loaded", "approved");

	if (r != NULL && kp != NULL)
		json_array_append_new(json_object_get(r, "parts_loaded"),
		    json_pack("{s:i, s:s}", "index", 1, "kpvp", kp));
	if (r != NULL && ap != NULL)
		json_array_append_new(json_object_get(r, "approved"),
		    json_pack("{s:i, s:s, s:s}", "index", 1, "part_id", "part-1", "kpvp", ap));
	return r;
}

static json_t *
mk_regs(json_t *cur_mkvp, json_t *pending)
{
	return json_pack("{s:{s:s, s:o}, s:o, s:{s:s, s:n}}", "current", "state",
	    cur_mkvp ? "valid" : "empty", "mkvp", cur_mkvp ? cur_mkvp : json_null(), "pending",
	    pending, "old", "state", "empty", "mkvp");
}

/* EVFIX_MKFULL: a master key loaded, committed and activated on the domain,
 * with the module's receipts showing the parts it loaded. With
 * EVFIX_FOREIGN_PART the module's receipt shows a part the custodians never
 * generated, while the log's mk.loaded claims part-1. EVFIX_APPROVED and
 * EVFIX_APPROVAL_FORGED: see the flags. */
static hsm_rc
mk_full(struct evfix *f, evlog *log, int flags, json_t *admins, hsm_signer **both,
        const uint8_t kp[32], json_t *actor)
{
	char kphex[65], mkhex[65], aphex[65];
	uint8_t mk[32];
	ev_actor fa = act(actor);
	ev_mkdom d = { EVFIX_MODULE, EVFIX_DOMAIN, { 0 } };
	ev_mkpart mp = { "part-1", { 0 } };
	json_t *params = NULL, *st = NULL;
	const char *ap = NULL;
	long long c = 3;
	hsm_rc rc;

	memset(mk, EVFIX_MKVP, 32);
	hex_encode_buf(mk, 32, mkhex);
	hex_encode_buf(kp, 32, kphex);
	hex_encode_buf(kp, 32, aphex);
	/* A foreign part: in the receipt, or with an approval, in the approval
	 * (the part then loaded is the custodians' but not the approved one). */
	if (flags & EVFIX_FOREIGN_PART)
		memset((flags & EVFIX_APPROVED) ? aphex : kphex, 'e', 64);
	memcpy(d.mkvp, mk, 32);
	memcpy(mp.kpvp, kp, 32);
	if (flags & (EVFIX_APPROVED | EVFIX_APPROVAL_FORGED))
		ap = aphex;
	if (flags & EVFIX_APPROVED) {
		params = json_pack("{s:[{s:i, s:s, s:s}]}", "parts", "index", 1, "part_id", "part-1",
		    "kpvp", aphex);
		st = dstate_regs(admins, c + 1, mk_regs(NULL, pending_reg("empty", NULL, NULL, ap)));
		CK(apply(f, log, ADMINCMD_OP_MK_APPROVE_LOAD, params, c++, both, 2, st, actor));
		json_decref(params);
		json_decref(st);
	}
	params = json_pack("{s:i, s:i, s:s}", "part_index", 1, "parts", 1, "kpvp", kphex);
	st = dstate_regs(admins, c + 1, mk_regs(NULL, pending_reg("uncommitted", mkhex, kphex, ap)));
	CK(apply(f, log, ADMINCMD_OP_MK_LOAD_PART, params, c++, both,
	    (flags & EVFIX_APPROVED) ? 0 : 2, st, actor));
	CK(evrec_mk_loaded(log, &fa, "DC1-pair", &d, 1, &mp, 1, NULL));
	json_decref(params);
	json_decref(st);
	params = json_pack("{s:s}", "mkvp", mkhex);
	st = dstate_regs(admins, c + 1, mk_regs(NULL, pending_reg("committed", mkhex, kphex, ap)));
	CK(apply(f, log, ADMINCMD_OP_MK_COMMIT, params, c++, both, 2, st, actor));
	CK(evrec_mk_committed(log, &fa, "DC1-pair", &d, 1, NULL));
	json_decref(st);
	if (flags & EVFIX_OTHER_KEY) {
		memset(d.mkvp, 0xab, 32);
		hex_encode_buf(d.mkvp, 32, mkhex);
	}
	st = dstate_regs(admins, c + 1, mk_regs(json_string(mkhex),
	    pending_reg("empty", NULL, NULL, NULL)));
	CK(apply(f, log, ADMINCMD_OP_MK_ACTIVATE, params, c, both, 2, st, actor));
	CK(evrec_mk_activated(log, &fa, "DC1-pair", &d, 1, NULL));
out:
	json_decref(params);
	json_decref(st);
	return rc;
}

hsm_rc
evfix_ceremony(struct evfix *f, const char *path, int flags, long long *last)
{
	struct evlog_open_opts o;
	evlog *log = NULL;
	hsm_signer *sup = NULL, *alice = NULL, *bob = NULL, *both[2];
	json_t *fac = evfix_actor("Fay Facilitator", "facilitator");
	json_t *aact = evfix_actor("Alice Example", "admin");
	json_t *bact = evfix_actor("Bob Example", "admin");
	json_t *wact = evfix_actor("Wanda Witness", "witness");
	json_t *cust = json_pack("{s:s, s:s, s:s}", "name", "Carl Custodian", "role",
	    "custodian", "card_id", "c0ffee01");
	json_t *supact = evfix_actor("Sam Supervisor", "supervisor");
	json_t *ae = NULL, *be = NULL, *se = NULL, *admins = NULL, *st = NULL;
	json_t *params = NULL, *open = NULL;
	const char *kpvp = "5a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0";
	ev_actor fa = act(fac), wa = act(wact), ca = act(cust);
	uint8_t kp[32];
	hsm_rc rc;

	fix_sent = (flags & EVFIX_SENT) != 0;
	memset(&o, 0, sizeof(o));
	open = json_pack("{s:s, s:s}", "ceremony", "DC1 domain 3 first master key",
	    "site", "test lab");
	o.actor = fac;
	o.open_body = open;
	o.must_create = 1;
	o.sync = (flags & EVFIX_NOSYNC) ? EVLOG_SYNC_NONE : EVLOG_SYNC_EACH;
	CK(signer_from_keyfile(f->sup_key, &sup));
	CK(signer_from_keyfile(f->alice_key, &alice));
	CK(signer_from_keyfile(f->bob_key, &bob));
	CK(evlog_open(path, &o, &log));

	ae = admin_entry(alice, "Alice Example", "alice");
	be = admin_entry(bob, "Bob Example", "bob");
	se = admin_entry(sup, "Sam Supervisor", "sam");
	if (ae == NULL || be == NULL || se == NULL) {
		rc = HSM_ERR_NOMEM;
		goto out;
	}
	{
		ev_member m[4] = {
			{ .name = "Sam Supervisor", .role = "supervisor",
			  .ski = json_string_value(json_object_get(se, "ski")),
			  .pubkey = json_string_value(json_object_get(se, "pubkey")) },
			{ .name = "Alice Example", .role = "admin",
			  .ski = json_string_value(json_object_get(ae, "ski")),
			  .pubkey = json_string_value(json_object_get(ae, "pubkey")) },
			{ .name = "Bob Example", .role = "admin",
			  .ski = json_string_value(json_object_get(be, "ski")),
			  .pubkey = json_string_value(json_object_get(be, "pubkey")) },
			{ .name = "Wanda Witness", .role = "witness" },
		};
		CK(evrec_roster(log, &fa, m, 4, NULL));
	}
	CK(evrec_step_begin(log, &fa, "setup", "Set up the domain", NULL));
	CK(evrec_card_init(log, &fa, "a11ce001", "admin", "Alice Example",
	    json_string_value(json_object_get(ae, "ski")), NULL));

	/* imprint mode: two admins added unsigned */
	params = json_pack("{s:O, s:s, s:s}", "pubkey", json_object_get(ae, "pubkey"),
	    "name", "Alice Example", "identity", "alice");
	admins = json_pack("[O]", ae);
	st = dstate(admins, 0, 0, 1);
	CK(apply(f, log, ADMINCMD_OP_ADMIN_ADD, params, 0, NULL, 0, st, fac));
	json_decref(params);
	json_decref(st);
	params = st = NULL;
	CK(evrec_admin_registered(log, &fa, EVFIX_MODULE, EVFIX_DOMAIN,
	    json_string_value(json_object_get(ae, "ski")), "Alice Example", "alice", NULL));
	params = json_pack("{s:O, s:s, s:s}", "pubkey", json_object_get(be, "pubkey"),
	    "name", "Bob Example", "identity", "bob");
	json_array_append(admins, be);
	st = dstate(admins, 0, 0, 2);
	CK(apply(f, log, ADMINCMD_OP_ADMIN_ADD, params, 1, NULL, 0, st, fac));
	json_decref(params);
	json_decref(st);
	params = st = NULL;

	/* leave imprint mode: 2-of-2, signed by both (or only Alice: weak) */
	params = json_pack("{s:i, s:i}", "signature", 2, "revocation", 1);
	CK(log_signed(log, ADMINCMD_OP_THRESHOLDS_SET, params, 2, alice, aact));
	both[0] = alice;
	both[1] = bob;
	st = dstate(admins, 2, 1, 3);
	CK(apply(f, log, ADMINCMD_OP_THRESHOLDS_SET, params, 2, both,
	    (flags & EVFIX_WEAK_QUORUM) ? 1 : 2, st, bact));

	kpvp_bytes(kpvp, kp);
	CK(evrec_keypart_generated(log, &ca, "part-1", kp, "c0ffee01", NULL, NULL));
	CK(evrec_keypart_copied(log, &ca, "part-1", kp, "c0ffee01", "c0ffee02", NULL, NULL));
	CK(evrec_keypart_verified(log, &ca, "part-1", kp, "c0ffee02", NULL, NULL));
	CK(evrec_exception(log, &fa, "card reader swapped", "reader 1 stopped answering",
	    "used reader 2", NULL, 0, NULL));
	CK(evrec_witness_ack(log, &wa, "I saw the parts generated on the cards", NULL));
	CK(evrec_reencipher(log, &fa, 10, 10, NULL, NULL, NULL));
	if (flags & EVFIX_SENT) {
		/* an intent whose outcome never made it into the log */
		json_t *z = json_object();
		admincmd_target t = { EVFIX_MODULE, EVFIX_DOMAIN, 3 };
		admincmd *cmd = NULL;
		int64_t now = (int64_t)time(NULL);
		rc = z ? admincmd_new(ADMINCMD_OP_ZEROIZE, z, &t, 1, now - 60, now + 3600, &cmd)
		       : HSM_ERR_NOMEM;
		if (rc == HSM_OK)
			rc = evrec_command_sent(log, &fa, cmd, NULL, NULL);
		admincmd_free(&cmd);
		json_decref(z);
		if (rc != HSM_OK)
			goto out;
	}
	if (flags & EVFIX_MKFULL)
		CK(mk_full(f, log, flags, admins, both, kp, fac));
	if (flags & EVFIX_MK) {
		ev_mkdom d = { EVFIX_MODULE, EVFIX_DOMAIN, { 0 } };
		ev_mkpart mp = { "part-1", { 0 } };
		memset(d.mkvp, EVFIX_MKVP, 32);
		memcpy(mp.kpvp, kp, 32);
		CK(evrec_mk_loaded(log, &fa, "DC1-pair", &d, 1, &mp, 1, NULL));
		CK(evrec_mk_committed(log, &fa, "DC1-pair", &d, 1, NULL));
	}
	CK(evlog_checkpoint(log, sup, supact, NULL, NULL));
	CK(evrec_step_end(log, &fa, "setup", "ok", NULL));
	if (flags & EVFIX_TAIL_WITNESS)
		CK(evrec_witness_ack(log, &wa, "The setup step ended as recorded", NULL));
	if (flags & EVFIX_COMPLETE)
		CK(evlog_complete(log, sup, supact, NULL, NULL));
	if (last != NULL)
		evlog_head(log, last, NULL);
	rc = HSM_OK;
out:
	evlog_close(&log);
	signer_free(&sup);
	signer_free(&alice);
	signer_free(&bob);
	json_decref(fac);
	json_decref(aact);
	json_decref(bact);
	json_decref(wact);
	json_decref(cust);
	json_decref(supact);
	json_decref(ae);
	json_decref(be);
	json_decref(se);
	json_decref(admins);
	json_decref(st);
	json_decref(params);
	json_decref(open);
	return rc;
}

char *
evfix_slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(fp);
	return buf;
}

int
evfix_spit(const char *path, const char *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fwrite(buf, 1, len, fp) == len;
	return (fclose(fp) == 0 && ok) ? 0 : -1;
}

int
evfix_rewrite(const char *path, evfix_edit_fn fn, void *arg)
{
	size_t len = 0;
	char *buf = evfix_slurp(path, &len), *p, *nl, *canon = NULL;
	FILE *out = NULL;
	uint8_t head[32];
	char hex[65];
	size_t clen;
	int rcv = -1, first = 1;

	if (buf == NULL || (out = fopen(path, "wb")) == NULL)
		goto out;
	for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		json_t *rec = NULL;
		long long seq;

		*nl = '\0';
		if (cjson_parse(p, (size_t)(nl - p), &rec) != HSM_OK)
			goto out;
		seq = json_integer_value(json_object_get(rec, "seq"));
		if (first) {
			const char *id = json_string_value(json_object_get(
			    json_object_get(rec, "body"), "log_id"));
			if (id == NULL || crypto_sha256(id, strlen(id), head) != HSM_OK) {
				json_decref(rec);
				goto out;
			}
			first = 0;
		}
		if (fn != NULL && fn(rec, seq, arg) == 1) {
			json_decref(rec);
			continue;
		}
		hex_encode_buf(head, 32, hex);
		json_object_set_new(rec, "prev", json_string(hex));
		if (cjson_dump(rec, &canon, &clen) != HSM_OK) {
			json_decref(rec);
			goto out;
		}
		json_decref(rec);
		fwrite(canon, 1, clen, out);
		fputc('\n', out);
		{
			/* the hash covers the newline too */
			char *t = realloc(canon, clen + 1);
			if (t == NULL)
				goto out;
			canon = t;
			canon[clen] = '\n';
			if (crypto_sha256(canon, clen + 1, head) != HSM_OK)
				goto out;
		}
		free(canon);
		canon = NULL;
	}
	rcv = 0;
out:
	free(canon);
	if (out != NULL && fclose(out) != 0)
		rcv = -1;
	free(buf);
	return rcv;
}

/* The forger's rewrite: no signed heads (the forger cannot make the real
 * supervisor's), the roster's supervisor replaced by the forger's key, then
 * the caller's edit. */
struct forge {
	const char   *ski, *pubkey;
	evfix_edit_fn edit;
	void         *arg;
	long long     dropped;   /* records dropped so far: later seqs move up */
};

static int
forge_edit(json_t *rec, long long seq, void *arg)
{
	struct forge *g = arg;
	const char *t = json_string_value(json_object_get(rec, "type"));
	json_t *m;
	size_t i;

	if (strcmp(t, "checkpoint") == 0 || strcmp(t, "completion") == 0 ||
	    (g->edit != NULL && g->edit(rec, seq, g->arg) == 1)) {
		g->dropped++;
		return 1;
	}
	json_object_set_new(rec, "seq", json_integer(seq - g->dropped));
	if (strcmp(t, "roster") == 0) {
		json_array_foreach(json_object_get(json_object_get(rec, "body"), "members"), i, m) {
			if (strcmp(json_string_value(json_object_get(m, "role")), "supervisor") != 0)
				continue;
			json_object_set_new(m, "name", json_string("Mallory Forger"));
			json_object_set_new(m, "ski", json_string(g->ski));
			json_object_set_new(m, "pubkey", json_string(g->pubkey));
		}
	}
	return 0;
}

int
evfix_forge(struct evfix *f, const char *path, evfix_edit_fn edit, void *arg)
{
	struct evlog_open_opts o;
	struct forge g = { NULL, NULL, edit, arg, 0 };
	hsm_signer *mal = NULL;
	evlog *log = NULL;
	json_t *actor = evfix_actor("Mallory Forger", "supervisor");
	uint8_t ski[32], *pt = NULL;
	size_t n = 0;
	char skihex[65], *pk = NULL;
	int ok = -1;

	memset(&o, 0, sizeof(o));
	o.must_exist = 1;
	o.sync = EVLOG_SYNC_NONE;
	if (actor == NULL || signer_from_keyfile(f->mallory_key, &mal) != HSM_OK ||
	    crypto_ski(signer_pub(mal), ski) != HSM_OK ||
	    crypto_ec_point(signer_pub(mal), &pt, &n) != HSM_OK || hex_encode(pt, n, &pk) != HSM_OK)
		goto out;
	hex_encode_buf(ski, 32, skihex);
	g.ski = skihex;
	g.pubkey = pk;
	if (evfix_rewrite(path, forge_edit, &g) != 0 || evlog_open(path, &o, &log) != HSM_OK ||
	    evlog_complete(log, mal, actor, NULL, NULL) != HSM_OK)
		goto out;
	ok = 0;
out:
	evlog_close(&log);
	signer_free(&mal);
	json_decref(actor);
	free(pt);
	free(pk);
	return ok;
}
