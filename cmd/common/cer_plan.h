/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cer_plan.h - the ceremony plan (docs/formats/ceremony-plan.md): who takes
 * part with which cards, the modules and domain pairs, the thresholds and the
 * parts; and whether a log fulfilled it. Shared by hsmadm-ceremony (print,
 * run, check-plan) and hsmadm-audit (verify --plan).
 */
#ifndef HSMADM_CER_PLAN_H
#define HSMADM_CER_PLAN_H

#include <stddef.h>
#include <jansson.h>
#include "hsmadm/err.h"

typedef struct fpl_card {
	const char *label;    /* written on the card */
	const char *reader;   /* the reader it goes into */
	int         is_virtual;
} fpl_card;

typedef struct fpl_person {
	const char *role;     /* admin, custodian, supervisor, witness, auditor */
	const char *name;
	int         index;    /* 1.. within the role, in plan order */
	const char *part;     /* custodians: the part id they hold, else NULL */
	const char *previous_part;  /* custodians: the part of the key a rotation
	                               replaces (may be NULL) */
	fpl_card    card;     /* label NULL: no card (witness, auditor) */
	fpl_card   *backups;
	size_t      nbackups;
} fpl_person;

typedef struct fpl_module {
	const char *name, *serial, *site, *address, *ca;
} fpl_module;

typedef struct fpl_pair {
	const char *group;
	int         dom[2];   /* index into modules */
	unsigned    domain[2];
} fpl_pair;

typedef struct fpl_plan {
	json_t     *doc;      /* owns every string above */
	const char *name, *title, *installation;
	const char *request_id, *request_doc;   /* may be NULL */
	int         parts, sig, rev;
	fpl_person *people;
	size_t      npeople;
	fpl_module *modules;
	size_t      nmodules;
	fpl_pair   *pairs;
	size_t      npairs;
	char        hex[65];  /* SHA-256 of the file's bytes */
} fpl_plan;

hsm_rc fpl_parse(const char *buf, size_t len, fpl_plan **out);
hsm_rc fpl_load(const char *path, fpl_plan **out);
void   fpl_free(fpl_plan **p);
/* The n-th (1..) person of role, or NULL. */
const fpl_person *fpl_person_at(const fpl_plan *p, const char *role, int n);
size_t fpl_count(const fpl_plan *p, const char *role);

/* Did the log at path do what the plan says: every person and card on the
 * roster (backups too), the thresholds set, every domain of every pair with
 * the same MKVP? *out = {log, plan, fulfilled, missing: [text...]}; when
 * something is missing HSM_ERR_VERIFY names each, *out still set. */
hsm_rc cer_plan_check(const char *log, const char *plan, json_t **out);

#endif
