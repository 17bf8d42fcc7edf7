#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The EXAMPLES of hsmadm-ceremony(1), run as written on virtual cards: only
# the reader names ("PCD A", "PCD B") are replaced by the harness's readers,
# and the supervisor's PIN comes from a descriptor instead of the terminal.
# The resulting log verifies.
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"
. "${HSMADM_SRC:?}/tests/harness/manpage.sh"
MAN=$HSMADM_SRC/docs/man/hsmadm-ceremony.1
cer_setup 2
cer_card 0 supervisor "Sue Supervisor" 33330000 --installation ACME-DC1
cer_card 1 admin "Adam Admin" 11112222 --installation ACME-DC1
RA=$(harness_reader_name 0) RB=$(harness_reader_name 1)
cd "$W"

# The page has every section a user looks for.
for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	grep -q "^\.SH \"*$s" "$MAN" || fail "the man page has no $s section"
done
# Every option of --help is on the page.
for o in $(hsmadm-ceremony --help | grep -o -- '--[a-z-]*' | sort -u); do
	grep -qF -- "${o//-/\\-}" "$MAN" || fail "option $o of --help is not in the man page"
done
pass "the man page has its sections and every option"

# Commands of the EXAMPLES section: inside .nf/.fi, continuation lines joined.
mapfile -t CMDS < <(man_examples "$MAN")
[ "${#CMDS[@]}" -ge 10 ] || fail "found ${#CMDS[@]} example commands"
for c in "${CMDS[@]}"; do
	c=${c//\"PCD A\"/\"$RA\"}
	c=${c//\"PCD B\"/\"$RB\"}
	extra=
	case "$c" in *sign-completion*) extra="--pin-fd 3" ;; esac
	echo "example: $c"
	eval "run 0 \"example: \${c:0:60}\" $c $extra 3<<<33330000"
done
[ "$(jq -rs '[.[].type] | join(",")' ceremony.jsonl)" = \
  "ceremony.open,roster,roster,roster,step.begin,exception,step.end,witness.ack,completion" ] ||
	fail "the examples' log holds other records: $(jq -rs '[.[].type] | join(",")' ceremony.jsonl)"
pass "the examples' log holds exactly the records they describe"
echo "PASS: facilitator_examples"
