/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_evlog_fixture.h - a real ceremony's evidence log for the evidence
 * tests and the benchmark: real keys in PEM files, a real module CA and OA
 * certificate, real signed admin commands and module-signed receipts.
 */
#ifndef TEST_EVLOG_FIXTURE_H
#define TEST_EVLOG_FIXTURE_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "hsmadm/err.h"
#include "hsmadm/evlog.h"

#define EVFIX_MODULE "DC1-M01"
#define EVFIX_DOMAIN 3
#define EVFIX_MKVP   0x5c     /* every byte of the MKVP EVFIX_MK records */

struct evfix {
	char      dir[256];
	char      sup_key[320];    /* supervisor private key (PEM) */
	char      sup_pub[320];    /* supervisor public key (PEM), for pinning */
	char      alice_key[320];  /* admin */
	char      bob_key[320];    /* admin */
	char      mallory_key[320];/* not on any roster */
	char      ca_pem[320];     /* module CA certificate */
	char      log[320];        /* default log path inside dir */
	EVP_PKEY *ca_key, *oa_key;
	X509     *ca, *oa;
};

enum {
	EVFIX_COMPLETE    = 1,   /* end with the supervisor's completion */
	EVFIX_WEAK_QUORUM = 2,   /* thresholds.set applied with 1 of 2 signatures */
	EVFIX_NOSYNC      = 4,   /* no fsync (speed) */
	EVFIX_TAIL_WITNESS = 8,  /* a witness.ack after the last step ends */
	EVFIX_SENT        = 16,  /* command.sent before each command, and one more
	                            sent command that is never applied */
	EVFIX_MK          = 32,  /* mk.loaded (part-1) and mk.committed of group
	                            "DC1-pair" on EVFIX_MODULE/EVFIX_DOMAIN, MKVP
	                            EVFIX_MKVP bytes */
	EVFIX_MKFULL      = 64,  /* part-1 loaded (mk.load_part receipt showing
	                            it), committed and activated, with receipts;
	                            mk.loaded, mk.committed, mk.activated */
	EVFIX_FOREIGN_PART = 128,/* with EVFIX_MKFULL: the module's receipt shows
	                            a part the custodians never generated */
	EVFIX_OTHER_KEY   = 256, /* with EVFIX_MKFULL: the activate receipt and
	                            mk.activated show another key than the one
	                            committed */
	EVFIX_APPROVED    = 512, /* with EVFIX_MKFULL: an mk.approve_load of part-1
	                            first, and the part loaded with no signature
	                            (with EVFIX_FOREIGN_PART: the approval names
	                            another part than the one loaded) */
	EVFIX_APPROVAL_FORGED = 1024 /* with EVFIX_MKFULL: the signed load's
	                            receipt shows an approval no mk.approve_load
	                            set */
};

/* Private temp dir with keys and certificates. 0 on success. */
int  evfix_setup(struct evfix *f);
void evfix_teardown(struct evfix *f);   /* frees, and removes the dir */
void evfix_release(struct evfix *f);    /* frees, keeps the dir */

/* Write a whole ceremony to path (must not exist). *last gets the last seq. */
hsm_rc evfix_ceremony(struct evfix *f, const char *path, int flags, long long *last);

/* The supervisor's actor object (new reference). */
json_t *evfix_actor(const char *name, const char *role);

/* Rewrite a log through fn (which may change the parsed record in place, or
 * return 1 to drop it) and re-chain every prev hash, so that only what fn did
 * is wrong. 0 on success. */
typedef int (*evfix_edit_fn)(json_t *rec, long long seq, void *arg);
int evfix_rewrite(const char *path, evfix_edit_fn fn, void *arg);

/* The forger who has the log but not the supervisor's key: rewrite path
 * through edit (may be NULL), drop the signed heads, put the forger's key
 * (f->mallory_key, name "Mallory Forger") in place of the roster's
 * supervisor, re-chain, and sign a new completion with it. 0 on success. */
int evfix_forge(struct evfix *f, const char *path, evfix_edit_fn edit, void *arg);

/* Whole file into memory (tests only; small logs). */
char *evfix_slurp(const char *path, size_t *len);
int   evfix_spit(const char *path, const char *buf, size_t len);

#endif
