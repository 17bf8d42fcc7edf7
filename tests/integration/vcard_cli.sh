#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-vcard's command line: every bad input gives a clear message and the
# documented exit code, and leaves no file half-written; the man page's
# EXAMPLES run as written (against a private pcscd instead of the system one).
set -euo pipefail
. "${HSMADM_SRC:?}/tests/harness/pcsc.sh"

. "${HSMADM_SRC:?}/tests/harness/check.sh"
# run WANT DESC CMD...: exit status must be WANT; output in $OUT.
run() {
	local want=$1 desc=$2 got=0
	shift 2
	OUT=$("$@" 2>&1) || got=$?
	[ "$got" = "$want" ] || { echo "$OUT" >&2; fail "$desc: exit $got, expected $want"; }
	echo "ok: $desc"
}
has() { grep -qi -- "$1" <<<"$OUT" || { echo "$OUT" >&2; fail "message lacks: $1"; }; }

harness_start 1
W=$HARNESS_DIR
cd "$W"

run 0 "--help" hsmadm-vcard --help
has "IN CLEAR"
has "create FILE"
run 0 "--version" hsmadm-vcard --version
has "^hsmadm-vcard [0-9]"
run 2 "no command" hsmadm-vcard
has "missing command"
run 2 "unknown command" hsmadm-vcard frobnicate x.json
has "unknown command"
run 2 "missing file" hsmadm-vcard create
run 2 "bad serial" hsmadm-vcard create x.json --serial 12abc
has "serial"
run 2 "serial 0" hsmadm-vcard create x.json --serial 0
run 2 "option of another command" hsmadm-vcard show x.json --port 5
run 2 "run without --port" hsmadm-vcard run x.json
run 2 "bad port" hsmadm-vcard run x.json --port 70000
[ ! -e x.json ] || fail "a refused command created x.json"

run 0 "create" hsmadm-vcard create card.json --serial 777
[ "$(stat -c %a card.json)" = 600 ] || fail "card file is not mode 0600"
sum=$(sha256sum card.json)
run 5 "create over an existing file" hsmadm-vcard create card.json
has "already exists"
[ "$(sha256sum card.json)" = "$sum" ] || fail "existing card file was changed"
run 1 "create in a missing folder" hsmadm-vcard create "$W/no/such/dir/c.json"
ls "$W" | grep -q '\.tmp' && fail "temporary file left behind"

run 0 "show" hsmadm-vcard show card.json
has "serial: *777"
has "PIN tries left: *3 of 3 (default PIN)"
grep -q "123456" <<<"$OUT" && fail "show printed the PIN"
run 0 "show --json" hsmadm-vcard show card.json --json
grep -q '"serial": 777' <<<"$OUT" || fail "JSON lacks the serial"
grep -qi '0102030405060708' <<<"$OUT" && fail "show printed the management key"
run 5 "show a missing file" hsmadm-vcard show nothing.json
has "create one with"
printf '{"format": "hsmadm-vcard/1",' >broken.json
run 3 "show a truncated file" hsmadm-vcard show broken.json
has "not valid JSON"
sed 's/"left": 3/"left": 9/' card.json >bad.json
run 3 "show tries over max" hsmadm-vcard show bad.json
has "pin_tries"
sed 's/"alg": "3des"/"alg": "des"/' card.json >bad.json
run 3 "show unknown mgmt alg" hsmadm-vcard show bad.json
has "management key alg"
run 3 "run a malformed file" hsmadm-vcard run bad.json --port "$(harness_port 0)"

# A card with no pcscd behind its port waits, and leaves on SIGTERM.
hsmadm-vcard run card.json --port 1 >wait.log 2>&1 &
pid=$!
sleep 0.5
kill -0 $pid || fail "card without a reader exited instead of waiting"
grep -q "waiting for the vpcd reader" wait.log || fail "no waiting message"
kill -TERM $pid
wait $pid || fail "card exited non-zero after SIGTERM"
echo "ok: waits for the reader, stops on SIGTERM"

# The man page EXAMPLES, with the private reader instead of the system one.
man_examples() {
	awk '/^\.EX/{on=1; next} /^\.EE/{on=0; next} on' "$HSMADM_SRC/docs/man/hsmadm-vcard.1" |
		sed -e 's/\\-/-/g'
}
[ "$(man_examples | wc -l)" -ge 5 ] || fail "man page has no EXAMPLES"
rm -f card.json card.json.lock
man_examples | sed -e "s/--port 35963/--port $(harness_port 0)/" \
	-e "s/'Virtual PCD 00 00'/'$(harness_reader_name 0)'/" \
	-e "s/^yubico-piv-tool/sleep 1; yubico-piv-tool/" >examples.sh
( set -e; . ./examples.sh ) >examples.out 2>&1 || { cat examples.out; fail "man page EXAMPLES failed"; }
grep -q "Serial Number:	10000001" examples.out || { cat examples.out; fail "EXAMPLES: status lacks the serial"; }
echo "ok: man page EXAMPLES"
echo "PASS: hsmadm-vcard command line"
