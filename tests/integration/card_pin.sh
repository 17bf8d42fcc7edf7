#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# PINs and PUKs: wrong PIN shows tries left, three wrong PINs block, the PUK
# unblocks, a wrong PUK shows its tries, a blocked PUK gives a clear message;
# PIN and PUK change; secrets never come from argv.
. "${HSMADM_SRC:?}/tests/integration/card_common.sh"
card_setup 1
new_card 0
R=$(harness_reader_name 0)
init_card 0 admin "Pat Pin" 24682468 13571357

run 14 "wrong PIN, 2 tries left" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<99999999
err_has "wrong PIN: 2 tries left"
run 0 "status shows 2 tries" hsmadm-card status --reader "$R" --json
jq_is .pin_tries 2
run 0 "right PIN resets the counter" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<24682468
run 0 "status shows 3 tries" hsmadm-card status --reader "$R" --json
jq_is .pin_tries 3

run 14 "wrong PIN 1" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<99999999
run 14 "wrong PIN 2" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<99999999
err_has "wrong PIN: 1 try left"
run 15 "third wrong PIN blocks" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<99999999
err_has "PIN is blocked"
err_has "pin unblock"
run 15 "right PIN on a blocked card" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<24682468
run 0 "status shows blocked" hsmadm-card status --reader "$R"
out_has "BLOCKED"

run 14 "unblock with a wrong PUK" hsmadm-card pin unblock --reader "$R" --puk-fd 3 --new-pin-fd 4 \
	3<<<11111111 4<<<86428642
err_has "wrong PUK: 2 tries left"
run 2 "unblock with a too short new PIN" hsmadm-card pin unblock --reader "$R" --puk-fd 3 --new-pin-fd 4 \
	3<<<13571357 4<<<864
run 0 "unblock with the PUK" hsmadm-card pin unblock --reader "$R" --puk-fd 3 --new-pin-fd 4 --json \
	3<<<13571357 4<<<86428642
jq_is .ok true
run 0 "new PIN works" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<86428642

run 0 "change the PIN" hsmadm-card pin change --reader "$R" --pin-fd 3 --new-pin-fd 4 \
	3<<<86428642 4<<<97539753
out_has "PIN changed"
run 14 "change with a wrong current PIN" hsmadm-card pin change --reader "$R" --pin-fd 3 --new-pin-fd 4 \
	3<<<86428642 4<<<11223344
err_has "wrong PIN"
run 0 "changed PIN works" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<97539753
run 0 "change the PUK" hsmadm-card pin change --puk --reader "$R" --puk-fd 3 --new-puk-fd 4 \
	3<<<13571357 4<<<31753175
out_has "PUK changed"

# One fd can carry several secrets, one line each.
run 0 "PIN and new PIN on one fd" hsmadm-card pin change --reader "$R" --pin-fd 3 --new-pin-fd 3 \
	3< <(printf '97539753\n10203040\n')
run 0 "it took" hsmadm-card verify --reader "$R" --pin-fd 3 3<<<10203040

# An empty fd is "cancelled", not a crash; no terminal and no fd is a usage error.
run 7 "PIN fd at end of file" hsmadm-card verify --reader "$R" --pin-fd 3 3</dev/null
run 2 "no terminal, no fd" setsid hsmadm-card verify --reader "$R" </dev/null

# Block the PIN, then the PUK: the message says the card cannot be unblocked.
for i in 1 2 3; do
	hsmadm-card verify --reader "$R" --pin-fd 3 3<<<00000000 >/dev/null 2>&1 || true
done
run 14 "wrong PUK 1" hsmadm-card pin unblock --reader "$R" --puk-fd 3 --new-pin-fd 4 3<<<00000000 4<<<12345678
run 14 "wrong PUK 2" hsmadm-card pin unblock --reader "$R" --puk-fd 3 --new-pin-fd 4 3<<<00000000 4<<<12345678
err_has "wrong PUK: 1 try left"
run 15 "third wrong PUK blocks it" hsmadm-card pin unblock --reader "$R" --puk-fd 3 --new-pin-fd 4 \
	3<<<00000000 4<<<12345678
err_has "PUK is blocked"
run 15 "right PUK on a blocked PUK" hsmadm-card pin unblock --reader "$R" --puk-fd 3 --new-pin-fd 4 \
	3<<<31753175 4<<<12345678
err_has "cannot be unblocked"

# No secret on the command line: there is no option that takes one.
run 2 "--pin is not an option" hsmadm-card verify --reader "$R" --pin 123456
echo "card_pin: all passed"
