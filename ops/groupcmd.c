/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * groupcmd.c - propose, sign and send one administrator command on a group
 * (groupcmd.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmadm/groupcmd.h"
#include "hsmadm/quorum.h"

#define gsay(io, ...) quorum_sayf((io) ? (io)->say : NULL, (io) ? (io)->ctx : NULL, \
                                 __VA_ARGS__)

/* Without signers: how many are missing, said as the quorum loop would. */
static hsm_rc
check_unsigned(const group_member *m, size_t n, const admincmd *cmd)
{
	unsigned missing = 0;
	hsm_rc rc = group_preflight(m, n, cmd, (int64_t)time(NULL), &missing);

	if (rc == HSM_ERR_QUORUM)
		rc = hsm_fail(HSM_ERR_QUORUM, "%s needs %u more administrator signature%s",
		              admincmd_op(cmd), missing, missing == 1 ? "" : "s");
	return rc;
}

hsm_rc
groupcmd_run(const group_member *m, size_t n, const char *op, const json_t *params,
             const char *what, int roll_forward, const struct groupcmd_io *io,
             group_report **report)
{
	admincmd *cmd = NULL;
	group_report *rep = NULL;
	struct quorum_first first;
	char *dg = NULL, *words = NULL;
	hsm_rc rc;

	memset(&first, 0, sizeof(first));
	if (report != NULL)
		*report = NULL;
	rc = group_propose(m, n, op, params, (int64_t)time(NULL), GROUPCMD_VALID_FOR, &cmd);
	if (rc != HSM_OK)
		goto out;
	if (admincmd_digest_text(cmd, &dg, &words) == HSM_OK)
		gsay(io, "%s: command %s on %zu domain%s; digest %.16s... (%s)", what, op, n,
		     n == 1 ? "" : "s", dg, words);
	if (io == NULL || io->admins == NULL)
		rc = check_unsigned(m, n, cmd);
	else {
		struct quorum_io qio = { io->say, io->ctx, io->ev ? io->ev->log : NULL };
		rc = quorum_collect(m, n, cmd, io->admins, &qio, &first);
	}
	if (rc != HSM_OK)
		goto out;
	{
		/* the first admin who signed sends it; the system when none had to */
		ev_actor who = { first.name, "admin", NULL, first.ski };
		rc = submit_run(io ? io->ev : NULL, m, n, cmd, roll_forward,
		                first.set ? &who : NULL, &rep);
	}
	if (report != NULL) {
		*report = rep;
		rep = NULL;
	}
out:
	free(dg);
	free(words);
	group_report_free(&rep);
	admincmd_free(&cmd);
	return rc;
}
