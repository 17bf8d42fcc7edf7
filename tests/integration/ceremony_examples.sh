#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The EXAMPLES of hsmadm-mkpart(1), run as written on virtual cards: only the
# reader names ("PCD A", "PCD B") are replaced by the harness's readers, and
# the PINs and the typed confirmation come from descriptors instead of the
# terminal.
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"
. "${HSMADM_SRC:?}/tests/harness/manpage.sh"
cer_setup 2
cer_card 0 custodian "Carol Custodian" 11112222
cer_card 1 custodian "Carol Custodian" 11112222 --backup-of "$CARDID_0"
RA=$(harness_reader_name 0) RB=$(harness_reader_name 1)
cd "$W"

# Commands of the EXAMPLES section: inside .nf/.fi, continuation lines joined.
mapfile -t CMDS < <(man_examples "$HSMADM_SRC/docs/man/hsmadm-mkpart.1")
[ "${#CMDS[@]}" -ge 5 ] || fail "found ${#CMDS[@]} example commands"
for c in "${CMDS[@]}"; do
	c=${c//\"PCD A\"/\"$RA\"}
	c=${c//\"PCD B\"/\"$RB\"}
	case "$c" in
	*" copy "*) extra="--pin-fd 3 --backup-pin-fd 4" ;;
	*" destroy "*) extra="--pin-fd 3 --confirm-fd 5" ;;
	*" list "*) extra="" ;;
	*) extra="--pin-fd 3" ;;
	esac
	echo "example: $c"
	eval "run 0 \"example: \${c:0:60}\" $c $extra 3<<<11112222 4<<<11112222 5<<<p1"
done
grep -q '"type":"keypart.destroyed"' ceremony.jsonl || fail "the examples' log lacks the destroy"
echo "PASS: ceremony_examples"
