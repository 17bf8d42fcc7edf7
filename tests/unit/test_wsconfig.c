/* SPDX-License-Identifier: BSD-2-Clause */
/* test_wsconfig.c - the workstation directory: private modes, trusted
 * modules, groups, members, client certificate, and what is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/wsconfig.h"

static char dir[64], home[128], pem[160], notpem[160];

static int
setup(void **state)
{
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_wsconfig.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(pem, sizeof(pem), "%s/ca.pem", dir);
	snprintf(notpem, sizeof(notpem), "%s/junk.txt", dir);
	if ((f = fopen(pem, "w")) == NULL)
		return -1;
	fputs("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	if ((f = fopen(notpem, "w")) == NULL)
		return -1;
	fputs("hello\n", f);
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_home_choice(void **state)
{
	char *h = NULL;

	(void)state;
	assert_int_equal(wsconfig_home("/x/y", &h), HSM_OK);
	assert_string_equal(h, "/x/y");
	free(h);
	setenv("HSMADM_HOME", "/from/env", 1);
	assert_int_equal(wsconfig_home(NULL, &h), HSM_OK);
	assert_string_equal(h, "/from/env");
	free(h);
	unsetenv("HSMADM_HOME");
	setenv("HOME", "/home/u", 1);
	assert_int_equal(wsconfig_home(NULL, &h), HSM_OK);
	assert_string_equal(h, "/home/u/.config/hsmadm");
	free(h);
}

static void
test_modules_groups(void **state)
{
	wsconfig *c = NULL;
	wsc_module m;
	wsc_member mem[3], *got = NULL;
	size_t n = 0;
	struct stat st;
	char path[256], cert[WSC_PATH_MAX], key[WSC_PATH_MAX];

	(void)state;
	assert_int_equal(wsconfig_open(home, &c), HSM_OK);
	assert_int_equal(stat(home, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(wsconfig_nmodules(c), 0);
	assert_int_equal(wsconfig_client_paths(c, cert, key), HSM_ERR_NOT_FOUND);
	assert_int_equal(wsconfig_module_add(c, "dc1", "DC1-M01", "127.0.0.1:1", pem, "ab", NULL, 0), HSM_OK);
	assert_int_equal(wsconfig_module_add(c, "dc2", "DC2-M01", "[::1]:2", pem, "cd", "TUlJ", 0), HSM_OK);
	/* refused: duplicates, bad names, bad address, not a PEM */
	assert_int_equal(wsconfig_module_add(c, "dc1", "X", "h:1", pem, "ef", NULL, 0), HSM_ERR_EXISTS);
	assert_int_equal(wsconfig_module_add(c, "x", "DC1-M01", "h:1", pem, "ef", NULL, 0), HSM_ERR_EXISTS);
	assert_int_equal(wsconfig_module_add(c, "a/b", "S", "h:1", pem, "ef", NULL, 0), HSM_ERR_USAGE);
	assert_int_equal(wsconfig_module_add(c, "a", "S", "nohostport", pem, "ef", NULL, 0), HSM_ERR_USAGE);
	assert_int_equal(wsconfig_module_add(c, "a", "S", "h:1", notpem, "ef", NULL, 0), HSM_ERR_FORMAT);
	assert_int_equal(wsconfig_nmodules(c), 2);
	assert_int_equal(wsconfig_module_find(c, "DC2-M01", &m), HSM_OK);
	assert_string_equal(m.name, "dc2");
	assert_non_null(strstr(m.ca_path, "/ca-DC2-M01.pem"));
	assert_int_equal(stat(m.ca_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(wsconfig_module_find(c, "nope", &m), HSM_ERR_NOT_FOUND);
	assert_non_null(strstr(hsm_errmsg(), "module add"));

	assert_int_equal(wsconfig_parse_member(c, "dc1:3", &mem[0]), HSM_OK);
	assert_string_equal(mem[0].module, "DC1-M01");
	assert_int_equal(mem[0].domain, 3);
	assert_int_equal(wsconfig_parse_member(c, "DC2-M01:3", &mem[1]), HSM_OK);
	assert_int_equal(wsconfig_parse_member(c, "dc1:85", &mem[2]), HSM_ERR_USAGE);
	assert_int_equal(wsconfig_parse_member(c, "dc1:", &mem[2]), HSM_ERR_USAGE);
	assert_int_equal(wsconfig_parse_member(c, "dc1", &mem[2]), HSM_ERR_USAGE);
	assert_int_equal(wsconfig_parse_member(c, "dc9:1", &mem[2]), HSM_ERR_NOT_FOUND);
	assert_int_equal(wsconfig_group_add(c, "pair", mem, 2), HSM_OK);
	assert_int_equal(wsconfig_group_add(c, "pair", mem, 2), HSM_ERR_EXISTS);
	mem[2] = mem[0];
	assert_int_equal(wsconfig_group_add(c, "dup", mem, 3), HSM_ERR_USAGE);
	assert_int_equal(wsconfig_group_add(c, "empty", mem, 0), HSM_ERR_USAGE);
	assert_int_equal(wsconfig_client_set(c, pem, pem), HSM_OK);
	assert_int_equal(wsconfig_save(c), HSM_OK);
	wsconfig_free(&c);
	assert_null(c);

	/* read back */
	assert_int_equal(wsconfig_open(home, &c), HSM_OK);
	assert_int_equal(wsconfig_ngroups(c), 1);
	/* the confirmed OA certificate is kept when given, absent when not */
	assert_int_equal(wsconfig_module_find(c, "dc2", &m), HSM_OK);
	assert_non_null(m.oa_cert);
	assert_string_equal(m.oa_cert, "TUlJ");
	assert_string_equal(m.oa_fingerprint, "cd");
	assert_int_equal(wsconfig_module_find(c, "dc1", &m), HSM_OK);
	assert_null(m.oa_cert);
	assert_int_equal(wsconfig_group_find(c, "pair", &got, &n), HSM_OK);
	assert_int_equal(n, 2);
	assert_string_equal(got[1].module, "DC2-M01");
	free(got);
	assert_int_equal(wsconfig_group_find(c, "none", &got, &n), HSM_ERR_NOT_FOUND);
	assert_int_equal(wsconfig_client_paths(c, cert, key), HSM_OK);
	wsconfig_free(&c);

	/* others may not read it */
	snprintf(path, sizeof(path), "%s/config.json", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	chmod(path, 0644);
	assert_int_equal(wsconfig_open(home, &c), HSM_ERR_STATE);
	assert_non_null(strstr(hsm_errmsg(), "chmod 600"));
	chmod(path, 0600);
	chmod(home, 0750);
	assert_int_equal(wsconfig_open(home, &c), HSM_ERR_STATE);
	assert_non_null(strstr(hsm_errmsg(), "chmod 700"));
	chmod(home, 0700);
	/* a damaged config is a format error, not a crash */
	{
		FILE *f = fopen(path, "w");
		fputs("{\"v\":1,\"modules\":{}}", f);
		fclose(f);
	}
	assert_int_equal(wsconfig_open(home, &c), HSM_ERR_FORMAT);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_home_choice),
		cmocka_unit_test(test_modules_groups),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
