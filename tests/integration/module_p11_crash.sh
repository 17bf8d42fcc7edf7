#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# module_p11_crash.sh - a pkcs11 module (run through p11_run.sh, modules on
# SoftHSMv2 tokens) killed by a power cut between making a change's token
# object and saving the state that names it (--crash-before-save): the
# object is on the token, no domain names it, the domain is as before; the
# next start destroys it and says so, and the same command then goes
# through (the journal of made objects explains the orphan). Then a crash
# right after the save (--crash-after) of a change that replaces a key: the
# new object is kept and named, the replaced one is gone, and, were it
# still there, the next start destroys it because the saved receipt gives
# it up. No key is ever lost.
. "${HSMADM_SRC:?}/tests/integration/domain_common.sh"
[ -n "${HSMADM_P11_CHECK:-}" ] || { echo "run through p11_run.sh" >&2; exit 1; }
trap cleanup EXIT
init_module m1 DC1-M01 --domains 8
start_module m1
setup_workstation m1
keyfile alice
hsmadm-domain group create solo m1:6 >/dev/null
hsmadm-domain admin add solo --pubkey-file "$T/alice.pem" --name alice --identity alice >/dev/null
hsmadm-domain run solo thresholds.set --signature 1 --revocation 1 \
	--key-file "$T/alice.pem" >/dev/null
imps() {   # the importer objects of DC1-M01 domain 6 on its token (one label per pair)
	pkcs11-tool --module "$P11LIB" --token-label hs-DC1-M01 --login --pin "$P11PIN" \
		--list-objects 2>/dev/null | sed -n 's/^  label: *\(hsmadm:DC1-M01:d06:imp:.*\)/\1/p' |
		sort -u
}
counter() { hsmadm-domain --json group status solo | jq '[.. | objects | select(has("counter")) | .counter] | max'; }
c0=$(counter)

# ---- a power cut between the token object and the state ----
stop_module m1
start_module m1 --crash-before-save 1
expect_exit 20 "importer.generate: the module dies before saving" -- \
	hsmadm-domain run solo importer.generate --key-file "$T/alice.pem"
wait_gone m1
grep -q "test fault: crashing before saving command 1" "$T/m1.log" || fail "no crash"
[ "$(imps | wc -l)" = 1 ] && ok "the new importer pair is on the token" ||
	fail "importer objects after the crash: $(imps | tr '\n' ' ')"
ORPHAN=$(imps)
! grep -q "${ORPHAN##*:}" "$T/m1/domains/06.json" && ok "no domain file names it" ||
	fail "the unsaved state was saved"
start_module m1
grep -q "destroyed token object $ORPHAN, which no domain names" "$T/m1.log" &&
	ok "the next start destroys it and says so" || fail "the orphan was not reported"
[ -z "$(imps)" ] && ok "the orphan is gone from the token" || fail "left: $(imps)"
[ "$(counter)" = "$c0" ] && ok "the domain is as before (counter $c0)" ||
	fail "counter $(counter), was $c0"
expect_exit 0 "importer.generate again" -- hsmadm-domain run solo importer.generate \
	--key-file "$T/alice.pem"
KEEP=$(imps)
[ "$(echo "$KEEP" | wc -l)" = 1 ] && grep -q "${KEEP##*:}" "$T/m1/domains/06.json" &&
	ok "one importer pair, named by the domain" || fail "importer objects: $KEEP"

# ---- a power cut right after the save of a change that replaces the key ----
stop_module m1
start_module m1 --crash-after 1
expect_exit 20 "importer.generate again: the module dies after saving" -- \
	hsmadm-domain run solo importer.generate --key-file "$T/alice.pem"
wait_gone m1
start_module m1
NEW=$(imps)
[ "$(echo "$NEW" | wc -l)" = 1 ] && [ "$NEW" != "$KEEP" ] &&
	grep -q "${NEW##*:}" "$T/m1/domains/06.json" &&
	ok "the saved change's pair is kept and named; the replaced one is gone" ||
	fail "importer objects: $NEW (before: $KEEP)"
jq -e --arg l "$KEEP" 'select(.body.op == "importer.generate") |
	.body.result.token_objects_destroyed | index($l)' "$T/m1/domains/06.receipts.jsonl" \
	>/dev/null && ok "the receipt names the replaced pair" || fail "receipt lacks $KEEP"
# the replaced pair back on the token, as a crash before its destruction
# would leave it: the saved receipt gives it up, the next start destroys it
stop_module m1
pkcs11-tool --module "$P11LIB" --token-label hs-DC1-M01 --login --pin "$P11PIN" --keypairgen \
	--key-type EC:secp384r1 --label "$KEEP" >/dev/null 2>&1
[ "$(imps | grep -c "${KEEP##*:}")" = 1 ] || fail "could not put the replaced pair back"
start_module m1
grep -q "destroyed token object $KEEP, which no domain names" "$T/m1.log" &&
	[ "$(imps)" = "$NEW" ] && ok "a pair a saved receipt gives up is destroyed at start" ||
	fail "the given-up pair: $(imps | tr '\n' ' ')"
finish
