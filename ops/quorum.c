/* SPDX-License-Identifier: BSD-2-Clause */
/* quorum.c - collect administrator signatures until a quorum (quorum.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/codec.h"
#include "hsmadm/crypto.h"
#include "hsmadm/evrec.h"
#include "hsmadm/quorum.h"

void
quorum_sayf(void (*say)(void *ctx, const char *line), void *ctx, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (say == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	say(ctx, line);
}

#define say(io, ...) quorum_sayf((io) ? (io)->say : NULL, (io) ? (io)->ctx : NULL, __VA_ARGS__)

/* Is ski an admin of every member? *name = its registered name. */
static int
admin_everywhere(json_t *const *states, size_t n, const char *skihex, char *name,
                 size_t namelen)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *a;
		size_t k;
		int found = 0;

		json_array_foreach(json_object_get(states[i], "admins"), k, a) {
			const char *s = json_string_value(json_object_get(a, "ski"));
			if (s != NULL && strcmp(s, skihex) == 0) {
				const char *nm = json_string_value(json_object_get(a, "name"));
				snprintf(name, namelen, "%s", nm ? nm : "an administrator");
				found = 1;
			}
		}
		if (!found)
			return 0;
	}
	return 1;
}

/* Sign with s, unless it is no admin everywhere or signed already: then
 * say so, and the loop asks for the next signer. */
static hsm_rc
sign_once(admincmd *cmd, hsm_signer *s, int ask_again, json_t *const *states, size_t n,
          const struct quorum_io *io, struct quorum_first *first)
{
	uint8_t ski[HSM_SKI_LEN];
	char skihex[2 * HSM_SKI_LEN + 1], name[128] = "";
	hsm_rc rc;

	if ((rc = crypto_ski(signer_pub(s), ski)) != HSM_OK)
		return rc;
	hex_encode_buf(ski, HSM_SKI_LEN, skihex);
	if (!admin_everywhere(states, n, skihex, name, sizeof(name))) {
		say(io, "%s is not an administrator of every domain concerned; not used.",
		    signer_label(s));
		return HSM_OK;
	}
	/* A mistyped PIN costs one try on the card, not the signatures collected
	 * so far: ask again (the card blocks itself when the tries run out) when
	 * the PIN's holder is the one asked (signers_may_ask_again). */
	for (int tries = 0;; tries++) {
		rc = admincmd_sign(cmd, s);
		if (rc != HSM_ERR_PIN_WRONG || tries >= 2 || !ask_again)
			break;
		say(io, "%s; the PIN is asked again.", hsm_errmsg());
	}
	if (rc == HSM_ERR_EXISTS) {
		say(io, "%s has signed this command already; use another administrator's card.",
		    name);
		return HSM_OK;
	}
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "signing %s", admincmd_op(cmd));
	say(io, "Signed by %s.", name);
	if (io != NULL && io->log != NULL) {
		ev_actor who = { name, "admin", NULL, skihex };
		if ((rc = evrec_command_signed(io->log, &who, cmd, ski, NULL)) != HSM_OK)
			return hsm_fail_wrap(rc, "recording the signature in the evidence log");
	}
	if (first != NULL && !first->set) {
		first->set = 1;
		snprintf(first->name, sizeof(first->name), "%s", name);
		snprintf(first->ski, sizeof(first->ski), "%s", skihex);
	}
	return HSM_OK;
}

static hsm_rc
ran_out(const admincmd *cmd, unsigned missing)
{
	return hsm_fail(HSM_ERR_QUORUM, "%s: %u more signature(s) needed, and no more "
	    "administrator keys or cards were offered; nothing was changed",
	    admincmd_op(cmd), missing);
}

hsm_rc
quorum_collect(const group_member *m, size_t n, admincmd *cmd, signers *src,
               const struct quorum_io *io, struct quorum_first *first)
{
	json_t **states = NULL;
	unsigned missing = 0;
	hsm_rc rc;

	if (first != NULL)
		memset(first, 0, sizeof(*first));
	if ((states = calloc(n ? n : 1, sizeof(*states))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if ((rc = group_read(m, n, states)) != HSM_OK)
		goto out;
	signers_restart(src);
	for (;;) {
		hsm_signer *s = NULL;
		hsm_err_clear();
		rc = group_preflight(m, n, cmd, (int64_t)time(NULL), &missing);
		if (rc != HSM_ERR_QUORUM)
			break;
		rc = signers_next(src, admincmd_op(cmd), missing, &s);
		if (rc == HSM_ERR_NOT_FOUND && signers_ended(src)) {
			rc = ran_out(cmd, missing);
			break;
		}
		if (rc != HSM_OK && rc != HSM_ERR_QUORUM && signers_interactive(src)) {
			say(io, "%s", hsm_errmsg());   /* a card problem: ask again */
			continue;
		}
		if (rc != HSM_OK ||
		    (rc = sign_once(cmd, s, signers_may_ask_again(src), states, n, io, first)) != HSM_OK)
			break;
	}
out:
	for (size_t i = 0; states != NULL && i < n; i++)
		json_decref(states[i]);
	free(states);
	return rc;
}
