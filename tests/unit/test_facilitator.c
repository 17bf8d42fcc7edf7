/* SPDX-License-Identifier: BSD-2-Clause */
/* test_facilitator.c - hsmadm-ceremony's record keeping (cmd/hsmadm-ceremony
 * fac_*.c) without cards: every writer, its refusals leaving the log as it
 * was, and the summary's chain check on edited, reordered and cut logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/crypto.h"
#include "hsmadm/evverify.h"
#include "fac.h"

static char dir[64], logp[128], keyp[128], key2p[128];
static const struct fac_who who = { "Fay" };

static char *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	b = malloc((size_t)len + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
	b[len] = '\0';
	fclose(f);
	*n = (size_t)len;
	return b;
}

static int
setup(void **state)
{
	EVP_PKEY *k = NULL;

	(void)state;
	strcpy(dir, "/tmp/test_facilitator.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(logp, sizeof(logp), "%s/c.jsonl", dir);
	snprintf(keyp, sizeof(keyp), "%s/sup.key", dir);
	snprintf(key2p, sizeof(key2p), "%s/adm.key", dir);
	if (crypto_ec_generate(HSM_CURVE_P384, &k) != HSM_OK ||
	    crypto_priv_save_pem(keyp, k) != HSM_OK)
		return -1;
	EVP_PKEY_free(k);
	k = NULL;
	if (crypto_ec_generate(HSM_CURVE_P256, &k) != HSM_OK ||
	    crypto_priv_save_pem(key2p, k) != HSM_OK)
		return -1;
	EVP_PKEY_free(k);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The log's bytes now, to compare after a refusal. */
static char *
snap(size_t *n)
{
	return slurp(logp, n);
}

static void
assert_unchanged(char *before, size_t n)
{
	size_t m;
	char *now = slurp(logp, &m);

	assert_int_equal(m, n);
	assert_memory_equal(now, before, n);
	free(now);
	free(before);
}

static void
test_writers(void **state)
{
	struct fac_member_src src;
	json_t *r = NULL, *st = NULL;
	evlog_verify_result vr;
	struct evlog_verify_opts vo;
	char *b;
	size_t n;

	(void)state;
	/* open */
	assert_int_equal(fac_open(logp, "", "ACME", NULL, &who, NULL), HSM_ERR_USAGE);
	assert_int_equal(fac_open(logp, "T", "AC ME", NULL, &who, NULL), HSM_ERR_USAGE);
	assert_int_equal(fac_open(logp, "T", "", NULL, &who, NULL), HSM_ERR_USAGE);
	assert_int_equal(fac_open(logp, "a\tb", "ACME", NULL, &who, NULL), HSM_ERR_USAGE);
	assert_int_equal(access(logp, F_OK), -1);
	assert_int_equal(fac_step(logp, 1, "s", NULL, NULL, &who, NULL), HSM_ERR_NOT_FOUND);
	assert_int_equal(fac_open(logp, "Ceremony", "ACME", "Room 2", &who, &r), HSM_OK);
	assert_int_equal(json_integer_value(json_object_get(r, "seq")), 1);
	json_decref(r);
	assert_int_equal(fac_open(logp, "Ceremony", "ACME", NULL, &who, NULL), HSM_ERR_EXISTS);

	/* roster */
	memset(&src, 0, sizeof(src));
	src.key_file = keyp;
	assert_int_equal(fac_roster_add(logp, "supervisor", "Sue", &src, &who, &r), HSM_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "member"),
	                    "role")), "supervisor");
	assert_int_equal(strlen(json_string_value(json_object_get(json_object_get(r, "member"),
	                 "ski"))), 64);
	json_decref(r);
	b = snap(&n);
	assert_int_equal(fac_roster_add(logp, "admin", "Sue again", &src, &who, NULL),
	                 HSM_ERR_EXISTS);
	assert_int_equal(fac_roster_add(logp, "boss", "X", &src, &who, NULL), HSM_ERR_USAGE);
	src.key_file = NULL;
	assert_int_equal(fac_roster_add(logp, "admin", "X", &src, &who, NULL), HSM_ERR_USAGE);
	src.cert_file = "/nonexistent/cert.pem";
	assert_int_equal(fac_roster_add(logp, "admin", "X", &src, &who, NULL),
	                 HSM_ERR_NOT_FOUND);
	src.cert_file = keyp;   /* a key is not a certificate */
	assert_int_equal(fac_roster_add(logp, "admin", "X", &src, &who, NULL), HSM_ERR_FORMAT);
	src.key_file = key2p;   /* two sources */
	assert_int_equal(fac_roster_add(logp, "admin", "X", &src, &who, NULL), HSM_ERR_USAGE);
	src.cert_file = NULL;
	src.key_file = NULL;
	src.card = 1;
	assert_int_equal(fac_roster_add(logp, "witness", "W", &src, &who, NULL), HSM_ERR_USAGE);
	assert_unchanged(b, n);
	src.card = 0;
	assert_int_equal(fac_roster_add(logp, "witness", "Walt", &src, &who, NULL), HSM_OK);
	assert_int_equal(fac_roster_add(logp, "witness", "Walt", &src, &who, NULL),
	                 HSM_ERR_EXISTS);
	src.key_file = key2p;
	assert_int_equal(fac_roster_add(logp, "admin", "Adam", &src, &who, NULL), HSM_OK);

	/* steps, witness, exception */
	assert_int_equal(fac_step(logp, 1, "p", "Parts", NULL, &who, NULL), HSM_OK);
	b = snap(&n);
	assert_int_equal(fac_step(logp, 1, "p", NULL, NULL, &who, NULL), HSM_ERR_STATE);
	assert_int_equal(fac_step(logp, 0, "q", NULL, NULL, &who, NULL), HSM_ERR_STATE);
	assert_int_equal(fac_step(logp, 0, "p", NULL, "maybe", &who, NULL), HSM_ERR_USAGE);
	assert_int_equal(fac_step(logp, 0, "p", "t", NULL, &who, NULL), HSM_ERR_USAGE);
	assert_int_equal(fac_witness(logp, "Mallory", "ok", NULL), HSM_ERR_NOT_FOUND);
	assert_int_equal(fac_witness(logp, "Adam", "ok", NULL), HSM_ERR_NOT_FOUND);
	assert_int_equal(fac_witness(logp, "Walt", "", NULL), HSM_ERR_USAGE);
	assert_int_equal(fac_exception(logp, "a\nb", NULL, NULL, &who, NULL), HSM_ERR_USAGE);
	assert_unchanged(b, n);
	assert_int_equal(fac_exception(logp, "reader died", NULL, "spare", &who, &r), HSM_OK);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(r, "body"), "open_steps"), 0)), "p");
	json_decref(r);
	assert_int_equal(fac_witness(logp, "Walt", "I saw it", NULL), HSM_OK);
	assert_int_equal(fac_step(logp, 0, "p", NULL, "skipped", &who, NULL), HSM_OK);

	/* summary */
	assert_int_equal(fac_scan(logp, &st), HSM_OK);
	assert_int_equal(json_array_size(json_object_get(st, "roster")), 3);
	assert_int_equal(json_array_size(json_object_get(st, "open_steps")), 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(st, "steps"), 0), "result")), "skipped");
	assert_string_equal(json_string_value(json_object_get(st, "installation")), "ACME");
	fac_print_show(stdout, st);
	json_decref(st);

	/* the log verifies so far; after the supervisor, nothing more */
	memset(&vo, 0, sizeof(vo));
	vo.allow_incomplete = 1;
	memset(&vr, 0, sizeof(vr));
	assert_int_equal(evlog_verify(logp, &vo, &vr), HSM_OK);
	evlog_verify_result_clear(&vr);
	{
		hsm_signer *s = NULL;
		memset(&vr, 0, sizeof(vr));
		vo.allow_incomplete = 0;
		assert_int_equal(signer_from_keyfile(keyp, &s), HSM_OK);
		assert_int_equal(evlog_sign_completion(logp, &vo, s, NULL, NULL, NULL, &vr),
		                 HSM_OK);
		evlog_verify_result_clear(&vr);
		signer_free(&s);
	}
	b = snap(&n);
	assert_int_equal(fac_step(logp, 1, "late", NULL, NULL, &who, NULL), HSM_ERR_STATE);
	assert_int_equal(fac_witness(logp, "Walt", "late", NULL), HSM_ERR_STATE);
	assert_int_equal(fac_exception(logp, "late", NULL, NULL, &who, NULL), HSM_ERR_STATE);
	src.key_file = NULL;
	assert_int_equal(fac_roster_add(logp, "witness", "Late", &src, &who, NULL),
	                 HSM_ERR_STATE);
	assert_unchanged(b, n);
}

static void
test_locked(void **state)
{
	char p[160];
	int fd;

	(void)state;
	snprintf(p, sizeof(p), "%s/locked.jsonl", dir);
	assert_int_equal(fac_open(p, "Locked", "ACME", NULL, NULL, NULL), HSM_OK);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	/* flock locks belong to the open file description: another open()
	 * in this process conflicts like another process would. */
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(fac_step(p, 1, "s", NULL, NULL, NULL, NULL), HSM_ERR_LOCKED);
	assert_int_equal(fac_exception(p, "x", NULL, NULL, NULL, NULL), HSM_ERR_LOCKED);
	close(fd);
	assert_int_equal(fac_step(p, 1, "s", NULL, NULL, NULL, NULL), HSM_OK);
}

static void
test_scan_mem(void **state)
{
	json_t *st = NULL;
	char *b, *e, *nl;
	size_t n;

	(void)state;
	b = slurp(logp, &n);
	assert_int_equal(fac_scan_mem(b, n, &st), HSM_OK);
	assert_true(json_is_true(json_object_get(st, "complete")));
	json_decref(st);
	/* cut mid-line */
	assert_int_equal(fac_scan_mem(b, n - 5, &st), HSM_ERR_FORMAT);
	assert_null(st);
	assert_int_equal(fac_scan_mem(b, 0, &st), HSM_ERR_FORMAT);
	/* a record dropped: seq out of order */
	nl = strchr(b, '\n');
	e = strchr(nl + 1, '\n');
	{
		size_t cut = (size_t)(e - nl);
		char *d = malloc(n);
		assert_non_null(d);
		memcpy(d, b, (size_t)(nl - b) + 1);
		memcpy(d + (nl - b) + 1, e + 1, n - (size_t)(e - b) - 1);
		assert_int_equal(fac_scan_mem(d, n - cut, &st), HSM_ERR_AUDIT);
		free(d);
	}
	/* an edited record: the next one's prev no longer matches */
	e = strstr(b, "\"Walt\"");
	assert_non_null(e);
	e[2] = 'X';
	assert_int_equal(fac_scan_mem(b, n, &st), HSM_ERR_AUDIT);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writers),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_scan_mem),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
