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
#include "hsmadm/evtsa.h"
#include "hsmadm/vp.h"
#include "evint.h"

#define MAX_NAMES 256

struct rctx {
	FILE *out;
	int   html;
	/* the log's bytes: a descriptor read with pread, or memory */
	int         fd;
	const char *mem;
	size_t      memlen;
	/* SKI -> name, from roster records and admin states (bounded) */
	char  ski[MAX_NAMES][17];
	char *name[MAX_NAMES];
	int   nnames;
};

/* A fresh reader from the start of the log, for each pass. */
static hsm_rc
src_reader(const struct rctx *r, evlog_reader **rd)
{
	if (r->mem != NULL)
		return evlog_reader_open_mem(r->mem, r->memlen, rd);
	return ev_reader_from_fd(r->fd, rd);
}

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

/* Where the module that signed a receipt keeps its keys: a rehearsal
 * module's receipts must not read like a real one's. Older receipts do
 * not say. */
static const char *
keystore_text(const json_t *ks)
{
	const char *b = json_string_value(json_object_get(ks, "backend"));

	if (b == NULL)
		return "";
	if (strcmp(b, "pkcs11") == 0)
		return ", keys on a PKCS#11 token";
	if (strcmp(b, "file") == 0)
		return ", keys in the module's files (rehearsal)";
	return ", keys in an unknown key store";
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
	} else if (strcmp(t, EV_LOG_TIMESTAMPED) == 0) {
		escf(r, "RFC 3161 time-stamp by %s over the completion (seq %lld): %s",
		    jstr(b, "tsa"), jint(b, "seq"), jstr(b, "gen_time"));
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
	".badrow td{background:#ffe0e0}.unchecked td{color:#777}"
	".sign td{height:2.4em}"
	"@page{size:A4;margin:15mm}"
	"@media print{body{margin:0;font-size:10pt}h2{page-break-after:avoid}"
	"table{page-break-inside:auto}thead{display:table-header-group}"
	".sign{page-break-inside:avoid}}";

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
			    "%.16s...%s", op, jint(rb, "domain"), jint(rb, "counter_before"),
			    jint(rb, "counter_after"), jstr(rb, "state_digest"),
			    keystore_text(json_object_get(rb, "keystore")));
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
pass(struct rctx *r, long long upto, enum pass what_pass)
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
	/* each pass reads the one descriptor (pread) or buffer from the start */
	if ((rc = src_reader(r, &rd)) != HSM_OK)
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

/* ---- people, cards, approvals and loads: one pass over the checked records ---- */

#define MAX_PEOPLE 128
#define MAX_PARTS  64
#define MAX_APPROVALS_SHOWN 40

struct rperson {
	char  *name;
	char  *role;
	char   cards[512];      /* "c0ffee01, c0ffee02 (backup)" */
	char  *approvals;       /* "seq 8: signed thresholds.set ...; ..." */
	size_t nappr;
};

struct rpart {
	char part_id[80], kpvp[65], card[80], holder[96];
};

struct rcoll {
	/* each person allocated when first met (they never move): a report
	 * of a small log does not clear room for MAX_PEOPLE */
	struct rperson *p[MAX_PEOPLE];
	int            np;
	struct rpart   parts[MAX_PARTS];
	int            nparts;
	char          *loads;   /* rows, each "seq\tdomain\tpart\tkpvp\tcard\tholder\n" */
	size_t         loadlen;
	/* decommissioning: the last group.decommissioned, the zeroize receipts
	 * ({seq, module, domain, counter}) and every card.disposed body */
	json_t        *decom, *zeroized, *disposed;
	long long      decom_seq;
};

static struct rperson *
person(struct rcoll *c, const char *name, const char *role)
{
	int i;

	if (name == NULL || *name == '\0')
		return NULL;
	for (i = 0; i < c->np; i++)
		if (strcmp(c->p[i]->name, name) == 0)
			return c->p[i];
	if (c->np == MAX_PEOPLE || (c->p[c->np] = calloc(1, sizeof(**c->p))) == NULL)
		return NULL;
	if ((c->p[c->np]->name = strdup(name)) == NULL) {
		free(c->p[c->np]);
		c->p[c->np] = NULL;
		return NULL;
	}
	c->p[c->np]->role = strdup(role ? role : "");
	return c->p[c->np++];
}

static void
add_card(struct rperson *p, const char *card, int backup)
{
	char item[120];

	if (p == NULL || card == NULL || *card == '\0')
		return;
	snprintf(item, sizeof(item), "%s%s", card, backup ? " (backup)" : "");
	if (strstr(p->cards, card) != NULL)
		return;
	if (strlen(p->cards) + strlen(item) + 3 < sizeof(p->cards))
		snprintf(p->cards + strlen(p->cards), sizeof(p->cards) - strlen(p->cards),
		    "%s%s", p->cards[0] ? ", " : "", item);
}

static struct rperson *
card_owner(struct rcoll *c, const char *card)
{
	int i;

	for (i = 0; card != NULL && i < c->np; i++)
		if (strstr(c->p[i]->cards, card) != NULL)
			return c->p[i];
	return NULL;
}

static void
approve(struct rperson *p, long long seq, const char *what)
{
	char buf[300];
	size_t n, have;
	char *np;

	if (p == NULL)
		return;
	if (++p->nappr > MAX_APPROVALS_SHOWN)
		return;   /* counted; the first ones are listed */
	n = (size_t)snprintf(buf, sizeof(buf), "%sseq %lld: %s", p->approvals ? "; " : "",
	    seq, what);
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	have = p->approvals ? strlen(p->approvals) : 0;
	if ((np = realloc(p->approvals, have + n + 1)) == NULL)
		return;
	memcpy(np + have, buf, n + 1);
	p->approvals = np;
}

static void
load_row(struct rcoll *c, long long seq, const char *module, long long domain,
         const char *kpvp)
{
	const struct rpart *pt = NULL;
	char row[600];
	size_t n;
	char *np;
	int i;

	for (i = 0; kpvp != NULL && i < c->nparts; i++)
		if (strcmp(c->parts[i].kpvp, kpvp) == 0)
			pt = &c->parts[i];
	n = (size_t)snprintf(row, sizeof(row), "%lld\t%s/%lld\t%s\t%s\t%s\t%s\n", seq,
	    module, domain, pt ? pt->part_id : "(no part of this log has this KPVP)",
	    kpvp ? kpvp : "", pt ? pt->card : "", pt ? pt->holder : "");
	if (n >= sizeof(row))
		return;
	if ((np = realloc(c->loads, c->loadlen + n + 1)) == NULL)
		return;
	memcpy(np + c->loadlen, row, n + 1);
	c->loads = np;
	c->loadlen += n;
}

/* The name a key belongs to, from the record names learnt so far. */
static struct rperson *
by_ski(struct rctx *r, struct rcoll *c, const char *skihex, const char *role)
{
	return person(c, who(r, skihex), role);
}

static void
collect_keypart(struct rcoll *c, const evlog_record *rec)
{
	const json_t *b = rec->body;
	const char *card = jstr(b, "card_id");
	struct rperson *p;

	if (strcmp(rec->type, EV_KEYPART_GENERATED) == 0) {
		const char *holder = json_object_get(b, "holder") ? jstr(b, "holder") :
		    jstr(rec->actor, "name");
		p = person(c, holder, "custodian");
		add_card(p, card, 0);
		if (c->nparts < MAX_PARTS) {
			struct rpart *pt = &c->parts[c->nparts++];
			snprintf(pt->part_id, sizeof(pt->part_id), "%s", jstr(b, "part_id"));
			snprintf(pt->kpvp, sizeof(pt->kpvp), "%s", jstr(b, "kpvp"));
			snprintf(pt->card, sizeof(pt->card), "%s", card);
			snprintf(pt->holder, sizeof(pt->holder), "%s", holder);
		}
	} else if (strcmp(rec->type, EV_KEYPART_COPIED) == 0) {
		p = card_owner(c, card);
		add_card(p ? p : person(c, jstr(rec->actor, "name"), "custodian"),
		    jstr(b, "backup_card_id"), 1);
	}
}

static void
collect_applied(struct rctx *r, struct rcoll *c, const evlog_record *rec)
{
	const json_t *cmd = json_object_get(rec->body, "command");
	const json_t *cb = json_object_get(cmd, "body");
	const char *op = jstr(cb, "op");
	char what[200];
	json_t *e;
	size_t i;

	snprintf(what, sizeof(what), "signature counted on the applied %s", op);
	json_array_foreach(json_object_get(cmd, "signatures"), i, e)
		approve(by_ski(r, c, jstr(e, "ski"), "admin"), rec->seq, what);
	if (strcmp(op, "zeroize") == 0) {
		if (c->zeroized == NULL)
			c->zeroized = json_array();
		json_array_foreach(json_object_get(rec->body, "receipts"), i, e) {
			const json_t *rb = json_object_get(e, "body");
			json_array_append_new(c->zeroized, json_pack("{s:I, s:s, s:I, s:I, s:I}",
			    "seq", (json_int_t)rec->seq, "module", clean(jstr(rb, "module")),
			    "domain", (json_int_t)jint(rb, "domain"), "counter",
			    (json_int_t)jint(rb, "counter_after"), "destroyed", (json_int_t)
			    json_array_size(json_object_get(json_object_get(rb, "result"),
			    "token_objects_destroyed"))));
		}
		return;
	}
	if (strcmp(op, "mk.load_part") != 0)
		return;
	json_array_foreach(json_object_get(rec->body, "receipts"), i, e) {
		const json_t *rb = json_object_get(e, "body");
		load_row(c, rec->seq, jstr(rb, "module"), jint(rb, "domain"),
		    jstr(json_object_get(cb, "params"), "kpvp"));
	}
}

static void
collect(struct rctx *r, struct rcoll *c, const evlog_record *rec)
{
	const json_t *b = rec->body;
	const char *t = rec->type;
	char what[200];
	json_t *e;
	size_t i;

	learn(r, rec);
	if (strcmp(t, EV_ROSTER) == 0) {
		json_array_foreach(json_object_get(b, "members"), i, e)
			add_card(person(c, jstr(e, "name"), jstr(e, "role")), jstr(e, "card_id"), 0);
	} else if (strcmp(t, EV_CARD_INIT) == 0) {
		add_card(person(c, jstr(b, "holder"), jstr(b, "role")), jstr(b, "card_id"), 0);
	} else if (strncmp(t, "keypart.", 8) == 0) {
		collect_keypart(c, rec);
	} else if (strcmp(t, EV_COMMAND_SIGNED) == 0) {
		snprintf(what, sizeof(what), "signed %s (digest %.16s...)",
		    jstr(json_object_get(b, "command_body"), "op"), jstr(b, "digest"));
		approve(by_ski(r, c, jstr(b, "ski"), "admin"), rec->seq, what);
	} else if (strcmp(t, EV_COMMAND_APPLIED) == 0) {
		collect_applied(r, c, rec);
	} else if (strcmp(t, EV_COMPLETION) == 0 || strcmp(t, EV_CHECKPOINT) == 0) {
		snprintf(what, sizeof(what), "signed the %s over seq %lld",
		    strcmp(t, EV_COMPLETION) == 0 ? "completion" : "checkpoint",
		    jint(b, "head_seq"));
		approve(by_ski(r, c, jstr(b, "ski"), "supervisor"), rec->seq, what);
	} else if (strcmp(t, EV_GROUP_DECOMMISSIONED) == 0) {
		json_decref(c->decom);
		c->decom = json_deep_copy(b);
		c->decom_seq = rec->seq;
	} else if (strcmp(t, EV_CARD_DISPOSED) == 0) {
		if (c->disposed == NULL)
			c->disposed = json_array();
		json_array_append_new(c->disposed, json_deep_copy(b));
	} else if (strcmp(t, EV_WITNESS_ACK) == 0) {
		snprintf(what, sizeof(what), "witness statement \"%.120s\"", jstr(b, "statement"));
		approve(person(c, jstr(rec->actor, "name"), jstr(rec->actor, "role")), rec->seq,
		    what);
	}
}

static void
rcoll_free(struct rcoll *c)
{
	int i;

	for (i = 0; i < c->np; i++) {
		free(c->p[i]->name);
		free(c->p[i]->role);
		free(c->p[i]->approvals);
		free(c->p[i]);
	}
	free(c->loads);
	json_decref(c->decom);
	json_decref(c->zeroized);
	json_decref(c->disposed);
}

static void
people_section(struct rctx *r, const struct rcoll *c)
{
	int i;

	section(r, "People: roles, cards (backups too) and every approval given");
	if (r->html)
		fputs("<table><thead><tr><th>Name</th><th>Role</th><th>Cards</th>"
		    "<th>Approvals and signatures</th></tr></thead>\n", r->out);
	for (i = 0; i < c->np; i++) {
		const struct rperson *p = c->p[i];
		if (r->html) {
			fputs("<tr><td>", r->out);
			esc(r, p->name);
			fputs("</td><td>", r->out);
			esc(r, p->role);
			fputs("</td><td class=\"mono\">", r->out);
			esc(r, p->cards[0] ? p->cards : "none");
			fputs("</td><td>", r->out);
		} else {
			escf(r, "%s (%s)\n  cards:     %s\n  approvals: ", p->name, p->role,
			    p->cards[0] ? p->cards : "none");
		}
		esc(r, p->approvals ? p->approvals : "none");
		if (p->nappr > MAX_APPROVALS_SHOWN)
			escf(r, "; and %zu more", p->nappr - MAX_APPROVALS_SHOWN);
		fputs(r->html ? "</td></tr>\n" : "\n", r->out);
	}
	if (r->html)
		fputs("</table>\n", r->out);
}

static void
loads_section(struct rctx *r, const struct rcoll *c)
{
	char *dup, *line, *save = NULL;

	section(r, "Key-part loads: which part, from whose card");
	if (c->loads == NULL) {
		esc(r, r->html ? "<p>None.</p>" : "None.\n");
		return;
	}
	if (r->html)
		fputs("<table><thead><tr><th>Seq</th><th>Module / domain</th><th>Part</th>"
		    "<th>KPVP</th><th>Card</th><th>Custodian</th></tr></thead>\n", r->out);
	if ((dup = strdup(c->loads)) == NULL)
		return;
	for (line = strtok_r(dup, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[6] = { 0 }, *q = line, vp[HSM_VP_TEXT_LEN];
		int k;
		for (k = 0; k < 6; k++) {
			f[k] = q;
			if ((q = strchr(q, '\t')) == NULL)
				break;
			*q++ = '\0';
		}
		if (k < 5)
			continue;
		vp_text(f[3], vp);
		if (r->html) {
			fputs("<tr>", r->out);
			for (k = 0; k < 6; k++) {
				fputs(k == 3 ? "<td class=\"mono\">" : "<td>", r->out);
				esc(r, k == 3 ? vp : f[k]);
				fputs("</td>", r->out);
			}
			fputs("</tr>\n", r->out);
		} else {
			escf(r, "seq %s  %s  %s  KPVP %s  from card %s of %s\n", f[0], f[1], f[2],
			    vp, f[4][0] ? f[4] : "?", f[5][0] ? f[5] : "?");
		}
	}
	free(dup);
	if (r->html)
		fputs("</table>\n", r->out);
}

static void
mkvp_section(struct rctx *r, const json_t *st)
{
	static const char *regs[] = { "current", "pending", "old" };
	json_t *d;
	size_t i, j;

	section(r, "Master-key verification patterns, per domain and register");
	if (r->html)
		fputs("<table><thead><tr><th>Module / domain</th><th>Register</th>"
		    "<th>State</th><th>MKVP</th></tr></thead>\n", r->out);
	json_array_foreach(json_object_get(st, "domains"), i, d) {
		for (j = 0; j < 3; j++) {
			json_t *reg = json_object_get(json_object_get(d, "registers"), regs[j]);
			const char *mk = json_string_value(json_object_get(reg, "mkvp"));
			if (r->html)
				fputs("<tr><td>", r->out);
			escf(r, "%s / %lld", jstr(d, "module"), jint(d, "domain"));
			fputs(r->html ? "</td><td>" : "  ", r->out);
			esc(r, regs[j]);
			fputs(r->html ? "</td><td>" : "  ", r->out);
			esc(r, jstr(reg, "state"));
			fputs(r->html ? "</td><td class=\"mono\">" : "  ", r->out);
			esc(r, mk != NULL ? clean(mk) : "(none)");
			fputs(r->html ? "</td></tr>\n" : "\n", r->out);
		}
	}
	if (r->html)
		fputs("</table>\n", r->out);
}

/* One HTML table row, every cell escaped. */
static void
html_row(struct rctx *r, const char *const *cells, int n)
{
	fputs("<tr>", r->out);
	for (int i = 0; i < n; i++) {
		fputs("<td>", r->out);
		esc(r, cells[i]);
		fputs("</td>", r->out);
	}
	fputs("</tr>\n", r->out);
}

/* Decommissioned domains, each with the record of its zeroize receipt. */
static void
decom_domains(struct rctx *r, const struct rcoll *c)
{
	const json_t *e, *z;
	size_t i, k;

	if (r->html)
		fputs("<table><thead><tr><th>Module</th><th>Domain</th><th>Counter</th>"
		    "<th>Proof of deletion</th></tr></thead>\n", r->out);
	json_array_foreach(json_object_get(c->decom, "domains"), i, e) {
		char dom[24], ctr[24], proof[160];
		long long seq = 0, gone = 0;

		json_array_foreach(c->zeroized, k, z)
			if (strcmp(jstr(z, "module"), clean(jstr(e, "module"))) == 0 &&
			    jint(z, "domain") == jint(e, "domain")) {
				seq = jint(z, "seq");
				gone = jint(z, "destroyed");
			}
		snprintf(dom, sizeof(dom), "%lld", jint(e, "domain"));
		snprintf(ctr, sizeof(ctr), "%lld", jint(e, "counter"));
		/* On a token the receipt names the objects destroyed; the
		 * token's object list showing them gone completes the proof. */
		if (seq > 0 && gone > 0)
			snprintf(proof, sizeof(proof), "module-signed zeroize receipt, record %lld, "
			         "naming %lld PKCS#11 token objects destroyed", seq, gone);
		else if (seq > 0)
			snprintf(proof, sizeof(proof), "module-signed zeroize receipt, record %lld", seq);
		else
			snprintf(proof, sizeof(proof), "NO zeroize receipt in the log");
		if (r->html) {
			const char *cells[] = { clean(jstr(e, "module")), dom, ctr, proof };
			html_row(r, cells, 4);
		} else
			escf(r, "  %s domain %s: zeroized at counter %s; %s\n",
			     clean(jstr(e, "module")), dom, ctr, proof);
	}
	if (r->html)
		fputs("</table>\n", r->out);
}

/* The decommissioning certificate: the request, every domain zeroized with
 * the module-signed receipt that proves it, and what became of each card. */
static void
decom_section(struct rctx *r, const struct rcoll *c)
{
	const json_t *req = json_object_get(c->decom, "request"), *e, *z;
	size_t i, k;

	section(r, "Decommissioning certificate");
	if (r->html)
		fputs("<p>", r->out);
	escf(r, "Group %s was decommissioned (record %lld) on the customer's written request "
	     "%s (document SHA-256 %.16s...). Every domain below was zeroized; the module "
	     "receipts named are the proof of deletion.\n", clean(jstr(c->decom, "group")),
	     c->decom_seq, clean(jstr(req, "id")), clean(jstr(req, "sha256")));
	if (r->html)
		fputs("</p>\n", r->out);
	decom_domains(r, c);
	if (r->html && json_array_size(c->disposed) > 0)
		fputs("<table><thead><tr><th>Card</th><th>Fate</th><th>Witnessed by</th></tr>"
		    "</thead>\n", r->out);
	json_array_foreach(c->disposed, i, e) {
		char wit[512] = "";
		size_t used = 0;

		json_array_foreach(json_object_get(e, "witnesses"), k, z)
			if (used < sizeof(wit))
				used += (size_t)snprintf(wit + used, sizeof(wit) - used, "%s%s",
				    k ? ", " : "", clean(json_string_value(z)));
		if (r->html) {
			const char *cells[] = { clean(jstr(e, "card_id")),
			    clean(jstr(e, "disposition")), wit };
			html_row(r, cells, 3);
		} else
			escf(r, "  card %s: %s, witnessed by %s\n", clean(jstr(e, "card_id")),
			     clean(jstr(e, "disposition")), wit);
	}
	if (r->html && json_array_size(c->disposed) > 0)
		fputs("</table>\n", r->out);
	if (json_array_size(c->disposed) == 0) {
		if (r->html)
			fputs("<p>", r->out);
		esc(r, "No card's fate is recorded.\n");
		if (r->html)
			fputs("</p>\n", r->out);
	}
}

static void
signoff_section(struct rctx *r)
{
	static const char *who_signs[] = { "Auditor", "Supervisor", "Witness" };
	int i;

	section(r, "Sign-off");
	if (r->html) {
		fputs("<table class=\"sign\"><thead><tr><th>Role</th><th>Name</th><th>Date</th>"
		    "<th>Signature</th></tr></thead>\n", r->out);
		for (i = 0; i < 3; i++)
			fprintf(r->out, "<tr><td>%s</td><td></td><td></td><td></td></tr>\n",
			    who_signs[i]);
		fputs("</table>\n", r->out);
		return;
	}
	for (i = 0; i < 3; i++)
		escf(r, "%-10s  Name: ______________________  Date: ____________  "
		    "Signature: ______________________\n\n", who_signs[i]);
}

/* The people/loads pass over the records that verified. */
static hsm_rc
people_and_loads(struct rctx *r, long long upto, const json_t *st)
{
	struct rcoll *c = calloc(1, sizeof(*c));
	evlog_reader *rd = NULL;
	evlog_record rec;
	hsm_rc rc;

	if (c == NULL)
		return hsm_fail(HSM_ERR_NOMEM, "out of memory for the report");
	memset(&rec, 0, sizeof(rec));
	if ((rc = src_reader(r, &rd)) != HSM_OK) {
		free(c);
		return rc;
	}
	while (evlog_reader_next(rd, &rec) == HSM_OK && (upto == 0 || rec.seq <= upto))
		collect(r, c, &rec);
	evlog_record_clear(&rec);
	evlog_reader_free(&rd);
	people_section(r, c);
	loads_section(r, c);
	if (st != NULL)
		mkvp_section(r, st);
	if (c->decom != NULL)
		decom_section(r, c);
	rcoll_free(c);
	free(c);
	return HSM_OK;
}

/* ---- the timeline: every line of the file, the first bad one marked ---- */

static void
timeline_row(struct rctx *r, const evlog_verify_result *res, const evlog_record *rec,
             long long seq, const char *unreadable)
{
	int exc = rec != NULL && (strcmp(rec->type, EV_EXCEPTION) == 0 ||
	    strcmp(rec->type, EV_LOG_RECOVERED) == 0);
	int first_bad = !res->ok && seq == res->bad_seq;
	int unchecked = !res->ok && seq > res->bad_seq;
	const char *cls = first_bad ? " class=\"badrow\"" : unchecked ? " class=\"unchecked\"" :
	    exc ? " class=\"exc\"" : "";

	if (r->html) {
		fprintf(r->out, "<tr%s><td>%lld</td><td>", cls, seq);
		esc(r, rec ? clean(rec->time) : "");
		fputs("</td><td>", r->out);
	} else {
		escf(r, "%s%5lld  %s  ", first_bad ? ">>" : "  ", seq, rec ? clean(rec->time) : "");
	}
	if (rec != NULL)
		actor_text(r, rec->actor);
	row_mid(r);
	if (rec != NULL)
		what(r, rec);
	else
		escf(r, "(this line cannot be read as a record: %s)", clean(unreadable));
	if (first_bad)
		escf(r, r->html ? " — FIRST BAD RECORD: %s" : "\n       FIRST BAD RECORD: %s",
		    clean(res->reason));
	else if (unchecked)
		escf(r, "%s", r->html ? " (not checked: after the first bad record)" :
		    "\n       (not checked: after the first bad record)");
	row_end(r);
}

static hsm_rc
timeline(struct rctx *r, const evlog_verify_result *res)
{
	evlog_reader *rd = NULL;
	evlog_record rec;
	const char *line;
	size_t len;
	int nl;
	long long off, n = 0;
	hsm_rc rc;

	section(r, "Timeline (every record)");
	if (r->html)
		fputs("<table><thead><tr><th>Seq</th><th>Time (UTC)</th><th>Who</th>"
		    "<th>What</th></tr></thead>\n", r->out);
	/* raw lines: a record after a broken link is still shown, marked */
	if ((rc = src_reader(r, &rd)) != HSM_OK)
		return rc;
	memset(&rec, 0, sizeof(rec));
	while (ev_reader_next_raw(rd, &line, &len, &nl, &off) == HSM_OK) {
		n++;
		evlog_record_clear(&rec);
		if (evlog_parse_line(line, len, &rec) == HSM_OK) {
			learn(r, &rec);
			timeline_row(r, res, &rec, rec.seq, NULL);
		} else {
			timeline_row(r, res, NULL, n, hsm_errmsg());
		}
	}
	evlog_record_clear(&rec);
	evlog_reader_free(&rd);
	if (r->html)
		fputs("</table>\n", r->out);
	if (n == 0)
		esc(r, r->html ? "None." : "None.\n");
	return HSM_OK;
}

/* The report over r's source (descriptor or memory), named name. */
static hsm_rc
report_src(struct rctx *r, const char *name, const struct evlog_verify_opts *opts,
           evlog_verify_result *resout)
{
	evlog_verify_result res;
	evlog_reader *rd = NULL;
	hsm_rc vrc, rc;
	char saved[1024];
	int i;

	memset(&res, 0, sizeof(res));
	if ((vrc = src_reader(r, &rd)) == HSM_OK)
		vrc = ev_verify_reader(rd, opts, &res);
	evlog_reader_free(&rd);
	if (vrc != HSM_OK && vrc != HSM_ERR_AUDIT) {
		evlog_verify_result_clear(&res);
		return vrc;
	}
	snprintf(saved, sizeof(saved), "%s", hsm_errmsg());
	header(r, &res, name);
	if (res.state != NULL)
		state_section(r, res.state);
	/* What was checked is summarised up to the last good record; the
	 * timeline shows every line, the first bad one marked. */
	if ((rc = people_and_loads(r, res.ok ? 0 : res.head_seq, res.state)) == HSM_OK &&
	    (rc = pass(r, res.ok ? 0 : res.head_seq, PASS_EXCEPTIONS)) == HSM_OK &&
	    (rc = pass(r, res.ok ? 0 : res.head_seq, PASS_SIGNATURES)) == HSM_OK)
		rc = timeline(r, &res);
	if (rc == HSM_OK)
		signoff_section(r);
	if (r->html) {
		fputs("<p style=\"font-size:9pt;color:#555\">Made by hsmadm-audit "
		    HSMADM_VERSION ". Text from the log is shown as written; MKVP and KPVP "
		    "are the first 16 bytes of the pattern.</p>\n</body></html>\n", r->out);
	}
	for (i = 0; i < r->nnames; i++)
		free(r->name[i]);
	if (fflush(r->out) != 0 || ferror(r->out))
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

hsm_rc
evlog_report(const char *path, const struct evlog_verify_opts *opts,
             enum evreport_format fmt, FILE *out, evlog_verify_result *resout)
{
	struct rctx r;
	hsm_rc rc;

	memset(&r, 0, sizeof(r));
	r.out = out;
	r.html = fmt == EVREPORT_HTML;
	/* opened once: the verification and every pass read this descriptor */
	if ((r.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return hsm_fail(errno == ENOENT ? HSM_ERR_NOT_FOUND : HSM_ERR_IO,
		    "cannot open evidence log %s: %s", path, strerror(errno));
	rc = report_src(&r, path, opts, resout);
	close(r.fd);
	return rc;
}

hsm_rc
evlog_report_mem(const char *buf, size_t len, const char *name,
                 const struct evlog_verify_opts *opts, enum evreport_format fmt,
                 FILE *out, evlog_verify_result *resout)
{
	struct rctx r;

	memset(&r, 0, sizeof(r));
	r.out = out;
	r.html = fmt == EVREPORT_HTML;
	r.fd = -1;
	r.mem = buf != NULL ? buf : "";
	r.memlen = buf != NULL ? len : 0;
	return report_src(&r, name != NULL ? name : "(memory)", opts, resout);
}
