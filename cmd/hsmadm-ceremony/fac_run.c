/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fac_run.c - the facilitator's runner: the script's steps in order, each
 * recorded (step.begin, the commands, the witnesses' acknowledgements,
 * step.end). Nothing is skipped silently: a command that fails ends its
 * step "failed" with an exception and stops the run; a step found begun but
 * not ended (a crash) is recorded as an exception and run again from its
 * start by resume. Which steps are done comes from the log's step.end
 * records, so an interruption never means starting over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsmadm/evlog.h"
#include "fac_ask.h"
#include "fac_exec.h"
#include "fac_run.h"

struct run {
	const struct fac_runopts *o;
	fsc_script  *s;
	fpl_plan    *p;
	fac_answers  ans;
	int          rehearsal;
	json_t      *st;        /* fac_scan of the log (NULL: no log yet) */
	fsc_ctx      ctx;
	char         dir[1024];
	int         *pins;      /* per plan person: PINs asked (rehearsal) */
	int         *newpins;   /* per plan person: new PINs chosen (rehearsal) */
	int          cmd_exit;
	size_t       ncmds;     /* commands run so far in the current step */
	int          rerun;     /* the current step was begun before (resume) */
};

static int
step_done(const json_t *st, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(st, "steps"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "step")), id) == 0 &&
		    json_is_string(json_object_get(e, "result")) &&
		    strcmp(json_string_value(json_object_get(e, "result")), "ok") == 0)
			return 1;
	return 0;
}

/* The step was begun before, whatever became of it. */
static int
step_seen(const json_t *st, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(st, "steps"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "step")), id) == 0)
			return 1;
	return 0;
}

static int
step_open(const json_t *st, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(st, "open_steps"), i, e)
		if (strcmp(json_string_value(e), id) == 0)
			return 1;
	return 0;
}

/* The log's first record must name this script and this plan. */
static hsm_rc
check_open(const struct run *r)
{
	evlog_reader *rd = NULL;
	evlog_record rec;
	const char *s, *p;
	hsm_rc rc;

	memset(&rec, 0, sizeof(rec));
	if ((rc = evlog_reader_open(r->o->log, &rd)) != HSM_OK)
		return rc;
	if ((rc = evlog_reader_next(rd, &rec)) == HSM_OK) {
		s = json_string_value(json_object_get(rec.body, "script"));
		p = json_string_value(json_object_get(rec.body, "plan"));
		if (s == NULL || strstr(s, r->s->hex) == NULL)
			rc = hsm_fail(HSM_ERR_VERIFY, "the log %s was not begun with this script "
			    "(%s, SHA-256 %.16s...): it records \"%s\"; resume with the script the "
			    "ceremony began with", r->o->log, r->s->name, r->s->hex, s ? s : "no script");
		else if (p == NULL || strstr(p, r->p->hex) == NULL)
			rc = hsm_fail(HSM_ERR_VERIFY, "the log %s was not begun with this plan "
			    "(SHA-256 %.16s...): it records \"%s\"", r->o->log, r->p->hex,
			    p ? p : "no plan");
	}
	evlog_record_clear(&rec);
	evlog_reader_free(&rd);
	return rc;
}

/* Every card of the plan is marked virtual, and is an hsmadm-vcard. */
static hsm_rc
check_virtual(const fpl_plan *p)
{
	const fpl_card *c;
	size_t i, j;
	int v;
	hsm_rc rc;

	for (i = 0; i < p->npeople; i++)
		for (j = 0; j <= p->people[i].nbackups; j++) {
			c = j == 0 ? &p->people[i].card : &p->people[i].backups[j - 1];
			if (c->label == NULL)
				continue;
			if (!c->is_virtual)
				return hsm_fail(HSM_ERR_STATE, "a rehearsal is refused: the plan does "
				    "not mark card %s of %s as virtual; rehearse on virtual cards only",
				    c->label, p->people[i].name);
			if ((rc = fac_card_is_virtual(c->reader, &v)) != HSM_OK)
				return hsm_fail_wrap(rc, "a rehearsal checks every card: card %s of %s "
				    "in reader %s", c->label, p->people[i].name, c->reader);
			if (!v)
				return hsm_fail(HSM_ERR_STATE, "a rehearsal is refused: card %s of %s "
				    "in reader %s is a real card, not an hsmadm-vcard", c->label,
				    p->people[i].name, c->reader);
		}
	return HSM_OK;
}

static hsm_rc
rescan(struct run *r)
{
	json_decref(r->st);
	r->st = NULL;
	return fac_scan(r->o->log, &r->st);
}

/* One command: announced, its cards named, run (or not, in a dry run). */
static hsm_rc
one_cmd(struct run *r, const fsc_step *st, const fsc_cmd *c)
{
	size_t asked[16] = { 0 }, i, j;
	char text[4096], msg[256], buf[16];
	int code = 0, x;
	hsm_rc rc;

	for (i = 0; i < c->ninserts; i++) {
		const fpl_person *m = NULL;
		for (x = 0; x < (int)r->p->npeople; x++) {
			snprintf(msg, sizeof(msg), "%s.%d", r->p->people[x].role, r->p->people[x].index);
			if (strcmp(msg, c->inserts[i].who) == 0)
				m = &r->p->people[x];
		}
		printf("  Card %s (%s) goes into reader \"%s\".\n", c->inserts[i].label,
		    m ? m->name : "?", c->inserts[i].reader);
	}
	/* As it runs: a rehearsal's descriptors filled in; in the room, the PIN
	 * options left out, since each command then asks its person itself. */
	fac_cmd_text(c, r->rehearsal, text, sizeof(text));
	printf("  $ %s\n", text);
	if (r->o->dry_run)
		return HSM_OK;
	if (!r->rehearsal)
		fac_ask("  Press Enter to run it.", buf, sizeof(buf));
	/* After the Enter: the card is in its reader by then. */
	if ((rc = fac_card_init_state(c, &x, msg, sizeof(msg))) != HSM_OK)
		return rc;
	if (x == 1 && r->rerun) {
		printf("  (already done: %s; not initialized again)\n", msg);
		return HSM_OK;
	}
	if (x != 0)
		return hsm_fail(HSM_ERR_EXISTS, "%s; a card initialized in this step must be new. "
		    "hsmadm-card init was not run, so no PIN try was spent; put the right new card "
		    "in the reader", msg);
	fflush(stdout);
	if ((rc = fac_exec(c, r->rehearsal ? &r->ans : NULL, &code, asked)) != HSM_OK)
		return rc;
	for (i = 0; r->rehearsal && i < c->nfeeds; i++)
		for (j = 0; c->feeds[i].is_pin && j < asked[i]; j++)
			for (x = 0; x < (int)r->p->npeople; x++) {
				snprintf(msg, sizeof(msg), "%s.%d", r->p->people[x].role,
				    r->p->people[x].index);
				if (strcmp(msg, c->feeds[i].who[j]) == 0)
					(c->feeds[i].is_pin == 2 ? r->newpins : r->pins)[x]++;
			}
	if (code == 0 || (st != NULL && code == st->already)) {
		if (code != 0)
			printf("  (already done: exit code %d, as the script allows on a step run "
			    "again)\n", code);
		return HSM_OK;
	}
	r->cmd_exit = code;
	snprintf(msg, sizeof(msg), "%.200s exited with code %d", c->argv[0], code);
	return hsm_fail(HSM_ERR_STATE, "%s (docs/exit-codes.md); its message is above", msg);
}

/*
 * Test-only: HSMADM_CEREMONY_KILL_AT=STEP[:N] makes the runner kill itself
 * (SIGKILL, as a power cut would) in step STEP after its step.begin record
 * and N of its commands (N 0 by default). A timed kill from outside lands
 * between steps or misses a fast step; this lands inside the step every
 * time, so the resume test interrupts each step in turn. Never set it in a
 * ceremony: hsmadm-ceremony(1), ENVIRONMENT.
 */
static void
kill_point(const char *step, size_t ncmds)
{
	const char *e = getenv("HSMADM_CEREMONY_KILL_AT"), *colon;
	size_t len;

	if (e == NULL || *e == '\0')
		return;
	colon = strchr(e, ':');
	len = colon ? (size_t)(colon - e) : strlen(e);
	if (len != strlen(step) || strncmp(e, step, len) != 0 ||
	    strtoul(colon ? colon + 1 : "0", NULL, 10) != ncmds)
		return;
	printf("(test) HSMADM_CEREMONY_KILL_AT=%s: the runner kills itself now.\n", e);
	fflush(NULL);
	raise(SIGKILL);
}

static hsm_rc
run_line(struct run *r, const fsc_step *st, const fsc_line *l)
{
	fsc_cmd c;
	size_t k, n = l->kind == FSC_EACH ? fsc_each_count(r->p, l->each) : 1;
	hsm_rc rc = HSM_OK;

	for (k = 0; k < n && rc == HSM_OK; k++) {
		if ((rc = fsc_expand(l->text, r->p, &r->ctx, l->each, (int)k + 1, &c)) != HSM_OK)
			return hsm_fail_wrap(rc, "script line %d", l->lineno);
		rc = one_cmd(r, st, &c);
		fsc_cmd_clear(&c);
		if (rc == HSM_OK && !r->o->dry_run && st->id != NULL)
			kill_point(st->id, ++r->ncmds);
	}
	return rc;
}

/* The witnesses acknowledge what the step's confirm lines say. */
static hsm_rc
witnesses(struct run *r, const fsc_step *st)
{
	char statement[FAC_TEXT_MAX + 1] = "", q[512], a[64];
	size_t i, j;
	hsm_rc rc;

	for (j = 0; j < st->nlines; j++)
		if (st->lines[j].kind == FSC_CONFIRM)
			snprintf(statement + strlen(statement), sizeof(statement) - strlen(statement),
			    "%s%s", *statement ? " " : "", st->lines[j].text);
	printf("  The witnesses confirm: %s\n", statement);
	if (r->o->dry_run)
		return HSM_OK;
	for (i = 0; i < r->p->npeople; i++) {
		const fpl_person *m = &r->p->people[i];
		if (strcmp(m->role, "witness") != 0)
			continue;
		if (!r->rehearsal) {
			snprintf(q, sizeof(q), "  %s, do you confirm this? Type yes or no:", m->name);
			fac_ask(q, a, sizeof(a));
			if (strcmp(a, "yes") != 0)
				return hsm_fail(HSM_ERR_CANCELLED, "%s did not confirm step %d (%s)",
				    m->name, st->num, st->id);
		}
		if ((rc = fac_witness(r->o->log, m->name, statement, NULL)) != HSM_OK)
			return rc;
	}
	return HSM_OK;
}

/* The step failed: say so in the log, with an exception, and stop. */
static hsm_rc
step_failed(struct run *r, const fsc_step *st, hsm_rc why)
{
	char what[FAC_TEXT_MAX];
	hsm_rc rc;

	snprintf(what, sizeof(what), "step %d (%s) stopped: %.1500s", st->num, st->id,
	    hsm_errmsg());
	if ((rc = fac_exception(r->o->log, what, "a command of the script did not succeed",
	    "the run stopped; fix the cause and run hsmadm-ceremony resume", &r->o->who,
	    NULL)) == HSM_OK)
		rc = fac_step(r->o->log, 0, st->id, NULL, "failed", &r->o->who, NULL);
	if (rc != HSM_OK) {   /* the log's error is returned: say the step's here */
		fprintf(stderr, "hsmadm-ceremony: %s\n", what);
		return rc;
	}
	/* The same command line, as resume: a rehearsal stays a rehearsal. */
	return hsm_fail(why, "%s; the log records it; after fixing the cause: "
	    "hsmadm-ceremony resume %s --plan %s --log %s%s%s", what, r->o->script, r->o->plan,
	    r->o->log, r->o->rehearsal ? " --rehearsal " : "",
	    r->o->rehearsal ? r->o->rehearsal : "");
}

/* A step begun and not ended: the run was interrupted there. */
static hsm_rc
interrupted(struct run *r, const fsc_step *st)
{
	char what[256], a[64];
	hsm_rc rc;

	printf("Step %d (%s) was begun and not ended: the ceremony was interrupted there.\n",
	    st->num, st->id);
	if (!r->rehearsal && !r->o->dry_run) {
		fac_ask("The supervisor acknowledges the interruption; type yes:", a, sizeof(a));
		if (strcmp(a, "yes") != 0)
			return hsm_fail(HSM_ERR_CANCELLED, "the supervisor did not acknowledge the "
			    "interruption; nothing was recorded");
	}
	if (r->o->dry_run)
		return HSM_OK;
	snprintf(what, sizeof(what), "the ceremony was interrupted during step %d (%s)",
	    st->num, st->id);
	if ((rc = fac_exception(r->o->log, what, "the step was begun and never ended (a crash "
	    "or a stop)", "resumed: the step is run again from its start; acknowledged by the "
	    "supervisor", &r->o->who, NULL)) != HSM_OK)
		return rc;
	return fac_step(r->o->log, 0, st->id, NULL, "failed", &r->o->who, NULL);
}

static hsm_rc
run_step(struct run *r, const fsc_step *st)
{
	char buf[16];
	size_t j;
	hsm_rc rc;

	printf("\n== Step %d of %zu: %s ==\nWho acts: %s\n", st->num, r->s->nsteps, st->title,
	    st->who);
	for (j = 0; j < st->nlines; j++)
		if (st->lines[j].kind == FSC_DO)
			printf("  %s\n", st->lines[j].text);
	if (!r->rehearsal && !r->o->dry_run)
		fac_ask("Press Enter to begin the step.", buf, sizeof(buf));
	if (!r->o->dry_run &&
	    (rc = fac_step(r->o->log, 1, st->id, st->title, NULL, &r->o->who, NULL)) != HSM_OK)
		return rc;
	r->ncmds = 0;
	if (!r->o->dry_run)
		kill_point(st->id, 0);
	for (j = 0; j < st->nlines; j++) {
		const fsc_line *l = &st->lines[j];
		if ((l->kind == FSC_RUN || l->kind == FSC_EACH) &&
		    (rc = run_line(r, st, l)) != HSM_OK)
			return r->o->dry_run ? rc : step_failed(r, st, rc);
	}
	if ((rc = witnesses(r, st)) != HSM_OK)
		return r->o->dry_run ? rc : step_failed(r, st, rc);
	for (j = 0; j < st->nlines; j++)
		if (st->lines[j].kind == FSC_SIGN)
			printf("  Signature on the printed step: %s\n", st->lines[j].text);
	if (r->o->dry_run)
		return HSM_OK;
	return fac_step(r->o->log, 0, st->id, NULL, "ok", &r->o->who, NULL);
}

/* Open the log (run) or check it is this ceremony's (resume). */
static hsm_rc
start(struct run *r)
{
	struct stat sb;
	char sdesc[256], pdesc[256];
	int exists = stat(r->o->log, &sb) == 0;
	hsm_rc rc;

	if (!r->o->resume && exists && !r->o->dry_run)
		return hsm_fail(HSM_ERR_EXISTS, "the log %s exists already; to continue that "
		    "ceremony: hsmadm-ceremony resume %s --plan %s --log %s", r->o->log,
		    r->o->script, r->o->plan, r->o->log);
	if (r->o->resume && !exists)
		return hsm_fail(HSM_ERR_NOT_FOUND, "the log %s does not exist; start the ceremony "
		    "with hsmadm-ceremony run", r->o->log);
	if (exists) {
		if ((rc = check_open(r)) != HSM_OK || (rc = rescan(r)) != HSM_OK)
			return rc;
		return HSM_OK;
	}
	if (r->o->dry_run)
		return HSM_OK;
	snprintf(sdesc, sizeof(sdesc), "%s version %d sha256 %s", r->s->name, r->s->version,
	    r->s->hex);
	snprintf(pdesc, sizeof(pdesc), "%s sha256 %s", r->p->name, r->p->hex);
	if ((rc = fac_open_ex(r->o->log, r->s->title, r->p->installation, NULL, sdesc, pdesc,
	    &r->o->who, NULL)) != HSM_OK)
		return rc;
	printf("Opened the evidence log %s for %s (script SHA-256 %.16s..., plan SHA-256 "
	    "%.16s...).\n", r->o->log, r->s->name, r->s->hex, r->p->hex);
	return rescan(r);
}

static hsm_rc
run_all(struct run *r)
{
	fsc_step fin;
	size_t i;
	hsm_rc rc;

	if ((rc = start(r)) != HSM_OK)
		return rc;
	if (r->st != NULL && json_is_true(json_object_get(r->st, "complete"))) {
		printf("The log %s is complete (signed by the supervisor): nothing is left to do.\n",
		    r->o->log);
		return HSM_OK;
	}
	for (i = 0; i < r->s->nsteps; i++) {
		const fsc_step *st = &r->s->steps[i];
		if (r->st != NULL && step_done(r->st, st->id)) {
			printf("Step %d of %zu (%s) is done (the log records it ended ok).\n",
			    st->num, r->s->nsteps, st->id);
			continue;
		}
		r->rerun = r->st != NULL && step_seen(r->st, st->id);
		if (r->st != NULL && step_open(r->st, st->id) && (rc = interrupted(r, st)) != HSM_OK)
			return rc;
		if ((rc = run_step(r, st)) != HSM_OK)
			return rc;
	}
	memset(&fin, 0, sizeof(fin));
	if (r->s->nfin > 0)
		printf("\n== Close: every step has ended ==\n");
	for (i = 0; i < r->s->nfin; i++) {
		printf("  %s:\n", r->s->fin[i].each);
		if ((rc = run_line(r, &fin, &r->s->fin[i])) != HSM_OK)
			return rc;
	}
	return HSM_OK;
}

hsm_rc
fac_run(const struct fac_runopts *o, int *cmd_exit)
{
	struct run r;
	char *sl;
	size_t i;
	hsm_rc rc;

	memset(&r, 0, sizeof(r));
	*cmd_exit = 0;
	r.o = o;
	r.rehearsal = o->rehearsal != NULL;
	if (o->log == NULL || *o->log == '\0')
		return hsm_fail(HSM_ERR_USAGE, "no evidence log given (--log FILE)");
	snprintf(r.dir, sizeof(r.dir), "%s", o->log);
	if ((sl = strrchr(r.dir, '/')) != NULL)
		*sl = '\0';
	else
		snprintf(r.dir, sizeof(r.dir), ".");
	r.ctx = (fsc_ctx){ .log = o->log, .dir = r.dir, .plan = o->plan, .script = o->script,
	                   .card_id = o->dry_run ? NULL : fac_card_id };
	if ((rc = fsc_load(o->script, &r.s)) != HSM_OK || (rc = fpl_load(o->plan, &r.p)) != HSM_OK)
		goto out;
	if ((r.pins = calloc(r.p->npeople + 1, sizeof(int))) == NULL ||
	    (r.newpins = calloc(r.p->npeople + 1, sizeof(int))) == NULL) {
		rc = hsm_fail(HSM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (r.rehearsal && ((rc = check_virtual(r.p)) != HSM_OK ||
	    (rc = fac_answers_load(o->rehearsal, &r.ans)) != HSM_OK))
		goto out;
	rc = run_all(&r);
	if (r.rehearsal) {
		printf("\nPINs typed in this rehearsal:");
		for (i = 0; i < r.p->npeople; i++)
			printf(" %s.%d=%d", r.p->people[i].role, r.p->people[i].index, r.pins[i]);
		printf("\nNew PINs chosen in this rehearsal:");
		for (i = 0; i < r.p->npeople; i++)
			printf(" %s.%d=%d", r.p->people[i].role, r.p->people[i].index, r.newpins[i]);
		printf("\n");
	}
	if (rc == HSM_OK && !o->dry_run)
		printf("\nThe script ran to its end. Check the plan was fulfilled: "
		    "hsmadm-ceremony check-plan %s --plan %s\n", o->log, o->plan);
	*cmd_exit = r.cmd_exit;
out:
	json_decref(r.st);
	free(r.pins);
	free(r.newpins);
	fac_answers_free(&r.ans);
	fsc_free(&r.s);
	fpl_free(&r.p);
	return rc;
}
