/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * group_int.h - what the files of the group engine share (not installed):
 * the per-member worker, the acceptance check, the receipt checks and the
 * state of one group_submit run, split by step:
 *   group_read.c     read every member, compare, status
 *   group_check.c    admins out of a state, would a member accept (pre-flight)
 *   group_apply.c    group_submit: the steps in order
 *   group_recover.c  receipts: check one, fetch one again, fill a log's gaps
 *   group_report.c   the report of a run
 */
#ifndef HSMADM_GROUP_INT_H
#define HSMADM_GROUP_INT_H

#include <pthread.h>
#include "hsmadm/group.h"

/* Public keys parsed once per run: the members of a group list the same
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

/* Would the members accept cmd at now? (pre-flight, run in each member's
 * read thread right after its state arrived) */
struct pre {
	const admincmd *cmd;
	int64_t         now;
	const char     *sel;     /* only members with sel[i] != 0 (NULL: all) */
	struct pkcache  pk;
};

struct preres {
	int      done;
	hsm_rc   rc;
	char     msg[1024];
	uint64_t ctr;
	unsigned st, rt, counted;
};

/* One member's call (query or apply) in a thread of its own. */
struct job {
	const group_member *m;
	const admincmd     *cmd;     /* NULL: query */
	json_t             *out;     /* state or receipt */
	hsm_rc              rc;
	char                msg[1024];
	/* apply only: the receipt is checked in the same thread */
	const char         *digest_hex;
	uint64_t            want;
	const json_t       *rbody;   /* borrowed from out */
	hsm_rc              vrc;
	char                vmsg[1024];
	long long           t_call, t_verify;   /* ms: the round trip, the receipt check */
	/* query only: would this member accept pre->cmd? */
	struct pre         *pre;
	struct preres      *pres;
};

long long grp_now_ms(void);
void      grp_run_jobs(struct job *jobs, size_t n);

/* group_read.c */
hsm_rc grp_read_members(const group_member *m, size_t n, json_t **states, struct pre *pre,
                        struct preres *pres);
hsm_rc grp_compare_sel(const group_member *m, size_t n, json_t *const *states,
                       const char *sel, json_t **report);

/* group_check.c */
void grp_pkcache_init(struct pkcache *pc);
void grp_pkcache_done(struct pkcache *pc);
void grp_pre_check(const group_member *m, struct pre *pre, const json_t *state,
                   struct preres *r);

/* group_recover.c */
hsm_rc grp_check_receipt(const group_member *m, const json_t *receipt,
                         const char *digest_hex, const char *op, uint64_t want,
                         const json_t **body);

/* ---- one group_submit run ---- */

enum mstat { M_NOT_TARGETED, M_PENDING, M_ALREADY, M_REFUSED, M_APPLIED, M_FAILED,
	M_NO_ANSWER };

struct mrow {
	enum mstat st;
	uint64_t   want;        /* the command's counter for this member */
	hsm_rc     rc;
	char       msg[1024];
	json_t    *receipt;
	const json_t *rbody;    /* borrowed from receipt */
	int        recovered;   /* the receipt was fetched again (domain.receipts) */
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
	json_t            **states;     /* as read */
	json_t            **after;      /* receipts' states where applied, else as read */
	struct job         *jobs;
	struct pre         *pre;
	struct preres      *pres;
	json_t             *cmp;
	size_t              ntarget, napply, nadv, nmiss, nalready;
	hsm_rc              first_rc;
	char                message[8192];
	struct sb_list      adv, miss;
	const char         *outcome;
	int                 group_equal, touched;
	long long           t_start, t_read, t_pre, t_apply, t_call_max, t_verify_max;
};

/* group_recover.c: step 6 of a run */
void grp_recover_rows(struct run *r);

/* group_report.c */
void   grp_after_compare(struct run *r);
hsm_rc grp_build_report(struct run *r, json_t **report);

#endif
