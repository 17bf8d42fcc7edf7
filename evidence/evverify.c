/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evverify.c - the auditor's check of an evidence log, in one streaming pass.
 * State kept between records is bounded by the ceremony (roster, domains, key
 * parts, open steps), never by the number of records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hsmadm/admincmd.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/ecdsa_lows.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evtsa.h"
#include "hsmadm/evverify.h"
#include "hsmadm/receipt.h"
#include "hsmadm/signer.h"
#include "hsmadm/x509util.h"
#include "evint.h"
#include "evlife.h"

struct person {
	uint8_t   ski[32];
	EVP_PKEY *pub;
	char     *name;
	char     *role;
};

struct dom {
	char     *module;
	long long domain;
	json_t   *state;      /* public state after the last receipt */
	long long counter;    /* counter the next command must carry */
	char      committed[65]; /* MKVP of this log's last mk.committed for it */
};

struct part {
	char   *part_id;
	char    kpvp[65];
	char   *state;        /* generated, verified, destroyed */
	json_t *cards;        /* array of card ids holding it */
};

struct step {
	char     *name;
	long long seq;
};

/* A command announced by command.sent, and whether a receipt answered it. */
struct sent {
	uint8_t   digest[32];
	long long seq;
	int       answered;
};

struct vctx {
	const struct evlog_verify_opts *o;
	evlog_verify_result *res;
	struct ev_anchors anc;     /* from outside the log */
	struct ev_oacache oac;     /* OA certificates seen, chained once */
	struct ev_keycache keys;   /* public keys seen, decoded once */
	struct person *people;
	size_t       npeople;
	struct dom  *doms;
	size_t       ndoms;
	struct part *parts;
	size_t       nparts;
	struct step *steps;
	size_t       nsteps;
	struct sent *sent;
	size_t       nsent;
	struct ev_life life;       /* rotation and decommissioning (evlife.c) */
	char        *log_id;
	long long    seq;          /* last good seq */
	uint8_t      head[32];     /* hash of the last good line */
	int          completed;
	long long    comp_seq;     /* the completion: what time-stamps cover */
	uint8_t      comp_hash[32];
	X509_STORE  *tsa;          /* the TSA CA(s), opts.tsa_ca_file */
	struct ev_sigpool *pool;   /* opts.jobs > 1: signature checks on workers */
	long long    cur_seq;      /* the record being checked, for the pool */
	const char  *cur_type;
	int          pool_failed;  /* the verdict is a worker's failed check */
};

#define GROW(arr, n) do { void *np_ = realloc((arr), ((n) + 1) * sizeof(*(arr))); \
	if (np_ == NULL) return hsm_fail(HSM_ERR_NOMEM, "out of memory"); \
	(arr) = np_; } while (0)

/* ---- small typed getters over untrusted bodies ---- */

static hsm_rc
get_str(const json_t *o, const char *k, const char **out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return hsm_fail(HSM_ERR_FORMAT, "body needs \"%s\" (a non-empty string)", k);
	*out = json_string_value(v);
	return HSM_OK;
}

static hsm_rc
get_int(const json_t *o, const char *k, long long min, long long *out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < min)
		return hsm_fail(HSM_ERR_FORMAT, "body needs \"%s\" (an integer >= %lld)", k, min);
	*out = json_integer_value(v);
	return HSM_OK;
}

static hsm_rc
get_hex32(const json_t *o, const char *k, const char **out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || !ev_is_hex(json_string_value(v), 32))
		return hsm_fail(HSM_ERR_FORMAT, "body needs \"%s\" (64 lowercase hex digits)", k);
	*out = json_string_value(v);
	return HSM_OK;
}

static void
snapshot(const struct vctx *c, struct ev_sigsnap *s)
{
	const evlog_verify_result *r = c->res;

	s->records = r->records;
	s->signatures = r->signatures;
	s->receipts = r->receipts;
	s->commands = r->commands;
	s->sent = r->sent;
	s->exceptions = r->exceptions;
	s->recoveries = r->recoveries;
	s->head_seq = r->head_seq;
	memcpy(s->head_hash, r->head_hash, sizeof(s->head_hash));
}

/* With workers, the ECDSA verification itself is handed to them (the
 * encoding checks stay here); its failure is reported in log order. */
static hsm_rc
check_sig(struct vctx *c, EVP_PKEY *pub, const char *msg, size_t len, const char *sigb64,
          const char *who)
{
	struct ev_sigsnap snap;
	char what[160];
	uint8_t *sig = NULL;
	size_t siglen = 0;
	hsm_rc rc;

	if (b64_decode(sigb64, &sig, &siglen) != HSM_OK)
		return hsm_fail(HSM_ERR_FORMAT, "signature of %s is not valid base64", who);
	/* one accepted encoding: a high-S twin would be a second valid record */
	if (crypto_ecdsa_check_low_s(pub, sig, siglen) != HSM_OK) {
		free(sig);
		return hsm_fail(HSM_ERR_VERIFY, "signature of %s is not in the one accepted "
		    "encoding (canonical DER, low S)", who);
	}
	if (c->pool != NULL) {
		snapshot(c, &snap);
		snprintf(what, sizeof(what), "%s: signature of %s", c->cur_type, who);
		return ev_sigpool_submit(c->pool, pub, msg, len, sig, siglen, c->cur_seq, what,
		    &snap);
	}
	rc = crypto_ecdsa_verify(pub, msg, len, sig, siglen);
	free(sig);
	if (rc != HSM_OK)
		return hsm_fail(HSM_ERR_VERIFY, "signature of %s does not verify", who);
	return HSM_OK;
}

static struct person *
person_by_ski(struct vctx *c, const uint8_t ski[32])
{
	size_t i;

	for (i = 0; i < c->npeople; i++)
		if (memcmp(c->people[i].ski, ski, 32) == 0)
			return &c->people[i];
	return NULL;
}

static struct dom *
dom_find(struct vctx *c, const char *module, long long domain)
{
	size_t i;

	for (i = 0; i < c->ndoms; i++)
		if (c->doms[i].domain == domain && strcmp(c->doms[i].module, module) == 0)
			return &c->doms[i];
	return NULL;
}

static struct part *
part_find(struct vctx *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->nparts; i++)
		if (strcmp(c->parts[i].part_id, id) == 0)
			return &c->parts[i];
	return NULL;
}

/* A domain as the module protocol says a fresh one looks: imprint mode, no
 * admins, counter 0, empty registers. */
static json_t *
fresh_state(const char *module, long long domain)
{
	return json_pack("{s:s, s:I, s:b, s:[], s:{s:i, s:i}, s:i, s:{s:{s:s, s:n}, "
	    "s:{s:s, s:n, s:i, s:[]}, s:{s:s, s:n}}, s:n}",
	    "module", module, "domain", (json_int_t)domain, "imprint", 1, "admins",
	    "thresholds", "signature", 0, "revocation", 0, "counter", 0,
	    "registers", "current", "state", "empty", "mkvp",
	    "pending", "state", "empty", "mkvp", "parts_total", 0, "parts_loaded",
	    "old", "state", "empty", "mkvp", "importer");
}

static hsm_rc
rfc3339_to_epoch(const char *s, int64_t *out)
{
	struct tm tm;
	time_t t;

	if (!ev_is_rfc3339_utc(s))
		return hsm_fail(HSM_ERR_FORMAT, "receipt time \"%.40s\" is not UTC RFC 3339", s);
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	    &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return hsm_fail(HSM_ERR_FORMAT, "receipt time \"%.40s\" is not UTC RFC 3339", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return hsm_fail(HSM_ERR_FORMAT, "receipt time \"%.40s\" is out of range", s);
	*out = (int64_t)t;
	return HSM_OK;
}

/* ---- receipts and domains ---- */

static hsm_rc
receipt_check(struct vctx *c, const json_t *receipt, const json_t **body)
{
	hsm_rc rc;

	if ((rc = ev_receipt_verify(&c->oac, &c->anc, receipt, body)) == HSM_OK) {
		c->res->receipts++;
		return HSM_OK;
	}
	return hsm_fail_wrap(rc, "module receipt");
}

/* A receipt's state must be what it claims: its digest and its counter. */
static hsm_rc
state_check(const json_t *rb, const char *module, long long domain, long long after)
{
	json_t *st = json_object_get(rb, "state");
	const char *dg = NULL;
	char hex[65];
	uint8_t d[32];
	long long v = 0;
	hsm_rc rc;

	if (!json_is_object(st))
		return hsm_fail(HSM_ERR_FORMAT, "receipt has no state object");
	if ((rc = get_hex32(rb, "state_digest", &dg)) != HSM_OK)
		return hsm_fail_wrap(rc, "receipt");
	if ((rc = cjson_digest(st, d)) != HSM_OK)
		return rc;
	hex_encode_buf(d, 32, hex);
	if (strcmp(hex, dg) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "receipt state_digest does not match its state");
	if (json_object_get(st, "counter") != NULL) {
		if ((rc = get_int(st, "counter", 0, &v)) != HSM_OK)
			return hsm_fail_wrap(rc, "receipt state");
		if (v != after)
			return hsm_fail(HSM_ERR_VERIFY, "receipt state counter %lld differs from "
			    "counter_after %lld", v, after);
	}
	if (json_object_get(st, "module") != NULL) {
		const char *m = NULL;
		if ((rc = get_str(st, "module", &m)) != HSM_OK ||
		    (rc = get_int(st, "domain", 0, &v)) != HSM_OK)
			return hsm_fail_wrap(rc, "receipt state");
		if (strcmp(m, module) != 0 || v != domain)
			return hsm_fail(HSM_ERR_VERIFY, "receipt state names another domain");
	}
	return HSM_OK;
}

static hsm_rc
dom_set(struct vctx *c, const char *module, long long domain, const json_t *state,
        long long counter)
{
	struct dom *d = dom_find(c, module, domain);
	json_t *copy = json_deep_copy(state);

	if (copy == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (d == NULL) {
		char *m = strdup(module);
		void *np = realloc(c->doms, (c->ndoms + 1) * sizeof(*c->doms));
		if (m == NULL || np == NULL) {
			free(m);
			if (np != NULL)
				c->doms = np;
			json_decref(copy);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
		c->doms = np;
		d = &c->doms[c->ndoms++];
		d->module = m;
		d->domain = domain;
		d->state = NULL;
		d->committed[0] = '\0';
	}
	json_decref(d->state);
	d->state = copy;
	d->counter = counter;
	return HSM_OK;
}

/* The admins of a domain's state as admincmd wants them (keys parsed). */
static hsm_rc
dom_admins(struct vctx *c, const struct dom *d, admincmd_admin *out, size_t *n, unsigned *sig_thr,
           unsigned *rev_thr)
{
	json_t *admins = json_object_get(d->state, "admins");
	json_t *thr = json_object_get(d->state, "thresholds");
	json_t *a;
	size_t i;
	long long s, r;
	hsm_rc rc;

	*n = 0;
	if (!json_is_array(admins) || json_array_size(admins) > ADMINCMD_MAX_ADMINS ||
	    !json_is_object(thr))
		return hsm_fail(HSM_ERR_FORMAT, "domain state has no admins/thresholds");
	if ((rc = get_int(thr, "signature", 0, &s)) != HSM_OK ||
	    (rc = get_int(thr, "revocation", 0, &r)) != HSM_OK)
		return hsm_fail_wrap(rc, "domain state thresholds");
	*sig_thr = (unsigned)(s > 64 ? 64 : s);
	*rev_thr = (unsigned)(r > 64 ? 64 : r);
	json_array_foreach(admins, i, a) {
		const char *pk, *id, *name = NULL;
		if ((rc = get_str(a, "pubkey", &pk)) != HSM_OK ||
		    (rc = get_str(a, "identity", &id)) != HSM_OK)
			goto fail;
		(void)get_str(a, "name", &name);
		if ((rc = ev_key_get(&c->keys, pk, &out[*n].pub, out[*n].ski)) != HSM_OK)
			goto fail;
		out[*n].identity = id;
		out[*n].name = name;
		(*n)++;
	}
	return HSM_OK;
fail:
	for (i = 0; i < *n; i++)
		EVP_PKEY_free(out[i].pub);
	*n = 0;
	return hsm_fail_wrap(rc, "domain state admin");
}

static void
admins_free(admincmd_admin *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		EVP_PKEY_free(a[i].pub);
}

/* ---- record handlers: each returns a message without the seq prefix ---- */

static hsm_rc
on_roster(struct vctx *c, const json_t *body)
{
	json_t *members = json_object_get(body, "members"), *m;
	size_t i;
	hsm_rc rc;

	if (!json_is_array(members) || json_array_size(members) == 0)
		return hsm_fail(HSM_ERR_FORMAT, "roster needs \"members\" (a non-empty array)");
	json_array_foreach(members, i, m) {
		const char *name = NULL, *role = NULL, *pk = NULL, *skihex = NULL;
		struct person p;

		memset(&p, 0, sizeof(p));
		if ((rc = get_str(m, "name", &name)) != HSM_OK ||
		    (rc = get_str(m, "role", &role)) != HSM_OK)
			return hsm_fail_wrap(rc, "roster member %zu", i + 1);
		if (json_object_get(m, "pubkey") == NULL)
			continue;   /* people without a signing key: witnesses */
		if ((rc = get_str(m, "pubkey", &pk)) != HSM_OK ||
		    (rc = ev_key_get(&c->keys, pk, &p.pub, p.ski)) != HSM_OK)
			return hsm_fail_wrap(rc, "roster member %s", name);
		if (json_object_get(m, "ski") != NULL) {
			uint8_t ski[32];
			if (get_hex32(m, "ski", &skihex) != HSM_OK ||
			    hex_decode_into(skihex, ski, 32) != HSM_OK ||
			    memcmp(ski, p.ski, 32) != 0) {
				EVP_PKEY_free(p.pub);
				return hsm_fail(HSM_ERR_VERIFY, "roster member %s: ski does "
				    "not belong to the public key", name);
			}
		}
		if (person_by_ski(c, p.ski) != NULL) {
			EVP_PKEY_free(p.pub);
			return hsm_fail(HSM_ERR_FORMAT, "roster member %s: this key is "
			    "already on the roster", name);
		}
		p.name = strdup(name);
		p.role = strdup(role);
		{
			void *np = realloc(c->people, (c->npeople + 1) * sizeof(*c->people));
			if (np == NULL || p.name == NULL || p.role == NULL) {
				if (np != NULL)
					c->people = np;
				free(p.name);
				free(p.role);
				EVP_PKEY_free(p.pub);
				return hsm_fail(HSM_ERR_NOMEM, "out of memory");
			}
			c->people = np;
		}
		c->people[c->npeople++] = p;
	}
	return HSM_OK;
}

static hsm_rc
on_head(struct vctx *c, const evlog_record *rec, int completion)
{
	const json_t *b = rec->body;
	const char *id = NULL, *hh = NULL, *purpose = NULL, *skihex = NULL, *pk = NULL;
	const char *sigb64 = NULL;
	char headhex[65], *bytes = NULL;
	size_t blen = 0, i;
	long long hs = 0;
	uint8_t ski[32], pski[32];
	EVP_PKEY *pub = NULL;
	struct person *p;
	hsm_rc rc;

	if ((rc = get_str(b, "log_id", &id)) != HSM_OK ||
	    (rc = get_int(b, "head_seq", 0, &hs)) != HSM_OK ||
	    (rc = get_hex32(b, "head_hash", &hh)) != HSM_OK ||
	    (rc = get_str(b, "purpose", &purpose)) != HSM_OK ||
	    (rc = get_hex32(b, "ski", &skihex)) != HSM_OK ||
	    (rc = get_str(b, "pubkey", &pk)) != HSM_OK ||
	    (rc = get_str(b, "signature", &sigb64)) != HSM_OK)
		return rc;
	if (strcmp(id, c->log_id) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "signed head names another log (%.40s)", id);
	if (hs != rec->seq - 1)
		return hsm_fail(HSM_ERR_VERIFY, "signed head is over seq %lld, not over the "
		    "record before it (seq %lld)", hs, rec->seq - 1);
	hex_encode_buf(rec->prev, 32, headhex);
	if (strcmp(hh, headhex) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "signed head hash does not match seq %lld", hs);
	if (strcmp(purpose, completion ? EVLOG_HEAD_PURPOSE_COMPLETION
	                               : EVLOG_HEAD_PURPOSE_CHECKPOINT) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "signed head has the wrong purpose \"%.60s\"",
		    purpose);
	if ((rc = ev_key_get(&c->keys, pk, &pub, ski)) != HSM_OK)
		return hsm_fail_wrap(rc, "signed head");
	if (hex_decode_into(skihex, pski, 32) != HSM_OK || memcmp(pski, ski, 32) != 0) {
		rc = hsm_fail(HSM_ERR_VERIFY, "signed head: ski does not belong to the key");
		goto out;
	}
	if ((p = person_by_ski(c, ski)) == NULL) {
		rc = hsm_fail(HSM_ERR_VERIFY, "%s signed by key %.16s..., which no roster "
		    "record registers", completion ? "completion" : "checkpoint", skihex);
		goto out;
	}
	if (completion && strcmp(p->role, "supervisor") != 0) {
		rc = hsm_fail(HSM_ERR_VERIFY, "completion signed by %s, who is on the roster "
		    "as %s, not as supervisor", p->name, p->role);
		goto out;
	}
	if ((rc = ev_head_signed_bytes(rec->obj, &bytes, &blen)) != HSM_OK)
		goto out;
	/* The roster's key is the one that counts, not the copy in the record. */
	if ((rc = check_sig(c, p->pub, bytes, blen, sigb64, p->name)) != HSM_OK)
		goto out;
	c->res->signatures++;
	if (completion) {
		if (c->anc.npins > 0) {
			for (i = 0; i < c->anc.npins; i++)
				if (memcmp(c->anc.pins[i], ski, 32) == 0)
					break;
			if (i == c->anc.npins) {
				rc = hsm_fail(HSM_ERR_VERIFY, "completion signed by %s, whose "
				    "key is not one of the pinned supervisor keys", p->name);
				goto out;
			}
			c->res->supervisor_pinned = 1;
		}
		for (i = 0; i < c->nsteps; i++)
			if (c->steps[i].name != NULL) {
				rc = hsm_fail(HSM_ERR_AUDIT, "step \"%.60s\" begun at seq %lld "
				    "was not ended before completion", c->steps[i].name,
				    c->steps[i].seq);
				goto out;
			}
		snprintf(c->res->supervisor_name, sizeof(c->res->supervisor_name), "%s",
		    p->name);
		snprintf(c->res->supervisor_ski, sizeof(c->res->supervisor_ski), "%s", skihex);
		c->completed = 1;
	}
out:
	free(bytes);
	EVP_PKEY_free(pub);
	return rc;
}

static hsm_rc
on_step(struct vctx *c, const evlog_record *rec, int begin)
{
	const char *name = NULL, *result = NULL;
	size_t i;
	hsm_rc rc;

	if ((rc = get_str(rec->body, "step", &name)) != HSM_OK)
		return rc;
	for (i = 0; i < c->nsteps; i++)
		if (c->steps[i].name != NULL && strcmp(c->steps[i].name, name) == 0)
			break;
	if (begin) {
		if (i < c->nsteps)
			return hsm_fail(HSM_ERR_AUDIT, "step \"%.60s\" begins again; it is "
			    "already open since seq %lld", name, c->steps[i].seq);
		GROW(c->steps, c->nsteps);
		if ((c->steps[c->nsteps].name = strdup(name)) == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		c->steps[c->nsteps++].seq = rec->seq;
		return HSM_OK;
	}
	if ((rc = get_str(rec->body, "result", &result)) != HSM_OK)
		return rc;
	if (strcmp(result, "ok") != 0 && strcmp(result, "failed") != 0 &&
	    strcmp(result, "skipped") != 0)
		return hsm_fail(HSM_ERR_FORMAT, "step result must be ok, failed or skipped");
	if (i == c->nsteps)
		return hsm_fail(HSM_ERR_AUDIT, "step \"%.60s\" ends but never began", name);
	free(c->steps[i].name);
	c->steps[i] = c->steps[--c->nsteps];
	return HSM_OK;
}

static hsm_rc
on_command_signed(struct vctx *c, const json_t *body)
{
	const json_t *cb = json_object_get(body, "command_body");
	const char *dghex = NULL, *skihex = NULL, *sigb64 = NULL;
	json_t *file = NULL;
	admincmd *cmd = NULL;
	uint8_t dg[32], ski[32];
	char hex[65], *canon = NULL;
	size_t clen = 0, i;
	EVP_PKEY *pub = NULL;
	hsm_rc rc;

	if ((rc = get_hex32(body, "digest", &dghex)) != HSM_OK ||
	    (rc = get_hex32(body, "ski", &skihex)) != HSM_OK ||
	    (rc = get_str(body, "signature", &sigb64)) != HSM_OK)
		return rc;
	if (!json_is_object(cb))
		return hsm_fail(HSM_ERR_FORMAT, "body needs \"command_body\" (an object)");
	if ((file = json_pack("{s:O}", "body", (json_t *)cb)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = admincmd_from_json(file, &cmd)) != HSM_OK) {
		rc = hsm_fail_wrap(rc, "signed command");
		goto out;
	}
	if ((rc = admincmd_digest(cmd, dg)) != HSM_OK)
		goto out;
	hex_encode_buf(dg, 32, hex);
	if (strcmp(hex, dghex) != 0) {
		rc = hsm_fail(HSM_ERR_VERIFY, "command digest does not match its body");
		goto out;
	}
	(void)hex_decode_into(skihex, ski, 32);
	/* The signer must be an admin of a target domain as the log knows it
	 * now, or at least a person on the roster (an admin being added). */
	for (i = 0; i < admincmd_ntargets(cmd) && pub == NULL; i++) {
		admincmd_target t;
		struct dom *d;
		json_t *admins, *a;
		size_t j;

		if (admincmd_target_at(cmd, i, &t) != HSM_OK ||
		    (d = dom_find(c, t.module, t.domain)) == NULL)
			continue;
		admins = json_object_get(d->state, "admins");
		json_array_foreach(admins, j, a) {
			const char *ah = json_string_value(json_object_get(a, "ski"));
			if (ah != NULL && strcmp(ah, skihex) == 0) {
				const char *pk = json_string_value(json_object_get(a, "pubkey"));
				uint8_t s2[32];
				if (pk == NULL || ev_key_get(&c->keys, pk, &pub, s2) != HSM_OK ||
				    memcmp(s2, ski, 32) != 0) {
					EVP_PKEY_free(pub);
					pub = NULL;
				}
				break;
			}
		}
	}
	if (pub == NULL) {
		struct person *p = person_by_ski(c, ski);
		if (p == NULL) {
			rc = hsm_fail(HSM_ERR_VERIFY, "command signed by key %.16s..., which "
			    "is neither an admin of a target domain nor on the roster", skihex);
			goto out;
		}
		if (EVP_PKEY_up_ref(p->pub) != 1) {
			rc = hsm_fail(HSM_ERR_CRYPTO, "cannot reference a key");
			goto out;
		}
		pub = p->pub;
	}
	if ((rc = cjson_dump(cb, &canon, &clen)) != HSM_OK)
		goto out;
	if ((rc = check_sig(c, pub, canon, clen, sigb64, "the admin")) != HSM_OK)
		goto out;
	c->res->signatures++;
out:
	free(canon);
	EVP_PKEY_free(pub);
	admincmd_free(&cmd);
	json_decref(file);
	return rc;
}

/* 1 if the admin list holds an entry with this SKI. */
static int
has_ski(const json_t *admins, const char *skihex)
{
	json_t *a;
	size_t i;

	json_array_foreach(admins, i, a) {
		const char *s = json_string_value(json_object_get(a, "ski"));
		if (s != NULL && strcmp(s, skihex) == 0)
			return 1;
	}
	return 0;
}

/* The admin set and thresholds a receipt reports after an op must be what
 * that op does to the state before it, as the log recorded it: a module that
 * signs a receipt claiming another change is caught here. */
static const char *
reg_mkvp(const json_t *state, const char *reg)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(state,
	    "registers"), reg), "mkvp"));
}

/* The master key a receipt shows after mk.commit / mk.activate must be the
 * one the state before it held: a module cannot commit or activate a key
 * other than the one loaded (checked when both states show the MKVPs). */
static hsm_rc
check_mk_effect(const char *op, const json_t *before, const json_t *after)
{
	const char *was = reg_mkvp(before, "pending");
	const char *now = reg_mkvp(after, strcmp(op, ADMINCMD_OP_MK_ACTIVATE) == 0 ?
	    "current" : "pending");

	if (strcmp(op, ADMINCMD_OP_MK_ACTIVATE) != 0 && strcmp(op, ADMINCMD_OP_MK_COMMIT) != 0)
		return HSM_OK;
	if (was != NULL && now != NULL && strcmp(was, now) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "the module's receipt shows MKVP %.16s... %s, "
		    "but the key %s was %.16s...", now, strcmp(op, ADMINCMD_OP_MK_ACTIVATE) == 0 ?
		    "active" : "committed", strcmp(op, ADMINCMD_OP_MK_ACTIVATE) == 0 ?
		    "committed before" : "loaded before", was);
	return HSM_OK;
}

static const json_t *
approved_of(const json_t *state)
{
	return json_object_get(json_object_get(json_object_get(state, "registers"), "pending"),
	    "approved");
}

/* An approved load lets parts in with no signature, so a module may show
 * one only after the mk.approve_load that set it, with exactly its parts;
 * otherwise it stays as it was or is gone. */
static hsm_rc
check_approval_effect(const char *op, const json_t *params, const json_t *before,
                      const json_t *after)
{
	const json_t *was = approved_of(before), *now = approved_of(after);
	const json_t *want = json_object_get(params, "parts"), *e;
	size_t i;

	if (json_array_size(now) == 0 || json_equal((json_t *)was, (json_t *)now))
		return HSM_OK;
	if (strcmp(op, ADMINCMD_OP_MK_APPROVE_LOAD) == 0 &&
	    json_array_size(want) == json_array_size(now)) {
		json_array_foreach(now, i, e) {
			const json_t *w = json_array_get(want, i);
			if (!json_equal(json_object_get(e, "part_id"), json_object_get(w, "part_id")) ||
			    !json_equal(json_object_get(e, "kpvp"), json_object_get(w, "kpvp")))
				break;
		}
		if (i == json_array_size(now))
			return HSM_OK;
	}
	return hsm_fail(HSM_ERR_VERIFY, "the module's receipt shows an approved load of %zu "
	    "parts after %s that no mk.approve_load in the log set", json_array_size(now), op);
}

static hsm_rc
check_effect(struct vctx *c, const char *op, const json_t *params, const json_t *before,
             const json_t *after)
{
	const json_t *ab = json_object_get(before, "admins");
	const json_t *aa = json_object_get(after, "admins");
	const json_t *tb = json_object_get(before, "thresholds");
	const json_t *ta = json_object_get(after, "thresholds");
	const char *ski = NULL;
	char addski[65];
	size_t want = json_array_size(ab);
	json_t *a;
	size_t i;

	if (!json_is_array(aa) || !json_is_object(ta))
		return hsm_fail(HSM_ERR_FORMAT, "receipt state has no admins/thresholds");
	if (strcmp(op, ADMINCMD_OP_ZEROIZE) == 0)
		return HSM_OK;    /* the domain starts over */
	if (check_mk_effect(op, before, after) != HSM_OK ||
	    check_approval_effect(op, params, before, after) != HSM_OK)
		return HSM_ERR_VERIFY;
	if (strcmp(op, ADMINCMD_OP_ADMIN_ADD) == 0) {
		uint8_t s[32];
		if (ev_key_get(&c->keys, json_string_value(json_object_get(params, "pubkey")),
		    NULL, s) != HSM_OK)
			return hsm_fail(HSM_ERR_FORMAT, "admin.add without a valid pubkey");
		hex_encode_buf(s, 32, addski);
		ski = addski;
		if (!has_ski(ab, ski))
			want++;
	} else if (strcmp(op, ADMINCMD_OP_ADMIN_REMOVE) == 0) {
		ski = json_string_value(json_object_get(params, "ski"));
		if (ski == NULL)
			return hsm_fail(HSM_ERR_FORMAT, "admin.remove without a ski");
		if (has_ski(ab, ski))
			want--;
	}
	if (json_array_size(aa) != want)
		return hsm_fail(HSM_ERR_VERIFY, "the module's receipt lists %zu admins; the "
		    "log's replay gives %zu", json_array_size(aa), want);
	json_array_foreach(aa, i, a) {
		const char *s = json_string_value(json_object_get(a, "ski"));
		if (s == NULL || (!has_ski(ab, s) && (ski == NULL || ski != addski ||
		    strcmp(s, ski) != 0)))
			return hsm_fail(HSM_ERR_VERIFY, "the module's receipt lists admin "
			    "%.16s..., whom the log never saw added", s ? s : "?");
	}
	if (ski != NULL && ski != addski && has_ski(aa, ski))
		return hsm_fail(HSM_ERR_VERIFY, "the module's receipt still lists the removed "
		    "admin %.16s...", ski);
	if (ski == addski && !has_ski(aa, ski))
		return hsm_fail(HSM_ERR_VERIFY, "the module's receipt does not list the added "
		    "admin %.16s...", ski);
	if (strcmp(op, ADMINCMD_OP_THRESHOLDS_SET) == 0) {
		if (!json_equal(json_object_get(params, "signature"), json_object_get(ta, "signature")) ||
		    !json_equal(json_object_get(params, "revocation"), json_object_get(ta, "revocation")))
			return hsm_fail(HSM_ERR_VERIFY, "the module's receipt shows other "
			    "thresholds than the command set");
	} else if (!json_equal((json_t *)tb, (json_t *)ta)) {
		return hsm_fail(HSM_ERR_VERIFY, "the module's receipt shows changed thresholds "
		    "after %s", op);
	}
	return HSM_OK;
}

/* The generated, not destroyed part with this KPVP, or NULL. */
static struct part *
part_by_kpvp(struct vctx *c, const char *kpvp)
{
	size_t i;

	for (i = 0; i < c->nparts; i++)
		if (strcmp(c->parts[i].kpvp, kpvp) == 0 && (c->parts[i].state == NULL ||
		    strcmp(c->parts[i].state, "destroyed") != 0))
			return &c->parts[i];
	return NULL;
}

/* What a module says it loaded must be what the custodians made: every
 * part in a receipt's PENDING register is a part a keypart.generated
 * record of this log made (by KPVP), and none twice. */
static hsm_rc
loaded_parts_check(struct vctx *c, const json_t *state, const char *module, long long domain)
{
	json_t *pend = json_object_get(json_object_get(state, "registers"), "pending");
	json_t *pl = json_object_get(pend, "parts_loaded"), *e, *f;
	size_t i, j;

	if (pl == NULL)
		return HSM_OK;
	if (!json_is_array(pl))
		return hsm_fail(HSM_ERR_FORMAT, "receipt of %s domain %lld: parts_loaded is "
		    "not a list", module, domain);
	json_array_foreach(pl, i, e) {
		const char *kp = json_string_value(json_object_get(e, "kpvp"));
		if (kp == NULL || !ev_is_hex(kp, 32))
			return hsm_fail(HSM_ERR_FORMAT, "receipt of %s domain %lld: a loaded "
			    "part without a KPVP", module, domain);
		if (part_by_kpvp(c, kp) == NULL)
			return hsm_fail(HSM_ERR_AUDIT, "the module's receipt for %s domain %lld "
			    "shows a key part loaded with KPVP %.16s..., which no custodian "
			    "generated in this log (no live keypart.generated has it)", module,
			    domain, kp);
		for (j = 0; j < i; j++) {
			f = json_array_get(pl, j);
			if (strcmp(kp, json_string_value(json_object_get(f, "kpvp"))) == 0)
				return hsm_fail(HSM_ERR_AUDIT, "the module's receipt for %s domain "
				    "%lld shows the part with KPVP %.16s... loaded twice", module,
				    domain, kp);
		}
	}
	return HSM_OK;
}

static hsm_rc
apply_receipt(struct vctx *c, const admincmd *cmd, const char *dghex, const json_t *receipt)
{
	const json_t *rb = NULL;
	const char *module = NULL, *op = NULL, *rdg = NULL, *rtime = NULL;
	long long domain = 0, before = 0, after = 0;
	struct dom *d;
	admincmd_admin admins[ADMINCMD_MAX_ADMINS];
	size_t nadm = 0;
	unsigned sig_thr = 0, rev_thr = 0, counted = 0;
	uint64_t tcounter;
	int64_t when = 0;
	json_t *fresh = NULL;
	hsm_rc rc;

	if ((rc = receipt_check(c, receipt, &rb)) != HSM_OK)
		return rc;
	if ((rc = get_str(rb, "module", &module)) != HSM_OK ||
	    (rc = get_int(rb, "domain", 0, &domain)) != HSM_OK ||
	    (rc = get_str(rb, "op", &op)) != HSM_OK ||
	    (rc = get_hex32(rb, "command_digest", &rdg)) != HSM_OK ||
	    (rc = get_int(rb, "counter_before", 0, &before)) != HSM_OK ||
	    (rc = get_int(rb, "counter_after", 0, &after)) != HSM_OK ||
	    (rc = get_str(rb, "time", &rtime)) != HSM_OK)
		return hsm_fail_wrap(rc, "receipt");
	if (strcmp(op, admincmd_op(cmd)) != 0 || strcmp(rdg, dghex) != 0)
		return hsm_fail(HSM_ERR_VERIFY, "receipt of %s domain %lld is for another "
		    "command", module, domain);
	if (admincmd_target_for(cmd, module, (unsigned)domain, &tcounter) != HSM_OK)
		return hsm_fail(HSM_ERR_VERIFY, "receipt from %s domain %lld, which the "
		    "command does not target", module, domain);
	if (after != before + 1 || (uint64_t)before != tcounter)
		return hsm_fail(HSM_ERR_VERIFY, "receipt of %s domain %lld: counters %lld -> "
		    "%lld do not fit the command's counter %llu", module, domain, before,
		    after, (unsigned long long)tcounter);
	if ((rc = state_check(rb, module, domain, after)) != HSM_OK)
		return hsm_fail_wrap(rc, "receipt of %s domain %lld", module, domain);
	if ((rc = loaded_parts_check(c, json_object_get(rb, "state"), module, domain)) != HSM_OK)
		return rc;
	if ((d = dom_find(c, module, domain)) == NULL) {
		if (before != 0)
			return hsm_fail(HSM_ERR_AUDIT, "%s domain %lld first appears at counter "
			    "%lld; the log holds no earlier state of it to check the quorum "
			    "against (record a domain.baseline receipt first)", module, domain,
			    before);
		if ((fresh = fresh_state(module, domain)) == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		rc = dom_set(c, module, domain, fresh, 0);
		json_decref(fresh);
		if (rc != HSM_OK)
			return rc;
		d = dom_find(c, module, domain);
	}
	if (d->counter != before)
		return hsm_fail(HSM_ERR_AUDIT, "%s domain %lld: receipt counter %lld, but the "
		    "log's last state of it has counter %lld (a record is missing or "
		    "replayed)", module, domain, before, d->counter);
	if ((rc = rfc3339_to_epoch(rtime, &when)) != HSM_OK)
		return rc;
	if ((rc = dom_admins(c, d, admins, &nadm, &sig_thr, &rev_thr)) != HSM_OK)
		return hsm_fail_wrap(rc, "%s domain %lld", module, domain);
	/* An mk.load_part of a part the quorum approved (mk.approve_load, shown
	 * in the state the log last verified) needs no signature. */
	rc = admincmd_verify_approved(cmd, module, (unsigned)domain, (uint64_t)before,
	    when, admins, nadm, sig_thr, rev_thr, json_object_get(json_object_get(
	    json_object_get(d->state, "registers"), "pending"), "approved"), &counted);
	admins_free(admins, nadm);
	if (rc != HSM_OK)
		return hsm_fail_wrap(HSM_ERR_AUDIT, "%s on %s domain %lld, replayed from the "
		    "log (admins and thresholds in force then)", admincmd_op(cmd), module,
		    domain);
	c->res->signatures += (long long)admincmd_nsigs(cmd);
	if ((rc = check_effect(c, admincmd_op(cmd), admincmd_params(cmd), d->state,
	    json_object_get(rb, "state"))) != HSM_OK)
		return hsm_fail_wrap(HSM_ERR_AUDIT, "%s on %s domain %lld", admincmd_op(cmd),
		    module, domain);
	return dom_set(c, module, domain, json_object_get(rb, "state"), after);
}

static struct sent *
sent_find(struct vctx *c, const uint8_t dg[32])
{
	size_t i;

	for (i = 0; i < c->nsent; i++)
		if (memcmp(c->sent[i].digest, dg, 32) == 0)
			return &c->sent[i];
	return NULL;
}

/* The write-ahead intent: the command must parse and its digest must be the
 * digest of its body. Its signatures are checked when a receipt shows it
 * applied (with the admins in force then); an intent with no outcome is
 * allowed (the run stopped after sending) and counted for the report. */
static hsm_rc
on_command_sent(struct vctx *c, const evlog_record *rec)
{
	const json_t *cj = json_object_get(rec->body, "command");
	const json_t *g = json_object_get(rec->body, "group");
	const char *dghex = NULL;
	admincmd *cmd = NULL;
	uint8_t dg[32];
	char hex[65];
	hsm_rc rc;

	if ((rc = get_hex32(rec->body, "digest", &dghex)) != HSM_OK)
		return rc;
	if (g != NULL && (!json_is_string(g) || json_string_length(g) == 0))
		return hsm_fail(HSM_ERR_FORMAT, "\"group\" must be a non-empty string");
	if (!json_is_object(cj))
		return hsm_fail(HSM_ERR_FORMAT, "body needs \"command\" (the signed command)");
	if ((rc = admincmd_from_json(cj, &cmd)) != HSM_OK)
		return hsm_fail_wrap(rc, "sent command");
	if ((rc = admincmd_digest(cmd, dg)) != HSM_OK)
		goto out;
	hex_encode_buf(dg, 32, hex);
	if (strcmp(hex, dghex) != 0) {
		rc = hsm_fail(HSM_ERR_VERIFY, "command digest does not match its body");
		goto out;
	}
	c->res->sent++;
	if (sent_find(c, dg) != NULL)
		goto out;   /* sent again after an interrupted run: one intent */
	{
		void *np = realloc(c->sent, (c->nsent + 1) * sizeof(*c->sent));
		if (np == NULL) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		c->sent = np;
	}
	memcpy(c->sent[c->nsent].digest, dg, 32);
	c->sent[c->nsent].seq = rec->seq;
	c->sent[c->nsent++].answered = 0;
out:
	admincmd_free(&cmd);
	return rc;
}

static hsm_rc
on_command_applied(struct vctx *c, const json_t *body)
{
	json_t *receipts = json_object_get(body, "receipts"), *r;
	const json_t *cj = json_object_get(body, "command");
	struct sent *s;
	admincmd *cmd = NULL;
	uint8_t dg[32];
	char dghex[65];
	size_t i;
	hsm_rc rc;

	if (!json_is_object(cj))
		return hsm_fail(HSM_ERR_FORMAT, "body needs \"command\" (the signed command)");
	if (!json_is_array(receipts) || json_array_size(receipts) == 0)
		return hsm_fail(HSM_ERR_FORMAT, "body needs \"receipts\" (a non-empty array)");
	if ((rc = admincmd_from_json(cj, &cmd)) != HSM_OK)
		return hsm_fail_wrap(rc, "applied command");
	if ((rc = admincmd_digest(cmd, dg)) != HSM_OK)
		goto out;
	hex_encode_buf(dg, 32, dghex);
	json_array_foreach(receipts, i, r) {
		if ((rc = apply_receipt(c, cmd, dghex, r)) != HSM_OK)
			goto out;
	}
	/* receipts for an announced command answer its intent */
	if ((s = sent_find(c, dg)) != NULL)
		s->answered = 1;
	c->res->commands++;
out:
	admincmd_free(&cmd);
	return rc;
}

static hsm_rc
on_baseline(struct vctx *c, const json_t *body)
{
	const json_t *rb = NULL;
	const char *module = NULL;
	long long domain = 0, after = 0;
	hsm_rc rc;

	if ((rc = receipt_check(c, json_object_get(body, "receipt"), &rb)) != HSM_OK)
		return rc;
	if ((rc = get_str(rb, "module", &module)) != HSM_OK ||
	    (rc = get_int(rb, "domain", 0, &domain)) != HSM_OK ||
	    (rc = get_int(rb, "counter_after", 0, &after)) != HSM_OK)
		return hsm_fail_wrap(rc, "baseline receipt");
	if ((rc = state_check(rb, module, domain, after)) != HSM_OK)
		return hsm_fail_wrap(rc, "baseline receipt");
	if (dom_find(c, module, domain) != NULL)
		return hsm_fail(HSM_ERR_AUDIT, "baseline for %s domain %lld comes after "
		    "records about it", module, domain);
	return dom_set(c, module, domain, json_object_get(rb, "state"), after);
}

static hsm_rc
on_admin_registered(struct vctx *c, const json_t *body)
{
	const char *module = NULL, *skihex = NULL;
	long long domain = 0;
	struct dom *d;
	json_t *a;
	size_t i;
	hsm_rc rc;

	if ((rc = get_str(body, "module", &module)) != HSM_OK ||
	    (rc = get_int(body, "domain", 0, &domain)) != HSM_OK ||
	    (rc = get_hex32(body, "ski", &skihex)) != HSM_OK)
		return rc;
	if ((d = dom_find(c, module, domain)) == NULL)
		return hsm_fail(HSM_ERR_AUDIT, "admin registered in %s domain %lld, but no "
		    "receipt in the log shows that domain", module, domain);
	json_array_foreach(json_object_get(d->state, "admins"), i, a) {
		const char *s = json_string_value(json_object_get(a, "ski"));
		if (s != NULL && strcmp(s, skihex) == 0)
			return HSM_OK;
	}
	return hsm_fail(HSM_ERR_AUDIT, "admin %.16s... is recorded as registered in %s "
	    "domain %lld, but the module's last receipt does not list it", skihex, module,
	    domain);
}

/* Remove card from the cards that hold a part: 1 if it held it. */
static int
card_drop(json_t *cards, const char *card)
{
	const json_t *e;
	size_t i;

	json_array_foreach(cards, i, e)
		if (strcmp(json_string_value(e), card) == 0)
			return json_array_remove(cards, i) == 0;
	return 0;
}

static hsm_rc
on_keypart(struct vctx *c, const evlog_record *rec)
{
	const char *id = NULL, *kpvp = NULL, *card = NULL, *bcard = NULL;
	const char *what = strrchr(rec->type, '.') + 1;
	struct part *p;
	hsm_rc rc;

	if ((rc = get_str(rec->body, "part_id", &id)) != HSM_OK ||
	    (rc = get_hex32(rec->body, "kpvp", &kpvp)) != HSM_OK ||
	    (rc = get_str(rec->body, "card_id", &card)) != HSM_OK)
		return rc;
	p = part_find(c, id);
	if (strcmp(rec->type, EV_KEYPART_GENERATED) == 0) {
		if (p != NULL)
			return hsm_fail(HSM_ERR_AUDIT, "key part %.60s is generated twice", id);
		GROW(c->parts, c->nparts);
		p = &c->parts[c->nparts];
		memset(p, 0, sizeof(*p));
		if ((p->part_id = strdup(id)) == NULL || (p->cards = json_array()) == NULL) {
			free(p->part_id);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
		c->nparts++;
		snprintf(p->kpvp, sizeof(p->kpvp), "%s", kpvp);
		json_array_append_new(p->cards, json_string(card));
	} else {
		if (p == NULL)
			return hsm_fail(HSM_ERR_AUDIT, "key part %.60s is %s but the log never "
			    "recorded its generation", id, what);
		if (strcmp(p->kpvp, kpvp) != 0)
			return hsm_fail(HSM_ERR_AUDIT, "key part %.60s is %s with KPVP %.16s..., "
			    "but was generated with KPVP %.16s...", id, what, kpvp, p->kpvp);
		/* a part lives on its card and its backups: each destroy removes
		 * it from one of them, and nothing may follow but more destroys */
		if (strcmp(p->state, "destroyed") == 0 &&
		    (strcmp(rec->type, EV_KEYPART_DESTROYED) != 0 || !card_drop(p->cards, card)))
			return hsm_fail(HSM_ERR_AUDIT, "key part %.60s is %s after it was "
			    "destroyed%s", id, what, strcmp(rec->type, EV_KEYPART_DESTROYED) == 0 ?
			    " on that card" : "");
		if (strcmp(p->state, "destroyed") != 0 && strcmp(rec->type, EV_KEYPART_DESTROYED) == 0)
			(void)card_drop(p->cards, card);
		if (strcmp(rec->type, EV_KEYPART_COPIED) == 0) {
			if ((rc = get_str(rec->body, "backup_card_id", &bcard)) != HSM_OK)
				return rc;
			json_array_append_new(p->cards, json_string(bcard));
		}
	}
	free(p->state);
	if ((p->state = strdup(strcmp(rec->type, EV_KEYPART_COPIED) == 0 ? "copied" :
	    what)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

/* mk.loaded's parts: each a part the custodians generated, by part id and
 * KPVP, each once; and exactly the parts the domain's receipt shows loaded. */
static hsm_rc
mk_parts_check(struct vctx *c, const json_t *parts, const struct dom *d)
{
	json_t *pend = json_object_get(json_object_get(d->state, "registers"), "pending");
	json_t *pl = json_object_get(pend, "parts_loaded"), *e, *f;
	const char *pst = json_string_value(json_object_get(pend, "state"));
	size_t i, j;

	if (json_array_size(parts) == 0)
		return hsm_fail(HSM_ERR_AUDIT, "mk.loaded does not say which key parts were "
		    "loaded");
	json_array_foreach(parts, i, e) {
		const char *id = json_string_value(json_object_get(e, "part_id"));
		const char *kp = json_string_value(json_object_get(e, "kpvp"));
		struct part *p = id != NULL ? part_find(c, id) : NULL;
		if (p == NULL || kp == NULL)
			return hsm_fail(HSM_ERR_AUDIT, "mk.loaded names key part %.60s, which "
			    "no keypart.generated record of this log made", id ? id : "?");
		if (strcmp(p->kpvp, kp) != 0)
			return hsm_fail(HSM_ERR_AUDIT, "mk.loaded names key part %.60s with KPVP "
			    "%.16s..., but it was generated with KPVP %.16s...", id, kp, p->kpvp);
		if (p->state != NULL && strcmp(p->state, "destroyed") == 0)
			return hsm_fail(HSM_ERR_AUDIT, "mk.loaded names key part %.60s, which was "
			    "destroyed before", id);
		for (j = 0; j < i; j++) {
			f = json_array_get(parts, j);
			if (strcmp(id, json_string_value(json_object_get(f, "part_id"))) == 0 ||
			    strcmp(kp, json_string_value(json_object_get(f, "kpvp"))) == 0)
				return hsm_fail(HSM_ERR_AUDIT, "mk.loaded names key part %.60s "
				    "twice", id);
		}
	}
	/* a receipt that shows the load must show exactly these parts */
	if (pst == NULL || strcmp(pst, "empty") == 0)
		return HSM_OK;
	if (json_array_size(pl) != json_array_size(parts))
		return hsm_fail(HSM_ERR_AUDIT, "%s domain %lld loaded %zu part(s) by the "
		    "module's receipt; mk.loaded names %zu", d->module, d->domain,
		    json_array_size(pl), json_array_size(parts));
	json_array_foreach(parts, i, e) {
		const char *kp = json_string_value(json_object_get(e, "kpvp"));
		for (j = 0; j < json_array_size(pl); j++)
			if (strcmp(kp, json_string_value(json_object_get(json_array_get(pl, j),
			    "kpvp"))) == 0)
				break;
		if (j == json_array_size(pl))
			return hsm_fail(HSM_ERR_AUDIT, "mk.loaded names key part %.60s (KPVP "
			    "%.16s...), which the module's receipt for %s domain %lld does not "
			    "show loaded", json_string_value(json_object_get(e, "part_id")), kp,
			    d->module, d->domain);
	}
	return HSM_OK;
}

/* One domain entry of an mk.* record against what the log knows of it. */
static hsm_rc
mk_domain(struct vctx *c, const evlog_record *rec, const char *reg, const json_t *e,
          const char *top)
{
	const char *module = NULL, *mkvp = NULL, *have = NULL;
	long long domain = 0;
	struct dom *d;
	json_t *r;
	hsm_rc rc;

	if ((rc = get_str(e, "module", &module)) != HSM_OK ||
	    (rc = get_int(e, "domain", 0, &domain)) != HSM_OK ||
	    (rc = get_hex32(e, "mkvp", &mkvp)) != HSM_OK)
		return rc;
	if ((d = dom_find(c, module, domain)) == NULL)
		return hsm_fail(HSM_ERR_AUDIT, "%s names %s domain %lld, but no receipt "
		    "in the log shows that domain", rec->type, module, domain);
	if (top != NULL && strcmp(top, mkvp) != 0)
		return hsm_fail(HSM_ERR_AUDIT, "%s states MKVP %.16s... for the key, but "
		    "%.16s... for %s domain %lld", rec->type, top, mkvp, module, domain);
	r = json_object_get(json_object_get(d->state, "registers"), reg);
	have = json_string_value(json_object_get(r, "mkvp"));
	if (strcmp(reg, "old") == 0) {
		const char *st = json_string_value(json_object_get(r, "state"));
		if (st != NULL && strcmp(st, "empty") != 0)
			return hsm_fail(HSM_ERR_AUDIT, "%s for %s domain %lld, but its "
			    "OLD register is still %s in the last receipt", rec->type,
			    module, domain, st);
	} else if (have != NULL && strcmp(have, mkvp) != 0) {
		return hsm_fail(HSM_ERR_AUDIT, "%s MKVP %.16s... for %s domain %lld "
		    "differs from the %s register's MKVP %.16s... in the module's "
		    "receipt", rec->type, mkvp, module, domain, reg, have);
	}
	if (strcmp(rec->type, EV_MK_LOADED) == 0)
		return mk_parts_check(c, json_object_get(rec->body, "parts"), d);
	if (strcmp(rec->type, EV_MK_COMMITTED) == 0)
		snprintf(d->committed, sizeof(d->committed), "%s", mkvp);
	if (strcmp(rec->type, EV_MK_ACTIVATED) == 0 && strcmp(d->committed, mkvp) != 0)
		return hsm_fail(HSM_ERR_AUDIT, "%s domain %lld activates MKVP %.16s..., but "
		    "%s", module, domain, mkvp, d->committed[0] ? "this log committed "
		    "another key there" : "this log never recorded its commit (mk.committed)");
	return HSM_OK;
}

static hsm_rc
on_mk(struct vctx *c, const evlog_record *rec)
{
	json_t *doms = json_object_get(rec->body, "domains"), *e;
	const char *reg = "pending", *top = NULL;
	size_t i;
	hsm_rc rc;

	if (strcmp(rec->type, EV_MK_ACTIVATED) == 0 || strcmp(rec->type, EV_MK_FINALIZED) == 0 ||
	    strcmp(rec->type, EV_MK_BACKED_OUT) == 0)
		reg = "current";
	else if (strcmp(rec->type, EV_MK_DESTROYED) == 0)
		reg = "old";
	if (!json_is_array(doms) || json_array_size(doms) == 0)
		return hsm_fail(HSM_ERR_FORMAT, "body needs \"domains\" (a non-empty array)");
	/* the top-level MKVP, when stated, is every domain's */
	if (json_object_get(rec->body, "mkvp") != NULL &&
	    (rc = get_hex32(rec->body, "mkvp", &top)) != HSM_OK)
		return rc;
	json_array_foreach(doms, i, e) {
		if ((rc = mk_domain(c, rec, reg, e, top)) != HSM_OK)
			return hsm_fail_wrap(rc, "domains[%zu]", i);
	}
	return HSM_OK;
}

/* evlife.c's view of a domain: its state after the log's last receipt. */
static const json_t *
life_state(void *ctx, const char *module, long long domain)
{
	struct dom *d = dom_find(ctx, module, domain);

	return d != NULL ? d->state : NULL;
}

/* An RFC 3161 token over the completion; checked against the TSA CA when
 * one is given, otherwise counted as not checked. */
static hsm_rc
on_timestamp(struct vctx *c, const json_t *b)
{
	struct evtsa_info ti;
	hsm_rc rc;

	if (!c->completed)
		return hsm_fail(HSM_ERR_FORMAT, "a time-stamp covers the completion, and this "
		    "log has none before it");
	if ((rc = ev_tsa_check(b, c->comp_seq, c->comp_hash, c->tsa, &ti)) != HSM_OK)
		return rc;
	c->res->timestamps++;
	c->res->timestamps_checked += ti.checked;
	snprintf(c->res->tsa_time, sizeof(c->res->tsa_time), "%s", ti.gen_time);
	snprintf(c->res->tsa_name, sizeof(c->res->tsa_name), "%s", ti.tsa);
	return HSM_OK;
}

static hsm_rc
on_record(struct vctx *c, const evlog_record *rec)
{
	const json_t *b = rec->body;
	const char *t = rec->type, *s = NULL;
	long long a = 0, n = 0;
	hsm_rc rc;

	if ((rc = ev_life_record(&c->life, rec, life_state, c)) != HSM_OK)
		return rc;
	if (ev_life_owns(t))
		return HSM_OK;

	if (strcmp(t, EV_CEREMONY_OPEN) == 0) {
		if (rec->seq != 1)
			return hsm_fail(HSM_ERR_AUDIT, "ceremony.open may only be the first record");
		if ((rc = get_str(b, "ceremony", &s)) != HSM_OK)
			return rc;
		snprintf(c->res->ceremony, sizeof(c->res->ceremony), "%s", s);
		return HSM_OK;
	}
	if (strcmp(t, EV_ROSTER) == 0)
		return on_roster(c, b);
	if (strcmp(t, EV_STEP_BEGIN) == 0 || strcmp(t, EV_STEP_END) == 0)
		return on_step(c, rec, strcmp(t, EV_STEP_BEGIN) == 0);
	if (strcmp(t, EV_CARD_INIT) == 0) {
		if ((rc = get_str(b, "card_id", &s)) != HSM_OK)
			return rc;
		return get_str(b, "role", &s);
	}
	if (strcmp(t, EV_ADMIN_REGISTERED) == 0)
		return on_admin_registered(c, b);
	if (strcmp(t, EV_COMMAND_SIGNED) == 0)
		return on_command_signed(c, b);
	if (strcmp(t, EV_COMMAND_SENT) == 0)
		return on_command_sent(c, rec);
	if (strcmp(t, EV_COMMAND_APPLIED) == 0)
		return on_command_applied(c, b);
	if (strcmp(t, EV_DOMAIN_BASELINE) == 0)
		return on_baseline(c, b);
	if (strncmp(t, "keypart.", 8) == 0 &&
	    (strcmp(t, EV_KEYPART_GENERATED) == 0 || strcmp(t, EV_KEYPART_COPIED) == 0 ||
	     strcmp(t, EV_KEYPART_VERIFIED) == 0 || strcmp(t, EV_KEYPART_DESTROYED) == 0))
		return on_keypart(c, rec);
	if (strcmp(t, EV_MK_LOADED) == 0 || strcmp(t, EV_MK_COMMITTED) == 0 ||
	    strcmp(t, EV_MK_ACTIVATED) == 0 || strcmp(t, EV_MK_FINALIZED) == 0 ||
	    strcmp(t, EV_MK_DESTROYED) == 0 || strcmp(t, EV_MK_BACKED_OUT) == 0)
		return on_mk(c, rec);
	if (strcmp(t, EV_REENCIPHER) == 0) {
		if ((rc = get_int(b, "done", 0, &a)) != HSM_OK ||
		    (rc = get_int(b, "total", 0, &n)) != HSM_OK)
			return rc;
		if (a > n)
			return hsm_fail(HSM_ERR_FORMAT, "re-enciphered %lld of only %lld", a, n);
		return HSM_OK;
	}
	if (strcmp(t, EV_EXCEPTION) == 0) {
		c->res->exceptions++;
		if ((rc = get_str(b, "what", &s)) != HSM_OK)
			return rc;
		return get_str(b, "reason", &s);
	}
	if (strcmp(t, EV_WITNESS_ACK) == 0)
		return get_str(b, "statement", &s);
	if (strcmp(t, EV_CHECKPOINT) == 0)
		return on_head(c, rec, 0);
	if (strcmp(t, EV_COMPLETION) == 0)
		return on_head(c, rec, 1);
	if (strcmp(t, EV_LOG_TIMESTAMPED) == 0)
		return on_timestamp(c, b);
	if (strcmp(t, EV_LOG_RECOVERED) == 0) {
		c->res->recoveries++;
		if ((rc = get_int(b, "lost_bytes", 1, &a)) != HSM_OK ||
		    (rc = get_int(b, "at_offset", 0, &n)) != HSM_OK)
			return rc;
		return get_hex32(b, "lost_sha256", &s);
	}
	return hsm_fail(HSM_ERR_FORMAT, "unknown record type \"%.60s\"", t);
}

/* ---- set-up and the main loop ---- */

static hsm_rc
ctx_init(struct vctx *c, const struct evlog_verify_opts *o)
{
	hsm_rc rc;

	rc = ev_anchors_load(o, &c->anc);
	if (rc == HSM_OK && o != NULL && o->tsa_ca_file != NULL)
		rc = ev_tsa_store_load(o->tsa_ca_file, &c->tsa);
	/* a window of 64 checks per worker: enough to keep them busy, and
	 * memory that does not depend on the log's length */
	if (rc == HSM_OK && o != NULL && o->jobs > 1)
		rc = ev_sigpool_new(o->jobs, (size_t)o->jobs * 64, &c->pool);
	c->res->ca_anchors = (int)c->anc.ncas;
	c->res->supervisor_anchors = (int)c->anc.npins;
	snprintf(c->res->anchor_source, sizeof(c->res->anchor_source), "%s", c->anc.source);
	return rc;
}

static json_t *
dom_state_json(struct vctx *c)
{
	json_t *arr = json_array();
	size_t i, j;

	if (arr == NULL)
		return NULL;
	/* sorted by module, then domain: insertion order of a small array */
	for (i = 0; i < c->ndoms; i++)
		for (j = i + 1; j < c->ndoms; j++) {
			int cmp = strcmp(c->doms[i].module, c->doms[j].module);
			if (cmp > 0 || (cmp == 0 && c->doms[i].domain > c->doms[j].domain)) {
				struct dom t = c->doms[i];
				c->doms[i] = c->doms[j];
				c->doms[j] = t;
			}
		}
	for (i = 0; i < c->ndoms; i++)
		json_array_append(arr, c->doms[i].state);
	return arr;
}

static hsm_rc
build_state(struct vctx *c, json_t **out)
{
	json_t *parts = json_array(), *people = json_array(), *steps = json_array();
	int bad = parts == NULL || people == NULL || steps == NULL;
	size_t i;

	*out = NULL;
	for (i = 0; !bad && i < c->nparts; i++)
		bad = json_array_append_new(parts, json_pack("{s:s, s:s, s:s, s:O}", "part_id",
		    c->parts[i].part_id, "kpvp", c->parts[i].kpvp, "state",
		    c->parts[i].state ? c->parts[i].state : "generated", "card_ids",
		    c->parts[i].cards)) != 0;
	for (i = 0; !bad && i < c->npeople; i++) {
		char hex[65], *pk = NULL;
		hex_encode_buf(c->people[i].ski, 32, hex);
		/* a key that cannot be written out is an error, not a person left out */
		bad = ev_pub_to_hex(c->people[i].pub, &pk) != HSM_OK ||
		    json_array_append_new(people, json_pack("{s:s, s:s, s:s, s:s}", "name",
		    c->people[i].name, "role", c->people[i].role, "ski", hex, "pubkey", pk)) != 0;
		free(pk);
	}
	for (i = 0; !bad && i < c->nsteps; i++)
		bad = json_array_append_new(steps, json_pack("{s:s, s:I}", "step",
		    c->steps[i].name, "seq", (json_int_t)c->steps[i].seq)) != 0;
	if (bad) {
		json_decref(parts);
		json_decref(people);
		json_decref(steps);
		return hsm_fail(HSM_ERR_NOMEM, "out of memory building the replayed state");
	}
	*out = json_pack("{s:s, s:I, s:s, s:b, s:b, s:o, s:o, s:o, s:o, s:o}", "log_id",
	    c->log_id ? c->log_id : "", "head_seq", (json_int_t)c->res->head_seq,
	    "head_hash", c->res->head_hash, "complete", c->completed,
	    "anchored", c->res->anchored, "anchors", json_pack("{s:s, s:i, s:s, s:i, s:b}",
	    "source", c->res->anchor_source, "module_ca", c->res->ca_anchors,
	    "module_ca_sha256", c->res->anchor_ca_fp, "supervisor_keys",
	    c->res->supervisor_anchors, "supervisor_pinned", c->res->supervisor_pinned),
	    "domains", dom_state_json(c), "key_parts", parts, "people", people,
	    "open_steps", steps);
	if (*out == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory building the replayed state");
	return HSM_OK;
}

static void
ctx_free(struct vctx *c)
{
	size_t i;

	ev_sigpool_free(&c->pool);   /* first: its workers hold keys */
	ev_anchors_free(&c->anc);
	X509_STORE_free(c->tsa);
	ev_oacache_free(&c->oac);
	ev_keycache_free(&c->keys);
	for (i = 0; i < c->npeople; i++) {
		EVP_PKEY_free(c->people[i].pub);
		free(c->people[i].name);
		free(c->people[i].role);
	}
	free(c->people);
	for (i = 0; i < c->ndoms; i++) {
		free(c->doms[i].module);
		json_decref(c->doms[i].state);
	}
	free(c->doms);
	for (i = 0; i < c->nparts; i++) {
		free(c->parts[i].part_id);
		free(c->parts[i].state);
		json_decref(c->parts[i].cards);
	}
	free(c->parts);
	for (i = 0; i < c->nsteps; i++)
		free(c->steps[i].name);
	free(c->steps);
	free(c->sent);
	free(c->log_id);
}

/* What the answer rests on: "verified" needs a module CA and a supervisor
 * key from outside the log, and the completion (if any) signed by that key. */
static void
anchor_result(struct vctx *c)
{
	evlog_verify_result *r = c->res;
	uint8_t fp[32];
	size_t i, pick = 0;

	for (i = 0; i < c->anc.ncas && i < 32; i++)
		if (c->oac.used_ca & (1u << i)) {
			pick = i;
			break;
		}
	if (c->anc.ncas > 0 && x509u_fingerprint(c->anc.cas[pick], fp) == HSM_OK)
		hex_encode_buf(fp, 32, r->anchor_ca_fp);
	r->chain_checks = c->oac.chain_checks;
	r->key_imports = c->keys.imports;
	/* receipts are only ever accepted against a CA of the anchors (or not at
	 * all with none); a completion must be by a pinned key; and something
	 * from outside must have checked something */
	r->anchored = !c->anc.none && (!c->completed || r->supervisor_pinned) &&
	    (r->supervisor_pinned || r->receipts > 0);
}

/* Record the first failure: res->bad_seq and reason, return HSM_ERR_AUDIT. */
static hsm_rc
bad(struct vctx *c, long long seq, const char *why)
{
	c->res->ok = 0;
	c->res->bad_seq = seq;
	snprintf(c->res->reason, sizeof(c->res->reason), "seq %lld: %s", seq, why);
	return hsm_fail(HSM_ERR_AUDIT, "%s", c->res->reason);
}

/* The same, for a message that already starts with "seq N: " (the reader's). */
static hsm_rc
bad_msg(struct vctx *c, long long seq, const char *msg)
{
	c->res->ok = 0;
	c->res->bad_seq = seq;
	snprintf(c->res->reason, sizeof(c->res->reason), "%s", msg);
	return hsm_fail(HSM_ERR_AUDIT, "%s", c->res->reason);
}

/* With workers: every check handed to them is joined, and the first that
 * failed, in log order, is the verdict if it comes before (or at) the record
 * the reading thread stopped at, as it would have with one thread. The
 * result's counters are put back as they stood before that check; the
 * replayed state, built from records read after it, is left out. */
static void
pool_verdict(struct vctx *c, hsm_rc *rc)
{
	const struct ev_sigsnap *snap;
	const char *msg;
	long long seq;
	evlog_verify_result *r = c->res;

	if (c->pool == NULL || (*rc != HSM_OK && *rc != HSM_ERR_AUDIT && *rc != HSM_ERR_USAGE))
		return;
	(void)ev_sigpool_join(c->pool, 1);
	if (!ev_sigpool_failure(c->pool, &seq, &msg, &snap))
		return;
	r->records = snap->records;
	r->signatures = snap->signatures;
	r->receipts = snap->receipts;
	r->commands = snap->commands;
	r->sent = snap->sent;
	r->exceptions = snap->exceptions;
	r->recoveries = snap->recoveries;
	r->head_seq = snap->head_seq;
	memcpy(r->head_hash, snap->head_hash, sizeof(r->head_hash));
	r->complete = 0;
	r->sent_no_outcome = 0;
	if (c->comp_seq != 0 || seq < c->seq) {
		/* a completion read after the bad check was never reached */
		r->supervisor_name[0] = r->supervisor_ski[0] = '\0';
		r->supervisor_pinned = 0;
	}
	c->pool_failed = 1;
	*rc = bad(c, seq, msg);
}

hsm_rc
ev_verify_reader(evlog_reader *r, const struct evlog_verify_opts *o, evlog_verify_result *res)
{
	struct vctx c;
	evlog_record rec;
	char msg[700];
	hsm_rc rc, brc;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	memset(&rec, 0, sizeof(rec));
	c.o = o;
	c.res = res;
	if ((rc = ctx_init(&c, o)) != HSM_OK)
		goto out;
	for (;;) {
		rc = evlog_reader_next(r, &rec);
		if (rc == HSM_ERR_NOT_FOUND)
			break;
		if (rc != HSM_OK) {
			if (rc == HSM_ERR_IO || rc == HSM_ERR_NOMEM)
				goto out;
			/* the reader names the seq and checks the chain itself */
			rc = bad_msg(&c, evlog_reader_bad_seq(r), hsm_errmsg());
			goto out;
		}
		res->records++;
		if (c.completed && strcmp(rec.type, EV_LOG_TIMESTAMPED) != 0) {
			rc = bad(&c, rec.seq, "a record follows the completion record");
			goto out;
		}
		if (rec.seq == 1) {
			json_t *id = json_object_get(rec.body, "log_id");
			if ((c.log_id = strdup(json_string_value(id))) == NULL) {
				rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
				goto out;
			}
			snprintf(res->log_id, sizeof(res->log_id), "%s", c.log_id);
		}
		hsm_err_clear();
		c.cur_seq = rec.seq;
		c.cur_type = rec.type;
		if ((rc = on_record(&c, &rec)) != HSM_OK) {
			if (rc == HSM_ERR_IO || rc == HSM_ERR_NOMEM || rc == HSM_ERR_INTERNAL)
				goto out;
			if (rc == HSM_ERR_USAGE) {
				/* an anchor the log needs was not given: not tampering */
				snprintf(msg, sizeof(msg), "%s", hsm_errmsg());
				rc = hsm_fail(HSM_ERR_USAGE, "seq %lld: %s", rec.seq, msg);
				goto out;
			}
			snprintf(msg, sizeof(msg), "%s: %s", rec.type, hsm_errmsg());
			rc = bad(&c, rec.seq, msg);
			goto out;
		}
		if (c.completed && c.comp_seq == 0) {
			c.comp_seq = rec.seq;
			memcpy(c.comp_hash, rec.hash, 32);
		}
		c.seq = rec.seq;
		memcpy(c.head, rec.hash, 32);
		res->head_seq = c.seq;
		hex_encode_buf(c.head, 32, res->head_hash);
		/* a worker's failed check ends the reading: what follows it is moot */
		if (c.pool != NULL && ev_sigpool_join(c.pool, 0)) {
			rc = HSM_ERR_AUDIT;
			goto out;
		}
	}
	if (c.pool != NULL && ev_sigpool_join(c.pool, 1)) {
		rc = HSM_ERR_AUDIT;
		goto out;
	}
	if (c.seq == 0) {
		rc = bad(&c, 1, "the log is empty");
		goto out;
	}
	for (size_t i = 0; i < c.nsent; i++)
		res->sent_no_outcome += !c.sent[i].answered;
	res->complete = c.completed;
	if (!c.completed && (o == NULL || !o->allow_incomplete)) {
		rc = bad(&c, c.seq, "the log ends here without the supervisor's completion "
		    "record: it was cut short, or the ceremony is not finished");
		goto out;
	}
	res->ok = 1;
	rc = HSM_OK;
out:
	pool_verdict(&c, &rc);
	anchor_result(&c);
	if ((res->ok || (rc == HSM_ERR_AUDIT && !c.pool_failed)) &&
	    (brc = build_state(&c, &res->state)) != HSM_OK) {
		res->ok = 0;   /* a verdict without its state is no verdict */
		rc = brc;
	}
	evlog_record_clear(&rec);
	ctx_free(&c);
	return rc;
}

hsm_rc
evlog_verify(const char *path, const struct evlog_verify_opts *o, evlog_verify_result *res)
{
	evlog_reader *r = NULL;
	hsm_rc rc;

	memset(res, 0, sizeof(*res));
	if ((rc = evlog_reader_open(path, &r)) != HSM_OK)
		return rc;
	rc = ev_verify_reader(r, o, res);
	evlog_reader_free(&r);
	return rc;
}

hsm_rc
evlog_verify_mem(const char *buf, size_t len, const struct evlog_verify_opts *o,
                 evlog_verify_result *res)
{
	evlog_reader *r = NULL;
	hsm_rc rc;

	memset(res, 0, sizeof(*res));
	if ((rc = evlog_reader_open_mem(buf, len, &r)) != HSM_OK)
		return rc;
	rc = ev_verify_reader(r, o, res);
	evlog_reader_free(&r);
	return rc;
}

void
evlog_verify_result_clear(evlog_verify_result *res)
{
	if (res == NULL)
		return;
	json_decref(res->state);
	res->state = NULL;
}

json_t *
evlog_verify_result_json(const evlog_verify_result *res)
{
	json_t *j = json_pack("{s:b, s:I, s:s, s:s, s:I, s:s, s:b, s:I, s:I, s:I, s:I, s:I}",
	    "verified", res->ok && res->anchored, "records", (json_int_t)res->records, "log_id", res->log_id,
	    "ceremony", res->ceremony, "head_seq", (json_int_t)res->head_seq,
	    "head_hash", res->head_hash, "complete", res->complete,
	    "signatures", (json_int_t)res->signatures, "receipts", (json_int_t)res->receipts,
	    "commands", (json_int_t)res->commands, "exceptions", (json_int_t)res->exceptions,
	    "recoveries", (json_int_t)res->recoveries);

	if (j == NULL)
		return NULL;
	if (json_object_set_new(j, "sent", json_integer(res->sent)) != 0 ||
	    json_object_set_new(j, "sent_no_outcome", json_integer(res->sent_no_outcome)) != 0) {
		json_decref(j);
		return NULL;
	}
	/* what "verified" rests on: keys from outside the log, or none */
	if (json_object_set_new(j, "consistent", json_boolean(res->ok)) != 0 ||
	    json_object_set_new(j, "anchored", json_boolean(res->anchored)) != 0 ||
	    json_object_set_new(j, "anchors", json_pack("{s:s, s:i, s:s, s:i, s:b, s:I}",
	    "source", res->anchor_source, "module_ca", res->ca_anchors, "module_ca_sha256",
	    res->anchor_ca_fp, "supervisor_keys", res->supervisor_anchors,
	    "supervisor_pinned", res->supervisor_pinned, "chain_checks",
	    (json_int_t)res->chain_checks)) != 0 ||
	    json_object_set_new(j, "key_imports", json_integer(res->key_imports)) != 0) {
		json_decref(j);
		return NULL;
	}
	if (res->timestamps > 0 &&
	    json_object_set_new(j, "timestamp", json_pack("{s:I, s:I, s:s, s:s, s:s}",
	    "count", (json_int_t)res->timestamps, "checked", (json_int_t)res->timestamps_checked,
	    "gen_time", res->tsa_time, "tsa", res->tsa_name, "status",
	    res->timestamps_checked == res->timestamps ? "trusted time (token checked "
	    "against the TSA CA)" : "not checked (no --tsa-ca)")) != 0) {
		json_decref(j);
		return NULL;
	}
	if (!res->ok) {
		json_object_set_new(j, "bad_seq", json_integer(res->bad_seq));
		json_object_set_new(j, "reason", json_string(res->reason));
	}
	if (res->supervisor_ski[0] != '\0') {
		json_object_set_new(j, "supervisor", json_string(res->supervisor_name));
		json_object_set_new(j, "supervisor_ski", json_string(res->supervisor_ski));
	}
	return j;
}

hsm_rc
evlog_replay(const char *path, const struct evlog_verify_opts *o, json_t **state)
{
	evlog_verify_result res;
	hsm_rc rc;

	*state = NULL;
	rc = evlog_verify(path, o, &res);
	if (rc == HSM_OK) {
		*state = res.state;
		res.state = NULL;
	}
	evlog_verify_result_clear(&res);
	return rc;
}

/* With supervisor keys pinned, the one signing must be one of them. */
static hsm_rc
signer_pinned(const struct evlog_verify_opts *o, const uint8_t ski[32], const char *skihex)
{
	struct ev_anchors a;
	size_t i;
	hsm_rc rc;

	if ((rc = ev_anchors_load(o, &a)) == HSM_OK) {
		for (i = 0; i < a.npins && memcmp(a.pins[i], ski, 32) != 0; i++)
			;
		if (i == a.npins)
			rc = hsm_fail(HSM_ERR_VERIFY, "the signing key (SKI %.16s...) is not one "
			    "of the pinned supervisor keys", skihex);
	}
	ev_anchors_free(&a);
	return rc;
}

hsm_rc
evlog_sign_completion(const char *path, const struct evlog_verify_opts *opts,
                      hsm_signer *supervisor, const char *name, const char *cert_pem,
                      long long *seq, evlog_verify_result *res)
{
	struct evlog_verify_opts o;
	struct evlog_open_opts oo;
	evlog *log = NULL;
	evlog_reader *r = NULL;
	json_t *p, *actor = NULL;
	long long head = 0;
	uint8_t ski[32];
	char skihex[65];
	const char *rname = NULL;
	size_t i;
	hsm_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&oo, 0, sizeof(oo));
	oo.must_exist = 1;
	if (opts != NULL)
		o = *opts;
	else
		memset(&o, 0, sizeof(o));
	o.allow_incomplete = 1;
	/* Hold the writer lock while checking, so that what is verified is
	 * exactly what gets signed. */
	if ((rc = evlog_open(path, &oo, &log)) != HSM_OK)
		return rc;
	/* what is checked is read through the writer: exactly what gets signed */
	if ((rc = evlog_reader_from_log(log, &r)) != HSM_OK)
		goto out;
	rc = ev_verify_reader(r, &o, res);
	evlog_reader_free(&r);
	if (rc != HSM_OK) {
		if (rc != HSM_ERR_USAGE)
			rc = hsm_fail_wrap(rc, "not signing: the log does not verify");
		goto out;
	}
	evlog_head(log, &head, NULL);
	if (res->complete) {
		rc = hsm_fail(HSM_ERR_STATE, "the log already ends with a completion record "
		    "(by %s); nothing to sign", res->supervisor_name);
		goto out;
	}
	if (head != res->head_seq) {
		rc = hsm_fail(HSM_ERR_STATE, "the log changed while it was being checked; "
		    "run again");
		goto out;
	}
	if ((p = json_array_get(json_object_get(res->state, "open_steps"), 0)) != NULL) {
		rc = hsm_fail(HSM_ERR_STATE, "step \"%.60s\" begun at seq %lld has not "
		    "ended; finish or record the step first, then sign",
		    json_string_value(json_object_get(p, "step")),
		    (long long)json_integer_value(json_object_get(p, "seq")));
		goto out;
	}
	if ((rc = crypto_ski(signer_pub(supervisor), ski)) != HSM_OK)
		goto out;
	hex_encode_buf(ski, 32, skihex);
	json_array_foreach(json_object_get(res->state, "people"), i, p) {
		if (strcmp(json_string_value(json_object_get(p, "ski")), skihex) == 0 &&
		    strcmp(json_string_value(json_object_get(p, "role")), "supervisor") == 0)
			rname = json_string_value(json_object_get(p, "name"));
	}
	if (res->supervisor_anchors > 0 && (rc = signer_pinned(&o, ski, skihex)) != HSM_OK)
		goto out;
	if (rname == NULL) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "the key of %s (SKI %.16s...) is not on the "
		    "log's roster as a supervisor; only a registered supervisor can sign "
		    "the completion", signer_label(supervisor), skihex);
		goto out;
	}
	if ((actor = json_pack("{s:s, s:s, s:s}", "name", name ? name : rname, "role",
	    "supervisor", "ski", skihex)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = evlog_complete(log, supervisor, actor, cert_pem, seq);
out:
	json_decref(actor);
	evlog_close(&log);
	return rc;
}

/* The module CAs of the options, as PEM strings. */
static hsm_rc
ca_pems(const struct evlog_verify_opts *o, json_t *arr)
{
	size_t i;
	hsm_rc rc = HSM_OK;

	for (i = 0; i < o->n_module_ca && rc == HSM_OK; i++) {
		X509 *ca = NULL;
		char *pem = NULL;
		if ((rc = x509u_load_pem(o->module_ca_files[i], &ca)) == HSM_OK &&
		    (rc = x509u_to_pem(ca, &pem)) == HSM_OK &&
		    json_array_append_new(arr, json_string(pem)) != 0)
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		free(pem);
		X509_free(ca);
	}
	return rc;
}

hsm_rc
evlog_export_trust(const char *path, const struct evlog_verify_opts *opts, json_t **out)
{
	evlog_verify_result res;
	json_t *cas = json_array(), *sups = json_array(), *p;
	size_t i;
	hsm_rc rc;

	*out = NULL;
	memset(&res, 0, sizeof(res));
	if (cas == NULL || sups == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (opts == NULL || opts->no_anchors) {
		rc = hsm_fail(HSM_ERR_USAGE, "a trust file is made with the module CA: give "
		    "--module-ca FILE");
		goto out;
	}
	if ((rc = evlog_verify(path, opts, &res)) != HSM_OK) {
		rc = rc == HSM_ERR_USAGE ? rc : hsm_fail_wrap(rc, "not exporting: the log "
		    "does not verify");
		goto out;
	}
	if ((rc = ca_pems(opts, cas)) != HSM_OK)
		goto out;
	/* the roster's supervisors, taken at the close in front of the people
	 * they name; the file then travels to the auditors apart from the log */
	json_array_foreach(json_object_get(res.state, "people"), i, p)
		if (strcmp(json_string_value(json_object_get(p, "role")), "supervisor") == 0)
			json_array_append(sups, p);
	if (json_array_size(sups) == 0) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "the log's roster names no supervisor with "
		    "a key; nothing to anchor the completion to");
		goto out;
	}
	*out = json_pack("{s:i, s:s, s:s, s:I, s:s, s:O, s:O}", "hsmadm_trust", 1,
	    "log_id", res.log_id, "ceremony", res.ceremony, "head_seq",
	    (json_int_t)res.head_seq, "head_hash", res.head_hash, "module_ca", cas,
	    "supervisors", sups);
	rc = *out != NULL ? HSM_OK : hsm_fail(HSM_ERR_NOMEM, "out of memory");
out:
	evlog_verify_result_clear(&res);
	json_decref(cas);
	json_decref(sups);
	return rc;
}
