#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-card init/status/list/verify on an admin and a custodian card, and
# every refusal of init: bad options, the default management key, an already
# initialized card without --force or without the typed confirmation.
. "${HSMADM_SRC:?}/tests/integration/card_common.sh"
card_setup 2
new_card 0
new_card 1
RA=$(harness_reader_name 0)
RC=$(harness_reader_name 1)

# Bad command lines: exit 2, the card untouched.
run 2 "unknown role" hsmadm-card init --reader "$RA" --role root --holder X
err_has "role must be admin, custodian or supervisor"
run 2 "holder over 30 characters" hsmadm-card init --reader "$RA" --role admin \
	--holder "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
run 2 "bad backup-of" hsmadm-card init --reader "$RA" --role admin --holder X --backup-of 1234
run 2 "no holder" hsmadm-card init --reader "$RA" --role admin
run 2 "--force outside init" hsmadm-card status --force
run 2 "unknown command" hsmadm-card frobnicate
run 2 "PIN on a bad fd number" hsmadm-card verify --pin-fd abc
run 2 "new PIN too short" hsmadm-card init --reader "$RA" --role admin --holder X \
	--allow-default-mgmt-key --pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 3<<<123456 4<<<123 5<<<12345678
err_has "6 to 8 characters"
run 0 "--help" hsmadm-card --help
out_has "Usage: hsmadm-card"
run 0 "--version" hsmadm-card --version
out_has "hsmadm-card 0."

# Status of a new card: not initialized, 3 PIN tries, no keys.
run 0 "status of a new card" hsmadm-card status --reader "$RA" --json
jq_is .initialized false
jq_is .pin_tries 3
jq_is '.keys["9c"]' null
jq_is .version 5.4.3

# The well-known default management key is refused unless allowed.
run 16 "default management key refused" hsmadm-card init --reader "$RA" --role admin --holder "Alice Admin" \
	--pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 3<<<123456 4<<<11112222 5<<<99998888
err_has "--allow-default-mgmt-key"
run 0 "still uninitialized" hsmadm-card status --reader "$RA" --json
jq_is .initialized false

# Admin card.
init_card 0 admin "Alice Admin" 11112222 99998888 --installation DC1
jq_is .profile.role admin
jq_is .profile.holder "Alice Admin"
jq_is .profile.installation DC1
jq_is '.keys["9c"].curve' P-384
jq_is '.keys["9c"].subject_cn' "Alice Admin"
jq_is '.keys["9d"]' null
jq_is .pin_tries 3
ADMIN_ID=$(jq -r .profile.card_id <<<"$OUT")
[[ "$ADMIN_ID" =~ ^[0-9a-f]{32}$ ]] || fail "card id $ADMIN_ID"
ADMIN_SKI=$(jq -r '.keys["9c"].ski' <<<"$OUT")

# Custodian card, a backup of nothing; then a second init of the admin card.
init_card 1 custodian "Carol Custodian" 33334444 77776666
jq_is .profile.role custodian
jq_is '.keys["9d"].curve' P-384
jq_is .envelopes 0
CUST_ID=$(jq -r .profile.card_id <<<"$OUT")

run 0 "list" hsmadm-card list --json
jq_is '.readers | length' 2
jq_is ".readers[] | select(.reader == \"$RA\") | .profile.holder" "Alice Admin"
jq_is ".readers[] | select(.reader == \"$RC\") | .profile.card_id" "$CUST_ID"
# --json anywhere on the line
run 0 "list, --json before the command" hsmadm-card --json list
jq_is '.readers | length' 2
run 0 "list (text)" hsmadm-card list
out_has "admin card of Alice Admin, card id $ADMIN_ID"

run 0 "status (text)" hsmadm-card status --reader "$RC"
out_has "custodian"
out_has "Carol Custodian"
run 2 "status without --reader when two cards are in" hsmadm-card status
err_has "pick one with --reader"

run 0 "verify admin card" hsmadm-card verify --reader "$RA" --json --pin-fd 3 3<<<11112222
jq_is .ok true
jq_is .signature_ok true
jq_is .certificate_ok true
jq_is .key_9c.ski "$ADMIN_SKI"
run 0 "verify custodian card" hsmadm-card verify --reader "$RC" --json --pin-fd 3 3<<<33334444
jq_is .key_9d_ok true
jq_is .envelopes 0

# Re-init: refused without --force; with --force only after the card id is typed.
run 5 "init on an initialized card without --force" hsmadm-card init --reader "$RA" --role admin \
	--holder "Mallory" --pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 3<<<11112222 4<<<12121212 5<<<34343434
err_has "already initialized"
err_has "nothing was tried or changed"
# ... also with the factory PIN, as a re-run of a preparation script gives it:
# refused before the PIN is tried, so the holder keeps every try
run 5 "init again with the factory PIN" hsmadm-card init --reader "$RA" --role admin \
	--holder "Admin Again" --pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 3<<<123456 4<<<12121212 \
	5<<<34343434
err_has "already initialized"
run 0 "PIN tries untouched" hsmadm-card status --reader "$RA" --json
jq_is .pin_tries 3
run 7 "init --force with a wrong confirmation" hsmadm-card init --reader "$RA" --role admin \
	--holder "Mallory" --force --pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 --confirm-fd 6 \
	3<<<11112222 4<<<12121212 5<<<34343434 6<<<"not-the-id"
err_has "not confirmed"
run 0 "card unchanged after refused re-init" hsmadm-card status --reader "$RA" --json
jq_is .profile.card_id "$ADMIN_ID"
jq_is .profile.holder "Alice Admin"
run 0 "old PIN still works" hsmadm-card verify --reader "$RA" --pin-fd 3 3<<<11112222

# With --force and the typed card id: new identity, new key; the stored
# PIN-protected management key is used (no --allow-default-mgmt-key).
run 0 "init --force with confirmation" hsmadm-card init --reader "$RA" --role supervisor \
	--holder "Sam Supervisor" --backup-of "$CUST_ID" --force --json \
	--pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 --confirm-fd 6 \
	3<<<11112222 4<<<56565656 5<<<78787878 6<<<"$ADMIN_ID"
jq_is .profile.role supervisor
jq_is .profile.backup_of "$CUST_ID"
[ "$(jq -r .profile.card_id <<<"$OUT")" != "$ADMIN_ID" ] || fail "card id did not change"
[ "$(jq -r '.keys["9c"].ski' <<<"$OUT")" != "$ADMIN_SKI" ] || fail "9C key did not change"
run 14 "old PIN no longer works" hsmadm-card verify --reader "$RA" --pin-fd 3 3<<<11112222
err_has "wrong PIN: 2 tries left"
run 0 "new PIN works" hsmadm-card verify --reader "$RA" --pin-fd 3 3<<<56565656

# The management key is no longer the default one: a peer with it is refused.
if command -v yubico-piv-tool >/dev/null; then
	if yubico-piv-tool -r "$RA" -a set-chuid >/dev/null 2>&1; then
		fail "the default management key still works after init"
	fi
	pass "default management key replaced"
fi
# An AES-256 management key given on an fd; the next re-init finds it
# PIN-protected on the card and authenticates with AES.
SUP_ID=$(hsmadm-card status --reader "$RA" --json | jq -r .profile.card_id)
run 0 "init with an AES-256 management key" hsmadm-card init --reader "$RA" --role admin \
	--holder "Alice Admin" --force --pin-fd 3 --new-pin-fd 3 --new-puk-fd 3 \
	--new-mgmt-key-fd 4 --confirm-fd 5 3< <(printf '56565656\n11112222\n99998888\n') \
	4<<<00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 5<<<"$SUP_ID"
ADMIN_ID=$(hsmadm-card status --reader "$RA" --json | jq -r .profile.card_id)
run 2 "a management key of a wrong length" hsmadm-card init --reader "$RA" --role admin \
	--holder "Alice Admin" --force --pin-fd 3 --new-pin-fd 3 --new-puk-fd 3 \
	--new-mgmt-key-fd 4 --confirm-fd 5 3< <(printf '11112222\n11112222\n99998888\n') \
	4<<<0011 5<<<"$ADMIN_ID"
err_has "32, 48 or 64 hex digits"
run 0 "re-init authenticates with the stored AES key" hsmadm-card init --reader "$RA" --role admin \
	--holder "Alice Admin" --force --pin-fd 3 --new-pin-fd 3 --new-puk-fd 3 --confirm-fd 5 \
	3< <(printf '11112222\n11112222\n99998888\n') 5<<<"$ADMIN_ID"

# The current PIN and management key are checked before anything new is
# asked: a wrong one fails at once, with the tries left, and the new PIN
# and PUK (on fd 7, a file the shell keeps reading) are never read.
ADMIN_ID=$(hsmadm-card status --reader "$RA" --json | jq -r .profile.card_id)
printf '12121212\n34343434\n' >"$W/new-secrets"
exec 7<"$W/new-secrets"
run 14 "init with a wrong current PIN" hsmadm-card init --reader "$RA" --role admin \
	--holder "Alice Admin" --force --pin-fd 3 --new-pin-fd 7 --new-puk-fd 7 --confirm-fd 5 \
	3<<<99999999 5<<<"$ADMIN_ID"
err_has "wrong PIN: 2 tries left"
line=
read -r -u 7 line || true
[ "$line" = 12121212 ] || fail "the new PIN was read before the current PIN was checked"
pass "nothing new asked after a wrong current PIN"
exec 7<&-
exec 7<"$W/new-secrets"
run 16 "init with a wrong management key" hsmadm-card init --reader "$RA" --role admin \
	--holder "Alice Admin" --force --pin-fd 3 --mgmt-key-fd 4 --new-pin-fd 7 --new-puk-fd 7 \
	--confirm-fd 5 3<<<11112222 \
	4<<<ffeeddccbbaa99887766554433221100ffeeddccbbaa9988 5<<<"$ADMIN_ID"
line=
read -r -u 7 line || true
[ "$line" = 12121212 ] || fail "the new PIN was read before the management key was checked"
pass "nothing new asked after a wrong management key"
exec 7<&-
run 0 "the card is unchanged and its PIN tries are back" hsmadm-card status --reader "$RA" --json
jq_is .pin_tries 3
jq_is .profile.card_id "$ADMIN_ID"
echo "card_init: all passed"
