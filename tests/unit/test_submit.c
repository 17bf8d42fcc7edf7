/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_submit.c - the workflow around a group command (ops/): signers
 * (signers.h), the quorum loop (quorum.h), one command from proposal to
 * receipts (groupcmd.h), the evidence kept around
 * group_submit (submit.h) and the receipts a log lacks (recover.h), against
 * the emulator's real module logic (sim_driver.h) and a real evidence log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evscan.h"
#include "hsmadm/groupcmd.h"
#include "hsmadm/quorum.h"
#include "hsmadm/signers.h"
#include "hsmadm/submit.h"

#include "sim_driver.h"
#include "test_tmpdir.h"

#define SERIAL "DC1-M01"

typedef struct fx {
	char           *tmp;
	char            dir[600], ca[640], log[640], admin[640], stranger[640];
	simmod         *m;
	group_member    mem[2];
	struct submit_ev ev;
	char           *said[16];
	size_t          nsaid;
} fx;

static void
keep_line(void *ctx, const char *line)
{
	fx *f = ctx;

	if (f->nsaid < 16)
		f->said[f->nsaid++] = strdup(line);
}

static int
said(const fx *f, const char *text)
{
	for (size_t i = 0; i < f->nsaid; i++)
		if (strstr(f->said[i], text) != NULL)
			return 1;
	return 0;
}

static void
new_key(const char *path, char **hex)
{
	EVP_PKEY *k = NULL;
	uint8_t *pt = NULL;
	size_t ptlen = 0;

	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
	assert_int_equal(crypto_priv_save_pem(path, k), HSM_OK);
	assert_int_equal(crypto_ec_point(k, &pt, &ptlen), HSM_OK);
	assert_int_equal(hex_encode(pt, ptlen, hex), HSM_OK);
	free(pt);
	EVP_PKEY_free(k);
}

/* A command for both members at their counters. */
static admincmd *
propose(fx *f, const group_member *m, size_t n, const char *op, json_t *params)
{
	admincmd *c = NULL;

	assert_int_equal(group_propose(m, n, op, params, (int64_t)time(NULL), 600, &c), HSM_OK);
	json_decref(params);
	return c;
	(void)f;
}

static admincmd *
add_admin_cmd(fx *f, const char *name)
{
	char path[700], *hex = NULL;
	admincmd *c;

	snprintf(path, sizeof(path), "%s/%s.pem", f->tmp, name);
	new_key(path, &hex);
	c = propose(f, f->mem, 2, ADMINCMD_OP_ADMIN_ADD,
	    json_pack("{s:s, s:s, s:s}", "pubkey", hex, "name", name, "identity", name));
	free(hex);
	return c;
}

/* Module with domains 1 and 2 in a group; admin "Alice" registered (imprint
 * mode), then 1-of-1, both recorded in the log from counter 0; a stranger's
 * key that is no admin. */
static simmod_faults faults;   /* of the module the next setup opens */

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	simmod_init_opts o;
	char *hex = NULL;
	admincmd *c;
	group_report *rep = NULL;
	hsm_signer *s = NULL;

	assert_non_null(f);
	f->tmp = make_tmpdir_named("submit");
	snprintf(f->dir, sizeof(f->dir), "%s/st", f->tmp);
	snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/ev.jsonl", f->tmp);
	snprintf(f->admin, sizeof(f->admin), "%s/alice.pem", f->tmp);
	snprintf(f->stranger, sizeof(f->stranger), "%s/mallory.pem", f->tmp);
	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.serial = SERIAL;
	o.domains = 4;
	assert_int_equal(simmod_init(&o, NULL), HSM_OK);
	assert_int_equal(simmod_open(f->dir, &faults, &f->m), HSM_OK);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(sim_driver_open(f->m, SERIAL, &f->mem[i].drv, NULL), HSM_OK);
		f->mem[i].module = SERIAL;
		f->mem[i].domain = (unsigned)(i + 1);
		f->mem[i].ca_pem = f->ca;
	}
	f->ev.path = f->log;
	f->ev.system.name = "test_submit";
	f->ev.system.role = "system";
	f->ev.say = keep_line;
	f->ev.ctx = f;
	assert_int_equal(evlog_open(f->log, NULL, &f->ev.log), HSM_OK);
	new_key(f->admin, &hex);
	c = propose(f, f->mem, 2, ADMINCMD_OP_ADMIN_ADD,
	    json_pack("{s:s, s:s, s:s}", "pubkey", hex, "name", "Alice", "identity", "alice"));
	free(hex);
	assert_int_equal(submit_run(&f->ev, f->mem, 2, c, 0, NULL, &rep), HSM_OK);
	group_report_free(&rep);
	admincmd_free(&c);
	c = propose(f, f->mem, 2, ADMINCMD_OP_THRESHOLDS_SET,
	    json_pack("{s:i, s:i}", "signature", 1, "revocation", 1));
	assert_int_equal(signer_from_keyfile(f->admin, &s), HSM_OK);
	assert_int_equal(admincmd_sign(c, s), HSM_OK);
	assert_int_equal(submit_run(&f->ev, f->mem, 2, c, 0, NULL, &rep), HSM_OK);
	group_report_free(&rep);
	signer_free(&s);
	admincmd_free(&c);
	new_key(f->stranger, &hex);
	free(hex);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;

	submit_ev_clear(&f->ev);
	evlog_close(&f->ev.log);
	for (size_t i = 0; i < 2; i++)
		moddrv_free(&f->mem[i].drv);
	for (size_t i = 0; i < f->nsaid; i++)
		free(f->said[i]);
	simmod_free(&f->m);
	rm_tmpdir(f->tmp);
	free(f);
	return 0;
}

/* The seq of the first record of type (and op, if not NULL), 0 if none. */
static long long
seq_of(const char *log, const char *type, int nth)
{
	evlog_reader *rd = NULL;
	evlog_record rec;
	long long seq = 0;
	int seen = 0;

	memset(&rec, 0, sizeof(rec));
	assert_int_equal(evlog_reader_open(log, &rd), HSM_OK);
	while (evlog_reader_next(rd, &rec) == HSM_OK)
		if (strcmp(rec.type, type) == 0 && ++seen == nth) {
			seq = rec.seq;
			break;
		}
	evlog_record_clear(&rec);
	evlog_reader_free(&rd);
	return seq;
}

static signers *
key_signers(const char *const *keys, size_t n)
{
	struct signers_opts so = { .key_files = keys, .nkeys = n, .pin_fd = -1, .enter_fd = -1 };
	signers *s = NULL;

	assert_int_equal(signers_new(&so, &s), HSM_OK);
	return s;
}

/* A stranger's key is offered first: not used (a module would refuse the
 * whole command for it); the admin's signature is recorded at once. */
static void
test_quorum_skips_strangers(void **state)
{
	fx *f = *state;
	const char *keys[] = { f->stranger, f->admin };
	signers *src = key_signers(keys, 2);
	struct quorum_io io = { keep_line, f, f->ev.log };
	struct quorum_first first;
	admincmd *c = add_admin_cmd(f, "bob");

	assert_int_equal(quorum_collect(f->mem, 2, c, src, &io, &first), HSM_OK);
	assert_int_equal(admincmd_nsigs(c), 1);
	assert_true(said(f, "not an administrator of every domain concerned; not used"));
	assert_true(said(f, "Signed by Alice."));
	assert_true(first.set);
	assert_string_equal(first.name, "Alice");
	assert_true(seq_of(f->log, EV_COMMAND_SIGNED, 1) > 0);
	signers_free(&src);
	admincmd_free(&c);
}

static void
test_quorum_runs_out(void **state)
{
	fx *f = *state;
	const char *keys[] = { f->stranger };
	signers *src = key_signers(keys, 1);
	struct quorum_io io = { keep_line, f, NULL };
	admincmd *c = add_admin_cmd(f, "carol");

	assert_int_equal(quorum_collect(f->mem, 2, c, src, &io, NULL), HSM_ERR_QUORUM);
	assert_non_null(strstr(hsm_errmsg(), "1 more signature(s) needed"));
	assert_non_null(strstr(hsm_errmsg(), "nothing was changed"));
	assert_int_equal(admincmd_nsigs(c), 0);
	signers_free(&src);
	admincmd_free(&c);
}

/* Write-ahead: command.sent is durable before the receipts' record. */
static void
test_intent_before_outcome(void **state)
{
	fx *f = *state;
	const char *keys[] = { f->admin };
	signers *src = key_signers(keys, 1);
	admincmd *c = add_admin_cmd(f, "dave");
	group_report *rep = NULL;
	long long sent, applied;
	uint64_t hwm = 0;
	evscan *s = NULL;

	assert_int_equal(quorum_collect(f->mem, 2, c, src, NULL, NULL), HSM_OK);
	assert_int_equal(submit_run(&f->ev, f->mem, 2, c, 0, NULL, &rep), HSM_OK);
	group_report_free(&rep);
	sent = seq_of(f->log, EV_COMMAND_SENT, 3);      /* after the set-up's two */
	applied = seq_of(f->log, EV_COMMAND_APPLIED, 3);
	assert_true(sent > 0);
	assert_true(applied > sent);
	assert_int_equal(evscan_path(f->log, 0, &s), HSM_OK);
	assert_int_equal(s->ncmds, 3);
	assert_true(s->cmds[2].sent_seq == sent && s->cmds[2].applied_seq == applied);
	assert_true(evscan_hwm(s, SERIAL, 1, &hwm));
	assert_int_equal(hwm, 3);   /* admin add, thresholds, dave */
	evscan_free(&s);
	signers_free(&src);
	admincmd_free(&c);
}

/* A command announced but whose outcome was never recorded (the workstation
 * died): the next run records the kept receipts first. */
static void
test_lost_outcome_recorded_next_time(void **state)
{
	fx *f = *state;
	const char *keys[] = { f->admin };
	signers *src = key_signers(keys, 1);
	admincmd *c1 = add_admin_cmd(f, "erin"), *c2;
	group_report *rep = NULL;
	struct submit_ev fresh;

	assert_int_equal(quorum_collect(f->mem, 2, c1, src, NULL, NULL), HSM_OK);
	assert_int_equal(evrec_command_sent(f->ev.log, &f->ev.system, c1, NULL, NULL), HSM_OK);
	assert_int_equal(group_submit_report(f->mem, 2, c1, (int64_t)time(NULL), 0, &rep),
	                 HSM_OK);
	group_report_free(&rep);   /* ... and the workstation died before recording */
	assert_int_equal(seq_of(f->log, EV_COMMAND_APPLIED, 3), 0);

	c2 = add_admin_cmd(f, "frank");
	assert_int_equal(quorum_collect(f->mem, 2, c2, src, NULL, NULL), HSM_OK);
	memset(&fresh, 0, sizeof(fresh));
	fresh = f->ev;
	fresh.scan = NULL;
	fresh.marks = NULL;
	assert_int_equal(submit_run(&fresh, f->mem, 2, c2, 0, NULL, &rep), HSM_OK);
	group_report_free(&rep);
	assert_true(said(f, "Recorded the receipt of admin.add on DC1-M01 domain 1"));
	assert_true(said(f, "Recorded the receipt of admin.add on DC1-M01 domain 2"));
	/* c1's two late records, then c2's intent and outcome */
	assert_true(seq_of(f->log, EV_COMMAND_APPLIED, 4) < seq_of(f->log, EV_COMMAND_SENT, 4));
	assert_true(seq_of(f->log, EV_COMMAND_APPLIED, 5) > seq_of(f->log, EV_COMMAND_SENT, 4));
	submit_ev_clear(&fresh);
	signers_free(&src);
	admincmd_free(&c1);
	admincmd_free(&c2);
}

/* The 6th command.apply request (the second member of the command after the
 * set-up's four) is dropped before it is applied. */
static int
setup_drop6(void **state)
{
	faults.drop_before = 6;
	setup(state);
	faults.drop_before = 0;
	return 0;
}

/* A roll-forward fetches again the receipt of a member that applied it
 * already; the log must not list that change twice. */
static void
test_roll_forward_not_twice(void **state)
{
	fx *f = *state;
	const char *keys[] = { f->admin };
	signers *src = key_signers(keys, 1);
	admincmd *c = add_admin_cmd(f, "grace");
	group_report *rep = NULL;
	evlog_reader *rd = NULL;
	evlog_record rec;
	size_t receipts = 0;

	assert_int_equal(quorum_collect(f->mem, 2, c, src, NULL, NULL), HSM_OK);
	/* one member applies it, the other's connection drops: recorded as
	 * far as it went; then the group rolls forward */
	assert_int_equal(submit_run(&f->ev, f->mem, 2, c, 0, NULL, &rep), HSM_ERR_DIVERGED);
	group_report_free(&rep);
	assert_int_equal(submit_run(&f->ev, f->mem, 2, c, 1, NULL, &rep), HSM_OK);
	group_report_free(&rep);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(evlog_reader_open(f->log, &rd), HSM_OK);
	while (evlog_reader_next(rd, &rec) == HSM_OK)
		if (strcmp(rec.type, EV_COMMAND_APPLIED) == 0)
			receipts += json_array_size(json_object_get(rec.body, "receipts"));
	evlog_record_clear(&rec);
	evlog_reader_free(&rd);
	assert_int_equal(receipts, 6);   /* set-up 2 x 2, then one per member, none twice */
	signers_free(&src);
	admincmd_free(&c);
}

/* groupcmd: one admin command from proposal to recorded receipts. Without
 * signers it says how many are missing and sends nothing; with the admin's
 * key it is signed, sent after its intent, and every receipt recorded; the
 * first signer sends it. */
static void
test_groupcmd_run(void **state)
{
	fx *f = *state;
	const char *keys[] = { f->stranger, f->admin };
	signers *src = key_signers(keys, 2);
	struct groupcmd_io none = { NULL, &f->ev, keep_line, f };
	struct groupcmd_io io = { src, &f->ev, keep_line, f };
	json_t *params = json_pack("{s:i, s:i}", "signature", 1, "revocation", 1);
	group_report *rep = NULL;

	assert_int_equal(groupcmd_run(f->mem, 2, ADMINCMD_OP_THRESHOLDS_SET, params, "Thresholds",
	    0, &none, &rep), HSM_ERR_QUORUM);
	assert_non_null(strstr(hsm_errmsg(), "needs 1 more administrator signature"));
	assert_null(rep);
	assert_int_equal(seq_of(f->log, EV_COMMAND_SENT, 3), 0);   /* nothing sent */
	assert_true(said(f, "Thresholds: command thresholds.set on 2 domains; digest"));

	assert_int_equal(groupcmd_run(f->mem, 2, ADMINCMD_OP_THRESHOLDS_SET, params, "Thresholds",
	    0, &io, &rep), HSM_OK);
	assert_non_null(rep);
	assert_string_equal(rep->outcome, "applied");
	assert_true(said(f, "Signed by Alice."));
	/* signature, intent, outcome: in that order */
	assert_true(seq_of(f->log, EV_COMMAND_SIGNED, 1) > 0);
	assert_true(seq_of(f->log, EV_COMMAND_SENT, 3) > seq_of(f->log, EV_COMMAND_SIGNED, 1));
	assert_true(seq_of(f->log, EV_COMMAND_APPLIED, 3) > seq_of(f->log, EV_COMMAND_SENT, 3));
	group_report_free(&rep);
	json_decref(params);
	signers_free(&src);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_quorum_skips_strangers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quorum_runs_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_groupcmd_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intent_before_outcome, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_outcome_recorded_next_time, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_roll_forward_not_twice, setup_drop6, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
