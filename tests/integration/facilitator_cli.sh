#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-ceremony without cards: every subcommand, every refusal with its
# exit code, and a refused record leaves the log byte for byte as it was
# (missing log, bad role, unreadable or malformed certificate, a step begun
# twice or ended unbegun, a witness not on the roster, a log locked by
# another writer, a completed log). At the end the log verifies with
# hsmadm-audit and every record matches its schema.
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"

W=$(mktemp -d "${TMPDIR:-/tmp}/facilitator_cli.XXXXXX")
LOCKPID=
cleanup() {
	[ -n "$LOCKPID" ] && kill "$LOCKPID" 2>/dev/null && wait "$LOCKPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
C=hsmadm-ceremony
L=$W/c.jsonl
sum() { sha256sum "$L" | cut -c1-64; }
# unchanged DESC: the log is as it was when snap was called.
snap() { SNAP=$(sum); }
unchanged() { [ "$(sum)" = "$SNAP" ] || fail "$1: the log changed"; pass "$1: log unchanged"; }

# ---- command line ----
run 0 "--help" $C --help
out_has "roster add"
run 0 "--version" $C --version
out_has "hsmadm-ceremony 0."
run 2 "no command" $C
err_has "no command given"
run 2 "unknown command" $C frobnicate --log "$L"
err_has "unknown command 'frobnicate'"
run 2 "unknown option" $C show --log "$L" --frob
run 2 "roster without a subcommand" $C roster --log "$L"
run 2 "unknown roster subcommand" $C roster remove --log "$L"
run 2 "unknown step subcommand" $C step pause --log "$L" --step s
run 2 "an option of another command" $C open --log "$L" --title T --installation I --step s1
err_has "--step does not go with 'open'"
run 2 "open without --log" $C open --title T --installation I
err_has "--log"
run 2 "open without a title" $C open --log "$L" --installation ACME
err_has "title"
run 2 "open without an installation" $C open --log "$L" --title "T"
err_has "installation"
run 2 "an installation id with a space" $C open --log "$L" --title T --installation "AC ME"
run 2 "a title on two lines" $C open --log "$L" --title "$(printf 'a\nb')" --installation ACME
err_has "one line"
run 2 "an empty facilitator name" $C open --log "$L" --title T --installation ACME --facilitator ""
[ ! -e "$L" ] || fail "a refused open left a file"
pass "no file after refused opens"

# ---- a log that does not exist ----
for cmd in "step begin --step s1" "step end --step s1" "roster add --role witness --name W" \
	"witness --name W --statement seen" "exception --text oops" "show"; do
	run 5 "$cmd on a missing log" $C $cmd --log "$W/none.jsonl"
	err_has "does not exist"
	err_has "hsmadm-ceremony open"
done
[ ! -e "$W/none.jsonl" ] || fail "a command created the missing log"
: >"$W/empty.jsonl"
run 5 "a step on an empty file" $C step begin --step s1 --log "$W/empty.jsonl"
err_has "is empty"
run 3 "show on an empty file" $C show --log "$W/empty.jsonl"
[ ! -s "$W/empty.jsonl" ] || fail "a command wrote into an empty file"
pass "no command created a missing log"

# ---- open ----
run 0 "open" $C open --log "$L" --title "Master key ceremony 2026" --installation ACME-DC1 \
	--site "Vault room 2" --facilitator "Fay Facilitator" --json
jq_is .seq 1
jq_is .type ceremony.open
jq_is .installation ACME-DC1
LOGID=$(jq -r .log_id <<<"$OUT")
R1=$(head -1 "$L")
[ "$(jq -r .body.ceremony <<<"$R1")" = "Master key ceremony 2026" ] || fail "ceremony title"
[ "$(jq -r .body.site <<<"$R1")" = "Vault room 2" ] || fail "site"
[ "$(jq -r .body.log_id <<<"$R1")" = "$LOGID" ] || fail "log id"
[ "$(jq -r .actor.name <<<"$R1")/$(jq -r .actor.role <<<"$R1")" = "Fay Facilitator/facilitator" ] ||
	fail "actor of ceremony.open"
pass "ceremony.open names the ceremony, installation, site and facilitator"
snap
run 5 "open refuses an existing log" $C open --log "$L" --title T --installation ACME-DC1
err_has "already exists"
unchanged "open on an existing log"

# ---- roster ----
openssl ecparam -name secp384r1 -genkey -noout -out sup.key 2>/dev/null
openssl req -new -x509 -key sup.key -subj "/CN=Sue Supervisor" -days 30 -out sup.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out adm.key 2>/dev/null
openssl ec -in adm.key -pubout -out adm.pub 2>/dev/null
skiof() { openssl pkey -pubin -in "$1" -outform DER | tail -c "$2" | openssl dgst -sha256 -r | cut -c1-64; }
openssl x509 -in sup.pem -pubkey -noout >sup.pub
run 0 "supervisor from a certificate" $C roster add --log "$L" --role supervisor \
	--name "Sue Supervisor" --cert sup.pem --json
jq_is .seq 2
jq_is .member.ski "$(skiof sup.pub 97)"
jq_is .member.role supervisor
M=$(sed -n 2p "$L" | jq -c '.body.members[0]')
jq -e '.cert | startswith("-----BEGIN CERTIFICATE-----")' <<<"$M" >/dev/null || fail "no cert"
[ "$(jq -r .pubkey <<<"$M" | cut -c1-2)" = 04 ] || fail "pubkey is not an uncompressed point"
pass "roster record: name, role, ski, pubkey (04||X||Y), certificate"
run 0 "admin from a key file (P-256 public key)" $C roster add --log "$L" --role admin \
	--name "Adam Admin" --key-file adm.pub
run 0 "a witness without a key" $C roster add --log "$L" --role witness --name "Walt Witness"
openssl ecparam -name secp521r1 -genkey -noout -out fac.key 2>/dev/null
run 0 "a facilitator from a private key file (tests: only the public half)" $C roster add \
	--log "$L" --role facilitator --name "Fay Facilitator" --key-file fac.key
snap
run 5 "the same key twice" $C roster add --log "$L" --role admin --name "Adam Again" --key-file adm.pub
err_has "already on the roster"
unchanged "duplicate key"
run 5 "the same certificate twice" $C roster add --log "$L" --role supervisor --name "Sue" --cert sup.pem
unchanged "duplicate certificate"
run 5 "the same witness twice" $C roster add --log "$L" --role witness --name "Walt Witness"
unchanged "duplicate witness"
run 2 "a bad role" $C roster add --log "$L" --role boss --name "Bo" --cert sup.pem
err_has "--role must be"
run 2 "no role" $C roster add --log "$L" --name "Bo"
run 2 "a supervisor without a key" $C roster add --log "$L" --role supervisor --name "Sam"
err_has "--card"
run 2 "two key sources" $C roster add --log "$L" --role admin --name "Bo" --cert sup.pem \
	--key-file adm.pub
run 2 "no name" $C roster add --log "$L" --role admin --cert sup.pem
run 2 "--reader without --card" $C roster add --log "$L" --role admin --name Bo --cert sup.pem \
	--reader "PCD A"
run 2 "a witness with a card" $C roster add --log "$L" --role witness --name Bo --card
err_has "no hsmadm card"
run 5 "a certificate file that does not exist" $C roster add --log "$L" --role admin \
	--name "Bo" --cert "$W/missing.pem"
err_has "does not exist"
mkdir "$W/adir"
run 1 "a certificate that cannot be read" $C roster add --log "$L" --role admin --name Bo \
	--cert "$W/adir"
err_has "cannot read"
echo "not a certificate" >bad.pem
run 3 "a file that is not a certificate" $C roster add --log "$L" --role admin --name Bo --cert bad.pem
err_has "not a PEM certificate"
openssl req -new -x509 -newkey rsa:2048 -nodes -keyout rsa.key -subj /CN=R -days 2 \
	-out rsa.pem 2>/dev/null
run 3 "an RSA certificate" $C roster add --log "$L" --role admin --name Bo --cert rsa.pem
run 3 "a key file that is no key" $C roster add --log "$L" --role admin --name Bo --key-file bad.pem
head -c 70000 /dev/zero >big.pem
run 3 "an oversized certificate file" $C roster add --log "$L" --role admin --name Bo --cert big.pem
unchanged "refused roster additions"

# ---- steps ----
run 0 "step begin" $C step begin --log "$L" --step parts --title "Generate the key parts" --json
jq_is .type step.begin
jq_is .body.title "Generate the key parts"
snap
run 6 "a step begun twice" $C step begin --log "$L" --step parts
err_has "already open"
unchanged "step begun twice"
run 6 "a step that was never begun cannot end" $C step end --log "$L" --step load
err_has "not open"
unchanged "step end unbegun"
run 2 "a bad result" $C step end --log "$L" --step parts --result maybe
err_has "ok, failed or skipped"
run 2 "--title with step end" $C step end --log "$L" --step parts --title x
run 2 "--result with step begin" $C step begin --log "$L" --step x --result ok
run 2 "no step id" $C step begin --log "$L"
unchanged "refused step commands"
run 0 "a second step, skipped" $C step begin --log "$L" --step backup
run 0 "exception while steps are open" $C exception --log "$L" --text "backup card reader failed" \
	--reason "USB fault" --resolution "backup postponed" --json
jq_is .body.what "backup card reader failed"
jq_is '.body.open_steps | join(",")' "parts,backup"
run 0 "exception with the text only" $C exception --log "$L" --text "coffee spilled" --json
jq_is .body.reason "recorded by the facilitator"
run 2 "an empty exception" $C exception --log "$L" --text ""
run 0 "step end skipped" $C step end --log "$L" --step backup --result skipped
run 0 "step end" $C step end --log "$L" --step parts
run 0 "a step may run again after it ended" $C step begin --log "$L" --step parts
run 0 "and end again" $C step end --log "$L" --step parts --result failed

# ---- witness ----
run 0 "witness acknowledges" $C witness --log "$L" --name "Walt Witness" \
	--statement "I saw three key parts generated and no part displayed" --json
jq_is .type witness.ack
[ "$(tail -1 "$L" | jq -r '.actor | "\(.name)/\(.role)"')" = "Walt Witness/witness" ] ||
	fail "witness actor"
snap
run 5 "a witness not on the roster" $C witness --log "$L" --name "Mallory" --statement "all fine"
err_has "not on the roster"
run 5 "an admin is not a witness" $C witness --log "$L" --name "Adam Admin" --statement "fine"
run 2 "an empty statement" $C witness --log "$L" --name "Walt Witness" --statement ""
unchanged "refused witness records"

# ---- show ----
run 0 "show" $C show --log "$L"
out_has "Master key ceremony 2026"
out_has "supervisor   Sue Supervisor"
out_has "skipped"
out_has "No step is open"
run 0 "show --json" $C show --log "$L" --json
jq_is .log_id "$LOGID"
jq_is .installation ACME-DC1
jq_is '[.roster[].name] | join(",")' "Sue Supervisor,Adam Admin,Walt Witness,Fay Facilitator"
jq_is '[.steps[] | "\(.step)=\(.result)"] | join(",")' "parts=ok,backup=skipped,parts=failed"
jq_is '.open_steps | length' 0
jq_is '.exceptions | length' 2
jq_is '.witnesses[0].name' "Walt Witness"
jq_is .complete false
jq_is .records "$(wc -l <"$L")"
run 0 "step begin (left open)" $C step begin --log "$L" --step load
run 0 "show names the open step" $C show --log "$L" --json
jq_is '.open_steps | join(",")' load
run 22 "the log so far is consistent (incomplete, nothing to anchor it yet)" \
	hsmadm-audit verify "$L" --allow-incomplete --no-anchors

# A changed record: show refuses to present it as sound.
sed '3s/Adam Admin/Eve Admin/' "$L" >edited.jsonl
run 30 "show on an edited log" $C show --log edited.jsonl
err_has "seq 4: prev hash does not match seq 3"
run 30 "a writer on an edited log" $C step end --log edited.jsonl --step load

# A torn tail: show says so; the next writer cuts it off and records it.
cp "$L" torn.jsonl
printf '{"actor":{"name":"x"' >>torn.jsonl
run 3 "show on a torn log" $C show --log torn.jsonl
run 0 "the next record repairs the torn tail" $C step end --log torn.jsonl --step load
run 0 "show after the repair" $C show --log torn.jsonl --json
jq_is .recoveries 1

# ---- a log locked by another writer ----
# One process holds the lock (flock(2), as the writer takes it) and nothing else.
( exec 9>>"$L"; flock -x 9; exec sleep 60 ) &
LOCKPID=$!
for i in $(seq 1 100); do flock -n "$L" true 2>/dev/null || break; sleep 0.05; done
snap
for cmd in "step end --step load" "roster add --role witness --name Wes" \
	"witness --name Walt_Witness --statement seen" "exception --text oops"; do
	run 28 "$cmd while another process writes" $C $cmd --log "$L"
	err_has "being written by another process"
done
run 0 "show reads a locked log" $C show --log "$L"
unchanged "writers refused while locked"
kill "$LOCKPID"; wait "$LOCKPID" 2>/dev/null || true; LOCKPID=

# ---- completion: the supervisor signs; nothing more may be added ----
run 6 "the supervisor cannot sign while a step is open" hsmadm-audit sign-completion "$L" \
	--key-file sup.key
run 0 "step end" $C step end --log "$L" --step load
run 0 "the supervisor signs (key on the roster from the certificate)" hsmadm-audit \
	sign-completion "$L" --key-file sup.key --name "Sue Supervisor"
run 0 "the complete log verifies, supervisor key pinned" hsmadm-audit verify "$L" \
	--supervisor-key sup.pub
if [ -x "$HSMADM_BUILD/tests/test_evlog_schema" ]; then
	run 0 "every record matches its schema" "$HSMADM_BUILD/tests/test_evlog_schema" "$L"
fi
snap
for cmd in "step begin --step late" "roster add --role witness --name Late" \
	"witness --name Walt_Witness --statement late" "exception --text late"; do
	run 6 "$cmd on a completed log" $C $cmd --log "$L"
	err_has "is completed"
done
unchanged "a completed log takes no records"
run 0 "show a completed log" $C show --log "$L"
out_has "The log is complete: signed by Sue Supervisor"
! grep -q "PRIVATE" "$L" || fail "a private key is in the log"
pass "no private key in the log"
echo "PASS: facilitator_cli"
