#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Acceptance: a domain pair on two modules goes from imprint mode to 2-of-3,
# and every way of not having the quorum is refused, with a clear message
# and its documented exit code, on every member, changing nothing.
. "$(dirname "$0")/domain_common.sh"

init_module m1 DC1-M01
init_module m2 DC2-M01
start_module m1
start_module m2
setup_workstation m1 m2
for k in alice alice2 bob carol dave; do keyfile $k; done
D=hsmadm-domain

expect_exit 0 "group of two domains" -- $D group create pair m1:3 m2:3
expect_exit 0 "starts in imprint mode, members equal" -- $D group status pair
out_has "imprint mode" "status says imprint mode"

# Imprint mode: admins are added unsigned.
expect_exit 0 "add Alice (imprint, unsigned)" -- \
	$D admin add pair --pubkey-file "$T/alice.pem" --name "Alice Example" --identity alice
out_has "Add administrator Alice Example (SKI " "summary names the admin"
out_has "to DC1-M01 domain 3 and DC2-M01 domain 3" "summary names both domains"
out_has "Read aloud:" "digest shown as words"
expect_exit 0 "add Bob" -- $D admin add pair --pubkey-file "$T/bob.pem" --name "Bob Example" --identity bob
expect_exit 0 "add Carol" -- $D admin add pair --pubkey-file "$T/carol.pem" --name "Carol Example" --identity carol
# Alice's backup card: a second key of the same identity.
expect_exit 0 "add Alice's backup key" -- \
	$D admin add pair --pubkey-file "$T/alice2.pem" --name "Alice Example (backup)" --identity alice
out_has 'identity "alice" is already registered as "Alice Example"' "says the backup counts as Alice"
# A second "Alice" under another identity is said aloud before anyone signs.
expect_exit 0 "propose a look-alike admin" -- \
	$D admin add pair --pubkey-file "$T/dave.pem" --name "alice example" --identity dave \
	--out "$T/lookalike.json"
out_has 'note: the name "alice example" looks like "Alice Example"' "warns of the look-alike name"

# Leave imprint mode: 2-of-3 needs the NEW threshold of signatures.
expect_exit 0 "propose thresholds 2/1" -- $D thresholds set pair --signature 2 --revocation 1 --out "$T/thr.json"
out_has "needs 2 more signature" "proposal says how many are needed"
expect_exit 0 "Alice signs" -- $D sign "$T/thr.json" --key-file "$T/alice.pem"
out_has "Command digest:" "sign shows the digest before signing"
# show checks every signature against the group's own admins, by name
expect_exit 0 "show a signed proposal" -- $D show "$T/thr.json"
out_has "signed by Alice Example (SKI " "show names the signer from the group's admins"
out_has "signature valid" "and says the signature verifies"
# a signature changed by one character is shown as invalid, not as "signed"
jq -c '.signatures[0].signature |= (.[0:40] + (if .[40:41] == "A" then "B" else "A" end) + .[41:])' \
	"$T/thr.json" >"$T/thr-bad.json"
expect_exit 4 "show a proposal with a corrupted signature" -- $D show "$T/thr-bad.json"
out_has "signature INVALID" "show says the signature is invalid"
# --json carries the same verdicts, per signature
expect_exit 0 "show --json a signed proposal" -- $D --json show "$T/thr.json"
[ "$(jq -r '.signature_checks[0].verdict + "/" + .signature_checks[0].signer' "$T/out")" = \
	"valid/Alice Example" ] && ok "--json: Alice's signature valid" || fail "--json verdict: $(cat "$T/out")"
expect_exit 4 "show --json a corrupted signature" -- $D --json show "$T/thr-bad.json"
grep -q '"verdict": *"invalid"' "$T/out" && ok "--json: the corrupted signature is invalid" ||
	fail "--json lacks the invalid verdict"
expect_exit 24 "one signature is not enough" -- $D submit "$T/thr.json"
out_has "1 of 2 needed signatures present; 1 more needed" "says how many more are needed"
expect_exit 5 "Alice cannot sign twice" -- $D sign "$T/thr.json" --key-file "$T/alice.pem"
out_has "already signed" "says she already signed"
expect_exit 0 "Alice signs again with her backup key" -- $D sign "$T/thr.json" --key-file "$T/alice2.pem"
expect_exit 24 "two keys of one identity count once" -- $D submit "$T/thr.json"
out_has "1 of 2 needed signatures present; 1 more needed" "still one more needed"
expect_exit 0 "Bob signs" -- $D sign "$T/thr.json" --key-file "$T/bob.pem"
expect_exit 0 "thresholds applied on both members" -- $D submit "$T/thr.json"
out_has "DC1-M01 domain 3: applied" "DC1 applied"
out_has "DC2-M01 domain 3: applied" "DC2 applied"
expect_exit 0 "group compares equal" -- $D group compare pair
expect_exit 0 "status" -- $D --json group status pair
out_has '"signature": 2' "signature threshold now 2"
expect_exit 0 "status, --json at the end of the line" -- $D group status pair --json
out_has '"signature": 2' "--json is taken anywhere on the line"

# Replay: the same command again is refused by every member.
expect_exit 25 "replayed command refused" -- $D submit "$T/thr.json"
out_has "DC1-M01 domain 3: refused" "DC1 refuses the replay"
out_has "DC2-M01 domain 3: refused" "DC2 refuses the replay"

# A stranger's signature is refused, not ignored.
expect_exit 0 "propose adding Dave" -- $D admin add pair --pubkey-file "$T/dave.pem" --name Dave --identity dave --out "$T/add.json"
cp "$T/add.json" "$T/add-clean.json"
expect_exit 0 "Dave (not an admin) signs" -- $D sign "$T/add.json" --key-file "$T/dave.pem"
expect_exit 0 "Alice signs" -- $D sign "$T/add.json" --key-file "$T/alice.pem"
expect_exit 0 "Bob signs" -- $D sign "$T/add.json" --key-file "$T/bob.pem"
expect_exit 23 "a non-admin's signature is refused" -- $D submit "$T/add.json"
out_has "not an administrator" "names the reason"

# A body changed after signing is refused.
expect_exit 0 "Alice signs the clean copy" -- $D sign "$T/add-clean.json" --key-file "$T/alice.pem"
expect_exit 0 "Carol signs the clean copy" -- $D sign "$T/add-clean.json" --key-file "$T/carol.pem"
sed 's/"name":"Dave"/"name":"Mallory"/' "$T/add-clean.json" >"$T/add-changed.json"
grep -q Mallory "$T/add-changed.json" || fail "test could not change the body"
expect_exit 4 "a changed body is refused" -- $D submit "$T/add-changed.json"
out_has "changed after signing" "says the command was changed"
expect_exit 0 "nothing changed: still equal" -- $D --json group status pair
out_has '"counter": 5' "counters unchanged by the refusals"

# Expired: valid for one second.
expect_exit 0 "short-lived proposal" -- $D admin remove pair --ski 0000000000000000000000000000000000000000000000000000000000000000 --valid-for 1 --out "$T/exp.json"
expect_exit 0 "Alice signs it" -- $D sign "$T/exp.json" --key-file "$T/alice.pem"
sleep 2
expect_exit 26 "an expired command is refused" -- $D submit "$T/exp.json"
out_has "valid from" "says the time window"

# The clean, fully signed command still works: Dave is added on both.
expect_exit 0 "clean command applies" -- $D submit "$T/add-clean.json"
expect_exit 0 "admin list" -- $D admin list pair
out_has "Dave" "Dave is listed"

# Interactive run: asks for key files until the quorum is met.
expect_exit 24 "run with one key stops, saying what is missing" -- \
	$D run pair thresholds.set --signature 2 --revocation 2 --key-file "$T/alice.pem"
out_has "1 more signature(s) needed" "run says how many more"
expect_exit 0 "run with two keys applies" -- \
	$D run pair thresholds.set --signature 2 --revocation 2 --key-file "$T/alice.pem" --key-file "$T/carol.pem"
expect_exit 0 "--json everywhere" -- $D --json group compare pair
out_has '"equal": true' "compare says equal in JSON"

# Zeroize: confirmed by typing the group name, then signed by the threshold.
expect_exit 7 "zeroize not confirmed" -- bash -c "echo no | $D zeroize pair --confirm-fd 0 --key-file $T/alice.pem --key-file $T/bob.pem"
expect_exit 0 "zeroize, confirmed and signed" -- bash -c "echo pair | $D zeroize pair --confirm-fd 0 --key-file $T/alice.pem --key-file $T/bob.pem"
expect_exit 0 "back in imprint mode" -- $D group status pair
out_has "imprint mode" "imprint mode again"
expect_exit 25 "the old thresholds command stays refused after zeroize" -- $D submit "$T/thr.json"

# Bad input: a damaged command file.
echo '{"body":' >"$T/bad.json"
expect_exit 3 "a damaged command file" -- $D submit "$T/bad.json"
expect_exit 3 "signing a damaged command file" -- $D sign "$T/bad.json" --key-file "$T/alice.pem"
[ "$(cat "$T/bad.json")" = '{"body":' ] && ok "the damaged file was left as it was" || fail "sign changed a damaged file"
cp "$T/add-clean.json" "$T/keep.json"
expect_exit 5 "signing with a missing key file" -- $D sign "$T/keep.json" --key-file "$T/nope.pem"
cmp -s "$T/add-clean.json" "$T/keep.json" && ok "the command file is unchanged" || fail "a failed sign changed the file"
expect_exit 2 "sign needs exactly one signer" -- $D sign "$T/keep.json"
expect_exit 2 "usage error" -- $D thresholds set pair --signature x
expect_exit 2 "thresholds out of range" -- $D thresholds set pair --signature 9 --revocation 1 --out "$T/t9.json"
[ ! -e "$T/t9.json" ] && ok "no proposal file written" || fail "a refused proposal left a file"
expect_exit 5 "a group of an unknown module" -- $D group create g2 nomodule:1
expect_exit 2 "a member without a domain" -- $D group create g2 m1
expect_exit 5 "an unknown group" -- $D group status nogroup
expect_exit 1 "module add with a missing CA file" -- $D module add m3 127.0.0.1:1 --ca "$T/nope.pem" --yes
finish
