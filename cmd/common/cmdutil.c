/* cmdutil.c - shared helpers of the cmd/ mains. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
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
