/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_cli.c - hsmadm-ceremony's script commands (print, run, resume,
 * check-plan) and open --script/--plan, between main.c's option parsing and
 * the work in fac_print.c, fac_run.c and fac_check.c.
 */
#include <stdio.h>
#include <string.h>

#include "cmdutil.h"
#include "fac_run.h"

static int last_cmd_exit;

int
fac_cli_takes_file(const char *cmd)
{
	return strcmp(cmd, "print") == 0 || strcmp(cmd, "run") == 0 ||
	       strcmp(cmd, "resume") == 0 || strcmp(cmd, "check-plan") == 0;
}

int
fac_cli_cmd_exit(void)
{
	return last_cmd_exit;
}

hsm_rc
fac_cli_open(const char *log, const char *title, const char *installation, const char *site,
             const char *script, const char *plan, const struct fac_who *who, json_t **out)
{
	fsc_script *s = NULL;
	fpl_plan *p = NULL;
	char sdesc[256], pdesc[256];
	hsm_rc rc = HSM_OK;

	if (script != NULL && (rc = fsc_load(script, &s)) == HSM_OK)
		snprintf(sdesc, sizeof(sdesc), "%s version %d sha256 %s", s->name, s->version, s->hex);
	if (rc == HSM_OK && plan != NULL && (rc = fpl_load(plan, &p)) == HSM_OK) {
		snprintf(pdesc, sizeof(pdesc), "%s sha256 %s", p->name, p->hex);
		if (installation != NULL && strcmp(installation, p->installation) != 0)
			rc = hsm_fail(HSM_ERR_USAGE, "--installation %s is not the plan's "
			    "installation (%s)", installation, p->installation);
	}
	if (rc == HSM_OK)
		rc = fac_open_ex(log, title, installation, site, s ? sdesc : NULL, p ? pdesc : NULL,
		                 who, out);
	fsc_free(&s);
	fpl_free(&p);
	return rc;
}

hsm_rc
fac_cli(const char *cmd, const struct fac_runopts *o, json_t **res)
{
	hsm_rc rc;

	*res = NULL;
	if (o->plan == NULL)
		return hsm_fail(HSM_ERR_USAGE, "no plan given (--plan FILE)");
	if (strcmp(cmd, "print") == 0) {
		if (o->json && o->html != NULL)
			return hsm_fail(HSM_ERR_USAGE, "--json and --html do not go together");
		return fac_print(o, stdout);
	}
	if (strcmp(cmd, "check-plan") == 0)
		return cer_plan_check(o->script, o->plan, res);
	if (o->log == NULL)
		return hsm_fail(HSM_ERR_USAGE, "no evidence log given (--log FILE)");
	rc = fac_run(o, &last_cmd_exit);
	return rc;
}

hsm_rc
fac_cli_print(const char *cmd, const json_t *res, int json)
{
	json_t *m;
	size_t i;

	if (strcmp(cmd, "check-plan") != 0 || res == NULL)
		return HSM_OK;
	if (json)
		return cmd_print_json(res);
	printf("The log %s fulfils the plan %s: every person and card, the thresholds, "
	    "every domain of every pair with one MKVP.\n",
	    json_string_value(json_object_get(res, "log")),
	    json_string_value(json_object_get(res, "plan")));
	json_array_foreach(json_object_get(res, "missing"), i, m)
		printf("  %s\n", json_string_value(m));
	return HSM_OK;
}
