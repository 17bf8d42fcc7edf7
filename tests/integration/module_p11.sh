#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# module_p11.sh - hsmadm-simd with its keys on a PKCS#11 token (SoftHSMv2, a
# token made in this test's folder): every bad input at init (wrong PIN,
# unknown token label, a library that is not PKCS#11, a PIN file others can
# read, token options without --keystore pkcs11) leaves no module and no
# token object; a second module of the same serial on the token is refused;
# serve needs the PIN (descriptor or the PIN file named at init) and refuses
# a wrong one; info and receipts name the key store; the domain file names
# token objects and holds no key; an object of the module's naming that no
# domain names and no record explains (a restored state folder) is kept and
# said at start, never destroyed, and objects this program did not name are
# left alone (module_p11_crash shows the orphans records explain destroyed).
. "$(dirname "$0")/module_lib.sh"
. "$HSMADM_SRC/tests/integration/p11_env.sh"
trap 'cleanup; rm -rf "$P11DIR"' EXIT
# SIMD (module_lib.sh) is the build's program, not p11_env.sh's wrapper.
softhsm2-util --init-token --free --label mp --so-pin 11223344 --pin "$P11PIN" >/dev/null
P=(--keystore pkcs11 --p11-lib "$P11LIB" --token-label mp)
objects() { pkcs11-tool --module "$P11LIB" --token-label mp --login --pin "$P11PIN" \
	--list-objects 2>/dev/null | sed -n 's/^  label: *//p' | sort; }

# ---- refusals at init: nothing made ----
expect_rc 14 "$SIMD" init --serial M1 --dir "$T/m" "${P[@]}" --pin-fd 3 3<<<99999999
grep -q "token PIN is wrong" "$T/last.err" || fail "wrong PIN: message"
expect_rc 5 "$SIMD" init --serial M1 --dir "$T/m" --keystore pkcs11 --p11-lib "$P11LIB" \
	--token-label nosuch --pin-fd 3 3<<<"$P11PIN"
grep -q 'no initialized token labelled "nosuch"' "$T/last.err" || fail "unknown token: message"
NOTP11=$(ldconfig -p | sed -n 's/.*libz\.so\.1 .*=> //p' | head -1)
expect_rc 2 "$SIMD" init --serial M1 --dir "$T/m" --keystore pkcs11 --p11-lib "$NOTP11" \
	--token-label mp --pin-fd 3 3<<<"$P11PIN"
grep -q "is not a PKCS#11 library" "$T/last.err" || fail "not PKCS#11: message"
expect_rc 2 "$SIMD" init --serial M1 --dir "$T/m" --keystore pkcs11 --p11-lib libsofthsm2.so \
	--token-label mp --pin-fd 3 3<<<"$P11PIN"
printf '%s\n' "$P11PIN" >"$T/loose.pin"
chmod 644 "$T/loose.pin"
expect_rc 16 "$SIMD" init --serial M1 --dir "$T/m" "${P[@]}" --pin-file "$T/loose.pin"
grep -q "mode 0600 or 0400, not 0644" "$T/last.err" || fail "loose PIN file: message"
expect_rc 2 "$SIMD" init --serial M1 --dir "$T/m" --p11-lib "$P11LIB" --token-label mp \
	--pin-fd 3 3<<<"$P11PIN"
expect_rc 2 "$SIMD" init --serial M1 --dir "$T/m" --keystore hsm
expect_rc 2 "$SIMD" init --serial M1 --dir "$T/m" "${P[@]}" --pin "$P11PIN"
[ ! -e "$T/m" ] || fail "a refused init left a folder"
[ -z "$(objects)" ] || fail "a refused init left token objects: $(objects)"
ok "bad inputs at init refused, nothing made"

# ---- a module on the token ----
expect_rc 0 "$SIMD" init --serial M1 --dir "$T/m" --domains 2 "${P[@]}" --pin-fd 3 3<<<"$P11PIN"
grep -q 'keys: on PKCS#11 token "mp"' "$T/last.out" || fail "init does not say the token"
[ ! -e "$T/m/oa.key" ] || fail "oa.key written on a pkcs11 module"
[ "$(objects | tr '\n' ' ')" = "hsmadm:M1:oa hsmadm:M1:oa hsmadm:M1:state " ] ||
	fail "token objects after init: $(objects | tr '\n' ' ')"
jq -e '.keystore | .backend == "pkcs11" and .token == "mp" and (has("pin_file") | not)' \
	"$T/m/module.json" >/dev/null || fail "module.json keystore entry"
! grep -q "$P11PIN" "$T/m/module.json" || fail "the PIN is in module.json"
expect_rc 5 "$SIMD" init --serial M1 --dir "$T/m2" "${P[@]}" --pin-fd 3 3<<<"$P11PIN"
grep -q "already holds [0-9]* objects of module M1" "$T/last.err" || fail "second M1: message"
ok "init on the token: OA pair and state key, no key file; one module per serial"
"$SIMD" issue-client --dir "$T/m" --name ws --out-key "$T/ws.key" --out-cert "$T/ws.pem" >/dev/null

# ---- serve: the PIN again ----
expect_rc 2 "$SIMD" serve --dir "$T/m" --port-file "$T/x.port"
grep -q "give its PIN with --pin-fd" "$T/last.err" || fail "serve without a PIN: message"
expect_rc 14 "$SIMD" serve --dir "$T/m" --port-file "$T/x.port" --pin-fd 3 3<<<12121212
exec 5<<<"$P11PIN"
start_simd a "$T/m" --pin-fd 5
exec 5<&-
C=(--ca "$T/m/ca.pem" --cert "$T/ws.pem" --key "$T/ws.key" --addr "127.0.0.1:$PORT" --serial M1)
"$CLIENT" "${C[@]}" --op info >"$T/info.json"
jq -e '.keystore | .backend == "pkcs11" and .token == "mp" and (.token_desc | test("SoftHSM"))
	and (.in_token | length) > 3 and (.in_module_memory | index("XOR of the key parts into PENDING"))' \
	"$T/info.json" >/dev/null || fail "info: keystore $(jq -c .keystore "$T/info.json")"
"$CLIENT" "${C[@]}" --imprint-add 0 >"$T/r.json"
jq -e '.. | objects | select(has("receipt")) | .receipt.body.keystore |
	.backend == "pkcs11" and .token == "mp"' "$T/r.json" >/dev/null ||
	fail "the receipt does not name the token: $(cat "$T/r.json")"
"$CLIENT" "${C[@]}" --op domain.query --params '{"domain":0}' >/dev/null
jq -e '.note | test("no key material")' "$T/m/domains/00.json" >/dev/null ||
	fail "domain file note"
ok "serve needs the PIN; info and receipts name the token"

# ---- an object no record explains: kept and said; foreign ones left alone ----
kill "$SIMD_PID"; wait "$SIMD_PID" 2>/dev/null || true
pkcs11-tool --module "$P11LIB" --token-label mp --login --pin "$P11PIN" --keygen \
	--key-type AES:32 --label hsmadm:M1:d01:mk:00112233aabbccdd >/dev/null 2>&1
pkcs11-tool --module "$P11LIB" --token-label mp --login --pin "$P11PIN" --keygen \
	--key-type AES:32 --label "someone else's key" >/dev/null 2>&1
objects | grep -qx "hsmadm:M1:d01:mk:00112233aabbccdd" || fail "could not plant an orphan"
chmod 600 "$T/loose.pin"
start_simd b "$T/m" --pin-fd 5 5<"$T/loose.pin"
grep -q "kept token object hsmadm:M1:d01:mk:00112233aabbccdd: no domain names it and no record" \
	"$T/b.err" || fail "the sweep does not say the unexplained object: $(cat "$T/b.err")"
objects | grep -qx "hsmadm:M1:d01:mk:00112233aabbccdd" || fail "the sweep destroyed a key no record explains"
objects | grep -qx "someone else's key" || fail "the sweep destroyed a foreign object"
objects | grep -qx "hsmadm:M1:state" || fail "the sweep destroyed the state key"
ok "an object no record explains is kept and said; other objects stay"
"$SIMD" init --serial F1 --dir "$T/f" --domains 1 >/dev/null
expect_rc 2 "$SIMD" serve --dir "$T/f" --port-file "$T/f.port" --pin-fd 3 3<<<"$P11PIN"
grep -q "keeps its keys in files: it takes no token PIN" "$T/last.err" ||
	fail "a PIN for a file-store module: message"
ok "a file-store module refuses a token PIN"
pass "module_p11"
