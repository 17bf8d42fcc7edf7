#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Acceptance: a group is never split. Two workstations submit two different
# signed commands for the same counter of the same group, with connections
# dropped on the way. A member that is past the command's counter counts as
# "already applied" only when its receipt for that counter carries the same
# command digest; otherwise the group is divergent, the message names the
# command each member holds, and nothing is sent. Anything new is applied to
# the first member (by module serial, domain) alone first, so two racing
# workstations cannot each win a different member. After healing (the
# roll-forward of the command that was applied) the members compare equal.
. "$(dirname "$0")/domain_common.sh"

init_module m1 DC1-M01
init_module m2 DC2-M01
start_module m1
start_module m2
setup_workstation m1 m2
D=hsmadm-domain
WS1="$T/home"
WS2="$T/home2"
# a second workstation: its own directory, trusting the same modules
HSMADM_HOME="$WS2" $D client set --cert "$T/ws.pem" --key "$T/ws.key" >/dev/null
for m in m1 m2; do
	HSMADM_HOME="$WS2" $D module add "$m" "127.0.0.1:${PORT[$m]}" --ca "$T/ca.pem" --yes >/dev/null
done
for h in "$WS1" "$WS2"; do HSMADM_HOME="$h" $D group create pair m1:5 m2:5 >/dev/null; done
keyfile alice
$D admin add pair --pubkey-file "$T/alice.pem" --name alice --identity alice >/dev/null
$D run pair thresholds.set --signature 1 --revocation 1 --key-file "$T/alice.pem" >/dev/null

# propose HOME FILE NAME: admin add NAME for the group's current counters, signed
propose() {
	[ -f "$T/$3.pem" ] || keyfile "$3"
	HSMADM_HOME="$1" $D admin add pair --pubkey-file "$T/$3.pem" --name "$3" --identity "$3" \
		--out "$2" >/dev/null
	HSMADM_HOME="$1" $D sign "$2" --key-file "$T/alice.pem" >/dev/null
}
digest_of() { jq -cj '.body' "$1" | sha256sum | cut -c1-16; }
counter_of() {	# MODULE-SERIAL: the counter of its domain 5
	$D --json group status pair | jq -r --arg m "$1" '.members[] | select(.module == $m) | .counter'
}
restart() {	# NAME [serve args]
	local n=$1
	shift
	stop_module "$n"
	start_module "$n" "$@"
}

# 1. The finding: c1 is applied on DC1, DC2 drops the connection before
# applying it (exit 27). Workstation 2 submits c2 for the same counter.
propose "$WS1" "$T/c1.json" bob
propose "$WS2" "$T/c2.json" carol
before=$(counter_of DC2-M01)
restart m2 --drop-before 1
expect_exit 27 "c1: applied on DC1, DC2 dropped the connection" -- \
	env HSMADM_HOME="$WS1" $D submit "$T/c1.json"
restart m2
expect_exit 27 "c2 for the same counter: the group is divergent, nothing sent" -- \
	env HSMADM_HOME="$WS2" $D submit "$T/c2.json"
out_has "$(digest_of "$T/c1.json")" "names the command DC1 holds (c1's digest)"
out_has "roll-forward" "says how to heal it"
expect_exit 27 "c2 with --roll-forward is refused too: it would split the group" -- \
	env HSMADM_HOME="$WS2" $D submit "$T/c2.json" --roll-forward
[ "$(counter_of DC2-M01)" = "$before" ] && ok "DC2 did not apply c2" ||
	fail "DC2 moved on to $(counter_of DC2-M01) with c2: the group is split"
expect_exit 0 "healing: c1 rolled forward onto DC2" -- \
	env HSMADM_HOME="$WS1" $D submit "$T/c1.json" --roll-forward
expect_exit 0 "the members compare equal after healing" -- $D group compare pair

# 1b. Healing without the file: the modules keep each applied command with
# its receipt; group heal fetches it from DC1 and rolls it onto DC2.
propose "$WS1" "$T/c3.json" dora
restart m2 --drop-before 1
expect_exit 27 "c3: applied on DC1, DC2 dropped the connection" -- \
	env HSMADM_HOME="$WS1" $D submit "$T/c3.json"
restart m2
rm -f "$T/c3.json"
expect_exit 0 "group heal completes DC2 from DC1's kept command" -- \
	env HSMADM_HOME="$WS2" $D group heal pair
out_has "DC2-M01 domain 5: applied" "DC2 applied the command DC1 kept"
expect_exit 0 "the members compare equal after the heal" -- $D group compare pair
expect_exit 0 "a second heal finds nothing to do" -- $D group heal pair
out_has "Nothing to heal" "says so"

# 2. Racing workstations, again and again, with dropped connections: two
# commands for one counter submitted at the same moment; then each
# workstation rolls its own command forward (only the one that was applied
# can complete), and the members must compare equal.
ROUNDS=${RACE_ROUNDS:-30}
split=0
$D --json group status pair >"$T/st.json"
c0=$(jq '.members[0].counter' "$T/st.json")
for r in $(seq 1 "$ROUNDS"); do
	# a fault on one module in three rounds of four (restarted without
	# it after the race)
	case $((r % 4)) in
	0) faulty=m1; restart m1 --drop-after 1 ;;
	1) faulty=m2; restart m2 --drop-after 1 ;;
	2) faulty=m2; restart m2 --drop-before 1 ;;
	3) faulty= ;;
	esac
	# the same two would-be admins every round (the one added is removed)
	propose "$WS1" "$T/r1.json" xavier &
	p1=$!
	propose "$WS2" "$T/r2.json" yvonne
	wait $p1
	HSMADM_HOME="$WS1" $D submit "$T/r1.json" >"$T/r1.out" 2>&1 &
	p1=$!
	HSMADM_HOME="$WS2" $D submit "$T/r2.json" >"$T/r2.out" 2>&1 &
	p2=$!
	wait $p1 || true
	wait $p2 || true
	[ -z "$faulty" ] || restart "$faulty"
	HSMADM_HOME="$WS1" $D submit "$T/r1.json" --roll-forward >>"$T/r1.out" 2>&1 || true
	HSMADM_HOME="$WS2" $D submit "$T/r2.json" --roll-forward >>"$T/r2.out" 2>&1 || true
	$D --json group status pair >"$T/st.json" || true
	# exactly one of the two commands for that counter is applied, on both
	if [ "$(jq '[.members[].counter] | unique | length' "$T/st.json")" != 1 ] ||
	   [ "$(jq '.members[0].counter' "$T/st.json")" -ne $((c0 + 1)) ] ||
	   [ "$(jq '.compare.equal' "$T/st.json")" != true ]; then
		split=$((split + 1))
		echo "round $r: the group is split or stuck" >&2
		sed 's/^/    | /' "$T/r1.out" "$T/r2.out" >&2
		jq -c '.members[] | {module, counter}, .compare' "$T/st.json" >&2 || true
		break
	fi
	c0=$((c0 + 1))
	# a domain holds at most 8 admins: remove the one this round added
	for ski in $(jq -r '.members[0].admins[] | select(.identity != "alice") | .ski' "$T/st.json"); do
		$D admin remove pair --ski "$ski" --key-file "$T/alice.pem" >/dev/null ||
			fail "round $r: removing the admin added failed"
		c0=$((c0 + 1))
	done
done
[ "$split" -eq 0 ] && ok "$ROUNDS racing rounds: the group never split" ||
	fail "the group was split by racing workstations"
finish
