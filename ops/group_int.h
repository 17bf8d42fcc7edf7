/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * group_int.h - what the files of the group engine share (not installed).
 *   group_batch.c    members grouped by module connection; a call per module
 *                    in a thread of its own, carrying all of its domains
 *   group_state.c    a module's answer parsed once into C structs, compared
 *   group_trust.c    what is paid once per run: admins' public keys, each
 *                    command signature check, the pinned CAs and the modules'
 *                    OA certificate chains (receipts)
 *   group_read.c     read every member, compare, status
 *   group_check.c    would a member accept the command (pre-flight), propose
 *   group_past.c     members past the command's counter: this command or
 *                    another one? (refuse whatever would split the group)
 *   group_apply.c    group_submit: the steps in order
 *   group_recover.c  receipts fetched again; the receipts a log lacks
 *   group_report.c   the report of a run, as a struct, JSON or text
 *   group_heal.c     roll forward from the command a member kept
 */
#ifndef HSMADM_GROUP_INT_H
#define HSMADM_GROUP_INT_H

#include <pthread.h>
#include "hsmadm/group.h"

/* ---- group_trust.c ---- */

/* Public keys decoded once per run: the members of a group list the same
 * admins, and decoding a point costs more than the rest of the check. */
#define PKCACHE_MAX 32
struct pkcache {
	pthread_mutex_t lock;
	size_t          n;
	struct {
		char     *hex;
		EVP_PKEY *pub;
		uint8_t   ski[HSM_SKI_LEN];
	} e[PKCACHE_MAX];
};
void   grp_pkcache_init(struct pkcache *pc);
void   grp_pkcache_done(struct pkcache *pc);
/* pc NULL: no cache. *pub is a new reference. */
hsm_rc grp_pubkey_cached(struct pkcache *pc, const char *hex, EVP_PKEY **pub,
                         uint8_t ski[HSM_SKI_LEN]);


/* Receipt signature check against the member's pinned CA, with the CA
 * file read once and each module's OA certificate chain verified once per
 * process (cached by CA path, serial and certificate). */
hsm_rc grp_receipt_verify(const char *ca_path, const char *serial, const json_t *receipt,
                          const json_t **body);
/* The fingerprint (SHA-256, hex) of an OA certificate (base64 DER) that
 * grp_receipt_verify has seen verify for this CA and serial: 1, or 0 when
 * it has not (then decode it). Spares a certificate decoding per receipt. */
int    grp_oa_fingerprint(const char *ca_path, const char *serial, const char *oa_b64,
                          char hex[GROUP_HEX32]);
/* The group's pinned OA certificates (group_member.oa_cert) checked by
 * group_oa_trust in a thread of their own, started as the read goes out:
 * the read waits on the modules, and the receipts, which arrive close
 * together, then only have their signatures checked. Join before m or w
 * goes. */
struct grp_warm {
	pthread_t           th;
	int                 started;
	const group_member *m;
	size_t              n;
};
int    grp_oa_warm_start(const group_member *m, size_t n, struct grp_warm *w);
void   grp_oa_warm_join(struct grp_warm *w);

/* ---- group_state.c ---- */

#define GRP_NCMP 6
extern const char *const grp_cmp_fields[GRP_NCMP];
hsm_rc   grp_state_parse(const json_t *doc, struct pkcache *pc, int pubkeys, group_state *s);
int      grp_field_equal(const group_state *a, const group_state *b, int f);
json_t  *grp_field_json(const group_state *s, int f);
unsigned grp_diff_mask(const group_state *const *st, size_t n, const char *sel);
json_t  *grp_compare_json(const group_member *m, const group_state *const *st, size_t n,
                          const char *sel, unsigned mask);

/* ---- group_batch.c ---- */

long long grp_now_ms(void);

/* The members (those with sel[i]; NULL: all) grouped by connection: one
 * batch per moddrv, in member order. */
struct gbatch {
	moddrv   *drv;
	size_t    n;
	size_t   *idx;        /* member indexes */
	unsigned *domains;
	uint64_t *from;       /* receipts: from_counter per domain */
};
struct gplan {
	struct gbatch *b;
	size_t         nb;
	size_t        *idx_store;
	unsigned      *dom_store;
	uint64_t      *from_store;
};
hsm_rc grp_plan(const group_member *m, size_t n, const char *sel, struct gplan *p);
void   grp_plan_free(struct gplan *p);

/* BK_QUERY with digest: reserving from[] (module-protocol.md §2.7);
 * BK_APPLY with ballot > 0: claiming those reservations. */
enum bkind { BK_QUERY, BK_APPLY, BK_RECEIPTS };
/* Every batch in a thread of its own; res[i] is member i's outcome. each()
 * (may be NULL) runs in the batch's thread for each of its members once the
 * answer is there (parse, check), so no per-member step runs one member
 * after another. */
struct bcall {
	enum bkind      kind;
	const admincmd *cmd;
	void          (*each)(void *ctx, size_t i, moddrv_result *r);
	void           *ctx;
	long long       t_call_max;   /* ms, the slowest module round trip */
	const char     *digest;       /* BK_QUERY: reserve for this command digest */
	long long       ballot;       /* ... with this ballot; BK_APPLY: claim it */
};
void grp_run_batches(const struct gplan *p, struct bcall *c, moddrv_result *res);

/* ---- group_check.c ---- */

/* Would member i accept the command at now, given its state? */
struct pre {
	const admincmd *cmd;
	int64_t         now;
	admincmd_memo  *memo;   /* one signature check per admin set; NULL: each alone */
};
struct preres {
	int      done;
	hsm_rc   rc;
	char     msg[1024];
	unsigned counted;
};
void grp_pre_check(const group_member *m, struct pre *pre, const group_state *s,
                   struct preres *r);

/* ---- group_read.c ---- */

/* Read the members with sel[i] (NULL: all) into st[i] (typed; public keys
 * decoded through pc when pubkeys); with pre, also check each one in its
 * read thread (pres[i]). On failure, the first member's error, all st
 * cleared. */
struct readopt {
	const char     *sel;
	struct pkcache *pc;
	int             pubkeys;
	struct pre     *pre;
	struct preres  *pres;
	/* reserve (may be NULL): member i's counter reserved[i] (MODDRV_NO_COUNTER:
	 * none) for the command digest with ballot; resv[i] what it holds */
	const uint64_t *reserve;
	const char     *digest;
	long long       ballot;
	moddrv_resv    *resv;
};
hsm_rc grp_read_typed(const group_member *m, size_t n, const struct readopt *o,
                      group_state *st);

/* ---- group_recover.c ---- */

/* Verify a receipt for member m and command (digest, op, counter want) and
 * parse it into *out (doc: a reference is taken). */
hsm_rc grp_check_receipt(const group_member *m, const json_t *receipt,
                         const char *digest_hex, const char *op, uint64_t want,
                         group_receipt *out);

/* The verified receipt (any command) for counter want among arr, the
 * receipts a module kept: HSM_ERR_NOT_FOUND when there is none. */
hsm_rc grp_receipt_at(const group_member *m, const json_t *arr, uint64_t want,
                      group_receipt *out);

/* ---- one group_submit run ---- */

struct mrow {
	group_mstatus st;
	uint64_t      want;        /* the command's counter for this member */
	hsm_rc        rc;
	char          msg[1024];
	group_receipt rc_ok;       /* the verified receipt (doc NULL: none) */
	int           recovered;   /* the receipt was fetched again (domain.receipts) */
	int           answered;    /* the module accepted it and sent a receipt */
	/* past the command's counter: what its receipt for that counter says */
	enum { PAST_NO, PAST_SAME, PAST_OTHER, PAST_UNKNOWN } past;
	char          other_op[32], other_digest[GROUP_HEX32];
};

struct sb_list { char buf[4096]; size_t len; };
void grp_name_list(struct sb_list *l, const group_member *m);

struct run {
	const group_member *m;
	size_t              n;
	const admincmd     *cmd;
	int64_t             now;
	int                 roll_forward;
	char               *digest_hex;
	char               *sel;        /* sel[i]: the command targets member i */
	struct mrow        *row;
	group_state        *st;         /* as read */
	struct pkcache      pk;
	struct pre          pre;
	struct preres      *pres;
	unsigned            diff;       /* grp_diff_mask of the targeted members as read */
	size_t              ntarget, napply, nadv, nmiss, nalready;
	hsm_rc              first_rc;
	char                message[8192];
	struct sb_list      adv, miss;
	long long           ballot;     /* this run's reservations (§2.7) */
	uint64_t           *reserve;    /* per member: the counter reserved, or none */
	moddrv_resv        *resv;       /* per member: what the read found reserved */
	const char         *outcome;
	int                 touched, read_ok;
	long long           t_start, t_read, t_pre, t_apply, t_call_max, t_verify_max;
	pthread_mutex_t     tlock;      /* t_verify_max, from the batch threads */
};

/* group_recover.c: step 6 of a run */
void grp_recover_rows(struct run *r);
/* The receipts of the members sel[] selects, each for its row's command
 * counter (row.want): one request per module, the modules at once; call's
 * each() sees every answer. HSM_ERR_NOMEM (nothing asked) when the plan
 * cannot be made. */
hsm_rc grp_fetch_receipts(struct run *r, const char *sel, struct bcall *call);

/* group_past.c: members past the command's counter hold this command (its
 * receipt for that counter names it) or another one; refuse, touching
 * nothing, whatever would split the group. */
void   grp_fetch_past(struct run *r);
hsm_rc grp_refuse_split(struct run *r);

/* group_report.c */
hsm_rc grp_build_report(struct run *r, group_report **out);

#endif
