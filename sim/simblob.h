/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * simblob.h - the key blob operations of hsmadm-simd (docs/blobs.md,
 * docs/formats/module-protocol.md §2.6): blob.generate, blob.encrypt,
 * blob.decrypt, blob.reencipher. They are application operations: any
 * client whose TLS certificate the module trusts may call them; they change
 * no domain, advance no counter and write no receipt.
 *
 * simmod.c takes a snapshot of the domain's register keys under the domain
 * lock (simblob_keys_get) and runs the operation on it without the lock, so
 * a long batch never holds up admin commands.
 */
#ifndef HSMADM_SIM_SIMBLOB_H
#define HSMADM_SIM_SIMBLOB_H

#include <jansson.h>
#include "hsmadm/blob.h"
#include "hsmadm/err.h"
#include "simdom.h"

#define SIMBLOB_OP_GENERATE   "blob.generate"
#define SIMBLOB_OP_ENCRYPT    "blob.encrypt"
#define SIMBLOB_OP_DECRYPT    "blob.decrypt"
#define SIMBLOB_OP_REENCIPHER "blob.reencipher"

/* The wrapping contexts of a domain's registers (NULL where it holds no
 * whole key). */
typedef struct simblob_keys {
	unsigned   domain;
	blob_kctx *reg[SIMDOM_REG__COUNT];
} simblob_keys;

hsm_rc simblob_keys_get(const simdom *d, simblob_keys *k);
void   simblob_keys_clear(simblob_keys *k);

/* 1 if op is one of the blob ops. */
int    simblob_is_op(const char *op);

/* Answer one blob op on the snapshot. On refusal: the hsm_rc, an hsm_fail
 * message and *reason (a stable token, static). */
hsm_rc simblob_handle(const char *op, simblob_keys *k, const json_t *params,
                      json_t **result, const char **reason);

#endif
