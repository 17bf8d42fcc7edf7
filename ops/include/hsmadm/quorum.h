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
#include "hsmadm/crypto.h"
#include "hsmadm/group.h"
#include "hsmadm/signers.h"

struct quorum_io {
	/* One line of progress for the people in the room ("Signed by ..."). */
	void  (*say)(void *ctx, const char *line);
	void   *ctx;
	evlog  *log;     /* command.signed for each signature; NULL: none */
};

/* One printf-formatted progress line through a say callback (NULL: none):
 * the one formatter of the workflows' progress lines. */
void quorum_sayf(void (*say)(void *ctx, const char *line), void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The first administrator who signed (name as the domains know them). */
struct quorum_first {
	int  set;
	char name[128];
	char ski[2 * HSM_SKI_LEN + 1];
};

/*
 * Sign cmd with signers from src until every member of m[0..n) would accept
 * it. first (may be NULL) = the first administrator who signed now (set = 0
 * if none was needed). HSM_ERR_QUORUM with "N more signature(s) needed" when
 * the signers run out.
 */
hsm_rc quorum_collect(const group_member *m, size_t n, admincmd *cmd, signers *src,
                      const struct quorum_io *io, struct quorum_first *first);

#endif
