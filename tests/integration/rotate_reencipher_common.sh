# SPDX-License-Identifier: BSD-2-Clause
# rotate_reencipher_common.sh - set-up shared by the re-encipher tests and bench: the
# domain pair of domain_common.sh (group "pair", domain 5 on DC1-M01 and
# DC2-M01, admins alice/bob/carol, 2-of-3), then a rotation in progress: key
# K1 CURRENT and key K2 committed in PENDING on both members.
#
# The keys are put into the emulator's domain files directly (modules
# stopped, registers written, modules started again): loading parts needs
# custodian cards and a PC/SC stack that these tests are not about, and on
# the file store hsmadm-simd keeps its registers in clear in those files
# anyway (docs/formats/module-protocol.md §6); on a token (p11_run.sh) the
# objects are made first and the file names them. Everything after that
# goes through the protocol.
. "${HSMADM_SRC:?}/tests/integration/domain_common.sh"

K1=1111111111111111111111111111111111111111111111111111111111111111
K2=2222222222222222222222222222222222222222222222222222222222222222
# mkvp HEXKEY: the MKVP (SHA-256(0x01 || key), last 4 bytes zero)
mkvp() {
	python3 -c 'import hashlib,sys; d=hashlib.sha256(b"\x01"+bytes.fromhex(sys.argv[1])).digest(); print((d[:28]+bytes(4)).hex())' "$1"
}
MK1=$(mkvp $K1)
MK2=$(mkvp $K2)

# set_registers MODULE DOMAIN CUR_KEY PENDING_KEY: write the registers into
# the (stopped) module's domain file. A module on a token (p11_run.sh) gets
# the keys' token objects made by its own key store code (p11_register) and
# the file names them; the objects the file named before are orphans that
# the module's next start destroys.
set_registers() {
	local serial c="" p=""
	if [ -n "${HSMADM_P11_CHECK:-}" ]; then
		serial=$(jq -r .serial "$T/$1/module.json")
		c=$("$HSMADM_BUILD/tests/p11_register" "$P11LIB" "hs-$serial" "$P11DIR/pin" \
			"$serial" "$2" "$3") || fail "p11_register"
		p=$("$HSMADM_BUILD/tests/p11_register" "$P11LIB" "hs-$serial" "$P11DIR/pin" \
			"$serial" "$2" "$4") || fail "p11_register"
	fi
	python3 - "$T/$1/domains/$(printf %02d "$2").json" "$3" "$4" "$c" "$p" "$(mkvp "$3")" \
		"$(mkvp "$4")" <<'PY'
import json, sys
path, cur, pend, cid, pid, cvp, pvp = sys.argv[1:8]
with open(path) as f:
    d = json.load(f)
if cid:
    d["current"] = {"state": "valid", "object": cid, "mkvp": cvp}
    d["pending"] = {"state": "committed", "object": pid, "mkvp": pvp, "parts_total": 0,
                    "parts_loaded": []}
else:
    d["current"] = {"state": "valid", "key": cur}
    d["pending"] = {"state": "committed", "key": pend, "parts_total": 0, "parts_loaded": []}
d["old"] = {"state": "empty"}
with open(path, "w") as f:
    json.dump(d, f, sort_keys=True, separators=(",", ":"))
PY
}

# rotation_setup EVLOG: the pair, K1 current, K2 pending committed.
rotation_setup() {
	pair_2of3 "$1"
	stop_module m1
	stop_module m2
	set_registers m1 5 $K1 $K2
	set_registers m2 5 $K1 $K2
	start_module m1
	start_module m2
}

# prefixes FILE: the MKVP prefix of every blob of a JSON Lines file, one per line.
prefixes() {
	python3 -c '
import base64, json, sys
for l in open(sys.argv[1]):
    if l.strip():
        print(base64.b64decode(json.loads(l)["blob"])[4:12].hex())' "$1"
}
