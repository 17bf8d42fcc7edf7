/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evlog_gen.c - writes a real ceremony's evidence log, keys and module CA
 * into a new directory under $TMPDIR and prints that directory, for the shell
 * tests of hsmadm-audit.
 * Usage: test_evlog_gen [--incomplete] [--weak-quorum] [--tail-witness] [--sent]
 *        [--mk-full] [--foreign-part] [--forged]
 * --forged: then re-sign the log as a forger would (roster supervisor
 * replaced by the key in mallory.pem, a new completion signed with it). */
#include <stdio.h>
#include <string.h>

#include "test_evlog_fixture.h"

int
main(int argc, char **argv)
{
	struct evfix f;
	int flags = EVFIX_COMPLETE | EVFIX_NOSYNC, forged = 0, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--incomplete") == 0)
			flags &= ~EVFIX_COMPLETE;
		else if (strcmp(argv[i], "--tail-witness") == 0)
			flags |= EVFIX_TAIL_WITNESS;
		else if (strcmp(argv[i], "--weak-quorum") == 0)
			flags |= EVFIX_WEAK_QUORUM;
		else if (strcmp(argv[i], "--sent") == 0)
			flags |= EVFIX_SENT | EVFIX_MK;
		else if (strcmp(argv[i], "--mk-full") == 0)
			flags |= EVFIX_MKFULL;
		else if (strcmp(argv[i], "--foreign-part") == 0)
			flags |= EVFIX_MKFULL | EVFIX_FOREIGN_PART;
		else if (strcmp(argv[i], "--forged") == 0)
			forged = 1;
		else {
			fprintf(stderr, "usage: %s [--incomplete] [--weak-quorum] [--tail-witness] "
			    "[--sent] [--mk-full] [--foreign-part] [--forged]\n", argv[0]);
			return 2;
		}
	}
	if (evfix_setup(&f) != 0) {
		fprintf(stderr, "cannot set up keys in $TMPDIR\n");
		return 1;
	}
	if (evfix_ceremony(&f, f.log, flags, NULL) != HSM_OK) {
		fprintf(stderr, "cannot write the ceremony: %s\n", hsm_errmsg());
		evfix_release(&f);
		return 1;
	}
	if (forged && evfix_forge(&f, f.log, NULL, NULL) != 0) {
		fprintf(stderr, "cannot forge the ceremony: %s\n", hsm_errmsg());
		evfix_release(&f);
		return 1;
	}
	printf("%s\n", f.dir);
	evfix_release(&f);
	return 0;
}
