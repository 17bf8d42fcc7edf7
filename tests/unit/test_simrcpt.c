/* SPDX-License-Identifier: BSD-2-Clause */
/* test_simrcpt.c - the receipts an emulated domain keeps (simrcpt.h): the
 * append-only file and the rules its readers follow (complete lines only,
 * the last line per counter wins, only changes that were saved, bounded),
 * and the applied commands kept beside it, one file linked by the domains
 * of a batch and never written through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "hsmadm/fileio.h"
#include "simrcpt.h"
#include "test_tmpdir.h"

static json_t *
rcpt(int before, const char *mark)
{
	return json_pack("{s:{s:i, s:i, s:s}}", "body", "counter_before", before,
	    "counter_after", before + 1, "mark", mark);
}

static const char *
mark_of(const json_t *all, size_t i)
{
	return json_string_value(json_object_get(json_object_get(json_array_get(all, i), "body"),
	    "mark"));
}

/* A new file is 0600; appended receipts come back in counter order, only
 * those of saved changes (counter_after <= the domain's counter), from a
 * counter on; a torn last line stays a line of its own. */
static void
test_append_and_load(void **state)
{
	const char *dir = *state;
	char path[512];
	json_t *r, *all = NULL;
	struct stat st;
	long lines = -1;
	FILE *fp;
	int i;

	snprintf(path, sizeof(path), "%s/d.receipts.jsonl", dir);
	assert_int_equal(simrcpt_load(path, 0, 100, &all), HSM_OK);   /* no file: none */
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);
	for (i = 0; i < 3; i++) {
		r = rcpt(i, i == 1 ? "one" : "x");
		assert_int_equal(simrcpt_append(path, r, &lines, i % 2), HSM_OK);   /* synced or not */
		json_decref(r);
	}
	assert_int_equal(lines, 3);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(simrcpt_load(path, 1, 2, &all), HSM_OK);
	assert_int_equal(json_array_size(all), 1);   /* from 1, saved up to 2 */
	assert_string_equal(mark_of(all, 0), "one");
	json_decref(all);
	/* a crash mid-write: half a line, no newline */
	assert_non_null(fp = fopen(path, "a"));
	fputs("{\"body\":{\"counter_af", fp);
	fclose(fp);
	r = rcpt(3, "after the tear");
	assert_int_equal(simrcpt_append(path, r, &lines, 1), HSM_OK);
	json_decref(r);
	assert_int_equal(simrcpt_load(path, 0, 100, &all), HSM_OK);
	assert_int_equal(json_array_size(all), 4);
	assert_string_equal(mark_of(all, 3), "after the tear");
	json_decref(all);
}

/* What a reader keeps of the bytes: complete lines, a counter_after one
 * past counter_before, the last line per counter_before, in order. */
static void
test_parse_rules(void **state)
{
	const char *txt =
	    "{\"body\":{\"counter_after\":3,\"counter_before\":2,\"mark\":\"2\"}}\n"
	    "{\"body\":{\"counter_after\":1,\"counter_before\":0,\"mark\":\"0a\"}}\n"
	    "{\"body\":{\"counter_after\":5,\"counter_before\":1,\"mark\":\"jump\"}}\n"
	    "[1,2]\n"
	    "\n"
	    "{\"body\":{\"counter_after\":-1,\"counter_before\":-2}}\n"
	    "{\"body\":{\"counter_after\":1,\"counter_before\":0,\"mark\":\"0b\"}}\n"
	    "{\"body\":{\"counter_after\":2,\"counter_before\":1,\"mark\":\"1\"}}";
	json_t *all = NULL;

	(void)state;
	assert_int_equal(simrcpt_parse(txt, strlen(txt), 0, 10, &all), HSM_OK);
	/* the last, unterminated line is not a receipt; 0b replaced 0a */
	assert_int_equal(json_array_size(all), 2);
	assert_string_equal(mark_of(all, 0), "0b");
	assert_string_equal(mark_of(all, 1), "2");
	json_decref(all);
	assert_int_equal(simrcpt_parse("", 0, 0, 10, &all), HSM_OK);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);
}

/* The receipts file stays bounded: past 2 * SIMRCPT_KEEP lines it is cut to
 * the last SIMRCPT_KEEP, the newest kept. */
static void
test_bounded(void **state)
{
	const char *dir = *state;
	char path[512];
	json_t *all = NULL, *r;
	long lines = -1;
	FILE *fp;
	int i;

	snprintf(path, sizeof(path), "%s/r.jsonl", dir);
	assert_non_null(fp = fopen(path, "w"));
	for (i = 0; i < 2 * SIMRCPT_KEEP; i++)
		fprintf(fp, "{\"body\":{\"counter_after\":%d,\"counter_before\":%d}}\n", i + 1, i);
	fclose(fp);
	r = rcpt(2 * SIMRCPT_KEEP, "newest");
	assert_int_equal(simrcpt_append(path, r, &lines, 1), HSM_OK);
	json_decref(r);
	assert_int_equal(lines, SIMRCPT_KEEP);
	assert_int_equal(simrcpt_load(path, 0, UINT64_MAX, &all), HSM_OK);
	assert_int_equal(json_array_size(all), SIMRCPT_KEEP);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(all, 0),
	    "body"), "counter_before")), SIMRCPT_KEEP + 1);
	assert_string_equal(mark_of(all, SIMRCPT_KEEP - 1), "newest");
	json_decref(all);
}

/* The applied commands: kept and read back; none kept, or a damaged one,
 * reads as none; the one that falls out of the window goes. */
static void
test_commands(void **state)
{
	const char *dir = *state;
	char cdir[512], old[600];
	json_t *c = NULL;
	FILE *fp;

	snprintf(cdir, sizeof(cdir), "%s/07.cmd", dir);
	assert_int_equal(simrcpt_command(cdir, 0, &c), HSM_OK);
	assert_null(c);
	assert_int_equal(simrcpt_keep_command(cdir, 0, "{\"a\":1}", 7, NULL), HSM_OK);
	assert_int_equal(simrcpt_command(cdir, 0, &c), HSM_OK);
	assert_int_equal(json_integer_value(json_object_get(c, "a")), 1);
	json_decref(c);
	/* torn by a crash: as if not kept */
	assert_int_equal(simrcpt_keep_command(cdir, 1, "{\"a\":", 5, NULL), HSM_OK);
	assert_int_equal(simrcpt_command(cdir, 1, &c), HSM_OK);
	assert_null(c);
	/* the window: keeping counter 2 * KEEP drops counter 0's */
	snprintf(old, sizeof(old), "%s/0.json", cdir);
	assert_int_equal(simrcpt_keep_command(cdir, 2 * SIMRCPT_KEEP, "{}", 2, NULL), HSM_OK);
	assert_int_not_equal(access(old, F_OK), 0);
	/* a file where the folder should be: refused, named */
	snprintf(cdir, sizeof(cdir), "%s/08.cmd", dir);
	assert_non_null(fp = fopen(cdir, "w"));
	fclose(fp);
	assert_int_equal(simrcpt_keep_command(cdir, 0, "{}", 2, NULL), HSM_ERR_IO);
	assert_non_null(strstr(hsm_errmsg(), "08.cmd"));
}

/* A batch: the first domain writes the command, the others link it; a
 * command superseded at one domain's counter replaces that domain's name
 * only, never the shared file. */
static void
test_commands_shared(void **state)
{
	const char *dir = *state;
	char d[3][512], p[3][600];
	simrcpt_share share;
	struct stat st[3];
	json_t *c = NULL;
	int i;

	memset(&share, 0, sizeof(share));
	pthread_mutex_init(&share.lock, NULL);
	for (i = 0; i < 3; i++) {
		snprintf(d[i], sizeof(d[i]), "%s/%02d.cmd", dir, i);
		snprintf(p[i], sizeof(p[i]), "%s/%d.json", d[i], 4 + i);
		assert_int_equal(simrcpt_keep_command(d[i], (uint64_t)(4 + i), "{\"b\":2}", 7,
		    &share), HSM_OK);
		assert_int_equal(stat(p[i], &st[i]), 0);
	}
	assert_int_equal(st[0].st_ino, st[1].st_ino);
	assert_int_equal(st[0].st_ino, st[2].st_ino);
	assert_int_equal(stat(p[0], &st[0]), 0);
	assert_int_equal(st[0].st_nlink, 3);
	assert_int_equal(simrcpt_keep_command(d[1], 5, "{\"b\":3}", 7, NULL), HSM_OK);
	assert_int_equal(simrcpt_command(d[0], 4, &c), HSM_OK);
	assert_int_equal(json_integer_value(json_object_get(c, "b")), 2);
	json_decref(c);
	assert_int_equal(simrcpt_command(d[1], 5, &c), HSM_OK);
	assert_int_equal(json_integer_value(json_object_get(c, "b")), 3);
	json_decref(c);
	pthread_mutex_destroy(&share.lock);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_and_load, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_parse_rules),
		cmocka_unit_test_setup_teardown(test_bounded, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_commands, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_commands_shared, tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
