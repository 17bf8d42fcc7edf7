/* SPDX-License-Identifier: BSD-2-Clause */
/* group.c - the domain-group engine: read, compare, pre-flight, apply in
 * parallel, verify receipts, report exactly who advanced. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/group.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/receipt.h"

/* ---- parallel jobs: one thread per member ---- */

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
	/* query only: would this member accept pre->cmd? (checked in the same
	 * thread, right after its state arrived) */
	struct pre         *pre;
	struct preres      *pres;
};

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

static long long now_ms(void);
static void pre_check(const group_member *m, struct pre *pre, const json_t *state,
                      struct preres *r);

static hsm_rc check_receipt(const group_member *m, const json_t *receipt,
                            const char *digest_hex, const char *op, uint64_t want,
                            const json_t **body);

static void *
worker(void *p)
{
	struct job *j = p;

	long long t0 = now_ms();

	hsm_err_clear();
	if (j->cmd == NULL)
		j->rc = moddrv_query(j->m->drv, j->m->domain, &j->out);
	else
		j->rc = moddrv_apply(j->m->drv, j->m->domain, j->cmd, &j->out);
	j->t_call = now_ms() - t0;
	if (j->rc != HSM_OK) {
		snprintf(j->msg, sizeof(j->msg), "%s", hsm_errmsg());
		return NULL;
	}
	if (j->cmd == NULL && j->pre != NULL && j->pres != NULL)
		pre_check(j->m, j->pre, j->out, j->pres);
	if (j->cmd != NULL) {
		hsm_err_clear();
		t0 = now_ms();
		j->vrc = check_receipt(j->m, j->out, j->digest_hex, admincmd_op(j->cmd),
		    j->want, &j->rbody);
		j->t_verify = now_ms() - t0;
		if (j->vrc != HSM_OK) {
			snprintf(j->vmsg, sizeof(j->vmsg), "%s", hsm_errmsg());
			j->rbody = NULL;
		}
	}
	return NULL;
}

static void
run_jobs(struct job *jobs, size_t n)
{
	pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	char *started = calloc(n ? n : 1, 1);
	size_t i;

	for (i = 0; i < n; i++) {
		if (th != NULL && started != NULL && n > 1 &&
		    pthread_create(&th[i], NULL, worker, &jobs[i]) == 0)
			started[i] = 1;
		else
			worker(&jobs[i]);   /* one member, or no thread: run it here */
	}
	for (i = 0; i < n; i++)
		if (started != NULL && started[i])
			pthread_join(th[i], NULL);
	free(th);
	free(started);
}

/* ---- reading and comparing ---- */

/* Read every member in parallel; with pre, each thread also checks whether
 * its member would accept pre->cmd (results in pres[i]), so that no
 * per-member step runs one member after another. */
static hsm_rc
read_members(const group_member *m, size_t n, json_t **states, struct pre *pre,
             struct preres *pres)
{
	struct job *jobs;
	hsm_rc rc = HSM_OK;
	size_t i;

	if (m == NULL || states == NULL || n == 0)
		return hsm_fail(HSM_ERR_USAGE, "group_read: bad arguments");
	if ((jobs = calloc(n, sizeof(*jobs))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		jobs[i].m = &m[i];
		if (pre != NULL && pres != NULL && (pre->sel == NULL || pre->sel[i])) {
			jobs[i].pre = pre;
			jobs[i].pres = &pres[i];
		}
	}
	run_jobs(jobs, n);
	for (i = 0; i < n && rc == HSM_OK; i++) {
		if (jobs[i].rc != HSM_OK)
			rc = hsm_fail(jobs[i].rc, "module %s domain %u: %s", m[i].module,
			    m[i].domain, jobs[i].msg);
		else if (!json_is_object(jobs[i].out) ||
		    json_integer_value(json_object_get(jobs[i].out, "domain")) != (json_int_t)m[i].domain)
			rc = hsm_fail(HSM_ERR_MODULE,
			    "module %s domain %u answered with the state of another domain",
			    m[i].module, m[i].domain);
	}
	for (i = 0; i < n; i++) {
		if (rc == HSM_OK)
			states[i] = jobs[i].out;
		else {
			json_decref(jobs[i].out);
			states[i] = NULL;
		}
	}
	free(jobs);
	return rc;
}

hsm_rc
group_read(const group_member *m, size_t n, json_t **states)
{
	return read_members(m, n, states, NULL, NULL);
}

static const char *const cmp_fields[] = {
	"imprint", "thresholds", "admins",
	"registers.current", "registers.pending", "registers.old",
};
#define N_CMP (sizeof(cmp_fields) / sizeof(cmp_fields[0]))

/* The value of a field of a state; admins without their public keys' hex
 * (the SKI names the key), so the comparison reads well. */
static json_t *
field_of(const json_t *state, const char *field)
{
	const char *dot = strchr(field, '.');
	json_t *v;

	if (dot != NULL) {
		char head[32];
		snprintf(head, sizeof(head), "%.*s", (int)(dot - field), field);
		v = json_object_get(json_object_get(state, head), dot + 1);
	} else
		v = json_object_get(state, field);
	if (strcmp(field, "admins") == 0 && json_is_array(v)) {
		json_t *a = json_array(), *e;
		size_t i;
		json_array_foreach(v, i, e)
			json_array_append_new(a, json_pack("{s:O?, s:O?, s:O?}",
			    "ski", json_object_get(e, "ski"),
			    "name", json_object_get(e, "name"),
			    "identity", json_object_get(e, "identity")));
		return a;
	}
	return v ? json_incref(v) : json_null();
}

static int
json_canon_equal(const json_t *a, const json_t *b)
{
	char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	int eq = 0;

	if (cjson_dump(a, &x, &xl) == HSM_OK && cjson_dump(b, &y, &yl) == HSM_OK)
		eq = (xl == yl && memcmp(x, y, xl) == 0);
	else
		eq = json_equal((json_t *)a, (json_t *)b);
	free(x);
	free(y);
	return eq;
}

/* Compare only the members with sel[i] != 0 (sel NULL = all). */
static hsm_rc
compare_sel(const group_member *m, size_t n, json_t *const *states, const char *sel,
            json_t **report)
{
	json_t *diffs = json_array();
	size_t f, i, first;

	if (diffs == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (first = 0; first < n && sel && !sel[first]; first++)
		;
	for (f = 0; f < N_CMP && first < n; f++) {
		json_t *ref = field_of(states[first], cmp_fields[f]);
		int differ = 0;
		for (i = first + 1; i < n; i++) {
			json_t *v;
			if (sel && !sel[i])
				continue;
			v = field_of(states[i], cmp_fields[f]);
			if (!json_canon_equal(ref, v))
				differ = 1;
			json_decref(v);
		}
		if (differ) {
			json_t *vals = json_array();
			for (i = first; i < n; i++) {
				if (sel && !sel[i])
					continue;
				json_array_append_new(vals, json_pack("{s:s, s:I, s:o}",
				    "module", m[i].module, "domain", (json_int_t)m[i].domain,
				    "value", field_of(states[i], cmp_fields[f])));
			}
			json_array_append_new(diffs, json_pack("{s:s, s:o}", "field",
			    cmp_fields[f], "values", vals));
		}
		json_decref(ref);
	}
	*report = json_pack("{s:b, s:o}", "equal", json_array_size(diffs) == 0,
	    "differences", diffs);
	if (*report == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

hsm_rc
group_compare(const group_member *m, size_t n, json_t *const *states, json_t **report)
{
	if (m == NULL || states == NULL || report == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_compare: bad arguments");
	return compare_sel(m, n, states, NULL, report);
}

hsm_rc
group_status(const group_member *m, size_t n, json_t **report)
{
	json_t **states = NULL, *rows = NULL, *cmp = NULL;
	size_t i;
	hsm_rc rc;

	*report = NULL;
	if ((states = calloc(n ? n : 1, sizeof(*states))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = group_read(m, n, states)) != HSM_OK)
		goto out;
	if ((rc = group_compare(m, n, states, &cmp)) != HSM_OK)
		goto out;
	rows = json_array();
	for (i = 0; i < n; i++) {
		json_t *s = states[i];
		json_array_append_new(rows, json_pack("{s:s, s:I, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
		    "module", m[i].module, "domain", (json_int_t)m[i].domain,
		    "counter", json_object_get(s, "counter"),
		    "imprint", json_object_get(s, "imprint"),
		    "thresholds", json_object_get(s, "thresholds"),
		    "admins", json_object_get(s, "admins"),
		    "registers", json_object_get(s, "registers"),
		    "state_digest", json_object_get(s, "state_digest")));
	}
	*report = json_pack("{s:o, s:O}", "members", rows, "compare", cmp);
	if (*report == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	for (i = 0; i < n && states; i++)
		json_decref(states[i]);
	free(states);
	json_decref(cmp);
	return rc;
}

/* ---- admins from a state ---- */

void
group_admins_free(admincmd_admin **admins, size_t n)
{
	size_t i;

	if (admins == NULL || *admins == NULL)
		return;
	for (i = 0; i < n; i++)
		EVP_PKEY_free((*admins)[i].pub);
	free(*admins);
	*admins = NULL;
}

/* A public key from its hex, through the cache when there is one. */
static hsm_rc
pubkey_cached(struct pkcache *pc, const char *hex, EVP_PKEY **pub, uint8_t ski[HSM_SKI_LEN])
{
	size_t i;
	hsm_rc rc;

	*pub = NULL;
	if (pc == NULL)
		return admincmd_pubkey_from_hex(hex, pub, ski);
	pthread_mutex_lock(&pc->lock);
	for (i = 0; i < pc->n; i++)
		if (strcmp(pc->e[i].hex, hex) == 0 && EVP_PKEY_up_ref(pc->e[i].pub) == 1) {
			*pub = pc->e[i].pub;
			memcpy(ski, pc->e[i].ski, HSM_SKI_LEN);
			break;
		}
	pthread_mutex_unlock(&pc->lock);
	if (*pub != NULL)
		return HSM_OK;
	/* Decoded outside the lock: other threads may decode the same key at
	 * the same moment; the first one to finish is kept. */
	if ((rc = admincmd_pubkey_from_hex(hex, pub, ski)) != HSM_OK)
		return rc;
	pthread_mutex_lock(&pc->lock);
	for (i = 0; i < pc->n; i++)
		if (strcmp(pc->e[i].hex, hex) == 0)
			break;
	if (i == pc->n && pc->n < PKCACHE_MAX && (pc->e[i].hex = strdup(hex)) != NULL) {
		if (EVP_PKEY_up_ref(*pub) == 1) {
			pc->e[i].pub = *pub;
			memcpy(pc->e[i].ski, ski, HSM_SKI_LEN);
			pc->n++;
		} else {
			free(pc->e[i].hex);
			pc->e[i].hex = NULL;
		}
	}
	pthread_mutex_unlock(&pc->lock);
	return HSM_OK;
}

static void
pkcache_init(struct pkcache *pc)
{
	memset(pc, 0, sizeof(*pc));
	pthread_mutex_init(&pc->lock, NULL);
}

static void
pkcache_done(struct pkcache *pc)
{
	size_t i;

	for (i = 0; i < pc->n; i++) {
		EVP_PKEY_free(pc->e[i].pub);
		free(pc->e[i].hex);
	}
	pc->n = 0;
	pthread_mutex_destroy(&pc->lock);
}

static hsm_rc
admins_from_state(const json_t *state, struct pkcache *pc, admincmd_admin **admins,
                  size_t *n, unsigned *sig_thr, unsigned *rev_thr, uint64_t *counter)
{
	json_t *arr, *thr, *e;
	admincmd_admin *a = NULL;
	long long v;
	size_t i;
	hsm_rc rc;

	*admins = NULL;
	*n = 0;
	if ((rc = cjson_get_arr(state, "admins", &arr)) != HSM_OK ||
	    (rc = cjson_get_obj(state, "thresholds", &thr)) != HSM_OK)
		return hsm_fail_wrap(rc, "domain state from the module");
	if (json_array_size(arr) > ADMINCMD_MAX_ADMINS)
		return hsm_fail(HSM_ERR_MODULE, "the module reports more than %d admins",
		    ADMINCMD_MAX_ADMINS);
	if ((rc = cjson_get_int(thr, "signature", &v)) != HSM_OK || v < 0 || v > 8)
		return hsm_fail(HSM_ERR_MODULE, "the module reports a bad signature threshold");
	*sig_thr = (unsigned)v;
	if ((rc = cjson_get_int(thr, "revocation", &v)) != HSM_OK || v < 0 || v > 8)
		return hsm_fail(HSM_ERR_MODULE, "the module reports a bad revocation threshold");
	*rev_thr = (unsigned)v;
	if ((rc = cjson_get_int(state, "counter", &v)) != HSM_OK || v < 0)
		return hsm_fail(HSM_ERR_MODULE, "the module reports a bad counter");
	*counter = (uint64_t)v;
	if ((a = calloc(json_array_size(arr) + 1, sizeof(*a))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	json_array_foreach(arr, i, e) {
		const char *pk;
		if ((rc = cjson_get_str(e, "pubkey", &pk)) != HSM_OK ||
		    (rc = pubkey_cached(pc, pk, &a[i].pub, a[i].ski)) != HSM_OK ||
		    (rc = cjson_get_str(e, "identity", &a[i].identity)) != HSM_OK) {
			group_admins_free(&a, i + 1);
			return hsm_fail_wrap(HSM_ERR_MODULE, "admin %zu of the domain state", i);
		}
		a[i].name = json_string_value(json_object_get(e, "name"));
	}
	*admins = a;
	*n = json_array_size(arr);
	return HSM_OK;
}

hsm_rc
group_admins_from_state(const json_t *state, admincmd_admin **admins, size_t *n,
                        unsigned *sig_thr, unsigned *rev_thr, uint64_t *counter)
{
	return admins_from_state(state, NULL, admins, n, sig_thr, rev_thr, counter);
}

/* Would member m accept pre->cmd, given its state? Runs in the member's
 * read thread. */
static void
pre_check(const group_member *m, struct pre *pre, const json_t *state, struct preres *r)
{
	admincmd_admin *ad = NULL;
	size_t nad = 0;

	hsm_err_clear();
	r->rc = admins_from_state(state, &pre->pk, &ad, &nad, &r->st, &r->rt, &r->ctr);
	if (r->rc == HSM_OK)
		r->rc = admincmd_verify_for_domain(pre->cmd, m->module, m->domain, r->ctr,
		    pre->now, ad, nad, r->st, r->rt, &r->counted);
	group_admins_free(&ad, nad);
	if (r->rc != HSM_OK)
		snprintf(r->msg, sizeof(r->msg), "%s", hsm_errmsg());
	r->done = 1;
}

/* ---- submit ---- */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum mstat { M_NOT_TARGETED, M_PENDING, M_ALREADY, M_REFUSED, M_APPLIED, M_FAILED,
	M_NO_ANSWER };
static const char *const mstat_name[] = {
	"not-targeted", "not-attempted", "already-applied", "refused", "applied", "failed",
	"no-answer",
};

/* The connection went away: the module may or may not have applied it. */
static int
lost_answer(hsm_rc rc)
{
	return rc == HSM_ERR_MODULE || rc == HSM_ERR_TLS || rc == HSM_ERR_TIMEOUT ||
	    rc == HSM_ERR_IO || rc == HSM_ERR_NOT_FOUND;
}

struct mrow {
	enum mstat st;
	uint64_t   want;        /* the command's counter for this member */
	hsm_rc     rc;
	char       msg[1024];
	json_t    *receipt;
	const json_t *rbody;    /* borrowed from receipt */
	int        recovered;   /* the receipt was fetched again (domain.receipts) */
};

static json_t *
err_json(hsm_rc rc, const char *msg)
{
	return json_pack("{s:i, s:s, s:s}", "exit", hsm_exit_code(rc), "code",
	    hsm_strerror(rc), "message", msg);
}

struct sb_list { char buf[4096]; size_t len; };

static void
name_list(struct sb_list *l, const group_member *m)
{
	int k = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%s domain %u",
	    l->len ? ", " : "", m->module, m->domain);
	if (k > 0 && (size_t)k < sizeof(l->buf) - l->len)
		l->len += (size_t)k;
}

/* Check a receipt: chain to the pinned CA, this module, this domain, this
 * command, counter advanced by one. */
static hsm_rc
check_receipt(const group_member *m, const json_t *receipt, const char *digest_hex,
              const char *op, uint64_t want, const json_t **body)
{
	const char *s;
	long long v;
	hsm_rc rc;

	if ((rc = receipt_verify_file(receipt, m->ca_pem, m->module, body)) != HSM_OK)
		return hsm_fail_wrap(rc, "receipt");
	if ((rc = cjson_get_int(*body, "domain", &v)) != HSM_OK || v != (long long)m->domain)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt is for another domain");
	if ((rc = cjson_get_str(*body, "command_digest", &s)) != HSM_OK ||
	    strcmp(s, digest_hex) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt is for another command");
	if ((rc = cjson_get_str(*body, "op", &s)) != HSM_OK || strcmp(s, op) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt names another operation");
	if ((rc = cjson_get_int(*body, "counter_before", &v)) != HSM_OK ||
	    (uint64_t)v != want ||
	    (rc = cjson_get_int(*body, "counter_after", &v)) != HSM_OK ||
	    (uint64_t)v != want + 1)
		return hsm_fail(HSM_ERR_VERIFY, "the receipt's counters do not match the command");
	return HSM_OK;
}

/* The receipt of cmd on member m, fetched again from the receipts the module
 * keeps (its answer was lost, or the member was found past the command's
 * counter): the one with counter_before == want, checked like an answer's. */
static hsm_rc
recover_receipt(const group_member *m, const char *digest_hex, const char *op,
                uint64_t want, json_t **receipt, const json_t **body)
{
	json_t *arr = NULL, *r;
	size_t i;
	hsm_rc rc;

	*receipt = NULL;
	*body = NULL;
	hsm_err_clear();
	if ((rc = moddrv_receipts(m->drv, m->domain, want, &arr)) != HSM_OK)
		return hsm_fail_wrap(rc, "fetching the receipt again");
	rc = hsm_fail(HSM_ERR_NOT_FOUND, "the module keeps no receipt for counter %llu",
	    (unsigned long long)want);
	json_array_foreach(arr, i, r) {
		json_int_t b = json_integer_value(json_object_get(json_object_get(r, "body"),
		    "counter_before"));
		if (b != (json_int_t)want)
			continue;
		if ((rc = check_receipt(m, r, digest_hex, op, want, body)) == HSM_OK)
			*receipt = json_incref(r);
		else
			*body = NULL;
		break;
	}
	json_decref(arr);
	return rc;
}

struct rjob {
	const group_member *m;
	const char         *digest_hex, *op;
	uint64_t            want;
	json_t             *receipt;
	const json_t       *rbody;
	hsm_rc              rc;
};

static void *
rworker(void *p)
{
	struct rjob *j = p;

	j->rc = recover_receipt(j->m, j->digest_hex, j->op, j->want, &j->receipt, &j->rbody);
	return NULL;
}

/* Step 6 of group_submit, a thread per member (a cut network makes each
 * reconnect wait for its timeout: they wait at the same time). */
static void
recover_rows(const group_member *m, size_t n, struct mrow *row, const char *digest_hex,
             const char *op, int roll_forward)
{
	struct rjob *jobs = calloc(n ? n : 1, sizeof(*jobs));
	pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	char *started = calloc(n ? n : 1, 1);
	size_t i, k = 0;

	if (jobs == NULL || th == NULL || started == NULL)
		goto out;   /* nothing recovered: the members stay as they are */
	for (i = 0; i < n; i++) {
		if (row[i].st != M_NO_ANSWER && !(row[i].st == M_ALREADY && roll_forward))
			continue;
		jobs[k].m = &m[i];
		jobs[k].digest_hex = digest_hex;
		jobs[k].op = op;
		jobs[k].want = row[i].want;
		if (pthread_create(&th[k], NULL, rworker, &jobs[k]) == 0)
			started[k] = 1;
		else
			rworker(&jobs[k]);
		k++;
	}
	for (i = 0; i < k; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	for (i = 0, k = 0; i < n; i++) {
		struct rjob *j;

		if (row[i].st != M_NO_ANSWER && !(row[i].st == M_ALREADY && roll_forward))
			continue;
		j = &jobs[k++];
		if (j->rc != HSM_OK || j->receipt == NULL)
			continue;   /* still unknown: the roll-forward finds out */
		row[i].receipt = j->receipt;
		j->receipt = NULL;
		row[i].recovered = 1;
		if (row[i].st == M_NO_ANSWER) {
			row[i].st = M_APPLIED;
			row[i].rbody = j->rbody;
			row[i].rc = HSM_OK;
			row[i].msg[0] = '\0';
		}
	}
out:
	for (i = 0; jobs != NULL && i < n; i++)
		json_decref(jobs[i].receipt);
	free(jobs);
	free(th);
	free(started);
}

hsm_rc
group_submit(const group_member *m, size_t n, const admincmd *cmd, int64_t now,
             int roll_forward, json_t **report)
{
	struct mrow *row = NULL;
	json_t **states = NULL, *members = NULL, *cmp = NULL;
	json_t **after = NULL;
	struct job *jobs = NULL;
	char *digest_hex = NULL, *sel = NULL;
	char message[8192] = "";
	struct sb_list adv = { "", 0 }, miss = { "", 0 };
	const char *outcome = "refused";
	size_t i, j, ntarget = 0, napply = 0, nadv = 0, nmiss = 0, nalready = 0;
	hsm_rc rc = HSM_OK, first_rc = HSM_OK;
	int group_equal = 0, touched = 0;
	long long t_start = now_ms(), t_read = 0, t_pre = 0, t_apply = 0;
	long long t_call_max = 0, t_verify_max = 0;
	struct pre *pre = NULL;
	struct preres *pres = NULL;

	if (report)
		*report = NULL;
	if (m == NULL || n == 0 || cmd == NULL || report == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_submit: bad arguments");
	row = calloc(n, sizeof(*row));
	states = calloc(n, sizeof(*states));
	after = calloc(n, sizeof(*after));
	jobs = calloc(n, sizeof(*jobs));
	sel = calloc(n, 1);
	pres = calloc(n, sizeof(*pres));
	if ((pre = calloc(1, sizeof(*pre))) != NULL)
		pkcache_init(&pre->pk);
	if (row == NULL || states == NULL || after == NULL || jobs == NULL || sel == NULL ||
	    pres == NULL || pre == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = admincmd_digest_text(cmd, &digest_hex, NULL)) != HSM_OK)
		goto out;

	/* Which members does the command name; does it name strangers? */
	for (i = 0; i < n; i++) {
		if (admincmd_target_for(cmd, m[i].module, m[i].domain, &row[i].want) == HSM_OK) {
			row[i].st = M_PENDING;
			sel[i] = 1;
			ntarget++;
		} else
			row[i].st = M_NOT_TARGETED;
	}
	hsm_err_clear();
	for (j = 0; j < admincmd_ntargets(cmd); j++) {
		admincmd_target t;
		if (admincmd_target_at(cmd, j, &t) != HSM_OK)
			continue;
		for (i = 0; i < n; i++)
			if (m[i].domain == t.domain && strcmp(m[i].module, t.module) == 0)
				break;
		if (i == n) {
			rc = hsm_fail(HSM_ERR_REFUSED,
			    "the command names module %s domain %u, which is not a member of "
			    "this group; nothing was changed", t.module, t.domain);
			goto out;
		}
	}
	if (ntarget == 0) {
		rc = hsm_fail(HSM_ERR_REFUSED, "the command names no member of this group");
		goto out;
	}

	/* 1. read every member; each member's thread also checks (3.) whether
	 * it would accept the command */
	pre->cmd = cmd;
	pre->now = now;
	pre->sel = sel;
	if ((rc = read_members(m, n, states, pre, pres)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "reading the group (nothing was changed)");
		goto out;
	}
	t_read = now_ms() - t_start;
	/* 2. compare the targeted members (not when rolling forward: then the
	 * members that advanced differ on purpose) */
	if ((rc = compare_sel(m, n, states, sel, &cmp)) != HSM_OK)
		goto out;
	/* 3. would every member accept it? */
	for (i = 0; i < n; i++) {
		if (row[i].st != M_PENDING)
			continue;
		if (!pres[i].done)
			pre_check(&m[i], pre, states[i], &pres[i]);   /* not reached: read checks it */
		rc = pres[i].rc;
		if (rc == HSM_OK)
			continue;
		if (rc == HSM_ERR_REPLAY && pres[i].ctr > row[i].want) {
			row[i].st = M_ALREADY;
			nalready++;
			snprintf(row[i].msg, sizeof(row[i].msg), "%s", pres[i].msg);
			row[i].rc = rc;
			continue;
		}
		row[i].st = M_REFUSED;
		row[i].rc = rc;
		snprintf(row[i].msg, sizeof(row[i].msg), "%s", pres[i].msg);
		if (first_rc == HSM_OK) {
			first_rc = rc;
			snprintf(message, sizeof(message), "module %s domain %u: %s",
			    m[i].module, m[i].domain, row[i].msg);
		}
	}
	rc = HSM_OK;
	if (first_rc != HSM_OK) {
		rc = hsm_fail(first_rc, "%s; nothing was changed", message);
		goto build;
	}
	if (nalready > 0 && !roll_forward) {
		for (i = 0; i < n; i++) {
			if (row[i].st == M_ALREADY)
				name_list(&adv, &m[i]);
			else if (row[i].st == M_PENDING)
				name_list(&miss, &m[i]);
		}
		if (nalready == ntarget) {
			/* Not a roll-forward: a plain replay, refused by every member. */
			for (i = 0; i < n; i++)
				if (row[i].st == M_ALREADY)
					row[i].st = M_REFUSED;
			rc = hsm_fail(HSM_ERR_REPLAY, "every member is already past this "
			    "command's counter: it was applied already (or is stale); nothing "
			    "was changed");
		} else {
			rc = hsm_fail(HSM_ERR_DIVERGED,
			    "the group is divergent: %s already advanced past this command, "
			    "%s did not. Nothing was changed now. Re-submit the same signed "
			    "command with --roll-forward to complete %s.", adv.buf, miss.buf,
			    miss.buf);
			outcome = "diverged";
		}
		goto build;
	}
	/* Members that differ (and are not explained by a partial apply that
	 * the roll-forward completes) are refused before anything is sent. */
	if (!roll_forward && ntarget > 1 && !json_is_true(json_object_get(cmp, "equal"))) {
		json_t *d0 = json_array_get(json_object_get(cmp, "differences"), 0);
		rc = hsm_fail(HSM_ERR_STATE,
		    "the members are not configured the same (first difference: %s); "
		    "nothing was changed. See: hsmadm-domain group compare",
		    json_string_value(json_object_get(d0, "field")));
		goto build;
	}
	/* 4. apply on all in parallel */
	for (i = 0; i < n; i++) {
		if (row[i].st != M_PENDING)
			continue;
		jobs[napply].m = &m[i];
		jobs[napply].cmd = cmd;
		jobs[napply].digest_hex = digest_hex;
		jobs[napply].want = row[i].want;
		napply++;
	}
	touched = napply > 0;
	{
		long long t0 = now_ms();
		t_pre = t0 - t_start - t_read;
		run_jobs(jobs, napply);
		t_apply = now_ms() - t0;
		for (i = 0; i < napply; i++) {
			if (jobs[i].t_call > t_call_max)
				t_call_max = jobs[i].t_call;
			if (jobs[i].t_verify > t_verify_max)
				t_verify_max = jobs[i].t_verify;
		}
	}
	/* 5. verify every receipt */
	for (i = 0, j = 0; i < n; i++) {
		if (row[i].st != M_PENDING)
			continue;
		struct job *jb = &jobs[j++];
		if (jb->rc != HSM_OK) {
			row[i].st = lost_answer(jb->rc) ? M_NO_ANSWER : M_FAILED;
			row[i].rc = jb->rc;
			snprintf(row[i].msg, sizeof(row[i].msg), "%s", jb->msg);
			continue;
		}
		row[i].receipt = jb->out;
		jb->out = NULL;
		if (jb->vrc != HSM_OK) {
			row[i].st = M_FAILED;
			row[i].rc = jb->vrc;
			snprintf(row[i].msg, sizeof(row[i].msg),
			    "the module answered but its receipt does not verify: %.900s",
			    jb->vmsg);
			continue;
		}
		row[i].rbody = jb->rbody;
		row[i].st = M_APPLIED;
	}
	/* 6. no receipt may be lost (DESIGN §10 inv. 5): a member that did not
	 * answer may have applied it, and a member found past the command's
	 * counter when rolling forward may have applied it without the
	 * workstation ever seeing the receipt. Ask the module for the receipt
	 * it kept; a verified one counts as the answer. The caller writes only
	 * the receipts its evidence log does not hold yet. */
	recover_rows(m, n, row, digest_hex, admincmd_op(cmd), roll_forward);
	rc = HSM_OK;
	for (i = 0; i < n; i++) {
		if (row[i].st == M_APPLIED || row[i].st == M_ALREADY) {
			name_list(&adv, &m[i]);
			nadv++;
		} else if (row[i].st == M_FAILED || row[i].st == M_NO_ANSWER) {
			name_list(&miss, &m[i]);
			nmiss++;
			if (first_rc == HSM_OK) {
				first_rc = row[i].rc;
				snprintf(message, sizeof(message), "module %s domain %u: %s",
				    m[i].module, m[i].domain, row[i].msg);
			}
		}
	}
	if (nmiss == 0) {
		outcome = napply ? "applied" : "nothing-to-do";
		if (napply == 0)
			snprintf(message, sizeof(message),
			    "every member had already applied this command");
		else
			snprintf(message, sizeof(message), "applied on %s", adv.buf);
	} else if (nadv > 0) {
		outcome = "diverged";
		rc = hsm_fail(HSM_ERR_DIVERGED,
		    "the group is divergent: applied on %s; not confirmed on %s (%s). "
		    "Re-submit the same signed command with --roll-forward to complete %s: "
		    "members that missed it apply it, members that already have it are "
		    "skipped.", adv.buf, miss.buf, message, miss.buf);
	} else {
		outcome = "failed";
		rc = hsm_fail(first_rc, "%s; no member applied the command", message);
	}
build:
	if (rc != HSM_OK && message[0] == '\0')
		snprintf(message, sizeof(message), "%s", hsm_errmsg());
	else if (rc != HSM_OK)
		snprintf(message, sizeof(message), "%s", hsm_errmsg());
	/* the group after: receipts' states where applied, read states elsewhere */
	if (states[0] != NULL) {
		json_t *cmp2 = NULL;
		for (i = 0; i < n; i++) {
			const json_t *s = row[i].rbody ? json_object_get(row[i].rbody, "state") : NULL;
			after[i] = s ? json_incref((json_t *)s) : json_incref(states[i]);
		}
		if (compare_sel(m, n, after, sel, &cmp2) == HSM_OK) {
			group_equal = json_is_true(json_object_get(cmp2, "equal"));
			json_decref(cmp);
			cmp = cmp2;
		}
	}
	/* A member skipped as "already applied" may have applied another
	 * command with the same counter: only equal states prove the roll-forward. */
	if (rc == HSM_OK && roll_forward && nalready > 0 && !group_equal && ntarget > 1) {
		rc = hsm_fail(HSM_ERR_DIVERGED, "the roll-forward finished, but the members "
		    "still differ: a member that was past this command's counter may have "
		    "applied a different command. See: hsmadm-domain group compare");
		snprintf(message, sizeof(message), "%s", hsm_errmsg());
		outcome = "diverged";
	}
	members = json_array();
	for (i = 0; i < n; i++) {
		json_t *e = json_pack("{s:s, s:I, s:s}", "module", m[i].module,
		    "domain", (json_int_t)m[i].domain, "status", mstat_name[row[i].st]);
		if (row[i].st != M_NOT_TARGETED)
			json_object_set_new(e, "command_counter", json_integer((json_int_t)row[i].want));
		if (states[i])
			json_object_set(e, "counter_before", json_object_get(states[i], "counter"));
		if (row[i].rbody)
			json_object_set(e, "counter_after",
			    json_object_get(row[i].rbody, "counter_after"));
		if (row[i].st == M_REFUSED || row[i].st == M_FAILED || row[i].st == M_ALREADY ||
		    row[i].st == M_NO_ANSWER)
			json_object_set_new(e, "error", err_json(row[i].rc, row[i].msg));
		if (row[i].receipt)
			json_object_set(e, "receipt", row[i].receipt);
		if (row[i].recovered)
			json_object_set_new(e, "recovered", json_true());
		json_array_append_new(members, e);
	}
	if (rc == HSM_ERR_DIVERGED)
		outcome = "diverged";
	*report = json_pack("{s:s, s:s, s:s, s:b, s:b, s:o, s:s, s:s, s:b, s:O*}",
	    "op", admincmd_op(cmd), "command_digest", digest_hex ? digest_hex : "",
	    "outcome", outcome, "roll_forward", roll_forward, "touched", touched,
	    "members", members, "advanced", adv.buf, "missed", miss.buf,
	    "group_equal", group_equal, "compare", cmp);
	members = NULL;
	if (*report != NULL) {
		json_object_set_new(*report, "message", json_string(message));
		/* How long the engine took (reading, applying in parallel, all of it
		 * including receipt checks), for the fan-out benchmark. */
		json_object_set_new(*report, "timing_ms", json_pack(
		    "{s:I, s:I, s:I, s:I, s:I, s:I}",
		    "read", (json_int_t)t_read, "preflight", (json_int_t)t_pre,
		    "apply", (json_int_t)t_apply, "apply_call_max", (json_int_t)t_call_max,
		    "verify_max", (json_int_t)t_verify_max,
		    "total", (json_int_t)(now_ms() - t_start)));
	}
	if (rc != HSM_OK)
		hsm_fail(rc, "%s", message);
out:
	for (i = 0; i < n; i++) {
		if (states)
			json_decref(states[i]);
		if (after)
			json_decref(after[i]);
		if (row)
			json_decref(row[i].receipt);
		if (jobs)
			json_decref(jobs[i].out);
	}
	json_decref(members);
	json_decref(cmp);
	free(row);
	free(states);
	free(after);
	free(jobs);
	free(sel);
	free(digest_hex);
	free(pres);
	if (pre != NULL)
		pkcache_done(&pre->pk);
	free(pre);
	return rc;
}

hsm_rc
group_recover(const group_member *m, size_t n, const uint64_t *logged,
              const json_t *commands, json_t **found)
{
	json_t *out = NULL, *arr = NULL, *r;
	char **dg = NULL;
	admincmd **cmds = NULL;
	size_t nc, i, k, c;
	hsm_rc rc = HSM_OK;

	if (found)
		*found = NULL;
	if (m == NULL || logged == NULL || !json_is_array(commands) || found == NULL)
		return hsm_fail(HSM_ERR_USAGE, "group_recover: bad arguments");
	nc = json_array_size(commands);
	dg = calloc(nc ? nc : 1, sizeof(*dg));
	cmds = calloc(nc ? nc : 1, sizeof(*cmds));
	if ((out = json_array()) == NULL || dg == NULL || cmds == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* commands that do not parse are no candidates */
	for (c = 0; c < nc; c++)
		if (admincmd_from_json(json_array_get(commands, c), &cmds[c]) != HSM_OK ||
		    admincmd_digest_text(cmds[c], &dg[c], NULL) != HSM_OK)
			admincmd_free(&cmds[c]);
	hsm_err_clear();
	for (i = 0; i < n; i++) {
		uint64_t cur = logged[i];

		if (cur == GROUP_LOGGED_UNKNOWN)
			continue;
		json_decref(arr);
		arr = NULL;
		if (moddrv_receipts(m[i].drv, m[i].domain, cur, &arr) != HSM_OK)
			continue;
		json_array_foreach(arr, k, r) {
			const json_t *rb = json_object_get(r, "body"), *vb = NULL;
			const char *rdg = json_string_value(json_object_get(rb, "command_digest"));
			uint64_t want;

			if ((uint64_t)json_integer_value(json_object_get(rb, "counter_before")) != cur ||
			    rdg == NULL)
				break;   /* a hole: nothing after it can be placed */
			for (c = 0; c < nc; c++)
				if (cmds[c] != NULL && strcmp(dg[c], rdg) == 0 &&
				    admincmd_target_for(cmds[c], m[i].module, m[i].domain, &want) ==
				    HSM_OK && want == cur)
					break;
			if (c == nc || check_receipt(&m[i], r, dg[c], admincmd_op(cmds[c]), cur,
			    &vb) != HSM_OK)
				break;   /* a command the log does not know: a person must look */
			if (json_array_append_new(out, json_pack("{s:O, s:O}", "command",
			    json_array_get(commands, c), "receipt", r)) != 0) {
				rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
				goto out;
			}
			cur++;
		}
	}
	hsm_err_clear();
	*found = out;
	out = NULL;
out:
	for (c = 0; c < nc; c++) {
		if (cmds)
			admincmd_free(&cmds[c]);
		if (dg)
			free(dg[c]);
	}
	free(cmds);
	free(dg);
	json_decref(arr);
	json_decref(out);
	return rc;
}

hsm_rc
group_propose(const group_member *m, size_t n, const char *op, const json_t *params,
              int64_t now, int64_t valid_for, admincmd **out)
{
	json_t **states = NULL;
	admincmd_target *t = NULL;
	size_t i;
	hsm_rc rc;

	*out = NULL;
	if (m == NULL || n == 0 || valid_for <= 0)
		return hsm_fail(HSM_ERR_USAGE, "group_propose: bad arguments");
	states = calloc(n, sizeof(*states));
	t = calloc(n, sizeof(*t));
	if (states == NULL || t == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = group_read(m, n, states)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		long long c;
		if ((rc = cjson_get_int(states[i], "counter", &c)) != HSM_OK || c < 0) {
			rc = hsm_fail(HSM_ERR_MODULE, "module %s domain %u reports no counter",
			    m[i].module, m[i].domain);
			goto out;
		}
		t[i].module = m[i].module;
		t[i].domain = m[i].domain;
		t[i].counter = (uint64_t)c;
	}
	rc = admincmd_new(op, params, t, n, now - 300, now + valid_for, out);
out:
	for (i = 0; i < n && states; i++)
		json_decref(states[i]);
	free(states);
	free(t);
	return rc;
}

hsm_rc
group_preflight(const group_member *m, size_t n, const admincmd *cmd, int64_t now,
                unsigned *missing)
{
	json_t **states = NULL;
	struct pre *pre = NULL;
	struct preres *pres = NULL;
	char *sel = NULL;
	hsm_rc rc, first = HSM_OK;
	char msg[1024] = "";
	size_t i;

	if (missing)
		*missing = 0;
	states = calloc(n ? n : 1, sizeof(*states));
	pres = calloc(n ? n : 1, sizeof(*pres));
	sel = calloc(n ? n : 1, 1);
	if ((pre = calloc(1, sizeof(*pre))) != NULL)
		pkcache_init(&pre->pk);
	if (states == NULL || pres == NULL || sel == NULL || pre == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		sel[i] = admincmd_target_for(cmd, m[i].module, m[i].domain, NULL) == HSM_OK;
	hsm_err_clear();
	pre->cmd = cmd;
	pre->now = now;
	pre->sel = sel;
	if ((rc = read_members(m, n, states, pre, pres)) != HSM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		unsigned needed = 0;

		if (!sel[i])
			continue;
		if (!pres[i].done)
			pre_check(&m[i], pre, states[i], &pres[i]);
		rc = pres[i].rc;
		if (rc == HSM_ERR_QUORUM && missing &&
		    admincmd_required_sigs(admincmd_op(cmd), admincmd_params(cmd), pres[i].st,
		    pres[i].rt, &needed) == HSM_OK && needed > pres[i].counted &&
		    needed - pres[i].counted > *missing)
			*missing = needed - pres[i].counted;
		if (rc != HSM_OK && first == HSM_OK) {
			first = rc;
			/* A long reason is cut on purpose; checking the result
			 * keeps gcc's -Wformat-truncation (Debug) quiet. */
			if (snprintf(msg, sizeof(msg), "module %s domain %u: %s", m[i].module,
			    m[i].domain, pres[i].msg) < 0)
				msg[0] = '\0';
		}
	}
	rc = first;
	if (rc != HSM_OK)
		hsm_fail(rc, "%s", msg);
out:
	for (i = 0; i < n && states; i++)
		json_decref(states[i]);
	free(states);
	free(pres);
	free(sel);
	if (pre != NULL)
		pkcache_done(&pre->pk);
	free(pre);
	return rc;
}
