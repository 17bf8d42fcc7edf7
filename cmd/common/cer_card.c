/* SPDX-License-Identifier: BSD-2-Clause */
/* cer_card.c - the ceremony commands' custodian card: smartcard/'s
 * cardfind_custodian with the wants the commands express. */
#include <jansson.h>

#include "cer.h"

hsm_rc
cer_card_open(pcsc_ctx *ctx, const char *reader, const struct cer_want *w,
              const char *prompt, int timeout_ms, int pin_fd, int allow_default,
              cer_card **out)
{
	cardfind_want cw = { .role = CARD_ROLE_CUSTODIAN };

	cw.reader = reader;
	cw.prompt = prompt != NULL ? prompt : "Insert the custodian card.";
	cw.timeout_ms = timeout_ms;
	if (w != NULL) {
		cw.card_id = w->card_id;
		cw.not_card_id = w->not_card_id;
		cw.holds_part = w->holds_part;
		/* owner_id: the card or a backup of it, which is what an identity
		 * matches; backup_of: the same person, backup cards only. */
		cw.identity = w->owner_id;
		if (w->backup_of != NULL) {
			cw.identity = w->backup_of;
			cw.which = CARDFIND_BACKUP;
		}
	}
	return cardfind_custodian(ctx, &cw, pin_fd, allow_default, out);
}

void
cer_card_free(cer_card **c)
{
	custodian_card_free(c);
}

json_t *
cer_card_actor(const cer_card *c)
{
	return json_pack("{s:s, s:s, s:s}", "name", c->prof.holder, "role", "custodian",
	                 "card_id", c->prof.card_id);
}
