/* SPDX-License-Identifier: BSD-2-Clause */
/* cer_log.c - key-part records in the evidence log (public values only). */
#include <stdio.h>
#include <string.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/evrec.h"
#include "cer.h"

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
cer_log_find_part(const char *path, const char *part_id, struct cer_partrec *rec)
{
	evlog_reader *r = NULL;
	evlog_record er;
	int found = 0;
	hsm_rc rc;

	memset(&er, 0, sizeof(er));
	memset(rec, 0, sizeof(*rec));
	if ((rc = evlog_reader_open(path, &r)) != HSM_OK)
		return hsm_fail_wrap(rc, "reading the evidence log %s", path);
	while ((rc = evlog_reader_next(r, &er)) == HSM_OK) {
		const char *pid, *kp, *cid, *holder = "";
		json_t *h;

		if (strcmp(er.type, EV_KEYPART_GENERATED) != 0)
			continue;
		if (cjson_get_str(er.body, "part_id", &pid) != HSM_OK || strcmp(pid, part_id) != 0)
			continue;
		if (cjson_get_str(er.body, "card_id", &cid) != HSM_OK ||
		    cjson_get_str(er.body, "kpvp", &kp) != HSM_OK ||
		    hex_decode_into(kp, rec->kpvp, HSM_VP_LEN) != HSM_OK ||
		    strlen(cid) > ENVELOPE_ID_MAX) {
			rc = hsm_fail(HSM_ERR_FORMAT,
			    "evidence log %s: record %lld for part %s is malformed", path, er.seq, part_id);
			goto out;
		}
		if ((h = json_object_get(er.body, "holder")) != NULL && json_is_string(h))
			holder = json_string_value(h);
		snprintf(rec->card_id, sizeof(rec->card_id), "%s", cid);
		snprintf(rec->holder, sizeof(rec->holder), "%s", holder);
		rec->seq = er.seq;
		found = 1;
	}
	if (rc != HSM_ERR_NOT_FOUND) {
		hsm_fail_wrap(rc, "reading the evidence log %s", path);
		goto out;
	}
	rc = HSM_OK;
	if (!found)
		rc = hsm_fail(HSM_ERR_NOT_FOUND,
		    "the evidence log %s has no record of key part %s being generated", path, part_id);
out:
	evlog_record_clear(&er);
	evlog_reader_free(&r);
	return rc;
}

hsm_rc
cer_log_open(const char *path, evlog **log)
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
	oo.sync = EVLOG_SYNC_EACH;
	rc = evlog_open(path, &oo, log);
	if (rc != HSM_OK)
		hsm_fail_wrap(rc, "opening the evidence log %s", path);
out:
	json_decref(actor);
	json_decref(body);
	return rc;
}

static int
same_parts(const json_t *arr, const mkload_part *parts, size_t n)
{
	char hex[2 * HSM_VP_LEN + 1];

	if (!json_is_array(arr) || json_array_size(arr) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		const char *id = json_string_value(json_object_get(e, "part_id"));
		const char *kp = json_string_value(json_object_get(e, "kpvp"));

		hex_encode_buf(parts[i].kpvp, HSM_VP_LEN, hex);
		if (id == NULL || kp == NULL || strcmp(id, parts[i].part_id) != 0 ||
		    strcmp(kp, hex) != 0)
			return 0;
	}
	return 1;
}

hsm_rc
cer_log_find_loaded(const char *path, const mkload_part *parts, size_t n,
                    uint8_t mkvp[HSM_VP_LEN])
{
	evlog_reader *r = NULL;
	evlog_record er;
	int found = 0;
	hsm_rc rc;

	memset(&er, 0, sizeof(er));
	if ((rc = evlog_reader_open(path, &r)) != HSM_OK)
		return hsm_fail_wrap(rc, "reading the evidence log %s", path);
	while ((rc = evlog_reader_next(r, &er)) == HSM_OK) {
		const char *mk;

		if (strcmp(er.type, EV_MK_LOADED) != 0 ||
		    !same_parts(json_object_get(er.body, "parts"), parts, n))
			continue;
		if (cjson_get_str(er.body, "mkvp", &mk) != HSM_OK ||
		    hex_decode_into(mk, mkvp, HSM_VP_LEN) != HSM_OK) {
			rc = hsm_fail(HSM_ERR_FORMAT, "evidence log %s: record %lld is malformed",
			              path, er.seq);
			goto out;
		}
		found = 1;
	}
	if (rc != HSM_ERR_NOT_FOUND) {
		hsm_fail_wrap(rc, "reading the evidence log %s", path);
		goto out;
	}
	rc = found ? HSM_OK : HSM_ERR_NOT_FOUND;
out:
	evlog_record_clear(&er);
	evlog_reader_free(&r);
	return rc;
}
