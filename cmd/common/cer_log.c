/* SPDX-License-Identifier: BSD-2-Clause */
/* cer_log.c - key-part records in the evidence log (public values only), and
 * the lookups the ceremony commands make in it, over one scan (evscan.h). */
#include <stdio.h>
#include <string.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/evrec.h"
#include "cer.h"
#include "cer_logscan.h"

void
cer_vp_hex(const uint8_t vp[HSM_VP_LEN], char out[2 * HSM_VP_LEN + 1])
{
	hex_encode_buf(vp, HSM_VP_LEN, out);
}

hsm_rc
cer_log_keypart(evlog *log, const char *type, const cer_card *c, const char *part_id,
                const uint8_t kpvp[HSM_VP_LEN], const char *backup_card_id, long long *seq)
{
	/* the custodian whose card it is: the card's holder */
	ev_actor who = { .name = c->prof.holder, .role = "custodian",
	                 .card_id = c->prof.card_id };
	const char *cid = c->prof.card_id, *holder = c->prof.holder;

	if (strcmp(type, EV_KEYPART_GENERATED) == 0)
		return evrec_keypart_generated(log, &who, part_id, kpvp, cid, holder, seq);
	if (strcmp(type, EV_KEYPART_COPIED) == 0)
		return evrec_keypart_copied(log, &who, part_id, kpvp, cid, backup_card_id,
		    holder, seq);
	if (strcmp(type, EV_KEYPART_VERIFIED) == 0)
		return evrec_keypart_verified(log, &who, part_id, kpvp, cid, holder, seq);
	if (strcmp(type, EV_KEYPART_DESTROYED) == 0)
		return evrec_keypart_destroyed(log, &who, part_id, kpvp, cid, holder, seq);
	return hsm_fail(HSM_ERR_USAGE, "cer_log_keypart: %s is not a key-part record", type);
}

hsm_rc
cer_scan_find_part(const evscan *s, const char *path, const char *part_id,
                   struct cer_partrec *rec)
{
	const evscan_part *p = evscan_find_part(s, part_id);

	memset(rec, 0, sizeof(*rec));
	if (p == NULL)
		return hsm_fail(HSM_ERR_NOT_FOUND, "the evidence log %s has no record of key "
		    "part %s being generated", path, part_id);
	if (strlen(p->card_id) > ENVELOPE_ID_MAX)
		return hsm_fail(HSM_ERR_FORMAT, "evidence log %s: record %lld for part %s "
		    "names a card id longer than %d characters", path, p->seq, part_id,
		    ENVELOPE_ID_MAX);
	memcpy(rec->kpvp, p->kpvp, HSM_VP_LEN);
	snprintf(rec->card_id, sizeof(rec->card_id), "%s", p->card_id);
	snprintf(rec->holder, sizeof(rec->holder), "%s", p->holder);
	rec->seq = p->seq;
	return HSM_OK;
}

hsm_rc
cer_log_find_part(const char *path, const char *part_id, struct cer_partrec *rec)
{
	evscan *s = NULL;
	hsm_rc rc;

	memset(rec, 0, sizeof(*rec));
	if ((rc = evscan_path(path, 0, &s)) != HSM_OK)
		return hsm_fail_wrap(rc, "reading the evidence log %s", path);
	rc = cer_scan_find_part(s, path, part_id, rec);
	evscan_free(&s);
	return rc;
}

/* Open (or, unless must_exist, create) the log: a new log's opening record
 * names the ceremony "master key ceremony". */
static hsm_rc
log_open(const char *path, int must_exist, evlog **log)
{
	struct evlog_open_opts oo;
	json_t *actor, *body;
	hsm_rc rc;

	*log = NULL;
	actor = json_pack("{s:s, s:s}", "name", "hsmadm", "role", "system");
	body = json_pack("{s:s}", "ceremony", "master key ceremony");
	if (actor == NULL || body == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&oo, 0, sizeof(oo));
	oo.actor = actor;
	oo.open_body = body;
	oo.must_exist = must_exist;
	oo.sync = EVLOG_SYNC_EACH;
	rc = evlog_open(path, &oo, log);
	if (rc != HSM_OK)
		hsm_fail_wrap(rc, "opening the evidence log %s", path);
out:
	json_decref(actor);
	json_decref(body);
	return rc;
}

hsm_rc
cer_log_open(const char *path, evlog **log)
{
	return log_open(path, 0, log);
}

hsm_rc
cer_log_open_existing(const char *path, evlog **log)
{
	return log_open(path, 1, log);
}

static int
same_parts(const evscan_mkrec *m, const mkload_part *parts, size_t n)
{
	if (m->seq == 0 || m->nparts != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(m->parts[i].part_id, parts[i].part_id) != 0 ||
		    memcmp(m->parts[i].kpvp, parts[i].kpvp, HSM_VP_LEN) != 0)
			return 0;
	return 1;
}

hsm_rc
cer_scan_find_loaded(const evscan *s, const mkload_part *parts, size_t n,
                     uint8_t mkvp[HSM_VP_LEN])
{
	const evscan_mkrec *best = NULL;
	size_t i;

	for (i = 0; i < s->ngroups; i++) {
		const evscan_mkrec *m = &s->groups[i].loaded;
		if (same_parts(m, parts, n) && (best == NULL || m->seq > best->seq))
			best = m;
	}
	if (best == NULL)
		return HSM_ERR_NOT_FOUND;
	/* one key was loaded: every domain must report the same pattern */
	for (i = 1; i < best->ndoms; i++)
		if (memcmp(best->doms[i].mkvp, best->doms[0].mkvp, HSM_VP_LEN) != 0)
			return hsm_fail(HSM_ERR_FORMAT, "evidence log record %lld (mk.loaded): "
			    "%s domain %u and %s domain %u report different MKVPs", best->seq,
			    best->doms[0].module, best->doms[0].domain, best->doms[i].module,
			    best->doms[i].domain);
	memcpy(mkvp, best->doms[0].mkvp, HSM_VP_LEN);
	return HSM_OK;
}

hsm_rc
cer_log_find_loaded(const char *path, const mkload_part *parts, size_t n,
                    uint8_t mkvp[HSM_VP_LEN])
{
	evscan *s = NULL;
	hsm_rc rc;

	if ((rc = evscan_path(path, 0, &s)) != HSM_OK)
		return hsm_fail_wrap(rc, "reading the evidence log %s", path);
	rc = cer_scan_find_loaded(s, parts, n, mkvp);
	evscan_free(&s);
	return rc;
}
