/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * wsconfig.h - the workstation configuration: which modules this
 * workstation trusts (name, serial, address, pinned module CA, OA
 * certificate fingerprint), the domain groups it administers, and the
 * workstation's own TLS client certificate and key.
 *
 * It is a directory: --home, else $HSMADM_HOME, else ~/.config/hsmadm.
 *   config.json          {"v":1, "modules":[...], "groups":[...], "client":{...}}
 *   ca-<serial>.pem      pinned module CA of each module
 *   client-cert.pem, client-key.pem
 * The directory is 0700 and every file 0600; a directory or file that
 * others can read or write is refused (HSM_ERR_STATE, "chmod ..."), because
 * the pinned CAs decide whom the workstation trusts. config.json is
 * replaced atomically (cjson_save_file).
 */
#ifndef HSMADM_WSCONFIG_H
#define HSMADM_WSCONFIG_H

#include <stddef.h>
#include <jansson.h>
#include "hsmadm/err.h"

#define WSC_NAME_MAX 64
#define WSC_PATH_MAX 4096

typedef struct wsconfig wsconfig;

typedef struct wsc_module {
	const char *name;            /* borrowed */
	const char *serial;
	const char *address;         /* host:port */
	const char *oa_fingerprint;  /* hex SHA-256 of the OA certificate DER */
	const char *oa_cert;         /* that certificate, base64 DER; NULL in a
	                              * configuration written before it was kept */
	char        ca_path[WSC_PATH_MAX];
} wsc_module;

typedef struct wsc_member {
	const char *module;          /* module serial, borrowed */
	unsigned    domain;
} wsc_member;

/* The home directory to use (malloc'ed): opt if given, else $HSMADM_HOME,
 * else $HOME/.config/hsmadm. */
hsm_rc wsconfig_home(const char *opt, char **out);

/* Open (creating it 0700 if missing) and load; checks permissions. */
hsm_rc wsconfig_open(const char *home, wsconfig **out);
hsm_rc wsconfig_save(wsconfig *cfg);
void   wsconfig_free(wsconfig **cfg);
const char *wsconfig_dir(const wsconfig *cfg);
/* The whole document (borrowed), for listings and --json. */
const json_t *wsconfig_json(const wsconfig *cfg);

/* Modules. find matches name or serial. */
size_t wsconfig_nmodules(const wsconfig *cfg);
hsm_rc wsconfig_module_at(const wsconfig *cfg, size_t i, wsc_module *out);
hsm_rc wsconfig_module_find(const wsconfig *cfg, const char *name_or_serial, wsc_module *out);
/* Add (or, with replace, update) a trusted module; ca_pem_src is copied
 * into the directory; oa_cert (base64 DER, may be NULL) is the confirmed
 * OA certificate whose fingerprint is oa_fingerprint. HSM_ERR_EXISTS if
 * the name or serial is taken. */
hsm_rc wsconfig_module_add(wsconfig *cfg, const char *name, const char *serial,
                           const char *address, const char *ca_pem_src,
                           const char *oa_fingerprint, const char *oa_cert, int replace);

/* Groups. members is malloc'ed (free()); its strings are borrowed. */
size_t wsconfig_ngroups(const wsconfig *cfg);
hsm_rc wsconfig_group_find(const wsconfig *cfg, const char *name,
                           wsc_member **members, size_t *n);
/* Every member's module must be known; a (module, domain) pair once. */
hsm_rc wsconfig_group_add(wsconfig *cfg, const char *name,
                          const wsc_member *members, size_t n);
/* "DC1-M01:3" or "<module name>:3" -> member (module = serial, borrowed
 * from cfg). */
hsm_rc wsconfig_parse_member(const wsconfig *cfg, const char *spec, wsc_member *out);

/* The client certificate and key are copied into the directory (0600). */
hsm_rc wsconfig_client_set(wsconfig *cfg, const char *cert_src, const char *key_src);
hsm_rc wsconfig_client_paths(const wsconfig *cfg, char cert[WSC_PATH_MAX],
                             char key[WSC_PATH_MAX]);

/* Connect to every module of a configured group (one TLS connection per
 * module, shared by its members: the engine sends one request per module
 * carrying all of its domains, the modules in parallel) with the pinned CAs
 * and the client certificate. *members (and their ca_pem strings) are freed by
 * wsconfig_group_close. timeout_ms as tls_connect. */
struct group_member;
hsm_rc wsconfig_group_open(const wsconfig *cfg, const char *name, int timeout_ms,
                           struct group_member **members, size_t *n);
void   wsconfig_group_close(struct group_member **members, size_t n);
/* Connect to one trusted module. */
struct moddrv;
hsm_rc wsconfig_module_open(const wsconfig *cfg, const char *name_or_serial,
                            int timeout_ms, struct moddrv **out);

#endif
