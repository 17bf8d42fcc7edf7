/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evlog.c - evidence log: writer, reader, verifier, replayer, and the
 * tamper cases of DESIGN §10.5 (edited, dropped, reordered, truncated
 * records, forged receipts, replaced signatures). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evverify.h"
#include "hsmadm/evreport.h"
#include "hsmadm/signer.h"
#include "hsmadm/x509util.h"
#include "hsmadm/receipt.h"
#include "test_evlog_fixture.h"

#define LAST_SEQ 18          /* records evfix_ceremony writes with COMPLETE */
#define SEQ_THRESHOLDS 9     /* the thresholds.set command.applied record */

static struct evfix F;
static char *golden;         /* a complete, valid ceremony log */
static size_t golden_len;
static int case_no;

static int
setup_all(void **state)
{
	(void)state;
	if (evfix_setup(&F) != 0)
		return -1;
	if (evfix_ceremony(&F, F.log, EVFIX_COMPLETE | EVFIX_NOSYNC, NULL) != HSM_OK) {
		fprintf(stderr, "fixture: %s\n", hsm_errmsg());
		return -1;
	}
	golden = evfix_slurp(F.log, &golden_len);
	return golden == NULL ? -1 : 0;
}

static int
teardown_all(void **state)
{
	(void)state;
	free(golden);
	evfix_teardown(&F);
	return 0;
}

/* A fresh path in the fixture dir. */
static const char *
newpath(char *buf, size_t n)
{
	snprintf(buf, n, "%s/case%d.log", F.dir, ++case_no);
	return buf;
}

static hsm_rc
verify(const char *path, evlog_verify_result *res)
{
	const char *cas[1] = { F.ca_pem };
	struct evlog_verify_opts o = { cas, 1, NULL, 0, 0, NULL, 0, NULL, 0 };

	return evlog_verify(path, &o, res);
}

/* The seq of the line holding byte pos. */
static long long
seq_at(const char *buf, size_t pos)
{
	long long s = 1;
	size_t i;

	for (i = 0; i < pos; i++)
		if (buf[i] == '\n')
			s++;
	return s;
}

static void
test_write_and_verify(void **state)
{
	evlog_verify_result res;

	(void)state;
	assert_int_equal(verify(F.log, &res), HSM_OK);
	assert_true(res.ok);
	assert_true(res.complete);
	assert_int_equal(res.records, LAST_SEQ);
	assert_int_equal(res.head_seq, LAST_SEQ);
	assert_int_equal(res.commands, 3);
	assert_int_equal(res.receipts, 3);
	/* checkpoint + completion + command.signed + 2 on thresholds.set */
	assert_int_equal(res.signatures, 5);
	assert_int_equal(res.exceptions, 1);
	assert_string_equal(res.supervisor_name, "Sam Supervisor");
	assert_string_equal(res.ceremony, "DC1 domain 3 first master key");
	evlog_verify_result_clear(&res);
}

static void
test_replay_state(void **state)
{
	const char *cas[1] = { F.ca_pem };
	struct evlog_verify_opts o = { cas, 1, NULL, 0, 0, NULL, 0, NULL, 0 };
	json_t *st = NULL, *d, *p;

	(void)state;
	assert_int_equal(evlog_replay(F.log, &o, &st), HSM_OK);
	assert_int_equal(json_array_size(json_object_get(st, "domains")), 1);
	d = json_array_get(json_object_get(st, "domains"), 0);
	assert_string_equal(json_string_value(json_object_get(d, "module")), EVFIX_MODULE);
	assert_int_equal(json_integer_value(json_object_get(d, "counter")), 3);
	assert_int_equal(json_array_size(json_object_get(d, "admins")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "thresholds"),
	    "signature")), 2);
	p = json_array_get(json_object_get(st, "key_parts"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "state")), "verified");
	assert_int_equal(json_array_size(json_object_get(p, "card_ids")), 2);
	assert_true(json_is_true(json_object_get(st, "complete")));
	json_decref(st);
}

static void
test_one_writer(void **state)
{
	char path[400];
	evlog *a = NULL, *b = NULL;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evlog_open(path, NULL, &a), HSM_OK);
	assert_int_equal(evlog_open(path, NULL, &b), HSM_ERR_LOCKED);
	assert_null(b);
	assert_non_null(strstr(hsm_errmsg(), "another process"));
	evlog_close(&a);
	assert_null(a);
	assert_int_equal(evlog_open(path, NULL, &b), HSM_OK);
	evlog_close(&b);
}

/* A valid, chained line after the last one of buf (as a writer that ignored
 * the completion would have written it). */
static char *
chained_line(const char *buf, size_t len, long long seq)
{
	const char *last = buf + len - 1;
	evlog_record rec;
	char hex[65], *canon = NULL;
	size_t clen = 0;
	json_t *o;

	while (last > buf && last[-1] != '\n')
		last--;
	assert_int_equal(evlog_parse_line(last, (size_t)(buf + len - 1 - last), &rec), HSM_OK);
	hex_encode_buf(rec.hash, 32, hex);
	evlog_record_clear(&rec);
	o = json_pack("{s:I, s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:s}", "seq", (json_int_t)seq,
	    "time", "2026-11-24T03:00:00Z", "type", "witness.ack", "actor", "name", "W",
	    "role", "witness", "body", "statement", "late", "prev", hex);
	assert_int_equal(cjson_dump(o, &canon, &clen), HSM_OK);
	json_decref(o);
	return canon;
}

static void
test_reopen_continues_chain(void **state)
{
	char path[400], *extra;
	evlog *log = NULL;
	struct evlog_open_opts o;
	json_t *actor = evfix_actor("Fay Facilitator", "facilitator");
	json_t *body = json_pack("{s:s}", "step", "later");
	long long seq = 0;
	evlog_verify_result res;
	FILE *f;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.must_exist = 1;
	newpath(path, sizeof(path));
	assert_int_equal(evlog_open(path, &o, &log), HSM_ERR_NOT_FOUND);
	assert_int_equal(evfix_spit(path, golden, golden_len), 0);
	o.must_create = 1;
	o.must_exist = 0;
	assert_int_equal(evlog_open(path, &o, &log), HSM_ERR_EXISTS);
	o.must_create = 0;
	/* a completed log takes nothing more */
	assert_int_equal(evlog_open(path, &o, &log), HSM_OK);
	evlog_head(log, &seq, NULL);
	assert_int_equal(seq, LAST_SEQ);
	assert_int_equal(evlog_append(log, EV_STEP_BEGIN, actor, body, &seq), HSM_ERR_STATE);
	assert_non_null(strstr(hsm_errmsg(), "is completed"));
	evlog_close(&log);
	/* an incomplete one continues its chain */
	newpath(path, sizeof(path));
	assert_int_equal(evfix_ceremony(&F, path, EVFIX_NOSYNC, NULL), HSM_OK);
	assert_int_equal(evlog_open(path, &o, &log), HSM_OK);
	assert_int_equal(evlog_append(log, EV_STEP_BEGIN, actor, body, &seq), HSM_OK);
	assert_int_equal(seq, LAST_SEQ);
	evlog_close(&log);
	{
		const char *cas[1] = { F.ca_pem };
		struct evlog_verify_opts vo = { cas, 1, NULL, 0, 1, NULL, 0, NULL, 0 };
		assert_int_equal(evlog_verify(path, &vo, &res), HSM_OK);
		assert_int_equal(res.head_seq, LAST_SEQ);
		evlog_verify_result_clear(&res);
	}
	/* a record chained after the completion by someone else: refused */
	newpath(path, sizeof(path));
	extra = chained_line(golden, golden_len, LAST_SEQ + 1);
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(golden, 1, golden_len, f);
	fprintf(f, "%s\n", extra);
	fclose(f);
	free(extra);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, LAST_SEQ + 1);
	assert_non_null(strstr(res.reason, "follows the completion"));
	evlog_verify_result_clear(&res);
	json_decref(actor);
	json_decref(body);
}

static void
test_api_refuses_bad_records(void **state)
{
	char path[400];
	evlog *log = NULL;
	json_t *actor = evfix_actor("Carl Custodian", "custodian");
	json_t *noname = json_pack("{s:s}", "role", "custodian");
	json_t *secret = json_pack("{s:s, s:{s:s}}", "part_id", "p", "card", "pin", "123456");
	json_t *real = json_pack("{s:f}", "x", 1.5);
	json_t *ok = json_pack("{s:s}", "statement", "fine");
	struct stat st1, st2;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(evlog_append(log, EV_CEREMONY_OPEN, actor, ok, NULL), HSM_ERR_USAGE);
	assert_int_equal(evlog_append(log, EV_COMPLETION, actor, ok, NULL), HSM_ERR_USAGE);
	assert_int_equal(evlog_append(log, "Bad Type", actor, ok, NULL), HSM_ERR_USAGE);
	assert_int_equal(evlog_append(log, EV_WITNESS_ACK, noname, ok, NULL), HSM_ERR_USAGE);
	assert_int_equal(evlog_append(log, EV_KEYPART_GENERATED, actor, secret, NULL),
	    HSM_ERR_USAGE);
	assert_non_null(strstr(hsm_errmsg(), "secrets never enter"));
	assert_int_equal(evlog_append(log, EV_WITNESS_ACK, actor, real, NULL), HSM_ERR_USAGE);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_size, st2.st_size);   /* nothing half-written */
	assert_int_equal(evlog_append(log, EV_WITNESS_ACK, actor, ok, NULL), HSM_OK);
	evlog_close(&log);
	json_decref(actor);
	json_decref(noname);
	json_decref(secret);
	json_decref(real);
	json_decref(ok);
}

static void
test_parse_line_strict(void **state)
{
	evlog_record rec;
	const char *good = golden;
	size_t glen = (size_t)(strchr(golden, '\n') - golden);
	char buf[4096];

	(void)state;
	assert_int_equal(evlog_parse_line(good, glen, &rec), HSM_OK);
	assert_int_equal(rec.seq, 1);
	assert_string_equal(rec.type, EV_CEREMONY_OPEN);
	evlog_record_clear(&rec);
	/* a space after the first brace: same JSON, not canonical */
	snprintf(buf, sizeof(buf), "{ %.*s", (int)glen - 1, good + 1);
	assert_int_equal(evlog_parse_line(buf, strlen(buf), &rec), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "canonical"));
	assert_int_equal(evlog_parse_line("{}", 2, &rec), HSM_ERR_FORMAT);
	assert_int_equal(evlog_parse_line("[1]", 3, &rec), HSM_ERR_FORMAT);
	assert_int_equal(evlog_parse_line("", 0, &rec), HSM_ERR_FORMAT);
	assert_null(rec.obj);
}

static void
test_every_byte_flip_is_found(void **state)
{
	char path[400], *buf = malloc(golden_len);
	size_t pos, step, tried = 0;
	evlog_verify_result res;

	(void)state;
	assert_non_null(buf);
	newpath(path, sizeof(path));
	/* ~150 positions spread over the log, plus every 7th byte of the end
	 * (fewer under the sanitizers, which make each verification slow) */
#ifdef __SANITIZE_ADDRESS__
	const size_t spread = 60, endstep = 19;
#else
	const size_t spread = 150, endstep = 7;
#endif
	step = golden_len / spread + 1;
	for (pos = 0; pos < golden_len; pos++) {
		long long s;
		hsm_rc rc;
		int last_line = pos > golden_len - 900;

		if (pos % step != 0 && !(last_line && pos % endstep == 0))
			continue;
		memcpy(buf, golden, golden_len);
		buf[pos] ^= (buf[pos] == '\n') ? 0x20 : 0x01;
		assert_int_equal(evfix_spit(path, buf, golden_len), 0);
		rc = verify(path, &res);
		s = seq_at(golden, pos);
		if (rc != HSM_ERR_AUDIT || !(res.bad_seq == s || res.bad_seq == s + 1))
			fail_msg("flip at byte %zu (seq %lld): rc %d bad_seq %lld reason %s",
			    pos, s, rc, res.bad_seq, res.reason);
		evlog_verify_result_clear(&res);
		tried++;
	}
	assert_true(tried > spread + 900 / endstep - 10);
	free(buf);
}

static int
drop_seq(json_t *rec, long long seq, void *arg)
{
	(void)rec;
	return seq == *(long long *)arg;
}

static void
test_deleted_record(void **state)
{
	char path[400], *p, *q;
	size_t i;
	evlog_verify_result res;
	long long victim = 7;

	(void)state;
	newpath(path, sizeof(path));
	/* cut line 7 out of the bytes */
	p = golden;
	for (i = 1; i < 7; i++)
		p = strchr(p, '\n') + 1;
	q = strchr(p, '\n') + 1;
	{
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fwrite(golden, 1, (size_t)(p - golden), f);
		fwrite(q, 1, golden_len - (size_t)(q - golden), f);
		fclose(f);
	}
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, 7);
	assert_non_null(strstr(res.reason, "says seq 8"));
	evlog_verify_result_clear(&res);
	/* even re-chained by someone who can compute hashes, the gap shows */
	assert_int_equal(evfix_spit(path, golden, golden_len), 0);
	assert_int_equal(evfix_rewrite(path, drop_seq, &victim), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, 7);
	evlog_verify_result_clear(&res);
}

static void
test_swapped_records(void **state)
{
	char path[400], *buf = malloc(golden_len), *l3, *l4, *l5;
	size_t n3, n4;
	evlog_verify_result res;

	(void)state;
	newpath(path, sizeof(path));
	l3 = strchr(strchr(golden, '\n') + 1, '\n') + 1;
	l4 = strchr(l3, '\n') + 1;
	l5 = strchr(l4, '\n') + 1;
	n3 = (size_t)(l4 - l3);
	n4 = (size_t)(l5 - l4);
	memcpy(buf, golden, golden_len);
	memcpy(buf + (l3 - golden), l4, n4);
	memcpy(buf + (l3 - golden) + n4, l3, n3);
	assert_int_equal(evfix_spit(path, buf, golden_len), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, 3);
	evlog_verify_result_clear(&res);
	free(buf);
}

static void
test_truncated_at_line(void **state)
{
	char path[400];
	const char *end = golden + golden_len - 1;
	evlog_verify_result res;

	(void)state;
	newpath(path, sizeof(path));
	while (end[-1] != '\n')
		end--;
	/* drop the completion record: the log now ends at seq 17 */
	assert_int_equal(evfix_spit(path, golden, (size_t)(end - golden)), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, LAST_SEQ - 1);
	assert_non_null(strstr(res.reason, "completion"));
	evlog_verify_result_clear(&res);
	/* allowed while a ceremony is still running */
	{
		const char *cas[1] = { F.ca_pem };
		struct evlog_verify_opts o = { cas, 1, NULL, 0, 1, NULL, 0, NULL, 0 };
		assert_int_equal(evlog_verify(path, &o, &res), HSM_OK);
		assert_false(res.complete);
		evlog_verify_result_clear(&res);
	}
}

static void
test_torn_tail_recovered(void **state)
{
	char path[400];
	const char *end = golden + golden_len - 1;
	size_t cut;
	evlog *log = NULL;
	hsm_signer *sup = NULL;
	json_t *supact = evfix_actor("Sam Supervisor", "supervisor");
	evlog_verify_result res;
	long long seq = 0;

	(void)state;
	newpath(path, sizeof(path));
	while (end[-1] != '\n')
		end--;
	cut = (size_t)(end - golden) + 57;   /* in the middle of the completion line */
	assert_int_equal(evfix_spit(path, golden, cut), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, LAST_SEQ);
	assert_non_null(strstr(res.reason, "no line end"));
	evlog_verify_result_clear(&res);
	/* the next writer cuts the torn line off and records that it did */
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	evlog_head(log, &seq, NULL);
	assert_int_equal(seq, LAST_SEQ);     /* 17 records + log.recovered */
	assert_int_equal(signer_from_keyfile(F.sup_key, &sup), HSM_OK);
	assert_int_equal(evlog_complete(log, sup, supact, NULL, &seq), HSM_OK);
	assert_int_equal(seq, LAST_SEQ + 1);
	evlog_close(&log);
	assert_int_equal(verify(path, &res), HSM_OK);
	assert_int_equal(res.recoveries, 1);
	evlog_verify_result_clear(&res);
	signer_free(&sup);
	json_decref(supact);
}

static int
forge_receipt(json_t *rec, long long seq, void *arg)
{
	json_t *r, *thr;

	(void)arg;
	if (seq != SEQ_THRESHOLDS)
		return 0;
	r = json_array_get(json_object_get(json_object_get(rec, "body"), "receipts"), 0);
	thr = json_object_get(json_object_get(json_object_get(r, "body"), "state"),
	    "thresholds");
	json_object_set_new(thr, "signature", json_integer(1));
	return 0;
}

static void
test_forged_receipt(void **state)
{
	char path[400];
	evlog_verify_result res;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evfix_spit(path, golden, golden_len), 0);
	assert_int_equal(evfix_rewrite(path, forge_receipt, NULL), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, SEQ_THRESHOLDS);
	assert_non_null(strstr(res.reason, "receipt"));
	evlog_verify_result_clear(&res);
}

/* Replace Bob's signature by Mallory's over the same body, keeping Bob's SKI. */
static int
replace_sig(json_t *rec, long long seq, void *arg)
{
	json_t *cmd, *sigs;
	char *canon = NULL, *b64 = NULL;
	size_t clen = 0, siglen = 0;
	uint8_t *sig = NULL;
	hsm_signer *m = NULL;

	if (seq != SEQ_THRESHOLDS)
		return 0;
	cmd = json_object_get(json_object_get(rec, "body"), "command");
	sigs = json_object_get(cmd, "signatures");
	if (signer_from_keyfile((const char *)arg, &m) != HSM_OK ||
	    cjson_dump(json_object_get(cmd, "body"), &canon, &clen) != HSM_OK ||
	    signer_sign(m, canon, clen, &sig, &siglen) != HSM_OK ||
	    b64_encode(sig, siglen, &b64) != HSM_OK)
		abort();
	json_object_set_new(json_array_get(sigs, 1), "signature", json_string(b64));
	free(canon);
	free(sig);
	free(b64);
	signer_free(&m);
	return 0;
}

static void
test_admin_signature_replaced(void **state)
{
	char path[400];
	evlog_verify_result res;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evfix_spit(path, golden, golden_len), 0);
	assert_int_equal(evfix_rewrite(path, replace_sig, F.mallory_key), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, SEQ_THRESHOLDS);
	assert_non_null(strstr(res.reason, "thresholds.set"));
	evlog_verify_result_clear(&res);
}

static void
test_quorum_replayed_from_log(void **state)
{
	char path[400];
	evlog_verify_result res;

	(void)state;
	/* the module signed a receipt for a command with 1 of 2 signatures:
	 * the auditor's replay of the log's own admin set catches it */
	newpath(path, sizeof(path));
	assert_int_equal(evfix_ceremony(&F, path, EVFIX_COMPLETE | EVFIX_NOSYNC, NULL),
	    HSM_OK);
	unlink(path);
	assert_int_equal(evfix_ceremony(&F, path, EVFIX_COMPLETE | EVFIX_NOSYNC |
	    EVFIX_WEAK_QUORUM, NULL), HSM_OK);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, SEQ_THRESHOLDS);
	assert_non_null(strstr(res.reason, "1 more needed"));
	evlog_verify_result_clear(&res);
}

/* A module that lies in a receipt it signs: Bob's admin.add receipt (seq 7)
 * shows the admin set without Bob. */
static int
lying_module(json_t *rec, long long seq, void *arg)
{
	json_t *r, *body, *st, *signed_ = NULL;
	uint8_t d[32];
	char hex[65];

	(void)arg;
	if (seq != 7)
		return 0;
	r = json_array_get(json_object_get(json_object_get(rec, "body"), "receipts"), 0);
	body = json_deep_copy(json_object_get(r, "body"));
	st = json_object_get(body, "state");
	json_array_remove(json_object_get(st, "admins"), 1);
	if (cjson_digest(st, d) != HSM_OK)
		abort();
	hex_encode_buf(d, 32, hex);
	json_object_set_new(body, "state_digest", json_string(hex));
	if (receipt_sign(body, F.oa_key, F.oa, &signed_) != HSM_OK)
		abort();
	json_array_set_new(json_object_get(json_object_get(rec, "body"), "receipts"), 0, signed_);
	json_decref(body);
	return 0;
}

static void
test_receipt_effect_checked(void **state)
{
	char path[400];
	evlog_verify_result res;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evfix_spit(path, golden, golden_len), 0);
	assert_int_equal(evfix_rewrite(path, lying_module, NULL), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, 7);
	assert_non_null(strstr(res.reason, "receipt lists 1 admins; the log's replay gives 2"));
	evlog_verify_result_clear(&res);
}

static void
test_receipts_need_the_ca(void **state)
{
	evlog_verify_result res;
	struct evlog_verify_opts o = { NULL, 0, NULL, 0, 0, NULL, 0, NULL, 0 };
	char other[400];
	const char *cas[1] = { other };
	EVP_PKEY *k = NULL;
	X509 *ca = NULL;

	(void)state;
	/* a missing anchor is the auditor's omission, not tampering: usage */
	assert_int_equal(evlog_verify(F.log, &o, &res), HSM_ERR_USAGE);
	assert_int_equal(res.ok, 0);
	assert_non_null(strstr(hsm_errmsg(), "seq 5: "));
	assert_non_null(strstr(hsm_errmsg(), "--module-ca"));
	evlog_verify_result_clear(&res);
	/* a CA that did not issue the module's OA certificate */
	snprintf(other, sizeof(other), "%s/other-ca.pem", F.dir);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
	assert_int_equal(x509u_issue(X509U_MODULE_CA, "Other CA", NULL, k, NULL, k, 1, &ca),
	    HSM_OK);
	assert_int_equal(x509u_save_pem(other, ca), HSM_OK);
	o.module_ca_files = cas;
	o.n_module_ca = 1;
	assert_int_equal(evlog_verify(F.log, &o, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, 5);
	evlog_verify_result_clear(&res);
	EVP_PKEY_free(k);
	X509_free(ca);
}

static void
test_pinned_supervisor(void **state)
{
	const char *cas[1] = { F.ca_pem };
	const char *pins[1] = { F.sup_pub };
	const char *wrong[1] = { F.ca_pem };   /* a certificate of another key */
	struct evlog_verify_opts o = { cas, 1, pins, 1, 0, NULL, 0, NULL, 0 };
	evlog_verify_result res;

	(void)state;
	assert_int_equal(evlog_verify(F.log, &o, &res), HSM_OK);
	evlog_verify_result_clear(&res);
	o.supervisor_key_files = wrong;
	assert_int_equal(evlog_verify(F.log, &o, &res), HSM_ERR_AUDIT);
	assert_int_equal(res.bad_seq, LAST_SEQ);
	assert_non_null(strstr(res.reason, "pinned"));
	evlog_verify_result_clear(&res);
}

static char *report_of(const char *path, enum evreport_format fmt, int allow_incomplete,
                       hsm_rc *rc);

/* For each load: which part, from whose card. */
static void
test_report_loads(void **state)
{
	char path[400], *txt;
	hsm_rc rc;

	(void)state;
	newpath(path, sizeof(path));
	assert_int_equal(evfix_ceremony(&F, path, EVFIX_COMPLETE | EVFIX_NOSYNC | EVFIX_MKFULL,
	    NULL), HSM_OK);
	txt = report_of(path, EVREPORT_TEXT, 0, &rc);
	assert_int_equal(rc, HSM_OK);
	assert_non_null(strstr(txt, "seq 16  DC1-M01/3  part-1  KPVP 5a1b 2c3d"));
	assert_non_null(strstr(txt, "from card c0ffee01 of Carl Custodian"));
	assert_non_null(strstr(txt, "DC1-M01 / 3  current  valid  5c5c5c5c"));
	free(txt);
}

static void
test_missing_file(void **state)
{
	evlog_verify_result res;
	char path[400];

	(void)state;
	snprintf(path, sizeof(path), "%s/nope.log", F.dir);
	assert_int_equal(verify(path, &res), HSM_ERR_NOT_FOUND);
	evlog_verify_result_clear(&res);
	newpath(path, sizeof(path));
	assert_int_equal(evfix_spit(path, "", 0), 0);
	assert_int_equal(verify(path, &res), HSM_ERR_AUDIT);
	evlog_verify_result_clear(&res);
}

static char *
report_of(const char *path, enum evreport_format fmt, int allow_incomplete, hsm_rc *rc)
{
	const char *cas[1] = { F.ca_pem };
	const char *pins[1] = { F.sup_pub };
	struct evlog_verify_opts o = { cas, 1, pins, 1, allow_incomplete, NULL, 0, NULL, 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*rc = evlog_report(path, &o, fmt, f, NULL);
	fclose(f);
	return buf;
}

static void
test_report(void **state)
{
	char path[400], *txt, *html;
	evlog *log = NULL;
	json_t *actor = evfix_actor("Mallory <b>", "facilitator");
	json_t *body = json_pack("{s:s, s:s}", "what", "<script>alert(1)</script>",
	    "reason", "one\nVerdict:    VERIFIED");
	hsm_rc rc;

	(void)state;
	txt = report_of(F.log, EVREPORT_TEXT, 0, &rc);
	assert_int_equal(rc, HSM_OK);
	assert_non_null(strstr(txt, "Verdict:    VERIFIED"));
	assert_non_null(strstr(txt, "Supervisor: Sam Supervisor"));
	assert_non_null(strstr(txt, "KPVP 5a1b 2c3d 4e5f 6071 8293 a4b5 c6d7 e8f9"));
	assert_non_null(strstr(txt, "signed by Alice Example (SKI"));
	assert_non_null(strstr(txt, "EXCEPTION: card reader swapped"));
	/* per person: role, cards with backups, every approval */
	assert_non_null(strstr(txt, "Carl Custodian (custodian)\n  cards:     c0ffee01, c0ffee02 (backup)"));
	assert_non_null(strstr(txt, "Bob Example (admin)"));
	assert_non_null(strstr(txt, "seq 9: signature counted on the applied thresholds.set"));
	assert_non_null(strstr(txt, "seq 8: signed thresholds.set"));
	assert_non_null(strstr(txt, "signed the completion over seq 17"));
	assert_non_null(strstr(txt, "Master-key verification patterns, per domain and register"));
	assert_non_null(strstr(txt, "DC1-M01 / 3  current  empty  (none)"));
	assert_non_null(strstr(txt, "Auditor     Name: ____"));
	free(txt);
	html = report_of(F.log, EVREPORT_HTML, 0, &rc);
	assert_int_equal(rc, HSM_OK);
	assert_non_null(strstr(html, "<span class=\"ok\">VERIFIED"));
	assert_non_null(strstr(html, "@page"));
	assert_non_null(strstr(html, "<table class=\"sign\">"));
	assert_null(strstr(html, "<script"));
	free(html);

	/* log text cannot inject markup or fake report lines */
	newpath(path, sizeof(path));
	assert_int_equal(evlog_open(path, NULL, &log), HSM_OK);
	assert_int_equal(evlog_append(log, EV_EXCEPTION, actor, body, NULL), HSM_OK);
	evlog_close(&log);
	html = report_of(path, EVREPORT_HTML, 1, &rc);
	assert_int_equal(rc, HSM_OK);
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<b>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	free(html);
	txt = report_of(path, EVREPORT_TEXT, 1, &rc);
	assert_null(strstr(txt, "\nVerdict:    VERIFIED\n"));
	assert_non_null(strstr(txt, "one?Verdict"));
	free(txt);

	/* a failed log is reported, up to its last good record, and says so */
	{
		char *buf = malloc(golden_len);
		assert_non_null(buf);
		memcpy(buf, golden, golden_len);
		*strstr(buf, "card reader swapped") = 'C';
		newpath(path, sizeof(path));
		assert_int_equal(evfix_spit(path, buf, golden_len), 0);
		free(buf);
	}
	html = report_of(path, EVREPORT_HTML, 0, &rc);
	assert_int_equal(rc, HSM_ERR_AUDIT);
	assert_non_null(strstr(html, "FAILED at seq 14: prev hash does not match seq 13"));
	/* every record is shown: the first bad one marked, the rest as not
	 * checked, down to the completion */
	assert_non_null(strstr(html, "<tr class=\"badrow\"><td>14</td>"));
	assert_non_null(strstr(html, "FIRST BAD RECORD: seq 14"));
	assert_non_null(strstr(html, "<tr class=\"unchecked\"><td>18</td>"));
	assert_non_null(strstr(html, "not checked: after the first bad record"));
	free(html);
	txt = report_of(path, EVREPORT_TEXT, 0, &rc);
	assert_non_null(strstr(txt, ">>   14  "));
	assert_non_null(strstr(txt, "Completion signed by Sam Supervisor"));
	free(txt);
	json_decref(actor);
	json_decref(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_and_verify),
		cmocka_unit_test(test_replay_state),
		cmocka_unit_test(test_one_writer),
		cmocka_unit_test(test_reopen_continues_chain),
		cmocka_unit_test(test_api_refuses_bad_records),
		cmocka_unit_test(test_parse_line_strict),
		cmocka_unit_test(test_every_byte_flip_is_found),
		cmocka_unit_test(test_deleted_record),
		cmocka_unit_test(test_swapped_records),
		cmocka_unit_test(test_truncated_at_line),
		cmocka_unit_test(test_torn_tail_recovered),
		cmocka_unit_test(test_forged_receipt),
		cmocka_unit_test(test_admin_signature_replaced),
		cmocka_unit_test(test_quorum_replayed_from_log),
		cmocka_unit_test(test_receipts_need_the_ca),
		cmocka_unit_test(test_receipt_effect_checked),
		cmocka_unit_test(test_pinned_supervisor),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_report_loads),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
