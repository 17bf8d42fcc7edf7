/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_evlog.c - the evidence log's readers of untrusted bytes: the line
 * parser (evlog_parse_line), the whole verifier with every record handler
 * (evlog_verify), and the writer's open-time scan and torn-tail recovery
 * (evlog_open), and the report writer (evlog_report, text and HTML), all on
 * the same input.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/evlog.h"
#include "hsmadm/evverify.h"
#include "hsmadm/evreport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256];

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	evlog_record rec;
	evlog_verify_result res;
	struct evlog_verify_opts o;
	struct evlog_open_opts oo;
	evlog *log = NULL;
	const uint8_t *nl;

	if (path[0] == '\0') {
		const char *tmp = getenv("TMPDIR");
		int fd;
		snprintf(path, sizeof(path), "%s/fuzz_evlog.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if ((fd = mkstemp(path)) < 0)
			abort();
		close(fd);
	}
	/* the first line alone, through the line parser */
	nl = memchr(data, '\n', size);
	if (evlog_parse_line((const char *)data, nl ? (size_t)(nl - data) : size, &rec) == HSM_OK)
		evlog_record_clear(&rec);
	/* the whole input as a log, through the verifier */
	if (put_file(data, size) != 0)
		return 0;
	memset(&o, 0, sizeof(o));
	o.allow_incomplete = 1;
	(void)evlog_verify(path, &o, &res);
	evlog_verify_result_clear(&res);
	/* the report, which prints what verified records say */
	{
		static FILE *devnull;
		if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
			abort();
		(void)evlog_report(path, &o, (size & 1) ? EVREPORT_HTML : EVREPORT_TEXT,
		    devnull, NULL);
	}
	/* and through the writer's scan and recovery */
	memset(&oo, 0, sizeof(oo));
	oo.must_exist = 1;
	oo.sync = EVLOG_SYNC_NONE;
	if (evlog_open(path, &oo, &log) == HSM_OK)
		evlog_close(&log);
	return 0;
}
