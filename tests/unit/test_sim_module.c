/* SPDX-License-Identifier: BSD-2-Clause */
/* test_sim_module.c - the emulated module without the network: init,
 * issue-client, request dispatch, receipts that verify against the module
 * CA, persistence across a restart, the test-only faults, and the receipts
 * each domain keeps (domain.receipts). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/modproto.h"
#include "hsmadm/receipt.h"
#include "hsmadm/signer.h"
#include "hsmadm/x509util.h"

#include "simmod.h"
#include "simrcpt.h"

typedef struct fx {
	char        tmp[64];
	char        dir[128];
	simmod     *m;
	hsm_signer *adm;
	char       *pubhex;
	long long   id;
} fx;

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	simmod_init_opts o;
	EVP_PKEY *k = NULL;
	uint8_t *pt = NULL;
	size_t ptlen;
	char path[160];

	snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_sim_module.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/st", f->tmp);
	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.serial = "DC1-M01";
	o.domains = 4;
	assert_int_equal(simmod_init(&o, NULL), HSM_OK);
	assert_int_equal(simmod_open(f->dir, NULL, &f->m), HSM_OK);
	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
	snprintf(path, sizeof(path), "%s/admin.pem", f->tmp);
	assert_int_equal(crypto_priv_save_pem(path, k), HSM_OK);
	assert_int_equal(signer_from_keyfile(path, &f->adm), HSM_OK);
	assert_int_equal(crypto_ec_point(k, &pt, &ptlen), HSM_OK);
	assert_int_equal(hex_encode(pt, ptlen, &f->pubhex), HSM_OK);
	free(pt);
	EVP_PKEY_free(k);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	char cmd[128];

	simmod_free(&f->m);
	signer_free(&f->adm);
	free(f->pubhex);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->tmp);
	free(f);
	return 0;
}

/* Send a request; return the answer (new reference). */
static json_t *
ask(fx *f, const char *op, json_t *params, int *drop)
{
	json_t *req = NULL, *ans = NULL;
	int d = 0;

	assert_int_equal(modproto_request_new(++f->id, op, params, &req), HSM_OK);
	json_decref(params);
	assert_int_equal(simmod_handle(f->m, req, &ans, &d), HSM_OK);
	json_decref(req);
	if (drop != NULL)
		*drop = d;
	else
		assert_int_equal(d, 0);
	return ans;
}

static const char *
err_reason(json_t *ans)
{
	return json_string_value(json_object_get(json_object_get(ans, "error"), "reason"));
}

static json_t *
cmd_add(fx *f, unsigned domain, long long counter)
{
	admincmd *c = NULL;
	admincmd_target t = { "DC1-M01", domain, (uint64_t)counter };
	json_t *p = json_pack("{s:s, s:s, s:s}", "pubkey", f->pubhex, "name", "Alice", "identity", "alice");
	json_t *j = NULL;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(admincmd_new("admin.add", p, &t, 1, now - 60, now + 600, &c), HSM_OK);
	assert_int_equal(admincmd_to_json(c, &j), HSM_OK);
	admincmd_free(&c);
	json_decref(p);
	return j;
}

static void
test_hello_and_query(void **state)
{
	fx *f = *state;
	json_t *a;

	a = ask(f, "hello", NULL, NULL);
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "result"), "module")), "DC1-M01");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "result"), "domains")), 4);
	json_decref(a);
	a = ask(f, "domain.query", json_pack("{s:i}", "domain", 3), NULL);
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_non_null(json_object_get(json_object_get(a, "result"), "state_digest"));
	json_decref(a);
	a = ask(f, "domain.query", json_pack("{s:i}", "domain", 4), NULL);
	assert_string_equal(err_reason(a), "no_such_domain");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "error"), "code")), MODPROTO_E_NOT_FOUND);
	json_decref(a);
	a = ask(f, "domain.query", json_pack("{s:s}", "domain", "3"), NULL);
	assert_string_equal(err_reason(a), "bad_request");
	json_decref(a);
	a = ask(f, "reboot", NULL, NULL);
	assert_string_equal(err_reason(a), "unknown_op");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "error"), "code")), MODPROTO_E_UNKNOWN_OP);
	json_decref(a);
	/* not a request at all */
	{
		json_t *junk = json_pack("[i]", 1), *ans = NULL;
		int d = 0;
		assert_int_equal(simmod_handle(f->m, junk, &ans, &d), HSM_OK);
		assert_int_equal(json_integer_value(json_object_get(ans, "id")), -1);
		assert_string_equal(err_reason(ans), "bad_request");
		json_decref(ans);
		json_decref(junk);
	}
}

static void
test_apply_receipt_and_restart(void **state)
{
	fx *f = *state;
	json_t *a, *r, *body;
	const json_t *vb = NULL;
	char ca[200], dfile[200];
	struct stat sb;

	a = ask(f, "command.apply", json_pack("{s:i, s:o}", "domain", 2, "command", cmd_add(f, 2, 0)), NULL);
	assert_true(json_is_true(json_object_get(a, "ok")));
	r = json_object_get(json_object_get(a, "result"), "receipt");
	snprintf(ca, sizeof(ca), "%s/ca.pem", f->dir);
	assert_int_equal(receipt_verify_file(r, ca, "DC1-M01", &vb), HSM_OK);
	body = (json_t *)vb;
	assert_string_equal(json_string_value(json_object_get(body, "op")), "admin.add");
	assert_int_equal(json_integer_value(json_object_get(body, "counter_before")), 0);
	assert_int_equal(json_integer_value(json_object_get(body, "counter_after")), 1);
	assert_int_equal(json_integer_value(json_object_get(body, "domain")), 2);
	assert_non_null(json_object_get(json_object_get(body, "state"), "registers"));
	json_decref(a);
	/* The domain file exists, private (0600). */
	snprintf(dfile, sizeof(dfile), "%s/domains/02.json", f->dir);
	assert_int_equal(stat(dfile, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* Replay: refused, state unchanged. */
	a = ask(f, "command.apply", json_pack("{s:i, s:o}", "domain", 2, "command", cmd_add(f, 2, 0)), NULL);
	assert_string_equal(err_reason(a), "counter_mismatch");
	json_decref(a);
	/* A command for domain 2 given as domain 1. */
	a = ask(f, "command.apply", json_pack("{s:i, s:o}", "domain", 1, "command", cmd_add(f, 2, 1)), NULL);
	assert_string_equal(err_reason(a), "not_a_target");
	json_decref(a);
	a = ask(f, "command.apply", json_pack("{s:i, s:s}", "domain", 1, "command", "x"), NULL);
	assert_string_equal(err_reason(a), "bad_request");
	json_decref(a);
	/* Restart: the state is read back from the file. */
	simmod_free(&f->m);
	assert_int_equal(simmod_open(f->dir, NULL, &f->m), HSM_OK);
	a = ask(f, "domain.query", json_pack("{s:i}", "domain", 2), NULL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "result"), "counter")), 1);
	assert_int_equal(json_array_size(json_object_get(json_object_get(a, "result"), "admins")), 1);
	json_decref(a);
}

static void
test_faults(void **state)
{
	fx *f = *state;
	simmod_faults fl = { 1, 2, 0, 0 };   /* drop the 1st apply request; drop after the 2nd applied */
	json_t *a;
	int drop = 0;

	simmod_free(&f->m);
	assert_int_equal(simmod_open(f->dir, &fl, &f->m), HSM_OK);
	a = ask(f, "command.apply", json_pack("{s:i, s:o}", "domain", 0, "command", cmd_add(f, 0, 0)), &drop);
	assert_int_equal(drop, 1);
	assert_null(a);
	/* nothing applied */
	a = ask(f, "domain.query", json_pack("{s:i}", "domain", 0), NULL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "result"), "counter")), 0);
	json_decref(a);
	a = ask(f, "command.apply", json_pack("{s:i, s:o}", "domain", 0, "command", cmd_add(f, 0, 0)), &drop);
	assert_int_equal(drop, 0);
	json_decref(a);
	a = ask(f, "command.apply", json_pack("{s:i, s:o}", "domain", 1, "command", cmd_add(f, 1, 0)), &drop);
	assert_int_equal(drop, 1);
	assert_null(a);
	/* applied and persisted although unanswered */
	a = ask(f, "domain.query", json_pack("{s:i}", "domain", 1), NULL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "result"), "counter")), 1);
	json_decref(a);
}

static json_t *
receipts_of(fx *f, unsigned domain, long long from)
{
	json_t *a = ask(f, "domain.receipts", json_pack("{s:i, s:I}", "domain", (int)domain,
	                "from_counter", (json_int_t)from), NULL);
	json_t *r;

	assert_true(json_is_true(json_object_get(a, "ok")));
	r = json_incref(json_object_get(json_object_get(a, "result"), "receipts"));
	assert_true(json_is_array(r));
	json_decref(a);
	return r;
}

static long long
rc_ctr(const json_t *r, const char *k)
{
	return (long long)json_integer_value(json_object_get(json_object_get(r, "body"), k));
}

/* A receipt whose answer was dropped is kept and can be fetched again after
 * a restart; a receipt of a change that was never saved is not handed out;
 * a torn line does not hide later receipts; bad requests are refused. */
static void
test_receipts_kept(void **state)
{
	fx *f = *state;
	simmod_faults fl = { 0, 1, 0, 0 };   /* drop the answer to the 1st applied command */
	json_t *a, *r, *cmd;
	const json_t *vb = NULL;
	char ca[200], rfile[200];
	uint8_t dg[32];
	char dghex[65];
	FILE *fp;
	int drop = 0;

	simmod_free(&f->m);
	assert_int_equal(simmod_open(f->dir, &fl, &f->m), HSM_OK);
	cmd = cmd_add(f, 1, 0);
	assert_int_equal(cjson_digest(json_object_get(cmd, "body"), dg), HSM_OK);
	hex_encode_buf(dg, 32, dghex);
	a = ask(f, "command.apply", json_pack("{s:i, s:o}", "domain", 1, "command", cmd), &drop);
	assert_int_equal(drop, 1);
	assert_null(a);
	/* nothing kept for another domain */
	r = receipts_of(f, 0, 0);
	assert_int_equal(json_array_size(r), 0);
	json_decref(r);
	/* restart: the unanswered command's receipt is still there, and verifies */
	simmod_free(&f->m);
	assert_int_equal(simmod_open(f->dir, NULL, &f->m), HSM_OK);
	r = receipts_of(f, 1, 0);
	assert_int_equal(json_array_size(r), 1);
	snprintf(ca, sizeof(ca), "%s/ca.pem", f->dir);
	assert_int_equal(receipt_verify_file(json_array_get(r, 0), ca, "DC1-M01", &vb), HSM_OK);
	assert_string_equal(json_string_value(json_object_get(vb, "command_digest")), dghex);
	assert_int_equal(rc_ctr(json_array_get(r, 0), "counter_before"), 0);
	assert_int_equal(rc_ctr(json_array_get(r, 0), "counter_after"), 1);
	json_decref(r);
	r = receipts_of(f, 1, 1);
	assert_int_equal(json_array_size(r), 0);
	json_decref(r);

	/* A crash between keeping a receipt and saving the state leaves a
	 * receipt for counter 1 -> 2 that never happened, then a torn line. */
	snprintf(rfile, sizeof(rfile), "%s/domains/01.receipts.jsonl", f->dir);
	assert_non_null(fp = fopen(rfile, "a"));
	fputs("{\"body\":{\"counter_after\":2,\"counter_before\":1}}\n{\"body\":{\"count", fp);
	fclose(fp);
	r = receipts_of(f, 1, 0);
	assert_int_equal(json_array_size(r), 1);   /* the unsaved change is not handed out */
	json_decref(r);
	/* the next command at counter 1 supersedes it; the torn line stays junk */
	simmod_free(&f->m);
	assert_int_equal(simmod_open(f->dir, NULL, &f->m), HSM_OK);
	{	/* a second admin, Bob, at counter 1 */
		EVP_PKEY *k = NULL;
		uint8_t *pt = NULL;
		size_t ptlen = 0;
		char *keep = f->pubhex;
		assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
		assert_int_equal(crypto_ec_point(k, &pt, &ptlen), HSM_OK);
		assert_int_equal(hex_encode(pt, ptlen, &f->pubhex), HSM_OK);
		cmd = cmd_add(f, 1, 1);
		free(f->pubhex);
		f->pubhex = keep;
		free(pt);
		EVP_PKEY_free(k);
	}
	a = ask(f, "command.apply", json_pack("{s:i, s:o}", "domain", 1, "command", cmd), NULL);
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	r = receipts_of(f, 1, 1);
	assert_int_equal(json_array_size(r), 1);
	assert_int_equal(receipt_verify_file(json_array_get(r, 0), ca, "DC1-M01", &vb), HSM_OK);
	assert_int_equal(rc_ctr(json_array_get(r, 0), "counter_before"), 1);
	json_decref(r);
	r = receipts_of(f, 1, 0);
	assert_int_equal(json_array_size(r), 2);
	json_decref(r);

	/* refusals */
	a = ask(f, "domain.receipts", json_pack("{s:i}", "domain", 1), NULL);
	assert_string_equal(err_reason(a), "bad_request");
	json_decref(a);
	a = ask(f, "domain.receipts", json_pack("{s:i, s:i}", "domain", 1, "from_counter", -1), NULL);
	assert_string_equal(err_reason(a), "bad_request");
	json_decref(a);
	a = ask(f, "domain.receipts", json_pack("{s:i, s:i}", "domain", 4, "from_counter", 0), NULL);
	assert_string_equal(err_reason(a), "no_such_domain");
	json_decref(a);
}

/* The batch form (module-protocol.md §2.5): several domains in one request,
 * each answered on its own, in the order asked. */
static json_t *
answer_of(json_t *a, size_t k)
{
	assert_true(json_is_true(json_object_get(a, "ok")));
	return json_array_get(json_object_get(json_object_get(a, "result"), "answers"), k);
}

static void
test_batch(void **state)
{
	fx *f = *state;
	admincmd *c = NULL;
	admincmd_target t[2] = { { "DC1-M01", 0, 0 }, { "DC1-M01", 1, 0 } };
	json_t *p = json_pack("{s:s, s:s, s:s}", "pubkey", f->pubhex, "name", "Alice",
	                      "identity", "alice");
	json_t *file = NULL, *a, *e;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(admincmd_new("admin.add", p, t, 2, now - 60, now + 600, &c), HSM_OK);
	assert_int_equal(admincmd_to_json(c, &file), HSM_OK);
	admincmd_free(&c);
	json_decref(p);
	/* domains 0 and 1 are targets, 3 is not: two receipts and a refusal */
	a = ask(f, "command.apply", json_pack("{s:[i,i,i], s:O}", "domains", 0, 1, 3,
	        "command", file), NULL);
	assert_int_equal(json_array_size(json_object_get(json_object_get(a, "result"), "answers")), 3);
	for (int k = 0; k < 2; k++) {
		e = answer_of(a, (size_t)k);
		assert_int_equal(json_integer_value(json_object_get(e, "domain")), k);
		assert_true(json_is_true(json_object_get(e, "ok")));
		assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(
		    json_object_get(e, "result"), "receipt"), "body"), "domain")), k);
	}
	e = answer_of(a, 2);
	assert_false(json_is_true(json_object_get(e, "ok")));
	assert_string_equal(err_reason(e), "not_a_target");
	json_decref(a);
	/* the same again: each domain refuses the replay on its own */
	a = ask(f, "command.apply", json_pack("{s:[i,i], s:O}", "domains", 1, 0, "command", file),
	        NULL);
	assert_string_equal(err_reason(answer_of(a, 0)), "counter_mismatch");
	assert_int_equal(json_integer_value(json_object_get(answer_of(a, 0), "domain")), 1);
	json_decref(a);
	json_decref(file);
	/* query: the order asked; a domain the module lacks is refused alone */
	a = ask(f, "domain.query", json_pack("{s:[i,i,i]}", "domains", 3, 0, 9), NULL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(answer_of(a, 0),
	    "result"), "counter")), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(answer_of(a, 1),
	    "result"), "counter")), 1);
	assert_string_equal(err_reason(answer_of(a, 2)), "no_such_domain");
	json_decref(a);
	/* receipts: each domain from its own counter */
	a = ask(f, "domain.receipts", json_pack("{s:[{s:i, s:i}, {s:i, s:i}]}", "domains",
	        "domain", 0, "from_counter", 0, "domain", 1, "from_counter", 1), NULL);
	assert_int_equal(json_array_size(json_object_get(json_object_get(answer_of(a, 0), "result"),
	    "receipts")), 1);
	assert_int_equal(json_array_size(json_object_get(json_object_get(answer_of(a, 1), "result"),
	    "receipts")), 0);
	/* with each receipt, the command the module applied, kept in full */
	e = json_array_get(json_object_get(json_object_get(answer_of(a, 0), "result"), "commands"), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(e, "body"), "op")),
	    "admin.add");
	assert_true(json_is_array(json_object_get(e, "signatures")));
	json_decref(a);
	/* an empty list is a bad request as a whole */
	a = ask(f, "domain.query", json_pack("{s:[]}", "domains"), NULL);
	assert_string_equal(err_reason(a), "bad_request");
	json_decref(a);
}

/* The domains of a batch are applied together (one sync of the states'
 * folder): each one's state is on disk after the answer, as one by one; a
 * domain listed twice is applied once, the second entry a replay. */
static void
test_batch_grouped(void **state)
{
	fx *f = *state;
	admincmd *c = NULL;
	admincmd_target t[4] = { { "DC1-M01", 0, 0 }, { "DC1-M01", 1, 0 }, { "DC1-M01", 2, 0 },
	                         { "DC1-M01", 3, 0 } };
	json_t *p = json_pack("{s:s, s:s, s:s}", "pubkey", f->pubhex, "name", "Alice",
	                      "identity", "alice");
	json_t *file = NULL, *a;
	int64_t now = (int64_t)time(NULL);
	char ca[200];

	assert_int_equal(admincmd_new("admin.add", p, t, 4, now - 60, now + 600, &c), HSM_OK);
	assert_int_equal(admincmd_to_json(c, &file), HSM_OK);
	admincmd_free(&c);
	json_decref(p);
	a = ask(f, "command.apply", json_pack("{s:[i,i,i], s:O}", "domains", 2, 0, 1, "command",
	    file), NULL);
	snprintf(ca, sizeof(ca), "%s/ca.pem", f->dir);
	for (size_t k = 0; k < 3; k++) {
		const json_t *r = json_object_get(json_object_get(answer_of(a, k), "result"),
		    "receipt"), *vb = NULL;

		assert_true(json_is_true(json_object_get(answer_of(a, k), "ok")));
		/* one signature for the request: a batch receipt each, in the
		 * order asked, each standing alone */
		assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "batch"),
		    "size")), 3);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "batch"),
		    "index")), (json_int_t)k);
		assert_true(json_equal(json_object_get(r, "signature"), json_object_get(json_object_get(
		    json_object_get(answer_of(a, 0), "result"), "receipt"), "signature")));
		assert_int_equal(receipt_verify_file(r, ca, "DC1-M01", &vb), HSM_OK);
		assert_int_equal(json_integer_value(json_object_get(vb, "domain")), k == 0 ? 2 : (json_int_t)k - 1);
	}
	json_decref(a);
	simmod_free(&f->m);
	assert_int_equal(simmod_open(f->dir, NULL, &f->m), HSM_OK);
	/* one command file for the batch, linked by its domains; replacing
	 * one domain's (a command superseded at its counter) leaves the
	 * others' as they were */
	{
		char p0[320], p1[300], d0[300];
		struct stat s0, s1;
		json_t *kept = NULL;

		snprintf(d0, sizeof(d0), "%s/domains/00.cmd", f->dir);
		snprintf(p0, sizeof(p0), "%s/0.json", d0);
		snprintf(p1, sizeof(p1), "%s/domains/01.cmd/0.json", f->dir);
		assert_int_equal(stat(p0, &s0), 0);
		assert_int_equal(stat(p1, &s1), 0);
		assert_int_equal(s0.st_ino, s1.st_ino);
		assert_int_equal(simrcpt_keep_command(d0, 0, "{}", 2, NULL), HSM_OK);
		assert_int_equal(stat(p0, &s0), 0);
		assert_int_not_equal(s0.st_ino, s1.st_ino);
		assert_int_equal(simrcpt_command(d0, 0, &kept), HSM_OK);
		assert_int_equal(json_object_size(kept), 0);
		json_decref(kept);
		d0[strlen(d0) - 5] = '1';   /* domain 1's */
		assert_int_equal(simrcpt_command(d0, 0, &kept), HSM_OK);
		assert_true(json_equal(kept, file));
		json_decref(kept);
	}
	/* kept as answered: fetched again after a restart, it verifies */
	a = ask(f, "domain.receipts", json_pack("{s:i, s:i}", "domain", 1, "from_counter", 0),
	        NULL);
	{
		const json_t *r = json_array_get(json_object_get(json_object_get(a, "result"),
		    "receipts"), 0);
		assert_non_null(json_object_get(r, "batch"));
		assert_int_equal(receipt_verify_file(r, ca, "DC1-M01", NULL), HSM_OK);
	}
	json_decref(a);
	a = ask(f, "domain.query", json_pack("{s:[i,i,i,i]}", "domains", 0, 1, 2, 3), NULL);
	for (size_t k = 0; k < 4; k++)
		assert_int_equal(json_integer_value(json_object_get(json_object_get(answer_of(a, k),
		    "result"), "counter")), k < 3 ? 1 : 0);
	json_decref(a);
	a = ask(f, "command.apply", json_pack("{s:[i,i], s:O}", "domains", 3, 3, "command", file),
	        NULL);
	assert_true(json_is_true(json_object_get(answer_of(a, 0), "ok")) !=
	            json_is_true(json_object_get(answer_of(a, 1), "ok")));
	json_decref(a);
	json_decref(file);
}

/* Reservations (module-protocol.md §2.7): a query reserves a counter for
 * one command; a higher ballot takes it over; an apply claiming another
 * reservation, or none, is refused, as is another command's apply without
 * one; applying ends it; a restart forgets it. */
static json_t *
reserve(fx *f, const json_t *file, long long ballot, json_t *counter)
{
	uint8_t dg[32];
	char hex[65];

	assert_int_equal(cjson_digest(json_object_get(file, "body"), dg), HSM_OK);
	hex_encode_buf(dg, 32, hex);
	return ask(f, "domain.query", json_pack("{s:[i], s:{s:s, s:I, s:[o]}}", "domains", 0,
	    "reserve", "digest", hex, "ballot", (json_int_t)ballot, "counters", counter), NULL);
}

static const char *
apply_reason(fx *f, const json_t *file, long long ballot)
{
	static char why[64];
	json_t *p = json_pack("{s:[i], s:O}", "domains", 0, "command", file), *a, *e;

	if (ballot > 0)
		json_object_set_new(p, "reservation", json_pack("{s:I}", "ballot", (json_int_t)ballot));
	a = ask(f, "command.apply", p, NULL);
	e = answer_of(a, 0);
	snprintf(why, sizeof(why), "%s", json_is_true(json_object_get(e, "ok")) ? "ok" :
	    err_reason(e));
	json_decref(a);
	return why;
}

static int
granted(json_t *a)
{
	int g = json_is_true(json_object_get(json_object_get(answer_of(a, 0), "reservation"),
	    "granted"));

	json_decref(a);
	return g;
}

/* admin.add of a new key (not Alice's) on domain 0 at counter. */
static json_t *
cmd_add_other(long long counter)
{
	admincmd *c = NULL;
	admincmd_target t = { "DC1-M01", 0, (uint64_t)counter };
	EVP_PKEY *k = NULL;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	char *hex = NULL;
	json_t *p, *j = NULL;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(crypto_ec_generate(HSM_CURVE_P256, &k), HSM_OK);
	assert_int_equal(crypto_ec_point(k, &pt, &ptlen), HSM_OK);
	assert_int_equal(hex_encode(pt, ptlen, &hex), HSM_OK);
	p = json_pack("{s:s, s:s, s:s}", "pubkey", hex, "name", "Bob", "identity", "bob");
	assert_int_equal(admincmd_new("admin.add", p, &t, 1, now - 60, now + 600, &c), HSM_OK);
	assert_int_equal(admincmd_to_json(c, &j), HSM_OK);
	admincmd_free(&c);
	json_decref(p);
	free(hex);
	free(pt);
	EVP_PKEY_free(k);
	return j;
}

static void
test_reservations(void **state)
{
	fx *f = *state;
	json_t *A = cmd_add(f, 0, 0), *B = cmd_add(f, 0, 0), *C = cmd_add_other(1), *a;

	assert_true(granted(reserve(f, A, 100, json_integer(0))));
	assert_false(granted(reserve(f, B, 50, json_integer(0))));     /* lower ballot */
	assert_false(granted(reserve(f, C, 500, json_integer(1))));    /* not its counter */
	assert_string_equal(apply_reason(f, B, 0), "reserved");        /* another command */
	assert_string_equal(apply_reason(f, B, 50), "reserved");
	assert_true(granted(reserve(f, B, 200, json_integer(0))));     /* taken over */
	assert_string_equal(apply_reason(f, A, 100), "reserved");
	assert_string_equal(apply_reason(f, A, 0), "reserved");
	assert_string_equal(apply_reason(f, B, 200), "ok");
	/* applied: the reservation is gone, and a replay is still a replay */
	assert_string_equal(apply_reason(f, B, 200), "counter_mismatch");
	assert_string_equal(apply_reason(f, C, 200), "reservation_expired");
	/* a restart forgets reservations: refusing, never admitting */
	assert_true(granted(reserve(f, C, 300, json_integer(1))));
	simmod_free(&f->m);
	assert_int_equal(simmod_open(f->dir, NULL, &f->m), HSM_OK);
	assert_string_equal(apply_reason(f, C, 300), "reservation_expired");
	/* a domain not asked to reserve says nothing about it */
	a = reserve(f, C, 400, json_null());
	assert_null(json_object_get(answer_of(a, 0), "reservation"));
	json_decref(a);
	a = ask(f, "domain.query", json_pack("{s:[i], s:{s:s, s:i, s:[]}}", "domains", 0,
	    "reserve", "digest", "00", "ballot", 1, "counters"), NULL);
	assert_string_equal(err_reason(a), "bad_request");
	json_decref(a);
	assert_string_equal(apply_reason(f, C, 0), "ok");   /* nothing reserved: as before */
	json_decref(A);
	json_decref(B);
	json_decref(C);
}

static void
test_init_refusals_and_issue_client(void **state)
{
	fx *f = *state;
	simmod_init_opts o;
	char key[200], cert[200], ca[200], other[200];
	X509 *c = NULL, *cc = NULL;

	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.serial = "DC1-M01";
	o.domains = 4;
	assert_int_equal(simmod_init(&o, NULL), HSM_ERR_EXISTS);
	snprintf(other, sizeof(other), "%s/other", f->tmp);
	o.dir = other;
	o.serial = "bad serial/../x";
	assert_int_equal(simmod_init(&o, NULL), HSM_ERR_USAGE);
	o.serial = "DC2-M01";
	o.domains = 86;
	assert_int_equal(simmod_init(&o, NULL), HSM_ERR_USAGE);
	/* A second module sharing the first one's module CA. */
	o.domains = 2;
	snprintf(key, sizeof(key), "%s/ca.key", f->dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", f->dir);
	o.ca_key = key;
	assert_int_equal(simmod_init(&o, NULL), HSM_ERR_USAGE);   /* key without cert */
	o.ca_cert = ca;
	assert_int_equal(simmod_init(&o, NULL), HSM_OK);
	{
		X509 *oa = NULL, *mca = NULL;
		char p[260];
		snprintf(p, sizeof(p), "%s/oa.pem", other);
		assert_int_equal(x509u_load_pem(p, &oa), HSM_OK);
		assert_int_equal(x509u_load_pem(ca, &mca), HSM_OK);
		assert_int_equal(x509u_verify_issued_by(oa, mca), HSM_OK);
		X509_free(oa);
		X509_free(mca);
	}

	snprintf(key, sizeof(key), "%s/ws.key", f->tmp);
	snprintf(cert, sizeof(cert), "%s/ws.pem", f->tmp);
	assert_int_equal(simmod_issue_client(f->dir, "ws1", key, cert, NULL), HSM_OK);
	assert_int_equal(simmod_issue_client(f->dir, "ws1", key, cert, NULL), HSM_ERR_EXISTS);
	snprintf(ca, sizeof(ca), "%s/client-ca.pem", f->dir);
	assert_int_equal(x509u_load_pem(cert, &c), HSM_OK);
	assert_int_equal(x509u_load_pem(ca, &cc), HSM_OK);
	assert_int_equal(x509u_verify_issued_by(c, cc), HSM_OK);
	X509_free(c);
	X509_free(cc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello_and_query, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_receipt_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receipts_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_grouped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reservations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_refusals_and_issue_client, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
