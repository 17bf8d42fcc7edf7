/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * evreport.h - the auditor's report of an evidence log: who did what, when,
 * with which card; key parts and MKVPs; every signature and receipt; the
 * exceptions; and the verification verdict on top. As plain text, or as one
 * self-contained HTML page that prints well (inline CSS, no scripts, no
 * external resources). The log is read in a streaming pass after
 * verification, so a report of a huge log needs no more memory than a small
 * one.
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

#endif
