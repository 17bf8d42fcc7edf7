#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# p11_objects.sh - what a pkcs11 module left on its SoftHSMv2 token and in
# its files, for the tests run through p11_run.sh (p11_env.sh exports
# P11LIB, P11PIN, SOFTHSM2_CONF and HSMADM_P11_CHECK, this script):
#   attrs SERIAL...          every master-key register ("mk"), blob wrapping
#                            key ("bw"), the state key and every private key
#                            of the module is sensitive and not extractable
#                            (OpenSC pkcs11-tool --list-objects), the keys the
#                            token generated never were, no secret key's value
#                            can be read (--read-object), and registers exist
#   gone-from-log LOG        the labels the log's receipts say were destroyed
#                            (token_objects_destroyed) exist no more
#   empty SERIAL DOMAIN      no object of that domain is left on the token
#   nosecret DIR... -- HEX...  no value HEX (raw, hex either case, base64 at
#                            any alignment) and no private key PEM in DIR
#                            (the module's state folder), and no oa.key
set -euo pipefail
: "${P11LIB:?}" "${P11PIN:?}"

list() {   # list SERIAL: "label<TAB>class<TAB>access" per object
	pkcs11-tool --module "$P11LIB" --token-label "hs-$1" --login --pin "$P11PIN" \
		--list-objects 2>/dev/null | awk '
		/Object;/ { if (l != "") print l "\t" c "\t" a; c = $1; l = ""; a = "" }
		/^  label:/ { sub(/^  label: */, ""); l = $0 }
		/^  Access:/ { sub(/^  Access: */, ""); a = $0 }
		END { if (l != "") print l "\t" c "\t" a }'
}

case ${1:-} in
attrs)
	shift
	for s in "$@"; do
		list "$s" >"$P11DIR/list.$s"
		n=$(grep -c ":mk:" "$P11DIR/list.$s" || true)
		[ "$n" -ge 1 ] || { echo "token hs-$s holds no master-key register" >&2; exit 1; }
		# pkcs11-tool prints "extractable" when CKA_EXTRACTABLE is true. The
		# registers were made from bytes (the XOR of the parts is done in
		# the module), so they are not "never extractable" (CKA_NEVER_
		# EXTRACTABLE false); keys the token generated must be.
		awk -F'\t' '$1 ~ /:(mk|bw):/ || $2 == "Private" || $1 ~ /:state$/' "$P11DIR/list.$s" |
		while IFS=$'\t' read -r l c a; do
			case ", $a," in
			*", extractable,"*|", ,") bad=1 ;;
			*", sensitive,"*) bad=0 ;;
			*) bad=1 ;;
			esac
			case "$l/$a" in *:mk:*|*:bw:*) ;; *"never extractable"*) ;; *) bad=1 ;; esac
			[ "$bad" = 0 ] || { echo "token hs-$s: $c $l: access \"$a\"" >&2; exit 1; }
			# and its value cannot be read
			[ "$c" = Secret ] || continue
			! pkcs11-tool --module "$P11LIB" --token-label "hs-$s" --login --pin "$P11PIN" \
				--read-object --type secrkey --label "$l" -o "$P11DIR/value" >/dev/null 2>&1 ||
				{ echo "token hs-$s: the value of $l can be read" >&2; exit 1; }
		done
		grep -q $'hsmadm:'"$s"$':oa\tPrivate' "$P11DIR/list.$s" ||
			{ echo "token hs-$s has no OA private key" >&2; exit 1; }
	done ;;
gone-from-log)
	labels=$(jq -r '.. | objects | select(has("token_objects_destroyed")) |
		.token_objects_destroyed[]' "$2" | sort -u)
	[ -n "$labels" ] || { echo "no receipt in $2 names destroyed token objects" >&2; exit 1; }
	for l in $labels; do
		s=${l#hsmadm:}; s=${s%%:*}
		list "$s" | cut -f1 | grep -qxF "$l" &&
			{ echo "token hs-$s still holds $l, which a receipt says was destroyed" >&2; exit 1; }
	done
	echo "$labels" | wc -l ;;
empty)
	left=$(list "$2" | cut -f1 | grep -c "^hsmadm:$2:d$(printf '%02d' "$3"):" || true)
	[ "$left" = 0 ] || { echo "token hs-$2 still holds $left objects of domain $3" >&2; exit 1; } ;;
nosecret)
	shift
	dirs=()
	while [ "$1" != -- ]; do dirs+=("$1"); shift; done
	shift
	for d in "${dirs[@]}"; do
		[ ! -e "$d/oa.key" ] || { echo "$d/oa.key exists on a pkcs11 module" >&2; exit 1; }
		! grep -rlq "PRIVATE KEY" "$d/domains" ||
			{ echo "a private key PEM in $d/domains" >&2; exit 1; }
	done
	python3 - "${#dirs[@]}" "${dirs[@]}" "$@" <<'PY'
import base64, os, sys
n = int(sys.argv[1]); dirs = sys.argv[2:2 + n]; vals = [bytes.fromhex(h) for h in sys.argv[2 + n:]]
forms = []
for v in vals:
    forms += [v, v.hex().encode(), v.hex().upper().encode()]
    for k in range(3):   # base64 at each alignment: the characters v alone decides
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            e = enc(b"\0" * k + v)
            forms.append(e[(0, 2, 3)[k]:-3])
bad = 0
for d in dirs:
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                data = fh.read()
            for x in forms:
                if x in data:
                    print(f"a key value is in {p}", file=sys.stderr); bad = 1
sys.exit(bad)
PY
	;;
*) echo "usage: p11_objects.sh attrs|gone-from-log|empty|nosecret ..." >&2; exit 2 ;;
esac
