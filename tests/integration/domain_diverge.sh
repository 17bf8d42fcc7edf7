#!/usr/bin/env bash
# Acceptance: a module dies or drops the connection during a group command.
# The engine says exactly which members advanced (exit 27, in words and in
# --json), the roll-forward completes the rest, and the group compares equal.
. "$(dirname "$0")/domain_common.sh"

init_module m1 DC1-M01
init_module m2 DC2-M01
start_module m1
start_module m2
setup_workstation m1 m2
for k in alice bob carol dave erin; do keyfile $k; done
D=hsmadm-domain

$D group create pair m1:5 m2:5 >/dev/null
for a in alice bob carol; do
	$D admin add pair --pubkey-file "$T/$a.pem" --name "$a" --identity "$a" >/dev/null
done
$D run pair thresholds.set --signature 2 --revocation 1 \
	--key-file "$T/alice.pem" --key-file "$T/bob.pem" >/dev/null

propose_signed() {	# FILE KEYNAME
	$D admin add pair --pubkey-file "$T/$2.pem" --name "$2" --identity "$2" --out "$1" >/dev/null
	$D sign "$1" --key-file "$T/alice.pem" >/dev/null
	$D sign "$1" --key-file "$T/carol.pem" >/dev/null
}

# 1. kill -9 style: DC2 aborts after applying (--crash-after): no answer.
stop_module m2
start_module m2 --crash-after 1
propose_signed "$T/c1.json" dave
expect 27 "crash during the group command: divergent" -- $D --json submit "$T/c1.json"
out_has '"outcome": "diverged"' "JSON outcome diverged"
out_has '"status": "applied"' "JSON names the member that applied"
out_has '"status": "no-answer"' "JSON names the member that did not answer"
wait_gone m2
start_module m2
expect 0 "roll-forward completes (DC2 had persisted it)" -- $D submit "$T/c1.json" --roll-forward
expect 0 "group compares equal after roll-forward" -- $D group compare pair

# 2. DC2 closes the connection before applying (--drop-before): it missed it.
stop_module m2
start_module m2 --drop-before 1
propose_signed "$T/c2.json" erin
expect 27 "dropped before applying: divergent" -- $D submit "$T/c2.json"
out_has "applied on DC1-M01 domain 5" "says DC1 advanced"
out_has "not confirmed on DC2-M01 domain 5" "says DC2 did not"
out_has "--roll-forward" "offers the roll-forward"
expect 6 "group compare sees the difference" -- $D group compare pair
out_has "admins" "difference is in the admins"
expect 27 "a plain re-submit refuses to touch anything and says why" -- $D submit "$T/c2.json"
out_has "already advanced" "names the advanced member"
stop_module m2
start_module m2
expect 0 "roll-forward applies on DC2 only" -- $D submit "$T/c2.json" --roll-forward
out_has "DC1-M01 domain 5: already-applied" "DC1 skipped"
out_has "DC2-M01 domain 5: applied" "DC2 applied"
expect 0 "group compares equal" -- $D group compare pair

# 3. DC1 applies and closes unanswered (--drop-after).
stop_module m1
start_module m1 --drop-after 1
# SKI = SHA-256 of the point, the last 97 bytes of a P-384 SubjectPublicKeyInfo
dave_ski=$(openssl pkey -in "$T/dave.pem" -pubout -outform DER | tail -c 97 | sha256sum | cut -c1-64)
$D admin remove pair --ski "$dave_ski" --out "$T/c3.json" >/dev/null
$D sign "$T/c3.json" --key-file "$T/bob.pem" >/dev/null
expect 27 "dropped after applying: divergent" -- $D submit "$T/c3.json"
out_has "DC2-M01 domain 5: applied" "DC2 applied"
out_has "DC1-M01 domain 5: no-answer" "DC1 gave no answer"
stop_module m1
start_module m1
expect 0 "roll-forward: every member already has it" -- $D submit "$T/c3.json" --roll-forward
out_has "already applied" "says so"
expect 0 "group compares equal" -- $D group compare pair

# 4. A roll-forward is proven only by equal states: DC1 moved on with a
# different command at the same counter, so X is not "already applied" there.
keyfile frank; keyfile gina
$D group create dc1only m1:5 >/dev/null
propose_signed "$T/x.json" frank
$D admin add dc1only --pubkey-file "$T/gina.pem" --name gina --identity gina --out "$T/y.json" >/dev/null
$D sign "$T/y.json" --key-file "$T/alice.pem" >/dev/null
$D sign "$T/y.json" --key-file "$T/carol.pem" >/dev/null
expect 0 "another command moves DC1 on alone" -- $D submit "$T/y.json"
expect 27 "roll-forward that leaves the members different says so" -- $D submit "$T/x.json" --roll-forward
out_has "still differ" "names the problem"
finish
