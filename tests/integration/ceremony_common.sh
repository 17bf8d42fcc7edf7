# Shared helpers of the ceremony integration tests (sourced). Each test gets
# its own private pcscd and virtual cards (tests/harness/pcsc.sh), its own
# modules on free ports and its own temp dir, so tests run in parallel; the
# harness's EXIT trap (extended here) stops every process started.
set -euo pipefail
. "${HSMADM_SRC:?}/tests/harness/pcsc.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# run RC DESC CMD...: CMD must exit with RC. stdout in $OUT, stderr in $ERR.
run() {
	local want=$1 desc=$2 got=0
	shift 2
	OUT=$("$@" 2>"$W/stderr") || got=$?
	ERR=$(cat "$W/stderr")
	if [ "$got" != "$want" ]; then
		echo "stdout: $OUT" >&2
		echo "stderr: $ERR" >&2
		fail "$desc: exit code $got, expected $want"
	fi
	pass "$desc"
}
err_has() { grep -qF -- "$1" <<<"$ERR" || { echo "$ERR" >&2; fail "stderr lacks: $1"; }; }
out_has() { grep -qF -- "$1" <<<"$OUT" || { echo "$OUT" >&2; fail "stdout lacks: $1"; }; }
jq_is() {
	local v
	v=$(jq -r "$1" <<<"$OUT") || fail "stdout is not JSON: $OUT"
	[ "$v" = "$2" ] || { echo "$OUT" >&2; fail "$1 is '$v', expected '$2'"; }
}

# cer_setup N: private pcscd with N readers; $W scratch dir.
cer_setup() {
	harness_start "${1:-1}"
	W=$HARNESS_DIR
}

# cer_card SLOT ROLE HOLDER PIN [init options]: a new virtual card in SLOT,
# initialized for ROLE; sets CARDID_<SLOT> and CARDFILE_<SLOT>.
cer_card() {
	local slot=$1 role=$2 holder=$3 pin=$4 f="$W/card$1.json"
	shift 4
	hsmadm-vcard create "$f" >/dev/null
	harness_insert "$f" "$slot"
	run 0 "init $role card of $holder in slot $slot" hsmadm-card init \
		--reader "$(harness_reader_name "$slot")" --role "$role" --holder "$holder" \
		--allow-default-mgmt-key --json --pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 "$@" \
		3<<<123456 4<<<"$pin" 5<<<"87654321"
	eval "CARDID_$slot=$(jq -r .profile.card_id <<<"$OUT")"
	eval "CARDFILE_$slot=\$f"
}

# pins PIN COUNT: a file with PIN on COUNT lines (PINs come from an fd).
pins() {
	local f
	f=$(mktemp "$W/pins.XXXXXX")
	for ((i = 0; i < $2; i++)); do echo "$1"; done >"$f"
	echo "$f"
}

# hexbytes HEX: the bytes themselves on stdout.
hexbytes() { printf "$(sed 's/../\\x&/g' <<<"$1")"; }

# open_part CARDFILE PART_ID: the clear part (hex) of an envelope on a
# virtual card, recomputed from the card file with openssl (tests only: the
# virtual card keeps its private keys in that file).
open_part() {
	"$HSMADM_BUILD/tests/ceremony_open" "$1" "$2"
}
