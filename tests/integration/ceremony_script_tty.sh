#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-ceremony run asks the room on a terminal with GNU readline, with no
# history, and with plain fgets when its input is not a terminal. A one-step
# script is run for real, not in rehearsal, so the runner asks: Enter before
# the step, Enter before each command, the witness's yes. In the step Admin 1
# initializes a new virtual card, and hsmadm-card, not the runner, asks the
# PINs on the same terminal, without echo.
#  - on a pseudo-terminal (python3's pty): the witness types "es", Ctrl-A (to
#    the start of the line), "y": only line editing makes that "yes", and the
#    step ends ok. Before that the Up arrow recalls nothing (no history). The
#    new PIN and PUK typed for the card are not on the screen, the card takes
#    the PIN afterwards, and no file appears in HOME (no ~/.history or the
#    like);
#  - on a pipe: the same answers as lines (PINs from descriptors, as with no
#    terminal the card's PINs cannot be asked), and a first answer longer
#    than the runner's buffer is not taken as the next question's answer.
. "${HSMADM_SRC:?}/tests/harness/cards.sh"
cards_start 1
cards_new 0
export HSMADM_HOME=$W/hsmadm-home
mkdir -m 700 "$HSMADM_HOME" "$W/home"
cd "$W"
NEWPIN=44445555 NEWPUK=66667777
cat >tty.script <<'SCRIPT'
hsmadm-ceremony-script 1
name tty-test
version 1
title The runner's questions on a terminal
about One step: the witness joins the roster, Admin 1 initializes a card, the witness confirms.

step 1 start Start: the witness joins the roster; Admin 1's card
who facilitator, admin
do The witness says their name; Admin 1 puts the new card in and types a new PIN and PUK.
each witness hsmadm-ceremony roster add --log {log} --role witness --name {witness.N.name}
run hsmadm-card init --reader {admin.1.reader} --role admin --holder {admin.1.name} --installation {installation} --allow-default-mgmt-key --pin-fd {answer:factory-pin} --new-pin-fd {pins:admin.1} --new-puk-fd {answer:admin.1.puk}
confirm The witness is on the roster; the card was new.
sign supervisor
SCRIPT
cat >plan.json <<JSON
{"format":"hsmadm-ceremony-plan 1","name":"tty-2026","title":"Questions on a terminal",
 "installation":"tty-bank","parts":2,"thresholds":{"signature":1,"revocation":1},
 "sites":[{"id":"DC1","name":"Data centre 1"},{"id":"DC2","name":"Data centre 2"}],
 "modules":[{"name":"dc1","serial":"DC1-M01","site":"DC1","address":"127.0.0.1:1","ca":"ca.pem"},
            {"name":"dc2","serial":"DC2-M01","site":"DC2","address":"127.0.0.1:2","ca":"ca.pem"}],
 "pairs":[{"group":"pair","domains":[{"module":"dc1","domain":3},{"module":"dc2","domain":3}]}],
 "people":[
  {"role":"admin","name":"Admin 1","card":{"label":"A1","reader":"$(harness_reader_name 0)"}},
  {"role":"custodian","name":"Custodian 1","part":"p1","card":{"label":"C1","reader":"Reader 2"}},
  {"role":"custodian","name":"Custodian 2","part":"p2","card":{"label":"C2","reader":"Reader 3"}},
  {"role":"supervisor","name":"Sue Supervisor","card":{"label":"S1","reader":"Reader 4"}},
  {"role":"witness","name":"Walt Witness"}]}
JSON

# The questions on the terminal, in order, and what the person types
# (tests/harness/pty_run.py answers each once it is on the screen).
printf '%s\t%s\n' "Press Enter to begin the step." "hello" \
	"Press Enter to run it." "" "Press Enter to run it." "" \
	"Current PIN of the card (a new card has 123456): " "123456" \
	"New PIN (6-8 characters): " "$NEWPIN" "New PIN again: " "$NEWPIN" \
	"New PUK (6-8 characters" "$NEWPUK" "New PUK again: " "$NEWPUK" \
	"do you confirm this? Type yes or no:" '\x1b[Aes\x01y' >tty.answers

rc=0
HOME=$W/home python3 "$HSMADM_SRC/tests/harness/pty_run.py" tty.out tty.answers \
	hsmadm-ceremony run tty.script --plan plan.json --log tty.jsonl || rc=$?
cat -v tty.out
echo
[ "$rc" = 0 ] || fail "run on a terminal exited $rc"
grep -q 'The script ran to its end' tty.out || fail "run on a terminal did not run to its end"
[ "$(jq -r 'select(.type == "witness.ack") | .actor.name' tty.jsonl)" = "Walt Witness" ] ||
	fail "no witness.ack by Walt Witness in the log"
[ "$(jq -r 'select(.type == "step.end") | .body.result' tty.jsonl)" = ok ] || fail "the step did not end ok"
pass "on a terminal: \"es\", Ctrl-A, \"y\" is read as yes (readline), the Up arrow recalled nothing"
! grep -qF -e "$NEWPIN" -e "$NEWPUK" tty.out tty.jsonl || fail "a PIN or PUK typed is on the screen or in the log"
run 0 "the card takes the PIN typed into hsmadm-card on the runner's terminal" \
	hsmadm-card verify --reader "$(harness_reader_name 0)" --pin-fd 3 3<<<"$NEWPIN"
pass "hsmadm-card asked the PINs itself, without echo, between the runner's questions"
[ -z "$(find "$W/home" -mindepth 1)" ] || fail "files appeared in HOME: $(find "$W/home" -mindepth 1)"
pass "no history file: HOME is still empty"

# A pipe: fgets. With no terminal the card's PINs come from descriptors, so
# this script is the first one without the card. The first answer is longer
# than the runner's buffer.
sed -i '/^run hsmadm-card init/d; s/; the card was new\././' tty.script
long=$(printf 'x%.0s' $(seq 1 300))
OUT=$(printf '%s\n\nyes\n' "$long" | hsmadm-ceremony run tty.script --plan plan.json --log pipe.jsonl) ||
	fail "run on a pipe exited $?: $OUT"
grep -q 'The script ran to its end' <<<"$OUT" || fail "run on a pipe did not run to its end: $OUT"
[ "$(jq -r 'select(.type == "witness.ack") | .actor.name' pipe.jsonl)" = "Walt Witness" ] ||
	fail "no witness.ack in the log of the run on a pipe"
! grep -qF $'\e' <<<"$OUT" || fail "escape sequences in the output of the run on a pipe"
pass "on a pipe: plain lines, a long answer does not spill into the next question"
echo "PASS: ceremony_script_tty"
