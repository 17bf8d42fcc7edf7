/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cer_run.c - the set-up and tear-down a group ceremony command shares
 * (cer_run.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmadm/envelope.h"
#include "cer_logscan.h"
#include "cer_run.h"
#include "cmdutil.h"

void
cer_runopts_init(struct cer_runopts *o, const char *prog)
{
	memset(o, 0, sizeof(*o));
	o->prog = prog;
	o->pin_fd = o->admin_pin_fd = -1;
	o->timeout_s = 300;
	o->module_timeout_ms = 10000;
}

static int
take_list(const char *prog, const char *what, const char **list, size_t *n, size_t max,
          const char *arg)
{
	if (*n >= max)
		return -cmd_usage_error(prog, "at most %zu %s", max, what);
	list[(*n)++] = arg;
	return 1;
}

int
cer_runopts_take(struct cer_runopts *o, int c, const char *arg)
{
	switch (c) {
	case CER_O_GROUP: o->group = arg; return 1;
	case CER_O_LOG: o->log = arg; return 1;
	case CER_O_HOME: o->home = arg; return 1;
	case CER_O_READER: o->reader = arg; return 1;
	case CER_O_JSON: o->json = 1; return 1;
	case CER_O_PART:
		return take_list(o->prog, "parts", o->parts, &o->nparts, MKLOAD_MAX_PARTS, arg);
	case CER_O_AREADER:
		return take_list(o->prog, "--admin-reader", o->admin_readers, &o->nadmin_readers,
		                 CER_MAX_KEYS, arg);
	case CER_O_KEY:
		return take_list(o->prog, "--admin-key-file", o->key_files, &o->nkeys,
		                 CER_MAX_KEYS, arg);
	case CER_O_PIN_FD:
		return (c = cmd_parse_fd(o->prog, "--pin-fd", arg, &o->pin_fd)) != 0 ? -c : 1;
	case CER_O_APIN_FD:
		return (c = cmd_parse_fd(o->prog, "--admin-pin-fd", arg, &o->admin_pin_fd)) != 0 ?
		       -c : 1;
	case CER_O_TIMEOUT:
		if (cmd_parse_int(arg, 1, 86400, &o->timeout_s) != 0)
			return -cmd_usage_error(o->prog, "--timeout needs seconds between 1 and 86400");
		return 1;
	case CER_O_MTIMEOUT:
		if (cmd_parse_int(arg, 100, 600000, &o->module_timeout_ms) != 0)
			return -cmd_usage_error(o->prog, "--module-timeout-ms must be 100..600000");
		return 1;
	default:
		return 0;
	}
}

int
cer_runopts_check(const struct cer_runopts *o, size_t min_parts)
{
	if (o->group == NULL)
		return cmd_usage_error(o->prog, "give the domain group: --group NAME");
	if (o->log == NULL)
		return cmd_usage_error(o->prog, "give the evidence log: --log FILE");
	if (min_parts == 0)
		return 0;
	if (o->nparts < min_parts)
		return cmd_usage_error(o->prog, "give every key part in load order: at least %zu "
		                       "--part", min_parts);
	for (size_t i = 0; i < o->nparts; i++) {
		if (!envelope_id_valid(o->parts[i]))
			return cmd_usage_error(o->prog, "'%s' is not a valid part id", o->parts[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->parts[i], o->parts[j]) == 0)
				return cmd_usage_error(o->prog, "part %s is given twice", o->parts[i]);
	}
	return 0;
}

/* ---- cards, signers, progress ---- */

static hsm_rc
io_custodian(void *ctx, const mkload_part *p, unsigned index, const keypart_card **card)
{
	struct cer_run *x = ctx;
	struct cer_want w = { .owner_id = p->card_id, .holds_part = p->part_id };
	char prompt[300];
	hsm_rc rc;

	if (x->pc == NULL)
		return hsm_fail(HSM_ERR_PCSC, "part %s needs its custodian card, but the smart "
		                "card service is not running; start pcscd and run again", p->part_id);
	snprintf(prompt, sizeof(prompt), "Part %u: insert the custodian card of %s "
	         "(card %.8s..., or its backup) that holds part %s.", index,
	         p->holder != NULL && p->holder[0] ? p->holder : "its custodian",
	         p->card_id != NULL ? p->card_id : "?", p->part_id);
	rc = cer_card_open(x->pc, x->o->reader, &w, prompt, x->o->timeout_s * 1000,
	                   x->o->pin_fd, 0, &x->cust);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "part %s was sent to no module", p->part_id);
	*card = &x->cust->kc;
	return HSM_OK;
}

static void
io_custodian_done(void *ctx)
{
	struct cer_run *x = ctx;

	cer_card_free(&x->cust);
}

void
cer_run_say(void *ctx, const char *line)
{
	struct cer_run *x = ctx;
	FILE *f = x->o->json ? stderr : stdout;

	fprintf(f, "%s\n", line);
	fflush(f);
}

void
cer_run_mkio(struct cer_run *x, struct mkload_io *io)
{
	memset(io, 0, sizeof(*io));
	io->ctx = x;
	io->custodian = io_custodian;
	io->custodian_done = io_custodian_done;
	io->say = cer_run_say;
	io->ev = &x->ev;
	io->admins = x->admins;
}

/* Administrator signers: key files, then the named readers in turn; with
 * neither, wait for administrator cards one after another. One run is one
 * decision: a card that signs several of its commands (commit, then
 * activate) asks its holder's PIN once. */
static hsm_rc
open_admins(struct cer_run *x)
{
	const struct cer_runopts *o = x->o;
	struct signers_opts so = {
		.key_files = o->key_files, .nkeys = o->nkeys,
		.cards = (o->nadmin_readers > 0 || o->nkeys > 0) ? SIGNERS_CARDS_READERS
		                                                : SIGNERS_CARDS_WAIT,
		.readers = o->admin_readers, .nreaders = o->nadmin_readers,
		.pin_fd = o->admin_pin_fd, .enter_fd = -1, .timeout_ms = o->timeout_s * 1000,
		.keep_pins = 1,
	};

	return signers_new(&so, &x->admins);
}

hsm_rc
cer_run_prepare(struct cer_run *x)
{
	hsm_rc rc;

	if ((rc = submit_fill_gaps(&x->ev, x->m, x->n)) != HSM_OK ||
	    (rc = open_admins(x)) != HSM_OK)
		return rc;
	/* key files alone need no smart card service */
	if ((rc = pcsc_open(&x->pc)) != HSM_OK && x->o->nkeys == 0)
		return rc;
	hsm_err_clear();
	return HSM_OK;
}

/* ---- the log, the parts, the group ---- */

/* The records of the parts (and of an earlier load of them), from the one
 * scan of the log this run makes. */
static hsm_rc
read_parts(struct cer_run *x, const evscan *scan)
{
	const struct cer_runopts *o = x->o;
	hsm_rc rc;

	for (size_t i = 0; i < o->nparts; i++) {
		if ((rc = cer_scan_find_part(scan, o->log, o->parts[i], &x->recs[i])) != HSM_OK)
			return rc;
		x->parts[i].part_id = o->parts[i];
		memcpy(x->parts[i].kpvp, x->recs[i].kpvp, HSM_VP_LEN);
		x->parts[i].card_id = x->recs[i].card_id;
		x->parts[i].holder = x->recs[i].holder;
	}
	if (o->nparts == 0)
		return HSM_OK;
	rc = cer_scan_find_loaded(scan, x->parts, o->nparts, x->known);
	if (rc == HSM_OK)
		x->have_known = 1;
	else if (rc != HSM_ERR_NOT_FOUND)
		return rc;
	hsm_err_clear();
	return HSM_OK;
}

hsm_rc
cer_run_open(struct cer_run *x, const struct cer_runopts *o, int read_only)
{
	char *home = NULL;
	hsm_rc rc;

	x->o = o;
	x->ev.path = o->log;
	x->ev.say = cer_run_say;
	x->ev.ctx = x;
	x->ev.system.name = o->prog;
	x->ev.system.role = "system";
	/* opened for writing first, so a torn tail is repaired and recorded
	 * before anything reads it */
	if (read_only)
		rc = evscan_path(o->log, 0, &x->ev.scan);
	else if ((rc = cer_log_open(o->log, &x->ev.log)) == HSM_OK)
		rc = evscan_log(x->ev.log, &x->ev.scan);
	if (rc != HSM_OK)
		return hsm_fail_wrap(rc, "reading the evidence log %s", o->log);
	if ((rc = read_parts(x, x->ev.scan)) != HSM_OK ||
	    (rc = wsconfig_home(o->home, &home)) != HSM_OK ||
	    (rc = wsconfig_open(home, &x->cfg)) != HSM_OK)
		goto out;
	rc = wsconfig_group_open(x->cfg, o->group, o->module_timeout_ms, &x->m, &x->n);
out:
	free(home);
	return rc;
}

void
cer_run_close(struct cer_run *x)
{
	signers_free(&x->admins);
	cer_card_free(&x->cust);
	pcsc_close(&x->pc);
	submit_ev_clear(&x->ev);
	evlog_close(&x->ev.log);
	wsconfig_group_close(&x->m, x->n);
	wsconfig_free(&x->cfg);
}
