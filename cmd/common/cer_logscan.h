/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cer_logscan.h - the key-part lookups of cer.h over one scan of the log
 * (evscan.h), so that a command that has opened its log reads it once:
 *
 *     evlog *log; evscan *s;
 *     cer_log_open(path, &log);          // repairs a torn tail, takes the lock
 *     evscan_log(log, &s);               // one pass, through the writer's fd
 *     cer_scan_find_part(s, path, "part-1", &rec);
 *     cer_scan_find_loaded(s, parts, n, mkvp);
 *     evscan_free(&s);
 */
#ifndef HSMADM_CER_LOGSCAN_H
#define HSMADM_CER_LOGSCAN_H

#include "hsmadm/evscan.h"
#include "cer.h"

/* Like cer_log_open, but a log that does not exist is HSM_ERR_NOT_FOUND
 * (for a command that needs a record the log would have to hold already). */
hsm_rc cer_log_open_existing(const char *path, evlog **log);

/* The latest keypart.generated of part_id in the scan: KPVP, card id, holder,
 * seq. HSM_ERR_NOT_FOUND (naming path, for the message) if there is none. */
hsm_rc cer_scan_find_part(const evscan *s, const char *path, const char *part_id,
                          struct cer_partrec *rec);

/* The MKVP of the most recent mk.loaded (of any group) that loaded exactly
 * these parts (same ids and patterns, same order). HSM_ERR_NOT_FOUND if none;
 * HSM_ERR_FORMAT if its domains reported different MKVPs. */
hsm_rc cer_scan_find_loaded(const evscan *s, const mkload_part *parts, size_t n,
                            uint8_t mkvp[HSM_VP_LEN]);

#endif
