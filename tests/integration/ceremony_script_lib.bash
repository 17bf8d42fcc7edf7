# SPDX-License-Identifier: BSD-2-Clause
# Shared set-up of the ceremony-script tests (sourced): the room of the
# embedded default, built by tests/harness/room.sh exactly as tests/demo.sh
# builds it (a private pcscd with 13 factory-fresh virtual cards, two
# emulated modules on free ports, the workstation's client certificate), and
# the plan and rehearsal answers for it. Sets W, PLAN, ANSWERS, LOG, S.
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"
. "${HSMADM_SRC:?}/tests/harness/room.sh"

S=$HSMADM_SRC/ceremony-scripts

# cs_setup [PIN_OF_CUSTODIAN_2]: the room; a wrong PIN may be planted.
cs_setup() {
	trap 'room_stop' EXIT
	room_start || fail "the room did not start (the reason is above)"
	W=$HARNESS_DIR
	cp "$W/m1/ca.pem" "$W/module-ca.pem" || fail "cannot copy the module CA"
	PLAN=$W/plan.json
	room_plan "$PLAN" "$W/module-ca.pem" test-bank || fail "cannot write the plan"
	ANSWERS=$W/answers
	room_answers "$ANSWERS" "${1:-}" || fail "cannot write the answers file"
	LOG=$W/ceremony.jsonl
}
