/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_flows.c - every failure point of six workflows, one at a time.
 *
 * For each flow, run it with the Nth wrapped call failing (fault.h), for
 * N = 1, 2, 3, ... until a run sees fewer than N wrapped calls, i.e. a run
 * in which nothing was injected; that run must succeed. Every run in which a
 * failure was injected must:
 *   - return a code other than HSM_OK, with a context message set
 *     (hsm_errcode() != HSM_OK after hsm_err_clear(), hsm_errmsg() not empty);
 *   - leak nothing (LeakSanitizer is asked in a child process after each
 *     batch of runs, and run by run when a batch leaked, so that a leak
 *     names the run and the call that failed);
 *   - not crash (each batch runs in a child process: a crash is reported
 *     with its run, and the remaining runs go on);
 *   - leave its files whole (the flow's own check: an evidence log after a
 *     failed append holds the record or not, never part of one, and still
 *     verifies).
 * A failure a flow survives (rc HSM_OK although a call failed) is allowed
 * only for the calls a flow names as best effort, and its result is then
 * checked as if nothing had failed.
 *
 * Flows: sign (key-file signer, signed admin command), part (envelope seal
 * and open, kpwrap wrap/unwrap for an importer key), append (evlog_open,
 * evlog_append, evlog_close on an existing log), verify (evlog_verify of a
 * whole ceremony with receipts and the supervisor's completion), module
 * (the group engine loading a wrapped part into the emulator's module logic
 * in-process), card (a PIV card signature over PC/SC; fault_card.sh).
 *
 * Usage: fault_flows [FLOW...]   (default: all). Exit 0 if every run passed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#define FAULT_HAVE_LSAN 1
#endif

#include "fault.h"
#include "fault_fixture.h"

/* What the child processes tell the parent (shared memory). */
struct fault_tally {
	long failures;   /* runs judged bad */
	long absorbed;   /* failures survived as best effort */
	long last;       /* last run started */
	int  done;       /* a run with nothing injected completed */
	int  leaked;     /* LeakSanitizer found memory lost in this child */
};

static struct fault_tally *tally;

static void
bad(const char *flow, long n, const char *fmt, ...)
{
	va_list ap;
	char where[256] = "?";

	if (fault_fired_name()[0] != '\0') {
#if FAULT_HAVE_LSAN
		__sanitizer_symbolize_pc(fault_fired_caller(), "%F %L", where, sizeof(where));
#else
		snprintf(where, sizeof(where), "%p", fault_fired_caller());
#endif
		fprintf(stderr, "FAIL %s, run %ld (%s failed, called from %s): ", flow, n,
		        fault_fired_name(), where);
	} else {
		fprintf(stderr, "FAIL %s, run %ld: ", flow, n);
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	tally->failures++;
}

/* 1 if LeakSanitizer finds memory lost in this process. */
static int
leaked(void)
{
#if FAULT_HAVE_LSAN
	return __lsan_do_recoverable_leak_check() != 0;
#else
	return 0;
#endif
}

/* 1 if the injected failure matches an entry "CALL@FUNCTION" of the
 * flow's best-effort list: CALL is the failed call ("*": any), FUNCTION the
 * function that made it or one of the next BEST_EFFORT_UP callers (so that
 * "*@memo_key" covers the SHA-256 that memo_key asks crypto_sha256 for, but
 * not everything that runs below a long-lived caller). */
#define BEST_EFFORT_UP 2
static int
best_effort(const struct fault_flow *fl)
{
	const char *const *p;
	void *const *frames;
	int depth = fault_fired_stack(&frames), i, first;
	char fn[FAULT_STACK_MAX][128];

	/* The caller is the frame after the wrapper (__wrap_CALL). */
	for (i = 0; i < depth; i++) {
		fn[i][0] = '\0';
#if FAULT_HAVE_LSAN
		/* a return address points after the call: look one byte back */
		__sanitizer_symbolize_pc((char *)frames[i] - 1, "%f", fn[i], sizeof(fn[i]));
#endif
	}
	for (first = 0; first < depth && strncmp(fn[first], "__wrap_", 7) != 0; first++)
		;
	first++;
	if (depth > first + 1 + BEST_EFFORT_UP)
		depth = first + 1 + BEST_EFFORT_UP;
	for (p = fl->best_effort; p != NULL && *p != NULL; p++) {
		const char *at = strchr(*p, '@');
		size_t cl = at != NULL ? (size_t)(at - *p) : 0;

		if (at == NULL || !((cl == 1 && (*p)[0] == '*') ||
		                    (strlen(fault_fired_name()) == cl &&
		                     strncmp(*p, fault_fired_name(), cl) == 0)))
			continue;
		for (i = first; i < depth; i++)
			if (strcmp(fn[i], at + 1) == 0)
				return 1;
	}
	return 0;
}

/* One run with call n failing, judged. Returns 1 when it was the run with
 * nothing injected (the flow is done). */
static int
run_once(const struct fault_flow *fl, struct fault_fx *fx, long n)
{
	hsm_rc rc, code;
	int fired, bad_state;
	char msg[1024];

	tally->last = n;
	if (fl->reset != NULL && fl->reset(fx) != 0) {
		bad(fl->name, n, "could not reset the fixture");
		return 1;
	}
	hsm_err_clear();
	fault_arm(n);
	rc = fl->run(fx);
	(void)fault_disarm();
	fired = fault_fired();
	/* The message as the command would print it, before check() runs
	 * code of its own. */
	code = hsm_errcode();
	snprintf(msg, sizeof(msg), "%s", hsm_errmsg());
	bad_state = fl->check != NULL && fl->check(fx, rc) != 0;
	if (rc != HSM_OK) {
		if (!fired)
			bad(fl->name, n, "failed with nothing injected: %s", msg);
		else if (code == HSM_OK || msg[0] == '\0')
			bad(fl->name, n, "rc %d (%s) but no context message was set", (int)rc,
			    hsm_strerror(rc));
	} else if (fired) {
		if (best_effort(fl))
			tally->absorbed++;
		else
			bad(fl->name, n, "the flow succeeded although the call failed");
	}
	if (bad_state)
		bad(fl->name, n, "the flow left a bad state behind (rc %d: %s)", (int)rc,
		    rc == HSM_OK ? "ok" : msg);
	if (fl->clean != NULL)
		fl->clean(fx);
	return !fired;
}

/* Runs [from, to) in a child process, until the flow is done. Returns the
 * child's wait status. The child leaves by _exit() so that its end does
 * not run a second, whole-process leak report. */
static int
batch(const struct fault_flow *fl, struct fault_fx *fx, long from, long to)
{
	pid_t pid;
	int st = 0;
	long n;

	fflush(NULL);
	if ((pid = fork()) < 0) {
		perror("fault_flows: fork");
		exit(1);
	}
	if (pid == 0) {
		for (n = from; n < to && !tally->done; n++)
			tally->done = run_once(fl, fx, n);
		tally->leaked = leaked();
		fflush(NULL);
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0)
		;
	return st;
}

/* Asking LeakSanitizer costs about as much as a run, so a child asks once
 * per batch; a batch that leaked or crashed is run again one run per child,
 * which names the run. */
#define LEAK_BATCH 32
#define MAX_CRASHES 20

static void
run_again_alone(const struct fault_flow *fl, struct fault_fx *fx, long from, long to)
{
	struct fault_tally keep = *tally;
	long n;
	int st;

	for (n = from; n < to; n++) {
		tally->leaked = 0;
		tally->done = 0;
		st = batch(fl, fx, n, n + 1);
		if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0)) {
			fprintf(stderr, "FAIL %s, run %ld: the run crashed (%s %d; see above)\n",
			        fl->name, n, WIFSIGNALED(st) ? "signal" : "exit",
			        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			keep.failures++;
		} else if (tally->leaked) {
			fprintf(stderr, "FAIL %s, run %ld: memory leaked (report above)\n",
			        fl->name, n);
			keep.failures++;
		}
	}
	/* The other verdicts were given by the batch already. */
	*tally = keep;
}

static int
run_flow(const struct fault_flow *fl, struct fault_fx *fx)
{
	long n, limit = 200000;
	const char *from = getenv("FAULT_FROM"), *to = getenv("FAULT_TO");
	int st, crashed, crashes = 0;

	memset(tally, 0, sizeof(*tally));
	/* FAULT_FROM / FAULT_TO: only those runs, to look at one of them. */
	if (to != NULL)
		limit = atol(to) + 1;
	for (n = from != NULL ? atol(from) : 1; n < limit && !tally->done; n += LEAK_BATCH) {
		long end = n + LEAK_BATCH < limit ? n + LEAK_BATCH : limit;

		tally->leaked = 0;
		st = batch(fl, fx, n, end);
		crashed = !WIFEXITED(st) || WEXITSTATUS(st) != 0;
		if (crashed || tally->leaked) {
			long last = tally->last;   /* where the batch stopped */
			int done = tally->done;

			run_again_alone(fl, fx, n, last + 1);
			tally->done = done;
			n = last + 1 - LEAK_BATCH;   /* go on after it */
			/* a flow that crashes with nothing injected never ends */
			if (crashed && ++crashes == MAX_CRASHES) {
				bad(fl->name, last, "%d crashes: stopping this flow", crashes);
				break;
			}
		}
	}
	if (!tally->done && to == NULL && crashes < MAX_CRASHES)
		bad(fl->name, limit, "still failing after %ld runs", limit);
	/* Every run but the last had one injected failure: that is how many
	 * call sites (counted with repetition) the flow went through. */
	printf("flow %-8s %6ld failure points, %ld survived as best effort, %s\n",
	       fl->name, tally->last - 1, tally->absorbed, tally->failures == 0 ? "ok" : "FAILED");
	fflush(stdout);
	return tally->failures == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct fault_fx fx;
	const struct fault_flow *fl;
	int i, rc = 0, ran = 0;

	tally = mmap(NULL, sizeof(*tally), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	             -1, 0);
	if (tally == MAP_FAILED) {
		perror("fault_flows: mmap");
		return 1;
	}
	if (fault_fx_setup(&fx) != 0) {
		fprintf(stderr, "fault_flows: cannot set up the fixture: %s\n", hsm_errmsg());
		return 1;
	}
	for (fl = fault_flows; fl->name != NULL; fl++) {
		int want = argc == 1;

		for (i = 1; i < argc; i++)
			want |= strcmp(argv[i], fl->name) == 0;
		if (!want)
			continue;
		ran++;
		if (fl->needs_env != NULL && getenv(fl->needs_env) == NULL) {
			/* asked for by name: an error; in "all": said, not run */
			printf("flow %-8s not run: needs %s (tests/fault/fault_card.sh sets it)\n",
			       fl->name, fl->needs_env);
			rc |= argc > 1;
			continue;
		}
		rc |= run_flow(fl, &fx);
	}
	fault_fx_teardown(&fx);
	if (ran == 0) {
		fprintf(stderr, "fault_flows: no such flow\n");
		return 2;
	}
	return rc;
}
