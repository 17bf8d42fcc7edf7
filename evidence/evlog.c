/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evlog.c - the evidence log writer: one locked writer, O_APPEND + fsync per
 * record, hash chain, torn-tail recovery, signed heads (checkpoint and the
 * supervisor's completion).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/fileio.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evtsa.h"
#include "evint.h"

struct evlog {
	int             fd;
	char           *path;
	char           *log_id;
	long long       seq;       /* seq of the last record (0: none) */
	uint8_t         head[32];  /* SHA-256 of the last line, or of the log id */
	off_t           size;      /* bytes of whole records in the file */
	enum evlog_sync sync;
	int             completed; /* the last record is the completion */
	json_t         *last;      /* the record this writer appended last */
	struct ev_cut   tail_cut;  /* the last record on open, if a log.recovered */
	int             tail_is_cut;
};

/* Member names that would only ever hold a secret. Refusing them is a second
 * line of defence behind "the API takes public values only". */
static const char *const secret_names[] = {
	"pin", "puk", "secret", "private_key", "privkey", "clear_part", "clear_key",
	"key_part_value", "mgmt_key", "shared_secret", "password", NULL
};

static hsm_rc
check_no_secret_names(const json_t *v, int depth)
{
	const char *k;
	json_t *m;
	size_t i;

	if (depth > CJSON_MAX_DEPTH)
		return hsm_fail(HSM_ERR_FORMAT, "record nests deeper than %d", CJSON_MAX_DEPTH);
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m) {
			for (i = 0; secret_names[i] != NULL; i++)
				if (strcmp(k, secret_names[i]) == 0)
					return hsm_fail(HSM_ERR_USAGE, "refusing to log a "
					    "member named \"%s\": secrets never enter the "
					    "evidence log", k);
			if (check_no_secret_names(m, depth + 1) != HSM_OK)
				return hsm_errcode();
		}
	} else if (json_is_array(v)) {
		json_array_foreach((json_t *)v, i, m)
			if (check_no_secret_names(m, depth + 1) != HSM_OK)
				return hsm_errcode();
	}
	return HSM_OK;
}

static void
now_rfc3339(char out[32])
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static hsm_rc
check_actor(const json_t *actor)
{
	json_t *n, *r;

	if (!json_is_object(actor))
		return hsm_fail(HSM_ERR_USAGE, "a record's actor must be a JSON object");
	n = json_object_get(actor, "name");
	r = json_object_get(actor, "role");
	if (!json_is_string(n) || json_string_length(n) == 0 ||
	    !json_is_string(r) || json_string_length(r) == 0)
		return hsm_fail(HSM_ERR_USAGE, "a record's actor needs a \"name\" and a "
		    "\"role\" (strings)");
	return HSM_OK;
}

/* Build, write and fsync one record; on any failure the file is cut back to
 * its previous length so that nothing half-written stays. */
static hsm_rc
append_raw(evlog *log, const char *type, const json_t *actor, const json_t *body,
           hsm_signer *signer, long long *seq)
{
	json_t *rec = NULL;
	char *canon = NULL, *line = NULL, tbuf[32], prevhex[65], *sigb64 = NULL;
	size_t clen = 0, siglen = 0;
	uint8_t h[32], *sig = NULL;
	hsm_rc rc;

	if (!ev_is_type_name(type))
		return hsm_fail(HSM_ERR_USAGE, "invalid record type \"%s\"", type ? type : "");
	/* after the completion, only time-stamps of it (evtsa.h) */
	if (log->completed && strcmp(type, EV_LOG_TIMESTAMPED) != 0)
		return hsm_fail(HSM_ERR_STATE, "evidence log %s is completed (the supervisor "
		    "signed it at seq %lld); nothing may be added; start a new log for a new "
		    "ceremony", log->path, log->seq);
	if (!log->completed && strcmp(type, EV_LOG_TIMESTAMPED) == 0)
		return hsm_fail(HSM_ERR_STATE, "evidence log %s has no completion yet; a "
		    "time-stamp covers the completion", log->path);
	if ((rc = check_actor(actor)) != HSM_OK)
		return rc;
	if (!json_is_object(body))
		return hsm_fail(HSM_ERR_USAGE, "a record's body must be a JSON object");
	if ((rc = check_no_secret_names(actor, 0)) != HSM_OK ||
	    (rc = check_no_secret_names(body, 0)) != HSM_OK)
		return rc;
	now_rfc3339(tbuf);
	hex_encode_buf(log->head, 32, prevhex);
	rec = json_pack("{s:I, s:s, s:s, s:O, s:o, s:s}", "seq", (json_int_t)(log->seq + 1),
	    "time", tbuf, "type", type, "actor", (json_t *)actor,
	    "body", json_deep_copy(body), "prev", prevhex);
	if (rec == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory building a record");
		goto out;
	}
	if (signer != NULL) {
		/* Signed head: the signature covers the whole record but itself. */
		if ((rc = ev_head_signed_bytes(rec, &canon, &clen)) != HSM_OK)
			goto out;
		if ((rc = signer_sign(signer, canon, clen, &sig, &siglen)) != HSM_OK) {
			rc = hsm_fail_wrap(rc, "cannot sign the log head with %s",
			    signer_label(signer));
			goto out;
		}
		if ((rc = b64_encode(sig, siglen, &sigb64)) != HSM_OK)
			goto out;
		if (json_object_set_new(json_object_get(rec, "body"), "signature",
		    json_string(sigb64)) != 0) {
			rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
			goto out;
		}
		free(canon);
		canon = NULL;
	}
	if ((rc = cjson_dump(rec, &canon, &clen)) != HSM_OK) {
		/* a body JSON cannot spell is the caller's mistake; memory is not */
		if (rc == HSM_ERR_FORMAT)
			rc = hsm_fail_wrap(HSM_ERR_USAGE, "record of type %s cannot be logged",
			    type);
		goto out;
	}
	if (clen > EVLOG_MAX_LINE) {
		rc = hsm_fail(HSM_ERR_USAGE, "record of type %s is %zu bytes; the limit is %d",
		    type, clen, EVLOG_MAX_LINE);
		goto out;
	}
	if ((line = malloc(clen + 1)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory building a record");
		goto out;
	}
	memcpy(line, canon, clen);
	line[clen] = '\n';
	if ((rc = ev_sha256_2(line, clen + 1, NULL, 0, h)) != HSM_OK)
		goto out;
	if ((rc = hsm_write_all(log->fd, line, clen + 1)) != HSM_OK ||
	    (log->sync == EVLOG_SYNC_EACH && fsync(log->fd) != 0)) {
		if (rc == HSM_OK)
			rc = hsm_fail(HSM_ERR_IO, "cannot flush the evidence log to disk: %s",
			    strerror(errno));
		else
			rc = hsm_fail_wrap(rc, "cannot write to the evidence log %s", log->path);
		if (ftruncate(log->fd, log->size) != 0)
			rc = hsm_fail_wrap(rc, "evidence log %s may end in a torn record "
			    "(it is repaired on the next open)", log->path);
		goto out;
	}
	log->seq++;
	log->completed = strcmp(type, EV_COMPLETION) == 0 ||
	    (log->completed && strcmp(type, EV_LOG_TIMESTAMPED) == 0);
	json_decref(log->last);
	log->last = json_incref(rec);
	memcpy(log->head, h, 32);
	log->size += (off_t)(clen + 1);
	if (seq != NULL)
		*seq = log->seq;
out:
	free(sig);
	free(sigb64);
	free(line);
	free(canon);
	json_decref(rec);
	return rc;
}

hsm_rc
evlog_append(evlog *log, const char *type, const json_t *actor, const json_t *body,
             long long *seq)
{
	if (log == NULL || type == NULL)
		return hsm_fail(HSM_ERR_USAGE, "evlog_append: no log or no type");
	if (strcmp(type, EV_CEREMONY_OPEN) == 0 || strcmp(type, EV_CHECKPOINT) == 0 ||
	    strcmp(type, EV_COMPLETION) == 0 || strcmp(type, EV_LOG_RECOVERED) == 0)
		return hsm_fail(HSM_ERR_USAGE, "records of type %s are written by the log "
		    "itself (evlog_open, evlog_checkpoint, evlog_complete)", type);
	return append_raw(log, type, actor, body, NULL, seq);
}

static json_t *
system_actor(void)
{
	return json_pack("{s:s, s:s}", "name", "hsmadm", "role", "system");
}

static hsm_rc
create_first(evlog *log, const struct evlog_open_opts *o)
{
	json_t *body = NULL, *actor = NULL;
	uint8_t rnd[16];
	char idhex[33];
	hsm_rc rc;

	if (o != NULL && o->log_id != NULL) {
		if (o->log_id[0] == '\0' || strlen(o->log_id) > 128)
			return hsm_fail(HSM_ERR_USAGE, "a log id must be 1 to 128 characters");
		log->log_id = strdup(o->log_id);
	} else {
		if ((rc = crypto_random(rnd, sizeof(rnd))) != HSM_OK)
			return rc;
		hex_encode_buf(rnd, sizeof(rnd), idhex);
		log->log_id = strdup(idhex);
	}
	if (log->log_id == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = crypto_sha256(log->log_id, strlen(log->log_id), log->head)) != HSM_OK)
		return rc;
	log->seq = 0;
	if (o != NULL && o->open_body != NULL) {
		if (!json_is_object(o->open_body))
			return hsm_fail(HSM_ERR_USAGE, "ceremony.open body must be an object");
		body = json_deep_copy(o->open_body);
	} else {
		body = json_object();
	}
	if (body == NULL || json_object_set_new(body, "log_id",
	    json_string(log->log_id)) != 0) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (json_object_get(body, "ceremony") == NULL &&
	    json_object_set_new(body, "ceremony", json_string("unnamed")) != 0) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	actor = (o != NULL && o->actor != NULL) ? json_incref((json_t *)o->actor)
	                                        : system_actor();
	rc = append_raw(log, EV_CEREMONY_OPEN, actor, body, NULL, NULL);
out:
	json_decref(actor);
	json_decref(body);
	return rc;
}

/* Hash the bytes [from, end) of the file. */
static hsm_rc
hash_range(int fd, off_t from, off_t end, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char buf[65536];
	unsigned int olen = 0;
	hsm_rc rc = HSM_OK;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = hsm_fail(HSM_ERR_CRYPTO, "SHA-256 failed");
		goto out;
	}
	while (from < end) {
		size_t want = (size_t)(end - from) < sizeof(buf) ? (size_t)(end - from)
		                                                 : sizeof(buf);
		ssize_t n = pread(fd, buf, want, from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = hsm_fail(HSM_ERR_IO, "cannot read the torn tail of the log");
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			rc = hsm_fail(HSM_ERR_CRYPTO, "SHA-256 failed");
			goto out;
		}
		from += n;
	}
	if (EVP_DigestFinal_ex(ctx, out, &olen) != 1)
		rc = hsm_fail(HSM_ERR_CRYPTO, "SHA-256 failed");
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

static hsm_rc finish_cut(evlog *log, const struct evlog_open_opts *opts,
                         const struct ev_cut *c);

/* Walk the existing log with the reader (which checks the chain; signatures
 * are the verifier's job), find the end of the last whole record, and tell a
 * torn tail (a last line cut short or damaged) from damage further up. */
static hsm_rc
scan_existing(evlog *log, off_t fsize, off_t *good_end)
{
	struct evlog_reader *r = NULL;
	evlog_record rec;
	long long off = 0;
	size_t len = 0;
	int torn = 0;
	hsm_rc rc;

	memset(&rec, 0, sizeof(rec));
	*good_end = 0;
	if ((rc = ev_reader_from_fd(log->fd, &r)) != HSM_OK)
		return rc;
	while ((rc = evlog_reader_next(r, &rec)) == HSM_OK) {
		if (rec.seq == 1) {
			free(log->log_id);
			log->log_id = strdup(json_string_value(json_object_get(rec.body, "log_id")));
			if (log->log_id == NULL) {
				rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
				goto out;
			}
		}
		log->completed = strcmp(rec.type, EV_COMPLETION) == 0 ||
		    (log->completed && strcmp(rec.type, EV_LOG_TIMESTAMPED) == 0);
		log->tail_is_cut = strcmp(rec.type, EV_LOG_RECOVERED) == 0 &&
		    ev_cut_from_json(rec.body, &log->tail_cut) == HSM_OK;
		*good_end = (off_t)(rec.offset + (long long)rec.len + 1);
	}
	log->seq = evlog_reader_seq(r, log->head);
	if (rc == HSM_ERR_NOT_FOUND) {
		rc = HSM_OK;
	} else if (rc == HSM_ERR_FORMAT) {
		/* A crash leaves at most one bad line, the last; records are at
		 * most EVLOG_MAX_LINE bytes, so a longer line is damage too. */
		ev_reader_failure(r, &off, &len, &torn);
		if (torn || (len != EV_LEN_TOO_LONG &&
		    off + (long long)len + 1 >= (long long)fsize))
			rc = HSM_OK;
		else
			rc = hsm_fail_wrap(HSM_ERR_AUDIT, "evidence log %s: the line after "
			    "seq %lld is damaged and is not the last line; run hsmadm-audit "
			    "verify", log->path, log->seq);
	} else if (rc == HSM_ERR_AUDIT) {
		hsm_fail_wrap(rc, "evidence log %s (run hsmadm-audit verify)", log->path);
	}
out:
	evlog_record_clear(&rec);
	evlog_reader_free(&r);
	return rc;
}

/* Append the log.recovered record of a cut, as the log itself. */
static hsm_rc
record_cut(evlog *log, const struct ev_cut *c)
{
	json_t *body = ev_cut_to_json(c), *actor = system_actor();
	hsm_rc rc;

	if (body == NULL || actor == NULL)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	else
		rc = append_raw(log, EV_LOG_RECOVERED, actor, body, NULL, NULL);
	json_decref(body);
	json_decref(actor);
	return rc;
}

/*
 * A torn tail: the machine stopped while a record was being written. The
 * record of what is cut (offset, bytes, their SHA-256) is made durable in
 * the side journal BEFORE anything is cut; then cut, fsync, append
 * log.recovered, drop the journal. A crash or a full disk at any point
 * leaves either the torn tail (nothing cut yet) or the journal (the next
 * evlog_open finishes the record, finish_cut); never an unrecorded cut.
 */
static hsm_rc
cut_tail(evlog *log, const struct evlog_open_opts *opts, off_t fsize)
{
	struct ev_cut c;
	uint8_t lost[32];
	hsm_rc rc;

	if ((rc = hash_range(log->fd, log->size, fsize, lost)) != HSM_OK)
		return rc;
	c.at_offset = (long long)log->size;
	c.lost_bytes = (long long)(fsize - log->size);
	hex_encode_buf(lost, 32, c.lost_sha256);
	if ((rc = ev_journal_write(log->path, &c)) != HSM_OK)
		return rc;
	if (ftruncate(log->fd, log->size) != 0 || fsync(log->fd) != 0)
		return hsm_fail(HSM_ERR_IO, "cannot cut the torn tail of %s: %s (its record "
		    "is kept in %s.recovering; the next open finishes the repair)", log->path,
		    strerror(errno), log->path);
	return finish_cut(log, opts, &c);
}

/* After the cut: append its record unless the log already ends with it
 * (the process stopped between the append and the journal's removal). */
static hsm_rc
finish_cut(evlog *log, const struct evlog_open_opts *opts, const struct ev_cut *c)
{
	hsm_rc rc;

	if (log->tail_is_cut && log->tail_cut.at_offset == c->at_offset &&
	    log->tail_cut.lost_bytes == c->lost_bytes &&
	    strcmp(log->tail_cut.lost_sha256, c->lost_sha256) == 0)
		return ev_journal_done(log->path);
	/* the cut left the log at its offset; or, a log cut to nothing, with
	 * only the new ceremony.open written since */
	if (c->at_offset == 0 && log->seq == 0) {
		if ((rc = create_first(log, opts)) != HSM_OK)
			return rc;
	} else if ((long long)log->size != c->at_offset &&
	           !(c->at_offset == 0 && log->seq == 1)) {
		return hsm_fail(HSM_ERR_AUDIT, "evidence log %s: %s.recovering, the journal "
		    "of an interrupted repair, names a cut at byte %lld, but the log's "
		    "records end at byte %lld; keep both files and run hsmadm-audit verify",
		    log->path, log->path, c->at_offset, (long long)log->size);
	}
	if ((rc = record_cut(log, c)) != HSM_OK)
		return hsm_fail_wrap(rc, "the cut is kept in %s.recovering; the next open of "
		    "the log records it", log->path);
	return ev_journal_done(log->path);
}

hsm_rc
evlog_open(const char *path, const struct evlog_open_opts *opts, evlog **out)
{
	evlog *log = NULL;
	struct stat st;
	off_t good_end = 0;
	struct ev_cut jc;
	int jfound = 0;
	int flags = O_RDWR | O_APPEND | O_CLOEXEC;
	hsm_rc rc = HSM_OK;

	*out = NULL;
	if (path == NULL)
		return hsm_fail(HSM_ERR_USAGE, "evlog_open: no path");
	if (opts == NULL || !opts->must_exist)
		flags |= O_CREAT;
	if (opts != NULL && opts->must_create)
		flags |= O_EXCL;
	if ((log = calloc(1, sizeof(*log))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	log->fd = -1;
	log->sync = opts ? opts->sync : EVLOG_SYNC_EACH;
	if ((log->path = strdup(path)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((log->fd = open(path, flags, 0640)) < 0) {
		if (errno == EEXIST)
			rc = hsm_fail(HSM_ERR_EXISTS, "evidence log %s already exists; "
			    "choose a new file name for a new ceremony", path);
		else if (errno == ENOENT)
			rc = hsm_fail(HSM_ERR_NOT_FOUND, "evidence log %s does not exist", path);
		else
			rc = hsm_fail(HSM_ERR_IO, "cannot open evidence log %s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (flock(log->fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			rc = hsm_fail(HSM_ERR_LOCKED, "evidence log %s is being written by "
			    "another process; wait for it to finish, then run again", path);
		else
			rc = hsm_fail(HSM_ERR_IO, "cannot lock evidence log %s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (fstat(log->fd, &st) != 0) {
		rc = hsm_fail(HSM_ERR_IO, "cannot stat evidence log %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((rc = ev_journal_read(path, &jc, &jfound)) != HSM_OK)
		goto out;
	if (st.st_size > 0 && (rc = scan_existing(log, st.st_size, &good_end)) != HSM_OK)
		goto out;
	log->size = good_end;
	if (good_end < st.st_size)
		rc = cut_tail(log, opts, st.st_size);
	else if (jfound == 1)
		rc = finish_cut(log, opts, &jc);
	else if (jfound < 0)
		rc = hsm_fail(HSM_ERR_AUDIT, "evidence log %s: %s.recovering, the journal of "
		    "an interrupted repair, cannot be read, but the log has no torn tail; keep "
		    "both files, run hsmadm-audit verify, then move the journal away", path,
		    path);
	else if (st.st_size == 0)
		rc = create_first(log, opts);
	if (rc != HSM_OK)
		goto out;
	*out = log;
	log = NULL;
out:
	evlog_close(&log);
	return rc;
}

static hsm_rc
append_head(evlog *log, hsm_signer *s, const json_t *actor, const char *cert_pem,
            const char *type, const char *purpose, long long *seq)
{
	json_t *body = NULL;
	char headhex[65], skihex[65], *pub = NULL;
	uint8_t ski[32];
	EVP_PKEY *pk;
	hsm_rc rc;

	if (log == NULL || s == NULL)
		return hsm_fail(HSM_ERR_USAGE, "signed head: no log or no signer");
	if ((pk = signer_pub(s)) == NULL)
		return hsm_fail(HSM_ERR_USAGE, "signed head: signer has no public key");
	if ((rc = crypto_ski(pk, ski)) != HSM_OK || (rc = ev_pub_to_hex(pk, &pub)) != HSM_OK)
		goto out;
	hex_encode_buf(log->head, 32, headhex);
	hex_encode_buf(ski, 32, skihex);
	body = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "log_id", log->log_id,
	    "head_seq", (json_int_t)log->seq, "head_hash", headhex, "purpose", purpose,
	    "ski", skihex, "pubkey", pub);
	if (body == NULL || (cert_pem != NULL &&
	    json_object_set_new(body, "cert", json_string(cert_pem)) != 0)) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = append_raw(log, type, actor, body, s, seq);
out:
	free(pub);
	json_decref(body);
	return rc;
}

hsm_rc
evlog_checkpoint(evlog *log, hsm_signer *signer, const json_t *actor,
                 const char *cert_pem, long long *seq)
{
	return append_head(log, signer, actor, cert_pem, EV_CHECKPOINT,
	    EVLOG_HEAD_PURPOSE_CHECKPOINT, seq);
}

hsm_rc
evlog_complete(evlog *log, hsm_signer *supervisor, const json_t *actor,
               const char *cert_pem, long long *seq)
{
	return append_head(log, supervisor, actor, cert_pem, EV_COMPLETION,
	    EVLOG_HEAD_PURPOSE_COMPLETION, seq);
}

void
evlog_head(const evlog *log, long long *seq, uint8_t hash[32])
{
	if (seq != NULL)
		*seq = log->seq;
	if (hash != NULL)
		memcpy(hash, log->head, 32);
}

const char *
evlog_id(const evlog *log)
{
	return log->log_id;
}

hsm_rc
evlog_reader_from_log(evlog *log, evlog_reader **out)
{
	hsm_rc rc;

	*out = NULL;
	if (log == NULL)
		return hsm_fail(HSM_ERR_USAGE, "evlog_reader_from_log: no log");
	/* the writer's own descriptor (pread: its append position is not
	 * moved), up to the records it knows are whole */
	if ((rc = ev_reader_from_fd(log->fd, out)) != HSM_OK)
		return rc;
	ev_reader_set_limit(*out, (long long)log->size);
	return HSM_OK;
}

const json_t *
evlog_last_record(const evlog *log)
{
	return log != NULL ? log->last : NULL;
}

void
evlog_close(evlog **log)
{
	if (log == NULL || *log == NULL)
		return;
	if ((*log)->fd >= 0)
		close((*log)->fd);   /* closing drops the flock */
	free((*log)->path);
	free((*log)->log_id);
	json_decref((*log)->last);
	free(*log);
	*log = NULL;
}
