/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evrec.c - the typed record writers (evrec.h). Each checks its C arguments,
 * builds the body as docs/formats/evidence.md describes it and appends it
 * with evlog_append; the record-type names live here and in evlog.h only.
 */
#include <stdlib.h>
#include <string.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evrec.h"
#include "evint.h"

/* A required string: present and non-empty. */
static hsm_rc
need(const char *what, const char *s)
{
	if (s == NULL || *s == '\0')
		return hsm_fail(HSM_ERR_USAGE, "evidence record: %s is missing; nothing "
		    "was written", what);
	return HSM_OK;
}

/* An optional hex SKI: NULL or 64 lowercase hex digits. */
static hsm_rc
opt_ski(const char *what, const char *s)
{
	if (s != NULL && !ev_is_hex(s, 32))
		return hsm_fail(HSM_ERR_USAGE, "evidence record: %s must be 64 lowercase hex "
		    "digits; nothing was written", what);
	return HSM_OK;
}

/* Set k to the string s when s is not NULL. 0 on success. */
static int
set_opt(json_t *o, const char *k, const char *s)
{
	return s == NULL ? 0 : json_object_set_new(o, k, json_string(s));
}

static int
set_vp(json_t *o, const char *k, const uint8_t vp[EV_VP_LEN])
{
	char hex[2 * EV_VP_LEN + 1];

	hex_encode_buf(vp, EV_VP_LEN, hex);
	return json_object_set_new(o, k, json_string(hex));
}

static json_t *
actor_json(const ev_actor *who)
{
	json_t *a;

	if (who == NULL)
		return NULL;
	if ((a = json_pack("{s:s?, s:s?}", "name", who->name, "role", who->role)) == NULL)
		return NULL;
	if (set_opt(a, "card_id", who->card_id) != 0 || set_opt(a, "ski", who->ski) != 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* Append type with body (stolen; NULL means the caller ran out of memory). */
static hsm_rc
put(evlog *log, const char *type, const ev_actor *who, json_t *body, long long *seq)
{
	json_t *actor = NULL;
	hsm_rc rc;

	if (body == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory building a %s record", type);
	if (log == NULL || who == NULL) {
		rc = hsm_fail(HSM_ERR_USAGE, "evidence record %s: no log or no actor", type);
		goto out;
	}
	if ((rc = need("the actor's name", who->name)) != HSM_OK ||
	    (rc = need("the actor's role", who->role)) != HSM_OK ||
	    (rc = opt_ski("the actor's ski", who->ski)) != HSM_OK)
		goto out;
	if ((actor = actor_json(who)) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory building a %s record", type);
		goto out;
	}
	rc = evlog_append(log, type, actor, body, seq);
	if (rc != HSM_OK)
		hsm_fail_wrap(rc, "recording %s in the evidence log", type);
out:
	json_decref(actor);
	json_decref(body);
	return rc;
}

hsm_rc
evrec_roster(evlog *log, const ev_actor *who, const ev_member *m, size_t n, long long *seq)
{
	json_t *body, *arr, *e;
	size_t i;
	hsm_rc rc;

	if (m == NULL || n == 0)
		return hsm_fail(HSM_ERR_USAGE, "evidence record roster: no members; nothing "
		    "was written");
	for (i = 0; i < n; i++)
		if ((rc = need("a roster member's name", m[i].name)) != HSM_OK ||
		    (rc = need("a roster member's role", m[i].role)) != HSM_OK ||
		    (rc = opt_ski("a roster member's ski", m[i].ski)) != HSM_OK)
			return rc;
	if ((body = json_pack("{s:[]}", "members")) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	arr = json_object_get(body, "members");
	for (i = 0; i < n; i++) {
		e = json_pack("{s:s, s:s}", "name", m[i].name, "role", m[i].role);
		if (e == NULL || set_opt(e, "card_id", m[i].card_id) != 0 ||
		    set_opt(e, "ski", m[i].ski) != 0 || set_opt(e, "pubkey", m[i].pubkey) != 0 ||
		    set_opt(e, "identity", m[i].identity) != 0 ||
		    set_opt(e, "cert", m[i].cert) != 0 ||
		    set_opt(e, "backup_of", m[i].backup_of) != 0 ||
		    json_array_append_new(arr, e) != 0) {
			json_decref(body);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
	}
	return put(log, EV_ROSTER, who, body, seq);
}

hsm_rc
evrec_step_begin(evlog *log, const ev_actor *who, const char *step, const char *title,
                 long long *seq)
{
	json_t *body;
	hsm_rc rc;

	if ((rc = need("the step", step)) != HSM_OK)
		return rc;
	body = json_pack("{s:s}", "step", step);
	if (body != NULL && set_opt(body, "title", title) != 0) {
		json_decref(body);
		body = NULL;
	}
	return put(log, EV_STEP_BEGIN, who, body, seq);
}

hsm_rc
evrec_step_end(evlog *log, const ev_actor *who, const char *step, const char *result,
               long long *seq)
{
	hsm_rc rc;

	if ((rc = need("the step", step)) != HSM_OK || (rc = need("the result", result)) != HSM_OK)
		return rc;
	if (strcmp(result, "ok") != 0 && strcmp(result, "failed") != 0 &&
	    strcmp(result, "skipped") != 0)
		return hsm_fail(HSM_ERR_USAGE, "evidence record step.end: the result must be "
		    "ok, failed or skipped, not \"%.40s\"", result);
	return put(log, EV_STEP_END, who, json_pack("{s:s, s:s}", "step", step, "result",
	    result), seq);
}

hsm_rc
evrec_card_init(evlog *log, const ev_actor *who, const char *card_id, const char *role,
                const char *holder, const char *ski, long long *seq)
{
	json_t *body;
	hsm_rc rc;

	if ((rc = need("the card id", card_id)) != HSM_OK ||
	    (rc = need("the card's role", role)) != HSM_OK ||
	    (rc = opt_ski("the card's ski", ski)) != HSM_OK)
		return rc;
	body = json_pack("{s:s, s:s}", "card_id", card_id, "role", role);
	if (body != NULL && (set_opt(body, "holder", holder) != 0 ||
	    set_opt(body, "ski", ski) != 0)) {
		json_decref(body);
		body = NULL;
	}
	return put(log, EV_CARD_INIT, who, body, seq);
}

hsm_rc
evrec_admin_registered(evlog *log, const ev_actor *who, const char *module, unsigned domain,
                       const char *ski, const char *name, const char *identity,
                       long long *seq)
{
	json_t *body;
	hsm_rc rc;

	if ((rc = need("the module", module)) != HSM_OK || (rc = need("the ski", ski)) != HSM_OK ||
	    (rc = opt_ski("the admin's ski", ski)) != HSM_OK)
		return rc;
	body = json_pack("{s:s, s:I, s:s}", "module", module, "domain", (json_int_t)domain,
	    "ski", ski);
	if (body != NULL && (set_opt(body, "name", name) != 0 ||
	    set_opt(body, "identity", identity) != 0)) {
		json_decref(body);
		body = NULL;
	}
	return put(log, EV_ADMIN_REGISTERED, who, body, seq);
}

/* The command file {body, signatures} and the hex digest of its body. */
static hsm_rc
cmd_file(const admincmd *cmd, json_t **file, char dghex[65])
{
	uint8_t dg[ADMINCMD_DIGEST_LEN];
	hsm_rc rc;

	*file = NULL;
	if (cmd == NULL)
		return hsm_fail(HSM_ERR_USAGE, "evidence record: no command; nothing was written");
	if ((rc = admincmd_digest(cmd, dg)) != HSM_OK ||
	    (rc = admincmd_to_json(cmd, file)) != HSM_OK)
		return rc;
	hex_encode_buf(dg, sizeof(dg), dghex);
	return HSM_OK;
}

hsm_rc
evrec_command_signed(evlog *log, const ev_actor *who, const admincmd *cmd,
                     const uint8_t ski[HSM_SKI_LEN], long long *seq)
{
	json_t *file = NULL, *sig = NULL, *e, *body = NULL;
	char dghex[65], skihex[65];
	size_t i;
	hsm_rc rc;

	if (ski == NULL)
		return hsm_fail(HSM_ERR_USAGE, "evidence record command.signed: no signer SKI");
	if ((rc = cmd_file(cmd, &file, dghex)) != HSM_OK)
		return rc;
	hex_encode_buf(ski, HSM_SKI_LEN, skihex);
	json_array_foreach(json_object_get(file, "signatures"), i, e) {
		const char *s = json_string_value(json_object_get(e, "ski"));
		if (s != NULL && strcmp(s, skihex) == 0)
			sig = e;
	}
	if (sig == NULL) {
		rc = hsm_fail(HSM_ERR_NOT_FOUND, "the command carries no signature by key "
		    "%.16s...; nothing was written", skihex);
		goto out;
	}
	body = json_pack("{s:O, s:s, s:s, s:O}", "command_body", json_object_get(file, "body"),
	    "digest", dghex, "ski", skihex, "signature", json_object_get(sig, "signature"));
	rc = put(log, EV_COMMAND_SIGNED, who, body, seq);
out:
	json_decref(file);
	return rc;
}

hsm_rc
evrec_command_sent(evlog *log, const ev_actor *who, const admincmd *cmd, const char *group,
                   long long *seq)
{
	json_t *file = NULL, *body;
	char dghex[65];
	hsm_rc rc;

	if (group != NULL && (rc = need("the group", group)) != HSM_OK)
		return rc;
	if ((rc = cmd_file(cmd, &file, dghex)) != HSM_OK)
		return rc;
	body = json_pack("{s:o, s:s}", "command", file, "digest", dghex);
	if (body != NULL && set_opt(body, "group", group) != 0) {
		json_decref(body);
		body = NULL;
	}
	return put(log, EV_COMMAND_SENT, who, body, seq);
}

static hsm_rc
check_receipts(const json_t *receipts)
{
	json_t *r;
	size_t i;

	if (!json_is_array(receipts) || json_array_size(receipts) == 0)
		return hsm_fail(HSM_ERR_USAGE, "evidence record command.applied: no receipts "
		    "(a non-empty array); nothing was written");
	json_array_foreach(receipts, i, r)
		if (!json_is_object(r))
			return hsm_fail(HSM_ERR_USAGE, "evidence record command.applied: "
			    "receipt %zu is not an object; nothing was written", i + 1);
	return HSM_OK;
}

hsm_rc
evrec_command_applied(evlog *log, const ev_actor *who, const admincmd *cmd,
                      const json_t *receipts, long long *seq)
{
	json_t *file = NULL;
	char dghex[65];
	hsm_rc rc;

	if ((rc = check_receipts(receipts)) != HSM_OK)
		return rc;
	if ((rc = cmd_file(cmd, &file, dghex)) != HSM_OK)
		return rc;
	return put(log, EV_COMMAND_APPLIED, who, json_pack("{s:o, s:O}", "command", file,
	    "receipts", (json_t *)receipts), seq);
}

hsm_rc
evrec_command_applied_json(evlog *log, const ev_actor *who, const json_t *command,
                           const json_t *receipts, long long *seq)
{
	admincmd *cmd = NULL;
	hsm_rc rc;

	/* Parse it, so that what is recorded is a command the verifier can read. */
	if (!json_is_object(command))
		return hsm_fail(HSM_ERR_USAGE, "evidence record command.applied: no command "
		    "object; nothing was written");
	if ((rc = admincmd_from_json(command, &cmd)) != HSM_OK)
		return hsm_fail_wrap(rc, "evidence record command.applied: nothing was written");
	rc = evrec_command_applied(log, who, cmd, receipts, seq);
	admincmd_free(&cmd);
	return rc;
}

hsm_rc
evrec_domain_baseline(evlog *log, const ev_actor *who, const json_t *receipt,
                      long long *seq)
{
	if (!json_is_object(receipt))
		return hsm_fail(HSM_ERR_USAGE, "evidence record domain.baseline: no receipt "
		    "object; nothing was written");
	return put(log, EV_DOMAIN_BASELINE, who, json_pack("{s:O}", "receipt",
	    (json_t *)receipt), seq);
}

static hsm_rc
keypart(evlog *log, const char *type, const ev_actor *who, const char *part_id,
        const uint8_t kpvp[EV_VP_LEN], const char *card_id, const char *backup,
        const char *holder, long long *seq)
{
	json_t *body;
	hsm_rc rc;

	if ((rc = need("the part id", part_id)) != HSM_OK ||
	    (rc = need("the card id", card_id)) != HSM_OK)
		return rc;
	if (kpvp == NULL)
		return hsm_fail(HSM_ERR_USAGE, "evidence record %s: no KPVP", type);
	if (strcmp(type, EV_KEYPART_COPIED) == 0 &&
	    (rc = need("the backup card id", backup)) != HSM_OK)
		return rc;
	body = json_pack("{s:s, s:s}", "part_id", part_id, "card_id", card_id);
	if (body != NULL && (set_vp(body, "kpvp", kpvp) != 0 ||
	    set_opt(body, "backup_card_id", backup) != 0 ||
	    set_opt(body, "holder", holder) != 0)) {
		json_decref(body);
		body = NULL;
	}
	return put(log, type, who, body, seq);
}

hsm_rc
evrec_keypart_generated(evlog *log, const ev_actor *who, const char *part_id,
                        const uint8_t kpvp[EV_VP_LEN], const char *card_id,
                        const char *holder, long long *seq)
{
	return keypart(log, EV_KEYPART_GENERATED, who, part_id, kpvp, card_id, NULL, holder,
	    seq);
}

hsm_rc
evrec_keypart_copied(evlog *log, const ev_actor *who, const char *part_id,
                     const uint8_t kpvp[EV_VP_LEN], const char *card_id,
                     const char *backup_card_id, const char *holder, long long *seq)
{
	return keypart(log, EV_KEYPART_COPIED, who, part_id, kpvp, card_id, backup_card_id,
	    holder, seq);
}

hsm_rc
evrec_keypart_verified(evlog *log, const ev_actor *who, const char *part_id,
                       const uint8_t kpvp[EV_VP_LEN], const char *card_id,
                       const char *holder, long long *seq)
{
	return keypart(log, EV_KEYPART_VERIFIED, who, part_id, kpvp, card_id, NULL, holder,
	    seq);
}

hsm_rc
evrec_keypart_destroyed(evlog *log, const ev_actor *who, const char *part_id,
                        const uint8_t kpvp[EV_VP_LEN], const char *card_id,
                        const char *holder, long long *seq)
{
	return keypart(log, EV_KEYPART_DESTROYED, who, part_id, kpvp, card_id, NULL, holder,
	    seq);
}

/* The body of an mk.* record (checked first: HSM_ERR_USAGE). */
static hsm_rc
mk_body(const char *type, const char *group, const ev_mkdom *d, size_t n,
        const ev_mkpart *parts, size_t np, json_t **out)
{
	json_t *body = NULL, *arr, *e;
	int same = 1;
	size_t i;
	hsm_rc rc;

	if (d == NULL || n == 0)
		return hsm_fail(HSM_ERR_USAGE, "evidence record %s: no domains; nothing was "
		    "written", type);
	if (group != NULL && (rc = need("the group", group)) != HSM_OK)
		return rc;
	for (i = 0; i < n; i++) {
		if ((rc = need("a domain's module", d[i].module)) != HSM_OK)
			return rc;
		if (memcmp(d[i].mkvp, d[0].mkvp, EV_VP_LEN) != 0)
			same = 0;
	}
	for (i = 0; i < np; i++)
		if ((rc = need("a key part's id", parts[i].part_id)) != HSM_OK)
			return rc;
	if ((body = json_pack("{s:[]}", "domains")) == NULL ||
	    set_opt(body, "group", group) != 0 || (same && set_vp(body, "mkvp", d[0].mkvp) != 0))
		goto nomem;
	arr = json_object_get(body, "domains");
	for (i = 0; i < n; i++) {
		e = json_pack("{s:s, s:I}", "module", d[i].module, "domain",
		    (json_int_t)d[i].domain);
		if (e == NULL || set_vp(e, "mkvp", d[i].mkvp) != 0 ||
		    json_array_append_new(arr, e) != 0)
			goto nomem;
	}
	if (np > 0) {
		if (json_object_set_new(body, "parts", json_array()) != 0)
			goto nomem;
		arr = json_object_get(body, "parts");
		for (i = 0; i < np; i++) {
			e = json_pack("{s:s}", "part_id", parts[i].part_id);
			if (e == NULL || set_vp(e, "kpvp", parts[i].kpvp) != 0 ||
			    json_array_append_new(arr, e) != 0)
				goto nomem;
		}
	}
	*out = body;
	return HSM_OK;
nomem:
	json_decref(body);
	return hsm_fail(HSM_ERR_NOMEM, "out of memory building a %s record", type);
}

static hsm_rc
mk(evlog *log, const char *type, const ev_actor *who, const char *group, const ev_mkdom *d,
   size_t n, const ev_mkpart *parts, size_t np, long long *seq)
{
	json_t *body = NULL;
	hsm_rc rc;

	if ((rc = mk_body(type, group, d, n, parts, np, &body)) != HSM_OK)
		return rc;
	return put(log, type, who, body, seq);
}

hsm_rc
evrec_mk_loaded(evlog *log, const ev_actor *who, const char *group, const ev_mkdom *d,
                size_t n, const ev_mkpart *parts, size_t np, long long *seq)
{
	return mk(log, EV_MK_LOADED, who, group, d, n, parts, np, seq);
}

hsm_rc
evrec_mk_committed(evlog *log, const ev_actor *who, const char *group, const ev_mkdom *d,
                   size_t n, long long *seq)
{
	return mk(log, EV_MK_COMMITTED, who, group, d, n, NULL, 0, seq);
}

hsm_rc
evrec_mk_activated(evlog *log, const ev_actor *who, const char *group, const ev_mkdom *d,
                   size_t n, long long *seq)
{
	return mk(log, EV_MK_ACTIVATED, who, group, d, n, NULL, 0, seq);
}

/* ---- after the ceremony ---- */

/* {"id","sha256"} of a request, or NULL (checked: HSM_ERR_USAGE). */
static hsm_rc
request_json(const ev_request *req, json_t **out)
{
	char hex[65];
	size_t i, len;

	*out = NULL;
	if (req == NULL || req->id == NULL || (len = strlen(req->id)) == 0 || len > 128)
		return hsm_fail(HSM_ERR_USAGE, "evidence record: the request's reference is "
		    "missing or longer than 128 characters; nothing was written");
	for (i = 0; i < len; i++)
		if ((unsigned char)req->id[i] < 0x20 || (unsigned char)req->id[i] > 0x7e)
			return hsm_fail(HSM_ERR_USAGE, "evidence record: the request's reference "
			    "must be printable ASCII; nothing was written");
	hex_encode_buf(req->sha256, 32, hex);
	if ((*out = json_pack("{s:s, s:s}", "id", req->id, "sha256", hex)) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return HSM_OK;
}

/* Add "request" (when req is given, or required) to a body; body stolen on
 * failure. */
static hsm_rc
add_request(json_t **body, const ev_request *req, int required)
{
	json_t *r = NULL;
	hsm_rc rc;

	if (req == NULL && !required)
		return HSM_OK;
	if ((rc = request_json(req, &r)) == HSM_OK &&
	    json_object_set_new(*body, "request", r) != 0)
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (rc != HSM_OK) {
		json_decref(*body);
		*body = NULL;
	}
	return rc;
}

/* An mk.* body with the extra members, appended. */
static hsm_rc
mk_with(evlog *log, const char *type, const ev_actor *who, const char *group,
        const ev_mkdom *d, size_t n, const ev_request *req, int req_required, json_t *extra,
        long long *seq)
{
	json_t *body = NULL;
	hsm_rc rc;

	if ((rc = mk_body(type, group, d, n, NULL, 0, &body)) != HSM_OK ||
	    (rc = add_request(&body, req, req_required)) != HSM_OK)
		goto out;
	if (extra != NULL && json_object_update(body, extra) != 0) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory building a %s record", type);
		goto out;
	}
	rc = put(log, type, who, body, seq);
	body = NULL;
out:
	json_decref(body);
	json_decref(extra);
	return rc;
}

hsm_rc
evrec_rotation_begun(evlog *log, const ev_actor *who, const char *group,
                     const ev_request *req, const uint8_t mkvp_current[EV_VP_LEN],
                     long long *seq)
{
	json_t *body;
	hsm_rc rc;

	if ((rc = need("the group", group)) != HSM_OK)
		return rc;
	if (mkvp_current == NULL)
		return hsm_fail(HSM_ERR_USAGE, "evidence record rotation.begun: the current "
		    "MKVP is missing; nothing was written");
	body = json_pack("{s:s}", "group", group);
	if (body != NULL && set_vp(body, "mkvp_current", mkvp_current) != 0) {
		json_decref(body);
		body = NULL;
	}
	if (body != NULL && (rc = add_request(&body, req, 1)) != HSM_OK)
		return rc;
	return put(log, EV_ROTATION_BEGUN, who, body, seq);
}

hsm_rc
evrec_mk_finalized(evlog *log, const ev_actor *who, const char *group, const ev_mkdom *d,
                   size_t n, const ev_request *req, const char *reencipher, long long *seq)
{
	if (reencipher == NULL || (strcmp(reencipher, "done") != 0 &&
	    strcmp(reencipher, "none") != 0))
		return hsm_fail(HSM_ERR_USAGE, "evidence record mk.finalized: reencipher must be "
		    "\"done\" or \"none\"; nothing was written");
	return mk_with(log, EV_MK_FINALIZED, who, group, d, n, req, 1,
	               json_pack("{s:s}", "reencipher", reencipher), seq);
}

hsm_rc
evrec_mk_backed_out(evlog *log, const ev_actor *who, const char *group, const ev_mkdom *d,
                    size_t n, const ev_request *req, const uint8_t mkvp_set_aside[EV_VP_LEN],
                    long long *seq)
{
	json_t *extra;

	if (mkvp_set_aside == NULL)
		return hsm_fail(HSM_ERR_USAGE, "evidence record mk.backed_out: the MKVP set "
		    "aside is missing; nothing was written");
	if ((extra = json_object()) != NULL && set_vp(extra, "mkvp_set_aside", mkvp_set_aside) != 0) {
		json_decref(extra);
		extra = NULL;
	}
	if (extra == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return mk_with(log, EV_MK_BACKED_OUT, who, group, d, n, req, 1, extra, seq);
}

hsm_rc
evrec_mk_destroyed(evlog *log, const ev_actor *who, const char *group, const ev_mkdom *d,
                   size_t n, const ev_request *req, const ev_cardwipe *c, size_t nc,
                   long long *seq)
{
	json_t *extra = json_pack("{s:[]}", "cards"), *e;
	hsm_rc rc;

	for (size_t i = 0; i < nc; i++) {
		if ((rc = need("a wiped card's id", c[i].card_id)) != HSM_OK ||
		    (rc = need("a wiped part's id", c[i].part_id)) != HSM_OK) {
			json_decref(extra);
			return rc;
		}
		e = json_pack("{s:s, s:s, s:b}", "card_id", c[i].card_id, "part_id", c[i].part_id,
		              "backup", c[i].backup);
		if (extra == NULL || e == NULL ||
		    json_array_append_new(json_object_get(extra, "cards"), e) != 0) {
			json_decref(extra);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
	}
	if (extra == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	return mk_with(log, EV_MK_DESTROYED, who, group, d, n, req, 0, extra, seq);
}

hsm_rc
evrec_group_decommissioned(evlog *log, const ev_actor *who, const char *group,
                           const ev_request *req, const ev_zdom *d, size_t n, long long *seq)
{
	json_t *body, *e;
	hsm_rc rc;

	if ((rc = need("the group", group)) != HSM_OK)
		return rc;
	if (d == NULL || n == 0)
		return hsm_fail(HSM_ERR_USAGE, "evidence record group.decommissioned: no domains; "
		    "nothing was written");
	if ((body = json_pack("{s:s, s:[]}", "group", group, "domains")) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if ((rc = need("a domain's module", d[i].module)) != HSM_OK) {
			json_decref(body);
			return rc;
		}
		e = json_pack("{s:s, s:I, s:I}", "module", d[i].module, "domain",
		              (json_int_t)d[i].domain, "counter", (json_int_t)d[i].counter);
		if (e == NULL || json_array_append_new(json_object_get(body, "domains"), e) != 0) {
			json_decref(body);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
	}
	if ((rc = add_request(&body, req, 1)) != HSM_OK)
		return rc;
	return put(log, EV_GROUP_DECOMMISSIONED, who, body, seq);
}

hsm_rc
evrec_card_disposed(evlog *log, const ev_actor *who, const char *card_id,
                    const char *disposition, const char *holder,
                    const char *const *witnesses, size_t nw, const ev_request *req,
                    long long *seq)
{
	json_t *body, *w;
	hsm_rc rc;

	if ((rc = need("the card id", card_id)) != HSM_OK ||
	    (rc = need("the disposition", disposition)) != HSM_OK)
		return rc;
	if (strcmp(disposition, "wiped-returned") != 0 && strcmp(disposition, "destroyed") != 0 &&
	    strcmp(disposition, "retained") != 0)
		return hsm_fail(HSM_ERR_USAGE, "evidence record card.disposed: the disposition must "
		    "be wiped-returned, destroyed or retained; nothing was written");
	if (nw == 0)
		return hsm_fail(HSM_ERR_USAGE, "evidence record card.disposed: name at least one "
		    "witness; nothing was written");
	body = json_pack("{s:s, s:s, s:[]}", "card_id", card_id, "disposition", disposition,
	                 "witnesses");
	if (body == NULL || set_opt(body, "holder", holder) != 0)
		goto nomem;
	w = json_object_get(body, "witnesses");
	for (size_t i = 0; i < nw; i++) {
		if ((rc = need("a witness", witnesses[i])) != HSM_OK) {
			json_decref(body);
			return rc;
		}
		if (json_array_append_new(w, json_string(witnesses[i])) != 0)
			goto nomem;
	}
	if ((rc = add_request(&body, req, 0)) != HSM_OK)
		return rc;
	return put(log, EV_CARD_DISPOSED, who, body, seq);
nomem:
	json_decref(body);
	return hsm_fail(HSM_ERR_NOMEM, "out of memory building a card.disposed record");
}

hsm_rc
evrec_reencipher(evlog *log, const ev_actor *who, long long done, long long total,
                 const uint8_t *mkvp_from, const uint8_t *mkvp_to, long long *seq)
{
	json_t *body;

	if (done < 0 || total < 0 || done > total)
		return hsm_fail(HSM_ERR_USAGE, "evidence record reencipher.progress: done "
		    "(%lld) must be between 0 and total (%lld)", done, total);
	body = json_pack("{s:I, s:I}", "done", (json_int_t)done, "total", (json_int_t)total);
	if (body != NULL && ((mkvp_from != NULL && set_vp(body, "mkvp_from", mkvp_from) != 0) ||
	    (mkvp_to != NULL && set_vp(body, "mkvp_to", mkvp_to) != 0))) {
		json_decref(body);
		body = NULL;
	}
	return put(log, EV_REENCIPHER, who, body, seq);
}

hsm_rc
evrec_exception(evlog *log, const ev_actor *who, const char *what, const char *reason,
                const char *resolution, const char *const *open_steps, size_t nopen,
                long long *seq)
{
	json_t *body, *arr = NULL;
	size_t i;
	hsm_rc rc;

	if ((rc = need("what happened", what)) != HSM_OK ||
	    (rc = need("the reason", reason)) != HSM_OK)
		return rc;
	for (i = 0; i < nopen; i++)
		if ((rc = need("an open step", open_steps[i])) != HSM_OK)
			return rc;
	body = json_pack("{s:s, s:s}", "what", what, "reason", reason);
	if (body != NULL && set_opt(body, "resolution", resolution) != 0)
		goto nomem;
	if (body != NULL && nopen > 0) {
		if ((arr = json_array()) == NULL || json_object_set_new(body, "open_steps", arr) != 0)
			goto nomem;
		for (i = 0; i < nopen; i++)
			if (json_array_append_new(arr, json_string(open_steps[i])) != 0)
				goto nomem;
	}
	return put(log, EV_EXCEPTION, who, body, seq);
nomem:
	json_decref(body);
	return hsm_fail(HSM_ERR_NOMEM, "out of memory building an exception record");
}

hsm_rc
evrec_witness_ack(evlog *log, const ev_actor *who, const char *statement, long long *seq)
{
	hsm_rc rc;

	if ((rc = need("the statement", statement)) != HSM_OK)
		return rc;
	return put(log, EV_WITNESS_ACK, who, json_pack("{s:s}", "statement", statement), seq);
}
