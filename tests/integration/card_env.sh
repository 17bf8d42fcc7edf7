#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Key-part envelopes on a custodian card (the library API the ceremony uses,
# driven by the test_piv_card helper), then hsmadm-card status/verify seeing
# them, and a damaged envelope found by verify.
. "${HSMADM_SRC:?}/tests/integration/card_common.sh"
HELPER=${HSMADM_BUILD:?}/tests/test_piv_card
[ -x "$HELPER" ] || fail "$HELPER not built"
card_setup 1
new_card 0
R=$(harness_reader_name 0)
init_card 0 custodian "Cora Custodian" 24682468 13571357
"$HELPER" "$R" 3<<<24682468 || fail "envelope API on the card"
pass "envelope API on the card"
run 0 "status counts the envelopes" hsmadm-card status --reader "$R" --json
jq_is .envelopes 20
run 0 "verify checks the envelopes" hsmadm-card verify --reader "$R" --json --pin-fd 3 3<<<24682468
jq_is .envelopes 20
jq_is .envelopes_bad 0
"$HELPER" "$R" junk 3<<<24682468 >/dev/null || fail "helper junk"
run 4 "verify finds a damaged envelope" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<24682468
err_has "1 key-part envelope(s) on the card are damaged"
echo "card_env: all passed"
