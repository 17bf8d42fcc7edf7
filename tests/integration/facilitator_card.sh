#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-ceremony roster add --card on virtual cards behind a private pcscd:
# holder, role, card id, SKI and certificate come from the card (no PIN);
# the SKI is recomputed here from the card file's key with openssl. Refused,
# with nothing written: a card that was never initialized, a card of
# another role or holder or installation, an empty reader, no smart card
# service. Then the supervisor signs the completion with the same card and
# hsmadm-audit verify accepts it on the strength of that roster record.
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"

SPIN=33330000
cer_setup 4
C=hsmadm-ceremony
L=$W/c.jsonl
R() { harness_reader_name "$1"; }
sum() { sha256sum "$L" | cut -c1-64; }
snap() { SNAP=$(sum); }
unchanged() { [ "$(sum)" = "$SNAP" ] || fail "$1: the log changed"; pass "$1: log unchanged"; }

hsmadm-vcard create "$W/blank.json" >/dev/null
harness_insert "$W/blank.json" 0
cer_card 1 supervisor "Sue Supervisor" $SPIN --installation ACME-DC1
cer_card 2 admin "Adam Admin" 11112222 --installation ACME-DC1
cer_card 3 admin "Other Admin" 11112222 --installation OTHER-SITE

run 0 "open" $C open --log "$L" --title "Card roster test" --installation ACME-DC1
snap
run 11 "a card that was never initialized" $C roster add --log "$L" --role admin --card \
	--reader "$(R 0)"
err_has "not set up for hsmadm"
err_has "hsmadm-card init"
run 11 "a supervisor card offered as an admin's" $C roster add --log "$L" --role admin --card \
	--reader "$(R 1)"
err_has "supervisor card of Sue Supervisor"
run 11 "a card of another holder" $C roster add --log "$L" --role admin --name "Someone Else" \
	--card --reader "$(R 2)"
err_has "belongs to Adam Admin"
run 11 "a card of another installation" $C roster add --log "$L" --role admin --card \
	--reader "$(R 3)"
err_has "installation OTHER-SITE"
run 2 "a reader name that matches several readers" $C roster add --log "$L" --role admin \
	--card --reader "Virtual"
run 2 "several cards and no --reader" $C roster add --log "$L" --role admin --card
unchanged "refused cards"

# The card's key, recomputed from the virtual card's file (tests only).
pub9c() {
	local f
	eval "f=\$CARDFILE_$1"
	jq -r '.keys["9c"].private_key_pem' "$f" | openssl pkey -pubout -out "$W/pub$1.pem"
	echo "$W/pub$1.pem"
}
skiof() { openssl pkey -pubin -in "$1" -outform DER | tail -c 97 | openssl dgst -sha256 -r | cut -c1-64; }

run 0 "the supervisor from her card" $C roster add --log "$L" --role supervisor --card \
	--reader "$(R 1)" --json
jq_is .member.name "Sue Supervisor"
jq_is .member.role supervisor
jq_is .member.card_id "$CARDID_1"
jq_is .member.ski "$(skiof "$(pub9c 1)")"
M=$(tail -1 "$L" | jq -c '.body.members[0]')
jq -r .cert <<<"$M" | openssl x509 -noout -pubkey | cmp -s - "$(pub9c 1)" ||
	fail "the recorded certificate is not the card's 9C certificate"
pass "the recorded certificate carries the card's 9C key"
run 0 "an admin from the card, name given and matching" $C roster add --log "$L" --role admin \
	--name "Adam Admin" --card --reader "$(R 2)"
out_has "Adam Admin is on the roster as admin"
snap
run 5 "the same card twice" $C roster add --log "$L" --role admin --card --reader "$(R 2)"
err_has "already on the roster"
unchanged "same card twice"

harness_remove 3
run 11 "an empty reader" $C roster add --log "$L" --role admin --card --reader "$(R 3)"
unchanged "empty reader"
run 10 "no smart card service" env PCSCLITE_CSOCK_NAME="$W/no-such.comm" \
	$C roster add --log "$L" --role admin --card --reader "$(R 2)"
err_has "smart card service"
run 0 "without pcscd, a certificate still works" env PCSCLITE_CSOCK_NAME="$W/no-such.comm" \
	$C roster add --log "$L" --role witness --name "Walt Witness"
run 0 "show" $C show --log "$L"
out_has "card $CARDID_1"

run 0 "the supervisor signs with the card on the roster" hsmadm-audit sign-completion "$L" \
	--card --reader "$(R 1)" --pin-fd 3 3<<<$SPIN
run 0 "the log verifies with her key pinned" hsmadm-audit verify "$L" --supervisor-key "$(pub9c 1)"
run 6 "nothing more after the completion" $C roster add --log "$L" --role admin --card \
	--reader "$(R 2)"
! grep -q "$SPIN" "$L" || fail "the PIN is in the log"
pass "no PIN in the log"
echo "PASS: facilitator_card"
