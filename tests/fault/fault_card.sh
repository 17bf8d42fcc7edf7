#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# ctest fault_card: the "card" flow of fault_flows (every PC/SC, allocation,
# OpenSSL and file call of a card signature failing once) against a virtual
# admin card on this test's own pcscd (tests/harness/cards.sh).
. "${HSMADM_SRC:?}/tests/harness/cards.sh"
: "${HSMADM_BUILD:?run through ctest}"

cards_start 1
cards_new 0
cards_init "an admin card for the card flow" 0 admin "Fay Fault" 24682468 13571357

FAULT_CARD_READER=$(harness_reader_name 0) FAULT_CARD_PIN=24682468 FAULT_CARD_TRIES=3 \
	"$HSMADM_BUILD/tests/fault_flows" card || fail "the card flow (report above)"
pass "every failure point of a card signature"
