/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_fixture.h - the flows fault_flows.c runs, and what they share: keys,
 * an envelope's inputs, evidence logs, all made once before any failure is
 * armed (so set-up calls are never the ones that fail).
 */
#ifndef HSMADM_FAULT_FIXTURE_H
#define HSMADM_FAULT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/err.h"
#include "hsmadm/evverify.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/signer.h"
#include "hsmadm/vp.h"
#include "test_evlog_fixture.h"

struct fault_fx {
	struct evfix ev;              /* temp dir, admin/supervisor keys, module CA */
	char         card_key[320];   /* P-384: a custodian card's 9D key */
	char         importer_key[320];
	char         append_log[320]; /* the log the append flow writes */
	char         verify_log[320]; /* a whole ceremony, completed */
	char        *append_pristine; /* append_log's bytes before each run */
	size_t       append_pristine_len;
	long long    append_records;
	EVP_PKEY    *signer_pub, *card_pub, *importer_pub;
	hsm_secbuf  *part;
	uint8_t      kpvp[HSM_VP_LEN];
	void        *module;          /* module flow: see fault_module.c */
	int          pin_fd;          /* card flow: the PIN on a pipe, or -1 */

	/* One run's results, checked by the flow and freed by its clean(). */
	hsm_signer  *signer;
	uint8_t     *sig;
	size_t       siglen;
	admincmd    *cmd;
	char        *dump;
	size_t       dumplen;
	uint8_t     *env;
	size_t       envlen;
	hsm_secbuf  *opened, *unwrapped;
	evlog_verify_result res;
};

struct fault_flow {
	const char *name;
	int    (*reset)(struct fault_fx *fx);           /* before arming; 0 ok */
	hsm_rc (*run)(struct fault_fx *fx);             /* armed */
	int    (*check)(struct fault_fx *fx, hsm_rc rc); /* disarmed; 0 ok */
	void   (*clean)(struct fault_fx *fx);
	/* Calls whose failure the flow may survive (NULL-terminated). */
	const char *const *best_effort;
	/* Set only where the flow has what it needs (NULL: always runs). */
	const char *needs_env;
};

extern const struct fault_flow fault_flows[];   /* ends with a NULL name */

int  fault_fx_setup(struct fault_fx *fx);
void fault_fx_teardown(struct fault_fx *fx);

#endif
