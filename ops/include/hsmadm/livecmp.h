/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * livecmp.h - compare the state an evidence log replays to (evlog_replay)
 * with what the live modules say now (hsmadm-audit replay --against).
 */
#ifndef HSMADM_LIVECMP_H
#define HSMADM_LIVECMP_H

#include <jansson.h>
#include "hsmadm/err.h"
#include "hsmadm/moddriver.h"

/* For every domain of the replayed state that lives on the module drv
 * reaches, query it and compare with the replay. *out = {"module",
 * "domains": [{"domain", "in_step": bool, "differs": [member names]}]}.
 * HSM_OK if all are in step, HSM_ERR_DIVERGED if one is not. */
hsm_rc live_compare(const json_t *replayed, moddrv *drv, json_t **out);

#endif
