/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evrec.h - typed writers for the evidence log: one function per record type.
 *
 * Callers pass C values (strings, patterns as bytes, the admin command as
 * parsed by admincmd.h) and the writer builds the body exactly as
 * docs/formats/evidence.md and evidence/schemas/<type>.schema.json say, so
 * that no other part of hsmadm spells a record type or a body member. Every
 * writer checks its arguments first and writes nothing when one is missing or
 * malformed (HSM_ERR_USAGE, naming the argument). *seq (may be NULL) gets the
 * new record's seq. Public values only: see evlog.h.
 *
 * ceremony.open, checkpoint, completion and log.recovered are written by the
 * log itself (evlog_open, evlog_checkpoint, evlog_complete).
 */
#ifndef HSMADM_EVREC_H
#define HSMADM_EVREC_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/admincmd.h"
#include "hsmadm/err.h"
#include "hsmadm/evlog.h"

#define EV_VP_LEN 32   /* KPVP / MKVP bytes */

/* Who did it. name and role are required; card_id and ski (64 lowercase hex
 * digits) are optional (NULL). Roles: facilitator, custodian, admin,
 * supervisor, witness, auditor, system. */
typedef struct ev_actor {
	const char *name;
	const char *role;
	const char *card_id;
	const char *ski;
} ev_actor;

/* One roster member. name and role are required, the rest optional (NULL);
 * ski is 64 lowercase hex digits of pubkey's SKI, pubkey the hex point. */
typedef struct ev_member {
	const char *name;
	const char *role;
	const char *card_id;
	const char *ski;
	const char *pubkey;
	const char *identity;
	const char *cert;       /* PEM, as read from the card or file */
	const char *backup_of;  /* primary card id, for a backup card */
} ev_member;

/* One domain of a master-key record and the MKVP it reports. */
typedef struct ev_mkdom {
	const char *module;     /* module serial */
	unsigned    domain;
	uint8_t     mkvp[EV_VP_LEN];
} ev_mkdom;

/* One key part that went into an mk.loaded. */
typedef struct ev_mkpart {
	const char *part_id;
	uint8_t     kpvp[EV_VP_LEN];
} ev_mkpart;

hsm_rc evrec_roster(evlog *log, const ev_actor *who, const ev_member *m, size_t n,
                    long long *seq);

/* title may be NULL. */
hsm_rc evrec_step_begin(evlog *log, const ev_actor *who, const char *step,
                        const char *title, long long *seq);
/* result: "ok", "failed" or "skipped". */
hsm_rc evrec_step_end(evlog *log, const ev_actor *who, const char *step,
                      const char *result, long long *seq);

/* holder and ski (hex) may be NULL. */
hsm_rc evrec_card_init(evlog *log, const ev_actor *who, const char *card_id,
                       const char *role, const char *holder, const char *ski,
                       long long *seq);

/* ski: the admin's SKI (hex); name and identity may be NULL. */
hsm_rc evrec_admin_registered(evlog *log, const ev_actor *who, const char *module,
                              unsigned domain, const char *ski, const char *name,
                              const char *identity, long long *seq);

/* command.signed: the signature of the signer with this SKI (32 bytes), taken
 * from cmd's signatures (HSM_ERR_NOT_FOUND if it has none by that key). */
hsm_rc evrec_command_signed(evlog *log, const ev_actor *who, const admincmd *cmd,
                            const uint8_t ski[HSM_SKI_LEN], long long *seq);

/* command.sent, the write-ahead intent: written BEFORE the command goes to any
 * module, so that a crash between sending and recording the receipts leaves
 * the log saying what may have been applied. group may be NULL. */
hsm_rc evrec_command_sent(evlog *log, const ev_actor *who, const admincmd *cmd,
                          const char *group, long long *seq);

/* command.applied: the command and the receipts (a non-empty JSON array of
 * module receipts as receipt.h returns them; not stolen). */
hsm_rc evrec_command_applied(evlog *log, const ev_actor *who, const admincmd *cmd,
                             const json_t *receipts, long long *seq);
/* The same from a command file object {body, signatures} (e.g. the bodies
 * recover_lost_receipts gives back: pass body.command and body.receipts). */
hsm_rc evrec_command_applied_json(evlog *log, const ev_actor *who, const json_t *command,
                                  const json_t *receipts, long long *seq);

/* domain.baseline: a module receipt from an earlier ceremony (not stolen). */
hsm_rc evrec_domain_baseline(evlog *log, const ev_actor *who, const json_t *receipt,
                             long long *seq);

/* keypart.*: holder may be NULL. */
hsm_rc evrec_keypart_generated(evlog *log, const ev_actor *who, const char *part_id,
                               const uint8_t kpvp[EV_VP_LEN], const char *card_id,
                               const char *holder, long long *seq);
hsm_rc evrec_keypart_copied(evlog *log, const ev_actor *who, const char *part_id,
                            const uint8_t kpvp[EV_VP_LEN], const char *card_id,
                            const char *backup_card_id, const char *holder,
                            long long *seq);
hsm_rc evrec_keypart_verified(evlog *log, const ev_actor *who, const char *part_id,
                              const uint8_t kpvp[EV_VP_LEN], const char *card_id,
                              const char *holder, long long *seq);
hsm_rc evrec_keypart_destroyed(evlog *log, const ev_actor *who, const char *part_id,
                               const uint8_t kpvp[EV_VP_LEN], const char *card_id,
                               const char *holder, long long *seq);

/* mk.*: group may be NULL; d[0..n) (n >= 1) the domains and their MKVPs. When
 * every domain reports the same MKVP it is also written as body.mkvp. */
hsm_rc evrec_mk_loaded(evlog *log, const ev_actor *who, const char *group,
                       const ev_mkdom *d, size_t n, const ev_mkpart *parts, size_t np,
                       long long *seq);
hsm_rc evrec_mk_committed(evlog *log, const ev_actor *who, const char *group,
                          const ev_mkdom *d, size_t n, long long *seq);
hsm_rc evrec_mk_activated(evlog *log, const ev_actor *who, const char *group,
                          const ev_mkdom *d, size_t n, long long *seq);

/* ---- the key's life after the ceremony (hsmadm-rotate) ---- */

/* The customer's written request a step acts on: its reference (1..128
 * printable characters) and the SHA-256 of the document. */
typedef struct ev_request {
	const char *id;
	uint8_t     sha256[32];
} ev_request;

/* rotation.begun: a rotation of group's master key, whose CURRENT MKVP is
 * mkvp_current, starts on request req. */
hsm_rc evrec_rotation_begun(evlog *log, const ev_actor *who, const char *group,
                            const ev_request *req, const uint8_t mkvp_current[EV_VP_LEN],
                            long long *seq);
/* mk.finalized: the rotation's new key is CURRENT on every d[] (its MKVP) and
 * a fresh blob worked on each. reencipher: "done" (the blobs were
 * re-enciphered first) or "none" (the customer declared no blobs). */
hsm_rc evrec_mk_finalized(evlog *log, const ev_actor *who, const char *group,
                          const ev_mkdom *d, size_t n, const ev_request *req,
                          const char *reencipher, long long *seq);
/* mk.backed_out: d[] hold the old key as CURRENT again (its MKVP); the new
 * key (mkvp_set_aside) waits, committed, in PENDING. */
hsm_rc evrec_mk_backed_out(evlog *log, const ev_actor *who, const char *group,
                           const ev_mkdom *d, size_t n, const ev_request *req,
                           const uint8_t mkvp_set_aside[EV_VP_LEN], long long *seq);
/* One custodian card a destroyed key's part was removed from. */
typedef struct ev_cardwipe {
	const char *card_id;
	const char *part_id;
	int         backup;     /* a backup card */
} ev_cardwipe;
/* mk.destroyed: OLD cleared on every d[] (the destroyed key's MKVP), the
 * parts removed from the cards c[0..nc). req may be NULL (no request). */
hsm_rc evrec_mk_destroyed(evlog *log, const ev_actor *who, const char *group,
                          const ev_mkdom *d, size_t n, const ev_request *req,
                          const ev_cardwipe *c, size_t nc, long long *seq);
/* One zeroized domain and its counter after the zeroize. */
typedef struct ev_zdom {
	const char *module;
	unsigned    domain;
	uint64_t    counter;
} ev_zdom;
/* group.decommissioned: every d[] zeroized (the command.applied receipts
 * before it are the module-signed proof). */
hsm_rc evrec_group_decommissioned(evlog *log, const ev_actor *who, const char *group,
                                  const ev_request *req, const ev_zdom *d, size_t n,
                                  long long *seq);
/* card.disposed: what became of a custodian or administrator card:
 * disposition "wiped-returned", "destroyed" or "retained" (kept by the
 * customer); witnesses[0..nw) (nw >= 1) who saw it; holder, req may be NULL. */
hsm_rc evrec_card_disposed(evlog *log, const ev_actor *who, const char *card_id,
                           const char *disposition, const char *holder,
                           const char *const *witnesses, size_t nw, const ev_request *req,
                           long long *seq);

/* mkvp_from / mkvp_to may be NULL. done <= total. */
hsm_rc evrec_reencipher(evlog *log, const ev_actor *who, long long done, long long total,
                        const uint8_t *mkvp_from, const uint8_t *mkvp_to, long long *seq);

/* reason is required; resolution may be NULL; open_steps[0..nopen) the steps
 * running when it happened (may be 0). */
hsm_rc evrec_exception(evlog *log, const ev_actor *who, const char *what,
                       const char *reason, const char *resolution,
                       const char *const *open_steps, size_t nopen, long long *seq);

hsm_rc evrec_witness_ack(evlog *log, const ev_actor *who, const char *statement,
                         long long *seq);

#endif
