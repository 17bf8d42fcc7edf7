/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * simrcpt.h - the receipts an emulated domain has issued, kept so that a
 * receipt whose answer never reached the workstation (connection cut, module
 * crash right after applying) can be fetched again with domain.receipts
 * (docs/formats/module-protocol.md §2.6).
 *
 * One append-only file per domain, domains/NN.receipts.jsonl: one receipt
 * (canonical JSON) per line. A receipt is appended and fsynced BEFORE the
 * domain's new state is saved, so a crash never leaves a state change
 * without its receipt. A crash between the two leaves a receipt for a change
 * that did not happen: readers keep, for each counter_before, only the LAST
 * line (a later apply at the same counter supersedes it), and only receipts
 * with counter_after <= the domain's counter. A torn or damaged line is
 * skipped (the workstation verifies every receipt it fetches anyway).
 * Bounded: when the file holds more than 2 * SIMRCPT_KEEP lines it is
 * rewritten atomically with the last SIMRCPT_KEEP receipts.
 */
#ifndef HSMADM_SIM_SIMRCPT_H
#define HSMADM_SIM_SIMRCPT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "hsmadm/err.h"

#define SIMRCPT_KEEP      256   /* receipts kept per domain */
#define SIMRCPT_MAX_ANSWER 64   /* receipts per domain.receipts answer (frame limit) */

/* Append one receipt to path (created mode 0600), fsync it (and the folder
 * when the file is new); sync 0: no fsync, the caller flushes a batch at
 * once (hsm_fs_batch_sync) before it saves the states. *lines (in/out, -1 =
 * unknown) counts the lines, to know when to compact. */
hsm_rc simrcpt_append(const char *path, const json_t *receipt, long *lines, int sync);

/* Parse the bytes of a receipts file: the receipts with counter_before >=
 * from and counter_after <= counter, one per counter_before (the last line
 * wins), ascending; *out a new array. Never fails on damaged lines. */
hsm_rc simrcpt_parse(const char *buf, size_t len, uint64_t from, uint64_t counter,
                     json_t **out);

/* The same from the file (a missing file: no receipts). */
hsm_rc simrcpt_load(const char *path, uint64_t from, uint64_t counter, json_t **out);

/*
 * The applied command of each receipt, kept beside it so that a member
 * that missed a command can be healed from the member that applied it
 * without the original file (hsmadm-domain group heal): one file per
 * applied command, dir/<counter_before>.json = the command file {body,
 * signatures} in canonical JSON (canon: dumped once for all the domains
 * of a batch), written and synced (with its folder) BEFORE
 * the receipt is appended, so a receipt never lacks its command; written in
 * place, as a file torn by a crash belongs to no receipt and reads as none.
 * share NULL: written and synced. Else (a batch, whose domains all keep
 * the same command): unsynced, as simrcpt_append with sync 0 (the batch's
 * one flush comes before any state is saved, so a receipt that counts
 * still has its command), and only the first domain writes the file: the
 * others link to it (a file creation costs twenty times a link). A kept
 * file is never written through, only replaced, as it may be shared. dir
 * is created 0700. Only the last 2 * SIMRCPT_KEEP are kept.
 */
typedef struct {
	pthread_mutex_t lock;
	char            path[4300];   /* the file kept first, "" before */
} simrcpt_share;
hsm_rc simrcpt_keep_command(const char *dir, uint64_t counter_before, const char *canon,
                            size_t len, simrcpt_share *share);
/* The command kept for counter_before; *out NULL when there is none. */
hsm_rc simrcpt_command(const char *dir, uint64_t counter_before, json_t **out);

#endif
