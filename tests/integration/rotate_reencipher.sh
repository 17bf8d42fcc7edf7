#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# rotate_reencipher.sh - key blobs through a rotation on the domain pair:
# blobs made under K1, re-enciphered to the pending K2 over both members,
# every output under K2, in input order, ids kept; data encrypted under K1
# decrypts with the re-enciphered blob after finalize on every member;
# mk.backout and the blobs re-enciphered back; failures counted per reason;
# the journal refuses another target key. The crash tests are in
# rotate_reencipher_crash.sh.
. "${HSMADM_SRC:?}/tests/integration/rotate_reencipher_common.sh"

EV=$T/ev.log
rotation_setup "$EV"
mkdir -p "$T/in"

expect_exit 0 "blob generate: 3000 blobs under K1" -- \
	hsmadm-rotate blob generate pair --count 3000 --output "$T/in/blobs.jsonl" --id-prefix c
out_has "${MK1:0:16}" "generate names K1's MKVP prefix"
[ "$(wc -l <"$T/in/blobs.jsonl")" = 3000 ] && ok "3000 lines" || fail "$(wc -l <"$T/in/blobs.jsonl") lines"
[ "$(prefixes "$T/in/blobs.jsonl" | sort -u)" = "${MK1:0:16}" ] && ok "every blob under K1" ||
	fail "blobs not all under K1"
expect_exit 0 "blob show" -- hsmadm-rotate blob show --blob-file "$T/in/blobs.jsonl" --line 2
out_has "${MK1:0:16}" "show names the wrapping key"

expect_exit 0 "encrypt with blob 1" -- hsmadm-rotate blob encrypt pair \
	--blob-file "$T/in/blobs.jsonl" --data "attack at dawn" --out "$T/ct"
# A pending key's blob is not usable yet; the current one is.
expect_exit 0 "decrypt with blob 1 on both members" -- hsmadm-rotate blob decrypt pair \
	--blob-file "$T/in/blobs.jsonl" --in "$T/ct"
out_has "attack at dawn" "decrypt gives the data"

# To pending, over both members, small batches so that both work.
expect_exit 0 "reencipher to pending" -- hsmadm-rotate reencipher pair --to pending \
	--input "$T/in/blobs.jsonl" --batch 100
out_has "out      3000" "summary: 3000 out"
out_has "failed   0" "summary: none failed"
R=$T/in/blobs.reenciphered.jsonl
[ "$(prefixes "$R" | sort -u)" = "${MK2:0:16}" ] && ok "every output under K2" || fail "outputs not all under K2"
cmp -s <(python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1])]' "$T/in/blobs.jsonl") \
       <(python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1])]' "$R") &&
	ok "ids in input order, each once" || fail "ids differ from the input's"
grep -q "^end " "$R.journal" && ok "journal ends" || fail "journal has no end"
[ -f "$T/in/blobs.jsonl" ] && [ "$(wc -l <"$T/in/blobs.jsonl")" = 3000 ] && ok "input untouched" || fail "input changed"
expect_exit 0 "run again: already done" -- hsmadm-rotate reencipher pair --to pending \
	--input "$T/in/blobs.jsonl" --json
out_has '"already_done": true' "a finished job is not run twice"
expect_exit 5 "K2 blob before finalize is refused" -- hsmadm-rotate blob decrypt pair \
	--blob-file "$R" --in "$T/ct"
out_has "only pending" "the refusal says the key is pending"

# Finalize: K2 current, K1 old. The re-enciphered blob decrypts the old data.
AK=(--key-file "$T/alice.pem" --key-file "$T/bob.pem")
expect_exit 0 "finalize (mk.activate K2)" -- hsmadm-domain run pair mk.activate \
	--params "{\"mkvp\":\"$MK2\"}" "${AK[@]}" --evidence "$EV"
expect_exit 0 "re-enciphered blob decrypts on both members" -- hsmadm-rotate blob decrypt pair \
	--blob-file "$R" --line 1 --in "$T/ct"
out_has "attack at dawn" "same data under K2"
out_has "DC2-M01 domain 5: decrypted" "on the second member too"

# Failures: an unreadable line, a blob of an unknown key, a damaged blob.
mkdir -p "$T/f"
head -3 "$T/in/blobs.jsonl" >"$T/f/mix.jsonl"
echo 'not json' >>"$T/f/mix.jsonl"
python3 - "$T/in/blobs.jsonl" >>"$T/f/mix.jsonl" <<'PY'
import base64, json, sys
l = json.loads(open(sys.argv[1]).readline())
b = bytearray(base64.b64decode(l["blob"]))
u = bytearray(b); u[4:12] = bytes(8)          # nobody's key
d = bytearray(b); d[80] ^= 1                   # a damaged tag
print(json.dumps({"id": "unknown", "blob": base64.b64encode(u).decode()}))
print(json.dumps({"id": "damaged", "blob": base64.b64encode(d).decode()}))
PY
echo >>"$T/f/mix.jsonl"
expect_exit 4 "OLD -> CURRENT with failures: exit 4 (a blob does not verify)" -- \
	hsmadm-rotate reencipher pair --to current --input "$T/f/mix.jsonl" --quiet
out_has "out      3" "3 re-enciphered"
out_has "failed   3" "3 failed"
out_has "bad_line" "reason bad_line"
out_has "no_such_key" "reason no_such_key"
out_has "blob_verify" "reason blob_verify"
[ "$(wc -l <"$T/f/mix.failed.jsonl")" = 3 ] && ok "3 lines in the failure file" || fail "failure file"

# Backout: K1 current again, K2 set aside; blobs re-enciphered back.
expect_exit 4 "backout naming the wrong key" -- hsmadm-domain run pair mk.backout \
	--params "{\"mkvp\":\"$MK2\"}" "${AK[@]}" --evidence "$EV"
expect_exit 0 "backout to K1" -- hsmadm-domain run pair mk.backout \
	--params "{\"mkvp\":\"$MK1\"}" "${AK[@]}" --evidence "$EV"
cp "$R" "$T/back.jsonl"
expect_exit 0 "re-encipher back to current (K1)" -- hsmadm-rotate reencipher pair --to current \
	--input "$T/back.jsonl" --batch 500 --quiet
[ "$(prefixes "$T/back.reenciphered.jsonl" | sort -u)" = "${MK1:0:16}" ] && ok "back under K1" ||
	fail "not back under K1"
expect_exit 0 "backed-out blob decrypts" -- hsmadm-rotate blob decrypt pair \
	--blob-file "$T/back.reenciphered.jsonl" --in "$T/ct"
out_has "attack at dawn" "same data after backout"

# The journal belongs to its target key: K2 is now pending, the job for K2
# current ended; a new job to pending with the old journal of another key
# would be refused.
expect_exit 6 "a journal for another target is refused" -- hsmadm-rotate reencipher pair \
	--to current --input "$T/in/blobs.jsonl" --quiet
out_has "belongs to a job" "says whose journal it is"

# stdin needs --output; one member works too.
expect_exit 2 "stdin without --output" -- hsmadm-rotate reencipher pair --to pending --input -
head -50 "$T/back.reenciphered.jsonl" | expect_exit 0 "stdin, one member" -- \
	hsmadm-rotate reencipher --module DC1-M01 --domain 5 --to pending --input - \
	--output "$T/stdin.reenciphered.jsonl" --quiet
[ "$(wc -l <"$T/stdin.reenciphered.jsonl")" = 50 ] && ok "50 from stdin" || fail "stdin output"

# The man page's examples, as written (K1 is current again after the backout,
# K2 set aside committed in PENDING).
. "$HSMADM_SRC/tests/harness/manpage.sh"
mapfile -t CMDS < <(man_examples "$HSMADM_SRC/docs/man/hsmadm-rotate.1")
[ "${#CMDS[@]}" -eq 4 ] || fail "found ${#CMDS[@]} example commands, expected 4"
mkdir -p "$T/ex"
for c in "${CMDS[@]}"; do
	expect_exit 0 "example: $c" -- bash -c "cd '$T/ex' && $c"
done
[ "$(prefixes "$T/ex/apps.reenciphered.jsonl" | sort -u)" = "${MK2:0:16}" ] &&
	ok "examples: blobs under K2" || fail "examples: not under K2"

audit_ok "$EV" "the evidence log of the admin steps verifies"
finish
