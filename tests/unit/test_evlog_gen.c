/* SPDX-License-Identifier: BSD-2-Clause */
/* test_evlog_gen.c - writes a real ceremony's evidence log, keys and module CA
 * into a new directory under $TMPDIR and prints that directory, for the shell
 * tests of hsmadm-audit.
 * Usage: test_evlog_gen [--incomplete] [--weak-quorum] [--tail-witness] [--sent] */
#include <stdio.h>
#include <string.h>

#include "test_evlog_fixture.h"

int
main(int argc, char **argv)
{
	struct evfix f;
	int flags = EVFIX_COMPLETE | EVFIX_NOSYNC, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--incomplete") == 0)
			flags &= ~EVFIX_COMPLETE;
		else if (strcmp(argv[i], "--tail-witness") == 0)
			flags |= EVFIX_TAIL_WITNESS;
		else if (strcmp(argv[i], "--weak-quorum") == 0)
			flags |= EVFIX_WEAK_QUORUM;
		else if (strcmp(argv[i], "--sent") == 0)
			flags |= EVFIX_SENT | EVFIX_MK;
		else {
			fprintf(stderr, "usage: %s [--incomplete] [--weak-quorum] [--tail-witness] "
			    "[--sent]\n", argv[0]);
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
	printf("%s\n", f.dir);
	evfix_release(&f);
	return 0;
}
