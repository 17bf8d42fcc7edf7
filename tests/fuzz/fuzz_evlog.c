/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_evlog.c - the evidence log's readers of untrusted bytes: the line
 * parser (evlog_parse_line), then the whole input through one of: the
 * verifier with every record handler, the workflows' scan (evscan), the
 * report writer (evlog_report runs the verifier first; text or HTML), or
 * the writer's open-time scan and torn-tail repair (evlog_open, with its
 * side journal).
 *
 * Speed (the target is 5,000 runs a second under ASan): the verifier, the
 * scan and the report read the input in memory (no file per input, no line
 * copied). The report (five passes) and the writer (a file, a lock, a
 * journal) cost five to ten times a verification: a hash of the whole
 * input sends one input in 32 to each, given at most its first COSTLY_CAP
 * bytes, so the fuzzer still reaches both (a mutant that finds new code
 * there is kept) while the average input pays for one pass.
 *
 * The writer's file lives in a private directory made once (on /dev/shm
 * when there is one, so its fsyncs cost nothing); the file and its journal
 * are removed after every input and the directory at exit, so a run leaves
 * nothing behind.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsmadm/evlog.h"
#include "hsmadm/evreport.h"
#include "hsmadm/evscan.h"
#include "hsmadm/evverify.h"

/* The report and the writer see at most this much of an input: enough for
 * a few records of any type (the biggest corpus line is 3 KiB). */
#define COSTLY_CAP 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/*
 * ASan's defaults are set for long programs: a 256 MiB quarantine of freed
 * memory, so that every allocation of every input lands on fresh pages (half
 * this target's time went to page faults and to filling new memory), and a
 * 30-frame stack saved per allocation. One input here allocates well under
 * 8 MiB, so a use-after-free within an input is still caught with a quarantine
 * of 8 MiB; every access is still checked. Measured here: 2.2x the executions
 * per second. Options given in ASAN_OPTIONS still win.
 */
const char *
__asan_default_options(void)
{
	return "quarantine_size_mb=8:malloc_context_size=8";
}

static char dir[256], path[300], journal[320];
static FILE *devnull;

static void
cleanup(void)
{
	if (path[0] != '\0') {
		(void)unlink(path);
		(void)unlink(journal);
	}
	if (dir[0] != '\0')
		(void)rmdir(dir);
}

static void
init(void)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	snprintf(dir, sizeof(dir), "%s/fuzz_evlog.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(journal, sizeof(journal), "%s.recovering", path);
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	atexit(cleanup);
}

static int
put_file(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, data, size) == (ssize_t)size;
	close(fd);
	return ok ? 0 : -1;
}

/* Which reader an input goes to, the same on every run: FNV-1a over every
 * byte, so that any mutation may send an input elsewhere (hashing only the
 * ends let the mutants of report inputs stay report inputs: a quarter of
 * the runs, three quarters of the time). Not instrumented: it is the
 * fuzzer's own bookkeeping, not code under test. */
__attribute__((no_sanitize("address", "undefined", "coverage")))
static uint64_t
input_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* The writer's scan and torn-tail repair, over a file. */
static void
writer_open(const uint8_t *data, size_t size)
{
	struct evlog_open_opts oo;
	evlog *log = NULL;

	if (put_file(data, size) == 0) {
		memset(&oo, 0, sizeof(oo));
		oo.must_exist = 1;
		oo.sync = EVLOG_SYNC_NONE;
		if (evlog_open(path, &oo, &log) == HSM_OK)
			evlog_close(&log);
	}
	(void)unlink(path);
	(void)unlink(journal);
}

/* One of the four readers of a whole log, chosen by the input's hash. */
static void
one_reader(const uint8_t *data, size_t size, uint64_t h)
{
	const char *buf = (const char *)data;
	size_t capped = size < COSTLY_CAP ? size : COSTLY_CAP;
	evlog_verify_result res;
	struct evlog_verify_opts o;
	evlog_reader *r = NULL;
	evscan *s = NULL;
	unsigned pick = (unsigned)(h % 32);

	memset(&o, 0, sizeof(o));
	o.allow_incomplete = 1;
	memset(&res, 0, sizeof(res));
	if (pick == 0) {
		/* the report, which verifies first and prints what it read */
		(void)evlog_report_mem(buf, capped, "fuzz", &o,
		    (h & 0x100) ? EVREPORT_HTML : EVREPORT_TEXT, devnull, &res);
	} else if (pick == 1) {
		writer_open(data, capped);
	} else if (h & 0x200) {
		/* the verifier with every record handler */
		(void)evlog_verify_mem(buf, size, &o, &res);
	} else if (evlog_reader_open_mem(buf, size, &r) == HSM_OK) {
		/* the workflows' scan */
		if (evscan_reader(r, (h & 0x400) != 0, &s) == HSM_OK)
			evscan_free(&s);
		evlog_reader_free(&r);
	}
	evlog_verify_result_clear(&res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	evlog_record rec;
	const uint8_t *nl;

	if (dir[0] == '\0')
		init();
	/* An input without a line end, through the line parser: every reader
	 * parses a first line that has one, and takes one without as torn. */
	nl = memchr(data, '\n', size);
	if (nl == NULL && evlog_parse_line((const char *)data, size, &rec) == HSM_OK)
		evlog_record_clear(&rec);
	one_reader(data, size, input_hash(data, size));
	return 0;
}
