/* SPDX-License-Identifier: BSD-2-Clause */
/* reencipher.c - the re-encipher job of a rotation (reencipher.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "hsmadm/blob.h"
#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/fileio.h"
#include "hsmadm/moddriver.h"
#include "hsmadm/reencipher.h"
#include "hsmadm/secbuf.h"
#include "hsmadm/thread.h"

#define JOURNAL_MAGIC "hsmadm-reencipher-journal v1"
#define LINE_MAX_BYTES 65536
#define MSG_MAX 600

enum { S_FREE = 0, S_READY, S_BUSY, S_DONE };

struct slot {
	int               state;
	uint64_t          seq;
	size_t            n, nbad, nok, nfail;
	uint8_t          *in, *out;
	char             *ids;          /* n * (BLOB_ID_MAX + 1) */
	uint64_t         *lineno;       /* input line of each blob */
	uint64_t         *badline;      /* input lines that are not blobs */
	moddrv_blob_fail *fails;
	uint64_t          lines, inbytes, blank;
};

struct member {
	moddrv     *drv;
	unsigned    domain;
	char        name[96];
	pthread_t   th;
	int         started;
	struct job *job;
};

struct job {
	const reenc_opts *o;
	size_t            batch;
	struct member    *mem;
	size_t            nmem, alive;
	struct slot      *slots;
	size_t            nslots;
	pthread_mutex_t   lock;
	pthread_cond_t    cv;
	int               stop;
	hsm_rc            werr;
	char              wmsg[MSG_MAX];
	uint8_t           mkvp[HSM_VP_LEN];
	/* the file being worked on */
	FILE             *in;
	char             *line;         /* the reader's line buffer */
	size_t            linecap;
	EVP_MD_CTX       *md;
	int               outfd, failfd, jfd;
	uint64_t          lines, inbytes, ok, failed, outbytes, failbytes;
	uint64_t          batches, total, start_lines;
	uint64_t          rlines;       /* lines read (ahead of lines: pipelined) */
	reenc_summary    *fsum;
	/* test-only crash point */
	long              crash_batch;
	char              crash_phase[16];
	double            t0, last;
};

void
reenc_summary_add_reason(reenc_summary *s, const char *reason, uint64_t n)
{
	size_t i;

	for (i = 0; i < s->nreasons; i++)
		if (strcmp(s->reasons[i].reason, reason) == 0)
			break;
	if (i == s->nreasons) {
		if (s->nreasons == REENC_REASONS_MAX)
			i = REENC_REASONS_MAX - 1;   /* the last one collects the rest */
		else
			snprintf(s->reasons[s->nreasons++].reason, REENC_REASON_MAX, "%s", reason);
	}
	s->reasons[i].n += n;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- members ------------------------------------------------------------- */

/* The target register's MKVP of one member; it must hold a whole key. */
static hsm_rc
member_target(struct member *m, const char *to, uint8_t mkvp[HSM_VP_LEN])
{
	json_t *st = NULL, *reg;
	const char *state, *hex;
	hsm_rc rc;

	if ((rc = moddrv_query(m->drv, m->domain, &st)) != HSM_OK)
		return hsm_fail_wrap(rc, "%s", m->name);
	reg = json_object_get(json_object_get(st, "registers"), to);
	state = json_string_value(json_object_get(reg, "state"));
	hex = json_string_value(json_object_get(reg, "mkvp"));
	if (state == NULL || strcmp(state, strcmp(to, "pending") == 0 ? "committed" : "valid") != 0)
		rc = hsm_fail(HSM_ERR_STATE, "%s: the %s register is %s, not %s; nothing was sent",
		              m->name, to, state ? state : "unknown",
		              strcmp(to, "pending") == 0 ? "committed" : "valid");
	else if (hex == NULL || hex_decode_into(hex, mkvp, HSM_VP_LEN) != HSM_OK)
		rc = hsm_fail(HSM_ERR_FORMAT, "%s: the %s register's MKVP does not parse", m->name, to);
	json_decref(st);
	return rc;
}

static void
members_close(struct job *j)
{
	size_t i;

	for (i = 0; j->mem != NULL && i < j->nmem; i++)
		moddrv_free(&j->mem[i].drv);
	free(j->mem);
	j->mem = NULL;
}

/* One connection per member (not per module), so that the members of one
 * module work in parallel too; then every member's target MKVP must agree. */
static hsm_rc
members_open(struct job *j)
{
	const reenc_opts *o = j->o;
	wsc_member *wm = NULL, one;
	uint8_t vp[HSM_VP_LEN];
	size_t n = 1, i, conns = o->conns ? o->conns : REENC_CONNS_DEFAULT;
	int tmo = o->timeout_ms > 0 ? o->timeout_ms : 30000;
	hsm_rc rc;

	if (o->group != NULL) {
		if ((rc = wsconfig_group_find(o->cfg, o->group, &wm, &n)) != HSM_OK)
			return rc;
	} else {
		one.module = o->module;
		one.domain = o->domain;
	}
	if (n == 0 || (j->mem = calloc(n * conns, sizeof(*j->mem))) == NULL) {
		free(wm);
		return hsm_fail(n ? HSM_ERR_NOMEM : HSM_ERR_STATE, n ? "out of memory" : "the group has no members");
	}
	j->nmem = n * conns;
	for (i = 0; i < j->nmem; i++) {
		const wsc_member *m = wm ? &wm[i / conns] : &one;
		struct member *x = &j->mem[i];
		x->domain = m->domain;
		x->job = j;
		snprintf(x->name, sizeof(x->name), "module %s domain %u", m->module, m->domain);
		if ((rc = wsconfig_module_open(o->cfg, m->module, tmo, &x->drv)) != HSM_OK) {
			rc = hsm_fail_wrap(rc, "%s", x->name);
			goto out;
		}
		if (!moddrv_has_blob(x->drv)) {
			rc = hsm_fail(HSM_ERR_STATE, "%s: its driver has no blob operations", x->name);
			goto out;
		}
		if ((rc = member_target(x, o->to, vp)) != HSM_OK)
			goto out;
		if (i == 0)
			memcpy(j->mkvp, vp, HSM_VP_LEN);
		else if (!secure_equal(vp, j->mkvp, HSM_VP_LEN)) {
			char a[17], b[17];
			hex_encode_buf(j->mkvp, 8, a);
			hex_encode_buf(vp, 8, b);
			rc = hsm_fail(HSM_ERR_DIVERGED, "the members hold different %s keys (%s: %s..., %s: %s...); compare the group first, nothing was sent",
			              o->to, j->mem[0].name, a, x->name, b);
			goto out;
		}
	}
	rc = HSM_OK;
out:
	free(wm);
	return rc;
}

/* ---- the workers ----------------------------------------------------------- */

/* Each output: a blob, under the target key, with the input's attributes. */
static hsm_rc
check_outputs(struct job *j, struct slot *s)
{
	size_t i, k = 0, f = 0;

	for (i = 0; i < s->n; i++) {
		const uint8_t *in = s->in + i * BLOB_LEN, *out;
		if (f < s->nfail && s->fails[f].index == i) {
			f++;
			continue;
		}
		out = s->out + k++ * BLOB_LEN;
		if (blob_parse(out, BLOB_LEN, NULL) != HSM_OK ||
		    !secure_equal(out + 4, j->mkvp, BLOB_PREFIX_LEN) ||
		    memcmp(out + 12, in + 12, BLOB_HDR_LEN - 12) != 0)
			return hsm_fail(HSM_ERR_VERIFY, "the re-enciphered blob of input line %" PRIu64 " is not under the target key or lost its attributes",
			                s->lineno[i]);
	}
	return HSM_OK;
}

static struct slot *
pick_ready(struct job *j)
{
	struct slot *best = NULL;
	size_t i;

	for (i = 0; i < j->nslots; i++)
		if (j->slots[i].state == S_READY && (best == NULL || j->slots[i].seq < best->seq))
			best = &j->slots[i];
	return best;
}

static void *
worker(void *arg)
{
	struct member *m = arg;
	struct job *j = m->job;
	uint8_t vp[HSM_VP_LEN];
	struct slot *s;
	hsm_rc rc;

	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!j->stop && (s = pick_ready(j)) == NULL)
			pthread_cond_wait(&j->cv, &j->lock);
		if (j->stop)
			break;
		s->state = S_BUSY;
		pthread_mutex_unlock(&j->lock);
		rc = moddrv_blob_reencipher(m->drv, m->domain, j->o->to, s->in, s->n, s->out,
		                            &s->nok, s->fails, &s->nfail, vp);
		if (rc == HSM_OK && !secure_equal(vp, j->mkvp, HSM_VP_LEN))
			rc = hsm_fail(HSM_ERR_VERIFY, "it re-enciphered under another key than the target");
		if (rc == HSM_OK)
			rc = check_outputs(j, s);
		pthread_mutex_lock(&j->lock);
		if (rc == HSM_OK) {
			s->state = S_DONE;
			pthread_cond_broadcast(&j->cv);
			continue;
		}
		/* This member is done for; another one takes the batch. */
		s->state = S_READY;
		j->werr = rc;
		snprintf(j->wmsg, sizeof(j->wmsg), "%s: %s", m->name, hsm_errmsg());
		j->alive--;
		pthread_cond_broadcast(&j->cv);
		break;
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* ---- reading --------------------------------------------------------------- */

static void
slot_free(struct slot *s)
{
	free(s->in);
	free(s->out);
	free(s->ids);
	free(s->lineno);
	free(s->badline);
	free(s->fails);
}

static hsm_rc
slots_new(struct job *j)
{
	size_t i, b = j->batch;

	/* Two batches per member in flight: each member has its next one ready
	 * while the writer keeps input order. Memory is flat in the input. */
	j->nslots = 2 * j->nmem;
	if ((j->slots = calloc(j->nslots, sizeof(*j->slots))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (i = 0; i < j->nslots; i++) {
		struct slot *s = &j->slots[i];
		if ((s->in = malloc(b * BLOB_LEN)) == NULL || (s->out = malloc(b * BLOB_LEN)) == NULL ||
		    (s->ids = malloc(b * (BLOB_ID_MAX + 1))) == NULL ||
		    (s->lineno = malloc(b * sizeof(uint64_t))) == NULL ||
		    (s->badline = malloc(b * sizeof(uint64_t))) == NULL ||
		    (s->fails = malloc(b * sizeof(moddrv_blob_fail))) == NULL)
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	}
	return HSM_OK;
}

/* The next line of the input (with its '\n', if any) and its length;
 * HSM_ERR_NOT_FOUND at the end. */
static hsm_rc
next_line(struct job *j, char **line, size_t *cap, size_t *len)
{
	ssize_t r;

	errno = 0;
	if ((r = getline(line, cap, j->in)) < 0) {
		if (ferror(j->in))
			return hsm_fail(HSM_ERR_IO, "cannot read the input: %s", strerror(errno));
		return HSM_ERR_NOT_FOUND;
	}
	*len = (size_t)r;
	if (EVP_DigestUpdate(j->md, *line, *len) != 1)
		return hsm_fail(HSM_ERR_CRYPTO, "SHA-256 failed");
	return HSM_OK;
}

/* Fill a batch with the next lines: up to batch blobs (or batch lines that
 * are not blobs). *eof at the end of the input. */
static hsm_rc
fill(struct job *j, struct slot *s, int *eof)
{
	size_t len;
	hsm_rc rc;

	s->n = s->nbad = s->nok = s->nfail = 0;
	s->lines = s->inbytes = s->blank = 0;
	while (s->n < j->batch && s->nbad < j->batch) {
		if ((rc = next_line(j, &j->line, &j->linecap, &len)) == HSM_ERR_NOT_FOUND) {
			*eof = 1;
			break;
		}
		if (rc != HSM_OK)
			return rc;
		s->lines++;
		j->rlines++;
		s->inbytes += len;
		if (len > 0 && j->line[len - 1] == '\n')
			len--;
		if (len == 0 || (len == 1 && j->line[0] == '\r')) {
			s->blank++;   /* blank lines are not blobs, and not failures */
			continue;
		}
		if (len > LINE_MAX_BYTES ||
		    blob_line_parse(j->line, len, s->in + s->n * BLOB_LEN,
		                    s->ids + s->n * (BLOB_ID_MAX + 1)) != HSM_OK) {
			s->badline[s->nbad++] = j->rlines;
			continue;
		}
		s->lineno[s->n++] = j->rlines;
	}
	return HSM_OK;
}

/* ---- writing, in input order ----------------------------------------------- */

/* Test-only: die like kill -9 at a chosen point of the B-th commit. */
static void
crash_point(struct job *j, const char *phase)
{
	if (j->crash_batch > 0 && (long)j->batches + 1 == j->crash_batch &&
	    strcmp(j->crash_phase, phase) == 0)
		raise(SIGKILL);
}

static hsm_rc
fail_line(struct job *j, char **buf, size_t *len, size_t *cap, uint64_t lineno,
          const uint8_t *blob, const char *id, const char *reason, const char *prefix)
{
	char b64[BLOB_B64_LEN + 1], *text = NULL;
	json_t *o;
	size_t n = 0;
	hsm_rc rc;

	o = json_pack("{s:I, s:s}", "line", (json_int_t)lineno, "reason", reason);
	if (o != NULL && blob != NULL) {
		blob_b64_encode(blob, 1, b64);
		json_object_set_new(o, "blob", json_string(b64));
		json_object_set_new(o, "prefix", json_string(prefix));
		if (id != NULL && *id != '\0')
			json_object_set_new(o, "id", json_string(id));
	}
	if (o == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	rc = cjson_dump(o, &text, &n);
	json_decref(o);
	if (rc != HSM_OK)
		return rc;
	if (*len + n + 1 > *cap) {
		char *p = realloc(*buf, (*cap = 2 * (*len + n + 1)));
		if (p == NULL) {
			free(text);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
		*buf = p;
	}
	memcpy(*buf + *len, text, n);
	(*buf)[*len + n] = '\n';
	*len += n + 1;
	free(text);
	reenc_summary_add_reason(j->fsum, reason, 1);
	return HSM_OK;
}

/* The output lines and failure lines of one batch. */
static hsm_rc
render(struct job *j, struct slot *s, char *obuf, size_t *olen, char **fbuf, size_t *flen,
       size_t *fcap)
{
	size_t i, k = 0, f = 0;
	char hex[2 * BLOB_PREFIX_LEN + 1];
	hsm_rc rc;

	*olen = *flen = 0;
	for (i = 0; i < s->nbad; i++)
		if ((rc = fail_line(j, fbuf, flen, fcap, s->badline[i], NULL, NULL, "bad_line", NULL)) != HSM_OK)
			return rc;
	for (i = 0; i < s->n; i++) {
		const char *id = s->ids + i * (BLOB_ID_MAX + 1);
		if (f < s->nfail && s->fails[f].index == i) {
			blob_prefix_hex(s->in + i * BLOB_LEN + 4, hex);
			if ((rc = fail_line(j, fbuf, flen, fcap, s->lineno[i], s->in + i * BLOB_LEN, id,
			                    s->fails[f].reason, hex)) != HSM_OK)
				return rc;
			f++;
			continue;
		}
		*olen += blob_line_format(s->out + k++ * BLOB_LEN, id, obuf + *olen);
	}
	return HSM_OK;
}

static hsm_rc
journal_line(struct job *j, const char *what)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
	                 " %" PRIu64 " %" PRIu64 "\n", what, j->lines, j->inbytes, j->ok,
	                 j->failed, j->outbytes, j->failbytes);
	hsm_rc rc;

	if (j->crash_batch > 0 && (long)j->batches + 1 == j->crash_batch &&
	    strcmp(j->crash_phase, "tornjournal") == 0) {
		(void)hsm_write_all(j->jfd, line, (size_t)n / 2);
		raise(SIGKILL);
	}
	if ((rc = hsm_write_all(j->jfd, line, (size_t)n)) != HSM_OK)
		return rc;
	if (fdatasync(j->jfd) != 0)
		return hsm_fail(HSM_ERR_IO, "cannot sync the journal: %s", strerror(errno));
	return HSM_OK;
}

/* Output first, made durable, then the journal line that counts it: a kill
 * in between leaves output the journal does not count, cut off at resume. */
static hsm_rc
commit(struct job *j, struct slot *s, char *obuf, char **fbuf, size_t *fcap)
{
	size_t olen, flen;
	hsm_rc rc;

	if ((rc = render(j, s, obuf, &olen, fbuf, &flen, fcap)) != HSM_OK)
		return rc;
	if (strcmp(j->crash_phase, "torn") == 0) {
		if (j->crash_batch > 0 && (long)j->batches + 1 == j->crash_batch) {
			(void)hsm_write_all(j->outfd, obuf, olen / 2);
			raise(SIGKILL);
		}
	}
	if ((rc = hsm_write_all(j->outfd, obuf, olen)) != HSM_OK ||
	    (flen > 0 && (rc = hsm_write_all(j->failfd, *fbuf, flen)) != HSM_OK))
		return hsm_fail_wrap(rc, "writing the output");
	crash_point(j, "out");
	if (fdatasync(j->outfd) != 0 || (flen > 0 && fdatasync(j->failfd) != 0))
		return hsm_fail(HSM_ERR_IO, "cannot sync the output: %s", strerror(errno));
	j->lines += s->lines;
	j->inbytes += s->inbytes;
	j->ok += s->n - s->nfail;
	j->failed += s->nfail + s->nbad;
	j->outbytes += olen;
	j->failbytes += flen;
	if ((rc = journal_line(j, "done")) != HSM_OK)
		return rc;
	crash_point(j, "journal");
	j->batches++;
	return HSM_OK;
}

/* ---- progress ---------------------------------------------------------------- */

static void
progress(struct job *j, int final)
{
	FILE *fp = j->o->progress;
	int tty = fp != NULL && isatty(fileno(fp));
	double t = now_s(), el = t - j->t0, rate;
	uint64_t done = j->lines - j->start_lines;
	char left[32] = "?";

	if (fp == NULL || (!final && t - j->last < (tty ? 0.25 : 5.0)))
		return;
	j->last = t;
	rate = el > 0 ? (double)done / el : 0;
	if (j->total > 0 && rate > 0) {
		double s = (double)(j->total - j->lines) / rate;
		snprintf(left, sizeof(left), "%dm%02ds", (int)(s / 60), (int)s % 60);
	}
	if (j->total == 0)
		fprintf(fp, tty ? "\r  %" PRIu64 " lines  %.0f/s   %s" : "reencipher: %" PRIu64 " lines, %.0f/s%s\n",
		        j->lines, rate, tty && final ? "\n" : "");
	else if (tty)
		fprintf(fp, "\r  %" PRIu64 " of %" PRIu64 " lines  %.0f/s  %s left   %s",
		        j->lines, j->total, rate, left, final ? "\n" : "");
	else
		fprintf(fp, "reencipher: %" PRIu64 " of %" PRIu64 " lines, %.0f/s, %s left\n",
		        j->lines, j->total, rate, left);
	fflush(fp);
}

/* ---- the pump: read, hand out, write back in order ----------------------------- */

static struct slot *
slot_state(struct job *j, int state, int by_seq, uint64_t seq)
{
	size_t i;

	for (i = 0; i < j->nslots; i++)
		if ((by_seq ? j->slots[i].state != S_FREE && j->slots[i].seq == seq
		            : j->slots[i].state == state))
			return &j->slots[i];
	return NULL;
}

static hsm_rc
pump(struct job *j)
{
	uint64_t next_seq = 0, next_write = 0;
	char *obuf = NULL, *fbuf = NULL;
	size_t fcap = 0;
	struct slot *s;
	int eof = 0;
	hsm_rc rc = HSM_OK;

	if ((obuf = malloc(j->batch * BLOB_LINE_MAX)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!eof && (s = slot_state(j, S_FREE, 0, 0)) != NULL) {
			pthread_mutex_unlock(&j->lock);
			rc = fill(j, s, &eof);
			pthread_mutex_lock(&j->lock);
			if (rc != HSM_OK)
				goto out;
			if (s->lines == 0)
				break;
			s->seq = next_seq++;
			/* A batch of lines that are no blobs needs no module. */
			s->state = s->n > 0 ? S_READY : S_DONE;
			pthread_cond_broadcast(&j->cv);
		}
		if (next_write == next_seq && eof)
			break;
		s = slot_state(j, 0, 1, next_write);
		if (s == NULL || s->state != S_DONE) {
			if (j->alive == 0) {
				rc = hsm_fail(j->werr, "no member can re-encipher any more; the job can be resumed: %s",
				              j->wmsg);
				goto out;
			}
			pthread_cond_wait(&j->cv, &j->lock);
			continue;
		}
		pthread_mutex_unlock(&j->lock);
		rc = commit(j, s, obuf, &fbuf, &fcap);
		progress(j, 0);
		pthread_mutex_lock(&j->lock);
		if (rc != HSM_OK)
			goto out;
		s->state = S_FREE;
		next_write++;
	}
out:
	pthread_mutex_unlock(&j->lock);
	free(obuf);
	free(fbuf);
	return rc;
}

static hsm_rc
workers_start(struct job *j)
{
	size_t i;

	j->stop = 0;
	for (i = 0; i < j->nmem; i++) {
		if (hsm_thread_start(&j->mem[i].th, worker, &j->mem[i], 0) != HSM_OK)
			return HSM_ERR_NOMEM;
		j->mem[i].started = 1;
		j->alive++;
	}
	return HSM_OK;
}

static void
workers_stop(struct job *j)
{
	size_t i;

	pthread_mutex_lock(&j->lock);
	j->stop = 1;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->lock);
	for (i = 0; j->mem != NULL && i < j->nmem; i++)
		if (j->mem[i].started) {
			pthread_join(j->mem[i].th, NULL);
			j->mem[i].started = 0;
		}
}

/* ---- the journal ------------------------------------------------------------- */

/* The last whole, valid "done"/"end" line of a journal and where it ends. */
static hsm_rc
journal_parse(struct job *j, const char *buf, size_t len, const char *jpath, size_t *valid,
              int *ended)
{
	char to[16], hex[2 * HSM_VP_LEN + 1], want[2 * HSM_VP_LEN + 1];
	const char *p = buf, *nl;
	unsigned long long v[6];
	char what[8];

	*ended = 0;
	nl = memchr(p, '\n', len);
	if (nl == NULL || sscanf(p, JOURNAL_MAGIC " to=%15s mkvp=%64s", to, hex) != 2)
		return hsm_fail(HSM_ERR_FORMAT, "%s is not a re-encipher journal", jpath);
	hex_encode_buf(j->mkvp, HSM_VP_LEN, want);
	if (strcmp(to, j->o->to) != 0 || strcmp(hex, want) != 0)
		return hsm_fail(HSM_ERR_STATE, "%s belongs to a job re-enciphering to the %s key %.16s...; the target is now the %s key %.16s... Remove the journal and the outputs to start over",
		                jpath, to, hex, j->o->to, want);
	*valid = (size_t)(nl + 1 - buf);
	for (p = nl + 1; (nl = memchr(p, '\n', len - (size_t)(p - buf))) != NULL; p = nl + 1) {
		if (sscanf(p, "%7s %llu %llu %llu %llu %llu %llu", what, &v[0], &v[1], &v[2], &v[3],
		           &v[4], &v[5]) != 7 || (strcmp(what, "done") != 0 && strcmp(what, "end") != 0))
			break;
		j->lines = v[0];
		j->inbytes = v[1];
		j->ok = v[2];
		j->failed = v[3];
		j->outbytes = v[4];
		j->failbytes = v[5];
		*ended = strcmp(what, "end") == 0;
		*valid = (size_t)(nl + 1 - buf);
	}
	return HSM_OK;
}

/* Open (creating) one output, cut back to the size the journal counts. */
static hsm_rc
open_cut(const char *path, uint64_t size, int fresh, int *fd)
{
	struct stat st;

	if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (fresh ? O_EXCL : 0), 0600)) < 0)
		return hsm_fail(errno == EEXIST ? HSM_ERR_EXISTS : HSM_ERR_IO,
		                errno == EEXIST ? "%s exists but no journal says how it was made; remove it or move it away"
		                                : "cannot open %s: %s", path, strerror(errno));
	if (fstat(*fd, &st) != 0 || (uint64_t)st.st_size < size)
		return hsm_fail(HSM_ERR_STATE, "%s is shorter than its journal says: it was changed; remove it and its journal to start over",
		                path);
	if (ftruncate(*fd, (off_t)size) != 0 || lseek(*fd, 0, SEEK_END) < 0 || fsync(*fd) != 0)
		return hsm_fail(HSM_ERR_IO, "cannot cut %s back: %s", path, strerror(errno));
	return HSM_OK;
}

/* The reasons of the failures earlier runs wrote, for the summary. */
static void
count_old_failures(struct job *j, const char *fpath)
{
	FILE *f = fopen(fpath, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while (f != NULL && (n = getline(&line, &cap, f)) > 0) {
		json_t *o = json_loadb(line, (size_t)n, 0, NULL);
		const char *why = json_string_value(json_object_get(o, "reason"));
		reenc_summary_add_reason(j->fsum, why ? why : "unknown", 1);
		json_decref(o);
	}
	free(line);
	if (f != NULL)
		fclose(f);
}

struct paths {
	char out[WSC_PATH_MAX], fail[WSC_PATH_MAX], journal[WSC_PATH_MAX];
};

/* Start or resume: the journal first (made durable with its folder), then
 * the outputs, cut back to what it counts. *ended: the file is finished. */
static hsm_rc
journal_open(struct job *j, const struct paths *p, int *ended)
{
	char *buf = NULL, head[200];
	size_t len = 0, valid = 0;
	int fresh = 0, n;
	hsm_rc rc;

	*ended = 0;
	rc = hsm_file_read(p->journal, (size_t)1 << 30, &buf, &len);
	if (rc == HSM_ERR_NOT_FOUND) {
		char hex[2 * HSM_VP_LEN + 1];
		fresh = 1;
		hex_encode_buf(j->mkvp, HSM_VP_LEN, hex);
		n = snprintf(head, sizeof(head), JOURNAL_MAGIC " to=%s mkvp=%s\n", j->o->to, hex);
		if ((j->jfd = open(p->journal, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
		                   0600)) < 0)
			return hsm_fail(HSM_ERR_IO, "cannot create %s: %s", p->journal, strerror(errno));
		if ((rc = hsm_write_all(j->jfd, head, (size_t)n)) != HSM_OK || fsync(j->jfd) != 0 ||
		    (rc = hsm_fsync_dir_of(p->journal)) != HSM_OK)
			return rc != HSM_OK ? rc : hsm_fail(HSM_ERR_IO, "cannot sync %s", p->journal);
	} else if (rc != HSM_OK) {
		return rc;
	} else {
		rc = journal_parse(j, buf, len, p->journal, &valid, ended);
		free(buf);
		if (rc != HSM_OK)
			return rc;
		/* A torn last line (killed while writing it) is cut off. */
		if ((j->jfd = open(p->journal, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0 ||
		    ftruncate(j->jfd, (off_t)valid) != 0)
			return hsm_fail(HSM_ERR_IO, "cannot open %s: %s", p->journal, strerror(errno));
	}
	if ((rc = open_cut(p->out, j->outbytes, fresh, &j->outfd)) != HSM_OK ||
	    (rc = open_cut(p->fail, j->failbytes, 0, &j->failfd)) != HSM_OK ||
	    (fresh && (rc = hsm_fsync_dir_of(p->out)) != HSM_OK))
		return rc;
	if (!fresh)
		count_old_failures(j, p->fail);
	return HSM_OK;
}

/* Read again the lines earlier runs did: the same count must give the
 * same number of bytes, else the input is not the one the journal is for. */
static hsm_rc
skip_done(struct job *j)
{
	uint64_t want = j->lines, bytes = 0, n;
	char *line = NULL;
	size_t cap = 0, len;
	hsm_rc rc = HSM_OK;

	for (n = 0; n < want; n++) {
		if ((rc = next_line(j, &line, &cap, &len)) != HSM_OK)
			break;
		bytes += len;
	}
	free(line);
	if (rc == HSM_ERR_NOT_FOUND || (rc == HSM_OK && bytes != j->inbytes))
		rc = hsm_fail(HSM_ERR_STATE, "the input is not the one the journal was made for (its first %" PRIu64 " lines differ); give the same input, or remove the journal and the outputs to start over",
		              want);
	return rc;
}

static uint64_t
count_lines(const char *path)
{
	char buf[65536];
	uint64_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	while (fd >= 0 && (r = read(fd, buf, sizeof(buf))) > 0) {
		char *p = buf, *e = buf + r;
		while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
			n++;
			p++;
		}
	}
	if (fd >= 0)
		close(fd);
	return n;
}

static hsm_rc
digest_file(const char *path, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char buf[65536];
	ssize_t r = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	hsm_rc rc = HSM_OK;

	if (md == NULL || fd < 0 || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		rc = hsm_fail(HSM_ERR_IO, "cannot read %s", path);
	while (rc == HSM_OK && (r = read(fd, buf, sizeof(buf))) > 0)
		if (EVP_DigestUpdate(md, buf, (size_t)r) != 1)
			rc = hsm_fail(HSM_ERR_CRYPTO, "SHA-256 failed");
	if (rc == HSM_OK && (r < 0 || EVP_DigestFinal_ex(md, out, NULL) != 1))
		rc = hsm_fail(HSM_ERR_IO, "cannot read %s", path);
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(md);
	return rc;
}

static void
file_close(struct job *j)
{
	if (j->in != NULL && j->in != stdin)
		fclose(j->in);
	j->in = NULL;
	if (j->outfd >= 0)
		close(j->outfd);
	if (j->failfd >= 0)
		close(j->failfd);
	if (j->jfd >= 0)
		close(j->jfd);
	j->outfd = j->failfd = j->jfd = -1;
	EVP_MD_CTX_free(j->md);
	j->md = NULL;
}

/* ---- one input file, a folder, the job ------------------------------------------ */

static hsm_rc
run_file(struct job *j, const char *input, const struct paths *p, reenc_summary *fs)
{
	char *line = NULL;
	size_t cap = 0, len;
	int ended = 0;
	hsm_rc rc;

	memset(fs, 0, sizeof(*fs));
	j->fsum = fs;
	j->lines = j->inbytes = j->ok = j->failed = j->outbytes = j->failbytes = j->batches = 0;
	j->in = strcmp(input, "-") == 0 ? stdin : fopen(input, "r");
	if (j->in == NULL)
		return hsm_fail(errno == ENOENT ? HSM_ERR_NOT_FOUND : HSM_ERR_IO, "cannot read %s: %s",
		                input, strerror(errno));
	/* 256 KiB reads, not the block size's 4 KiB: a million lines are
	 * 130 MB, and each read is a system call (flat memory all the same). */
	(void)setvbuf(j->in, NULL, _IOFBF, 256 * 1024);
	if ((j->md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(j->md, EVP_sha256(), NULL) != 1) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	if ((rc = journal_open(j, p, &ended)) != HSM_OK || (rc = skip_done(j)) != HSM_OK)
		goto out;
	fs->resumed = j->ok + j->failed;
	j->start_lines = j->rlines = j->lines;
	j->total = j->o->progress != NULL && j->in != stdin ? count_lines(input) : 0;
	j->t0 = j->last = now_s();
	if (!ended) {
		if ((rc = pump(j)) != HSM_OK || (rc = journal_line(j, "end")) != HSM_OK)
			goto out;
		progress(j, 1);
	} else {
		fs->already_done = 1;
		while ((rc = next_line(j, &line, &cap, &len)) == HSM_OK)
			;   /* only for the input's digest */
		if (rc != HSM_ERR_NOT_FOUND)
			goto out;
	}
	if (EVP_DigestFinal_ex(j->md, fs->in_digest, NULL) != 1) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	if ((rc = digest_file(p->out, fs->out_digest)) != HSM_OK)
		goto out;
	fs->in = j->ok + j->failed;
	fs->out = j->ok;
	fs->failed = j->failed;
	fs->files = 1;
	memcpy(fs->target_mkvp, j->mkvp, HSM_VP_LEN);
	snprintf(fs->input, sizeof(fs->input), "%s", input);
	snprintf(fs->output, sizeof(fs->output), "%s", p->out);
	rc = HSM_OK;
out:
	free(line);
	file_close(j);
	return rc;
}

static int
ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* IN.jsonl -> IN.reenciphered.jsonl, IN.failed.jsonl, and the journal. */
static hsm_rc
paths_for(const char *input, const char *output, struct paths *p)
{
	char base[WSC_PATH_MAX];
	const char *src = output ? output : input;
	size_t n = strlen(src);
	int r1, r2, r3;

	if (output == NULL && ends_with(src, ".jsonl"))
		n -= strlen(".jsonl");
	else if (output != NULL && ends_with(src, ".reenciphered.jsonl"))
		n -= strlen(".reenciphered.jsonl");
	if (n >= sizeof(base))
		return hsm_fail(HSM_ERR_USAGE, "path too long: %s", src);
	memcpy(base, src, n);
	base[n] = '\0';
	if (output != NULL)
		r1 = snprintf(p->out, sizeof(p->out), "%s", output);
	else
		r1 = snprintf(p->out, sizeof(p->out), "%s.reenciphered.jsonl", base);
	r2 = snprintf(p->fail, sizeof(p->fail), "%s.failed.jsonl", base);
	r3 = snprintf(p->journal, sizeof(p->journal), "%s.journal", p->out);
	if (r1 < 0 || r2 < 0 || r3 < 0 || (size_t)r1 >= sizeof(p->out) ||
	    (size_t)r2 >= sizeof(p->fail) || (size_t)r3 >= sizeof(p->journal))
		return hsm_fail(HSM_ERR_USAGE, "path too long: %s", src);
	if (strcmp(p->out, input) == 0 || strcmp(p->fail, input) == 0)
		return hsm_fail(HSM_ERR_USAGE, "the output would replace the input %s; never in place", input);
	return HSM_OK;
}

static void
merge(reenc_summary *sum, const reenc_summary *fs)
{
	size_t i;

	sum->in += fs->in;
	sum->out += fs->out;
	sum->failed += fs->failed;
	sum->resumed += fs->resumed;
	sum->already_done = (sum->files == 0 || sum->already_done) && fs->already_done;
	sum->files += fs->files;
	for (i = 0; i < fs->nreasons; i++)
		reenc_summary_add_reason(sum, fs->reasons[i].reason, fs->reasons[i].n);
	memcpy(sum->target_mkvp, fs->target_mkvp, HSM_VP_LEN);
	memcpy(sum->in_digest, fs->in_digest, 32);
	memcpy(sum->out_digest, fs->out_digest, 32);
	memcpy(sum->input, fs->input, sizeof(sum->input));
	memcpy(sum->output, fs->output, sizeof(sum->output));
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static hsm_rc
one_file(struct job *j, const char *input, const char *output, reenc_summary *sum)
{
	reenc_summary fs;
	struct paths p;
	hsm_rc rc;

	if ((rc = paths_for(input, output, &p)) != HSM_OK ||
	    (rc = run_file(j, input, &p, &fs)) != HSM_OK)
		return hsm_fail_wrap(rc, "%s", strcmp(input, "-") == 0 ? "standard input" : input);
	merge(sum, &fs);
	if (j->o->on_file != NULL)
		j->o->on_file(j->o->arg, &fs);
	return HSM_OK;
}

/* Every *.jsonl of a folder that is not an output of this job, by name. */
static hsm_rc
run_dir(struct job *j, const char *dir, reenc_summary *sum)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, **np, path[WSC_PATH_MAX];
	size_t n = 0, i;
	hsm_rc rc = HSM_OK;

	if (d == NULL)
		return hsm_fail(HSM_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (!ends_with(e->d_name, ".jsonl") || ends_with(e->d_name, ".reenciphered.jsonl") ||
		    ends_with(e->d_name, ".failed.jsonl"))
			continue;
		if ((np = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (np[n] = strdup(e->d_name)) == NULL) {
			names = np ? np : names;
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		names = np;
		n++;
	}
	if (n == 0) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "%s holds no .jsonl file of blobs", dir);
		goto out;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n && rc == HSM_OK; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path))
			rc = hsm_fail(HSM_ERR_USAGE, "path too long: %s/%s", dir, names[i]);
		else
			rc = one_file(j, path, NULL, sum);
	}
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

static hsm_rc
opts_check(const reenc_opts *o, struct job *j)
{
	const char *crash = getenv("HSMADM_REENC_CRASH");

	if (o->cfg == NULL || o->to == NULL || o->input == NULL ||
	    (o->group == NULL && o->module == NULL))
		return hsm_fail(HSM_ERR_USAGE, "reencipher: a group (or a module and domain), a target and an input are needed");
	if (strcmp(o->to, "pending") != 0 && strcmp(o->to, "current") != 0)
		return hsm_fail(HSM_ERR_USAGE, "re-encipher to \"pending\" or \"current\", not \"%s\"", o->to);
	if (o->batch > BLOB_BATCH_MAX)
		return hsm_fail(HSM_ERR_USAGE, "a batch is 1 to %d blobs", BLOB_BATCH_MAX);
	if (o->conns > 8)
		return hsm_fail(HSM_ERR_USAGE, "1 to 8 connections per member");
	if (strcmp(o->input, "-") == 0 && o->output == NULL)
		return hsm_fail(HSM_ERR_USAGE, "reading blobs from standard input needs an output file (--output)");
	j->batch = o->batch ? o->batch : REENC_BATCH_DEFAULT;
	if (crash != NULL && sscanf(crash, "%ld:%15s", &j->crash_batch, j->crash_phase) != 2)
		j->crash_batch = 0;
	return HSM_OK;
}

hsm_rc
reencipher_run(const reenc_opts *o, reenc_summary *sum)
{
	struct job j;
	struct stat st;
	double t0 = now_s();
	size_t i;
	hsm_rc rc;

	memset(sum, 0, sizeof(*sum));
	memset(&j, 0, sizeof(j));
	j.o = o;
	j.outfd = j.failfd = j.jfd = -1;
	pthread_mutex_init(&j.lock, NULL);
	pthread_cond_init(&j.cv, NULL);
	if ((rc = opts_check(o, &j)) != HSM_OK)
		goto out;
	if (strcmp(o->input, "-") != 0 && stat(o->input, &st) != 0) {
		rc = hsm_fail(errno == ENOENT ? HSM_ERR_NOT_FOUND : HSM_ERR_IO, "cannot read %s: %s",
		              o->input, strerror(errno));
		goto out;
	}
	if ((rc = members_open(&j)) != HSM_OK || (rc = slots_new(&j)) != HSM_OK ||
	    (rc = workers_start(&j)) != HSM_OK)
		goto out;
	if (strcmp(o->input, "-") == 0)
		rc = one_file(&j, "-", o->output, sum);
	else if (S_ISDIR(st.st_mode))
		rc = run_dir(&j, o->input, sum);
	else
		rc = one_file(&j, o->input, o->output, sum);
out:
	workers_stop(&j);
	members_close(&j);
	for (i = 0; j.slots != NULL && i < j.nslots; i++)
		slot_free(&j.slots[i]);
	free(j.slots);
	free(j.line);
	pthread_mutex_destroy(&j.lock);
	pthread_cond_destroy(&j.cv);
	sum->seconds = now_s() - t0;
	return rc;
}
