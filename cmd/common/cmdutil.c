/* SPDX-License-Identifier: BSD-2-Clause */
/* cmdutil.c - shared helpers of the cmd/ mains. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdutil.h"

void
cmd_print_version(const char *prog)
{
	printf("%s %s\n", prog, HSMADM_VERSION);
}

int
cmd_fail(const char *prog, hsm_rc rc)
{
	fprintf(stderr, "%s: %s\n", prog, hsm_errmsg());
	return hsm_exit_code(rc);
}

int
cmd_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return hsm_exit_code(HSM_ERR_USAGE);
}

hsm_rc
cmd_print_json(const json_t *v)
{
	if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
		return hsm_fail(HSM_ERR_IO, "cannot write JSON output");
	fputc('\n', stdout);
	fflush(stdout);
	return HSM_OK;
}

hsm_rc
cmd_confirm_typed(const char *question, const char *word, int fd)
{
	char line[256];
	size_t n = 0;
	int in = fd, opened = 0;
	hsm_rc rc = HSM_OK;

	if (in < 0) {
		if ((in = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
			return hsm_fail(HSM_ERR_CANCELLED,
			    "confirmation needed but there is no terminal");
		opened = 1;
	}
	fprintf(stderr, "%s\nType \"%s\" to continue, anything else to stop: ", question, word);
	fflush(stderr);
	for (;;) {
		char c;
		ssize_t r = read(in, &c, 1);
		if (r <= 0 || c == '\n')
			break;
		if (n + 1 < sizeof(line))
			line[n++] = c;
	}
	line[n] = '\0';
	if (strcmp(line, word) != 0)
		rc = hsm_fail(HSM_ERR_CANCELLED, "not confirmed; nothing was changed");
	if (opened)
		close(in);
	return rc;
}

int
cmd_parse_int(const char *s, long lo, long hi, int *v)
{
	char *end;
	long l;

	errno = 0;
	l = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || l < lo || l > hi)
		return -1;
	*v = (int)l;
	return 0;
}

int
cmd_parse_fd(const char *prog, const char *name, const char *s, int *fd)
{
	int v;

	if (cmd_parse_int(s, 0, CMD_FD_MAX, &v) != 0)
		return cmd_usage_error(prog, "%s needs a file descriptor number", name);
	if (fcntl(v, F_GETFD) < 0)
		return cmd_usage_error(prog, "%s %s: that file descriptor is not open; secrets are "
		    "never taken from the command line", name, v > 99 ? "N" : s);
	*fd = v;
	return 0;
}

char *
cmd_read_text(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n;

	if (f == NULL)
		return NULL;
	/* Read one byte more than allowed: a file that fills it is too long. */
	if ((buf = malloc(max + 2)) != NULL) {
		n = fread(buf, 1, max + 1, f);
		if (ferror(f) || n > max) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

int
cmd_take_flag(int *argc, char **argv, const char *flag)
{
	int i, k, found = 0;

	for (i = k = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[k++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], flag) == 0)
			found = 1;
		else
			argv[k++] = argv[i];
	}
	*argc = k;
	argv[k] = NULL;
	return found;
}
