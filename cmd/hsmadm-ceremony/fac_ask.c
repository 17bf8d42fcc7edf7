/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_ask.c - the runner's questions to the room: "Press Enter to begin the
 * step", a witness's yes. On a terminal the line is read with GNU readline,
 * so the facilitator can correct it before pressing Enter (the runner acts
 * on each answer at once, and a mistyped "yes" stops the ceremony). History
 * is off: no answer is kept in memory or written to a file. When standard
 * input or output is not a terminal (a pipe, a transcript through tee) the
 * line is read with fgets, with the terminal's own echo, and no escape
 * sequences end up in the transcript.
 *
 * No PIN ever passes through here: a command that needs a PIN asks its
 * holder itself, without echo, and a rehearsal's PINs come from its answers
 * file on pipes (fac_exec.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* readline.h uses FILE and must come after stdio.h. */
#include <readline/readline.h>
#include <readline/history.h>

#include "fac_ask.h"

static int tty = -1;   /* -1: not decided yet; then 1 readline, 0 fgets */

static void
tty_setup(void)
{
	tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (!tty)
		return;
	rl_readline_name = "hsmadm-ceremony";   /* for $if in ~/.inputrc */
	rl_instream = stdin;
	rl_outstream = stdout;
	/* Tab completes nothing: listing file names helps no answer here. */
	rl_inhibit_completion = 1;
	/* No history: nothing is ever added, and were it, none would be kept. */
	stifle_history(0);
}

void
fac_ask(const char *q, char *buf, size_t cap)
{
	char prompt[512], *line;
	size_t n;
	int c;

	if (cap == 0)
		return;
	if (tty < 0)
		tty_setup();
	if (!tty) {
		printf("%s ", q);
		fflush(stdout);
		if (fgets(buf, (int)cap, stdin) == NULL)
			buf[0] = '\0';
		/* A line longer than buf: the rest is not the next question's answer. */
		if (strchr(buf, '\n') == NULL && buf[0] != '\0')
			for (c = getchar(); c != EOF && c != '\n'; c = getchar())
				;
		buf[strcspn(buf, "\n")] = '\0';
		return;
	}
	/* What the runner printed before the question comes before it. */
	fflush(stdout);
	snprintf(prompt, sizeof(prompt), "%s ", q);
	if ((line = readline(prompt)) == NULL) {
		/* End of input (Ctrl-D): the next output starts a line of its own. */
		putchar('\n');
		buf[0] = '\0';
		return;
	}
	n = strlen(line);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	free(line);
}
