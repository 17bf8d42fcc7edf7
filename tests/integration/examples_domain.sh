#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The EXAMPLES of hsmadm-domain(1), run as written against two hsmadm-simd
# modules and virtual admin cards. What the test replaces or adds, and why:
#  - the modules' addresses 10.0.1.5:7400 and 10.0.2.5:7400 become the
#    loopback ports the modules got;
#  - module add's typed confirmation (the OA fingerprint's first 8 hex
#    digits) comes from --confirm-fd 3, card PINs from --pin-fd 3, and run's
#    "insert a card and press Enter" from --confirm-fd 4, a FIFO the test
#    writes to after it has swapped the cards;
#  - "sign --card" has no --reader: only the signer's card is inserted, as on
#    that administrator's workstation;
#  - alice.crt is the certificate on Alice's card (read with
#    yubico-piv-tool); Bob and Carol are added the same way.
# The last block needs a module that goes away during a submit: the test
# proposes and signs a new thr.json with the example's commands, serves DC2
# with --drop-before 1 for the example's submit (exit 27), restarts it, and
# runs the roll-forward and the comparison as written.
. "${HSMADM_SRC:?}/tests/integration/domain_common.sh"
. "${HSMADM_SRC:?}/tests/harness/manpage.sh"
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"
cer_setup 3
trap 'harness_stop 2>/dev/null || true; cleanup' EXIT
MAN=$HSMADM_SRC/docs/man/hsmadm-domain.1
APIN=11110000
PINS=$(pins $APIN 8)

# Commands of the EXAMPLES section: inside .nf/.fi, troff escapes undone,
# continuation lines joined, comments ("# Alice, ...") dropped (man_examples).
mapfile -t CMDS < <(man_examples "$MAN")
[ "${#CMDS[@]}" -eq 12 ] || fail "found ${#CMDS[@]} example commands, expected 12: ${CMDS[*]}"
# ex N: example command N (0-based, in man page order), addresses replaced.
ex() {
	local c=${CMDS[$1]}
	c=${c//10.0.1.5:7400/127.0.0.1:${PORT[dc1]}}
	c=${c//10.0.2.5:7400/127.0.0.1:${PORT[dc2]}}
	printf '%s\n' "$c"
}
declare -A USED
# example RC N [extra words]: run example N as written in $W (fds 3 and 4 as
# the caller redirects them).
example() {
	local want=$1 n=$2 c
	c=$(ex "$n")
	shift 2
	echo "example $n: $c $*"
	run "$want" "example: ${c:0:70}" bash -c "cd \"\$0\" && $c $*" "$W"
	USED[$n]=1
}
expect_cmd() {	# N PREFIX: example N starts with PREFIX (the man page order)
	case "${CMDS[$1]}" in "$2"*) ;; *) fail "example $1 is '${CMDS[$1]}', expected '$2...'" ;; esac
}
expect_cmd 0 "hsmadm-domain client set"
expect_cmd 1 "hsmadm-domain module add dc1"
expect_cmd 2 "hsmadm-domain module add dc2"
expect_cmd 3 "hsmadm-domain group create pair"
expect_cmd 4 "hsmadm-domain admin add pair --pubkey-file alice.crt"
expect_cmd 5 "hsmadm-domain thresholds set pair"
expect_cmd 6 "hsmadm-domain sign thr.json --card"
expect_cmd 7 "hsmadm-domain sign thr.json --card"
expect_cmd 8 "hsmadm-domain submit thr.json"
expect_cmd 9 "hsmadm-domain run pair thresholds.set"
expect_cmd 10 "hsmadm-domain submit thr.json --roll-forward"
expect_cmd 11 "hsmadm-domain group compare pair"

# ---- set-up: modules (named dc1 and dc2 as in the man page), cards ----
init_module dc1 DC1-M01
init_module dc2 DC2-M01
start_module dc1
start_module dc2
cp "$T/ca.pem" "$W/module-ca.pem"
hsmadm-simd issue-client --dir "$T/dc1" --name ws1 --out-key "$W/ws.key" \
	--out-cert "$W/ws.pem" >/dev/null
cer_card 0 admin "Alice Example" $APIN
cer_card 1 admin "Bob Example" $APIN
cer_card 2 admin "Carol Example" $APIN
for i in 0 1 2; do
	f=("$W/alice.crt" "$W/bob.crt" "$W/carol.crt")
	yubico-piv-tool -r "$(harness_reader_name $i)" -a read-certificate -s 9c \
		-o "${f[$i]}" 2>/dev/null || fail "no certificate in slot 9C of card $i"
	openssl x509 -in "${f[$i]}" -noout || fail "${f[$i]} is not a certificate"
done
only_card() {	# SLOT: only that card inserted
	local s
	for s in 0 1 2; do
		if [ "$s" = "$1" ]; then
			harness_card_present "$s" || eval "harness_insert \"\$CARDFILE_$s\" $s"
		else
			! harness_card_present "$s" || harness_remove "$s"
		fi
	done
}
fp8() { openssl x509 -in "$T/$1/oa.pem" -outform DER | openssl dgst -sha256 -r | cut -c1-8; }

# ---- "Trust two modules and make a group of their domain 3" ----
example 0 0
example 0 1 --confirm-fd 3 3<<<"$(fp8 dc1)"
out_has "OA certificate fingerprint"
example 0 2 --confirm-fd 3 3<<<"$(fp8 dc2)"
example 0 3
run 0 "the group is there" hsmadm-domain --json group show pair
jq_is '[.members[] | "\(.module):\(.domain)"] | join(",")' "DC1-M01:3,DC2-M01:3"
run 7 "a wrong fingerprint is not accepted" bash -c "cd \"\$0\" && $(ex 1 | sed 's/ dc1 / dc9 /') --confirm-fd 3 3<<<00000000" "$W"
err_has "nothing was changed"
run 0 "module list" hsmadm-domain module list
! grep -q dc9 <<<"$OUT" || fail "dc9 was added after a wrong fingerprint"

# ---- "In imprint mode, add three administrators" ----
example 0 4
for who in bob carol; do
	c=$(ex 4)
	c=${c//alice/$who}
	c=${c//Alice/${who^}}
	run 0 "the same for $who" bash -c "cd \"\$0\" && $c" "$W"
done
run 0 "three administrators on both" hsmadm-domain --json admin list pair
jq_is '[.. | objects | select(has("identity")) | .identity] | unique | join(",")' "alice,bob,carol"

# ---- "Leave imprint mode with 2-of-3, offline" ----
example 0 5
only_card 0
example 0 6 --pin-fd 3 3<<<$APIN
out_has "Command digest:"
only_card 1
example 0 7 --pin-fd 3 3<<<$APIN
example 0 8
out_has "applied"
run 0 "group status" hsmadm-domain --json group status pair
jq_is '[.. | objects | select(has("imprint")) | .imprint] | unique | join(",")' false

# ---- "The same, interactively, asking for cards until the quorum is met" ----
# Carol's card first, then Bob's: each is inserted before Enter is sent.
only_card 2
mkfifo "$W/enter"
c=$(ex 9)
echo "example 9: $c --pin-fd 3 --confirm-fd 4"
bash -c "cd \"\$0\" && $c --pin-fd 3 --confirm-fd 4" "$W" 3<"$PINS" 4<"$W/enter" \
	>"$W/run.out" 2>"$W/run.err" &
RPID=$!
exec 7>"$W/enter"
waitfor() {	# TEXT FILE: at most 20 s
	local i
	for i in $(seq 1 200); do grep -qF -- "$1" "$2" && return 0; sleep 0.1; done
	cat "$W/run.out" "$W/run.err" >&2
	fail "never saw '$1'"
}
waitfor "2 more signature(s) needed" "$W/run.err"
echo >&7
waitfor "1 more signature(s) needed" "$W/run.err"   # Carol's signature is in
only_card 1
echo >&7
exec 7>&-
rc=0
wait $RPID || rc=$?
[ "$rc" = 0 ] || { cat "$W/run.out" "$W/run.err" >&2; fail "run: exit $rc"; }
[ "$(grep -c "Signed by" "$W/run.out")" = 2 ] || { cat "$W/run.out" >&2; fail "run did not sign twice"; }
grep -q "applied" "$W/run.out" || { cat "$W/run.out" >&2; fail "run did not apply"; }
pass "example: run asked for two cards, signed with each and applied"
USED[9]=1

# ---- "A module went away during a submit (exit 27)" ----
# A new thr.json, signed by Alice and Bob with the examples' commands.
rm -f "$W/thr.json"
example 0 5
only_card 0
example 0 6 --pin-fd 3 3<<<$APIN
only_card 1
example 0 7 --pin-fd 3 3<<<$APIN
stop_module dc2
start_module dc2 --drop-before 1
example 27 8
err_has "--roll-forward"
stop_module dc2
start_module dc2
example 0 10
out_has "DC1-M01 domain 3: already-applied"
out_has "DC2-M01 domain 3: applied"
example 0 11
[ "${#USED[@]}" = "${#CMDS[@]}" ] || fail "ran ${#USED[@]} of ${#CMDS[@]} examples"
echo "PASS: examples_domain"
