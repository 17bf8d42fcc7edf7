/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fault_card.h - the "card" flow: sign with a PIV card's 9C key over PC/SC
 * (pcsc_open, piv_connect, cardsigner_new, signer_sign), against a virtual
 * card on a private pcscd that tests/fault/fault_card.sh starts. It needs
 * FAULT_CARD_READER and FAULT_CARD_PIN; without them it is not run.
 */
#ifndef HSMADM_FAULT_CARD_H
#define HSMADM_FAULT_CARD_H

#include "fault_fixture.h"

int    fault_card_reset(struct fault_fx *fx);
hsm_rc fault_card_run(struct fault_fx *fx);
int    fault_card_check(struct fault_fx *fx, hsm_rc rc);
void   fault_card_clean(struct fault_fx *fx);

#endif
