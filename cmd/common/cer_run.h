/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cer_run.h - what a ceremony command that acts on a domain group needs
 * around the ops call (hsmadm-commit, hsmadm-rotate): the shared options
 * (group, log, parts, custodian and administrator cards), the evidence log
 * opened and locked for the whole run, the parts' records from its one scan,
 * the group's members, administrator signers and custodian cards.
 */
#ifndef HSMADM_CER_RUN_H
#define HSMADM_CER_RUN_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include "hsmadm/keypart_load.h"
#include "hsmadm/signers.h"
#include "hsmadm/submit.h"
#include "hsmadm/wsconfig.h"
#include "cer.h"

#define CER_MAX_KEYS 16

struct cer_runopts {
	const char *prog;
	const char *group, *log, *home, *reader;
	const char *parts[MKLOAD_MAX_PARTS + 1];
	size_t      nparts;
	const char *admin_readers[CER_MAX_KEYS], *key_files[CER_MAX_KEYS];
	size_t      nadmin_readers, nkeys;
	int         pin_fd, admin_pin_fd, json, timeout_s, module_timeout_ms;
};

/* getopt_long ids of the shared options; a command's own start above them. */
enum {
	CER_O_GROUP = 0x1000, CER_O_PART, CER_O_LOG, CER_O_HOME, CER_O_READER, CER_O_PIN_FD,
	CER_O_AREADER, CER_O_APIN_FD, CER_O_KEY, CER_O_TIMEOUT, CER_O_MTIMEOUT, CER_O_JSON,
	CER_O_END
};

/* The shared entries of a getopt_long table, to put first in a command's. */
#define CER_RUN_LONGOPTS \
	{ "group", required_argument, NULL, CER_O_GROUP }, \
	{ "part", required_argument, NULL, CER_O_PART }, \
	{ "log", required_argument, NULL, CER_O_LOG }, \
	{ "home", required_argument, NULL, CER_O_HOME }, \
	{ "reader", required_argument, NULL, CER_O_READER }, \
	{ "pin-fd", required_argument, NULL, CER_O_PIN_FD }, \
	{ "admin-reader", required_argument, NULL, CER_O_AREADER }, \
	{ "admin-pin-fd", required_argument, NULL, CER_O_APIN_FD }, \
	{ "admin-key-file", required_argument, NULL, CER_O_KEY }, \
	{ "timeout", required_argument, NULL, CER_O_TIMEOUT }, \
	{ "module-timeout-ms", required_argument, NULL, CER_O_MTIMEOUT }, \
	{ "json", no_argument, NULL, CER_O_JSON }

/* The options' help lines, for a command's usage text. */
#define CER_RUN_USAGE \
"  --group NAME           the domain group (hsmadm-domain group create)\n" \
"  --log FILE             the evidence log; every step is recorded in it\n" \
"  --home DIR             workstation configuration (default $HSMADM_HOME or\n" \
"                         ~/.config/hsmadm)\n" \
"  --admin-reader NAME    an administrator card to sign with (repeatable; used\n" \
"                         in turn until each command has its signatures);\n" \
"                         without it and --admin-key-file, the command waits\n" \
"                         for administrator cards one after another\n" \
"  --admin-pin-fd N       administrator PINs from descriptor N\n" \
"  --admin-key-file FILE  rehearsals and tests: an administrator key file\n" \
"                         (repeatable)\n" \
"  --timeout SEC          how long to wait for a card (default 300)\n" \
"  --module-timeout-ms N  module connection timeout (default 10000)\n" \
"  --json                 print the result as JSON\n"

void cer_runopts_init(struct cer_runopts *o, const char *prog);
/* Take one shared option: 1 taken, 0 not a shared option, or a usage error's
 * exit code (2, already printed) as a negative number. */
int  cer_runopts_take(struct cer_runopts *o, int c, const char *arg);
/* --group and --log given; the parts (when min_parts > 0) valid, distinct and
 * at least min_parts. 0, or the usage error's exit code (printed). */
int  cer_runopts_check(const struct cer_runopts *o, size_t min_parts);

struct cer_run {
	const struct cer_runopts *o;
	pcsc_ctx          *pc;       /* custodian cards; NULL: PC/SC not running */
	cer_card          *cust;
	signers           *admins;
	struct submit_ev   ev;
	wsconfig          *cfg;
	group_member      *m;
	size_t             n;
	mkload_part        parts[MKLOAD_MAX_PARTS];
	struct cer_partrec recs[MKLOAD_MAX_PARTS];
	uint8_t            known[HSM_VP_LEN];
	int                have_known;   /* these parts were loaded before, as known */
};

/* The log (opened for writing and locked, unless read_only: then scanned
 * only), the parts' records, the group's members. Zero x first. */
hsm_rc cer_run_open(struct cer_run *x, const struct cer_runopts *o, int read_only);
/* First the receipts an earlier run lost (so the log has no counter gap),
 * then administrator signers and the smart card service. */
hsm_rc cer_run_prepare(struct cer_run *x);
/* The key-part load's I/O over this run (cards, signers, log, progress). */
void   cer_run_mkio(struct cer_run *x, struct mkload_io *io);
/* A progress line for the people in the room (stderr with --json). */
void   cer_run_say(void *ctx, const char *line);
void   cer_run_close(struct cer_run *x);

#endif
