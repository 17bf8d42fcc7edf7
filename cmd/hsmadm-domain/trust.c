/* SPDX-License-Identifier: BSD-2-Clause */
/* trust.c - hsmadm-domain client / module / group / admin list: what this
 * workstation trusts and how the groups look. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmdutil.h"
#include "domain.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/group.h"
#include "hsmadm/moddriver.h"
#include "hsmadm/x509util.h"

hsm_rc
open_config(const struct gopts *g, wsconfig **cfg)
{
	char *home = NULL;
	hsm_rc rc;

	if ((rc = wsconfig_home(g->home, &home)) != HSM_OK)
		return rc;
	rc = wsconfig_open(home, cfg);
	free(home);
	return rc;
}

int
parse_sopts(int argc, char **argv, struct sopts *o, char **pos, int *npos)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "pubkey-file", required_argument, NULL, 'P' },
		{ "pubkey", required_argument, NULL, 'X' },
		{ "name", required_argument, NULL, 'n' },
		{ "identity", required_argument, NULL, 'i' },
		{ "ski", required_argument, NULL, 's' },
		{ "params", required_argument, NULL, 'p' },
		{ "group", required_argument, NULL, 'g' },
		{ "reader", required_argument, NULL, 'r' },
		{ "ca", required_argument, NULL, 'C' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "signature", required_argument, NULL, 'S' },
		{ "revocation", required_argument, NULL, 'R' },
		{ "valid-for", required_argument, NULL, 'V' },
		{ "key-file", required_argument, NULL, 'K' },
		{ "card", no_argument, NULL, 'd' },
		{ "roll-forward", no_argument, NULL, 'F' },
		{ "yes", no_argument, NULL, 'y' },
		{ "pin-fd", required_argument, NULL, 'f' },
		{ "confirm-fd", required_argument, NULL, 'q' },
		{ "evidence", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->signature = o->revocation = -1;
	o->valid_for = 86400;
	o->pin_fd = o->confirm_fd = -1;
	*npos = 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end = NULL;
		long v = 0;
		if (optarg && strchr("SRVfq", c)) {
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0')
				return cmd_usage_error(PROG, "%s needs a number, not \"%s\"",
				    argv[optind - 1], optarg);
		}
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'P': o->pubkey_file = optarg; break;
		case 'X': o->pubkey_hex = optarg; break;
		case 'n': o->name = optarg; break;
		case 'i': o->identity = optarg; break;
		case 's': o->ski = optarg; break;
		case 'p': o->params = optarg; break;
		case 'g': o->group = optarg; break;
		case 'r': o->reader = optarg; o->card = 1; break;
		case 'C': o->ca = optarg; break;
		case 'c': o->pubkey_file = optarg; break;   /* client set --cert */
		case 'k': o->identity = optarg; break;      /* client set --key */
		case 'S': o->signature = v; break;
		case 'R': o->revocation = v; break;
		case 'V':
			/* A module refuses a window over 7 days and an hour
			 * (docs/formats/command.md); the proposal adds 5 minutes. */
			if (v < 1 || v > ADMINCMD_MAX_VALID_FOR)
				return cmd_usage_error(PROG, "--valid-for must be 1..%d seconds "
				    "(at most 7 days)", ADMINCMD_MAX_VALID_FOR);
			o->valid_for = v;
			break;
		case 'K':
			if (o->nkeys >= MAX_KEYS)
				return cmd_usage_error(PROG, "at most %d --key-file options", MAX_KEYS);
			o->key_files[o->nkeys++] = optarg;
			break;
		case 'd': o->card = 1; break;
		case 'F': o->roll_forward = 1; break;
		case 'y': o->yes = 1; break;
		case 'f': o->pin_fd = (int)v; break;
		case 'q': o->confirm_fd = (int)v; break;
		case 'E': o->evidence = optarg; break;
		case 'h': o->help = 1; break;
		default:
			return cmd_usage_error(PROG, "unknown or incomplete option %s",
			    argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (*npos >= 32)
			return cmd_usage_error(PROG, "too many arguments");
		pos[(*npos)++] = argv[optind];
	}
	if (o->help) {
		usage(stdout);
		return -1;
	}
	return 0;
}

/* ---- client ---- */

int
cmd_client(const struct gopts *g, int argc, char **argv)
{
	struct sopts o;
	char *pos[32];
	int npos, r;
	wsconfig *cfg = NULL;
	hsm_rc rc;

	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos != 1 || strcmp(pos[0], "set") != 0)
		return cmd_usage_error(PROG, "usage: client set --cert FILE --key FILE");
	if (o.pubkey_file == NULL || o.identity == NULL)
		return cmd_usage_error(PROG, "client set needs --cert FILE and --key FILE");
	if ((rc = open_config(g, &cfg)) != HSM_OK ||
	    (rc = wsconfig_client_set(cfg, o.pubkey_file, o.identity)) != HSM_OK ||
	    (rc = wsconfig_save(cfg)) != HSM_OK) {
		wsconfig_free(&cfg);
		return cmd_fail(PROG, rc);
	}
	if (g->json) {
		json_t *j = json_pack("{s:s}", "home", wsconfig_dir(cfg));
		cmd_print_json(j);
		json_decref(j);
	} else
		printf("Client certificate and key stored in %s.\n", wsconfig_dir(cfg));
	wsconfig_free(&cfg);
	return 0;
}

/* ---- module ---- */

static hsm_rc
oa_fingerprint(const json_t *info, char hex[65], char **subject_serial)
{
	const char *b64 = json_string_value(json_object_get(info, "oa_cert"));
	uint8_t *der = NULL, fp[32];
	size_t n = 0;
	X509 *x = NULL;
	char buf[128];
	hsm_rc rc;

	*subject_serial = NULL;
	if (b64 == NULL)
		return hsm_fail(HSM_ERR_MODULE, "the module did not send its OA certificate");
	if ((rc = b64_decode(b64, &der, &n)) != HSM_OK ||
	    (rc = x509u_from_der(der, n, &x)) != HSM_OK) {
		free(der);
		return hsm_fail_wrap(HSM_ERR_MODULE, "the module's OA certificate");
	}
	if ((rc = x509u_fingerprint(x, fp)) == HSM_OK) {
		hex_encode_buf(fp, 32, hex);
		if (x509u_subject_serial(x, buf, sizeof(buf)) == HSM_OK)
			*subject_serial = strdup(buf);
	}
	X509_free(x);
	free(der);
	return rc;
}

static void
fp_groups(const char *hex, char *out, size_t n)
{
	size_t i, o = 0;

	for (i = 0; hex[i] && o + 2 < n; i++) {
		if (i && i % 4 == 0)
			out[o++] = (i % 32 == 0) ? '\n' : ' ';
		out[o++] = hex[i];
	}
	out[o] = '\0';
}

static int
module_add(const struct gopts *g, const struct sopts *o, char **pos, int npos)
{
	wsconfig *cfg = NULL;
	moddrv *d = NULL;
	json_t *info = NULL, *j = NULL;
	char cert[WSC_PATH_MAX], key[WSC_PATH_MAX], fp[65], grouped[128], word[9];
	char *oa_serial = NULL;
	const char *serial, *oa_cert;
	hsm_rc rc;

	if (npos != 3)
		return cmd_usage_error(PROG, "usage: module add NAME HOST:PORT --ca FILE");
	if (o->ca == NULL)
		return cmd_usage_error(PROG, "module add needs --ca FILE (the module CA to pin)");
	if ((rc = open_config(g, &cfg)) != HSM_OK ||
	    (rc = wsconfig_client_paths(cfg, cert, key)) != HSM_OK)
		goto out;
	/* First contact: the chain must lead to the CA given; the serial is
	 * learned from the module and checked against its certificate. */
	if ((rc = modclient_sim_open(pos[2], NULL, o->ca, cert, key, g->timeout_ms, &d)) != HSM_OK)
		goto out;
	if ((rc = moddrv_info(d, &info)) != HSM_OK)
		goto out;
	serial = moddrv_serial(d);
	if ((rc = oa_fingerprint(info, fp, &oa_serial)) != HSM_OK)
		goto out;
	if (oa_serial == NULL || strcmp(oa_serial, serial) != 0) {
		rc = hsm_fail(HSM_ERR_TRUST, "the module's OA certificate names serial %s, "
		    "not %s; not added", oa_serial ? oa_serial : "(none)", serial);
		goto out;
	}
	/* Its receipts will be checked against the CA given: a certificate
	 * they would fail is refused now, before anyone confirms it. */
	oa_cert = json_string_value(json_object_get(info, "oa_cert"));
	if ((rc = group_oa_trust(o->ca, serial, oa_cert)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "module %s not added", pos[1]);
		goto out;
	}
	fp_groups(fp, grouped, sizeof(grouped));
	memcpy(word, fp, 8);
	word[8] = '\0';
	if (!g->json || !o->yes) {
		fprintf(g->json ? stderr : stdout,
		    "Module %s (serial %s) at %s\nOA certificate fingerprint (SHA-256):\n%s\n",
		    pos[1], serial, pos[2], grouped);
		fflush(stdout);
	}
	if (!o->yes) {
		char q[256];
		snprintf(q, sizeof(q), "Compare this fingerprint with the one the module's "
		    "operator reads to you.");
		if ((rc = cmd_confirm_typed(q, word, o->confirm_fd)) != HSM_OK)
			goto out;
	}
	if ((rc = wsconfig_module_add(cfg, pos[1], serial, pos[2], o->ca, fp, oa_cert, 0)) != HSM_OK ||
	    (rc = wsconfig_save(cfg)) != HSM_OK)
		goto out;
	if (g->json) {
		j = json_pack("{s:s, s:s, s:s, s:s}", "name", pos[1], "serial", serial,
		    "address", pos[2], "oa_fingerprint", fp);
		cmd_print_json(j);
	} else
		printf("Module %s is now trusted by this workstation.\n", pos[1]);
out:
	free(oa_serial);
	json_decref(info);
	json_decref(j);
	moddrv_free(&d);
	wsconfig_free(&cfg);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

static int
module_list(const struct gopts *g)
{
	wsconfig *cfg = NULL;
	wsc_module m;
	size_t i;
	hsm_rc rc;

	if ((rc = open_config(g, &cfg)) != HSM_OK)
		return cmd_fail(PROG, rc);
	if (g->json) {
		json_t *a = json_array();
		for (i = 0; i < wsconfig_nmodules(cfg); i++)
			if (wsconfig_module_at(cfg, i, &m) == HSM_OK)
				json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}",
				    "name", m.name, "serial", m.serial, "address", m.address,
				    "oa_fingerprint", m.oa_fingerprint));
		cmd_print_json(a);
		json_decref(a);
	} else {
		if (wsconfig_nmodules(cfg) == 0)
			printf("No trusted modules yet; add one with: " PROG " module add\n");
		for (i = 0; i < wsconfig_nmodules(cfg); i++)
			if (wsconfig_module_at(cfg, i, &m) == HSM_OK)
				printf("%-16s serial %-16s %-24s OA %.16s...\n", m.name, m.serial,
				    m.address, m.oa_fingerprint);
	}
	wsconfig_free(&cfg);
	return 0;
}

/* Where the module keeps its keys (module.info's "keystore"): a rehearsal
 * module and one in front of a token must not look alike. */
static void
print_keystore(const json_t *ks)
{
	const char *b = json_string_value(json_object_get(ks, "backend"));
	const char *names[2] = { "in_token", "in_module_memory" };
	const char *heads[2] = { "done in the token:", "done in the module's memory:" };
	const json_t *v;
	size_t i, k;

	if (b == NULL) {
		printf("  key store    not said (a module older than the key stores)\n");
		return;
	}
	if (strcmp(b, "pkcs11") != 0) {
		printf("  key store    %s (rehearsal: keys in clear in the module's files)\n", b);
		return;
	}
	printf("  key store    pkcs11 token \"%s\" (%s)\n  library      %s\n",
	    json_string_value(json_object_get(ks, "token")),
	    json_string_value(json_object_get(ks, "token_desc")),
	    json_string_value(json_object_get(ks, "library")));
	for (k = 0; k < 2; k++) {
		printf("  %s\n", heads[k]);
		json_array_foreach(json_object_get(ks, names[k]), i, v)
			printf("    - %s\n", json_string_value(v));
	}
}

static int
module_show(const struct gopts *g, char **pos, int npos)
{
	wsconfig *cfg = NULL;
	moddrv *d = NULL;
	json_t *info = NULL;
	wsc_module m;
	char fp[65], *oa_serial = NULL;
	hsm_rc rc;

	if (npos != 2)
		return cmd_usage_error(PROG, "usage: module show NAME");
	if ((rc = open_config(g, &cfg)) != HSM_OK ||
	    (rc = wsconfig_module_find(cfg, pos[1], &m)) != HSM_OK ||
	    (rc = wsconfig_module_open(cfg, pos[1], g->timeout_ms, &d)) != HSM_OK ||
	    (rc = moddrv_info(d, &info)) != HSM_OK ||
	    (rc = oa_fingerprint(info, fp, &oa_serial)) != HSM_OK)
		goto out;
	if (strcmp(fp, m.oa_fingerprint) != 0) {
		rc = hsm_fail(HSM_ERR_TRUST, "module %s now shows OA certificate %.16s..., but "
		    "%.16s... was confirmed when it was added; find out why before using it",
		    m.name, fp, m.oa_fingerprint);
		goto out;
	}
	if (g->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:O}", "name", m.name, "serial",
		    m.serial, "address", m.address, "oa_fingerprint", fp, "info", info);
		cmd_print_json(j);
		json_decref(j);
	} else {
		printf("Module %s\n  serial       %s\n  address      %s\n  domains      %lld\n"
		    "  software     %s\n  OA cert      %s (as confirmed)\n", m.name, m.serial,
		    m.address, (long long)json_integer_value(json_object_get(info, "domains")),
		    json_string_value(json_object_get(info, "software")) ?
		    json_string_value(json_object_get(info, "software")) : "?", fp);
		print_keystore(json_object_get(info, "keystore"));
	}
out:
	free(oa_serial);
	json_decref(info);
	moddrv_free(&d);
	wsconfig_free(&cfg);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

int
cmd_module(const struct gopts *g, int argc, char **argv)
{
	struct sopts o;
	char *pos[32];
	int npos, r;

	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos < 1)
		return cmd_usage_error(PROG, "usage: module add|list|show");
	if (strcmp(pos[0], "add") == 0)
		return module_add(g, &o, pos, npos);
	if (strcmp(pos[0], "list") == 0)
		return module_list(g);
	if (strcmp(pos[0], "show") == 0)
		return module_show(g, pos, npos);
	return cmd_usage_error(PROG, "unknown module command \"%s\"", pos[0]);
}

/* ---- group ---- */

static void
print_state_row(const json_t *row)
{
	const json_t *thr = json_object_get(row, "thresholds");
	const json_t *regs = json_object_get(row, "registers");
	const char *names[] = { "current", "pending", "old" };
	size_t k;

	printf("%s domain %lld: counter %lld, %s, thresholds %lld/%lld, %zu admin(s)\n",
	    json_string_value(json_object_get(row, "module")),
	    (long long)json_integer_value(json_object_get(row, "domain")),
	    (long long)json_integer_value(json_object_get(row, "counter")),
	    json_is_true(json_object_get(row, "imprint")) ? "imprint mode" : "administered",
	    (long long)json_integer_value(json_object_get(thr, "signature")),
	    (long long)json_integer_value(json_object_get(thr, "revocation")),
	    json_array_size(json_object_get(row, "admins")));
	for (k = 0; k < 3; k++) {
		const json_t *r = json_object_get(regs, names[k]);
		const char *mk = json_string_value(json_object_get(r, "mkvp"));
		printf("    %-8s %-12s%s%.32s\n", names[k],
		    json_string_value(json_object_get(r, "state")) ?
		    json_string_value(json_object_get(r, "state")) : "?",
		    mk ? " MKVP " : "", mk ? mk : "");
	}
}

static void
print_compare(const json_t *cmp)
{
	const json_t *d, *v;
	size_t i, k;

	if (json_is_true(json_object_get(cmp, "equal"))) {
		printf("All members are configured the same.\n");
		return;
	}
	printf("The members DIFFER:\n");
	json_array_foreach(json_object_get(cmp, "differences"), i, d) {
		printf("  %s:\n", json_string_value(json_object_get(d, "field")));
		json_array_foreach(json_object_get(d, "values"), k, v) {
			char *s = json_dumps(json_object_get(v, "value"), JSON_COMPACT | JSON_SORT_KEYS);
			printf("    %s domain %lld: %.200s\n",
			    json_string_value(json_object_get(v, "module")),
			    (long long)json_integer_value(json_object_get(v, "domain")),
			    s ? s : "?");
			free(s);
		}
	}
}

static int
group_cmd_live(const struct gopts *g, const char *sub, const char *name)
{
	wsconfig *cfg = NULL;
	group_member *m = NULL;
	size_t n = 0, i;
	json_t *rep = NULL;
	hsm_rc rc;

	if ((rc = open_config(g, &cfg)) != HSM_OK ||
	    (rc = wsconfig_group_open(cfg, name, g->timeout_ms, &m, &n)) != HSM_OK ||
	    (rc = group_status(m, n, &rep)) != HSM_OK)
		goto out;
	if (strcmp(sub, "compare") == 0) {
		json_t *cmp = json_object_get(rep, "compare");
		if (g->json)
			cmd_print_json(cmp);
		else
			print_compare(cmp);
		if (!json_is_true(json_object_get(cmp, "equal")))
			rc = hsm_fail(HSM_ERR_STATE, "group %s is not configured the same on "
			    "every member", name);
	} else if (strcmp(sub, "status") == 0) {
		if (g->json)
			cmd_print_json(rep);
		else {
			json_t *row;
			json_array_foreach(json_object_get(rep, "members"), i, row)
				print_state_row(row);
			print_compare(json_object_get(rep, "compare"));
		}
	} else {	/* admin list */
		json_t *row = json_array_get(json_object_get(rep, "members"), 0), *a;
		json_t *out = json_array();
		json_array_foreach(json_object_get(row, "admins"), i, a)
			json_array_append_new(out, json_pack("{s:O?, s:O?, s:O?}", "ski",
			    json_object_get(a, "ski"), "name", json_object_get(a, "name"),
			    "identity", json_object_get(a, "identity")));
		if (g->json) {
			json_t *j = json_pack("{s:o, s:O}", "admins", out, "compare",
			    json_object_get(rep, "compare"));
			cmd_print_json(j);
			json_decref(j);
		} else {
			if (json_array_size(out) == 0)
				printf("No administrators (imprint mode).\n");
			json_array_foreach(out, i, a)
				printf("%-30s identity %-16s SKI %s\n",
				    json_string_value(json_object_get(a, "name")),
				    json_string_value(json_object_get(a, "identity")),
				    json_string_value(json_object_get(a, "ski")));
			if (!json_is_true(json_object_get(json_object_get(rep, "compare"), "equal")))
				printf("Note: the members differ; see: " PROG " group compare %s\n",
				    name);
			json_decref(out);
		}
	}
out:
	json_decref(rep);
	wsconfig_group_close(&m, n);
	wsconfig_free(&cfg);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

/* group create NAME MODULE:DOMAIN...: a group may have many members (85
 * domains per module), more than parse_sopts keeps, so its arguments are
 * read here; it takes no options but --help. */
static int
group_create(const struct gopts *g, int argc, char **argv)
{
	wsconfig *cfg = NULL;
	wsc_member *mem = NULL;
	int k, nmem = 0;
	hsm_rc rc;

	for (k = 2; k < argc; k++)
		if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (argv[k][0] == '-' && strcmp(argv[k], "--") != 0)
			return cmd_usage_error(PROG, "group create takes no option %s", argv[k]);
	if (argc < 4)
		return cmd_usage_error(PROG, "usage: group create NAME MODULE:DOMAIN...");
	if ((rc = open_config(g, &cfg)) != HSM_OK)
		return cmd_fail(PROG, rc);
	if ((mem = calloc((size_t)argc, sizeof(*mem))) == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (k = 3; k < argc && rc == HSM_OK; k++)
		if (strcmp(argv[k], "--") != 0)
			rc = wsconfig_parse_member(cfg, argv[k], &mem[nmem++]);
	if (rc == HSM_OK)
		rc = wsconfig_group_add(cfg, argv[2], mem, (size_t)nmem);
	if (rc == HSM_OK)
		rc = wsconfig_save(cfg);
	if (rc == HSM_OK && !g->json)
		printf("Group %s created with %d member(s).\n", argv[2], nmem);
	else if (rc == HSM_OK) {
		json_t *j = json_pack("{s:s, s:i}", "name", argv[2], "members", nmem);
		cmd_print_json(j);
		json_decref(j);
	}
	free(mem);
	wsconfig_free(&cfg);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

/* group heal NAME: roll forward the command a member missed, fetched from
 * the member that applied it (no file needed). */
static int
group_cmd_heal(const struct gopts *g, const char *name)
{
	wsconfig *cfg = NULL;
	group_member *m = NULL;
	group_report *rep = NULL;
	size_t n = 0;
	hsm_rc rc;

	if ((rc = open_config(g, &cfg)) != HSM_OK ||
	    (rc = wsconfig_group_open(cfg, name, g->timeout_ms, &m, &n)) != HSM_OK)
		goto out;
	rc = group_heal(m, n, (int64_t)time(NULL), &rep);
	if (rep == NULL && rc == HSM_OK)
		printf("Nothing to heal: no member of %s missed a command another member "
		    "applied.\n", name);
	else if (rep != NULL && g->json) {
		json_t *j = group_report_json(rep);
		cmd_print_json(j);
		json_decref(j);
	} else if (rep != NULL)
		group_report_print(rep, stdout);
out:
	group_report_free(&rep);
	wsconfig_group_close(&m, n);
	wsconfig_free(&cfg);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

int
cmd_group(const struct gopts *g, int argc, char **argv)
{
	struct sopts o;
	char *pos[32];
	int npos, r;
	wsconfig *cfg = NULL;
	hsm_rc rc = HSM_OK;

	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return group_create(g, argc, argv);
	if ((r = parse_sopts(argc, argv, &o, pos, &npos)) != 0)
		return r < 0 ? 0 : r;
	if (npos < 1)
		return cmd_usage_error(PROG, "usage: group create|list|show|compare|status|heal");
	if (strcmp(pos[0], "compare") == 0 || strcmp(pos[0], "status") == 0 ||
	    strcmp(pos[0], "heal") == 0) {
		if (npos != 2)
			return cmd_usage_error(PROG, "usage: group %s NAME", pos[0]);
		if (strcmp(pos[0], "heal") == 0)
			return group_cmd_heal(g, pos[1]);
		return group_cmd_live(g, pos[0], pos[1]);
	}
	if ((rc = open_config(g, &cfg)) != HSM_OK)
		return cmd_fail(PROG, rc);
	if (strcmp(pos[0], "list") == 0 || strcmp(pos[0], "show") == 0) {
		json_t *groups = json_object_get(wsconfig_json(cfg), "groups"), *gr, *mm;
		size_t i, j;
		int found = 0;
		if (strcmp(pos[0], "show") == 0 && npos != 2) {
			wsconfig_free(&cfg);
			return cmd_usage_error(PROG, "usage: group show NAME");
		}
		if (g->json && strcmp(pos[0], "list") == 0)
			cmd_print_json(groups);
		json_array_foreach(groups, i, gr) {
			const char *gn = json_string_value(json_object_get(gr, "name"));
			if (strcmp(pos[0], "show") == 0 && strcmp(gn, pos[1]) != 0)
				continue;
			found = 1;
			if (g->json) {
				if (strcmp(pos[0], "show") == 0)
					cmd_print_json(gr);
				continue;
			}
			printf("%s:", gn);
			json_array_foreach(json_object_get(gr, "members"), j, mm)
				printf(" %s:%lld", json_string_value(json_object_get(mm, "module")),
				    (long long)json_integer_value(json_object_get(mm, "domain")));
			printf("\n");
		}
		if (strcmp(pos[0], "show") == 0 && !found)
			rc = hsm_fail(HSM_ERR_NOT_FOUND, "no domain group \"%s\"", pos[1]);
		else if (!found && !g->json)
			printf("No domain groups yet; create one with: " PROG " group create\n");
	} else {
		wsconfig_free(&cfg);
		return cmd_usage_error(PROG, "unknown group command \"%s\"", pos[0]);
	}
	wsconfig_free(&cfg);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

int
cmd_admin_list(const struct gopts *g, const char *group)
{
	return group_cmd_live(g, "admins", group);
}
