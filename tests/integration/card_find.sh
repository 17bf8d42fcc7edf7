#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Finding the card of a role and a person (smartcard/cardfind.h), driven by
# the cardfind_helper against virtual cards on a private pcscd: the wrong
# role refused with a plain message, a person's backup card accepted as the
# person, waiting for a card inserted later, a timeout naming the card seen.
. "${HSMADM_SRC:?}/tests/integration/card_common.sh"
H=${HSMADM_BUILD:?}/tests/cardfind_helper
[ -x "$H" ] || fail "$H not built"
card_setup 4
R0=$(harness_reader_name 0); R1=$(harness_reader_name 1)
R2=$(harness_reader_name 2); R3=$(harness_reader_name 3)
APIN=11112222; CPIN=24682468; SPIN=13571357

new_card 0
init_card 0 admin "Alice Admin" $APIN 87654321 --installation DC1
ALICE=$(jq -r .profile.card_id <<<"$OUT")
new_card 1
init_card 1 custodian "Carol Custodian" $CPIN 87654321
CAROL=$(jq -r .profile.card_id <<<"$OUT")
# Alice's backup card and a supervisor card, made now and put away: they are
# inserted later, while the helper waits.
new_card 2
init_card 2 admin "Alice Admin" $APIN 87654321 --installation DC1 --backup-of "$ALICE"
ALICE_BK=$(jq -r .profile.card_id <<<"$OUT")
harness_remove 2
new_card 3
init_card 3 supervisor "Sue Supervisor" $SPIN 87654321
harness_remove 3

# The admin signer: any admin, then by holder, identity, card id.
run 0 "admin card found and signs" "$H" signer admin 3<<<$APIN
out_has "found admin Alice Admin $ALICE - $R0"
out_has "signed by the administrator card of Alice Admin"
run 0 "by holder, identity, installation" "$H" signer admin holder="Alice Admin" \
	identity="$ALICE" install=DC1 3<<<$APIN
out_has "found admin Alice Admin $ALICE"

# The wrong role: refused with what the card is and what to insert.
run 11 "a custodian card named as the admin's reader" "$H" signer admin reader="$R1"
err_has "the card in $R1 is a custodian card of Carol Custodian; insert an admin card"
run 11 "an admin card is not a custodian card" "$H" custodian custodian reader="$R0"
err_has "is an admin card of Alice Admin; insert a custodian card"
run 11 "no supervisor card in any reader" "$H" signer supervisor
err_has "no supervisor card is in a reader"
run 8 "waiting for a supervisor times out, naming a card seen" \
	"$H" signer supervisor timeout=1000
err_has "within 1 seconds"
err_has "insert a supervisor card"
run 2 "a custodian card cannot be a signer" "$H" signer custodian
err_has "admin or supervisor"
run 2 "key parts are not on admin cards" "$H" custodian admin
err_has "custodian cards"

# The person: another holder, another identity, another installation.
run 11 "another holder" "$H" signer admin holder="Bob Admin"
err_has "is the admin card of Alice Admin, not of Bob Admin"
run 11 "another identity" "$H" signer admin identity="$CAROL"
err_has "neither card $CAROL nor one of its backups"
run 11 "another installation" "$H" signer admin install=DC2
err_has "belongs to installation \"DC1\", not \"DC2\""
run 11 "a person who signed already" "$H" signer admin exclude="$ALICE"
err_has "has been used already"
run 11 "a backup wanted, a primary present" "$H" signer admin which=backup
err_has "is not a backup card"

# Custodian: the keypart card, and a part it does not hold.
run 0 "custodian card found" "$H" custodian custodian holder="Carol Custodian"
out_has "found custodian Carol Custodian $CAROL - $R1"
run 11 "a part the card does not hold" "$H" custodian custodian part=no-such-part
err_has "holds no key part no-such-part"

# Backup: with the primary gone, Alice's backup card, inserted while
# waiting, counts as Alice (her identity is her primary's card id). A blank
# card in the primary's place is passed over with a reason.
harness_remove 0
hsmadm-vcard create "$W/blank.json" >/dev/null
harness_insert "$W/blank.json" 0
harness_insert_after 1 "$CARD2" 2
run 0 "the backup card, inserted while waiting, counts as its person" \
	"$H" signer admin identity="$ALICE" timeout=20000 3<<<$APIN
out_has "found admin Alice Admin $ALICE_BK $ALICE $R2"
err_has "Insert an admin card."
err_has "the card in $R0 is not set up for hsmadm"
run 11 "but not when the primary card is asked for" "$H" signer admin which=primary
err_has "is a backup card of Alice Admin (of card $ALICE); insert the primary card"
run 11 "nor when it is the card already used" "$H" signer admin exclude="$ALICE"
err_has "has been used already"

# Waiting: a wrong card is refused at once (printed) and the wait goes on
# until the right one comes.
harness_insert_after 1 "$CARD3" 3
run 0 "a supervisor card inserted while waiting" "$H" signer supervisor timeout=20000 3<<<$SPIN
out_has "found supervisor Sue Supervisor"
out_has "$R3"
err_has "is an admin card of Alice Admin; insert a supervisor card"
echo "card_find: all passed"
