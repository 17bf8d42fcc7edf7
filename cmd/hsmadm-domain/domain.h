/* SPDX-License-Identifier: BSD-2-Clause */
/* domain.h - what the parts of hsmadm-domain share: options and helpers. */
#ifndef HSMADM_DOMAIN_CMD_H
#define HSMADM_DOMAIN_CMD_H

#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/signer.h"
#include "hsmadm/wsconfig.h"

#define PROG "hsmadm-domain"
#define MAX_KEYS 16

struct gopts {
	const char *home;
	int         json;
	int         timeout_ms;
};

struct sopts {
	const char *out, *pubkey_file, *pubkey_hex, *name, *identity, *ski, *params;
	const char *group, *reader, *ca, *evidence;
	long        signature, revocation, valid_for;
	const char *key_files[MAX_KEYS];
	int         nkeys;
	int         card, roll_forward, yes, pin_fd, confirm_fd, help;
};

/* Parse subcommand options (argv[0] is the subcommand word); positional
 * arguments are left in pos[] (at most 32). Returns 0 or an exit code. */
int parse_sopts(int argc, char **argv, struct sopts *o, char **pos, int *npos);

int cmd_client(const struct gopts *g, int argc, char **argv);
int cmd_module(const struct gopts *g, int argc, char **argv);
int cmd_group(const struct gopts *g, int argc, char **argv);
int cmd_admin(const struct gopts *g, int argc, char **argv);
int cmd_thresholds(const struct gopts *g, int argc, char **argv);
int cmd_zeroize(const struct gopts *g, int argc, char **argv);
int cmd_propose(const struct gopts *g, int argc, char **argv);
int cmd_run(const struct gopts *g, int argc, char **argv);
int cmd_sign(const struct gopts *g, int argc, char **argv);
int cmd_submit(const struct gopts *g, int argc, char **argv);
int cmd_show(const struct gopts *g, int argc, char **argv);
int cmd_admin_list(const struct gopts *g, const char *group);

/* Open the workstation configuration (--home / HSMADM_HOME / default). */
hsm_rc open_config(const struct gopts *g, wsconfig **cfg);

void usage(FILE *f);

#endif
