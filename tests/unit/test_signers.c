/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_signers.c - where administrator signatures come from (ops/signers.c),
 * with key files (no card needed): the files in the order given, then the
 * end (HSM_ERR_NOT_FOUND, and no PC/SC opened for it); the lists copied, so
 * the caller's array may change; a restart offers them again; a file that
 * holds no private key refused and the next one still offered; bad
 * arguments; the card paths as far as they go without a smart card
 * service (a private, absent pcscd socket): a named reader fails with the
 * service's error, Enter mode stops on "q" or end of input before any card
 * is looked for, and only Enter mode is interactive.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hsmadm/crypto.h"
#include "hsmadm/signers.h"
#include "test_tmpdir.h"

#define NKEYS 3

struct fx {
	char     *dir;
	char      key[NKEYS][600];
	EVP_PKEY *pub[NKEYS];
	char      junk[600], pubonly[600], missing[600];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char sock[600];
	FILE *fp;
	int i;

	assert_non_null(f);
	f->dir = make_tmpdir_named("signers");
	for (i = 0; i < NKEYS; i++) {
		snprintf(f->key[i], sizeof(f->key[i]), "%s/admin%d.pem", f->dir, i);
		assert_int_equal(crypto_ec_generate(HSM_CURVE_P384, &f->pub[i]), HSM_OK);
		assert_int_equal(crypto_priv_save_pem(f->key[i], f->pub[i]), HSM_OK);
	}
	snprintf(f->junk, sizeof(f->junk), "%s/junk.pem", f->dir);
	snprintf(f->pubonly, sizeof(f->pubonly), "%s/pub.pem", f->dir);
	snprintf(f->missing, sizeof(f->missing), "%s/missing.pem", f->dir);
	assert_non_null(fp = fopen(f->junk, "w"));
	fputs("not a key\n", fp);
	fclose(fp);
	{
		char *pem = NULL;
		assert_int_equal(crypto_pub_to_pem(f->pub[0], &pem), HSM_OK);
		assert_non_null(fp = fopen(f->pubonly, "w"));
		fputs(pem, fp);
		fclose(fp);
		free(pem);
	}
	/* libpcsclite talks to this socket, where no pcscd listens */
	snprintf(sock, sizeof(sock), "%s/no-pcscd.comm", f->dir);
	assert_int_equal(setenv("PCSCLITE_CSOCK_NAME", sock, 1), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < NKEYS; i++)
		EVP_PKEY_free(f->pub[i]);
	rm_tmpdir(f->dir);
	free(f);
	return 0;
}

static signers *
open_signers(const char *const *keys, size_t n, enum signers_cards cards,
             const char *const *readers, size_t nreaders, int enter_fd)
{
	struct signers_opts o;
	signers *s = NULL;

	memset(&o, 0, sizeof(o));
	o.key_files = keys;
	o.nkeys = n;
	o.cards = cards;
	o.readers = readers;
	o.nreaders = nreaders;
	o.pin_fd = -1;
	o.enter_fd = enter_fd;
	assert_int_equal(signers_new(&o, &s), HSM_OK);
	assert_non_null(s);
	return s;
}

/* The next signer is key file i's: its label is the path, its key the key. */
static void
next_is(signers *s, const struct fx *f, int i)
{
	hsm_signer *out = NULL;

	assert_int_equal(signers_next(s, "admin.add", 1, &out), HSM_OK);
	assert_non_null(out);
	assert_string_equal(signer_label(out), f->key[i]);
	assert_int_equal(EVP_PKEY_eq(signer_pub(out), f->pub[i]), 1);
}

static void
at_end(signers *s)
{
	hsm_signer *out = (hsm_signer *)s;

	assert_int_equal(signers_next(s, "admin.add", 1, &out), HSM_ERR_NOT_FOUND);
	assert_null(out);
	assert_true(signers_ended(s));
}

static void
test_key_files_in_order(void **state)
{
	struct fx *f = *state;
	const char *keys[NKEYS] = { f->key[2], f->key[0], f->key[1] };
	signers *s = open_signers(keys, NKEYS, SIGNERS_CARDS_NONE, NULL, 0, -1);

	/* the caller's array is its own: signers_new copied it */
	keys[0] = keys[1] = keys[2] = f->junk;
	next_is(s, f, 2);
	next_is(s, f, 0);
	next_is(s, f, 1);
	at_end(s);
	at_end(s);
	/* a new command: the same files again, from the first */
	signers_restart(s);
	next_is(s, f, 2);
	signers_restart(s);
	next_is(s, f, 2);
	next_is(s, f, 0);
	assert_false(signers_interactive(s));
	signers_free(&s);
	assert_null(s);
	signers_free(&s);
	signers_free(NULL);
	signers_restart(NULL);
	assert_false(signers_interactive(NULL));
}

/* A file with no private key is refused with its own error; the files
 * after it are still offered. */
static void
test_bad_key_file_skipped(void **state)
{
	struct fx *f = *state;
	const char *keys[] = { f->junk, f->key[0], f->pubonly, f->key[1] };
	signers *s = open_signers(keys, 4, SIGNERS_CARDS_NONE, NULL, 0, -1);
	hsm_signer *out = (hsm_signer *)s;

	assert_int_equal(signers_next(s, "admin.add", 2, &out), HSM_ERR_FORMAT);
	assert_null(out);
	assert_non_null(strstr(hsm_errmsg(), f->junk));
	next_is(s, f, 0);
	out = (hsm_signer *)s;
	assert_int_equal(signers_next(s, "admin.add", 1, &out), HSM_ERR_FORMAT);
	assert_null(out);
	next_is(s, f, 1);
	at_end(s);
	signers_free(&s);
}

/* A key file that does not exist is an error of its own (not found, with
 * its name), not the end of the list: quorum_collect must not take it for
 * "nothing more is offered" and say so over the file's message. */
static void
test_missing_key_file_not_the_end(void **state)
{
	struct fx *f = *state;
	const char *keys[] = { "/nonexistent/alice.pem", f->key[0], f->key[1] };
	signers *s = open_signers(keys, 3, SIGNERS_CARDS_NONE, NULL, 0, -1);
	hsm_signer *out = (hsm_signer *)s;
	hsm_rc rc = signers_next(s, "admin.add", 2, &out);

	assert_int_equal(rc, HSM_ERR_NOT_FOUND);
	assert_false(signers_ended(s));
	assert_null(out);
	assert_non_null(strstr(hsm_errmsg(), "/nonexistent/alice.pem"));
	next_is(s, f, 0);
	next_is(s, f, 1);
	at_end(s);
	signers_free(&s);
}

/* A refused PIN is asked again only where the next PIN is its holder's:
 * the terminal, or one person at the workstation (ENTER); never from a
 * descriptor that holds the PINs of several administrators in turn. */
static void
test_may_ask_again(void **state)
{
	const char *readers[] = { "Reader A", "Reader B" };
	struct signers_opts o;
	signers *s = NULL;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.readers = readers;
	o.nreaders = 2;
	o.enter_fd = -1;
	o.cards = SIGNERS_CARDS_READERS;
	o.pin_fd = -1;
	assert_int_equal(signers_new(&o, &s), HSM_OK);
	assert_true(signers_may_ask_again(s));
	signers_free(&s);
	o.pin_fd = 5;
	assert_int_equal(signers_new(&o, &s), HSM_OK);
	assert_false(signers_may_ask_again(s));
	signers_free(&s);
	o.cards = SIGNERS_CARDS_WAIT;
	assert_int_equal(signers_new(&o, &s), HSM_OK);
	assert_false(signers_may_ask_again(s));
	signers_free(&s);
	o.cards = SIGNERS_CARDS_ENTER;
	assert_int_equal(signers_new(&o, &s), HSM_OK);
	assert_true(signers_may_ask_again(s));
	signers_free(&s);
	assert_false(signers_may_ask_again(NULL));
}

static void
test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct signers_opts o;
	signers *s = (signers *)f;

	memset(&o, 0, sizeof(o));
	assert_int_equal(signers_new(NULL, &s), HSM_ERR_USAGE);
	assert_null(s);
	o.nkeys = 1;
	assert_int_equal(signers_new(&o, &s), HSM_ERR_USAGE);
	assert_null(s);
	o.nkeys = 0;
	o.nreaders = 2;
	assert_int_equal(signers_new(&o, &s), HSM_ERR_USAGE);
	assert_null(s);
	/* nothing at all to offer: the end at once */
	o.nreaders = 0;
	assert_int_equal(signers_new(&o, &s), HSM_OK);
	at_end(s);
	signers_free(&s);
}

/* Named readers: after the key files, each reader once; with no smart card
 * service the reader's turn fails with the service's error. With no reader
 * named, the end comes before PC/SC is opened. */
static void
test_readers_without_pcscd(void **state)
{
	struct fx *f = *state;
	const char *keys[] = { f->key[0] };
	const char *readers[] = { "Virtual PIV 0" };
	signers *s = open_signers(keys, 1, SIGNERS_CARDS_READERS, readers, 1, -1);
	hsm_signer *out = (hsm_signer *)s;

	next_is(s, f, 0);
	assert_int_equal(signers_next(s, "admin.add", 1, &out), HSM_ERR_PCSC);
	assert_null(out);
	assert_non_null(strstr(hsm_errmsg(), "pcscd"));
	at_end(s);          /* the one reader had its turn */
	assert_false(signers_interactive(s));
	signers_free(&s);
	s = open_signers(keys, 1, SIGNERS_CARDS_READERS, NULL, 0, -1);
	next_is(s, f, 0);
	at_end(s);
	signers_free(&s);
}

/* Enter mode with input from a pipe holding text; the write end closed. */
static int
pipe_with(const char *text)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	close(p[1]);
	return p[0];
}

static void
test_enter_mode(void **state)
{
	struct fx *f = *state;
	const char *keys[] = { f->key[0] };
	static const char *const inputs[] = { "q\n", "", "quit\n" };
	hsm_signer *out;
	signers *s;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		fd = pipe_with(inputs[i]);
		s = open_signers(keys, 1, SIGNERS_CARDS_ENTER, NULL, 0, fd);
		assert_true(signers_interactive(s));
		next_is(s, f, 0);
		out = (hsm_signer *)s;
		assert_int_equal(signers_next(s, "admin.add", 2, &out), HSM_ERR_QUORUM);
		assert_null(out);
		assert_non_null(strstr(hsm_errmsg(), "stopped with 2 signature(s) still needed"));
		signers_free(&s);
		close(fd);
	}
	/* Enter pressed: the card is looked for, and there is no service; only
	 * the one line was read from the descriptor */
	fd = pipe_with("\nrest");
	s = open_signers(keys, 0, SIGNERS_CARDS_ENTER, NULL, 0, fd);
	out = (hsm_signer *)s;
	assert_int_equal(signers_next(s, "admin.add", 1, &out), HSM_ERR_PCSC);
	assert_null(out);
	{
		char rest[8] = "";
		assert_int_equal(read(fd, rest, sizeof(rest) - 1), 4);
		assert_string_equal(rest, "rest");
	}
	signers_free(&s);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_files_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_key_file_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_key_file_not_the_end, setup, teardown),
		cmocka_unit_test(test_may_ask_again),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readers_without_pcscd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enter_mode, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
