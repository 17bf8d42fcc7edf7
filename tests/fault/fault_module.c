/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_module.c - the "module" flow. The workstation side (kpwrap, the
 * group engine's propose / pre-flight / submit / receipt check) and the
 * module side (simmod_handle: quorum, unwrap, state file, receipt log) run
 * in one process, so a failure injected on either side is seen by the
 * other as it would be over TLS: the driver (tests/unit/sim_driver.c)
 * hands each request to simmod_handle() as a message. The state folder is
 * put back from a copy before every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/group.h"
#include "hsmadm/kpwrap.h"
#include "hsmadm/x509util.h"

#include "fault_module.h"
#include "sim_driver.h"
#include "simmod.h"

#define FMOD_SERIAL "DC1-M01"
#define FMOD_DOMAIN 1u

struct fmod {
	char          dir[340], pristine[340], ca[360];
	simmod       *m;
	moddrv       *drv;
	struct sim_conn *conn;     /* the driver's connection: follows m */
	group_member  mem;
	hsm_signer   *admin;
	EVP_PKEY     *importer;
	uint64_t      counter0;
	admincmd     *cmd;
	json_t       *report;
	char         *oa_b64;      /* the member's pinned OA certificate */
};

/* The module's OA certificate as the workstation pins it: base64 DER. */
static hsm_rc
pinned_oa(struct fmod *f)
{
	char path[400];
	uint8_t *der = NULL;
	size_t n = 0;
	X509 *x = NULL;
	hsm_rc rc;

	snprintf(path, sizeof(path), "%s/oa.pem", f->dir);
	if ((rc = x509u_load_pem(path, &x)) == HSM_OK &&
	    (rc = x509u_to_der(x, &der, &n)) == HSM_OK)
		rc = b64_encode(der, n, &f->oa_b64);
	X509_free(x);
	free(der);
	return rc;
}

/* Propose op for the one member, signed by the admin if sign, and submit. */
static hsm_rc
submit(struct fmod *f, const char *op, json_t *params, int sign, admincmd **cmd,
       json_t **report)
{
	int64_t now = (int64_t)time(NULL);
	hsm_rc rc;

	if ((rc = group_propose(&f->mem, 1, op, params, now, 600, cmd)) != HSM_OK)
		return rc;
	if (sign && (rc = admincmd_sign(*cmd, f->admin)) != HSM_OK)
		return rc;
	return group_submit(&f->mem, 1, *cmd, now, 0, report);
}

/* Set-up step: op must be applied. */
static hsm_rc
setup_step(struct fmod *f, const char *op, json_t *params, int sign)
{
	admincmd *c = NULL;
	json_t *rep = NULL;
	hsm_rc rc = params == NULL ? hsm_fail(HSM_ERR_NOMEM, "out of memory")
	                           : submit(f, op, params, sign, &c, &rep);

	json_decref(params);
	json_decref(rep);
	admincmd_free(&c);
	return rc;
}

/* The domain's counter, importer key and loaded parts, as domain.query says. */
static hsm_rc
domain_now(struct fmod *f, uint64_t *counter, size_t *parts, EVP_PKEY **importer)
{
	json_t *st = NULL;
	const char *hex;
	uint8_t *pt = NULL;
	size_t n = 0;
	hsm_rc rc;

	if ((rc = moddrv_query(f->drv, FMOD_DOMAIN, &st)) != HSM_OK)
		return rc;
	*counter = (uint64_t)json_integer_value(json_object_get(st, "counter"));
	*parts = json_array_size(json_object_get(json_object_get(json_object_get(st,
	         "registers"), "pending"), "parts_loaded"));
	hex = json_string_value(json_object_get(json_object_get(st, "importer"), "pubkey"));
	if (importer != NULL) {
		if (hex == NULL)
			rc = hsm_fail(HSM_ERR_STATE, "fixture: the domain has no importer key");
		else if ((rc = hex_decode(hex, &pt, &n)) == HSM_OK)
			rc = crypto_ec_from_point(HSM_CURVE_P384, pt, n, importer);
	}
	free(pt);
	json_decref(st);
	return rc;
}

/* Open the state folder again; the driver's connection follows. */
static hsm_rc
reopen(struct fmod *f)
{
	hsm_rc rc = simmod_open(f->dir, NULL, &f->m);

	f->conn->m = f->m;
	f->conn->lost = 0;
	return rc;
}

/* Replace dir `to` with a copy of dir `from` (the shell's cp keeps modes). */
static int
copy_dir(const char *from, const char *to)
{
	char cmd[1024];

	if ((size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, from, to) >=
	    sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

static hsm_rc
admin_add_params(struct fmod *f, json_t **out)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	char *hex = NULL;
	hsm_rc rc;

	if ((rc = crypto_ec_point(signer_pub(f->admin), &pt, &n)) == HSM_OK &&
	    (rc = hex_encode(pt, n, &hex)) == HSM_OK)
		*out = json_pack("{s:s, s:s, s:s}", "pubkey", hex, "name", "Bob Admin",
		                 "identity", "bob");
	free(pt);
	free(hex);
	return rc;
}

/* A module with one admin, thresholds 1/1 and an importer key in domain 1;
 * its state folder copied aside for reset. */
hsm_rc
fault_module_setup(struct fault_fx *fx)
{
	struct fmod *f = calloc(1, sizeof(*f));
	simmod_init_opts o;
	json_t *add = NULL;
	size_t parts;
	hsm_rc rc;

	if ((fx->module = f) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	snprintf(f->dir, sizeof(f->dir), "%s/module", fx->ev.dir);
	snprintf(f->pristine, sizeof(f->pristine), "%s/module.pristine", fx->ev.dir);
	snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", f->dir);
	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.serial = FMOD_SERIAL;
	o.domains = 2;
	if ((rc = simmod_init(&o, NULL)) != HSM_OK ||
	    (rc = simmod_open(f->dir, NULL, &f->m)) != HSM_OK ||
	    (rc = sim_driver_open(f->m, FMOD_SERIAL, &f->drv, &f->conn)) != HSM_OK ||
	    (rc = signer_from_keyfile(fx->ev.bob_key, &f->admin)) != HSM_OK ||
	    (rc = admin_add_params(f, &add)) != HSM_OK || (rc = pinned_oa(f)) != HSM_OK)
		return rc;
	f->mem.module = FMOD_SERIAL;
	f->mem.domain = FMOD_DOMAIN;
	f->mem.drv = f->drv;
	f->mem.ca_pem = f->ca;
	f->mem.oa_cert = f->oa_b64;   /* checked while the read waits */
	if ((rc = setup_step(f, ADMINCMD_OP_ADMIN_ADD, add, 0)) != HSM_OK ||
	    (rc = setup_step(f, ADMINCMD_OP_THRESHOLDS_SET, json_pack("{s:i, s:i}",
	                     "signature", 1, "revocation", 1), 1)) != HSM_OK ||
	    (rc = setup_step(f, ADMINCMD_OP_IMPORTER_GENERATE, json_object(), 1)) != HSM_OK ||
	    (rc = domain_now(f, &f->counter0, &parts, &f->importer)) != HSM_OK)
		return rc;
	simmod_free(&f->m);
	if (copy_dir(f->dir, f->pristine) != 0)
		return hsm_fail(HSM_ERR_IO, "fixture: cannot copy %s", f->dir);
	return reopen(f);
}

void
fault_module_teardown(struct fault_fx *fx)
{
	struct fmod *f = fx->module;

	if (f == NULL)
		return;
	moddrv_free(&f->drv);
	simmod_free(&f->m);
	signer_free(&f->admin);
	EVP_PKEY_free(f->importer);
	free(f->oa_b64);
	free(f);
	fx->module = NULL;
}

int
fault_module_reset(struct fault_fx *fx)
{
	struct fmod *f = fx->module;

	simmod_free(&f->m);
	if (copy_dir(f->pristine, f->dir) != 0)
		return -1;
	return reopen(f) == HSM_OK ? 0 : -1;
}

/* Wrap the part for the domain's importer key and load it as part 1 of 2. */
hsm_rc
fault_module_run(struct fault_fx *fx)
{
	struct fmod *f = fx->module;
	kpwrap_binding b = { FMOD_SERIAL, FMOD_DOMAIN, 1 };
	kpwrap_blob blob;
	json_t *w = NULL, *params;
	char kpvp[2 * HSM_VP_LEN + 1];
	hsm_rc rc;

	if ((rc = kpwrap_wrap(fx->part, f->importer, &b, &blob)) != HSM_OK ||
	    (rc = kpwrap_blob_to_json(&blob, &w)) != HSM_OK)
		return rc;
	hex_encode_buf(fx->kpvp, HSM_VP_LEN, kpvp);
	params = json_pack("{s:i, s:i, s:s, s:o}", "part_index", 1, "parts", 2, "kpvp", kpvp,
	                   "wrapped", w);
	if (params == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = submit(f, ADMINCMD_OP_MK_LOAD_PART, params, 1, &f->cmd, &f->report);
	json_decref(params);
	return rc;
}

/* The state folder opens again (nothing half-written); the domain either
 * did not move or holds the part, and holds a receipt for every command it
 * applied; a success means it moved. */
int
fault_module_check(struct fault_fx *fx, hsm_rc rc)
{
	struct fmod *f = fx->module;
	json_t *rcpts = NULL;
	uint64_t counter = 0;
	size_t parts = 0, nrcpt;
	int bad = 0;

	simmod_free(&f->m);
	if (reopen(f) != HSM_OK) {
		fprintf(stderr, "module: the state folder does not open: %s\n", hsm_errmsg());
		return 1;
	}
	if (domain_now(f, &counter, &parts, NULL) != HSM_OK ||
	    moddrv_receipts(f->drv, FMOD_DOMAIN, f->counter0, &rcpts) != HSM_OK) {
		fprintf(stderr, "module: cannot read the domain back: %s\n", hsm_errmsg());
		return 1;
	}
	nrcpt = json_array_size(rcpts);
	json_decref(rcpts);
	if (counter == f->counter0)
		bad = parts != 0 || nrcpt != 0 || rc == HSM_OK;
	else if (counter == f->counter0 + 1)
		bad = parts != 1 || nrcpt != 1;
	else
		bad = 1;
	if (bad)
		fprintf(stderr, "module: counter %llu (was %llu), %zu parts, %zu receipts\n",
		        (unsigned long long)counter, (unsigned long long)f->counter0, parts, nrcpt);
	return bad;
}

void
fault_module_clean(struct fault_fx *fx)
{
	struct fmod *f = fx->module;

	admincmd_free(&f->cmd);
	json_decref(f->report);
	f->report = NULL;
}
