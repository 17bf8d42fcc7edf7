#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Acceptance: a module dies or drops the connection during a group command.
# The engine says exactly which members advanced (exit 27, in words and in
# --json), the roll-forward completes the rest, and the group compares equal.
# No module-signed receipt is lost (DESIGN §10 inv. 5): a receipt whose answer
# never arrived is fetched again (domain.receipts) and written to the
# evidence log, which hsmadm-audit verify then accepts with no counter gap.
. "$(dirname "$0")/domain_common.sh"

D=hsmadm-domain
EV="$T/evidence.jsonl"
pair_2of3 "$EV"
for k in dave erin; do keyfile $k; done

# receipts_of FILE: "MODULE:COUNTER_BEFORE" of every receipt the log holds
# for the signed command in FILE, sorted.
receipts_of() {
	local dg
	dg=$(jq -cj '.body' "$1" | sha256sum | cut -c1-64)
	jq -r --arg dg "$dg" 'select(.type == "command.applied") | .body.receipts[].body |
		select(.command_digest == $dg) | "\(.module):\(.counter_before)"' "$EV" | sort | tr '\n' ' '
}
audit_ok "$EV" "the evidence log verifies before any fault"

propose_signed() {	# FILE KEYNAME
	$D admin add pair --pubkey-file "$T/$2.pem" --name "$2" --identity "$2" --out "$1" >/dev/null
	$D sign "$1" --key-file "$T/alice.pem" >/dev/null
	$D sign "$1" --key-file "$T/carol.pem" >/dev/null
}

# 1. kill -9 style: DC2 aborts after applying (--crash-after): no answer.
stop_module m2
start_module m2 --crash-after 1
propose_signed "$T/c1.json" dave
expect_exit 27 "crash during the group command: divergent" -- $D --json submit "$T/c1.json" --evidence "$EV"
out_has '"outcome": "diverged"' "JSON outcome diverged"
out_has '"status": "applied"' "JSON names the member that applied"
out_has '"status": "no-answer"' "JSON names the member that did not answer"
[ "$(receipts_of "$T/c1.json")" = "DC1-M01:4 " ] && ok "the log holds DC1's receipt only" ||
	fail "receipts after the crash: $(receipts_of "$T/c1.json")"
wait_gone m2
start_module m2
expect_exit 0 "roll-forward completes (DC2 had persisted it)" -- $D submit "$T/c1.json" --roll-forward --evidence "$EV"
out_has "its receipt was fetched again" "says DC2's receipt was fetched again"
expect_exit 0 "group compares equal after roll-forward" -- $D group compare pair
[ "$(receipts_of "$T/c1.json")" = "DC1-M01:4 DC2-M01:4 " ] &&
	ok "the recovered DC2 receipt is in the log, DC1's is not written twice" ||
	fail "receipts after the roll-forward: $(receipts_of "$T/c1.json")"
audit_ok "$EV" "crash-after: the log verifies after the roll-forward (no gap)"

# 2. DC2 closes the connection before applying (--drop-before): it missed it.
stop_module m2
start_module m2 --drop-before 1
propose_signed "$T/c2.json" erin
expect_exit 27 "dropped before applying: divergent" -- $D submit "$T/c2.json" --evidence "$EV"
out_has "applied on DC1-M01 domain 5" "says DC1 advanced"
out_has "not confirmed on DC2-M01 domain 5" "says DC2 did not"
out_has "--roll-forward" "offers the roll-forward"
expect_exit 6 "group compare sees the difference" -- $D group compare pair
out_has "admins" "difference is in the admins"
expect_exit 27 "a plain re-submit refuses to touch anything and says why" -- $D submit "$T/c2.json" --evidence "$EV"
out_has "already advanced" "names the advanced member"
stop_module m2
start_module m2
expect_exit 0 "roll-forward applies on DC2 only" -- $D submit "$T/c2.json" --roll-forward --evidence "$EV"
out_has "DC1-M01 domain 5: already-applied" "DC1 skipped"
out_has "DC2-M01 domain 5: applied" "DC2 applied"
expect_exit 0 "group compares equal" -- $D group compare pair
[ "$(receipts_of "$T/c2.json")" = "DC1-M01:5 DC2-M01:5 " ] && ok "one receipt per member for c2" ||
	fail "receipts for c2: $(receipts_of "$T/c2.json")"
audit_ok "$EV" "drop-before: the log verifies after the roll-forward"

# 3. DC1 applies and closes unanswered (--drop-after): the engine connects
# again, fetches the receipt DC1 kept, verifies it and counts it as the answer.
stop_module m1
start_module m1 --drop-after 1
# SKI = SHA-256 of the point, the last 97 bytes of a P-384 SubjectPublicKeyInfo
dave_ski=$(openssl pkey -in "$T/dave.pem" -pubout -outform DER | tail -c 97 | sha256sum | cut -c1-64)
$D admin remove pair --ski "$dave_ski" --out "$T/c3.json" >/dev/null
$D sign "$T/c3.json" --key-file "$T/bob.pem" >/dev/null
expect_exit 0 "dropped after applying: the lost answer's receipt is fetched again" -- \
	$D submit "$T/c3.json" --evidence "$EV"
out_has "DC2-M01 domain 5: applied" "DC2 applied"
out_has "DC1-M01 domain 5: applied" "DC1 applied"
out_has "its answer was lost; its receipt was fetched again" "says DC1's answer was lost"
[ "$(receipts_of "$T/c3.json")" = "DC1-M01:6 DC2-M01:6 " ] && ok "the recovered DC1 receipt is in the log" ||
	fail "receipts for c3: $(receipts_of "$T/c3.json")"
stop_module m1
start_module m1
expect_exit 0 "roll-forward: every member already has it" -- $D submit "$T/c3.json" --roll-forward --evidence "$EV"
out_has "already applied" "says so"
expect_exit 0 "group compares equal" -- $D group compare pair
[ "$(receipts_of "$T/c3.json")" = "DC1-M01:6 DC2-M01:6 " ] && ok "a roll-forward writes no receipt twice" ||
	fail "receipts for c3 after the roll-forward: $(receipts_of "$T/c3.json")"
audit_ok "$EV" "drop-after: the log verifies (no gap)"

# 3b. DC2 dies right after applying and nobody rolls forward: both members
# have it, so the next command goes through; with --evidence its submit first
# records the receipt that was lost, so the log has no gap.
keyfile hank; keyfile ivy
stop_module m2
start_module m2 --crash-after 1
propose_signed "$T/c5.json" hank
expect_exit 27 "DC2 dies after applying c5" -- $D submit "$T/c5.json" --evidence "$EV"
wait_gone m2
start_module m2
propose_signed "$T/c6.json" ivy
expect_exit 0 "the next command applies" -- $D submit "$T/c6.json" --evidence "$EV"
out_has "Recorded the receipt of admin.add on DC2-M01 domain 5 (counter 7 -> 8)" \
	"its submit first records DC2's lost c5 receipt"
[ "$(receipts_of "$T/c5.json")" = "DC1-M01:7 DC2-M01:7 " ] && ok "both c5 receipts are in the log" ||
	fail "receipts for c5: $(receipts_of "$T/c5.json")"
audit_ok "$EV" "no gap before the next command"

# 4. A roll-forward is proven only by the command a member holds: DC1 moved on
# with a different command (Y) at the same counter, so X is not "already
# applied" there, and applying X on DC2 would split the group for good: X is
# refused everywhere, and the message names the command to heal with.
keyfile frank; keyfile gina
$D group create dc1only m1:5 >/dev/null
propose_signed "$T/x.json" frank
$D admin add dc1only --pubkey-file "$T/gina.pem" --name gina --identity gina --out "$T/y.json" >/dev/null
$D sign "$T/y.json" --key-file "$T/alice.pem" >/dev/null
$D sign "$T/y.json" --key-file "$T/carol.pem" >/dev/null
expect_exit 0 "another command moves DC1 on alone" -- $D submit "$T/y.json" --evidence "$EV"
expect_exit 27 "a roll-forward of X, which would split the group, is refused" -- \
	$D submit "$T/x.json" --roll-forward --evidence "$EV"
out_has "holds another command at counter 9" "names what DC1 holds"
out_has "would split the group" "says why nothing was sent"
[ -z "$(receipts_of "$T/x.json")" ] &&
	ok "X was applied nowhere: DC1's receipt at that counter is Y's, DC2 was not touched" ||
	fail "receipts for x: $(receipts_of "$T/x.json")"
audit_ok "$EV" "the whole log verifies at the end"
finish
