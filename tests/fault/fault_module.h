/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_module.h - the "module" flow: the group engine (ops/group.c) loads a
 * wrapped key part into one domain of the emulator's real module logic
 * (hsmadm_sim), carried in-process instead of over TLS.
 */
#ifndef HSMADM_FAULT_MODULE_H
#define HSMADM_FAULT_MODULE_H

#include "fault_fixture.h"

hsm_rc fault_module_setup(struct fault_fx *fx);
void   fault_module_teardown(struct fault_fx *fx);
int    fault_module_reset(struct fault_fx *fx);
hsm_rc fault_module_run(struct fault_fx *fx);
int    fault_module_check(struct fault_fx *fx, hsm_rc rc);
void   fault_module_clean(struct fault_fx *fx);

#endif
