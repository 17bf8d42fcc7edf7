#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Write-ahead intent (docs/domain-groups.md): a group command is durable in the
# evidence log, body and signatures, before any module sees it, and the log
# stays open and locked until its receipts are recorded.
#  1. hsmadm-domain killed (kill -9) after both modules applied, before it
#     recorded anything: the next --evidence command places the receipts the
#     modules kept for the command the log announced, and the log verifies.
#     (Before: nothing was written before sending, the receipts could never
#     be placed, and every later verify failed with a counter gap.)
#  2. A log held by another writer: submit refuses before any module is
#     touched (before: it applied on both, then failed to record, and the
#     log lost the receipts for good).
#  3. A group set up without --evidence, then a command with a new log: the
#     log first records each domain's module-signed baseline, so the auditor
#     can replay its quorums (before: that log could never verify).
. "$(dirname "$0")/domain_common.sh"

D=hsmadm-domain
EV="$T/evidence.jsonl"
pair_2of3 "$EV"
for k in dave erin frank; do keyfile $k; done

counter_of() {	# MODULE: the counter of domain 5 on that module
	$D --json group status pair | jq -r --arg m "$1" \
		'.members[] | select(.module == $m and .domain == 5) | .counter'
}
propose_signed() {	# FILE KEYNAME
	$D admin add pair --pubkey-file "$T/$2.pem" --name "$2" --identity "$2" --out "$1" >/dev/null
	$D sign "$1" --key-file "$T/alice.pem" >/dev/null
	$D sign "$1" --key-file "$T/carol.pem" >/dev/null
}
audit_ok "$EV" "the evidence log verifies before any fault"

# 1. The workstation dies after both modules applied, before any record.
stop_module m1; stop_module m2
start_module m1 --delay-ms 3000
start_module m2 --delay-ms 3000
propose_signed "$T/c1.json" dave
before=$(counter_of DC1-M01)
lines() { cat "$T/$1/domains/05.receipts.jsonl" 2>/dev/null | wc -l; }
r1=$(lines m1); r2=$(lines m2)
$D submit "$T/c1.json" --evidence "$EV" >"$T/c1.out" 2>&1 &
pid=$!
# each module keeps the receipt as it applies, then holds its answer for 3 s
for _ in $(seq 1 300); do
	[ "$(lines m1)" -gt "$r1" ] && [ "$(lines m2)" -gt "$r2" ] && break
	sleep 0.05
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null || true
grep -q '"command.sent"' "$EV" && ok "the command was recorded before it was sent" ||
	fail "no command.sent record before the command went out"
stop_module m1; stop_module m2
start_module m1; start_module m2
[ "$(counter_of DC1-M01)" = "$((before + 1))" ] && ok "DC1 applied the command before the kill" ||
	fail "DC1 did not apply the command (counter $(counter_of DC1-M01), was $before)"
propose_signed "$T/c2.json" erin
expect_exit 0 "the next --evidence command places the kept receipts first" -- \
	$D submit "$T/c2.json" --evidence "$EV"
out_has "Recorded the receipt of admin.add on DC1-M01 domain 5" "says DC1's receipt was recorded"
out_has "Recorded the receipt of admin.add on DC2-M01 domain 5" "says DC2's receipt was recorded"
audit_ok "$EV" "after a kill between apply and record, the log verifies"

# 2. A log held by another writer: nothing is sent.
propose_signed "$T/c3.json" frank
before=$(counter_of DC1-M01)
exec 9>>"$EV"
flock -x 9        # this shell holds the writer's lock, as another command would
expect_exit 28 "a locked log: submit refuses" -- $D submit "$T/c3.json" --evidence "$EV"
out_has "nothing was signed or sent" "says nothing was sent"
[ "$(counter_of DC1-M01)" = "$before" ] && [ "$(counter_of DC2-M01)" = "$before" ] &&
	ok "no module was touched while the log was locked" ||
	fail "a module applied the command while its log was locked"
flock -u 9; exec 9>&-
expect_exit 0 "once the log is free, the same file applies" -- $D submit "$T/c3.json" --evidence "$EV"
audit_ok "$EV" "the log verifies after the locked-log refusal"

# 3. A group set up without any evidence, then a new log.
$D group create pair6 m1:6 m2:6 >/dev/null
for a in alice bob; do
	$D admin add pair6 --pubkey-file "$T/$a.pem" --name "$a" --identity "$a" >/dev/null
done
$D run pair6 thresholds.set --signature 1 --revocation 1 --key-file "$T/alice.pem" >/dev/null
EV6="$T/pair6.jsonl"
$D admin add pair6 --pubkey-file "$T/carol.pem" --name carol --identity carol \
	--out "$T/c6.json" >/dev/null
$D sign "$T/c6.json" --key-file "$T/alice.pem" >/dev/null
expect_exit 0 "a first --evidence command on a domain in use" -- \
	$D submit "$T/c6.json" --evidence "$EV6"
out_has "Recorded the baseline of DC1-M01 domain 6 (counter 3)" "records DC1's baseline first"
out_has "Recorded the baseline of DC2-M01 domain 6 (counter 3)" "records DC2's baseline first"
expect_exit 0 "that log verifies" -- \
	hsmadm-audit verify "$EV6" --module-ca "$T/ca.pem" --allow-incomplete

finish
