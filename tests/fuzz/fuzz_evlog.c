/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_evlog.c - the evidence log's readers of untrusted bytes: the line
 * parser (evlog_parse_line) on every input's first line, then the whole input
 * through one of: the report writer (evlog_report runs evlog_verify; text or
 * HTML), the verifier with every record handler, the writer's open-time scan
 * and torn-tail recovery (evlog_open, with its side journal), or the reader
 * over memory with its chain check and the workflows' scan (evscan).
 *
 * Speed: the report (four passes over the input), the verifier, the writer
 * and the scan take turns by the input's length, so that each input pays for
 * one of them; the fuzzer reaches all four by changing lengths.
 * One file, written once per input, in a private directory made once
 * (on /dev/shm when there is one, so the writer's fsyncs cost nothing); the
 * file and the journal are removed after every input and the directory at
 * exit, so a run leaves nothing behind.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* One of the four readers of a whole log, chosen by the input's length. */
static void
one_reader(const uint8_t *data, size_t size)
{
	evlog_verify_result res;
	struct evlog_verify_opts o;
	struct evlog_open_opts oo;
	evlog_reader *r = NULL;
	evscan *s = NULL;
	evlog *log = NULL;

	memset(&o, 0, sizeof(o));
	o.allow_incomplete = 1;
	memset(&res, 0, sizeof(res));
	switch (size & 3) {
	case 0:   /* the report, which verifies first and prints what it read */
		(void)evlog_report(path, &o, (size & 4) ? EVREPORT_HTML : EVREPORT_TEXT,
		    devnull, &res);
		break;
	case 1:   /* the verifier with every record handler */
		(void)evlog_verify(path, &o, &res);
		break;
	case 2:   /* the writer's scan and torn-tail repair */
		memset(&oo, 0, sizeof(oo));
		oo.must_exist = 1;
		oo.sync = EVLOG_SYNC_NONE;
		if (evlog_open(path, &oo, &log) == HSM_OK)
			evlog_close(&log);
		break;
	default:  /* the workflows' scan, over memory */
		if (evlog_reader_open_mem((const char *)data, size, &r) == HSM_OK) {
			if (evscan_reader(r, (size & 4) != 0, &s) == HSM_OK)
				evscan_free(&s);
			evlog_reader_free(&r);
		}
		break;
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
	/* the first line alone, through the line parser */
	nl = memchr(data, '\n', size);
	if (evlog_parse_line((const char *)data, nl ? (size_t)(nl - data) : size, &rec) == HSM_OK)
		evlog_record_clear(&rec);
	/* the scan reads memory; the others need the bytes in a file */
	if ((size & 3) != 3 && put_file(data, size) != 0)
		return 0;
	one_reader(data, size);
	if ((size & 3) != 3) {
		(void)unlink(path);
		(void)unlink(journal);
	}
	return 0;
}
