/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admincmd.h - signed M-of-N admin commands (DESIGN §4, §5;
 * docs/formats/command.md).
 *
 * A command file is {"body": BODY, "signatures": [{ski, signature}...]}.
 * BODY = {v: 1, op, params, targets: [{module, domain, counter}],
 *         not_before, not_after, nonce}; times are integer Unix seconds,
 * nonce is 16 random bytes in lowercase hex. Each admin signs the RFC 8785
 * canonical bytes of BODY (ECDSA, hash per curve); the body is never
 * rewritten once made, signatures are only added beside it. The command
 * digest people compare aloud is SHA-256 of the canonical body.
 *
 * The workstation builds, signs and summarizes commands with this module;
 * the module (hsmadm-simd) and the group engine's pre-flight check call
 * admincmd_verify_for_domain(), so both sides apply the same rules.
 */
#ifndef HSMADM_ADMINCMD_H
#define HSMADM_ADMINCMD_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "hsmadm/err.h"
#include "hsmadm/crypto.h"
#include "hsmadm/signer.h"

#define ADMINCMD_VERSION      1
#define ADMINCMD_NONCE_LEN    16
#define ADMINCMD_DIGEST_LEN   32
#define ADMINCMD_MAX_TARGETS  256   /* group members one command may address */
#define ADMINCMD_MAX_SIGS     64
#define ADMINCMD_MAX_DOMAIN   84    /* domains 0..84 per module */
#define ADMINCMD_MAX_ADMINS   8     /* per domain */
#define ADMINCMD_MAX_THRESHOLD 8
#define ADMINCMD_NAME_MAX     30    /* admin holder name, characters (bytes) */
#define ADMINCMD_IDENTITY_MAX 64
#define ADMINCMD_SERIAL_MAX   64    /* module serial */

/* The longest validity a proposal may ask for, and the longest window a
 * command may have (not_after - not_before): 7 days, plus an hour for the
 * back-dated start of a proposal and clock differences. A signed command is
 * a bearer instrument until it expires; it must not stay usable for months
 * (docs/formats/command.md). */
#define ADMINCMD_MAX_VALID_FOR (7 * 86400)
#define ADMINCMD_MAX_WINDOW    (ADMINCMD_MAX_VALID_FOR + 3600)

/* Operation names (the "op" field), the one table that the module
 * (sim/) and the workstation share. mk.activate moves CURRENT to OLD and PENDING to CURRENT
 * (activate on first load, finalize on rotation). */
#define ADMINCMD_OP_ADMIN_ADD         "admin.add"
#define ADMINCMD_OP_ADMIN_REMOVE      "admin.remove"
#define ADMINCMD_OP_THRESHOLDS_SET    "thresholds.set"
#define ADMINCMD_OP_ZEROIZE           "zeroize"
#define ADMINCMD_OP_IMPORTER_GENERATE "importer.generate"
#define ADMINCMD_OP_MK_LOAD_PART      "mk.load_part"
/* One decision for the whole load of a new key: the signature-threshold
 * admins approve its parts by index, part id and KPVP; each approved part
 * then loads with no further signature (docs/formats/command.md). Also makes
 * the importer key where the domain has none. */
#define ADMINCMD_OP_MK_APPROVE_LOAD   "mk.approve_load"
#define ADMINCMD_OP_MK_COMMIT         "mk.commit"
#define ADMINCMD_OP_MK_ACTIVATE       "mk.activate"
#define ADMINCMD_OP_MK_CLEAR_PENDING  "mk.clear_pending"
#define ADMINCMD_OP_MK_DESTROY_OLD    "mk.destroy_old"
/* Return to the OLD key before it is destroyed (rotation backout): OLD
 * becomes CURRENT again and the new key is set aside in PENDING, committed. */
#define ADMINCMD_OP_MK_BACKOUT        "mk.backout"

typedef struct admincmd admincmd;

typedef struct admincmd_target {
	const char *module;     /* module serial */
	unsigned    domain;     /* 0..84 */
	uint64_t    counter;    /* the domain's transaction counter the command expects */
} admincmd_target;

/* One admin of a domain, as the verifier needs it. All fields borrowed. */
typedef struct admincmd_admin {
	uint8_t     ski[HSM_SKI_LEN];
	EVP_PKEY   *pub;
	const char *identity;   /* two keys of one identity count once */
	const char *name;       /* holder name, for messages; may be NULL */
} admincmd_admin;

/* 1 if op is one of the names above. */
int admincmd_op_known(const char *op);

/*
 * Signatures op needs from distinct admin identities of a domain whose
 * thresholds are sig_thr / rev_thr (both 0 = imprint mode), per DESIGN §4:
 * admin.add, thresholds.set, mk.commit, mk.destroy_old, mk.backout, zeroize: sig_thr;
 * admin.remove: rev_thr; importer.generate, mk.load_part, mk.activate,
 * mk.clear_pending: 1. In imprint mode admin.add, admin.remove and zeroize
 * need none, thresholds.set needs the NEW signature threshold
 * (params.signature), and importer/master-key operations are HSM_ERR_STATE.
 * params may be NULL except for thresholds.set in imprint mode.
 */
hsm_rc admincmd_required_sigs(const char *op, const json_t *params,
                              unsigned sig_thr, unsigned rev_thr, unsigned *needed);

/*
 * Check params for op: admin.add {pubkey (hex 0x04||X||Y on P-256/384/521),
 * name, identity}, admin.remove {ski}, thresholds.set {signature,
 * revocation} (1..8 each), zeroize {}; other ops: any object (the module
 * checks them). HSM_ERR_FORMAT if not.
 */
hsm_rc admincmd_check_params(const char *op, const json_t *params);

/* A new unsigned command. params is copied (NULL = {}); a fresh random nonce
 * is drawn. Targets must name distinct (module, domain) pairs. */
hsm_rc admincmd_new(const char *op, const json_t *params,
                    const admincmd_target *targets, size_t ntargets,
                    int64_t not_before, int64_t not_after, admincmd **out);

/* Strict parse of a command file's bytes or its JSON object (not stolen).
 * Unknown keys, duplicate signers, bad hex/base64, unknown op, bad params,
 * not_after < not_before: HSM_ERR_FORMAT with a message naming the field. */
hsm_rc admincmd_parse(const char *buf, size_t len, admincmd **out);
hsm_rc admincmd_from_json(const json_t *file, admincmd **out);
hsm_rc admincmd_load(const char *path, admincmd **out);

/* Canonical bytes of the whole file object (malloc'ed, NUL-terminated), a new
 * JSON reference of it, or the file written atomically (mode 0644). */
hsm_rc admincmd_dump(const admincmd *cmd, char **out, size_t *len);
hsm_rc admincmd_to_json(const admincmd *cmd, json_t **out);
hsm_rc admincmd_save(const admincmd *cmd, const char *path);

void admincmd_free(admincmd **cmd);

/* SHA-256 of the canonical body. */
hsm_rc admincmd_digest(const admincmd *cmd, uint8_t out[ADMINCMD_DIGEST_LEN]);
/* The digest in lowercase hex and as PGP words (both malloc'ed; either out
 * pointer may be NULL). */
hsm_rc admincmd_digest_text(const admincmd *cmd, char **hex, char **words);

/* Sign the canonical body with s and add {ski, signature}. HSM_ERR_EXISTS if this
 * key already signed; the body is never changed. */
hsm_rc admincmd_sign(admincmd *cmd, hsm_signer *s);

/* Accessors (borrowed; valid until admincmd_free). */
const char   *admincmd_op(const admincmd *cmd);
const json_t *admincmd_params(const admincmd *cmd);
const json_t *admincmd_body(const admincmd *cmd);
int64_t       admincmd_not_before(const admincmd *cmd);
int64_t       admincmd_not_after(const admincmd *cmd);
size_t        admincmd_ntargets(const admincmd *cmd);
/* i-th target; module string borrowed. */
hsm_rc        admincmd_target_at(const admincmd *cmd, size_t i, admincmd_target *out);
size_t        admincmd_nsigs(const admincmd *cmd);
/* SKI of the i-th signature. */
hsm_rc        admincmd_sig_ski(const admincmd *cmd, size_t i, uint8_t ski[HSM_SKI_LEN]);
/* Does the i-th signature verify over the body with pub, in its one
 * accepted encoding (low S)? HSM_OK, or HSM_ERR_VERIFY with a message. */
hsm_rc        admincmd_sig_verify(const admincmd *cmd, size_t i, EVP_PKEY *pub);
/* 1 if a signature with this SKI is attached. */
int           admincmd_has_signer(const admincmd *cmd, const uint8_t ski[HSM_SKI_LEN]);

/* The target entry of (module, domain): HSM_OK and *counter, or
 * HSM_ERR_NOT_FOUND. counter may be NULL. */
hsm_rc admincmd_target_for(const admincmd *cmd, const char *module,
                           unsigned domain, uint64_t *counter);

/*
 * What a module runs before applying cmd to one of its domains:
 *  - the command must name (module, domain)         else HSM_ERR_REFUSED
 *  - op allowed in this mode (imprint)               else HSM_ERR_STATE
 *  - not_before <= now <= not_after                  else HSM_ERR_EXPIRED
 *  - its counter equals the domain's counter         else HSM_ERR_REPLAY
 *  - every signature's SKI is an admin of the domain else HSM_ERR_REFUSED
 *  - every signature verifies over the body          else HSM_ERR_VERIFY
 *  - distinct identities >= admincmd_required_sigs   else HSM_ERR_QUORUM
 *    ("2 of 3 needed signatures present; 1 more needed")
 * *counted (may be NULL) gets the distinct identities whose signatures
 * verified, also on HSM_ERR_QUORUM.
 */
hsm_rc admincmd_verify_for_domain(const admincmd *cmd, const char *module,
                                  unsigned domain, uint64_t counter, int64_t now,
                                  const admincmd_admin *admins, size_t nadmins,
                                  unsigned sig_thr, unsigned rev_thr,
                                  unsigned *counted);

/*
 * The same for a domain whose PENDING register holds an approved load:
 * approved is the "approved" array of the domain state's pending register
 * ([{index, part_id, kpvp}], NULL or empty: none). An mk.load_part whose
 * "parts", "part_index" and "kpvp" match an entry of it needs no signature
 * (the module still checks that the part unwraps to that KPVP); any
 * signature it carries must still verify.
 */
hsm_rc admincmd_verify_approved(const admincmd *cmd, const char *module,
                                unsigned domain, uint64_t counter, int64_t now,
                                const admincmd_admin *admins, size_t nadmins,
                                unsigned sig_thr, unsigned rev_thr,
                                const json_t *approved, unsigned *counted);
/*
 * One command checked for many domains at once (a module's batch request,
 * a group's read): the domains whose admins (SKIs and identities) and
 * thresholds are the same share one check of the signatures. The first
 * caller of an admin set checks, the others wait for its result; only a
 * success is shared, so a refusal is checked again by each domain, for a
 * message that names it. A domain with an approved load, one not at the
 * command's counter, or one whose set cannot be keyed checks on its own.
 * A memo serves one command at one time (now): make one per command.
 * Thread safe. m may be NULL (every domain checks on its own).
 */
typedef struct admincmd_memo admincmd_memo;
hsm_rc admincmd_memo_new(admincmd_memo **out);
void   admincmd_memo_free(admincmd_memo **m);
hsm_rc admincmd_verify_memo(admincmd_memo *m, const admincmd *cmd, const char *module,
                            unsigned domain, uint64_t counter, int64_t now,
                            const admincmd_admin *admins, size_t nadmins,
                            unsigned sig_thr, unsigned rev_thr, const json_t *approved,
                            unsigned *counted);
/* 1 if the mk.load_part params (parts, part_index, kpvp) are in approved. */
int    admincmd_load_is_approved(const json_t *params, const json_t *approved);

/* SKI of an admin.add pubkey (hex point). */
hsm_rc admincmd_pubkey_from_hex(const char *hex, EVP_PKEY **pub, uint8_t ski[HSM_SKI_LEN]);

/* One plain sentence: "Add administrator Bob Example (SKI 1a2b3c4d...) to
 * DC1-M01 domain 3 and DC2-M01 domain 3". Malloc'ed. */
hsm_rc admincmd_summary(const admincmd *cmd, char **out);

#endif
