#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The EXAMPLES of hsmadm-commit(1), run as written against two hsmadm-simd
# modules (the group "pair") and virtual cards: two administrator cards in
# readers 0 and 1 (the man page's "PCD A" and "PCD B", replaced by the
# harness's reader names) and three custodian cards, each holding one part
# made with hsmadm-mkpart. PINs come from descriptors instead of the
# terminal (--pin-fd, --admin-pin-fd appended), and --timeout 20 so that a
# missing card fails the test instead of waiting 300 s.
#
# The blocks run in the order a ceremony would: "Start a log for domains set
# up earlier" first (the thresholds command, signed by both administrators,
# is submitted with the example's own command), then load/commit/activate,
# then the "after an interruption" pair, which must find nothing left to do.
. "${HSMADM_SRC:?}/tests/integration/domain_common.sh"
. "${HSMADM_SRC:?}/tests/harness/manpage.sh"
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"
APIN=11110000 CPIN=22220000
cer_setup 5
trap 'harness_stop 2>/dev/null || true; cleanup' EXIT
MAN=$HSMADM_SRC/docs/man/hsmadm-commit.1
RA=$(harness_reader_name 0) RB=$(harness_reader_name 1)

# Commands of the EXAMPLES section: inside .nf/.fi, troff escapes undone,
# continuation lines joined (man_examples, tests/harness/manpage.sh).
mapfile -t CMDS < <(man_examples "$MAN")
[ "${#CMDS[@]}" -eq 7 ] || fail "found ${#CMDS[@]} example commands, expected 7"
# ex PATTERN: the one example command that contains PATTERN, readers replaced.
ex() {
	local c hit=
	for c in "${CMDS[@]}"; do
		case "$c" in *"$1"*) [ -z "$hit" ] || fail "two examples match '$1'"; hit=$c ;; esac
	done
	[ -n "$hit" ] || fail "no example matches '$1'"
	hit=${hit//\"PCD A\"/\"$RA\"}
	hit=${hit//\"PCD B\"/\"$RB\"}
	printf '%s\n' "$hit"
}
USED=0
# example RC PATTERN [extra options]: run that example as written (in $W).
example() {
	local want=$1 c
	c=$(ex "$2")
	shift 2
	echo "example: $c $*"
	run "$want" "example: ${c:0:70}" bash -c "cd \"\$0\" && $c $*" "$W" \
		4<"$CPINS" 5<"$APINS"
	USED=$((USED + 1))
}

# ---- set-up (not in the man page): modules, workstation, group, cards ----
init_module m1 DC1-M01
init_module m2 DC2-M01
start_module m1
start_module m2
setup_workstation m1 m2
D=hsmadm-domain
run 0 "group pair of domain 3" $D group create pair m1:3 m2:3
cer_card 0 admin "Alice Admin" $APIN
cer_card 1 admin "Bob Admin" $APIN
for i in 2 3 4; do cer_card $i custodian "Custodian $((i - 1))" $CPIN; done
for i in 0 1; do
	run 0 "register the admin card in reader $i" $D admin add pair --card --reader "$(harness_reader_name $i)"
done
cd "$W"
run 0 "propose thresholds 2-of-2" $D thresholds set pair --signature 2 --revocation 1 \
	--out thresholds.json
for i in 0 1; do
	run 0 "admin $((i + 1)) signs the thresholds" $D sign thresholds.json --card \
		--reader "$(harness_reader_name $i)" --pin-fd 3 3<<<$APIN
done
CPINS=$(pins $CPIN 20)
APINS=$(pins $APIN 20)
run 0 "the facilitator opens the log" hsmadm-ceremony --log ceremony.jsonl \
	--facilitator "Fay Facilitator" open --title "hsmadm-commit(1) examples" --installation TEST

# ---- "Start a log for domains set up earlier" ----
example 0 "submit thresholds.json > last-receipts.json"
jq -e '.outcome == "applied"' last-receipts.json >/dev/null ||
	fail "last-receipts.json is not the applied report: $(cat last-receipts.json)"
example 0 "baseline --receipts last-receipts.json"
out_has "as baseline"
[ "$(grep -c '"type":"domain.baseline"' ceremony.jsonl)" = 2 ] ||
	fail "expected 2 domain.baseline records in ceremony.jsonl"
pass "a domain.baseline record per domain"

# The parts, on the custodian cards (readers 2-4), into the same log.
for i in 1 2 3; do
	run 0 "custodian $i generates p$i" hsmadm-mkpart generate --part p$i \
		--reader "$(harness_reader_name $((i + 1)))" --log ceremony.jsonl --pin-fd 3 3<<<$CPIN
done
status() { run 0 "status --json" hsmadm-commit status --group pair --part p1 --part p2 \
	--part p3 --log ceremony.jsonl --json; }

# ---- "Load the three parts ..." ----
status
jq_is .next load
example 0 "hsmadm-commit load" --pin-fd 4 --admin-pin-fd 5 --timeout 20
out_has "All domains report the same pending MKVP"
status
jq_is .next commit
jq_is '[.members[].parts_loaded | length] | join(",")' "3,3"
MKVP=$(jq -r .mkvp <<<"$OUT")
[[ $MKVP =~ ^[0-9a-f]{56}00000000$ ]] || fail "no MKVP after the load: $MKVP"
# A power cut while a record was being written leaves a torn last line.
# status only reads: it refuses and says what repairs it; commit writes: it
# repairs the tail, records the cut, and goes on.
printf '{"seq":99,"type":"mk.com' >>ceremony.jsonl
run 3 "status on a torn log refuses" hsmadm-commit status --group pair --part p1 --part p2 \
	--part p3 --log ceremony.jsonl
err_has "Any command that writes to this log repairs it"
example 0 "hsmadm-commit commit" --pin-fd 4 --admin-pin-fd 5 --timeout 20
grep -q '"type":"log.recovered"' ceremony.jsonl || fail "the repair of the torn tail is not recorded"
pass "commit repaired the torn tail and recorded it (log.recovered)"
status
jq_is .next activate
jq_is '[.members[].pending] | unique | join(",")' committed
NSIG=$(jq -r 'select(.type=="command.applied" and .body.command.body.op=="mk.commit") |
	.body.command.signatures | length' ceremony.jsonl)
[ "$NSIG" = 2 ] || fail "mk.commit carries '$NSIG' signatures, expected 2 (PCD A and PCD B)"
pass "the commit carries both administrators' signatures"
example 0 "hsmadm-commit activate" --pin-fd 4 --admin-pin-fd 5 --timeout 20
status
jq_is .next none
jq_is '[.members[].current_mkvp] | unique | join(",")' "$MKVP"
jq_is '[.members[].activated] | all' true

# ---- "After an interruption, see where things are and continue" ----
example 0 "hsmadm-commit status"
out_has "current MKVP ${MKVP:0:4} ${MKVP:4:4} ${MKVP:8:4}"
out_has "Done: the new master key is active in every domain"
example 0 "hsmadm-commit run" --pin-fd 4 --admin-pin-fd 5 --timeout 20 --json
jq_is .outcome nothing-to-do
[ "$USED" = "${#CMDS[@]}" ] || fail "ran $USED of ${#CMDS[@]} examples"
for t in mk.loaded mk.committed mk.activated; do
	grep -q "\"type\":\"$t\"" ceremony.jsonl || fail "the log lacks $t"
done
run 0 "the examples' log verifies" hsmadm-audit verify ceremony.jsonl --module-ca "$T/ca.pem" \
	--allow-incomplete
echo "PASS: examples_commit"
