/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evmem.c - the verifier and the report over a log's bytes in memory
 * (evlog_verify_mem, evlog_report_mem) give what they give over the file:
 * the same verdict, the same first bad record and reason, the same report;
 * lines over memory are not NUL-terminated and a torn or over-long last
 * line is found as in a file. And the verifier with its signature checks on
 * worker threads (opts.jobs) gives what it gives on one thread: the same
 * first bad record when a signature in the middle is bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hsmadm/codec.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evreport.h"
#include "hsmadm/evverify.h"
#include "test_evlog_fixture.h"

static struct evfix F;
static char good[400];

static int
setup_all(void **state)
{
	(void)state;
	if (evfix_setup(&F) != 0)
		return -1;
	snprintf(good, sizeof(good), "%s/good.log", F.dir);
	return evfix_ceremony(&F, good, EVFIX_NOSYNC | EVFIX_COMPLETE | EVFIX_SENT, NULL) ==
	    HSM_OK ? 0 : -1;
}

static int
teardown_all(void **state)
{
	(void)state;
	evfix_teardown(&F);
	return 0;
}

static void
opts(struct evlog_verify_opts *o, const char **ca, const char **sup)
{
	memset(o, 0, sizeof(*o));
	*ca = F.ca_pem;
	*sup = F.sup_pub;
	o->module_ca_files = ca;
	o->n_module_ca = 1;
	o->supervisor_key_files = sup;
	o->n_supervisor_keys = 1;
}

/* Verify path both ways and compare everything a caller reads. */
static void
same_verdict(const char *path, const char *buf, size_t len, hsm_rc want)
{
	struct evlog_verify_opts o;
	evlog_verify_result a, b;
	const char *ca, *sup;

	opts(&o, &ca, &sup);
	assert_int_equal(evlog_verify(path, &o, &a), want);
	assert_int_equal(evlog_verify_mem(buf, len, &o, &b), want);
	assert_int_equal(a.ok, b.ok);
	assert_int_equal(a.anchored, b.anchored);
	assert_int_equal(a.records, b.records);
	assert_int_equal(a.bad_seq, b.bad_seq);
	assert_string_equal(a.reason, b.reason);
	assert_string_equal(a.head_hash, b.head_hash);
	assert_int_equal(a.signatures, b.signatures);
	assert_int_equal(a.receipts, b.receipts);
	evlog_verify_result_clear(&a);
	evlog_verify_result_clear(&b);
}

static void
test_verify_mem_good(void **state)
{
	size_t len;
	char *buf = evfix_slurp(good, &len);

	(void)state;
	assert_non_null(buf);
	same_verdict(good, buf, len, HSM_OK);
	free(buf);
}

/* A byte changed in the middle, a torn last line, a line over the limit. */
static void
test_verify_mem_bad(void **state)
{
	char path[400], *buf, *big;
	size_t len, cut;

	(void)state;
	buf = evfix_slurp(good, &len);
	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/bad.log", F.dir);
	buf[len / 2] = buf[len / 2] == 'a' ? 'b' : 'a';
	assert_int_equal(evfix_spit(path, buf, len), 0);
	same_verdict(path, buf, len, HSM_ERR_AUDIT);
	buf[len / 2] = buf[len / 2] == 'a' ? 'b' : 'a';
	/* torn: the last line without its end */
	cut = len - 10;
	assert_int_equal(evfix_spit(path, buf, cut), 0);
	same_verdict(path, buf, cut, HSM_ERR_AUDIT);
	/* a last line of more than EVLOG_MAX_LINE bytes */
	big = malloc(len + EVLOG_MAX_LINE + 2);
	assert_non_null(big);
	memcpy(big, buf, len);
	memset(big + len, 'x', EVLOG_MAX_LINE + 1);
	big[len + EVLOG_MAX_LINE + 1] = '\n';
	assert_int_equal(evfix_spit(path, big, len + EVLOG_MAX_LINE + 2), 0);
	same_verdict(path, big, len + EVLOG_MAX_LINE + 2, HSM_ERR_AUDIT);
	free(big);
	free(buf);
}

/* The report over memory is the report over the file, but for the name. */
static void
test_report_mem(void **state)
{
	struct evlog_verify_opts o;
	const char *ca, *sup;
	char *buf, *ra = NULL, *rb = NULL;
	size_t len, la = 0, lb = 0;
	FILE *fa, *fb;
	int html;

	(void)state;
	buf = evfix_slurp(good, &len);
	assert_non_null(buf);
	opts(&o, &ca, &sup);
	for (html = 0; html <= 1; html++) {
		fa = open_memstream(&ra, &la);
		fb = open_memstream(&rb, &lb);
		assert_non_null(fa);
		assert_non_null(fb);
		assert_int_equal(evlog_report(good, &o, html ? EVREPORT_HTML : EVREPORT_TEXT,
		    fa, NULL), HSM_OK);
		assert_int_equal(evlog_report_mem(buf, len, good, &o,
		    html ? EVREPORT_HTML : EVREPORT_TEXT, fb, NULL), HSM_OK);
		fclose(fa);
		fclose(fb);
		assert_true(la > 1000);
		assert_int_equal(la, lb);
		assert_memory_equal(ra, rb, la);
		free(ra);
		free(rb);
		ra = rb = NULL;
	}
	free(buf);
}

/* One verification with jobs threads; the fields a caller reads. */
static void
verify_jobs(const char *path, int jobs, hsm_rc want, evlog_verify_result *res)
{
	struct evlog_verify_opts o;
	const char *ca, *sup;

	opts(&o, &ca, &sup);
	o.jobs = jobs;
	assert_int_equal(evlog_verify(path, &o, res), want);
}

static void
same_jobs(const char *path, hsm_rc want)
{
	evlog_verify_result a, b;
	int jobs;

	verify_jobs(path, 1, want, &a);
	for (jobs = 2; jobs <= 5; jobs += 3) {
		verify_jobs(path, jobs, want, &b);
		assert_int_equal(a.ok, b.ok);
		assert_int_equal(a.bad_seq, b.bad_seq);
		assert_string_equal(a.reason, b.reason);
		assert_int_equal(a.records, b.records);
		assert_int_equal(a.signatures, b.signatures);
		assert_int_equal(a.head_seq, b.head_seq);
		assert_string_equal(a.head_hash, b.head_hash);
		evlog_verify_result_clear(&b);
	}
	evlog_verify_result_clear(&a);
}

/* Flip the signature of the admin's command.signed (or the checkpoint's):
 * a valid-looking low-S signature that does not verify. */
static int
bad_sig(json_t *rec, long long seq, void *arg)
{
	const char *type = json_string_value(json_object_get(rec, "type"));
	json_t *body = json_object_get(rec, "body");
	const char *sig = json_string_value(json_object_get(body, "signature"));
	uint8_t *der = NULL;
	size_t n = 0;
	char *b64 = NULL;

	(void)seq;
	if (type == NULL || strcmp(type, (const char *)arg) != 0 || sig == NULL)
		return 0;
	assert_int_equal(b64_decode(sig, &der, &n), HSM_OK);
	der[n - 1] ^= 0x01;    /* the last byte of S: still DER, still low S */
	assert_int_equal(b64_encode(der, n, &b64), HSM_OK);
	json_object_set_new(body, "signature", json_string(b64));
	free(der);
	free(b64);
	return 0;
}

static void
test_jobs_same_verdict(void **state)
{
	char path[400], *buf;
	size_t len;
	evlog_verify_result r;

	(void)state;
	same_jobs(good, HSM_OK);
	verify_jobs(good, 4, HSM_OK, &r);
	assert_true(r.ok && r.anchored && r.signatures > 0 && r.state != NULL);
	evlog_verify_result_clear(&r);
	buf = evfix_slurp(good, &len);
	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/badsig.log", F.dir);
	assert_int_equal(evfix_spit(path, buf, len), 0);
	assert_int_equal(evfix_rewrite(path, bad_sig, (void *)EV_COMMAND_SIGNED), 0);
	same_jobs(path, HSM_ERR_AUDIT);
	verify_jobs(path, 3, HSM_ERR_AUDIT, &r);
	assert_non_null(strstr(r.reason, "command.signed: signature of the admin does not verify"));
	evlog_verify_result_clear(&r);
	assert_int_equal(evfix_spit(path, buf, len), 0);
	assert_int_equal(evfix_rewrite(path, bad_sig, (void *)EV_CHECKPOINT), 0);
	same_jobs(path, HSM_ERR_AUDIT);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_mem_good),
		cmocka_unit_test(test_verify_mem_bad),
		cmocka_unit_test(test_report_mem),
		cmocka_unit_test(test_jobs_same_verdict),
	};
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
