#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Self-test of the private pcscd harness: 3 readers, 2 virtual cards, OpenSC
# sees exactly those, a removal is seen, and harness_stop leaves no process,
# no port and no temp dir behind.
set -euo pipefail
. "${HSMADM_SRC:?}/tests/harness/pcsc.sh"

. "${HSMADM_SRC:?}/tests/harness/check.sh"

harness_start 3
dir=$HARNESS_DIR
hsmadm-vcard create "$dir/a.json" --serial 1001 >/dev/null
hsmadm-vcard create "$dir/b.json" --serial 1002 >/dev/null
harness_insert "$dir/a.json" 0
harness_insert "$dir/b.json" 2

r0=$(harness_reader_name 0) r1=$(harness_reader_name 1) r2=$(harness_reader_name 2)
list=$(opensc-tool -l)
echo "$list"
grep -Eq "^[0-9]+ +Yes .*$r0\$" <<<"$list" || fail "card in $r0 not listed"
grep -Eq "^[0-9]+ +No .*$r1\$" <<<"$list" || fail "$r1 should be empty"
grep -Eq "^[0-9]+ +Yes .*$r2\$" <<<"$list" || fail "card in $r2 not listed"

# Each card answers in its own reader: the serial tells them apart.
yubico-piv-tool -r "$r0" -a status | grep -q "Serial Number:	1001" || fail "wrong card in $r0"
yubico-piv-tool -r "$r2" -a status | grep -q "Serial Number:	1002" || fail "wrong card in $r2"

# pcscd restarts: the cards reconnect by themselves, and keep their state.
yubico-piv-tool -r "$r2" -a verify-pin -P 000000 >/dev/null 2>&1 && fail "wrong PIN accepted"
old_pcscd=$HARNESS_PCSCD_PID
harness_restart_pcscd || fail "cards did not come back after a pcscd restart"
[ "$HARNESS_PCSCD_PID" != "$old_pcscd" ] || fail "pcscd was not restarted"
! kill -0 "$old_pcscd" 2>/dev/null || fail "old pcscd still running"
yubico-piv-tool -r "$r2" -a status | grep -q "PIN tries left:	2" || fail "card in $r2 lost its state"
yubico-piv-tool -r "$r0" -a status | grep -q "Serial Number:	1001" || fail "card in $r0 did not come back"

harness_remove 0
list=$(opensc-tool -l)
grep -Eq "^[0-9]+ +No .*$r0\$" <<<"$list" || fail "card in $r0 still listed after removal"
grep -Eq "^[0-9]+ +Yes .*$r2\$" <<<"$list" || fail "card in $r2 went away too"

# A delayed insertion: the reader is empty at first, then holds the card.
hsmadm-vcard create "$dir/c.json" --serial 1003 >/dev/null
harness_insert_after 1 "$dir/c.json" 1
harness_card_present 1 && fail "delayed card present too early"
harness_wait_card 1 yes || fail "delayed card never appeared in $r1"
yubico-piv-tool -r "$r1" -a status | grep -q "Serial Number:	1003" || fail "wrong card in $r1"

# The same card file cannot be in two readers at once.
harness_insert "$dir/c.json" 0 2>/dev/null && fail "one card file inserted twice"
grep -q "in use by another hsmadm-vcard" "$HARNESS_DIR/card-0.log" || fail "no lock message"
[ -z "${HARNESS_CARD_PID[0]:-}" ] || fail "failed insertion left a PID behind"

pids=$(harness_pids | tr '\n' ' ')
ports="${HARNESS_PORT[*]}"
[ -n "$pids" ] || fail "harness reports no running process"
harness_stop
for p in $pids; do
	! kill -0 "$p" 2>/dev/null || fail "process $p still running after harness_stop"
done
for p in $ports; do
	! ss -Hltn "sport = :$p" | grep -q . || fail "port $p still listening after harness_stop"
done
[ ! -e "$dir" ] || fail "$dir left behind"
[ -z "${PCSCLITE_CSOCK_NAME:-}" ] || fail "PCSCLITE_CSOCK_NAME still set"
echo "PASS: harness selftest"
