/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evreport.h - the auditor's report of an evidence log: the verdict and the
 * trust anchors it rests on; who did what, when, with which card; people
 * (roles, cards with backups, every approval), key parts, loads (which part
 * from whose card) and MKVPs per register; every signature and receipt; the
 * exceptions; the timeline of every line (a failed log's first bad record
 * marked, the ones after it shown as not checked); sign-off lines. As plain
 * text, or as one self-contained HTML page that prints on A4 (inline CSS, no
 * scripts, no external resources). The log is read in streaming passes after
 * verification; what is kept between records is bounded by the ceremony
 * (people, parts, loads), not by the number of records.
 */
#ifndef HSMADM_EVREPORT_H
#define HSMADM_EVREPORT_H

#include <stdio.h>
#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/evverify.h"

enum evreport_format { EVREPORT_TEXT = 0, EVREPORT_HTML = 1 };

/* Verify the log with opts, then write the report to out. Returns the
 * verification's code (HSM_OK or HSM_ERR_AUDIT: the report is written in
 * both cases and says which), or another code if nothing could be written.
 * res (may be NULL) gets the verification result (clear it afterwards). */
hsm_rc evlog_report(const char *path, const struct evlog_verify_opts *opts,
                    enum evreport_format fmt, FILE *out, evlog_verify_result *res);
/* The same over a log's bytes in memory (not copied), shown as name. */
hsm_rc evlog_report_mem(const char *buf, size_t len, const char *name,
                        const struct evlog_verify_opts *opts, enum evreport_format fmt,
                        FILE *out, evlog_verify_result *res);

#endif
