/* SPDX-License-Identifier: BSD-2-Clause */
/* hsmadm-card - readers and cards: list, status, init for a role, PIN change
 * and unblock, health check. Option parsing and printing only; the card work
 * is in smartcard/ (cardadm.h, piv.h). */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdutil.h"
#include "hsmadm/cardadm.h"
#include "hsmadm/cardprofile.h"
#include "hsmadm/pcsc.h"
#include "hsmadm/piv.h"
#include "hsmadm/secbuf.h"

#define PROG "hsmadm-card"

struct opts {
	const char *cmd;        /* list status init pin-change pin-unblock verify */
	const char *reader;
	int json;
	int wait_s;
	/* init */
	const char *role, *holder, *installation, *backup_of;
	int force, allow_default, puk_change;
	/* secret inputs: fds, -1 = terminal */
	int pin_fd, puk_fd, new_pin_fd, new_puk_fd, mgmt_key_fd, new_mgmt_key_fd, confirm_fd;
};

static void
usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " list [--json]\n"
"       " PROG " status [--reader R] [--json]\n"
"       " PROG " init --role admin|custodian|supervisor --holder NAME\n"
"                   [--installation ID] [--backup-of CARDID] [--force]\n"
"                   [--allow-default-mgmt-key] [--reader R] [--json]\n"
"       " PROG " pin change [--puk] [--reader R] [--json]\n"
"       " PROG " pin unblock [--reader R] [--json]\n"
"       " PROG " verify [--reader R] [--json]\n"
"       " PROG " --help | --version\n"
"\n"
"Smart cards (PIV: YubiKey 5 or hsmadm-vcard) for hsmadm key ceremonies.\n"
"\n"
"  list        readers, and for each card: role, holder, card id, serial\n"
"  status      PIN and PUK tries left, keys present, the hsmadm profile\n"
"  init        set up a card for a role: new PIN, PUK and management key,\n"
"              signature key 9C (P-384, PIN for every use) generated on the\n"
"              card, plus key-management key 9D for custodians; certificates\n"
"              naming the holder; the profile. Refuses an initialized card\n"
"              unless --force is given AND the card id is typed to confirm.\n"
"  pin change  change the PIN (or, with --puk, the PUK)\n"
"  pin unblock set a new PIN with the PUK after the PIN was blocked\n"
"  verify      health check: PIN, a signature by 9C checked against the\n"
"              card's certificate, custodian envelopes readable\n"
"\n"
"Options:\n"
"  --reader R          the reader (exact name, or part of exactly one name);\n"
"                      default: the only reader holding a card\n"
"  --wait SECONDS      wait this long for a card to be inserted (default 0)\n"
"  --json              machine-readable output on stdout\n"
"  --role ROLE --holder NAME (<= 30 characters) --installation ID\n"
"  --backup-of CARDID  this card backs up the card with that id\n"
"  --force             re-initialize an initialized card (destroys its keys)\n"
"  --allow-default-mgmt-key  accept the well-known default management key\n"
"                      (new cards, test cards); refused otherwise\n"
"Secrets are never taken from the command line or the environment: they are\n"
"asked on the terminal without echo (new ones twice), or read one line each\n"
"from a file descriptor:\n"
"  --pin-fd N --puk-fd N          current PIN / PUK (a new card: 123456)\n"
"  --new-pin-fd N --new-puk-fd N  new PIN / PUK (6 to 8 characters)\n"
"  --mgmt-key-fd N                current management key, hex (default: the\n"
"                                 one hsmadm stored PIN-protected on the card)\n"
"  --new-mgmt-key-fd N            new management key, hex (default: random)\n"
"  --confirm-fd N                 the typed confirmation for --force\n"
"\n"
"Exit codes: 0 ok, 2 usage, 3 malformed card data, 4 check failed, 5 not\n"
"found / already initialized, 7 cancelled, 8 timeout, 10 no smart card\n"
"service or reader, 11 no card, 12 card removed, 13 card error, 14 wrong\n"
"PIN/PUK (tries left in the message), 15 PIN/PUK blocked, 16 management key\n"
"or security status refused. See hsmadm-card(1).\n");
}

enum {
	O_READER = 256, O_JSON, O_WAIT, O_ROLE, O_HOLDER, O_INST, O_BACKUP, O_FORCE, O_ALLOWDEF,
	O_PUK, O_PINFD, O_PUKFD, O_NEWPINFD, O_NEWPUKFD, O_MGMTFD, O_NEWMGMTFD, O_CONFIRMFD,
	O_HELP, O_VERSION
};

static const struct option longopts[] = {
	{ "reader", required_argument, NULL, O_READER },
	{ "json", no_argument, NULL, O_JSON },
	{ "wait", required_argument, NULL, O_WAIT },
	{ "role", required_argument, NULL, O_ROLE },
	{ "holder", required_argument, NULL, O_HOLDER },
	{ "installation", required_argument, NULL, O_INST },
	{ "backup-of", required_argument, NULL, O_BACKUP },
	{ "force", no_argument, NULL, O_FORCE },
	{ "allow-default-mgmt-key", no_argument, NULL, O_ALLOWDEF },
	{ "puk", no_argument, NULL, O_PUK },
	{ "pin-fd", required_argument, NULL, O_PINFD },
	{ "puk-fd", required_argument, NULL, O_PUKFD },
	{ "new-pin-fd", required_argument, NULL, O_NEWPINFD },
	{ "new-puk-fd", required_argument, NULL, O_NEWPUKFD },
	{ "mgmt-key-fd", required_argument, NULL, O_MGMTFD },
	{ "new-mgmt-key-fd", required_argument, NULL, O_NEWMGMTFD },
	{ "confirm-fd", required_argument, NULL, O_CONFIRMFD },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

/* ---------------------------------------------------------------- secrets */

/* A current secret: one line from fd, or asked once without echo. */
static hsm_rc
ask(const char *prompt, int fd, size_t max, hsm_secbuf **out)
{
	return secure_read_line(prompt, fd, max, out);
}

/* A new secret: from fd once, or asked twice on the terminal. */
static hsm_rc
ask_new(const char *prompt, const char *again, int fd, size_t max, hsm_secbuf **out)
{
	hsm_secbuf *a = NULL, *b = NULL;
	hsm_rc rc;

	*out = NULL;
	if ((rc = secure_read_line(prompt, fd, max, &a)) != HSM_OK)
		return rc;
	if (fd < 0) {
		if ((rc = secure_read_line(again, -1, max, &b)) != HSM_OK)
			goto out;
		if (a->len != b->len || !secure_equal(a->data, b->data, a->len)) {
			rc = hsm_fail(HSM_ERR_USAGE, "the two entries differ; nothing was changed");
			goto out;
		}
	}
	*out = a;
	a = NULL;
out:
	secbuf_free(&a);
	secbuf_free(&b);
	return rc;
}

static hsm_rc
ask_key(const char *prompt, const char *again, int fd, int twice, hsm_secbuf **key)
{
	hsm_secbuf *hex = NULL;
	hsm_rc rc;

	*key = NULL;
	rc = twice ? ask_new(prompt, again, fd, 64, &hex) : ask(prompt, fd, 64, &hex);
	if (rc == HSM_OK)
		rc = piv_mgmt_key_parse(hex, key);
	secbuf_free(&hex);
	return rc;
}

/* ------------------------------------------------------------------ cards */

static hsm_rc
open_card(const struct opts *o, pcsc_ctx **ctx, piv **card)
{
	char *name = NULL;
	hsm_rc rc;

	*card = NULL;
	if ((rc = pcsc_open(ctx)) != HSM_OK)
		return rc;
	rc = pcsc_find_reader(*ctx, o->reader, &name);
	if (rc == HSM_OK) {
		rc = piv_connect(*ctx, name, card);
		if (rc != HSM_ERR_NO_CARD || o->wait_s <= 0)
			goto out;
	} else if ((rc != HSM_ERR_NO_CARD && rc != HSM_ERR_PCSC) || o->wait_s <= 0) {
		/* no reader yet (PCSC) is worth waiting for too: one may be
		 * plugged in; a stopped pcscd fails again right away below */
		goto out;
	}
	free(name);
	name = NULL;
	if ((rc = pcsc_wait_card(*ctx, o->reader, NULL, NULL,
	    "Insert the card (waiting for it)...", o->wait_s * 1000, &name)) != HSM_OK)
		goto out;
	rc = piv_connect(*ctx, name, card);
out:
	free(name);
	return rc;
}

static json_t *
profile_json(const cardprofile *p)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s?}", "role", card_role_name(p->role),
	    "holder", p->holder, "installation", p->installation, "card_id", p->card_id,
	    "backup_of", p->backup_of[0] ? p->backup_of : NULL);
}

static const char *
curve_name(hsm_curve c)
{
	return c == HSM_CURVE_P256 ? "P-256" : c == HSM_CURVE_P384 ? "P-384" :
	    c == HSM_CURVE_P521 ? "P-521" : "other";
}

static json_t *
key_json(const card_key_info *k)
{
	if (!k->present)
		return json_null();
	return json_pack("{s:s, s:s, s:s}", "curve", curve_name(k->curve), "ski", k->ski,
	    "subject_cn", k->subject_cn);
}

static json_t *
tries_json(int t)
{
	return t < 0 ? json_null() : json_integer(t);
}

static json_t *
status_json(const card_status *st)
{
	char ver[16];
	json_t *j;

	snprintf(ver, sizeof(ver), "%u.%u.%u", st->version[0], st->version[1], st->version[2]);
	j = json_pack("{s:s, s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:b}",
	    "reader", st->reader,
	    "version", st->have_version ? json_string(ver) : json_null(),
	    "serial", st->have_serial ? json_integer(st->serial) : json_null(),
	    "pin_tries", tries_json(st->pin_tries),
	    "puk_tries", tries_json(st->puk_tries),
	    "keys", "9c", key_json(&st->sign), "9d", key_json(&st->keymgmt),
	    "initialized", st->initialized);
	if (j == NULL)
		return NULL;
	json_object_set_new(j, "profile", st->initialized ? profile_json(&st->profile) : json_null());
	json_object_set_new(j, "envelopes", st->envelopes < 0 ? json_null() :
	    json_integer(st->envelopes));
	return j;
}

static void
print_tries(const char *what, int t)
{
	if (t < 0)
		printf("%-13s unknown (the card does not tell)\n", what);
	else if (t == 0)
		printf("%-13s BLOCKED\n", what);
	else
		printf("%-13s %d %s left\n", what, t, t == 1 ? "try" : "tries");
}

static void
print_key(const char *slot, const card_key_info *k)
{
	if (!k->present)
		printf("key %s        none\n", slot);
	else
		printf("key %s        %s, holder \"%s\", SKI %.16s...\n", slot, curve_name(k->curve),
		    k->subject_cn, k->ski);
}

static void
print_status(const card_status *st)
{
	printf("reader        %s\n", st->reader);
	if (st->have_version)
		printf("version       %u.%u.%u\n", st->version[0], st->version[1], st->version[2]);
	if (st->have_serial)
		printf("serial        %u\n", st->serial);
	print_tries("PIN", st->pin_tries);
	print_tries("PUK", st->puk_tries);
	print_key("9C", &st->sign);
	print_key("9D", &st->keymgmt);
	if (!st->initialized) {
		printf("profile       none (not initialized for hsmadm)\n");
		return;
	}
	printf("role          %s\n", card_role_name(st->profile.role));
	printf("holder        %s\n", st->profile.holder);
	printf("card id       %s\n", st->profile.card_id);
	if (st->profile.installation[0])
		printf("installation  %s\n", st->profile.installation);
	if (st->profile.backup_of[0])
		printf("backup of     %s\n", st->profile.backup_of);
	if (st->envelopes >= 0)
		printf("envelopes     %d\n", st->envelopes);
}

static int
do_list(const struct opts *o)
{
	pcsc_ctx *ctx = NULL;
	card_summary *s = NULL;
	size_t n = 0, i;
	json_t *arr = NULL;
	hsm_rc rc;

	if ((rc = pcsc_open(&ctx)) != HSM_OK || (rc = card_list(ctx, &s, &n)) != HSM_OK)
		goto out;
	if (o->json) {
		arr = json_array();
		for (i = 0; i < n; i++) {
			json_t *r = json_pack("{s:s, s:b}", "reader", s[i].reader, "card",
			    s[i].card_present);

			if (s[i].card_present) {
				json_object_set_new(r, "piv", json_boolean(s[i].piv));
				json_object_set_new(r, "serial", s[i].have_serial ?
				    json_integer(s[i].serial) : json_null());
				json_object_set_new(r, "profile", s[i].initialized ?
				    profile_json(&s[i].profile) : json_null());
				if (s[i].note[0])
					json_object_set_new(r, "note", json_string(s[i].note));
			}
			json_array_append_new(arr, r);
		}
		json_t *top = json_pack("{s:o}", "readers", arr);
		rc = cmd_print_json(top);
		json_decref(top);
		goto out;
	}
	if (n == 0)
		printf("no readers (plug one in, or check that pcscd runs)\n");
	for (i = 0; i < n; i++) {
		printf("%s\n", s[i].reader);
		if (!s[i].card_present)
			printf("  no card\n");
		else if (s[i].note[0])
			printf("  card: %s\n", s[i].note);
		else if (!s[i].initialized)
			printf("  PIV card, not initialized for hsmadm%s\n",
			    s[i].have_serial ? "" : "");
		else
			printf("  %s card of %s, card id %s\n", card_role_name(s[i].profile.role),
			    s[i].profile.holder, s[i].profile.card_id);
		if (s[i].card_present && s[i].have_serial)
			printf("  serial %u\n", s[i].serial);
	}
out:
	free(s);
	pcsc_close(&ctx);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

/* A card's status as the result of a command: JSON, or text after an
 * optional heading line. */
static hsm_rc
show_status(const struct opts *o, const card_status *st, const char *heading)
{
	json_t *j;
	hsm_rc rc;

	if (!o->json) {
		if (heading != NULL)
			printf("%s\n", heading);
		print_status(st);
		return HSM_OK;
	}
	j = status_json(st);
	rc = cmd_print_json(j);
	json_decref(j);
	return rc;
}

static int
do_status(const struct opts *o)
{
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	card_status st;
	hsm_rc rc;

	if ((rc = open_card(o, &ctx, &card)) != HSM_OK || (rc = card_status_read(card, &st)) != HSM_OK)
		goto out;
	rc = show_status(o, &st, NULL);
out:
	piv_free(&card);
	pcsc_close(&ctx);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

static hsm_rc
confirm_cb(void *arg, const char *question, const char *word)
{
	return cmd_confirm_typed(question, word, *(int *)arg);
}

/* The current PIN and management key, checked on the card before any new
 * secret is asked for: someone who mistyped the PIN learns it at once, with
 * the tries left, not after typing a new PIN and PUK twice each. Nothing is
 * changed on the card; card_init checks both again when it runs. */
static hsm_rc
check_current(piv *card, const hsm_secbuf *pin, const hsm_secbuf *mk, int allow_default)
{
	hsm_rc rc;

	if ((rc = piv_begin(card)) != HSM_OK)
		return rc;
	if ((rc = piv_verify_pin(card, pin)) != HSM_OK)
		rc = hsm_fail_wrap(rc, "the current PIN of the card in \"%s\"", piv_reader(card));
	else if ((rc = cardmgmt_auth(card, pin, mk, allow_default)) != HSM_OK)
		rc = hsm_fail_wrap(rc, "the current management key of the card in \"%s\"",
		    piv_reader(card));
	piv_end(card);
	return rc;
}

static int
do_init(struct opts *o)
{
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	hsm_secbuf *pin = NULL, *puk = NULL, *npin = NULL, *npuk = NULL, *mk = NULL, *nmk = NULL;
	card_init_opts io;
	card_status st;
	hsm_rc rc;

	memset(&io, 0, sizeof(io));
	if (o->role == NULL || o->holder == NULL)
		return cmd_usage_error(PROG, "init needs --role and --holder");
	if ((rc = card_role_parse(o->role, &io.role)) != HSM_OK ||
	    (rc = cardprofile_check_holder(o->holder)) != HSM_OK ||
	    (rc = cardprofile_check_installation(o->installation)) != HSM_OK ||
	    (o->backup_of && (rc = cardprofile_check_card_id(o->backup_of)) != HSM_OK))
		return cmd_usage_error(PROG, "%s", hsm_errmsg());
	if ((rc = open_card(o, &ctx, &card)) != HSM_OK)
		goto out;
	/* An initialized card is refused before any PIN is tried: a re-run (a
	 * script resumed, a slip of the reader) must not cost its holder a try. */
	if (!o->force && (rc = card_status_read(card, &st)) == HSM_OK && st.initialized) {
		rc = hsm_fail(HSM_ERR_EXISTS, "the card is already initialized (%s card of %s, "
		    "card id %s); nothing was tried or changed. To wipe its keys and start again "
		    "use --force", card_role_name(st.profile.role), st.profile.holder,
		    st.profile.card_id);
		goto out;
	}
	hsm_err_clear();
	if ((rc = ask("Current PIN of the card (a new card has 123456): ", o->pin_fd,
	    PIV_PIN_MAX, &pin)) != HSM_OK)
		goto out;
	if (o->puk_fd >= 0 && (rc = ask("Current PUK: ", o->puk_fd, PIV_PIN_MAX, &puk)) != HSM_OK)
		goto out;
	if (o->mgmt_key_fd >= 0 && (rc = ask_key("Current management key (hex): ", NULL,
	    o->mgmt_key_fd, 0, &mk)) != HSM_OK)
		goto out;
	if ((rc = check_current(card, pin, mk, o->allow_default)) != HSM_OK)
		goto out;
	if ((rc = ask_new("New PIN (6-8 characters): ", "New PIN again: ", o->new_pin_fd,
	    PIV_PIN_MAX, &npin)) != HSM_OK || (rc = piv_pin_check(npin, PIV_REF_PIN)) != HSM_OK)
		goto out;
	if ((rc = ask_new("New PUK (6-8 characters, keep it apart from the card): ",
	    "New PUK again: ", o->new_puk_fd, PIV_PIN_MAX, &npuk)) != HSM_OK ||
	    (rc = piv_pin_check(npuk, PIV_REF_PUK)) != HSM_OK)
		goto out;
	if (o->new_mgmt_key_fd >= 0 && (rc = ask_key("New management key (hex): ",
	    "New management key again: ", o->new_mgmt_key_fd, 1, &nmk)) != HSM_OK)
		goto out;
	io.holder = o->holder;
	io.installation = o->installation;
	io.backup_of = o->backup_of;
	io.force = o->force;
	io.allow_default_mgmt = o->allow_default;
	io.pin = pin;
	io.puk = puk;
	io.new_pin = npin;
	io.new_puk = npuk;
	io.mgmt_key = mk;
	io.new_mgmt_key = nmk;
	io.confirm = confirm_cb;
	io.confirm_arg = &o->confirm_fd;
	if ((rc = card_init(card, &io, &st)) != HSM_OK)
		goto out;
	rc = show_status(o, &st, "Card initialized.");
out:
	secbuf_free(&pin);
	secbuf_free(&puk);
	secbuf_free(&npin);
	secbuf_free(&npuk);
	secbuf_free(&mk);
	secbuf_free(&nmk);
	piv_free(&card);
	pcsc_close(&ctx);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

static int
print_done(const struct opts *o, const char *what, const char *text)
{
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s}", "ok", 1, "done", what);
		hsm_rc rc = cmd_print_json(j);
		json_decref(j);
		return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
	}
	printf("%s\n", text);
	return 0;
}

static int
do_pin_change(const struct opts *o)
{
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	hsm_secbuf *old = NULL, *neu = NULL;
	int ref = o->puk_change ? PIV_REF_PUK : PIV_REF_PIN;
	hsm_rc rc;

	if ((rc = open_card(o, &ctx, &card)) != HSM_OK)
		goto out;
	if (ref == PIV_REF_PIN)
		rc = ask("Current PIN: ", o->pin_fd, PIV_PIN_MAX, &old);
	else
		rc = ask("Current PUK: ", o->puk_fd, PIV_PIN_MAX, &old);
	if (rc != HSM_OK)
		goto out;
	if (ref == PIV_REF_PIN)
		rc = ask_new("New PIN (6-8 characters): ", "New PIN again: ", o->new_pin_fd,
		    PIV_PIN_MAX, &neu);
	else
		rc = ask_new("New PUK (6-8 characters): ", "New PUK again: ", o->new_puk_fd,
		    PIV_PIN_MAX, &neu);
	if (rc != HSM_OK)
		goto out;
	rc = piv_change(card, ref, old, neu);
out:
	secbuf_free(&old);
	secbuf_free(&neu);
	piv_free(&card);
	pcsc_close(&ctx);
	if (rc != HSM_OK)
		return cmd_fail(PROG, rc);
	return ref == PIV_REF_PIN ? print_done(o, "pin-change", "PIN changed.") :
	    print_done(o, "puk-change", "PUK changed.");
}

static int
do_pin_unblock(const struct opts *o)
{
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	hsm_secbuf *puk = NULL, *neu = NULL;
	hsm_rc rc;

	if ((rc = open_card(o, &ctx, &card)) != HSM_OK)
		goto out;
	if ((rc = ask("PUK: ", o->puk_fd, PIV_PIN_MAX, &puk)) != HSM_OK ||
	    (rc = ask_new("New PIN (6-8 characters): ", "New PIN again: ", o->new_pin_fd,
	    PIV_PIN_MAX, &neu)) != HSM_OK)
		goto out;
	rc = piv_unblock(card, puk, neu);
out:
	secbuf_free(&puk);
	secbuf_free(&neu);
	piv_free(&card);
	pcsc_close(&ctx);
	if (rc != HSM_OK)
		return cmd_fail(PROG, rc);
	return print_done(o, "pin-unblock", "PIN unblocked and set; the PIN tries are back to full.");
}

static int
do_verify(const struct opts *o)
{
	pcsc_ctx *ctx = NULL;
	piv *card = NULL;
	card_check chk;
	hsm_rc rc, vrc;

	memset(&chk, 0, sizeof(chk));
	if ((rc = open_card(o, &ctx, &card)) != HSM_OK)
		goto out;
	vrc = card_verify(card, o->pin_fd, &chk);
	/* Print the checks when the card answered, also when one failed. */
	if (vrc == HSM_OK || vrc == HSM_ERR_VERIFY) {
		if (o->json) {
			json_t *j = json_pack("{s:b, s:b, s:b, s:b, s:o, s:o}",
			    "ok", vrc == HSM_OK, "initialized", chk.initialized,
			    "signature_ok", chk.signature_ok, "certificate_ok", chk.cert_ok,
			    "key_9c", key_json(&chk.sign),
			    "profile", chk.initialized ? profile_json(&chk.profile) : json_null());
			if (chk.initialized && chk.profile.role == CARD_ROLE_CUSTODIAN) {
				json_object_set_new(j, "key_9d_ok", json_boolean(chk.keymgmt_ok));
				json_object_set_new(j, "envelopes", json_integer(chk.envelopes));
				json_object_set_new(j, "envelopes_bad", json_integer(chk.envelopes_bad));
			}
			rc = cmd_print_json(j);
			json_decref(j);
		} else {
			printf("signature (9C)  %s\n", chk.signature_ok ? "ok" : "FAILED");
			printf("certificate     %s\n", chk.cert_ok ? "ok" : "FAILED");
			if (chk.initialized && chk.profile.role == CARD_ROLE_CUSTODIAN) {
				printf("key 9D          %s\n", chk.keymgmt_ok ? "ok" : "FAILED");
				printf("envelopes       %d (%d damaged)\n", chk.envelopes,
				    chk.envelopes_bad);
			}
			if (chk.initialized)
				printf("card            %s card of %s, card id %s\n",
				    card_role_name(chk.profile.role), chk.profile.holder,
				    chk.profile.card_id);
			if (vrc == HSM_OK)
				printf("The card is healthy.\n");
		}
	}
	rc = vrc;
out:
	piv_free(&card);
	pcsc_close(&ctx);
	return rc == HSM_OK ? 0 : cmd_fail(PROG, rc);
}

/* The verb (argv[1], and argv[2] for "pin"): sets o->cmd and *first, the
 * index of the first option. -1 to go on, else the exit code. */
static int
parse_verb(int argc, char **argv, struct opts *o, int *first)
{
	*first = 2;
	if (argc < 2)
		return cmd_usage_error(PROG, "which command? list, status, init, pin, verify");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		cmd_print_version(PROG);
		return 0;
	}
	if (strcmp(argv[1], "pin") == 0) {
		if (argc < 3)
			return cmd_usage_error(PROG, "pin needs 'change' or 'unblock'");
		if (strcmp(argv[2], "change") == 0)
			o->cmd = "pin-change";
		else if (strcmp(argv[2], "unblock") == 0)
			o->cmd = "pin-unblock";
		else
			return cmd_usage_error(PROG, "pin needs 'change' or 'unblock', not '%s'", argv[2]);
		*first = 3;
	} else if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "status") == 0 ||
	    strcmp(argv[1], "init") == 0 || strcmp(argv[1], "verify") == 0) {
		o->cmd = argv[1];
	} else {
		return cmd_usage_error(PROG, "unknown command '%s'", argv[1]);
	}
	return -1;
}

/* The field and the name of a descriptor option; NULL if c is not one. */
static int *
fd_slot(struct opts *o, int c, const char **name)
{
	switch (c) {
	case O_PINFD: *name = "--pin-fd"; return &o->pin_fd;
	case O_PUKFD: *name = "--puk-fd"; return &o->puk_fd;
	case O_NEWPINFD: *name = "--new-pin-fd"; return &o->new_pin_fd;
	case O_NEWPUKFD: *name = "--new-puk-fd"; return &o->new_puk_fd;
	case O_MGMTFD: *name = "--mgmt-key-fd"; return &o->mgmt_key_fd;
	case O_NEWMGMTFD: *name = "--new-mgmt-key-fd"; return &o->new_mgmt_key_fd;
	case O_CONFIRMFD: *name = "--confirm-fd"; return &o->confirm_fd;
	default: return NULL;
	}
}

/* The options after the verb. -1 to go on, else the exit code. */
static int
parse_opts(int argc, char **argv, struct opts *o)
{
	const char *name = NULL;
	int c, *fd;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_READER: o->reader = optarg; break;
		case O_JSON: o->json = 1; break;
		case O_WAIT:
			if (cmd_parse_int(optarg, 0, 3600, &o->wait_s) != 0)
				return cmd_usage_error(PROG, "--wait needs 0 to 3600 seconds");
			break;
		case O_ROLE: o->role = optarg; break;
		case O_HOLDER: o->holder = optarg; break;
		case O_INST: o->installation = optarg; break;
		case O_BACKUP: o->backup_of = optarg; break;
		case O_FORCE: o->force = 1; break;
		case O_ALLOWDEF: o->allow_default = 1; break;
		case O_PUK: o->puk_change = 1; break;
		case 'h':
		case O_HELP: usage(stdout); return 0;
		case O_VERSION: cmd_print_version(PROG); return 0;
		default:
			if ((fd = fd_slot(o, c, &name)) == NULL)
				return cmd_usage_error(PROG, "unknown option");
			if (cmd_parse_fd(PROG, name, optarg, fd) != 0)
				return 2;
		}
	}
	if (optind != argc)
		return cmd_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
	if (strcmp(o->cmd, "init") != 0 && (o->role || o->holder || o->installation ||
	    o->backup_of || o->force || o->new_mgmt_key_fd >= 0 || o->mgmt_key_fd >= 0 ||
	    o->confirm_fd >= 0))
		return cmd_usage_error(PROG, "--role, --holder, --installation, --backup-of, --force "
		    "and the management key options belong to 'init'");
	if (o->puk_change && strcmp(o->cmd, "pin-change") != 0)
		return cmd_usage_error(PROG, "--puk belongs to 'pin change'");
	return -1;
}

int
main(int argc, char **argv)
{
	struct opts o;
	int first, ex;
	hsm_rc rc;

	memset(&o, 0, sizeof(o));
	o.pin_fd = o.puk_fd = o.new_pin_fd = o.new_puk_fd = -1;
	o.mgmt_key_fd = o.new_mgmt_key_fd = o.confirm_fd = -1;
	o.json = cmd_take_flag(&argc, argv, "--json");   /* anywhere on the line */
	if ((ex = parse_verb(argc, argv, &o, &first)) >= 0 ||
	    (ex = parse_opts(argc - (first - 1), argv + (first - 1), &o)) >= 0)
		return ex;
	if (strcmp(o.cmd, "list") == 0)
		return do_list(&o);
	/* Everything but list may hold a PIN: no core dumps, locked memory. */
	if ((rc = secure_init()) != HSM_OK)
		return cmd_fail(PROG, rc);
	if (strcmp(o.cmd, "status") == 0)
		return do_status(&o);
	if (strcmp(o.cmd, "init") == 0)
		return do_init(&o);
	if (strcmp(o.cmd, "pin-change") == 0)
		return do_pin_change(&o);
	if (strcmp(o.cmd, "pin-unblock") == 0)
		return do_pin_unblock(&o);
	return do_verify(&o);
}
