#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Chaos: a master-key load (load, commit, activate on a pair of domains) is hit
# at a random moment by kill -9 of hsmadm-commit, kill -9 of one module, the
# removal of the custodian card in use, or a restart of pcscd. hsmadm-commit
# is killed at the worst moment of a random command: its module has applied
# it and kept the receipt, and holds the answer back (--delay-ms), so the
# workstation dies between the change and its record. Whatever died
# comes back, `hsmadm-commit run` is run again until it finishes, and then:
#   - both domains hold the same CURRENT MKVP and nothing pending;
#   - each part was loaded exactly once per domain (module receipts);
#   - the evidence log has no receipt gap: hsmadm-audit verify passes.
# Seeded: each iteration prints "seed=N target=... delay=...ms"; replay one
# with CHAOS_SEED=N CHAOS_ITER=1. A longer soak: CHAOS_ITER=200.
. "${HSMADM_SRC:?}/tests/integration/domain_common.sh"
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"

ITER=${CHAOS_ITER:-20}
SEED0=${CHAOS_SEED:-1}
CPIN=22220000
[ "$ITER" -le 80 ] || fail "CHAOS_ITER at most 80 (one fresh domain each)"
cer_setup 3
trap 'harness_stop 2>/dev/null || true; cleanup' EXIT

init_module m1 DC1-M01 --domains 85
init_module m2 DC2-M01 --domains 85
start_module m1
start_module m2
setup_workstation m1 m2
keyfile a1
keyfile a2
for i in 0 1 2; do cer_card $i custodian "Custodian $i" $CPIN; done
CPINS=$(pins $CPIN 200)
D=hsmadm-domain

# set_up_domain DOM LOG: a fresh group of domain DOM on both modules, two
# admins, 2-of-2, every step in LOG (so the log starts at counter 0).
set_up_domain() {
	local dom=$1 log=$2 g=g$1
	run 0 "open the log of domain $dom" hsmadm-ceremony --log "$log" --facilitator Fay \
		open --title "chaos $dom" --installation TEST
	run 0 "group $g" $D group create "$g" m1:"$dom" m2:"$dom"
	for a in a1 a2; do
		run 0 "admin $a on $g" $D admin add "$g" --pubkey-file "$T/$a.pem" --name "$a" \
			--identity "$a" --evidence "$log"
	done
	run 0 "2-of-2 on $g" $D run "$g" thresholds.set --signature 2 --revocation 1 \
		--key-file "$T/a1.pem" --key-file "$T/a2.pem" --evidence "$log"
}

# commit_run SEED LOG [extra]: one hsmadm-commit run of this iteration's parts.
commit_cmd() {
	echo hsmadm-commit run --group "g$1" --part "s$1p1" --part "s$1p2" --log "$2" \
		--admin-key-file "$T/a1.pem" --admin-key-file "$T/a2.pem" --timeout 10 \
		--module-timeout-ms 3000 --pin-fd 4
}

# receipts M DOM: how many receipts module M keeps for domain DOM.
receipts() { cat "$T/$1/domains/$(printf %02d "$2").receipts.jsonl" 2>/dev/null | wc -l; }

# strike TARGET: the fault, at this moment. Sets what to bring back.
strike() {
	local n0 i
	case $1 in
	commit)
		# the NTH change after now on the victim module, then the kill
		n0=$(receipts "$VICTIM" "$dom")
		for ((i = 0; i < 200; i++)); do
			[ "$(receipts "$VICTIM" "$dom")" -ge $((n0 + NTH)) ] && break
			sleep 0.02
		done
		kill -9 "$CPID" 2>/dev/null || true ;;
	module) kill -9 "${PID[$VICTIM]}" 2>/dev/null || true; wait_gone "$VICTIM" ;;
	card) harness_remove "$SLOT" || true ;;
	pcscd) harness_stop_pcscd ;;
	esac
}

# heal TARGET: bring back what the strike took away.
heal() {
	case $1 in
	module) start_module "$VICTIM" ;;
	commit)
		stop_module m1; stop_module m2
		start_module m1; start_module m2 ;;
	card) harness_insert "$W/card$SLOT.json" "$SLOT" || fail "card $SLOT did not come back" ;;
	pcscd) harness_restart_pcscd || fail "pcscd did not come back" ;;
	esac
}

# check DOM SEED LOG: the invariants after the load finished.
check() {
	local dom=$1 log=$3 rcpt
	run 0 "status of domain $dom" hsmadm-commit status --group "g$dom" --part "s$2p1" \
		--part "s$2p2" --log "$log" --json
	jq_is .next none
	jq_is '[.members[].current_mkvp] | unique | length' 1
	jq_is '[.members[].pending] | unique | join(",")' empty
	# each part once per domain: the modules' receipts of mk.load_part, by
	# module and the part's index, as the log (verified below) holds them
	rcpt=$(jq -r 'select(.type == "command.applied") | .body.receipts[].body |
		select(.op == "mk.load_part") | .module' "$log" | sort | uniq -c | awk '{print $1}' |
		tr '\n' ' ')
	[ "$rcpt" = "2 2 " ] || fail "seed $2: mk.load_part receipts per module: '$rcpt', wanted '2 2 '"
	run 0 "seed $2: the log verifies (no receipt gap)" hsmadm-audit verify "$log" \
		--module-ca "$T/ca.pem" --allow-incomplete
}

targets=(commit module card pcscd)
for ((k = 0; k < ITER; k++)); do
	seed=$((SEED0 + k))
	RANDOM=$seed
	dom=$((k + 1))
	log="$W/chaos-$seed.jsonl"
	set_up_domain "$dom" "$log"
	c1=$((seed % 3)) c2=$(((seed + 1) % 3))
	run 0 "part 1 of $seed" hsmadm-mkpart generate --part "s${seed}p1" \
		--reader "$(harness_reader_name $c1)" --log "$log" --pin-fd 3 3<<<$CPIN
	run 0 "part 2 of $seed" hsmadm-mkpart generate --part "s${seed}p2" \
		--reader "$(harness_reader_name $c2)" --log "$log" --pin-fd 3 3<<<$CPIN
	target=${targets[$((RANDOM % 4))]}
	delay=$((RANDOM % 1500))
	VICTIM=m$((RANDOM % 2 + 1))
	NTH=$((RANDOM % 5 + 1))   # importer, part 1, part 2, commit, activate
	SLOT=$c1; [ $((RANDOM % 2)) -eq 0 ] || SLOT=$c2
	echo "seed=$seed target=$target delay=${delay}ms victim=$VICTIM nth=$NTH slot=$SLOT"
	if [ "$target" = commit ]; then
		delay=0
		stop_module m1; stop_module m2
		start_module m1 --delay-ms 150; start_module m2 --delay-ms 150
	fi
	$(commit_cmd "$seed" "$log") 4<"$CPINS" >"$W/run-$seed.out" 2>&1 &
	CPID=$!
	sleep "$(printf '0.%03d' "$delay")"
	strike "$target"
	wait "$CPID" 2>/dev/null || true
	heal "$target"
	done_ok=
	for try in 1 2 3 4; do
		if $(commit_cmd "$seed" "$log") 4<"$CPINS" >"$W/resume-$seed.out" 2>&1; then
			done_ok=1
			break
		fi
		sleep 0.2
	done
	[ -n "$done_ok" ] || { cat "$W/run-$seed.out" "$W/resume-$seed.out" >&2;
		fail "seed $seed: hsmadm-commit run did not finish after the $target fault"; }
	check "$dom" "$seed" "$log"
done
echo "PASS: chaos_commit ($ITER iterations from seed $SEED0)"
