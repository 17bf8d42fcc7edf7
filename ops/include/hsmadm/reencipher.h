/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reencipher.h - the re-encipher job of a master-key rotation: every key
 * blob of an input (JSON Lines file, a directory of *.jsonl, or stdin) is
 * re-enciphered by the members of a domain group to the target register
 * (PENDING before finalize, CURRENT after it or after a backout), in
 * batches spread over all members in parallel (one connection and thread
 * per member). Reference: docs/blobs.md.
 *
 * Output beside the input, never in place: for IN.jsonl (or IN)
 *   IN.reenciphered.jsonl          one line per re-enciphered blob, in input
 *                                  order, with the input line's id
 *   IN.failed.jsonl                one line per blob that was not (and why)
 *   IN.reenciphered.jsonl.journal  the job's journal
 * The journal is written first; after each batch the output and failure
 * files are fsynced, then a line "done LINES INBYTES OK FAILED OUTBYTES
 * FAILBYTES" is appended and fsynced. A job killed at any point resumes
 * from the last such line: the outputs are truncated back to the sizes it
 * names and the input is read again from the start, skipping (and checking
 * the length of) the lines already done. So every input blob has exactly one
 * output line (re-enciphered or failed), never two. A finished job leaves
 * "end ..." in the journal; running it again only reports.
 *
 * Every output blob is checked before it is written: it parses, carries the
 * target MKVP's prefix and the input blob's attributes. The target MKVP is
 * read from every member first: all must hold the same key in the target
 * register (PENDING: committed), else nothing is sent.
 *
 * Test-only: HSMADM_REENC_CRASH="B:PHASE" kills the process (SIGKILL) while
 * committing the B-th batch of this run, PHASE = out (output written, not
 * journaled), torn (half the output written), journal (journal line
 * fsynced), tornjournal (half the journal line written).
 */
#ifndef HSMADM_REENCIPHER_H
#define HSMADM_REENCIPHER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "hsmadm/err.h"
#include "hsmadm/vp.h"
#include "hsmadm/wsconfig.h"

#define REENC_BATCH_DEFAULT 2048
/* Two connections per member: the module works on one batch while the
 * other travels and is checked and written. */
#define REENC_CONNS_DEFAULT 2
#define REENC_REASONS_MAX   16
#define REENC_REASON_MAX    32

typedef struct reenc_summary {
	uint64_t in;              /* input lines (blobs and unreadable lines) */
	uint64_t out;             /* blobs re-enciphered and written */
	uint64_t failed;          /* lines written to the failure file */
	uint64_t resumed;         /* of in: already done by an earlier run */
	size_t   files;           /* input files handled */
	int      already_done;    /* every file had finished before this run */
	struct { char reason[REENC_REASON_MAX]; uint64_t n; } reasons[REENC_REASONS_MAX];
	size_t   nreasons;
	uint8_t  target_mkvp[HSM_VP_LEN];
	/* Of the last file handled: SHA-256 of the input and of the output, and
	 * the paths, for the evidence record the caller writes. */
	uint8_t  in_digest[32], out_digest[32];
	char     input[WSC_PATH_MAX], output[WSC_PATH_MAX];
	double   seconds;
} reenc_summary;

typedef struct reenc_opts {
	const wsconfig *cfg;
	const char *group;          /* a configured group, or NULL and: */
	const char *module;         /* one module (name or serial) ... */
	unsigned    domain;         /* ... and domain */
	const char *to;             /* "pending" or "current" */
	const char *input;          /* a .jsonl file, a directory, or "-" (stdin) */
	const char *output;         /* stdin only: the output file (required) */
	size_t      batch;          /* blobs per request, 1..BLOB_BATCH_MAX; 0: default */
	unsigned    conns;          /* connections per member, 1..8; 0: REENC_CONNS_DEFAULT */
	int         timeout_ms;     /* per connection and answer; 0: 30 s */
	FILE       *progress;       /* NULL: quiet; a tty: one updating line */
	/* Called after each file with that file's summary (may be NULL). */
	void      (*on_file)(void *arg, const reenc_summary *file);
	void       *arg;
} reenc_opts;

/* Run (or resume) the job. HSM_OK when every input line has its output
 * line, also when some blobs failed (sum->failed, per reason); an error
 * when the job could not finish (it can be resumed). */
hsm_rc reencipher_run(const reenc_opts *o, reenc_summary *sum);

/* Add n failures of reason to a summary. */
void   reenc_summary_add_reason(reenc_summary *s, const char *reason, uint64_t n);

#endif
