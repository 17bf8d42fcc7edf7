# SPDX-License-Identifier: BSD-2-Clause
# cards.sh - helpers shared by the integration tests that drive virtual cards
# through hsmadm-card (sourced, after setting nothing; bash only). It sources
# pcsc.sh, so each test has its own pcscd, readers and temp dir and the tests
# run in parallel; pcsc.sh's EXIT trap stops every process started.
set -euo pipefail
. "${HSMADM_SRC:?}/tests/harness/pcsc.sh"

. "${HSMADM_SRC:?}/tests/harness/check.sh"

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

# cards_start N: a private pcscd with N readers; $W is the scratch dir.
cards_start() {
	harness_start "${1:-1}"
	W=$HARNESS_DIR
}

# cards_new SLOT: a factory-fresh virtual card, file $W/cardSLOT.json, in
# reader SLOT.
cards_new() {
	local f="$W/card$1.json"
	hsmadm-vcard create "$f" >/dev/null
	harness_insert "$f" "$1"
}

# cards_init DESC SLOT ROLE HOLDER NEWPIN NEWPUK [more init options]: init the
# factory-fresh card in SLOT (factory PIN, default management key); must
# succeed (a `run`, so the JSON result is in $OUT).
cards_init() {
	local desc=$1 slot=$2 role=$3 holder=$4 pin=$5 puk=$6
	shift 6
	run 0 "$desc" hsmadm-card init --reader "$(harness_reader_name "$slot")" \
		--role "$role" --holder "$holder" --allow-default-mgmt-key --json \
		--pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 "$@" \
		3<<<123456 4<<<"$pin" 5<<<"$puk"
}
