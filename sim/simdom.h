/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * simdom.h - one emulated EP11-style domain: admins, thresholds, transaction
 * counter, the CURRENT / PENDING / OLD master-key registers and the importer
 * key, with the rules of DESIGN §4 (docs/formats/module-protocol.md §2.3).
 *
 * The state machine is pure: simdom_apply() never changes its input; it
 * returns the next state, which the caller persists (simdom_save) before it
 * replaces the old one, so a failed write changes nothing.
 *
 * File store (the rehearsal default): the private state (register contents,
 * importer private key) is written to the domain file in clear (mode 0600);
 * in memory the registers live in secure buffers. On a PKCS#11 token
 * (keystore.h) the file names the token objects and holds their MKVPs, and
 * a PENDING being loaded sealed under the token's state key: no key.
 */
#ifndef HSMADM_SIM_SIMDOM_H
#define HSMADM_SIM_SIMDOM_H

#include <stdint.h>
#include <jansson.h>
#include "hsmadm/admincmd.h"
#include "hsmadm/blob.h"
#include "hsmadm/err.h"
#include "keystore.h"

typedef struct simdom simdom;

#define SIMDOM_MAX_ADMINS 8
#define SIMDOM_MAX_PARTS  20
#define SIMDOM_MIN_PARTS  2
#define SIMDOM_PART_ID_MAX 64

/* A fresh domain in imprint mode, everything empty, counter 0. */
hsm_rc simdom_new(unsigned index, simdom **out);
/* Load from the domain file (HSM_ERR_FORMAT if damaged); a missing file
 * gives a fresh domain. */
hsm_rc simdom_load(const char *path, unsigned index, simdom **out);
/* The same for a module whose keys are in ks (NULL: files). The domain
 * keeps ks (borrowed) and its clones share it. */
hsm_rc simdom_load_ks(const char *path, unsigned index, keystore *ks, simdom **out);
/* Write the full (private) state atomically, mode 0600: a temporary beside
 * path, synced, renamed over it, the folder synced. */
hsm_rc simdom_save(const simdom *d, const char *path);
/* A batch's save in two steps: simdom_stage writes the state beside path
 * ("<path>.next", the caller holds the domain's lock) with no fsync; the
 * caller flushes the batch's files at once (hsm_fs_batch_sync), then
 * simdom_place renames each over its path and the caller syncs the folder
 * once; the replaced file, emptied, stays as the next "<path>.next" (no
 * new file per save). simdom_unstage removes a staged state that is not
 * to be placed. */
hsm_rc simdom_stage(const simdom *d, const char *path);
hsm_rc simdom_place(const char *path);
void   simdom_unstage(const char *path);
void   simdom_free(simdom **d);

uint64_t simdom_counter(const simdom *d);
unsigned simdom_index(const simdom *d);

/* Public state as domain.query returns it, with or without state_digest. */
hsm_rc simdom_public(const simdom *d, const char *module, int with_digest, json_t **out);

/*
 * Check and apply one signed admin command file ({body, signatures}) to the
 * domain of module `module` at time `now` (Unix seconds). On success *next is
 * the new state, *result the op's output object and *op the op name
 * (borrowed from a static table). On refusal: the hsm_rc, an hsm_fail
 * message, and *reason a stable token ("counter_mismatch"; static string).
 */
hsm_rc simdom_apply(const simdom *d, const char *module, const json_t *command,
                    int64_t now, simdom **next, json_t **result,
                    const char **op, const char **reason);

/*
 * The same with the command already parsed, for the domains of one batch
 * request (module-protocol.md §2.5): memo (may be NULL) shares the
 * signature check between domains with the same admins and thresholds, so
 * a command on many domains verifies each signature once per admin set.
 * Thread safe between domains; now must be the batch's one time.
 */
typedef struct simdom_vmemo simdom_vmemo;
hsm_rc simdom_vmemo_new(simdom_vmemo **out);
void   simdom_vmemo_free(simdom_vmemo **m);
hsm_rc simdom_apply_cmd(const simdom *d, const char *module, const admincmd *cmd,
                        int64_t now, simdom_vmemo *memo, simdom **next,
                        json_t **result, const char **op, const char **reason);

/*
 * Key blobs (sim/simblob.c): the wrapping context of one register, derived
 * from its key (blob.h), when the register holds a whole key: CURRENT or
 * OLD valid, PENDING committed. HSM_ERR_STATE when it holds none (empty,
 * or a PENDING still being loaded). Read-only: blob operations never
 * change a domain.
 */
typedef enum simdom_regid {
	SIMDOM_REG_CURRENT = 0,
	SIMDOM_REG_PENDING,
	SIMDOM_REG_OLD,
	SIMDOM_REG__COUNT
} simdom_regid;

hsm_rc simdom_blob_key(const simdom *d, simdom_regid r, blob_kctx **out);

/*
 * Token objects (keystore.h). A change never destroys an object itself:
 * its result names them ("token_objects_destroyed", in the receipt) and
 * the module destroys them after it saved the new state
 * (simdom_objects_gone(old, new, 1, NULL)); a refused change destroys
 * the objects it made. simdom_names: 1 if d names object (kind, id).
 * simdom_objects_gone: the objects from names and to does not (to NULL:
 * all), their labels appended to labels (may be NULL), destroyed if
 * destroy. Nothing on the file store.
 */
int    simdom_names(const simdom *d, ks_kind kind, const char *id);
hsm_rc simdom_objects_gone(const simdom *from, const simdom *to, int destroy, json_t *labels);

#endif
