/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_exec.c - what the runner needs from outside itself: a script's command
 * executed (never through a shell) from the runner's own folder, with PINs
 * and answers handed on pipes in a rehearsal and counted as they are read;
 * the rehearsal's answers file, held in locked memory; and the checks on
 * the cards in the readers (card id, virtual card).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/x509.h>

#include "hsmadm/cardprofile.h"
#include "hsmadm/fileio.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"
#include "fac_exec.h"

#define FEED_FD0 20   /* the descriptor numbers a rehearsal hands values on */

void
fac_answers_free(fac_answers *a)
{
	size_t i;

	for (i = 0; a->key != NULL && i < a->n; i++)
		free(a->key[i]);
	free(a->key);
	free(a->off);
	free(a->len);
	secbuf_free(&a->buf);
	memset(a, 0, sizeof(*a));
}

/* "pin WHO VALUE" and "answer KEY VALUE" lines; # comments. */
hsm_rc
fac_answers_load(const char *path, fac_answers *a)
{
	size_t i = 0, n, k;
	char *d, *sp;
	hsm_rc rc;

	memset(a, 0, sizeof(*a));
	if ((rc = hsm_file_read_secret(path, 64 * 1024, &a->buf)) != HSM_OK)
		return hsm_fail_wrap(rc, "answers file %s", path);
	d = (char *)a->buf->data;
	for (k = 1; i < a->buf->len; k++, i += n + 1) {
		char **nk = NULL;
		size_t *noff, *nlen;
		char *nl = memchr(d + i, '\n', a->buf->len - i);
		n = nl ? (size_t)(nl - (d + i)) : a->buf->len - i;
		d[i + n] = '\0';
		if (n == 0 || d[i] == '#')
			continue;
		if ((strncmp(d + i, "pin ", 4) != 0 && strncmp(d + i, "answer ", 7) != 0) ||
		    (sp = strchr(strchr(d + i, ' ') + 1, ' ')) == NULL || sp[1] == '\0') {
			fac_answers_free(a);
			return hsm_fail(HSM_ERR_FORMAT, "answers file %s, line %zu: expected \"pin "
			    "ROLE.N VALUE\" or \"answer KEY VALUE\"", path, k);
		}
		/* Each array kept on a failed realloc, so that the free below frees it. */
		if ((nk = realloc(a->key, (a->n + 1) * sizeof(*nk))) != NULL)
			a->key = nk;
		if ((noff = realloc(a->off, (a->n + 1) * sizeof(size_t))) != NULL)
			a->off = noff;
		if ((nlen = realloc(a->len, (a->n + 1) * sizeof(size_t))) != NULL)
			a->len = nlen;
		if (nk == NULL || noff == NULL || nlen == NULL) {
			fac_answers_free(a);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
		*sp = '\0';
		a->key[a->n] = strdup(d + i);   /* "pin admin.1": not secret */
		a->off[a->n] = (size_t)(sp + 1 - d);
		a->len[a->n] = strlen(sp + 1);
		if (a->key[a->n++] == NULL) {
			fac_answers_free(a);
			return hsm_fail(HSM_ERR_NOMEM, "out of memory");
		}
	}
	return HSM_OK;
}

static int
answer_of(const fac_answers *a, int is_pin, const char *who)
{
	char key[160];
	size_t i;

	snprintf(key, sizeof(key), "%s %s", is_pin ? "pin" : "answer", who);
	for (i = 0; i < a->n; i++)
		if (strcmp(a->key[i], key) == 0)
			return (int)i;
	return -1;
}

/* The folder of the running program: commands come from there, not $PATH. */
static hsm_rc
own_dir(char *dir, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
	char *sl;

	if (n <= 0)
		return hsm_fail(HSM_ERR_IO, "cannot find where hsmadm-ceremony is installed: %s",
		    strerror(errno));
	dir[n] = '\0';
	if ((sl = strrchr(dir, '/')) != NULL)
		*sl = '\0';
	return HSM_OK;
}

/* Pipes holding each feed's lines (rehearsal). */
static hsm_rc
make_feeds(const fsc_cmd *c, const fac_answers *a, int *rd)
{
	size_t i, j;
	int p[2], x;
	hsm_rc rc;

	for (i = 0; i < c->nfeeds; i++) {
		if (pipe(p) != 0)
			return hsm_fail(HSM_ERR_IO, "cannot make a pipe: %s", strerror(errno));
		rd[i] = p[0];
		for (j = 0; j < c->feeds[i].n; j++) {
			if ((x = answer_of(a, c->feeds[i].is_pin, c->feeds[i].who[j])) < 0) {
				close(p[1]);
				return hsm_fail(HSM_ERR_NOT_FOUND, "the answers file has no \"%s %s\" "
				    "line", c->feeds[i].is_pin ? "pin" : "answer", c->feeds[i].who[j]);
			}
			if ((rc = hsm_write_all(p[1], a->buf->data + a->off[x], a->len[x])) != HSM_OK ||
			    (rc = hsm_write_all(p[1], "\n", 1)) != HSM_OK) {
				close(p[1]);
				return rc;
			}
		}
		close(p[1]);
	}
	return HSM_OK;
}

/* Lines left unread on a feed: the values the command did not ask for. */
static size_t
unread_lines(int fd)
{
	char b[512];
	ssize_t n;
	size_t lines = 0, i;

	while ((n = read(fd, b, sizeof(b))) > 0)
		for (i = 0; i < (size_t)n; i++)
			lines += b[i] == '\n';
	secure_wipe(b, sizeof(b));
	return lines;
}

static void
child(char **argv, const fsc_cmd *c, const int *rd, const char *path)
{
	size_t i;
	int devnull;

	for (i = 0; rd != NULL && i < c->nfeeds; i++)
		if (dup2(rd[i], FEED_FD0 + (int)i) < 0)
			_exit(126);
	if (rd != NULL && (devnull = open("/dev/null", O_RDONLY)) >= 0)
		dup2(devnull, 0);
	execv(path, argv);
	fprintf(stderr, "hsmadm-ceremony: cannot run %s: %s\n", path, strerror(errno));
	_exit(127);
}

/*
 * The argv c runs with (argv: c->argc + 1 slots, NULL-terminated here). With
 * feeds, each descriptor option gets the number its pipe will have (the
 * digits in fdnum); without, the option and its placeholder are left out and
 * the command asks the person on the terminal.
 */
static void
run_argv(const fsc_cmd *c, int feeds, char fdnum[16][12], char **argv)
{
	size_t i, j, k = 0;

	for (i = 0; i < c->argc; i++) {
		int feed = -1;
		for (j = 0; j < c->nfeeds && j < 16; j++)
			if ((int)i == c->feeds[j].argi || (int)i + 1 == c->feeds[j].argi)
				feed = (int)i == c->feeds[j].argi ? (int)j : 99;
		if (feed >= 0 && !feeds)
			continue;
		if (feed >= 0 && feed != 99) {
			snprintf(fdnum[feed], sizeof(fdnum[feed]), "%d", FEED_FD0 + feed);
			argv[k++] = fdnum[feed];
		} else {
			argv[k++] = c->argv[i];
		}
	}
	argv[k] = NULL;
}

/* One word appended to out as a shell would need it: plain, or in single
 * quotes (a quote inside written '\''), so the line shown can be typed. */
static void
quote_word(const char *w, char *out, size_t cap)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_./:=@%+,-";
	size_t n = strlen(out);

	if (*w != '\0' && strspn(w, plain) == strlen(w)) {
		snprintf(out + n, cap - n, "%s", w);
		return;
	}
	snprintf(out + n, cap - n, "'");
	for (; *w != '\0'; w++) {
		n = strlen(out);
		if (*w == '\'')
			snprintf(out + n, cap - n, "'\\''");
		else
			snprintf(out + n, cap - n, "%c", *w);
	}
	n = strlen(out);
	snprintf(out + n, cap - n, "'");
}

void
fac_cmd_text(const fsc_cmd *c, int feeds, char *out, size_t cap)
{
	char fdnum[16][12], **argv;
	size_t i, n;

	out[0] = '\0';
	if ((argv = calloc(c->argc + 1, sizeof(*argv))) == NULL) {
		/* Only the display is lost: show the words as the script has them. */
		for (i = 0; i < c->argc; i++) {
			n = strlen(out);
			snprintf(out + n, cap - n, "%s%s", i ? " " : "", c->argv[i]);
		}
		return;
	}
	run_argv(c, feeds, fdnum, argv);
	for (i = 0; argv[i] != NULL; i++) {
		n = strlen(out);
		snprintf(out + n, cap - n, "%s", i ? " " : "");
		quote_word(argv[i], out, cap);
	}
	free(argv);
}

hsm_rc
fac_exec(const fsc_cmd *c, const fac_answers *a, int *exit_code, size_t *asked)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], fdnum[16][12], **argv = NULL;
	int rd[16], st = 0;
	size_t i;
	pid_t pid;
	hsm_rc rc = HSM_OK;

	if (c->nfeeds > 16)
		return hsm_fail(HSM_ERR_FORMAT, "a command with more than 16 PIN or answer options");
	for (i = 0; i < 16; i++)
		rd[i] = -1;
	if ((rc = own_dir(dir, sizeof(dir))) != HSM_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", dir, c->argv[0]);
	if ((argv = calloc(c->argc + 1, sizeof(*argv))) == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	run_argv(c, a != NULL, fdnum, argv);
	if (a != NULL && (rc = make_feeds(c, a, rd)) != HSM_OK)
		goto out;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		rc = hsm_fail(HSM_ERR_IO, "cannot start %s: %s", c->argv[0], strerror(errno));
		goto out;
	}
	if (pid == 0)
		child(argv, c, a != NULL ? rd : NULL, path);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	for (i = 0; a != NULL && i < c->nfeeds; i++)
		asked[i] = c->feeds[i].n - unread_lines(rd[i]);
out:
	for (i = 0; i < 16; i++)
		if (rd[i] >= 0)
			close(rd[i]);
	free(argv);
	return rc;
}

/* The card in reader: its profile (card id). */
hsm_rc
fac_card_id(void *arg, const char *reader, char out[33])
{
	pcsc_ctx *pc = NULL;
	piv *p = NULL;
	cardprofile prof;
	hsm_rc rc;

	(void)arg;
	if ((rc = pcsc_open(&pc)) != HSM_OK)
		return rc;
	if ((rc = piv_connect(pc, reader, &p)) == HSM_OK &&
	    (rc = cardprofile_read(p, &prof)) == HSM_OK)
		snprintf(out, 33, "%s", prof.card_id);
	else if (rc == HSM_ERR_NOT_FOUND)
		rc = hsm_fail(HSM_ERR_NO_CARD, "the card in reader %s is not initialized yet", reader);
	piv_free(&p);
	pcsc_close(&pc);
	return rc;
}

/* The value of option opt in c's command line (NULL: not given). */
static const char *
opt_of(const fsc_cmd *c, const char *opt)
{
	size_t i;

	for (i = 1; i + 1 < c->argc; i++)
		if (strcmp(c->argv[i], opt) == 0)
			return c->argv[i + 1];
	return NULL;
}

/* hsmadm-card init verifies the factory PIN before it looks whether the
 * card is new: on a card an interrupted run already initialized, that
 * costs one of the holder's PIN tries. So the runner looks at the card
 * first. */
hsm_rc
fac_card_init_state(const fsc_cmd *c, int *state, char *desc, size_t cap)
{
	const char *reader = opt_of(c, "--reader"), *holder = opt_of(c, "--holder"),
	           *role = opt_of(c, "--role"), *bof = opt_of(c, "--backup-of");
	pcsc_ctx *pc = NULL;
	piv *p = NULL;
	cardprofile prof;
	hsm_rc rc;

	*state = 0;
	if (c->argc < 2 || strcmp(c->argv[0], "hsmadm-card") != 0 ||
	    strcmp(c->argv[1], "init") != 0 || reader == NULL || holder == NULL || role == NULL)
		return HSM_OK;
	memset(&prof, 0, sizeof(prof));
	if ((rc = pcsc_open(&pc)) != HSM_OK)
		return rc;
	/* No card, or a new one: the command itself says what is wrong. */
	if (piv_connect(pc, reader, &p) == HSM_OK && cardprofile_read(p, &prof) == HSM_OK) {
		*state = strcmp(prof.holder, holder) == 0 &&
		    strcmp(card_role_name(prof.role), role) == 0 &&
		    strcmp(prof.backup_of, bof ? bof : "") == 0 ? 1 : 2;
		snprintf(desc, cap, "the card in reader \"%s\" is already initialized: %s card "
		    "of %s%s%s, card id %s", reader, card_role_name(prof.role), prof.holder,
		    *prof.backup_of ? ", backup of " : "", prof.backup_of, prof.card_id);
	}
	piv_free(&p);
	pcsc_close(&pc);
	return HSM_OK;
}

/* A virtual card (hsmadm-vcard) carries the emulator's own attestation
 * certificate in object 5FFF01, whose subject says so; a real YubiKey's is
 * Yubico's. */
hsm_rc
fac_card_is_virtual(const char *reader, int *is_virtual)
{
	static const char mark[] = "hsmadm-vcard emulator attestation";
	pcsc_ctx *pc = NULL;
	piv *p = NULL;
	uint8_t *d = NULL;
	const unsigned char *q;
	size_t n = 0, hl, len;
	X509 *x = NULL;
	char cn[256] = "";
	hsm_rc rc;

	*is_virtual = 0;
	if ((rc = pcsc_open(&pc)) != HSM_OK)
		return rc;
	if ((rc = piv_connect(pc, reader, &p)) != HSM_OK)
		goto out;
	if (piv_get_data(p, 0x5FFF01, &d, &n) != HSM_OK || n < 4 || d[0] != 0x70)
		goto out;   /* no attestation certificate: not our emulator */
	hl = d[1] < 0x80 ? 2 : d[1] == 0x81 ? 3 : 4;
	len = d[1] < 0x80 ? d[1] : d[1] == 0x81 ? d[2] : ((size_t)d[2] << 8 | d[3]);
	if (hl + len > n)
		goto out;
	q = d + hl;
	if ((x = d2i_X509(NULL, &q, (long)len)) != NULL &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
	                              sizeof(cn)) > 0)
		*is_virtual = strncmp(cn, mark, sizeof(mark) - 1) == 0;
out:
	X509_free(x);
	free(d);
	piv_free(&p);
	pcsc_close(&pc);
	return rc;
}
