/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * simmod.h - one emulated crypto module: its state folder, its keys and
 * certificates, its domains, and the answer to each protocol request
 * (docs/formats/module-protocol.md). No network here: simserve.c carries
 * the frames; unit tests call simmod_handle() directly.
 *
 * The module CA key (if it made one), the TLS key and the rehearsal client
 * CA key are kept in files in the state folder, mode 0600. The OA key and
 * every domain's registers and importer key are in the key store chosen at
 * init (keystore.h): files of the folder (the rehearsal default) or a
 * PKCS#11 token.
 */
#ifndef HSMADM_SIM_SIMMOD_H
#define HSMADM_SIM_SIMMOD_H

#include <jansson.h>
#include "hsmadm/err.h"

typedef struct simmod simmod;

typedef struct simmod_init_opts {
	const char *dir;             /* state folder (created, mode 0700) */
	const char *serial;          /* module serial: 1..32 of [A-Za-z0-9._-] */
	unsigned    domains;         /* 1..85 */
	const char *ca_key;          /* reuse this module CA (both or neither) */
	const char *ca_cert;
	const char *client_ca;       /* trust this client CA; NULL: make a rehearsal one */
	const char *keystore;        /* "file" (NULL too) or "pkcs11" */
	const char *p11_lib;         /* pkcs11: the vendor library, absolute path */
	const char *token;           /* pkcs11: the token label */
	const char *pin_file;        /* pkcs11: PIN file (kept in module.json for serve) */
	int         has_pin_fd;      /* pkcs11: or the PIN on descriptor pin_fd */
	int         pin_fd;
} simmod_init_opts;

/* Create a module state folder. *info (optional) describes what was made. */
hsm_rc simmod_init(const simmod_init_opts *o, json_t **info);

/* Issue a workstation client certificate from the folder's rehearsal client CA. */
hsm_rc simmod_issue_client(const char *dir, const char *name, const char *out_key,
                           const char *out_cert, json_t **info);

/* Test-only fault injection (see hsmadm-simd(1)). 0 = off. */
typedef struct simmod_faults {
	long drop_before;   /* the Nth command.apply request: close, apply nothing */
	long drop_after;    /* the Nth applied command: persist, then close unanswered */
	long crash_after;   /* the Nth applied command: persist, then abort() */
	long crash_before_save; /* the Nth command to be saved: its receipt and any
	                         * token objects made, then abort() before the save */
} simmod_faults;

hsm_rc simmod_open(const char *dir, const simmod_faults *faults, simmod **out);
/* The same with the token PIN on pin_fd (-1: from the PIN file module.json
 * names). On a token, objects of this module that no domain names are
 * destroyed and said on stderr (keystore.h). */
hsm_rc simmod_open_pin(const char *dir, const simmod_faults *faults, int pin_fd, simmod **out);
void   simmod_free(simmod **m);
const char *simmod_serial(const simmod *m);
/* Paths of the TLS files the server needs (inside the folder). */
const char *simmod_path(const simmod *m, const char *file, char *buf, size_t n);

/* Answer one request message (any JSON value). *answer is always set on
 * HSM_OK; *drop = 1 means: close the connection without answering. Thread
 * safe. Returns an error only when no answer can be built at all. */
hsm_rc simmod_handle(simmod *m, json_t *msg, json_t **answer, int *drop);

/* The answer for a frame that could not be read or parsed. */
hsm_rc simmod_error_answer(hsm_rc rc, const char *message, json_t **answer);

#endif
