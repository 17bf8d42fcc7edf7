#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A card pulled in the middle of a signature (while the command waits for the
# PIN on a pipe) gives a clear message and exit code 12, no crash or hang;
# and the other "no card" situations: empty reader, unknown reader, no
# pcscd, waiting for a card with a timeout, a card inserted while waiting.
. "${HSMADM_SRC:?}/tests/integration/card_common.sh"
card_setup 2
new_card 0
R=$(harness_reader_name 0)
R1=$(harness_reader_name 1)
init_card 0 admin "Rita Removed" 24682468 13571357

# Pull the card while hsmadm-card waits for the PIN on fd 5 (a FIFO held open
# read-write by this shell, so the command blocks reading it).
mkfifo "$W/pin"
exec 5<>"$W/pin"
hsmadm-card verify --reader "$R" --pin-fd 5 >"$W/out" 2>"$W/err" &
pid=$!
# Wait until it has read the certificate and is blocked reading the PIN.
for i in $(seq 1 100); do
	case "$(cat /proc/$pid/wchan 2>/dev/null || true)" in *pipe_read*) break ;; esac
	sleep 0.05
done
harness_remove 0
echo 24682468 >&5
rc=0
wait $pid || rc=$?
exec 5>&-
ERR=$(cat "$W/err")
[ "$rc" = 12 ] || { echo "$ERR" >&2; fail "card pulled during a signature: exit $rc, expected 12"; }
err_has "was removed"
err_has "insert it again"
pass "card pulled during a signature"

# Put it back: the card still works and the PIN counter was not touched.
harness_insert "$CARD0" 0
run 0 "card back: status" hsmadm-card status --reader "$R" --json
jq_is .pin_tries 3
run 0 "card back: verify" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<24682468

run 11 "empty reader" hsmadm-card status --reader "$R1"
err_has "no card"
run 5 "unknown reader" hsmadm-card status --reader "No Such Reader"
err_has "no reader matches"

# Waiting: a timeout, then a card that arrives while waiting.
harness_remove 0
run 11 "no card anywhere" hsmadm-card status
run 8 "wait times out" hsmadm-card status --wait 1
err_has "within 1 seconds"
( sleep 1; harness_insert "$CARD0" 1 >/dev/null 2>&1 ) &
ins=$!
run 0 "card inserted while waiting" hsmadm-card status --wait 20 --json
jq_is .reader "$R1"
wait $ins
HARNESS_CARD_PID[1]=$(pgrep -f -n -- "hsmadm-vcard run $CARD0" || true)

# No smart card service at all.
run 10 "no pcscd" env PCSCLITE_CSOCK_NAME="$W/nothing-here" hsmadm-card list
err_has "pcscd"
echo "card_removed: all passed"
