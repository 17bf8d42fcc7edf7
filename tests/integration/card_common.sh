# Shared helpers of the hsmadm-card integration tests (sourced). Every test
# gets its own private pcscd and virtual cards from tests/harness/pcsc.sh, so
# the tests run in parallel; the harness stops everything on EXIT.
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
		fail "$desc: exit code $got, expected $want ($*)"
	fi
	pass "$desc"
}

# err_has TEXT / out_has TEXT: fixed-string checks on the last run.
err_has() { grep -qF -- "$1" <<<"$ERR" || { echo "$ERR" >&2; fail "stderr lacks: $1"; }; }
out_has() { grep -qF -- "$1" <<<"$OUT" || { echo "$OUT" >&2; fail "stdout lacks: $1"; }; }
# jq_is FILTER VALUE: jq -r FILTER over $OUT must print VALUE.
jq_is() {
	local v
	v=$(jq -r "$1" <<<"$OUT") || fail "stdout is not JSON: $OUT"
	[ "$v" = "$2" ] || { echo "$OUT" >&2; fail "$1 is '$v', expected '$2'"; }
}

# card_setup N: a private pcscd with N readers; $W scratch dir.
card_setup() {
	harness_start "${1:-1}"
	W=$HARNESS_DIR
}

# new_card SLOT: a factory-fresh virtual card in reader SLOT; $CARDn = file.
new_card() {
	local f="$W/card$1.json"
	hsmadm-vcard create "$f" >/dev/null
	harness_insert "$f" "$1"
	eval "CARD$1=\$f"
}

# init_card SLOT ROLE HOLDER NEWPIN NEWPUK [more init options]
init_card() {
	local slot=$1 role=$2 holder=$3 pin=$4 puk=$5
	shift 5
	run 0 "init $role card in slot $slot" hsmadm-card init --reader "$(harness_reader_name "$slot")" \
		--role "$role" --holder "$holder" --allow-default-mgmt-key --json \
		--pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 "$@" \
		3<<<123456 4<<<"$pin" 5<<<"$puk"
}
