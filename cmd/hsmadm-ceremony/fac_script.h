/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_script.h - ceremony scripts and plans (docs/formats/ceremony-script.md,
 * docs/formats/ceremony-plan.md): the printed, numbered steps the people in
 * the room follow, and the one file that says who and what this ceremony is
 * about. A script's commands carry placeholders ({log}, {admin.1.reader},
 * {pins:custodian.*}) that the plan fills in; fsc_expand turns one command
 * line into the argv the runner executes, and says whose PINs and which
 * cards it asks for, so that print and run count the same way.
 *
 * The parsers are strict and give "line N: ..." (script) or the JSON path
 * (plan) with HSM_ERR_FORMAT; nothing here touches a card, a module or a log.
 */
#ifndef HSMADM_FAC_SCRIPT_H
#define HSMADM_FAC_SCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "cer_plan.h"
#include "hsmadm/err.h"

#define FSC_FORMAT      "hsmadm-ceremony-script 1"  /* the first line */
#define FSC_FILE_MAX    (256 * 1024)
#define FSC_LINE_MAX    1000
#define FSC_STEPS_MAX   64
#define FSC_ID_MAX      32

enum fsc_kind { FSC_DO, FSC_RUN, FSC_EACH, FSC_CONFIRM, FSC_SIGN };

typedef struct fsc_line {
	enum fsc_kind kind;
	char *text;      /* do/confirm text, the command, the signing role */
	char *each;      /* FSC_EACH: "admin", "custodian", "module", "pair", "admin.q" */
	int   lineno;
} fsc_line;

typedef struct fsc_step {
	int       num;
	char     *id;
	char     *title;
	char     *who;       /* "admin, custodian" as written */
	int       already;   /* exit code meaning "already done" (0: none) */
	fsc_line *lines;
	size_t    nlines;
} fsc_step;

typedef struct fsc_script {
	char     *name;
	int       version;
	char     *title;
	char     *about;     /* the about lines joined with spaces ("" if none) */
	fsc_step *steps;
	size_t    nsteps;
	fsc_line *fin;       /* "finally ROLE COMMAND": after every step has ended
	                        (each->text: the command, each->each: the role) */
	size_t    nfin;
	uint8_t   sha256[32];  /* of the file's bytes */
	char      hex[65];
} fsc_script;

/* Parse a script's bytes. HSM_ERR_FORMAT "line N: ..." on the first problem. */
hsm_rc fsc_parse(const char *buf, size_t len, fsc_script **out);
/* Read and parse a script file (HSM_ERR_NOT_FOUND if it does not exist). */
hsm_rc fsc_load(const char *path, fsc_script **out);
void   fsc_free(fsc_script **s);

/* ---- placeholders ---- */

/* Check one placeholder's name (what is between the braces) as a script may
 * write it; in_each: the list of the enclosing "each" line (NULL: none), so
 * that N is allowed only there. HSM_ERR_FORMAT naming what is wrong. */
hsm_rc fsc_check_placeholder(const char *name, const char *in_each);

/* Where a secret or an answer is handed to a command: in a real ceremony the
 * option and its placeholder are left out and the command asks the person
 * itself; in a rehearsal the runner feeds the values on a pipe. */
typedef struct fsc_feed {
	int    argi;          /* argv index of the fd number to fill in */
	int    is_pin;        /* 1: PINs typed to use a card, 2: new PINs its holder
	                         chooses (after --new-pin-fd), 0: an answer */
	char **who;           /* PINs: "admin.1" per line, in order; answer: its key */
	size_t n;
} fsc_feed;

/* One card a command asks to be put into a reader. */
typedef struct fsc_insert {
	char *who;            /* "admin.1" */
	char *label, *reader;
} fsc_insert;

typedef struct fsc_cmd {
	char      **argv;     /* NULL-terminated */
	size_t      argc;
	fsc_feed   *feeds;
	size_t      nfeeds;
	fsc_insert *inserts;
	size_t      ninserts;
} fsc_cmd;

/* What the placeholders outside the plan stand for. */
typedef struct fsc_ctx {
	const char *log, *dir, *plan, *script;
	/* {ROLE.N.card_id}: the id of the card now in reader, read from the card
	 * by the runner; NULL (print, dry run): a description is printed. */
	hsm_rc    (*card_id)(void *arg, const char *reader, char out[33]);
	void       *arg;
} fsc_ctx;

/* Expand a command line for plan p (index: the "each" loop's N, 0 outside
 * one; each: the list it loops over). HSM_ERR_FORMAT for a placeholder the
 * plan cannot fill (naming it and the line). */
hsm_rc fsc_expand(const char *line, const fpl_plan *p, const fsc_ctx *c,
                  const char *each, int index, fsc_cmd *out);
void   fsc_cmd_clear(fsc_cmd *c);
/* The number of times an "each" line runs for plan p. */
size_t fsc_each_count(const fpl_plan *p, const char *each);

#endif
