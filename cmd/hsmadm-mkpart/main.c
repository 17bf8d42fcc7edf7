/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hsmadm-mkpart - custodians: generate a master-key part onto a custodian
 * card, copy it to a backup card, verify, list and destroy it. The clear part
 * never leaves lib/keypart.c; this file parses options, finds the cards,
 * records the result in the evidence log, and prints.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/codec.h"
#include "hsmadm/secbuf.h"
#include "cer.h"
#include "cer_logscan.h"
#include "cmdutil.h"

#define PROG "hsmadm-mkpart"

static const char usage_text[] =
"Usage: hsmadm-mkpart COMMAND [OPTIONS]\n"
"Key parts of a master key, on custodian smart cards.\n"
"\n"
"Commands:\n"
"  generate --part ID        make a new random key part on the custodian card;\n"
"                            with --to-reader, on its backup card too, in one\n"
"                            step (the backup's PIN only: nothing is opened)\n"
"  copy --part ID            copy a part to the same custodian's backup card\n"
"  verify --part ID          open the part with the card and compare its pattern\n"
"                            (KPVP) with the record; shows nothing secret\n"
"  list                      the parts a card holds, with their patterns\n"
"  destroy --part ID         delete a part from a card (asks to type the part id)\n"
"\n"
"Options:\n"
"  --part ID                 part id (1..64 printable characters, e.g. mk2026-p1)\n"
"  --reader NAME             the reader of the (primary) card; default: wait\n"
"                            for a matching card in any reader\n"
"  --to-reader NAME          copy, generate: the reader of the backup card\n"
"  --card CARDID             use only this card (generate, verify, list, destroy)\n"
"  --log FILE                evidence log: record the step (generate, copy,\n"
"                            verify, destroy) and take the recorded KPVP from it\n"
"  --kpvp PATTERN            verify/copy/destroy: the expected pattern, all 64 hex\n"
"                            digits, or as printed (8 groups of 4) with --log\n"
"  --pin-fd N                read the card PIN(s) from file descriptor N, one\n"
"                            line per use (default: the terminal, no echo)\n"
"  --backup-pin-fd N         copy, generate: the backup card's PIN from N\n"
"  --confirm-fd N            destroy: read the typed confirmation from N\n"
"  --yes                     destroy: do not ask for confirmation\n"
"  --timeout SEC             how long to wait for a card (default 300)\n"
"  --allow-default-mgmt-key  test cards only: accept the default management key\n"
"  --json                    print the result as JSON\n"
"  --help, --version\n"
"\n"
"Exit codes: 0 done, 2 usage, 4 pattern mismatch or tampering, 5 part not\n"
"found or already there, 7 cancelled, 8 no card in time, 11 wrong card,\n"
"12 card removed, 14 wrong PIN, 15 PIN blocked; see hsmadm-mkpart(1).\n";

struct opts {
	const char *cmd, *part, *reader, *to_reader, *card, *log, *kpvp_hex;
	int pin_fd, backup_pin_fd, confirm_fd, yes, json, allow_default, timeout_s;
	uint8_t kpvp[HSM_VP_LEN];
	int have_kpvp;
	size_t kpvp_len;        /* 32, or 16: the printed form (checked against the log) */
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_PART = 256, O_READER, O_TO_READER, O_CARD, O_LOG, O_KPVP, O_PIN_FD,
	       O_BPIN_FD, O_CONFIRM_FD, O_YES, O_TIMEOUT, O_ALLOW_DEF, O_JSON, O_HELP,
	       O_VERSION };
	static const struct option lo[] = {
		{ "part", required_argument, NULL, O_PART },
		{ "reader", required_argument, NULL, O_READER },
		{ "to-reader", required_argument, NULL, O_TO_READER },
		{ "card", required_argument, NULL, O_CARD },
		{ "log", required_argument, NULL, O_LOG },
		{ "kpvp", required_argument, NULL, O_KPVP },
		{ "pin-fd", required_argument, NULL, O_PIN_FD },
		{ "backup-pin-fd", required_argument, NULL, O_BPIN_FD },
		{ "confirm-fd", required_argument, NULL, O_CONFIRM_FD },
		{ "yes", no_argument, NULL, O_YES },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "allow-default-mgmt-key", no_argument, NULL, O_ALLOW_DEF },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->pin_fd = o->backup_pin_fd = o->confirm_fd = -1;
	o->timeout_s = 300;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_PART: o->part = optarg; break;
		case O_READER: o->reader = optarg; break;
		case O_TO_READER: o->to_reader = optarg; break;
		case O_CARD: o->card = optarg; break;
		case O_LOG: o->log = optarg; break;
		case O_KPVP: o->kpvp_hex = optarg; break;
		case O_PIN_FD:
			if (cmd_parse_fd(PROG, "--pin-fd", optarg, &o->pin_fd) != 0)
				return 2;
			break;
		case O_BPIN_FD:
			if (cmd_parse_fd(PROG, "--backup-pin-fd", optarg, &o->backup_pin_fd) != 0)
				return 2;
			break;
		case O_CONFIRM_FD:
			if (cmd_parse_fd(PROG, "--confirm-fd", optarg, &o->confirm_fd) != 0)
				return 2;
			break;
		case O_YES: o->yes = 1; break;
		case O_TIMEOUT:
			if (cmd_parse_int(optarg, 1, 86400, &o->timeout_s) != 0)
				return cmd_usage_error(PROG, "--timeout needs seconds between 1 and 86400");
			break;
		case O_ALLOW_DEF: o->allow_default = 1; break;
		case O_JSON: o->json = 1; break;
		case O_HELP: fputs(usage_text, stdout); return -1;
		case O_VERSION: cmd_print_version(PROG); return -1;
		default:
			return cmd_usage_error(PROG, "unknown or incomplete option '%s'",
			                       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(PROG, "say what to do: generate, copy, verify, list or destroy");
	o->cmd = argv[optind++];
	if (optind < argc)
		return cmd_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
	if (strcmp(o->cmd, "list") != 0) {
		if (o->part == NULL)
			return cmd_usage_error(PROG, "%s needs --part ID", o->cmd);
		if (!envelope_id_valid(o->part))
			return cmd_usage_error(PROG, "a part id is 1 to %d printable characters "
			                       "without spaces", ENVELOPE_ID_MAX);
	}
	if (o->kpvp_hex != NULL) {
		if (vp_parse(o->kpvp_hex, o->kpvp, &o->kpvp_len) != HSM_OK)
			return cmd_usage_error(PROG, "--kpvp: %s", hsm_errmsg());
		/* the printed form is checked against the log's full pattern */
		if (o->kpvp_len < HSM_VP_LEN && o->log == NULL)
			return cmd_usage_error(PROG, "--kpvp as printed (32 hex digits) needs --log "
			                       "FILE, which holds the full pattern; or give all 64");
		o->have_kpvp = 1;
	}
	if (strcmp(o->cmd, "verify") == 0 && !o->have_kpvp && o->log == NULL)
		return cmd_usage_error(PROG, "verify compares with the recorded pattern: "
		                       "give --log FILE or --kpvp HEX");
	if (strcmp(o->cmd, "copy") != 0 && strcmp(o->cmd, "generate") != 0 &&
	    (o->to_reader != NULL || o->backup_pin_fd >= 0))
		return cmd_usage_error(PROG, "--to-reader and --backup-pin-fd are for copy and "
		                       "generate only");
	return 0;
}

static void
print_vp_line(const char *what, const uint8_t vp[HSM_VP_LEN])
{
	char t[HSM_VP_TEXT_LEN];

	vp_format(vp, t);
	printf("%s%s\n", what, t);
}

/* The JSON result every step prints with --json. */
static json_t *
result_json(const char *step, const char *part, const cer_card *c,
            const uint8_t kpvp[HSM_VP_LEN], long long seq)
{
	char hex[2 * HSM_VP_LEN + 1], t[HSM_VP_TEXT_LEN];
	json_t *o;

	cer_vp_hex(kpvp, hex);
	vp_format(kpvp, t);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "step", step, "part_id", part,
	              "card_id", c->prof.card_id, "holder", c->prof.holder, "kpvp", hex,
	              "kpvp_text", t);
	if (o != NULL && seq > 0)
		json_object_set_new(o, "log_seq", json_integer(seq));
	return o;
}

static hsm_rc
emit(const struct opts *o, json_t *j)
{
	hsm_rc rc = HSM_OK;

	if (j == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory");
	if (o->json)
		rc = cmd_print_json(j);
	json_decref(j);
	return rc;
}

/* Open the log for writing (--log; else *log stays NULL) and, with scan,
 * scan it once through the writer: a torn tail is repaired and recorded
 * before anything reads it, and what is read is what the record is appended
 * to. must_exist: a log that does not exist cannot hold the record wanted,
 * so none is created. */
static hsm_rc
open_log(const struct opts *o, int must_exist, evlog **log, evscan **scan)
{
	hsm_rc rc;

	*log = NULL;
	if (scan != NULL)
		*scan = NULL;
	if (o->log == NULL)
		return HSM_OK;
	rc = must_exist ? cer_log_open_existing(o->log, log) : cer_log_open(o->log, log);
	if (rc != HSM_OK || scan == NULL)
		return rc;
	if ((rc = evscan_log(*log, scan)) != HSM_OK) {
		hsm_fail_wrap(rc, "reading the evidence log %s", o->log);
		evlog_close(log);
	}
	return rc;
}

/* The expected pattern: --kpvp, else the log's record (if --log), else none. */
static hsm_rc
expected_kpvp(const struct opts *o, const evscan *scan, uint8_t out[HSM_VP_LEN], int *have,
              struct cer_partrec *rec)
{
	hsm_rc rc;

	*have = 0;
	memset(rec, 0, sizeof(*rec));
	if (o->have_kpvp && o->kpvp_len == HSM_VP_LEN) {
		memcpy(out, o->kpvp, HSM_VP_LEN);
		*have = 1;
	}
	if (scan == NULL)
		return HSM_OK;
	rc = cer_scan_find_part(scan, o->log, o->part, rec);
	if (rc == HSM_ERR_NOT_FOUND && *have) {
		hsm_err_clear();
		return HSM_OK;
	}
	if (rc != HSM_OK)
		return rc;
	if (rc == HSM_ERR_NOT_FOUND && o->have_kpvp)
		return hsm_fail(HSM_ERR_NOT_FOUND, "--kpvp as printed needs the part's record, "
		    "but %s has none for part %s; give all 64 hex digits", o->log, o->part);
	if ((*have && !vp_equal(out, rec->kpvp)) ||
	    (o->have_kpvp && !secure_equal(o->kpvp, rec->kpvp, o->kpvp_len)))
		return hsm_fail(HSM_ERR_VERIFY,
		    "--kpvp differs from the pattern recorded for part %s in %s (seq %lld)",
		    o->part, o->log, rec->seq);
	memcpy(out, rec->kpvp, HSM_VP_LEN);
	*have = 1;
	return HSM_OK;
}

/* The backup card of primary (or the primary itself when primary is a
 * backup), in --to-reader, its PIN from --backup-pin-fd. */
static hsm_rc
open_backup(const struct opts *o, pcsc_ctx *pc, const cer_card *primary, cer_card **out)
{
	struct cer_want wb = { 0 };

	wb.owner_id = primary->prof.backup_of[0] != '\0' ? primary->prof.backup_of
	                                                 : primary->prof.card_id;
	wb.not_card_id = primary->prof.card_id;
	return cer_card_open(pc, o->to_reader, &wb, "Insert the backup card.",
	                     o->timeout_s * 1000, o->backup_pin_fd >= 0 ? o->backup_pin_fd : o->pin_fd,
	                     o->allow_default, out);
}

static hsm_rc
do_generate(const struct opts *o, pcsc_ctx *pc)
{
	struct cer_want w = { .card_id = o->card };
	cer_card *c = NULL, *b = NULL;
	evlog *log = NULL;
	evscan *scan = NULL;
	const evscan_part *known;
	uint8_t kpvp[HSM_VP_LEN];
	long long seq = 0;
	hsm_rc rc;

	/* A part id is generated once per log (the audit refuses a second one),
	 * and a part that cannot be recorded is not made: log first. */
	if ((rc = open_log(o, 0, &log, &scan)) != HSM_OK)
		return rc;
	if (scan != NULL && (known = evscan_find_part(scan, o->part)) != NULL) {
		rc = hsm_fail(HSM_ERR_EXISTS, "the evidence log %s already records a key part "
		    "%s (record %lld); choose another part id", o->log, o->part, known->seq);
		goto out;
	}
	rc = cer_card_open(pc, o->reader, &w, "Insert the custodian card for the new key part.",
	                   o->timeout_s * 1000, o->pin_fd, o->allow_default, &c);
	if (rc != HSM_OK)
		goto out;
	if (o->to_reader != NULL && (rc = open_backup(o, pc, c, &b)) != HSM_OK)
		goto out;
	if ((rc = keypart_generate_pair(&c->kc, b != NULL ? &b->kc : NULL, o->part, kpvp)) != HSM_OK)
		goto out;
	if (log != NULL &&
	    (rc = cer_log_keypart(log, EV_KEYPART_GENERATED, c, o->part, kpvp, NULL, &seq)) != HSM_OK)
		goto out;
	if (log != NULL && b != NULL && (rc = cer_log_keypart(log, EV_KEYPART_COPIED, c, o->part,
	    kpvp, b->prof.card_id, &seq)) != HSM_OK)
		goto out;
	if (!o->json) {
		printf("Key part %s is on %s%s%s.\n", o->part, c->label, b ? " and on " : "",
		       b ? b->label : "");
		print_vp_line("Key part pattern (KPVP): ", kpvp);
		if (log != NULL)
			printf("Recorded in %s (record %lld).\n", o->log, seq);
		if (b == NULL)
			printf("Next: copy it to the backup card with 'hsmadm-mkpart copy --part %s'.\n",
			       o->part);
	}
	{
		json_t *j = result_json("generate", o->part, c, kpvp, seq);
		if (j != NULL && b != NULL)
			json_object_set_new(j, "backup_card_id", json_string(b->prof.card_id));
		rc = emit(o, j);
	}
out:
	cer_card_free(&b);
	cer_card_free(&c);
	evscan_free(&scan);
	evlog_close(&log);
	return rc;
}

static hsm_rc
do_copy(const struct opts *o, pcsc_ctx *pc)
{
	struct cer_want wp = { .card_id = o->card, .holds_part = o->part };
	struct cer_partrec rec;
	cer_card *from = NULL, *to = NULL;
	evlog *log = NULL;
	evscan *scan = NULL;
	uint8_t want[HSM_VP_LEN], kpvp[HSM_VP_LEN];
	int have = 0;
	long long seq = 0;
	hsm_rc rc;

	if ((rc = open_log(o, !o->have_kpvp, &log, &scan)) != HSM_OK)
		return rc;
	if ((rc = expected_kpvp(o, scan, want, &have, &rec)) != HSM_OK)
		goto out;
	if (have)
		wp.owner_id = rec.card_id[0] != '\0' ? rec.card_id : NULL;
	rc = cer_card_open(pc, o->reader, &wp, "Insert the custodian card that holds the part.",
	                   o->timeout_s * 1000, o->pin_fd, o->allow_default, &from);
	if (rc != HSM_OK)
		goto out;
	/* The destination is a backup of the same primary (or the primary
	 * itself when restoring from a backup). */
	if ((rc = open_backup(o, pc, from, &to)) != HSM_OK)
		goto out;
	if ((rc = keypart_copy(&from->kc, &to->kc, o->part, have ? want : NULL, kpvp)) != HSM_OK)
		goto out;
	if (log != NULL &&
	    (rc = cer_log_keypart(log, EV_KEYPART_COPIED, from, o->part, kpvp,
	                          to->prof.card_id, &seq)) != HSM_OK)
		goto out;
	if (!o->json) {
		printf("Key part %s is copied from %s to %s.\n", o->part, from->label, to->label);
		print_vp_line("Key part pattern (KPVP): ", kpvp);
		if (log != NULL)
			printf("Recorded in %s (record %lld).\n", o->log, seq);
	}
	{
		json_t *j = result_json("copy", o->part, from, kpvp, seq);
		if (j != NULL)
			json_object_set_new(j, "backup_card_id", json_string(to->prof.card_id));
		rc = emit(o, j);
	}
out:
	cer_card_free(&from);
	cer_card_free(&to);
	evscan_free(&scan);
	evlog_close(&log);
	return rc;
}

static hsm_rc
do_verify(const struct opts *o, pcsc_ctx *pc)
{
	struct cer_want w = { .card_id = o->card, .holds_part = o->part };
	struct cer_partrec rec;
	cer_card *c = NULL;
	evlog *log = NULL;
	evscan *scan = NULL;
	uint8_t want[HSM_VP_LEN], kpvp[HSM_VP_LEN];
	int have = 0;
	long long seq = 0;
	hsm_rc rc;

	if ((rc = open_log(o, !o->have_kpvp, &log, &scan)) != HSM_OK)
		return rc;
	if ((rc = expected_kpvp(o, scan, want, &have, &rec)) != HSM_OK)
		goto out;
	if (rec.card_id[0] != '\0')
		w.owner_id = rec.card_id;
	rc = cer_card_open(pc, o->reader, &w, "Insert the custodian card that holds the part.",
	                   o->timeout_s * 1000, o->pin_fd, o->allow_default, &c);
	if (rc != HSM_OK)
		goto out;
	if ((rc = keypart_verify(&c->kc, o->part, want, kpvp)) != HSM_OK)
		goto out;
	if (log != NULL &&
	    (rc = cer_log_keypart(log, EV_KEYPART_VERIFIED, c, o->part, kpvp, NULL, &seq)) != HSM_OK)
		goto out;
	if (!o->json) {
		printf("Key part %s on %s opens and matches its record.\n", o->part, c->label);
		print_vp_line("Key part pattern (KPVP): ", kpvp);
	}
	rc = emit(o, result_json("verify", o->part, c, kpvp, seq));
out:
	cer_card_free(&c);
	evscan_free(&scan);
	evlog_close(&log);
	return rc;
}

static hsm_rc
do_list(const struct opts *o, pcsc_ctx *pc)
{
	struct cer_want w = { .card_id = o->card };
	cer_card *c = NULL;
	envelope_info *infos = NULL;
	size_t n = 0;
	json_t *j = NULL, *arr;
	hsm_rc rc;

	rc = cer_card_open(pc, o->reader, &w, "Insert a custodian card.",
	                   o->timeout_s * 1000, o->pin_fd, o->allow_default, &c);
	if (rc != HSM_OK)
		return rc;
	if ((rc = keypart_list(&c->kc, &infos, &n)) != HSM_OK)
		goto out;
	/* null, not "", for a card that is no backup: as hsmadm-card prints it */
	j = json_pack("{s:s, s:s, s:s?, s:[]}", "card_id", c->prof.card_id,
	              "holder", c->prof.holder, "backup_of",
	              c->prof.backup_of[0] ? c->prof.backup_of : NULL, "parts");
	if (j == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	arr = json_object_get(j, "parts");
	if (!o->json) {
		printf("%s%s%s holds %zu key part%s.\n", c->label,
		       c->prof.backup_of[0] ? ", a backup of card " : "",
		       c->prof.backup_of, n, n == 1 ? "" : "s");
	}
	for (size_t i = 0; i < n; i++) {
		char hex[2 * HSM_VP_LEN + 1], t[HSM_VP_TEXT_LEN];

		cer_vp_hex(infos[i].kpvp, hex);
		vp_format(infos[i].kpvp, t);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "part_id",
		                      infos[i].part_id, "kpvp", hex, "kpvp_text", t));
		if (!o->json)
			printf("  %-24s KPVP %s\n", infos[i].part_id, t);
	}
	if (o->json)
		rc = cmd_print_json(j);
out:
	json_decref(j);
	free(infos);
	cer_card_free(&c);
	return rc;
}

static hsm_rc
do_destroy(const struct opts *o, pcsc_ctx *pc)
{
	struct cer_want w = { .card_id = o->card, .holds_part = o->part };
	cer_card *c = NULL;
	evlog *log = NULL;
	evscan *scan = NULL;
	struct cer_partrec rec;
	uint8_t kpvp[HSM_VP_LEN], want[HSM_VP_LEN];
	int have = 0;
	long long seq = 0;
	char q[400];
	hsm_rc rc;

	/* the log is opened (and a torn tail repaired) before the card is
	 * touched, so that a part destroyed is a part recorded */
	if ((rc = open_log(o, 0, &log, o->have_kpvp && o->kpvp_len < HSM_VP_LEN ? &scan : NULL))
	    != HSM_OK)
		return rc;
	/* the expected pattern, checked before anything is deleted */
	if (o->have_kpvp && (rc = expected_kpvp(o, scan, want, &have, &rec)) != HSM_OK)
		goto out;
	rc = cer_card_open(pc, o->reader, &w, "Insert the custodian card that holds the part.",
	                   o->timeout_s * 1000, o->pin_fd, o->allow_default, &c);
	if (rc != HSM_OK)
		goto out;
	if (!o->yes) {
		snprintf(q, sizeof(q), "This deletes key part %s from %s for good.", o->part, c->label);
		if ((rc = cmd_confirm_typed(q, o->part, o->confirm_fd)) != HSM_OK)
			goto out;
	}
	rc = keypart_destroy(&c->kc, o->part, have ? want : NULL, kpvp);
	if (rc != HSM_OK)
		goto out;
	if (log != NULL &&
	    (rc = cer_log_keypart(log, EV_KEYPART_DESTROYED, c, o->part, kpvp, NULL, &seq)) != HSM_OK)
		goto out;
	if (!o->json) {
		printf("Key part %s is deleted from %s.\n", o->part, c->label);
		print_vp_line("Its pattern was (KPVP): ", kpvp);
	}
	rc = emit(o, result_json("destroy", o->part, c, kpvp, seq));
out:
	evscan_free(&scan);
	cer_card_free(&c);
	evlog_close(&log);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	pcsc_ctx *pc = NULL;
	hsm_rc rc;
	int r;

	if ((r = parse_args(argc, argv, &o)) != 0)
		return r < 0 ? 0 : r;
	if ((rc = secure_init()) != HSM_OK)
		return cmd_fail(PROG, rc);
	if (strcmp(o.cmd, "generate") != 0 && strcmp(o.cmd, "copy") != 0 &&
	    strcmp(o.cmd, "verify") != 0 && strcmp(o.cmd, "list") != 0 &&
	    strcmp(o.cmd, "destroy") != 0)
		return cmd_usage_error(PROG, "unknown command '%s'", o.cmd);
	if ((rc = pcsc_open(&pc)) != HSM_OK)
		return cmd_fail(PROG, rc);
	if (strcmp(o.cmd, "generate") == 0)
		rc = do_generate(&o, pc);
	else if (strcmp(o.cmd, "copy") == 0)
		rc = do_copy(&o, pc);
	else if (strcmp(o.cmd, "verify") == 0)
		rc = do_verify(&o, pc);
	else if (strcmp(o.cmd, "list") == 0)
		rc = do_list(&o, pc);
	else
		rc = do_destroy(&o, pc);
	pcsc_close(&pc);
	if (rc != HSM_OK)
		return cmd_fail(PROG, rc);
	return 0;
}
