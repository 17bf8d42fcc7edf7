/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * quorum.h - the one loop that collects administrator signatures on a
 * command until every member it targets would accept it (group_preflight),
 * used by hsmadm-domain run and by the master-key load alike.
 *
 * Each signer is offered by signers.h. A signer that is not an administrator
 * of every targeted domain is not used (its signature would make the module
 * refuse the command: a stranger's signature is refused, not ignored); one
 * that already signed is skipped. With an evidence log, every signature added
 * is recorded as command.signed at once.
 */
#ifndef HSMADM_QUORUM_H
#define HSMADM_QUORUM_H

#include <stddef.h>
#include <jansson.h>
#include "hsmadm/admincmd.h"
#include "hsmadm/err.h"
#include "hsmadm/evlog.h"
#include "hsmadm/group.h"
#include "hsmadm/signers.h"

struct quorum_io {
	/* One line of progress for the people in the room ("Signed by ..."). */
	void  (*say)(void *ctx, const char *line);
	void   *ctx;
	evlog  *log;     /* command.signed for each signature; NULL: none */
};

/*
 * Sign cmd with signers from src until every member of m[0..n) would accept
 * it. *actor (may be NULL) = the first administrator who signed now, as an
 * evidence actor {name, role: "admin", ski}, or NULL if none was needed.
 * HSM_ERR_QUORUM with "... needs N more ..." when the signers run out.
 */
hsm_rc quorum_collect(const group_member *m, size_t n, admincmd *cmd, signers *src,
                      const struct quorum_io *io, json_t **actor);

/* command.signed for the signature s added last to cmd; name (may be NULL:
 * the signer's label) is the administrator as the domains know them. */
hsm_rc quorum_record_signed(evlog *log, const admincmd *cmd, const hsm_signer *s,
                            const char *name);

#endif
