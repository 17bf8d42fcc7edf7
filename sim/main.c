/* SPDX-License-Identifier: BSD-2-Clause */
/* hsmadm-simd - the crypto-module emulator: option parsing and printing only. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hsmadm/err.h"
#include "hsmadm/secbuf.h"

#include "simmod.h"
#include "simserve.h"

#define PROG "hsmadm-simd"

static const char usage_text[] =
"Usage:\n"
"  hsmadm-simd init --serial SERIAL --dir STATE [--domains N]\n"
"                   [--module-ca-key KEY --module-ca-cert CERT] [--client-ca CERT]\n"
"                   [--keystore file | --keystore pkcs11 --p11-lib LIB --token-label LABEL\n"
"                    (--pin-file FILE | --pin-fd N)] [--json]\n"
"  hsmadm-simd issue-client --dir STATE --name NAME --out-key KEY --out-cert CERT [--json]\n"
"  hsmadm-simd serve --dir STATE [--listen ADDR:PORT] [--port-file FILE]\n"
"                    [--max-per-client N] [--pin-fd N]\n"
"                    [--delay-ms N] [--drop-before N] [--drop-after N] [--crash-after N]\n"
"                    [--crash-before-save N]\n"
"  hsmadm-simd --help | --version\n"
"\n"
"One crypto module (EP11-style domains 0..N-1), spoken to over TLS 1.3 with\n"
"client certificates: with its keys in files, an emulator for rehearsals, tests\n"
"and the demo; with --keystore pkcs11, the rules in front of a PKCS#11 token\n"
"that holds the keys.\n"
"\n"
"  init          make a state folder: module CA (or reuse one), OA key and\n"
"                certificate naming SERIAL, TLS server key and certificate, and\n"
"                the client CA the module trusts (--client-ca, or a new\n"
"                rehearsal client CA). Default --domains 85.\n"
"                --keystore pkcs11 keeps the OA key, the importer keys and the\n"
"                master-key registers on the PKCS#11 token LABEL of the vendor\n"
"                library LIB (absolute path), never in files; the token PIN comes\n"
"                from descriptor N or from FILE (absolute path, owned by you or\n"
"                root, mode 0600 or 0400; module.json keeps its path for serve),\n"
"                never from the command line or the environment.\n"
"  issue-client  issue a workstation client certificate from the folder's\n"
"                rehearsal client CA.\n"
"  serve         serve the module. Default --listen 127.0.0.1:0 (loopback, a free\n"
"                port); prints \"listening on ADDR:PORT\". SIGTERM stops it cleanly.\n"
"                At most 64 connections, --max-per-client N (1..64, default 16)\n"
"                of them from one client address; a TLS handshake must finish\n"
"                within 10 s, a frame within 30 s of its first byte.\n"
"                A pkcs11 module reads the token PIN from --pin-fd N, else from\n"
"                the PIN file named at init.\n"
"\n"
"--keystore file (the default) is for rehearsals only: private keys (module CA,\n"
"OA, TLS, client CA), importer keys and the master-key registers are kept in\n"
"files in STATE, mode 0600. Never use it for real keys; see docs/pkcs11.md.\n"
"\n"
"Test-only fault injection (also from the environment: HSMADM_SIMD_DELAY_MS,\n"
"HSMADM_SIMD_DROP_BEFORE, HSMADM_SIMD_DROP_AFTER, HSMADM_SIMD_CRASH_AFTER,\n"
"HSMADM_SIMD_CRASH_BEFORE_SAVE):\n"
"  --delay-ms N     wait N ms before every answer\n"
"  --drop-before N  close the connection on the Nth command.apply, applying nothing\n"
"  --drop-after N   apply and persist the Nth applied command, close unanswered\n"
"  --crash-after N  apply and persist the Nth applied command, then abort()\n"
"  --crash-before-save N  abort() once the Nth command's receipt (and token\n"
"                   objects) are kept, before its state is saved\n"
"\n"
"Exit codes: 0 ok, 2 usage, 3 damaged file, 5 exists / not found, 1 I/O;\n"
"see hsmadm-simd(1) and docs/exit-codes.md.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun '" PROG " --help' for usage.\n");
	return 2;
}

static int
fail(hsm_rc rc)
{
	fprintf(stderr, PROG ": %s\n", hsm_errmsg());
	return hsm_exit_code(rc);
}

static int
parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void
print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s != NULL) {
		printf("%s\n", s);
		free(s);
	}
}

enum { O_SERIAL = 1, O_DIR, O_DOMAINS, O_CAKEY, O_CACERT, O_CLIENTCA, O_JSON, O_NAME,
       O_OUTKEY, O_OUTCERT, O_LISTEN, O_PORTFILE, O_DELAY, O_DROPB, O_DROPA, O_CRASH,
       O_HELP, O_PERCLIENT, O_KEYSTORE, O_P11LIB, O_TOKEN, O_PINFILE, O_PINFD,
       O_CRASHSAVE };

static const struct option opts[] = {
	{ "serial", required_argument, NULL, O_SERIAL },
	{ "dir", required_argument, NULL, O_DIR },
	{ "domains", required_argument, NULL, O_DOMAINS },
	{ "module-ca-key", required_argument, NULL, O_CAKEY },
	{ "module-ca-cert", required_argument, NULL, O_CACERT },
	{ "client-ca", required_argument, NULL, O_CLIENTCA },
	{ "json", no_argument, NULL, O_JSON },
	{ "name", required_argument, NULL, O_NAME },
	{ "out-key", required_argument, NULL, O_OUTKEY },
	{ "out-cert", required_argument, NULL, O_OUTCERT },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "port-file", required_argument, NULL, O_PORTFILE },
	{ "delay-ms", required_argument, NULL, O_DELAY },
	{ "drop-before", required_argument, NULL, O_DROPB },
	{ "drop-after", required_argument, NULL, O_DROPA },
	{ "crash-after", required_argument, NULL, O_CRASH },
	{ "help", no_argument, NULL, O_HELP },
	{ "max-per-client", required_argument, NULL, O_PERCLIENT },
	{ "keystore", required_argument, NULL, O_KEYSTORE },
	{ "p11-lib", required_argument, NULL, O_P11LIB },
	{ "token-label", required_argument, NULL, O_TOKEN },
	{ "pin-file", required_argument, NULL, O_PINFILE },
	{ "pin-fd", required_argument, NULL, O_PINFD },
	{ "crash-before-save", required_argument, NULL, O_CRASHSAVE },
	{ NULL, 0, NULL, 0 }
};

/* The test faults from the environment (serve only); options override. */
static int
env_faults(simserve_opts *so)
{
	static const char *const envs[5] = { "HSMADM_SIMD_DELAY_MS", "HSMADM_SIMD_DROP_BEFORE",
	                                     "HSMADM_SIMD_DROP_AFTER", "HSMADM_SIMD_CRASH_AFTER",
	                                     "HSMADM_SIMD_CRASH_BEFORE_SAVE" };
	long *dst[5] = { NULL, &so->faults.drop_before, &so->faults.drop_after,
	                 &so->faults.crash_after, &so->faults.crash_before_save };
	long n;
	int c;

	for (c = 0; c < 5; c++) {
		const char *e = getenv(envs[c]);
		if (e == NULL)
			continue;
		if (parse_num(e, 0, 1000000, &n) != 0)
			return usage_error("%s must be a number from 0 to 1000000", envs[c]);
		if (c == 0)
			so->delay_ms = (int)n;
		else
			*dst[c] = n;
	}
	return 0;
}

static int
do_init(simmod_init_opts *io, const char *dir, int json)
{
	json_t *info = NULL;
	hsm_rc rc;

	if (io->serial == NULL)
		return usage_error("give the module serial with --serial");
	io->dir = dir;
	if ((rc = simmod_init(io, &info)) != HSM_OK)
		return fail(rc);
	if (json)
		print_json(info);
	else
		printf("module %s ready in %s (%u domains)\n"
		       "module CA: %s/ca.pem  SHA-256 %s\n"
		       "pin that CA on the workstations; serve with: " PROG " serve --dir %s\n",
		       io->serial, dir, io->domains, dir,
		       json_string_value(json_object_get(info, "module_ca_sha256")), dir);
	if (!json && io->token != NULL)
		printf("keys: on PKCS#11 token \"%s\" (%s)\n", io->token, io->p11_lib);
	else if (!json)
		printf("keys: in the files of %s (rehearsal only)\n", dir);
	json_decref(info);
	return 0;
}

static int
do_issue(const char *dir, const char *name, const char *outkey, const char *outcert, int json)
{
	json_t *info = NULL;
	hsm_rc rc;

	if ((rc = simmod_issue_client(dir, name, outkey, outcert, &info)) != HSM_OK)
		return fail(rc);
	if (json)
		print_json(info);
	else
		printf("client certificate for \"%s\": %s (key %s, mode 0600)\n", name, outcert,
		       outkey);
	json_decref(info);
	return 0;
}

/* What the command line said. */
struct args {
	const char      *cmd, *dir, *name, *outkey, *outcert;
	int              json;
	simmod_init_opts io;
	simserve_opts    so;
};

/* Which options go with which command. */
static int
allowed_for(const char *cmd, int c)
{
	if (strcmp(cmd, "init") == 0)
		return c == O_SERIAL || c == O_DIR || c == O_DOMAINS || c == O_CAKEY ||
		       c == O_CACERT || c == O_CLIENTCA || c == O_JSON || c == O_HELP ||
		       c == O_KEYSTORE || c == O_P11LIB || c == O_TOKEN || c == O_PINFILE ||
		       c == O_PINFD;
	if (strcmp(cmd, "issue-client") == 0)
		return c == O_DIR || c == O_NAME || c == O_OUTKEY || c == O_OUTCERT ||
		       c == O_JSON || c == O_HELP;
	return c == O_DIR || c == O_LISTEN || c == O_PORTFILE || c == O_DELAY ||
	       c == O_DROPB || c == O_DROPA || c == O_CRASH || c == O_HELP || c == O_PERCLIENT ||
	       c == O_PINFD || c == O_CRASHSAVE;
}

/* One option into a; -1 to go on, else the exit code. */
static int
take_opt(struct args *a, int c)
{
	long *faults[3] = { &a->so.faults.drop_before, &a->so.faults.drop_after,
	                    &a->so.faults.crash_after };
	long n;

	if (c == '?' || !allowed_for(a->cmd, c))
		return usage_error("option not valid for \"%s\"", a->cmd);
	switch (c) {
	case O_SERIAL:   a->io.serial = optarg; break;
	case O_DIR:      a->dir = optarg; break;
	case O_DOMAINS:
		if (parse_num(optarg, 1, 85, &n) != 0)
			return usage_error("--domains must be a number from 1 to 85, not \"%s\"", optarg);
		a->io.domains = (unsigned)n;
		break;
	case O_CAKEY:    a->io.ca_key = optarg; break;
	case O_CACERT:   a->io.ca_cert = optarg; break;
	case O_CLIENTCA: a->io.client_ca = optarg; break;
	case O_JSON:     a->json = 1; break;
	case O_NAME:     a->name = optarg; break;
	case O_OUTKEY:   a->outkey = optarg; break;
	case O_OUTCERT:  a->outcert = optarg; break;
	case O_LISTEN:   a->so.listen = optarg; break;
	case O_PORTFILE: a->so.port_file = optarg; break;
	case O_DELAY:
	case O_DROPB:
	case O_DROPA:
	case O_CRASH:
		if (parse_num(optarg, 0, 1000000, &n) != 0)
			return usage_error("the fault options take a number from 0 to 1000000, not \"%s\"", optarg);
		if (c == O_DELAY)
			a->so.delay_ms = (int)n;
		else
			*faults[c - O_DROPB] = n;
		break;
	case O_CRASHSAVE:
		if (parse_num(optarg, 0, 1000000, &n) != 0)
			return usage_error("the fault options take a number from 0 to 1000000, not \"%s\"", optarg);
		a->so.faults.crash_before_save = n;
		break;
	case O_PERCLIENT:
		if (parse_num(optarg, 1, 64, &n) != 0)
			return usage_error("--max-per-client must be a number from 1 to 64, not \"%s\"", optarg);
		a->so.max_per_client = (int)n;
		break;
	case O_KEYSTORE: a->io.keystore = optarg; break;
	case O_P11LIB:   a->io.p11_lib = optarg; break;
	case O_TOKEN:    a->io.token = optarg; break;
	case O_PINFILE:  a->io.pin_file = optarg; break;
	case O_PINFD:
		if (parse_num(optarg, 0, 1023, &n) != 0)
			return usage_error("--pin-fd must be a descriptor number from 0 to 1023, not \"%s\"", optarg);
		a->io.pin_fd = a->so.pin_fd = (int)n;
		a->io.has_pin_fd = a->so.has_pin_fd = 1;
		break;
	case O_HELP:
		fputs(usage_text, stdout);
		return 0;
	}
	return -1;
}

/* The options after the command word; -1 to go on, else the exit code. */
static int
parse_args(int argc, char **argv, struct args *a)
{
	int c, r;

	a->io.domains = 85;
	if (strcmp(a->cmd, "serve") == 0 && (c = env_faults(&a->so)) != 0)
		return c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if ((r = take_opt(a, c)) >= 0)
			return r;
	if (optind != argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (a->dir == NULL)
		return usage_error("give the module state folder with --dir");
	return -1;
}

int
main(int argc, char **argv)
{
	struct args a;
	hsm_rc rc;
	int r;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf(PROG " %s\n", HSMADM_VERSION);
		return 0;
	}
	if (argc < 2)
		return usage_error("say what to do: init, issue-client or serve");
	memset(&a, 0, sizeof(a));
	a.cmd = argv[1];
	if (strcmp(a.cmd, "init") != 0 && strcmp(a.cmd, "issue-client") != 0 &&
	    strcmp(a.cmd, "serve") != 0)
		return usage_error("unknown command \"%s\" (want init, issue-client or serve)", a.cmd);

	/* Key parts pass through this process: no core dumps, locked memory. */
	if ((rc = secure_init()) != HSM_OK)
		return fail(rc);
	if ((r = parse_args(argc, argv, &a)) >= 0)
		return r;
	if (strcmp(a.cmd, "init") == 0)
		return do_init(&a.io, a.dir, a.json);
	if (strcmp(a.cmd, "issue-client") == 0)
		return do_issue(a.dir, a.name, a.outkey, a.outcert, a.json);
	a.so.dir = a.dir;
	if ((rc = simserve_run(&a.so)) != HSM_OK)
		return fail(rc);
	return 0;
}
