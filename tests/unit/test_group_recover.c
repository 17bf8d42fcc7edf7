/* SPDX-License-Identifier: BSD-2-Clause */
/* test_group_recover.c - the group engine recovers the receipt of a command
 * whose answer was lost (group_submit) and fills the gaps of an evidence log
 * (group_recover), against the emulator's real module logic through the
 * in-process driver (sim_driver.h); the networked path runs in
 * tests/integration/domain_diverge.sh. */
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

#include "hsmadm/admincmd.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/group.h"
#include "hsmadm/modproto.h"
#include "hsmadm/x509util.h"

#include "group_int.h"
#include "sim_driver.h"

typedef struct fx {
	char          tmp[64], dir[128], ca[160];
	simmod       *m;
	group_member  mem[2];
	struct sim_conn *c[2];
} fx;

static void
open_members(fx *f)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		moddrv *d = NULL;
		assert_int_equal(sim_driver_open(f->m, "DC1-M01", &d, &f->c[i]), HSM_OK);
		f->mem[i].module = "DC1-M01";
		f->mem[i].domain = (unsigned)(i + 1);
		f->mem[i].drv = d;
		f->mem[i].ca_pem = f->ca;
	}
}

static void
close_members(fx *f)
{
	size_t i;

	for (i = 0; i < 2; i++)
		moddrv_free(&f->mem[i].drv);
}

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	simmod_init_opts o;
	simmod_faults fl = { 0, 2, 0, 0 };   /* the 2nd applied command goes unanswered */

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/test_group_recover.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/st", f->tmp);
	snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", f->dir);
	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.serial = "DC1-M01";
	o.domains = 4;
	assert_int_equal(simmod_init(&o, NULL), HSM_OK);
	assert_int_equal(simmod_open(f->dir, &fl, &f->m), HSM_OK);
	open_members(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	char cmd[128];

	close_members(f);
	simmod_free(&f->m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->tmp);
	free(f);
	return 0;
}

/* admin.add of a new key on domains 1 and 2 at their current counters. */
static admincmd *
add_cmd(fx *f, const char *name)
{
	EVP_PKEY *k = NULL;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	char *hex = NULL;
	json_t *p;
	admincmd *c = NULL;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &k), HSM_OK);
	assert_int_equal(crypto_ec_point(k, &pt, &ptlen), HSM_OK);
	assert_int_equal(hex_encode(pt, ptlen, &hex), HSM_OK);
	p = json_pack("{s:s, s:s, s:s}", "pubkey", hex, "name", name, "identity", name);
	assert_int_equal(group_propose(f->mem, 2, "admin.add", p, now, 600, &c), HSM_OK);
	json_decref(p);
	free(hex);
	free(pt);
	EVP_PKEY_free(k);
	return c;
}

static size_t
count_status(const json_t *rep, const char *st, size_t *recovered)
{
	const json_t *e;
	size_t i, n = 0;

	*recovered = 0;
	json_array_foreach(json_object_get(rep, "members"), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "status")), st) == 0)
			n++;
		if (json_is_true(json_object_get(e, "recovered"))) {
			(*recovered)++;
			assert_non_null(json_object_get(e, "receipt"));
		}
	}
	return n;
}

static void
test_lost_answer_recovered(void **state)
{
	fx *f = *state;
	admincmd *c = add_cmd(f, "alice");
	json_t *rep = NULL, *cmds, *found = NULL;
	uint64_t logged[2];
	size_t rec = 0;

	/* the 1st and 2nd applied commands: one member's answer is dropped */
	assert_int_equal(group_submit(f->mem, 2, c, (int64_t)time(NULL), 0, &rep), HSM_OK);
	assert_string_equal(json_string_value(json_object_get(rep, "outcome")), "applied");
	assert_int_equal(count_status(rep, "applied", &rec), 2);
	assert_int_equal(rec, 1);
	assert_int_equal(f->c[0]->reconnects + f->c[1]->reconnects, 1);
	json_decref(rep);

	/* the log's gaps: a log that holds nothing past counter 0 for both
	 * members gets both receipts, if it knows the command */
	cmds = json_array();
	assert_int_equal(admincmd_to_json(c, &found), HSM_OK);
	json_array_append_new(cmds, found);
	found = NULL;
	logged[0] = logged[1] = 0;
	assert_int_equal(group_recover(f->mem, 2, logged, cmds, &found), HSM_OK);
	assert_int_equal(json_array_size(found), 2);
	json_decref(found);
	/* nothing past what the log holds */
	logged[0] = logged[1] = 1;
	assert_int_equal(group_recover(f->mem, 2, logged, cmds, &found), HSM_OK);
	assert_int_equal(json_array_size(found), 0);
	json_decref(found);
	/* a member the log never saw is left alone */
	logged[0] = 0;
	logged[1] = GROUP_LOGGED_UNKNOWN;
	assert_int_equal(group_recover(f->mem, 2, logged, cmds, &found), HSM_OK);
	assert_int_equal(json_array_size(found), 1);
	json_decref(found);
	/* a command the log does not know is never placed */
	logged[1] = 0;
	json_array_clear(cmds);
	assert_int_equal(group_recover(f->mem, 2, logged, cmds, &found), HSM_OK);
	assert_int_equal(json_array_size(found), 0);
	json_decref(found);
	assert_int_equal(group_recover(f->mem, 2, logged, NULL, &found), HSM_ERR_USAGE);
	json_decref(cmds);
	admincmd_free(&c);
}

/* The CA of another module with the same serial (a module of its own,
 * made in the fixture's directory): its path into ca. */
static void
other_module_ca(fx *f, char *ca, size_t n)
{
	simmod_init_opts o;
	char other[160];

	snprintf(other, sizeof(other), "%s/other", f->tmp);
	memset(&o, 0, sizeof(o));
	o.dir = other;
	o.serial = "DC1-M01";
	o.domains = 1;
	assert_int_equal(simmod_init(&o, NULL), HSM_OK);
	snprintf(ca, n, "%s/ca.pem", other);
}

/* A receipt that does not verify against the member's pinned CA is not
 * taken: the member stays "no-answer" and the group is reported divergent. */
static void
test_unverified_receipt_not_taken(void **state)
{
	fx *f = *state;
	admincmd *c = add_cmd(f, "bob");
	char otherca[200];
	json_t *rep = NULL;
	size_t rec = 0;

	other_module_ca(f, otherca, sizeof(otherca));
	/* the 2nd applied command is the one dropped: both members pin another
	 * CA for receipts, so neither the answer nor the fetched receipt is
	 * accepted */
	f->mem[0].ca_pem = otherca;
	f->mem[1].ca_pem = otherca;
	assert_int_not_equal(group_submit(f->mem, 2, c, (int64_t)time(NULL), 0, &rep), HSM_OK);
	assert_non_null(rep);
	assert_int_equal(count_status(rep, "no-answer", &rec), 1);
	assert_int_equal(rec, 0);
	assert_int_equal(count_status(rep, "failed", &rec), 1);
	json_decref(rep);
	admincmd_free(&c);
}

/* A certificate file as receipts carry it: base64 DER. */
static char *
cert_b64(const char *path)
{
	X509 *x = NULL;
	uint8_t *der = NULL;
	size_t n = 0;
	char *b64 = NULL;

	assert_int_equal(x509u_load_pem(path, &x), HSM_OK);
	assert_int_equal(x509u_to_der(x, &der, &n), HSM_OK);
	assert_int_equal(b64_encode(der, n, &b64), HSM_OK);
	X509_free(x);
	free(der);
	return b64;
}

/* A module's pinned OA certificate is checked as its receipts are
 * (group_oa_trust): under the pinned CA, for its serial, an OA certificate. */
static void
test_oa_trust(void **state)
{
	fx *f = *state;
	char path[200], otherca[200], *oa, *tls;

	snprintf(path, sizeof(path), "%s/oa.pem", f->dir);
	oa = cert_b64(path);
	snprintf(path, sizeof(path), "%s/tls.pem", f->dir);
	tls = cert_b64(path);
	other_module_ca(f, otherca, sizeof(otherca));

	assert_int_equal(group_oa_trust(f->ca, "DC1-M01", oa), HSM_OK);
	assert_int_equal(group_oa_trust(f->ca, "DC1-M01", oa), HSM_OK);
	assert_int_equal(group_oa_trust(f->ca, "DC2-M01", oa), HSM_ERR_TRUST);
	assert_non_null(strstr(hsm_errmsg(), "another module"));
	assert_int_equal(group_oa_trust(f->ca, "DC1-M01", tls), HSM_ERR_TRUST);
	assert_non_null(strstr(hsm_errmsg(), "not an OA certificate"));
	assert_int_equal(group_oa_trust(otherca, "DC1-M01", oa), HSM_ERR_TRUST);
	assert_non_null(strstr(hsm_errmsg(), "pinned CA"));
	assert_int_equal(group_oa_trust(f->ca, "DC1-M01", "AAAA"), HSM_ERR_TRUST);
	snprintf(path, sizeof(path), "%s/missing.pem", f->tmp);
	assert_int_equal(group_oa_trust(path, "DC1-M01", oa), HSM_ERR_IO);
	assert_int_equal(group_oa_trust(NULL, "DC1-M01", oa), HSM_ERR_USAGE);
	free(oa);
	free(tls);
}

/* The engine checks each module's pinned OA certificate while the read
 * waits (seen here on a command refused after the read: no receipt came
 * back); one that does not verify is not remembered, and the receipts
 * signed under the real one still get the whole check. */
static void
test_oa_checked_during_read(void **state)
{
	fx *f = *state;
	admincmd *c = add_cmd(f, "carol");
	char path[200], ca2[200], ca3[200], *oa, *tls, hex[GROUP_HEX32];
	json_t *rep = NULL;
	X509 *ca = NULL;

	snprintf(path, sizeof(path), "%s/oa.pem", f->dir);
	oa = cert_b64(path);
	snprintf(path, sizeof(path), "%s/tls.pem", f->dir);
	tls = cert_b64(path);
	/* copies of the CA at paths no receipt has been checked against yet */
	snprintf(ca2, sizeof(ca2), "%s/ca2.pem", f->tmp);
	snprintf(ca3, sizeof(ca3), "%s/ca3.pem", f->tmp);
	assert_int_equal(x509u_load_pem(f->ca, &ca), HSM_OK);
	assert_int_equal(x509u_save_pem(ca2, ca), HSM_OK);
	assert_int_equal(x509u_save_pem(ca3, ca), HSM_OK);
	X509_free(ca);

	f->mem[0].ca_pem = f->mem[1].ca_pem = ca2;
	f->mem[0].oa_cert = f->mem[1].oa_cert = oa;
	assert_int_equal(grp_oa_fingerprint(ca2, "DC1-M01", oa, hex), 0);
	/* a day later the command has expired: refused after the read */
	assert_int_not_equal(group_submit(f->mem, 2, c, (int64_t)time(NULL) + 86400, 0, &rep),
	                     HSM_OK);
	assert_non_null(rep);
	assert_string_equal(json_string_value(json_object_get(rep, "outcome")), "refused");
	json_decref(rep);
	rep = NULL;
	assert_int_equal(grp_oa_fingerprint(ca2, "DC1-M01", oa, hex), 1);

	/* pinned, but not an OA certificate: not remembered; receipts checked */
	f->mem[0].ca_pem = f->mem[1].ca_pem = ca3;
	f->mem[0].oa_cert = f->mem[1].oa_cert = tls;
	assert_int_equal(group_submit(f->mem, 2, c, (int64_t)time(NULL), 0, &rep), HSM_OK);
	assert_string_equal(json_string_value(json_object_get(rep, "outcome")), "applied");
	assert_int_equal(grp_oa_fingerprint(ca3, "DC1-M01", tls, hex), 0);
	assert_int_equal(grp_oa_fingerprint(ca3, "DC1-M01", oa, hex), 1);   /* by a receipt */
	json_decref(rep);
	f->mem[0].oa_cert = f->mem[1].oa_cert = NULL;
	admincmd_free(&c);
	free(oa);
	free(tls);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lost_answer_recovered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unverified_receipt_not_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oa_trust, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oa_checked_during_read, setup, teardown),
	};
	hsm_err_clear();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
