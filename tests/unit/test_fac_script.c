/* SPDX-License-Identifier: BSD-2-Clause */
/* test_fac_script.c - ceremony scripts and plans (cmd/hsmadm-ceremony
 * fac_script.c, fac_plan.c, fac_expand.c): every shipped script parses; each
 * malformed line is refused naming its line; the plan's checks; placeholders
 * filled in, repeated options, PIN owners, a missing backup card named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fac_script.h"

#define HDR "hsmadm-ceremony-script 1\nname t\nversion 1\ntitle T\n"
#define STEP "step 1 s1 Step one\nwho admin\n"
#define END "confirm seen\nsign supervisor\n"

static const char plan_json[] =
"{\"format\":\"hsmadm-ceremony-plan 1\",\"name\":\"p\",\"title\":\"Plan\","
"\"installation\":\"bank\",\"parts\":2,\"thresholds\":{\"signature\":2,\"revocation\":1},"
"\"sites\":[{\"id\":\"DC1\",\"name\":\"one\"},{\"id\":\"DC2\",\"name\":\"two\"}],"
"\"modules\":[{\"name\":\"dc1\",\"serial\":\"M1\",\"site\":\"DC1\",\"address\":\"h:1\",\"ca\":\"ca.pem\"},"
"{\"name\":\"dc2\",\"serial\":\"M2\",\"site\":\"DC2\",\"address\":\"h:2\",\"ca\":\"ca.pem\"}],"
"\"pairs\":[{\"group\":\"pair\",\"domains\":[{\"module\":\"dc1\",\"domain\":3},{\"module\":\"dc2\",\"domain\":3}]}],"
"\"people\":["
"{\"role\":\"admin\",\"name\":\"A One\",\"card\":{\"label\":\"A1\",\"reader\":\"R1\",\"virtual\":true},"
" \"backups\":[{\"label\":\"A1B\",\"reader\":\"R1B\",\"virtual\":true}]},"
"{\"role\":\"admin\",\"name\":\"A Two\",\"card\":{\"label\":\"A2\",\"reader\":\"R2\"}},"
"{\"role\":\"custodian\",\"name\":\"C One\",\"part\":\"p1\",\"card\":{\"label\":\"C1\",\"reader\":\"R3\"}},"
"{\"role\":\"custodian\",\"name\":\"C Two\",\"part\":\"p2\",\"card\":{\"label\":\"C2\",\"reader\":\"R4\"}},"
"{\"role\":\"supervisor\",\"name\":\"S\",\"card\":{\"label\":\"S1\",\"reader\":\"R5\"}},"
"{\"role\":\"witness\",\"name\":\"W\"}]}";

static hsm_rc
parse(const char *s)
{
	fsc_script *sc = NULL;
	hsm_rc rc = fsc_parse(s, strlen(s), &sc);

	if (rc == HSM_OK)
		assert_non_null(sc);
	else
		assert_null(sc);
	fsc_free(&sc);
	return rc;
}

static void
refused(const char *s, const char *msg)
{
	assert_int_equal(parse(s), HSM_ERR_FORMAT);
	if (strstr(hsm_errmsg(), msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", hsm_errmsg(), msg);
}

static void
test_good(void **st)
{
	const char *s = HDR "about a\nabout b\n" STEP "do act\nrun hsmadm-card status --reader {admin.1.reader}\n"
	    "each admin hsmadm-card verify --reader {admin.N.reader} --pin-fd {pins:admin.N}\nalready 5\n"
	    END "sign facilitator\nfinally supervisor hsmadm-audit sign-completion {log}\n";
	fsc_script *sc = NULL;

	(void)st;
	assert_int_equal(fsc_parse(s, strlen(s), &sc), HSM_OK);
	assert_string_equal(sc->name, "t");
	assert_string_equal(sc->about, "a b");
	assert_int_equal(sc->nsteps, 1);
	assert_int_equal(sc->steps[0].already, 5);
	assert_int_equal(sc->steps[0].nlines, 6);
	assert_int_equal(sc->steps[0].lines[2].kind, FSC_EACH);
	assert_string_equal(sc->steps[0].lines[2].each, "admin");
	assert_int_equal(sc->nfin, 1);
	assert_int_equal(strlen(sc->hex), 64);
	fsc_free(&sc);
}

static void
test_shipped(void **st)
{
	static const char *const names[] = { "initial-master-key", "backup-card-set",
		"card-health-check", "admin-replacement", "add-domain-pair", "mk-rotation",
		"decommission", NULL };
	char path[512];
	fsc_script *sc = NULL;
	size_t i;

	(void)st;
	for (i = 0; names[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/ceremony-scripts/%s.script", FSC_SRC_DIR,
		    names[i]);
		if (fsc_load(path, &sc) != HSM_OK)
			fail_msg("%s: %s", path, hsm_errmsg());
		assert_string_equal(sc->name, names[i]);
		fsc_free(&sc);
	}
	assert_int_equal(parse(HDR STEP END), HSM_OK);
}

static void
test_bad_lines(void **st)
{
	(void)st;
	refused("name t\n", "line 1: a ceremony script starts with");
	refused(HDR STEP "frobnicate x\n" END, "line 7: unknown keyword \"frobnicate\"");
	refused(HDR STEP "run hsmadm-card status --reader {admin.1.badfield}\n" END,
	    "unknown placeholder {admin.1.badfield}");
	refused(HDR STEP "run hsmadm-card status --reader {nobody}\n" END,
	    "unknown placeholder {nobody}");
	refused(HDR STEP "run hsmadm-card status --reader {admin.N.reader}\n" END,
	    "N is only allowed on an \"each admin\" line");
	refused(HDR STEP "run ls -l\n" END, "line 7: a command must start with one of");
	refused(HDR STEP "run hsmadm-card status; rm -rf /\n" END, "no shell runs it");
	refused(HDR STEP "run hsmadm-card status --reader {admin.1.reader\n" END,
	    "without its '}'");
	refused(HDR STEP "run hsmadm-card status --pin-fd x{pins:admin.1}\n" END,
	    "must be a word of their own");
	refused(HDR STEP "run hsmadm-card status --pin-fd {pins:boss.1}\n" END, "each item is");
	refused(HDR STEP "confirm seen\n", "needs a \"who\", at least one \"confirm\" and one \"sign\"");
	refused(HDR STEP END "do late\n", "the \"sign\" lines end a step");
	refused(HDR "step 2 s2 Two\nwho admin\n" END, "step 2 follows step 0");
	refused(HDR STEP END "step 2 s1 Again\nwho admin\n" END, "step id s1 is used by step 1");
	refused(HDR STEP "who admin\n" END, "\"who\" comes once");
	refused(HDR "step 1 s1 One\nwho boss\n" END, "who names roles");
	refused(HDR "step 1 s1 One\ndo x\n" END, "\"who\" must come right after");
	refused(HDR STEP "do a\ttab\n" END, "control character");
	refused(HDR STEP "already 0\n" END, "\"already\" takes one exit code");
	refused(HDR STEP "each boss hsmadm-card status\n" END, "\"each\" is \"each LIST COMMAND\"");
	refused(HDR STEP END "finally boss hsmadm-card status\n", "\"finally\" is");
	refused(HDR STEP END "finally supervisor hsmadm-card status\nstep 2 s2 Two\n",
	    "only \"finally\" lines may follow");
	refused("hsmadm-ceremony-script 1\nname T!\n", "a name is 1 to 64");
	refused("hsmadm-ceremony-script 1\nname t\nstep 1 s One\n", "name, version and title come");
	refused(HDR STEP END "no-newline", "has no line end");
	refused(HDR "do early\n", "is not expected here");
	refused(HDR STEP "do trailing \n" END, "ends with a space");
	refused(HDR, "at least one step");
}

static fpl_plan *
plan_of(const char *s)
{
	fpl_plan *p = NULL;

	assert_int_equal(fpl_parse(s, strlen(s), &p), HSM_OK);
	return p;
}

static void
plan_refused(const char *from, const char *to, const char *msg)
{
	char *s = strdup(plan_json), *at;
	char buf[sizeof(plan_json) + 256];
	fpl_plan *p = NULL;

	assert_non_null(s);
	assert_non_null(at = strstr(s, from));
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	assert_int_equal(fpl_parse(buf, strlen(buf), &p), HSM_ERR_FORMAT);
	assert_null(p);
	if (strstr(hsm_errmsg(), msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", hsm_errmsg(), msg);
	free(s);
}

static void
test_plan(void **st)
{
	fpl_plan *p = plan_of(plan_json);

	(void)st;
	assert_int_equal(p->npeople, 6);
	assert_int_equal(p->sig, 2);
	assert_int_equal(fpl_count(p, "admin"), 2);
	assert_string_equal(fpl_person_at(p, "custodian", 2)->part, "p2");
	assert_true(fpl_person_at(p, "admin", 1)->card.is_virtual);
	assert_false(fpl_person_at(p, "admin", 2)->card.is_virtual);
	assert_int_equal(strlen(p->hex), 64);
	fpl_free(&p);
	plan_refused("{\"format\"", "{,\"format\"", "not JSON");
	plan_refused("\"site\":\"DC2\"", "\"site\":\"DC1\"", "a pair spans two sites");
	plan_refused("\"signature\":2", "\"signature\":3", "above the number of admins");
	plan_refused("\"parts\":2", "\"parts\":3", "each custodian holds one part");
	plan_refused("\"backups\"", "\"backup\"", "unknown member \"backup\"");
	plan_refused("\"part\":\"p2\"", "\"part\":\"p1\"", "part p1 is held by");
	plan_refused("{\"role\":\"witness\",\"name\":\"W\"}",
	    "{\"role\":\"witness\",\"name\":\"W\",\"card\":{\"label\":\"x\",\"reader\":\"y\"}}",
	    "has no hsmadm card");
	plan_refused("hsmadm-ceremony-plan 1", "hsmadm-ceremony-plan 9", "format must be");
	plan_refused("\"site\":\"DC2\"", "\"site\":\"DC9\"", "which \"sites\" does not list");
	plan_refused("\"name\":\"p\"", "\"name\":\"p\",\"name\":\"q\"", "not JSON");
}

static void
test_expand(void **st)
{
	fpl_plan *p = plan_of(plan_json);
	fsc_ctx c = { .log = "/l/c.jsonl", .dir = "/l", .plan = "plan.json", .script = "s" };
	fsc_cmd cmd;

	(void)st;
	assert_int_equal(fsc_expand("hsmadm-commit load --group {group} --part {custodian.*.part} "
	    "--log {log} --pin-fd {pins:custodian.*} --admin-reader {admin.q.reader} "
	    "--admin-pin-fd {pins:admin.1,admin.1xparts}", p, &c, NULL, 0, &cmd), HSM_OK);
	assert_int_equal(cmd.argc, 18);
	assert_string_equal(cmd.argv[3], "pair");
	assert_string_equal(cmd.argv[4], "--part");
	assert_string_equal(cmd.argv[5], "p1");
	assert_string_equal(cmd.argv[6], "--part");
	assert_string_equal(cmd.argv[7], "p2");
	assert_string_equal(cmd.argv[9], "/l/c.jsonl");
	assert_string_equal(cmd.argv[11], "-1");
	assert_string_equal(cmd.argv[13], "R1");
	assert_string_equal(cmd.argv[14], "--admin-reader");
	assert_string_equal(cmd.argv[15], "R2");
	assert_string_equal(cmd.argv[17], "-1");
	assert_null(cmd.argv[18]);
	assert_int_equal(cmd.feeds[1].argi, 17);
	assert_int_equal(cmd.nfeeds, 2);
	assert_int_equal(cmd.feeds[0].argi, 11);
	assert_int_equal(cmd.feeds[0].n, 2);
	assert_string_equal(cmd.feeds[0].who[1], "custodian.2");
	assert_int_equal(cmd.feeds[1].n, 3);   /* admin 1 once, then once per part */
	assert_string_equal(cmd.feeds[1].who[2], "admin.1");
	assert_int_equal(cmd.ninserts, 2);     /* the quorum's readers */
	assert_string_equal(cmd.inserts[1].label, "A2");
	fsc_cmd_clear(&cmd);

	assert_int_equal(fsc_expand("hsmadm-card init --backup-of {admin.N.card_id} --reader "
	    "{admin.N.backup.reader} --new-puk-fd {answer:admin.N.puk}", p, &c, "admin", 1, &cmd),
	    HSM_OK);
	assert_string_equal(cmd.argv[3], "<card id of A One's card>");
	assert_string_equal(cmd.argv[5], "R1B");
	assert_string_equal(cmd.feeds[0].who[0], "admin.1.puk");
	assert_int_equal(cmd.feeds[0].is_pin, 0);
	assert_string_equal(cmd.inserts[0].label, "A1B");
	fsc_cmd_clear(&cmd);

	/* Admin 2 has no backup card: said, with the command. */
	assert_int_equal(fsc_expand("hsmadm-card status --reader {admin.N.backup.reader}", p, &c,
	    "admin", 2, &cmd), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "the plan gives admin A Two (admin 2) no backup card"));
	assert_int_equal(fsc_expand("hsmadm-card status --reader {admin.3.reader}", p, &c, NULL, 0,
	    &cmd), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "the plan has 2 admins, so admin.3 names nobody"));
	assert_int_equal(fsc_expand("hsmadm-rotate stage --request-id {request.id}", p, &c, NULL, 0,
	    &cmd), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "the plan names no request"));
	assert_int_equal(fsc_expand("hsmadm-card status --reader x{admin.*.reader}", p, &c, NULL, 0,
	    &cmd), HSM_ERR_FORMAT);
	assert_non_null(strstr(hsm_errmsg(), "must be a word of its own"));
	assert_int_equal(fsc_each_count(p, "admin.q"), 2);
	assert_int_equal(fsc_each_count(p, "witness"), 1);
	assert_int_equal(fsc_each_count(p, "pair"), 1);
	fpl_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_expand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
