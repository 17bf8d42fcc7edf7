/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keypart.c - custodian operations on key parts held in card envelopes.
 *
 * Order of checks: everything that can be decided from public data (card
 * ids, what the cards hold, patterns in the headers) comes before the first
 * use of a card's private key, so a wrong card or a wrong part never costs a
 * PIN entry and never puts a clear part in memory.
 */
#include <stdlib.h>
#include <string.h>

#include "hsmadm/crypto.h"
#include "hsmadm/keypart.h"

static const char *
lbl(const keypart_card *c)
{
	if (c->label != NULL)
		return c->label;
	return c->card_id;
}

static hsm_rc
check_card(const keypart_card *c, int need_ka, int need_pub)
{
	if (c == NULL || c->store == NULL || c->store->put == NULL ||
	    c->store->get == NULL || c->store->del == NULL || c->store->list == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key part: no card or envelope store given");
	if (!envelope_id_valid(c->card_id))
		return hsm_fail(HSM_ERR_USAGE, "key part: the card has no valid card id");
	if (need_ka && c->ka == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key part: %s cannot open envelopes here", lbl(c));
	if (need_pub && c->pub9d == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key part: %s has no key-management key (slot 9D)",
		                lbl(c));
	return HSM_OK;
}

static hsm_rc
check_part_id(const char *part_id)
{
	if (!envelope_id_valid(part_id))
		return hsm_fail(HSM_ERR_USAGE,
		    "key part: a part id is 1 to %d printable characters without spaces",
		    ENVELOPE_ID_MAX);
	return HSM_OK;
}

/* The envelope of part_id on card, with its header checked to belong there. */
static hsm_rc
fetch(const keypart_card *c, const char *part_id, uint8_t **env, size_t *n,
      envelope_info *info)
{
	hsm_rc rc;

	*env = NULL;
	rc = c->store->get(c->store_ctx, part_id, env, n);
	if (rc == HSM_ERR_NOT_FOUND)
		return hsm_fail(HSM_ERR_NOT_FOUND, "%s holds no key part %s", lbl(c), part_id);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "reading key part %s from %s", part_id, lbl(c));
	if ((rc = envelope_parse(*env, *n, info)) != HSM_OK)
		goto bad;
	if (strcmp(info->card_id, c->card_id) != 0 || strcmp(info->part_id, part_id) != 0) {
		rc = hsm_fail(HSM_ERR_VERIFY,
		    "the envelope stored as part %s on %s is part %s of card %s; "
		    "it was moved or altered, tell the supervisor",
		    part_id, lbl(c), info->part_id, info->card_id);
		goto bad;
	}
	return HSM_OK;
bad:
	free(*env);
	*env = NULL;
	if (rc == HSM_ERR_FORMAT)
		return hsm_fail_wrap(rc, "key part %s on %s", part_id, lbl(c));
	return rc;
}

/* Store env and read it back: a card that silently truncates or drops data
 * must not leave a custodian believing the part is safe. */
static hsm_rc
store_checked(const keypart_card *c, const char *part_id, const uint8_t *env, size_t n)
{
	uint8_t *back = NULL;
	size_t bn = 0;
	hsm_rc rc;

	rc = c->store->put(c->store_ctx, part_id, env, n);
	if (rc == HSM_ERR_EXISTS)
		return hsm_fail(HSM_ERR_EXISTS, "%s already holds a key part %s", lbl(c), part_id);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "writing key part %s to %s", part_id, lbl(c));
	rc = c->store->get(c->store_ctx, part_id, &back, &bn);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "reading back key part %s from %s", part_id, lbl(c));
	if (bn != n || memcmp(back, env, n) != 0)
		rc = hsm_fail(HSM_ERR_CARD,
		    "%s did not keep key part %s as written; do not use this card", lbl(c), part_id);
	free(back);
	return rc;
}

static hsm_rc
absent(const keypart_card *c, const char *part_id)
{
	uint8_t *env = NULL;
	size_t n = 0;
	hsm_rc rc;

	rc = c->store->get(c->store_ctx, part_id, &env, &n);
	free(env);
	if (rc == HSM_OK)
		return hsm_fail(HSM_ERR_EXISTS,
		    "%s already holds a key part %s; destroy it first or choose another part id",
		    lbl(c), part_id);
	if (rc != HSM_ERR_NOT_FOUND)
		return hsm_fail_wrap(rc, "reading %s", lbl(c));
	hsm_err_clear();
	return HSM_OK;
}

/* Seal part for c and store it there. */
static hsm_rc
seal_store(const keypart_card *c, const char *part_id, const hsm_secbuf *part,
           const uint8_t vp[HSM_VP_LEN])
{
	uint8_t *env = NULL;
	size_t n = 0;
	hsm_rc rc;

	if ((rc = envelope_seal(part, c->pub9d, c->card_id, part_id, vp, &env, &n)) == HSM_OK)
		rc = store_checked(c, part_id, env, n);
	free(env);
	return rc;
}

hsm_rc
keypart_generate_pair(const keypart_card *card, const keypart_card *backup,
                      const char *part_id, uint8_t kpvp[HSM_VP_LEN])
{
	hsm_secbuf *part = NULL;
	uint8_t vp[HSM_VP_LEN];
	hsm_rc rc;

	if (kpvp == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key part: missing argument");
	if ((rc = check_card(card, 0, 1)) != HSM_OK || (rc = check_part_id(part_id)) != HSM_OK)
		return rc;
	if (backup != NULL && (rc = check_card(backup, 0, 1)) != HSM_OK)
		return rc;
	if (backup != NULL && strcmp(card->card_id, backup->card_id) == 0)
		return hsm_fail(HSM_ERR_USAGE,
		    "the backup card is the same card as the primary (%s); insert the backup card",
		    card->card_id);
	if ((rc = absent(card, part_id)) != HSM_OK ||
	    (backup != NULL && (rc = absent(backup, part_id)) != HSM_OK))
		return rc;
	if ((rc = secbuf_new(HSM_KEY_LEN, &part)) != HSM_OK)
		return rc;
	if ((rc = crypto_random(part->data, HSM_KEY_LEN)) != HSM_OK)
		goto out;
	part->len = HSM_KEY_LEN;
	if ((rc = vp_compute(part->data, vp)) != HSM_OK ||
	    (rc = seal_store(card, part_id, part, vp)) != HSM_OK ||
	    (backup != NULL && (rc = seal_store(backup, part_id, part, vp)) != HSM_OK))
		goto out;
	memcpy(kpvp, vp, HSM_VP_LEN);
out:
	secbuf_free(&part);
	return rc;
}

hsm_rc
keypart_generate(const keypart_card *card, const char *part_id, uint8_t kpvp[HSM_VP_LEN])
{
	return keypart_generate_pair(card, NULL, part_id, kpvp);
}

static hsm_rc
open_part(const keypart_card *c, const char *part_id, const uint8_t *expect_kpvp,
          hsm_secbuf **part, uint8_t vp[HSM_VP_LEN])
{
	envelope_info info;
	uint8_t *env = NULL;
	size_t n = 0;
	hsm_rc rc;

	if ((rc = fetch(c, part_id, &env, &n, &info)) != HSM_OK)
		return rc;
	/* The header pattern is public: compare it before asking the card. */
	if (expect_kpvp != NULL && !vp_equal(info.kpvp, expect_kpvp)) {
		char want[HSM_VP_TEXT_LEN], have[HSM_VP_TEXT_LEN];

		vp_format(expect_kpvp, want);
		vp_format(info.kpvp, have);
		rc = hsm_fail(HSM_ERR_VERIFY,
		    "key part %s on %s has pattern %s, but the record says %s; "
		    "this is not the recorded part: stop and tell the supervisor",
		    part_id, lbl(c), have, want);
		goto out;
	}
	/* The card's key-agreement party names the card in its messages. */
	rc = envelope_open(env, n, c->ka, c->card_id, part_id, part, vp);
out:
	free(env);
	return rc;
}

hsm_rc
keypart_check(const keypart_card *card, const char *part_id,
              const uint8_t expect_kpvp[HSM_VP_LEN])
{
	envelope_info info;
	uint8_t *env = NULL;
	size_t n = 0;
	hsm_rc rc;

	if (expect_kpvp == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key part: no pattern to check against");
	if ((rc = check_card(card, 0, 0)) != HSM_OK || (rc = check_part_id(part_id)) != HSM_OK)
		return rc;
	if ((rc = fetch(card, part_id, &env, &n, &info)) != HSM_OK)
		return rc;
	free(env);
	if (!vp_equal(info.kpvp, expect_kpvp)) {
		char want[HSM_VP_TEXT_LEN], have[HSM_VP_TEXT_LEN];

		vp_format(expect_kpvp, want);
		vp_format(info.kpvp, have);
		return hsm_fail(HSM_ERR_VERIFY,
		    "key part %s on %s has pattern %s, but the record says %s; "
		    "this is not the recorded part: stop and tell the supervisor",
		    part_id, lbl(card), have, want);
	}
	return HSM_OK;
}

hsm_rc
keypart_copy(const keypart_card *from, const keypart_card *to, const char *part_id,
             const uint8_t *expect_kpvp, uint8_t kpvp[HSM_VP_LEN])
{
	hsm_secbuf *part = NULL;
	uint8_t vp[HSM_VP_LEN], *src = NULL;
	size_t sn = 0;
	envelope_info info;
	hsm_rc rc;

	if (kpvp == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key part: missing argument");
	if ((rc = check_card(from, 1, 0)) != HSM_OK || (rc = check_card(to, 0, 1)) != HSM_OK ||
	    (rc = check_part_id(part_id)) != HSM_OK)
		return rc;
	if (strcmp(from->card_id, to->card_id) == 0)
		return hsm_fail(HSM_ERR_USAGE,
		    "the backup card is the same card as the primary (%s); insert the backup card",
		    from->card_id);
	if ((rc = fetch(from, part_id, &src, &sn, &info)) != HSM_OK)
		return rc;
	free(src);
	if ((rc = absent(to, part_id)) != HSM_OK)
		return rc;
	if ((rc = open_part(from, part_id, expect_kpvp, &part, vp)) != HSM_OK)
		return rc;
	rc = seal_store(to, part_id, part, vp);
	secbuf_free(&part);
	if (rc == HSM_OK)
		memcpy(kpvp, vp, HSM_VP_LEN);
	return rc;
}

hsm_rc
keypart_verify(const keypart_card *card, const char *part_id,
               const uint8_t *expect_kpvp, uint8_t kpvp[HSM_VP_LEN])
{
	hsm_secbuf *part = NULL;
	uint8_t vp[HSM_VP_LEN];
	hsm_rc rc;

	if ((rc = check_card(card, 1, 0)) != HSM_OK || (rc = check_part_id(part_id)) != HSM_OK)
		return rc;
	rc = open_part(card, part_id, expect_kpvp, &part, vp);
	secbuf_free(&part);
	if (rc == HSM_OK && kpvp != NULL)
		memcpy(kpvp, vp, HSM_VP_LEN);
	return rc;
}

hsm_rc
keypart_list(const keypart_card *card, envelope_info **out, size_t *nout)
{
	char **ids = NULL;
	size_t n = 0, i;
	envelope_info *infos = NULL;
	hsm_rc rc;

	if (out == NULL || nout == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key part: missing argument");
	*out = NULL;
	*nout = 0;
	if ((rc = check_card(card, 0, 0)) != HSM_OK)
		return rc;
	if ((rc = card->store->list(card->store_ctx, &ids, &n)) != HSM_OK)
		return hsm_fail_wrap(rc, "listing the key parts on %s", lbl(card));
	if (n > 0 && (infos = calloc(n, sizeof(*infos))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "key part: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		uint8_t *env = NULL;
		size_t en = 0;

		if ((rc = fetch(card, ids[i], &env, &en, &infos[i])) != HSM_OK)
			goto out;
		free(env);
	}
	*out = infos;
	*nout = n;
	infos = NULL;
out:
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(infos);
	return rc;
}

hsm_rc
keypart_destroy(const keypart_card *card, const char *part_id,
                const uint8_t *expect_kpvp, uint8_t kpvp[HSM_VP_LEN])
{
	envelope_info info;
	uint8_t *env = NULL;
	size_t n = 0;
	hsm_rc rc;

	if (kpvp == NULL)
		return hsm_fail(HSM_ERR_USAGE, "key part: missing argument");
	if ((rc = check_card(card, 0, 0)) != HSM_OK || (rc = check_part_id(part_id)) != HSM_OK)
		return rc;
	if ((rc = fetch(card, part_id, &env, &n, &info)) != HSM_OK)
		return rc;
	free(env);
	if (expect_kpvp != NULL && !vp_equal(info.kpvp, expect_kpvp))
		return hsm_fail(HSM_ERR_VERIFY,
		    "key part %s on %s is not the part you named (its pattern differs); "
		    "nothing was destroyed", part_id, lbl(card));
	if ((rc = card->store->del(card->store_ctx, part_id)) != HSM_OK)
		return hsm_fail_wrap(rc, "destroying key part %s on %s", part_id, lbl(card));
	memcpy(kpvp, info.kpvp, HSM_VP_LEN);
	return HSM_OK;
}

hsm_rc
keypart_rewrap(const keypart_card *card, const char *part_id,
               const uint8_t expect_kpvp[HSM_VP_LEN],
               keypart_target *targets, size_t ntargets)
{
	hsm_secbuf *part = NULL;
	kpwrap_blob *blobs = NULL;
	uint8_t vp[HSM_VP_LEN];
	size_t i;
	hsm_rc rc;

	if (expect_kpvp == NULL || targets == NULL || ntargets == 0)
		return hsm_fail(HSM_ERR_USAGE, "key part: re-wrap needs the recorded pattern and targets");
	if ((rc = check_card(card, 1, 0)) != HSM_OK || (rc = check_part_id(part_id)) != HSM_OK)
		return rc;
	if ((blobs = calloc(ntargets, sizeof(*blobs))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "key part: out of memory");
	if ((rc = open_part(card, part_id, expect_kpvp, &part, vp)) != HSM_OK)
		goto out;
	for (i = 0; i < ntargets; i++) {
		rc = kpwrap_wrap(part, targets[i].importer, &targets[i].binding, &blobs[i]);
		if (rc != HSM_OK) {
			hsm_fail_wrap(rc, "wrapping part %s for %s domain %u", part_id,
			              targets[i].binding.module_serial,
			              (unsigned)targets[i].binding.domain);
			goto out;
		}
	}
	for (i = 0; i < ntargets; i++)
		targets[i].blob = blobs[i];
out:
	secbuf_free(&part);
	free(blobs);
	return rc;
}
