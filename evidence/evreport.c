/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evreport.c - text and HTML reports of an evidence log for auditors, and the
 * comparison of a replay with live modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsmadm/cjson.h"
#include "hsmadm/codec.h"
#include "hsmadm/evlog.h"
#include "hsmadm/evreport.h"
#include "hsmadm/vp.h"
#include "evint.h"

#define MAX_NAMES 256

struct rctx {
	FILE *out;
	int   html;
	/* SKI -> name, from roster records and admin states (bounded) */
	char  ski[MAX_NAMES][17];
	char *name[MAX_NAMES];
	int   nnames;
};

/* ---- output helpers: every piece of log text goes through esc() ---- */

static void
esc(struct rctx *r, const char *s)
{
	if (s == NULL)
		return;
	if (!r->html) {
		/* Text: log strings were cleaned by clean(); the newlines left are
		 * the report's own. */
		for (; *s; s++)
			fputc(((unsigned char)*s < 0x20 && *s != '\n') || *s == 0x7f ? '?' : *s,
			    r->out);
		return;
	}
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", r->out); break;
		case '<': fputs("&lt;", r->out); break;
		case '>': fputs("&gt;", r->out); break;
		case '"': fputs("&quot;", r->out); break;
		case '\'': fputs("&#39;", r->out); break;
		default:
			fputc((unsigned char)*s < 0x20 ? '?' : *s, r->out);
		}
	}
}

/* printf into a buffer, then escaped output. */
static void
escf(struct rctx *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
escf(struct rctx *r, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	esc(r, buf);
}

/* A log string made safe to print: control characters (newlines too, so
 * that no log text can fake a report line) become '?'; long text is cut.
 * Rotating buffers: valid for the next 15 calls. */
static const char *
clean(const char *s)
{
	static char ring[16][512];
	static unsigned next;
	char *b = ring[next++ % 16];
	size_t i;

	if (s == NULL)
		return "";
	for (i = 0; s[i] != '\0' && i < sizeof(ring[0]) - 1; i++)
		b[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	b[i] = '\0';
	return b;
}

static const char *
jstr(const json_t *o, const char *k)
{
	return clean(json_string_value(json_object_get(o, k)));
}

static long long
jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void
remember(struct rctx *r, const char *skihex, const char *name)
{
	int i;

	if (skihex == NULL || name == NULL || strlen(skihex) < 16)
		return;
	for (i = 0; i < r->nnames; i++)
		if (strncmp(r->ski[i], skihex, 16) == 0)
			return;
	if (r->nnames == MAX_NAMES)
		return;
	memcpy(r->ski[r->nnames], skihex, 16);
	r->ski[r->nnames][16] = '\0';
	if ((r->name[r->nnames] = strdup(name)) != NULL)
		r->nnames++;
}

static const char *
who(struct rctx *r, const char *skihex)
{
	int i;

	for (i = 0; skihex != NULL && i < r->nnames; i++)
		if (strncmp(r->ski[i], skihex, 16) == 0)
			return r->name[i];
	return NULL;
}

/* "Alice Example (SKI 1a2b3c4d...)" */
static void
signer_text(struct rctx *r, char *buf, size_t n, const char *skihex)
{
	const char *nm = who(r, skihex);

	snprintf(buf, n, "%s (SKI %.8s...)", nm ? nm : "unknown key", skihex ? skihex : "");
}

static void
vp_text(const char *hex, char out[HSM_VP_TEXT_LEN])
{
	uint8_t vp[HSM_VP_LEN];

	if (ev_is_hex(hex, HSM_VP_LEN) && hex_decode_into(hex, vp, HSM_VP_LEN) == HSM_OK)
		vp_format(vp, out);
	else
		snprintf(out, HSM_VP_TEXT_LEN, "(none)");
}

/* ---- the summary of one record ---- */

static void
what(struct rctx *r, const evlog_record *rec)
{
	const json_t *b = rec->body;
	const char *t = rec->type;
	char vp[HSM_VP_TEXT_LEN], sg[160];
	json_t *e, *arr;
	size_t i;

	if (strcmp(t, EV_CEREMONY_OPEN) == 0) {
		escf(r, "Ceremony \"%s\" opened; log id %s", jstr(b, "ceremony"), jstr(b, "log_id"));
	} else if (strcmp(t, EV_ROSTER) == 0) {
		arr = json_object_get(b, "members");
		escf(r, "Roster of %zu: ", json_array_size(arr));
		json_array_foreach(arr, i, e) {
			remember(r, jstr(e, "ski"), jstr(e, "name"));
			escf(r, "%s%s (%s)", i ? ", " : "", jstr(e, "name"), jstr(e, "role"));
		}
	} else if (strcmp(t, EV_STEP_BEGIN) == 0) {
		escf(r, "Step \"%s\" begins: %s", jstr(b, "step"), jstr(b, "title"));
	} else if (strcmp(t, EV_STEP_END) == 0) {
		escf(r, "Step \"%s\" ended: %s", jstr(b, "step"), jstr(b, "result"));
	} else if (strcmp(t, EV_CARD_INIT) == 0) {
		escf(r, "Card %s initialised for role %s, holder %s", jstr(b, "card_id"),
		    jstr(b, "role"), jstr(b, "holder"));
	} else if (strcmp(t, EV_ADMIN_REGISTERED) == 0) {
		remember(r, jstr(b, "ski"), jstr(b, "name"));
		signer_text(r, sg, sizeof(sg), jstr(b, "ski"));
		escf(r, "Admin %s registered in %s domain %lld", sg, jstr(b, "module"),
		    jint(b, "domain"));
	} else if (strcmp(t, EV_COMMAND_SIGNED) == 0) {
		signer_text(r, sg, sizeof(sg), jstr(b, "ski"));
		escf(r, "%s signed %s, digest %.16s...", sg,
		    jstr(json_object_get(b, "command_body"), "op"), jstr(b, "digest"));
	} else if (strcmp(t, EV_COMMAND_SENT) == 0) {
		json_t *cb = json_object_get(json_object_get(b, "command"), "body");
		escf(r, "%s about to be sent%s%s, digest %.16s... (intent; a later "
		    "command.applied shows the outcome)", jstr(cb, "op"),
		    json_object_get(b, "group") ? " to group " : "", jstr(b, "group"),
		    jstr(b, "digest"));
	} else if (strcmp(t, EV_COMMAND_APPLIED) == 0) {
		json_t *cmd = json_object_get(b, "command");
		json_t *cb = json_object_get(cmd, "body");
		json_t *params = json_object_get(cb, "params");
		if (strcmp(jstr(cb, "op"), "admin.add") == 0)
			/* the key's SKI is what later signatures name */
			escf(r, "Add admin %s: ", jstr(params, "name"));
		escf(r, "%s applied to", jstr(cb, "op"));
		json_array_foreach(json_object_get(b, "receipts"), i, e) {
			json_t *rb = json_object_get(e, "body");
			json_t *adm;
			size_t j;
			escf(r, "%s %s/%lld (counter %lld->%lld)", i ? "," : "", jstr(rb, "module"),
			    jint(rb, "domain"), jint(rb, "counter_before"), jint(rb, "counter_after"));
			json_array_foreach(json_object_get(json_object_get(rb, "state"), "admins"), j, adm)
				remember(r, jstr(adm, "ski"), jstr(adm, "name"));
		}
		arr = json_object_get(cmd, "signatures");
		if (json_array_size(arr) == 0)
			escf(r, "; no signatures (imprint mode)");
		else
			escf(r, "; signed by");
		json_array_foreach(arr, i, e) {
			signer_text(r, sg, sizeof(sg), jstr(e, "ski"));
			escf(r, "%s %s", i ? "," : "", sg);
		}
		escf(r, "; module receipts checked");
	} else if (strncmp(t, "keypart.", 8) == 0) {
		vp_text(jstr(b, "kpvp"), vp);
		escf(r, "Key part %s %s on card %s%s%s; KPVP %s", jstr(b, "part_id"), t + 8,
		    jstr(b, "card_id"), json_object_get(b, "backup_card_id") ? " to backup card " : "",
		    jstr(b, "backup_card_id"), vp);
	} else if (strncmp(t, "mk.", 3) == 0) {
		escf(r, "Master key %s:", t + 3);
		json_array_foreach(json_object_get(b, "domains"), i, e) {
			vp_text(jstr(e, "mkvp"), vp);
			escf(r, "%s %s/%lld MKVP %s", i ? ";" : "", jstr(e, "module"),
			    jint(e, "domain"), vp);
		}
	} else if (strcmp(t, EV_REENCIPHER) == 0) {
		escf(r, "Re-enciphered %lld of %lld key blobs", jint(b, "done"), jint(b, "total"));
	} else if (strcmp(t, EV_EXCEPTION) == 0) {
		escf(r, "EXCEPTION: %s. Reason: %s.%s%s", jstr(b, "what"), jstr(b, "reason"),
		    json_object_get(b, "resolution") ? " Resolution: " : "", jstr(b, "resolution"));
	} else if (strcmp(t, EV_WITNESS_ACK) == 0) {
		escf(r, "Witness statement: \"%s\"", jstr(b, "statement"));
	} else if (strcmp(t, EV_CHECKPOINT) == 0 || strcmp(t, EV_COMPLETION) == 0) {
		signer_text(r, sg, sizeof(sg), jstr(b, "ski"));
		escf(r, "%s signed by %s over seq %lld (head %.16s...)",
		    strcmp(t, EV_CHECKPOINT) == 0 ? "Checkpoint" : "Completion", sg,
		    jint(b, "head_seq"), jstr(b, "head_hash"));
	} else if (strcmp(t, EV_LOG_RECOVERED) == 0) {
		escf(r, "Torn last record cut off on reopening: %lld bytes lost at offset %lld "
		    "(SHA-256 %.16s...)", jint(b, "lost_bytes"), jint(b, "at_offset"),
		    jstr(b, "lost_sha256"));
	} else if (strcmp(t, EV_DOMAIN_BASELINE) == 0) {
		json_t *rb = json_object_get(json_object_get(b, "receipt"), "body");
		escf(r, "Baseline: %s domain %lld at counter %lld", jstr(rb, "module"),
		    jint(rb, "domain"), jint(rb, "counter_after"));
	} else {
		escf(r, "(record type %s)", t);
	}
}

static void
actor_text(struct rctx *r, const json_t *a)
{
	escf(r, "%s (%s)", jstr(a, "name"), jstr(a, "role"));
	if (json_object_get(a, "card_id") != NULL)
		escf(r, ", card %s", jstr(a, "card_id"));
}

/* ---- page parts ---- */

static const char css[] =
	"body{font:11pt/1.4 Georgia,serif;margin:2em;color:#000}"
	"h1{font-size:16pt;margin:0 0 .3em}h2{font-size:13pt;margin:1.2em 0 .4em;"
	"border-bottom:1px solid #999}"
	"table{border-collapse:collapse;width:100%;font-size:9.5pt}"
	"th,td{border:1px solid #bbb;padding:3px 5px;text-align:left;vertical-align:top}"
	"th{background:#eee}tr{page-break-inside:avoid}"
	".ok{color:#060;font-weight:bold}.bad{color:#a00;font-weight:bold}"
	".exc td{background:#fff3f3}.mono{font-family:monospace;font-size:9pt}"
	"@media print{body{margin:0}h2{page-break-after:avoid}"
	"thead{display:table-header-group}}";

/* VERIFIED only on keys from outside the log. */
static void
verdict(struct rctx *r, const evlog_verify_result *res)
{
	if (!res->ok)
		escf(r, "FAILED at %s", clean(res->reason));
	else if (!res->anchored)
		escf(r, "CONSISTENT, NOT VERIFIED: no trust anchors; every key came from "
		    "the log itself");
	else
		escf(r, "VERIFIED%s", res->complete ? "" : " (ceremony not completed)");
}

static void
anchors(struct rctx *r, const evlog_verify_result *res)
{
	if (res->ca_anchors == 0 && res->supervisor_anchors == 0)
		escf(r, "none (--no-anchors): internal consistency only");
	else
		escf(r, "module CA SHA-256 %.16s... (%d CA(s)); %d supervisor key(s)%s; from %s",
		    res->anchor_ca_fp, res->ca_anchors, res->supervisor_anchors,
		    res->supervisor_pinned ? ", the completion's signer among them" : "",
		    clean(res->anchor_source));
}

static void
header(struct rctx *r, const evlog_verify_result *res, const char *path)
{
	if (r->html) {
		fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<title>Evidence report: ", r->out);
		esc(r, clean(res->ceremony));
		fprintf(r->out, "</title>\n<style>%s</style></head><body>\n<h1>Evidence "
		    "report: ", css);
		esc(r, clean(res->ceremony[0] ? res->ceremony : path));
		fputs("</h1>\n<table>", r->out);
		fputs("<tr><th>Verdict</th><td>", r->out);
		fprintf(r->out, "<span class=\"%s\">", res->ok && res->anchored ? "ok" : "bad");
		verdict(r, res);
		fputs("</span></td></tr>\n<tr><th>Log file</th><td class=\"mono\">", r->out);
		esc(r, clean(path));
		fputs("</td></tr>\n<tr><th>Log id</th><td class=\"mono\">", r->out);
		esc(r, res->log_id);
		fputs("</td></tr>\n<tr><th>Head</th><td class=\"mono\">", r->out);
		escf(r, "seq %lld, SHA-256 %s", res->head_seq, res->head_hash);
		fputs("</td></tr>\n<tr><th>Supervisor</th><td>", r->out);
		if (res->supervisor_ski[0])
			escf(r, "%s, SKI %s", clean(res->supervisor_name), res->supervisor_ski);
		else
			esc(r, "no completion signature");
		fputs("</td></tr>\n<tr><th>Trust anchors</th><td>", r->out);
		anchors(r, res);
		fputs("</td></tr>\n<tr><th>Checked</th><td>", r->out);
		escf(r, "%lld records, %lld signatures, %lld module receipts, %lld commands, "
		    "%lld exceptions, %lld torn-tail recoveries", res->records, res->signatures,
		    res->receipts, res->commands, res->exceptions, res->recoveries);
		if (res->sent > 0) {
			fputs("</td></tr>\n<tr><th>Commands sent</th><td>", r->out);
			escf(r, "%lld sent (command.sent), %lld with no recorded outcome",
			    res->sent, res->sent_no_outcome);
		}
		fputs("</td></tr></table>\n", r->out);
		return;
	}
	escf(r, "Evidence report: %s\n", clean(res->ceremony[0] ? res->ceremony : path));
	escf(r, "Verdict:    ");
	verdict(r, res);
	escf(r, "\nAnchors:    ");
	anchors(r, res);
	escf(r, "\n");
	escf(r, "Log file:   %s\nLog id:     %s\nHead:       seq %lld, SHA-256 %s\n", clean(path),
	    clean(res->log_id), res->head_seq, res->head_hash);
	if (res->supervisor_ski[0])
		escf(r, "Supervisor: %s, SKI %s\n", clean(res->supervisor_name), res->supervisor_ski);
	else
		escf(r, "Supervisor: no completion signature\n");
	escf(r, "Checked:    %lld records, %lld signatures, %lld module receipts, %lld "
	    "commands, %lld exceptions, %lld torn-tail recoveries\n", res->records,
	    res->signatures, res->receipts, res->commands, res->exceptions, res->recoveries);
	if (res->sent > 0)
		escf(r, "Sent:       %lld command(s) announced by command.sent, %lld with no "
		    "recorded outcome (sent; whether a module applied it is not in the log)\n",
		    res->sent, res->sent_no_outcome);
}

static void
section(struct rctx *r, const char *title)
{
	if (r->html) {
		fputs("<h2>", r->out);
		esc(r, title);
		fputs("</h2>\n", r->out);
	} else {
		escf(r, "\n%s\n", title);
		for (size_t i = 0; i < strlen(title); i++)
			fputc('=', r->out);
		fputc('\n', r->out);
	}
}

static void
state_section(struct rctx *r, const json_t *st)
{
	json_t *d, *p, *a;
	size_t i, j;
	static const char *regs[] = { "current", "pending", "old" };

	section(r, "Domains after the ceremony (replayed from module receipts)");
	if (r->html)
		fputs("<table><thead><tr><th>Module / domain</th><th>Admins</th>"
		    "<th>Thresholds</th><th>Counter</th><th>Registers (MKVP)</th></tr>"
		    "</thead>\n", r->out);
	json_array_foreach(json_object_get(st, "domains"), i, d) {
		json_t *thr = json_object_get(d, "thresholds");
		if (r->html)
			fputs("<tr><td>", r->out);
		escf(r, r->html ? "%s / %lld" : "%s domain %lld\n", jstr(d, "module"),
		    jint(d, "domain"));
		if (r->html)
			fputs("</td><td>", r->out);
		else
			escf(r, "  admins:     ");
		json_array_foreach(json_object_get(d, "admins"), j, a)
			escf(r, "%s%s <%s> SKI %.8s...", j ? ", " : "", jstr(a, "name"),
			    jstr(a, "identity"), jstr(a, "ski"));
		if (r->html)
			fputs("</td><td>", r->out);
		else
			escf(r, "\n  thresholds: ");
		escf(r, "signature %lld, revocation %lld%s", jint(thr, "signature"),
		    jint(thr, "revocation"), jint(thr, "signature") == 0 ? " (imprint mode)" : "");
		if (r->html)
			fputs("</td><td>", r->out);
		else
			escf(r, "\n  counter:    ");
		escf(r, "%lld", jint(d, "counter"));
		if (r->html)
			fputs("</td><td class=\"mono\">", r->out);
		else
			escf(r, "\n  registers:  ");
		for (j = 0; j < 3; j++) {
			json_t *reg = json_object_get(json_object_get(d, "registers"), regs[j]);
			char vp[HSM_VP_TEXT_LEN];
			vp_text(jstr(reg, "mkvp"), vp);
			escf(r, "%s%s %s%s%s", j ? (r->html ? "; " : "\n              ") : "",
			    regs[j], jstr(reg, "state"), json_is_string(json_object_get(reg, "mkvp"))
			    ? " MKVP " : "", json_is_string(json_object_get(reg, "mkvp")) ? vp : "");
		}
		fputs(r->html ? "</td></tr>\n" : "\n", r->out);
	}
	if (r->html)
		fputs("</table>\n", r->out);
	section(r, "Key parts");
	if (r->html)
		fputs("<table><thead><tr><th>Part</th><th>KPVP</th><th>Cards</th>"
		    "<th>Last state</th></tr></thead>\n", r->out);
	json_array_foreach(json_object_get(st, "key_parts"), i, p) {
		char vp[HSM_VP_TEXT_LEN];
		vp_text(jstr(p, "kpvp"), vp);
		if (r->html) {
			fputs("<tr><td>", r->out);
			esc(r, jstr(p, "part_id"));
			fputs("</td><td class=\"mono\">", r->out);
			esc(r, vp);
			fputs("</td><td>", r->out);
		} else {
			escf(r, "%s  KPVP %s  cards ", jstr(p, "part_id"), vp);
		}
		json_array_foreach(json_object_get(p, "card_ids"), j, a)
			escf(r, "%s%s", j ? ", " : "", clean(json_string_value(a)));
		if (r->html)
			fputs("</td><td>", r->out);
		else
			escf(r, "  ");
		esc(r, jstr(p, "state"));
		fputs(r->html ? "</td></tr>\n" : "\n", r->out);
	}
	if (r->html)
		fputs("</table>\n", r->out);
}

/* Names of keys, learnt from the records as a pass goes by them. */
static void
learn(struct rctx *r, const evlog_record *rec)
{
	json_t *e, *rcp, *adm;
	size_t i, j;

	if (strcmp(rec->type, EV_ROSTER) == 0) {
		json_array_foreach(json_object_get(rec->body, "members"), i, e)
			remember(r, jstr(e, "ski"), jstr(e, "name"));
	} else if (strcmp(rec->type, EV_ADMIN_REGISTERED) == 0) {
		remember(r, jstr(rec->body, "ski"), jstr(rec->body, "name"));
	} else if (strcmp(rec->type, EV_COMMAND_APPLIED) == 0) {
		json_array_foreach(json_object_get(rec->body, "receipts"), i, rcp)
			json_array_foreach(json_object_get(json_object_get(json_object_get(rcp,
			    "body"), "state"), "admins"), j, adm)
				remember(r, jstr(adm, "ski"), jstr(adm, "name"));
	}
}

enum pass { PASS_ALL, PASS_EXCEPTIONS, PASS_SIGNATURES };

static void
row_start(struct rctx *r, const evlog_record *rec, int exc)
{
	if (r->html) {
		fprintf(r->out, "<tr%s><td>%lld</td><td>", exc ? " class=\"exc\"" : "",
		    rec->seq);
		esc(r, clean(rec->time));
		fputs("</td><td>", r->out);
	} else {
		escf(r, "%5lld  %s  ", rec->seq, clean(rec->time));
	}
}

static void
row_mid(struct rctx *r)
{
	fputs(r->html ? "</td><td>" : "\n       ", r->out);
}

static void
row_end(struct rctx *r)
{
	fputs(r->html ? "</td></tr>\n" : "\n", r->out);
}

/* One row per signature a record carries. */
static void
signature_rows(struct rctx *r, const evlog_record *rec)
{
	const json_t *b = rec->body;
	char sg[160];
	json_t *e;
	size_t i;

	if (strcmp(rec->type, EV_COMMAND_SIGNED) == 0) {
		signer_text(r, sg, sizeof(sg), jstr(b, "ski"));
		row_start(r, rec, 0);
		esc(r, sg);
		row_mid(r);
		escf(r, "admin signature on %s, command digest %s",
		    jstr(json_object_get(b, "command_body"), "op"), jstr(b, "digest"));
		row_end(r);
	} else if (strcmp(rec->type, EV_COMMAND_APPLIED) == 0) {
		const json_t *cmd = json_object_get(b, "command");
		const char *op = jstr(json_object_get(cmd, "body"), "op");
		json_array_foreach(json_object_get(cmd, "signatures"), i, e) {
			signer_text(r, sg, sizeof(sg), jstr(e, "ski"));
			row_start(r, rec, 0);
			esc(r, sg);
			row_mid(r);
			escf(r, "admin signature on the applied %s command (quorum replayed)", op);
			row_end(r);
		}
		json_array_foreach(json_object_get(b, "receipts"), i, e) {
			const json_t *rb = json_object_get(e, "body");
			row_start(r, rec, 0);
			escf(r, "module %s (OA certificate)", jstr(rb, "module"));
			row_mid(r);
			escf(r, "receipt for %s on domain %lld, counter %lld->%lld, state digest "
			    "%.16s...", op, jint(rb, "domain"), jint(rb, "counter_before"),
			    jint(rb, "counter_after"), jstr(rb, "state_digest"));
			row_end(r);
		}
	} else if (strcmp(rec->type, EV_CHECKPOINT) == 0 ||
	           strcmp(rec->type, EV_COMPLETION) == 0) {
		signer_text(r, sg, sizeof(sg), jstr(b, "ski"));
		row_start(r, rec, 0);
		esc(r, sg);
		row_mid(r);
		escf(r, "%s over seq %lld, head %s", strcmp(rec->type, EV_COMPLETION) == 0 ?
		    "supervisor's completion" : "checkpoint", jint(b, "head_seq"),
		    jstr(b, "head_hash"));
		row_end(r);
	}
}

static hsm_rc
pass(struct rctx *r, int fd, long long upto, enum pass what_pass)
{
	static const char *const titles[] = {
		"Timeline (every record)", "Exceptions and recoveries", "Signatures and receipts"
	};
	evlog_reader *rd = NULL;
	evlog_record rec;
	hsm_rc rc;
	long long shown = 0;

	memset(&rec, 0, sizeof(rec));
	section(r, titles[what_pass]);
	if (r->html)
		fputs(what_pass == PASS_SIGNATURES ?
		    "<table><thead><tr><th>Seq</th><th>Time (UTC)</th><th>Signer</th>"
		    "<th>Over what</th></tr></thead>\n" :
		    "<table><thead><tr><th>Seq</th><th>Time (UTC)</th><th>Who</th>"
		    "<th>What</th></tr></thead>\n", r->out);
	/* each pass reads the one descriptor from the start (pread) */
	if ((rc = ev_reader_from_fd(fd, &rd)) != HSM_OK)
		return rc;
	while (evlog_reader_next(rd, &rec) == HSM_OK && (upto == 0 || rec.seq <= upto)) {
		int exc = strcmp(rec.type, EV_EXCEPTION) == 0 ||
		    strcmp(rec.type, EV_LOG_RECOVERED) == 0;

		learn(r, &rec);
		if (what_pass == PASS_SIGNATURES) {
			signature_rows(r, &rec);
			shown++;
			continue;
		}
		if (what_pass == PASS_EXCEPTIONS && !exc)
			continue;
		shown++;
		row_start(r, &rec, exc);
		actor_text(r, rec.actor);
		row_mid(r);
		what(r, &rec);
		row_end(r);
	}
	if (r->html)
		fputs("</table>\n", r->out);
	if (shown == 0)
		esc(r, r->html ? "None." : "None.\n");
	evlog_record_clear(&rec);
	evlog_reader_free(&rd);
	return HSM_OK;
}

hsm_rc
evlog_report(const char *path, const struct evlog_verify_opts *opts,
             enum evreport_format fmt, FILE *out, evlog_verify_result *resout)
{
	evlog_verify_result res;
	evlog_reader *rd = NULL;
	struct rctx r;
	int fd;
	hsm_rc vrc, rc;
	char saved[1024];
	int i;

	memset(&r, 0, sizeof(r));
	memset(&res, 0, sizeof(res));
	r.out = out;
	r.html = fmt == EVREPORT_HTML;
	/* opened once: the verification and every pass read this descriptor */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return hsm_fail(errno == ENOENT ? HSM_ERR_NOT_FOUND : HSM_ERR_IO,
		    "cannot open evidence log %s: %s", path, strerror(errno));
	if ((vrc = ev_reader_from_fd(fd, &rd)) == HSM_OK)
		vrc = ev_verify_reader(rd, opts, &res);
	evlog_reader_free(&rd);
	if (vrc != HSM_OK && vrc != HSM_ERR_AUDIT) {
		evlog_verify_result_clear(&res);
		close(fd);
		return vrc;
	}
	snprintf(saved, sizeof(saved), "%s", hsm_errmsg());
	header(&r, &res, path);
	if (res.state != NULL)
		state_section(&r, res.state);
	/* A failed log is shown up to its last good record. */
	if ((rc = pass(&r, fd, res.ok ? 0 : res.head_seq, PASS_EXCEPTIONS)) == HSM_OK &&
	    (rc = pass(&r, fd, res.ok ? 0 : res.head_seq, PASS_SIGNATURES)) == HSM_OK)
		rc = pass(&r, fd, res.ok ? 0 : res.head_seq, PASS_ALL);
	close(fd);
	if (r.html) {
		fputs("<p style=\"font-size:9pt;color:#555\">Made by hsmadm-audit "
		    HSMADM_VERSION ". Text from the log is shown as written; MKVP and KPVP "
		    "are the first 16 bytes of the pattern.</p>\n</body></html>\n", out);
	}
	for (i = 0; i < r.nnames; i++)
		free(r.name[i]);
	if (fflush(out) != 0 || ferror(out))
		rc = hsm_fail(HSM_ERR_IO, "cannot write the report");
	if (resout != NULL)
		*resout = res;
	else
		evlog_verify_result_clear(&res);
	if (rc != HSM_OK)
		return rc;
	if (vrc != HSM_OK)
		hsm_fail(vrc, "%s", saved);
	return vrc;
}
