/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_fixture.c - the set-up and the flows sign, part, append and verify
 * (the module flow is in fault_module.c). A flow's run() does what a
 * command does, in the same order, and keeps its results in the fixture so
 * that check() can look at them after the failure is disarmed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/crypto.h"
#include "hsmadm/envelope.h"
#include "hsmadm/evlog.h"
#include "hsmadm/kpwrap.h"

#include "fault_fixture.h"
#include "fault_card.h"
#include "fault_module.h"

#define CK(x) do { if ((rc = (x)) != HSM_OK) goto out; } while (0)

static const char sign_msg[] = "hsmadm fault injection: a message to sign";

/* ---- sign: a key-file signer signs a message and an admin command ---- */

static hsm_rc
sign_run(struct fault_fx *fx)
{
	admincmd_target t = { "DC1-M01", 3, 7 };
	int64_t now = (int64_t)time(NULL);
	hsm_rc rc;

	CK(signer_from_keyfile(fx->ev.alice_key, &fx->signer));
	CK(signer_sign(fx->signer, sign_msg, sizeof(sign_msg) - 1, &fx->sig, &fx->siglen));
	CK(admincmd_new(ADMINCMD_OP_ZEROIZE, NULL, &t, 1, now - 60, now + 3600, &fx->cmd));
	CK(admincmd_sign(fx->cmd, fx->signer));
	CK(admincmd_dump(fx->cmd, &fx->dump, &fx->dumplen));
out:
	return rc;
}

static int
sign_check(struct fault_fx *fx, hsm_rc rc)
{
	admincmd *back = NULL;
	int bad;

	if (rc != HSM_OK)
		return 0;
	if (crypto_ecdsa_verify(fx->signer_pub, sign_msg, sizeof(sign_msg) - 1, fx->sig,
	                        fx->siglen) != HSM_OK)
		return 1;
	/* The command file reads back with the one signature on it. */
	bad = admincmd_parse(fx->dump, fx->dumplen, &back) != HSM_OK ||
	      admincmd_nsigs(back) != 1;
	admincmd_free(&back);
	return bad;
}

static void
sign_clean(struct fault_fx *fx)
{
	signer_free(&fx->signer);
	free(fx->sig);
	fx->sig = NULL;
	admincmd_free(&fx->cmd);
	free(fx->dump);
	fx->dump = NULL;
}

/* ---- part: seal to a card, open with the card's key, wrap for an importer
 * key, through the JSON form, unwrap with the importer's key ---- */

static hsm_rc
part_run(struct fault_fx *fx)
{
	kpwrap_binding b = { "DC1-M01", 3, 1 };
	kpwrap_blob blob, back;
	hsm_keyagree *card = NULL, *importer = NULL;
	json_t *j = NULL;
	uint8_t kpvp[HSM_VP_LEN];
	hsm_rc rc;

	CK(envelope_seal(fx->part, fx->card_pub, "CARD-0001", "PART-1", fx->kpvp, &fx->env,
	                 &fx->envlen));
	CK(keyagree_from_keyfile(fx->card_key, &card));
	CK(envelope_open(fx->env, fx->envlen, card, "CARD-0001", "PART-1", &fx->opened, kpvp));
	CK(kpwrap_wrap(fx->opened, fx->importer_pub, &b, &blob));
	CK(kpwrap_blob_to_json(&blob, &j));
	CK(kpwrap_blob_from_json(j, &back));
	CK(keyagree_from_keyfile(fx->importer_key, &importer));
	CK(kpwrap_unwrap(&back, importer, &b, &fx->unwrapped));
out:
	json_decref(j);
	keyagree_free(&card);
	keyagree_free(&importer);
	return rc;
}

static int
part_check(struct fault_fx *fx, hsm_rc rc)
{
	if (rc != HSM_OK)
		return 0;
	return fx->unwrapped == NULL || fx->unwrapped->len != fx->part->len ||
	       memcmp(fx->unwrapped->data, fx->part->data, fx->part->len) != 0;
}

static void
part_clean(struct fault_fx *fx)
{
	free(fx->env);
	fx->env = NULL;
	secbuf_free(&fx->opened);
	secbuf_free(&fx->unwrapped);
}

/* ---- append: open an existing log, append one record, close ---- */

static int
append_reset(struct fault_fx *fx)
{
	return evfix_spit(fx->append_log, fx->append_pristine, fx->append_pristine_len);
}

static hsm_rc
append_run(struct fault_fx *fx)
{
	struct evlog_open_opts o;
	evlog *log = NULL;
	json_t *actor = evfix_actor("Wendy Witness", "witness");
	json_t *body = json_pack("{s:s}", "statement", "I saw the parts loaded.");
	hsm_rc rc;

	memset(&o, 0, sizeof(o));
	o.must_exist = 1;
	o.sync = EVLOG_SYNC_EACH;
	if (actor == NULL || body == NULL) {
		rc = hsm_fail(HSM_ERR_INTERNAL, "fixture: cannot build the record");
		goto out;
	}
	CK(evlog_open(fx->append_log, &o, &log));
	CK(evlog_append(log, EV_WITNESS_ACK, actor, body, NULL));
out:
	evlog_close(&log);
	json_decref(actor);
	json_decref(body);
	return rc;
}

/* Records in a log read strictly (a torn last line is HSM_ERR_FORMAT);
 * -1 if it does not read. */
static long long
count_records(const char *path)
{
	evlog_reader *r = NULL;
	evlog_record rec;
	long long n = 0;
	hsm_rc rc;

	memset(&rec, 0, sizeof(rec));
	if (evlog_reader_open(path, &r) != HSM_OK)
		return -1;
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK)
		n++;
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	return rc == HSM_ERR_NOT_FOUND ? n : -1;
}

/* The log holds the old records and maybe the new one, whole; it verifies;
 * and the writer opens it again. */
static int
append_check(struct fault_fx *fx, hsm_rc rc)
{
	struct evlog_verify_opts vo;
	evlog_verify_result res;
	evlog *log = NULL;
	long long n = count_records(fx->append_log);
	int bad;

	if (n != fx->append_records && n != fx->append_records + 1) {
		size_t len = 0;
		char *text = evfix_slurp(fx->append_log, &len);

		fprintf(stderr, "append: %lld records, expected %lld or %lld:\n%s\n", n,
		        fx->append_records, fx->append_records + 1, text ? text : "(unreadable)");
		free(text);
		return 1;
	}
	if (rc == HSM_OK && n != fx->append_records + 1)
		return 1;
	memset(&vo, 0, sizeof(vo));
	vo.allow_incomplete = 1;
	memset(&res, 0, sizeof(res));
	bad = evlog_verify(fx->append_log, &vo, &res) != HSM_OK || !res.ok;
	if (bad)
		fprintf(stderr, "append: the log does not verify: %s\n", res.reason);
	evlog_verify_result_clear(&res);
	if (!bad && evlog_open(fx->append_log, NULL, &log) != HSM_OK) {
		fprintf(stderr, "append: the log does not open again: %s\n", hsm_errmsg());
		bad = 1;
	}
	evlog_close(&log);
	return bad;
}

/* ---- verify: a whole ceremony with receipts and completion ---- */

static hsm_rc
verify_run(struct fault_fx *fx)
{
	const char *ca[1] = { fx->ev.ca_pem }, *sup[1] = { fx->ev.sup_pub };
	struct evlog_verify_opts o;

	memset(&o, 0, sizeof(o));
	o.module_ca_files = ca;
	o.n_module_ca = 1;
	o.supervisor_key_files = sup;
	o.n_supervisor_keys = 1;
	return evlog_verify(fx->verify_log, &o, &fx->res);
}

static int
verify_check(struct fault_fx *fx, hsm_rc rc)
{
	if (rc != HSM_OK)
		return 0;
	return !fx->res.ok || !fx->res.complete || fx->res.receipts == 0;
}

static void
verify_clean(struct fault_fx *fx)
{
	evlog_verify_result_clear(&fx->res);
	memset(&fx->res, 0, sizeof(fx->res));
}

/* Failures the module flow may survive, by design of the code that meets
 * them: the group engine runs members in the calling thread when it cannot
 * allocate threads, keeps no decoded key when its cache cannot grow, and
 * skips its verification memo (admincmd_memo_new, memo_key; and the
 * receipts' batch-signature memo);
 * the emulator does not need the receipt line count (it is "unknown"
 * until the next read). */
/* The comparison of the group after a run is what the report shows next to
 * the outcome; without it the report says nothing about equality (and a
 * roll-forward is reported divergent, the safe side): best effort. So is
 * checking the modules' pinned OA certificates while the read waits (its
 * thread, and each check in it): a certificate not checked ahead is
 * checked with its first receipt. */
static const char *const module_best_effort[] = {
	"calloc@grp_run_batches", "strdup@grp_pubkey_cached", "*@memo_key", "*@count_lines",
	"calloc@after_compare", "*@grp_compare_json", "calloc@receipt_memo_new",
	"strdup@pkmemo_add", "*@grp_oa_warm_start", "*@group_oa_trust",
	"calloc@admincmd_memo_new", NULL
};

/* A verifier that cannot allocate its memo of batch signatures checks each
 * receipt's signature (receipt.h); "*@memo_key" is that memo's key. */
static const char *const verify_best_effort[] = {
	"calloc@receipt_memo_new", "*@memo_key", "strdup@pkmemo_add", NULL
};

/* The card's ATR is read for display only. */
static const char *const card_best_effort[] = { "SCardStatus@pcsc_connect", NULL };

const struct fault_flow fault_flows[] = {
	{ "sign", NULL, sign_run, sign_check, sign_clean, NULL, NULL },
	{ "part", NULL, part_run, part_check, part_clean, NULL, NULL },
	{ "append", append_reset, append_run, append_check, NULL, NULL, NULL },
	{ "verify", NULL, verify_run, verify_check, verify_clean, verify_best_effort, NULL },
	{ "module", fault_module_reset, fault_module_run, fault_module_check,
	  fault_module_clean, module_best_effort, NULL },
	{ "card", fault_card_reset, fault_card_run, fault_card_check, fault_card_clean,
	  card_best_effort, "FAULT_CARD_READER" },
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};

/* ---- set-up ---- */

static hsm_rc
new_keyfile(struct fault_fx *fx, const char *name, char *path, size_t n, EVP_PKEY **pub)
{
	hsm_rc rc;

	snprintf(path, n, "%s/%s", fx->ev.dir, name);
	if ((rc = crypto_ec_generate(HSM_CURVE_P384, pub)) != HSM_OK)
		return rc;
	return crypto_priv_save_pem(path, *pub);
}

static hsm_rc
make_append_log(struct fault_fx *fx)
{
	struct evlog_open_opts o;
	evlog *log = NULL;
	hsm_rc rc;

	snprintf(fx->append_log, sizeof(fx->append_log), "%s/append.log", fx->ev.dir);
	memset(&o, 0, sizeof(o));
	o.log_id = "fault-append";
	o.must_create = 1;
	o.sync = EVLOG_SYNC_NONE;
	if ((rc = evlog_open(fx->append_log, &o, &log)) != HSM_OK)
		return rc;
	evlog_close(&log);
	if ((fx->append_records = count_records(fx->append_log)) < 1)
		return hsm_fail(HSM_ERR_INTERNAL, "fixture: the new log does not read back");
	fx->append_pristine = evfix_slurp(fx->append_log, &fx->append_pristine_len);
	return fx->append_pristine == NULL ? hsm_fail(HSM_ERR_IO, "fixture: cannot read the log")
	                                   : HSM_OK;
}

int
fault_fx_setup(struct fault_fx *fx)
{
	uint8_t raw[HSM_KEY_LEN];
	hsm_rc rc;

	memset(fx, 0, sizeof(*fx));
	fx->pin_fd = -1;
	if (evfix_setup(&fx->ev) != 0)
		return -1;
	CK(crypto_priv_load_pem(fx->ev.alice_key, &fx->signer_pub));
	CK(new_keyfile(fx, "card9d.pem", fx->card_key, sizeof(fx->card_key), &fx->card_pub));
	CK(new_keyfile(fx, "importer.pem", fx->importer_key, sizeof(fx->importer_key),
	               &fx->importer_pub));
	CK(crypto_random(raw, sizeof(raw)));
	CK(secbuf_from(raw, sizeof(raw), &fx->part));
	secure_wipe(raw, sizeof(raw));
	CK(vp_compute(fx->part->data, fx->kpvp));
	CK(make_append_log(fx));
	snprintf(fx->verify_log, sizeof(fx->verify_log), "%s/ceremony.log", fx->ev.dir);
	CK(evfix_ceremony(&fx->ev, fx->verify_log, EVFIX_COMPLETE | EVFIX_NOSYNC, NULL));
	CK(fault_module_setup(fx));
out:
	return rc == HSM_OK ? 0 : -1;
}

void
fault_fx_teardown(struct fault_fx *fx)
{
	fault_module_teardown(fx);
	EVP_PKEY_free(fx->signer_pub);
	EVP_PKEY_free(fx->card_pub);
	EVP_PKEY_free(fx->importer_pub);
	secbuf_free(&fx->part);
	free(fx->append_pristine);
	evfix_teardown(&fx->ev);
}
