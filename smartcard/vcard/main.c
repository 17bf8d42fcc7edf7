/* SPDX-License-Identifier: BSD-2-Clause */
/* hsmadm-vcard - a virtual PIV card behind the vpcd reader driver, for tests,
 * rehearsals and the demo. Option parsing and printing only; the card is in
 * vcard_*.c. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/secbuf.h"
#include "hsmadm/vcard.h"

#define PROG "hsmadm-vcard"

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " create FILE [--serial N]\n"
"       " PROG " run FILE --port N [--host HOST] [--quiet]\n"
"       " PROG " show FILE [--json]\n"
"       " PROG " --help | --version\n"
"\n"
"A software PIV card (SP 800-73-4 with the YubiKey 5 extensions) that plugs\n"
"into pcscd through the vpcd virtual reader driver (package vsmartcard-vpcd).\n"
"\n"
"THIS IS AN EMULATOR FOR TESTS, REHEARSALS AND DEMOS. Its card file keeps the\n"
"PIN, the PUK, the management key and every private key IN CLEAR. Never use it\n"
"to hold a real key.\n"
"\n"
"Commands:\n"
"  create FILE    write a new card with the factory settings of a new YubiKey:\n"
"                 PIN 123456, PUK 12345678, 3 tries each, 3DES management key\n"
"                 010203040506070801020304050607080102030405060708, version\n"
"                 5.4.3, no keys (but an attestation key in F9). Refuses to\n"
"                 replace an existing FILE.\n"
"    --serial N   the card's serial number (default: a random 8-digit one)\n"
"  run FILE       insert the card into the vpcd reader listening on HOST:PORT\n"
"                 and serve it until SIGTERM or SIGINT (that removes it).\n"
"                 Changes (PIN tries, PINs, keys, objects) are saved to FILE\n"
"                 as they happen, so a restarted card keeps them. If the reader\n"
"                 goes away, the card waits and reconnects.\n"
"    --port N     the vpcd slot's TCP port (reader.conf CHANNELID, plus the slot)\n"
"    --host HOST  where pcscd runs (default 127.0.0.1)\n"
"    --quiet      no progress messages\n"
"  show FILE      print what is on the card, without secrets\n"
"    --json       as JSON\n"
"\n"
"Exit codes: 0 success, 1 I/O failure, 2 usage error, 3 malformed card file,\n"
"5 card file missing or (create) already there, 28 card file in use by another\n"
"hsmadm-vcard run. See hsmadm-vcard(1).\n");
}

static int
fail(hsm_rc rc)
{
	fprintf(stderr, PROG ": %s\n", hsm_errmsg());
	return hsm_exit_code(rc);
}

static int
usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, PROG ": %s%s%s\nTry '" PROG " --help' for more information.\n",
	    msg, arg ? " " : "", arg ? arg : "");
	return hsm_exit_code(HSM_ERR_USAGE);
}

static int
parse_u32(const char *s, unsigned long lo, unsigned long hi, unsigned long *v)
{
	char *end;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return 0;
	*v = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *v >= lo && *v <= hi;
}

static void
print_show(const json_t *j)
{
	const char *k;
	json_t *v, *slots = json_object_get(j, "slots"), *objs = json_object_get(j, "objects");

	printf("serial:          %lld\n", (long long)json_integer_value(json_object_get(j, "serial")));
	printf("version:         %s\n", json_string_value(json_object_get(j, "version")));
	printf("PIN tries left:  %lld of %lld%s\n",
	    (long long)json_integer_value(json_object_get(json_object_get(j, "pin"), "tries_left")),
	    (long long)json_integer_value(json_object_get(json_object_get(j, "pin"), "tries_max")),
	    json_is_true(json_object_get(json_object_get(j, "pin"), "default")) ? " (default PIN)" : "");
	printf("PUK tries left:  %lld of %lld\n",
	    (long long)json_integer_value(json_object_get(json_object_get(j, "puk"), "tries_left")),
	    (long long)json_integer_value(json_object_get(json_object_get(j, "puk"), "tries_max")));
	printf("management key:  %s%s\n",
	    json_string_value(json_object_get(json_object_get(j, "management_key"), "alg")),
	    json_is_true(json_object_get(json_object_get(j, "management_key"), "default")) ? " (default key)" : "");
	if (json_object_size(slots) == 0)
		printf("keys:            none\n");
	json_object_foreach(slots, k, v)
		printf("key %s:          %s, PIN %s, touch %s, %s\n", k,
		    json_string_value(json_object_get(v, "alg")),
		    json_string_value(json_object_get(v, "pin_policy")),
		    json_string_value(json_object_get(v, "touch_policy")),
		    json_string_value(json_object_get(v, "origin")));
	if (json_object_size(objs) == 0)
		printf("objects:         none\n");
	json_object_foreach(objs, k, v)
		printf("object %s:   %lld bytes\n", k, (long long)json_integer_value(v));
}

struct vopts {
	const char *verb, *file, *host;
	unsigned long serial, port;
	int json, quiet, have_serial, have_port;
};

static const struct option longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "serial", required_argument, NULL, 's' },
	{ "port", required_argument, NULL, 'p' },
	{ "host", required_argument, NULL, 'H' },
	{ "json", no_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ NULL, 0, NULL, 0 },
};

/* The options of the command, after its name. -1 to go on, else the exit
 * code. */
static int
parse_verb_opts(int argc, char **argv, struct vopts *v)
{
	int opt;

	/* optind 0 makes GNU getopt start over, so options may follow FILE. */
	optind = 0;
	while ((opt = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h': usage(stdout); return 0;
		case 'V': printf(PROG " %s\n", HSMADM_VERSION); return 0;
		case 's':
			if (!parse_u32(optarg, 1, 0xFFFFFFFFul, &v->serial))
				return usage_error("--serial needs a number from 1 to 4294967295, not", optarg);
			v->have_serial = 1;
			break;
		case 'p':
			if (!parse_u32(optarg, 1, 65535, &v->port))
				return usage_error("--port needs a TCP port from 1 to 65535, not", optarg);
			v->have_port = 1;
			break;
		case 'H': v->host = optarg; break;
		case 'j': v->json = 1; break;
		case 'q': v->quiet = 1; break;
		default: return usage_error("bad option for", v->verb);
		}
	}
	if (optind + 1 != argc)
		return usage_error(optind >= argc ? "missing card FILE for" : "too many arguments for",
		    v->verb);
	v->file = argv[optind];
	if ((strcmp(v->verb, "create") != 0 && v->have_serial) || (strcmp(v->verb, "run") != 0 &&
	    (v->have_port || v->quiet || strcmp(v->host, "127.0.0.1") != 0)) ||
	    (strcmp(v->verb, "show") != 0 && v->json))
		return usage_error("option not valid for", v->verb);
	return -1;
}

static int
parse_args(int argc, char **argv, struct vopts *v)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h': usage(stdout); return 0;
		case 'V': printf(PROG " %s\n", HSMADM_VERSION); return 0;
		default: return usage_error("unknown option", NULL);
		}
	}
	if (optind >= argc)
		return usage_error("missing command (create, run or show)", NULL);
	v->verb = argv[optind];
	return parse_verb_opts(argc - optind, argv + optind, v);
}

static int
do_create(const struct vopts *v)
{
	vcard *card = NULL;
	json_t *j = NULL;
	hsm_rc rc;
	int ret = 0;

	if ((rc = vcard_new((uint32_t)v->serial, &card)) != HSM_OK ||
	    (rc = vcard_save(card, v->file, 1)) != HSM_OK ||
	    (rc = vcard_show_json(card, &j)) != HSM_OK) {
		ret = fail(rc);
		goto out;
	}
	printf("created virtual card %lld in %s (PIN 123456, PUK 12345678, default management key)\n",
	    (long long)json_integer_value(json_object_get(j, "serial")), v->file);
out:
	json_decref(j);
	vcard_free(&card);
	return ret;
}

static int
do_run(const struct vopts *v)
{
	struct sigaction sa;
	vcard *card = NULL;
	int lockfd, ret = 0;
	hsm_rc rc;

	if (!v->have_port)
		return usage_error("run needs --port", NULL);
	/* lockfd stays open (and locked) until the process ends. */
	if ((rc = vcard_lock(v->file, &lockfd)) != HSM_OK ||
	    (rc = vcard_load(v->file, &card)) != HSM_OK)
		return fail(rc);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if ((rc = vcard_run(card, v->file, v->host, (uint16_t)v->port, &stop_flag,
	    v->quiet)) != HSM_OK)
		ret = fail(rc);
	vcard_free(&card);
	return ret;
}

static int
do_show(const struct vopts *v)
{
	vcard *card = NULL;
	json_t *j = NULL;
	hsm_rc rc;
	int ret = 0;

	if ((rc = vcard_load(v->file, &card)) != HSM_OK ||
	    (rc = vcard_show_json(card, &j)) != HSM_OK) {
		ret = fail(rc);
		goto out;
	}
	if (v->json) {
		if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
			ret = hsm_exit_code(HSM_ERR_IO);
		fputc('\n', stdout);
	} else {
		print_show(j);
	}
out:
	json_decref(j);
	vcard_free(&card);
	return ret;
}

int
main(int argc, char **argv)
{
	struct vopts v = { .host = "127.0.0.1" };
	hsm_rc rc;
	int ret;

	if ((ret = parse_args(argc, argv, &v)) >= 0)
		return ret;
	if ((rc = secure_init()) != HSM_OK)
		return fail(rc);
	if (strcmp(v.verb, "create") == 0)
		return do_create(&v);
	if (strcmp(v.verb, "run") == 0)
		return do_run(&v);
	if (strcmp(v.verb, "show") == 0)
		return do_show(&v);
	return usage_error("unknown command", v.verb);
}
