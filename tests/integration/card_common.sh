# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers of the hsmadm-card integration tests (sourced). Every test
# gets its own private pcscd and virtual cards from tests/harness/pcsc.sh, so
# the tests run in parallel; the harness stops everything on EXIT. run,
# err_has, out_has, jq_is: tests/harness/cards.sh.
. "${HSMADM_SRC:?}/tests/harness/cards.sh"

# card_setup N: a private pcscd with N readers; $W scratch dir.
card_setup() { cards_start "$@"; }

# new_card SLOT: a factory-fresh virtual card in reader SLOT; $CARDn = file.
new_card() {
	cards_new "$1"
	eval "CARD$1=\$W/card$1.json"
}

# init_card SLOT ROLE HOLDER NEWPIN NEWPUK [more init options]
init_card() {
	cards_init "init $2 card in slot $1" "$@"
}
