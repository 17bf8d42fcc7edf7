# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers of the ceremony integration tests (sourced). Each test gets
# its own private pcscd and virtual cards (tests/harness/pcsc.sh), its own
# modules on free ports and its own temp dir, so tests run in parallel; the
# harness's EXIT trap (extended here) stops every process started. run,
# err_has, out_has, jq_is: tests/harness/cards.sh.
. "${HSMADM_SRC:?}/tests/harness/cards.sh"

# cer_setup N: private pcscd with N readers; $W scratch dir.
cer_setup() { cards_start "$@"; }

# cer_card SLOT ROLE HOLDER PIN [init options]: a new virtual card in SLOT,
# initialized for ROLE; sets CARDID_<SLOT> and CARDFILE_<SLOT>.
cer_card() {
	local slot=$1 role=$2 holder=$3 pin=$4
	shift 4
	cards_new "$slot"
	cards_init "init $role card of $holder in slot $slot" "$slot" "$role" "$holder" \
		"$pin" 87654321 "$@"
	eval "CARDID_$slot=$(jq -r .profile.card_id <<<"$OUT")"
	eval "CARDFILE_$slot=\$W/card$slot.json"
}

# pins PIN COUNT: a file with PIN on COUNT lines (PINs come from an fd).
pins() {
	local f
	f=$(mktemp "$W/pins.XXXXXX")
	for ((i = 0; i < $2; i++)); do echo "$1"; done >"$f"
	echo "$f"
}

# hexbytes HEX: the bytes themselves on stdout.
hexbytes() { printf "$(sed 's/../\\x&/g' <<<"$1")"; }

# open_part CARDFILE PART_ID: the clear part (hex) of an envelope on a
# virtual card, recomputed from the card file with openssl (tests only: the
# virtual card keeps its private keys in that file).
open_part() {
	"$HSMADM_BUILD/tests/ceremony_open" "$1" "$2"
}
