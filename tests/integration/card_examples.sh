#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The EXAMPLES of hsmadm-card(1) that need no terminal run as written (the
# interactive ones ask for a PIN on the terminal; they are run with the
# same options and the PIN on a descriptor instead).
. "${HSMADM_SRC:?}/tests/integration/card_common.sh"
MAN=$HSMADM_SRC/docs/man/hsmadm-card.1
card_setup 1
new_card 0
[ "$(harness_reader_name 0)" = "Virtual PCD A 00 00" ] || fail "the man page names reader 'Virtual PCD A 00 00'"
# Example blocks: the lines between .nf and .fi after .SH EXAMPLES, troff
# escapes undone, continuation lines joined.
awk '/^\.SH EXAMPLES/ { ex = 1 } /^\.SH FILES/ { ex = 0 }
     ex && /^\.nf/ { inb = 1; blk = ""; next }
     ex && /^\.fi/ { inb = 0; print blk; next }
     inb { gsub(/\\-/, "-"); gsub(/\\\\$/, ""); blk = blk $0 " " }' "$MAN" >"$W/examples"
n=0
while IFS= read -r ex; do
	[ -n "$ex" ] || continue
	case "$ex" in
	*--pin-fd*|"hsmadm-card list"*|"hsmadm-card status"*)
		run 0 "man page example: $ex" bash -c "$ex"
		n=$((n + 1)) ;;
	"hsmadm-card verify"*)
		run 0 "man page example (PIN on fd 3): $ex" bash -c "$ex --pin-fd 3 3<<<24682468"
		n=$((n + 1)) ;;
	"hsmadm-card pin unblock"*)
		run 0 "man page example (PUK and PIN on fds): $ex" \
			bash -c "$ex --puk-fd 3 --new-pin-fd 4 3<<<13571357 4<<<24682468"
		n=$((n + 1)) ;;
	*) echo "not run here (needs a terminal and a fresh card): $ex" ;;
	esac
done <"$W/examples"
[ "$n" -ge 5 ] || fail "only $n examples found in the man page"
echo "card_examples: all passed"
