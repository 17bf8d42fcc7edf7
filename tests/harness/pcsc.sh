# SPDX-License-Identifier: BSD-2-Clause
# tests/harness/pcsc.sh - a private pcscd with vpcd virtual readers, and
# hsmadm-vcard cards in them, for tests. Source it from a bash test:
#
#   . "$HSMADM_SRC/tests/harness/pcsc.sh"
#   harness_start 2                     # pcscd with readers 0 and 1; sets the EXIT trap
#   hsmadm-vcard create "$HARNESS_DIR/a.json"
#   harness_insert "$HARNESS_DIR/a.json" 0
#   yubico-piv-tool -r "$(harness_reader_name 0)" -a status
#   harness_remove 0
#   harness_stop                        # also runs from the EXIT trap
#
# Everything lives in a private temp dir ($HARNESS_DIR); pcscd listens on
# its own socket there (exported as PCSCLITE_CSOCK_NAME, which libpcsclite
# clients honour) and its vpcd ports are free ports picked at start, so tests
# run in parallel with each other and beside a system pcscd. Every process
# started here is stopped by its PID. See tests/harness/README.md.

HARNESS_DIR=
HARNESS_PCSCD_PID=
HARNESS_NREADERS=0
declare -a HARNESS_PORT=()      # slot -> TCP port
declare -a HARNESS_READER=()    # slot -> reader name
declare -a HARNESS_CARD_PID=()  # slot -> hsmadm-vcard pid
HARNESS_VPCD_SO=${HARNESS_VPCD_SO:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}
HARNESS_TIMEOUT=${HARNESS_TIMEOUT:-15}

harness_log() { echo "harness: $*" >&2; }

harness_die() {
	harness_log "$*"
	exit 1
}

# The reader name of slot N (0-based).
harness_reader_name() {
	[ -n "${HARNESS_READER[$1]:-}" ] || harness_die "no reader slot $1 (harness_start made $HARNESS_NREADERS)"
	printf '%s\n' "${HARNESS_READER[$1]}"
}

# The vpcd TCP port of slot N.
harness_port() {
	[ -n "${HARNESS_PORT[$1]:-}" ] || harness_die "no reader slot $1"
	printf '%s\n' "${HARNESS_PORT[$1]}"
}

# Print the readers pcscd lists, one "yes|no<TAB>name" line each.
harness_readers() {
	opensc-tool -l 2>/dev/null | awk '
		/^[0-9]+ +(Yes|No)/ {
			card = ($2 == "Yes") ? "yes" : "no"
			line = $0
			sub(/^[0-9]+ +(Yes|No) +/, "", line)
			# opensc-tool puts a features column before the name; names
			# here all start with "Virtual PCD".
			i = index(line, "Virtual PCD")
			if (i > 0) line = substr(line, i)
			print card "\t" line
		}'
}

# Is there a card in the reader of slot N? (0 = yes)
harness_card_present() {
	harness_readers | grep -qxF "yes	${HARNESS_READER[$1]}"
}

# TCP ports in use on this machine (listening or connected).
harness_used_ports() {
	ss -Htan 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u
}

# Pick a base port P such that P and P+1 are not in use and not in the
# space-separated list $2 (ports already picked). $1: the ports in use, as
# " p1 p2 ... ". Below the kernel's ephemeral range (32768 up by default),
# where outgoing connections of other tests would otherwise take ports.
harness_pick_ports() {
	local used="$1 $2 " p tries=0 lo=20000 hi
	hi=$(awk '{ print $1 - 2 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32766)
	[ "$hi" -gt $((lo + 1000)) ] || { lo=10000; hi=$((lo + 10000)); }
	while :; do
		p=$(( lo + (RANDOM * 2) % (hi - lo) ))
		case "$used" in
		*" $p "* | *" $((p + 1)) "*) ;;
		*) printf '%s\n' "$p"; return 0 ;;
		esac
		tries=$((tries + 1))
		[ $tries -lt 200 ] || return 1
	done
}

# Does our pcscd listen on every port given? (One ss call: tests run under load.)
harness_pcscd_listens() {
	local listening p
	listening=" $(ss -Hltnp 2>/dev/null | grep "pid=$HARNESS_PCSCD_PID," |
		awk '{ n = split($4, a, ":"); print a[n] }' | tr '\n' ' ') "
	for p in "$@"; do
		case "$listening" in
		*" $p "*) ;;
		*) harness_log "port $p was taken by another program"; return 1 ;;
		esac
	done
}

harness_try_start() {
	local n=$1 entries i e base letters=ABCDEFGH conf
	entries=$(( (n + 1) / 2 ))
	conf="$HARNESS_DIR/reader.conf.d"
	rm -rf "$conf" "$HARNESS_DIR/drivers"
	mkdir -p "$conf" "$HARNESS_DIR/drivers"
	HARNESS_PORT=()
	HARNESS_READER=()
	local used picked=
	used=" $(harness_used_ports | tr '\n' ' ') "
	for ((e = 0; e < entries; e++)); do
		base=$(harness_pick_ports "$used" "$picked") || harness_die "no free TCP ports found"
		picked="$picked $base $((base + 1))"
		# The vpcd driver keeps its state in static arrays, so every
		# reader.conf entry needs its own copy (own inode) of the .so.
		cp "$(readlink -f "$HARNESS_VPCD_SO")" "$HARNESS_DIR/drivers/libifdvpcd-$e.so"
		cat >>"$conf/vpcd" <<CONF
FRIENDLYNAME "Virtual PCD ${letters:e:1}"
DEVICENAME   /dev/null:$base
LIBPATH      $HARNESS_DIR/drivers/libifdvpcd-$e.so
CHANNELID    $base

CONF
		for ((i = 0; i < 2 && 2 * e + i < n; i++)); do
			HARNESS_PORT[2 * e + i]=$((base + i))
			HARNESS_READER[2 * e + i]="Virtual PCD ${letters:e:1} 00 0$i"
		done
	done
	harness_launch_pcscd "$n"
}

# Start pcscd on the existing configuration and wait for its N readers.
harness_launch_pcscd() {
	local n=$1 i conf="$HARNESS_DIR/reader.conf.d"
	rm -f "$HARNESS_DIR/pcscd.comm"
	# Socket activation gives pcscd our own socket path (the daemon itself
	# has /run/pcscd compiled in, which allows one daemon per machine).
	systemd-socket-activate -l "$HARNESS_DIR/pcscd.comm" \
		/usr/sbin/pcscd --foreground ${HARNESS_PCSCD_DEBUG:+--debug --apdu} \
		-c "$conf" >>"$HARNESS_DIR/pcscd.log" 2>&1 &
	HARNESS_PCSCD_PID=$!
	export PCSCLITE_CSOCK_NAME="$HARNESS_DIR/pcscd.comm"
	# The first client connection starts pcscd; wait for all readers.
	local deadline=$((SECONDS + HARNESS_TIMEOUT)) listed
	while :; do
		if ! kill -0 "$HARNESS_PCSCD_PID" 2>/dev/null; then
			harness_log "pcscd exited; its log:"
			cat "$HARNESS_DIR/pcscd.log" >&2
			return 1
		fi
		if [ -S "$HARNESS_DIR/pcscd.comm" ]; then
			listed=$(harness_readers | cut -f2)
			local ok=1
			for ((i = 0; i < n; i++)); do
				grep -qxF "${HARNESS_READER[i]}" <<<"$listed" || ok=0
			done
			[ $ok = 1 ] && break
		fi
		[ $SECONDS -lt $deadline ] || { harness_log "readers did not appear"; return 1; }
		sleep 0.1
	done
	# Another program may have taken one of our ports between the pick and
	# pcscd's bind; then the reader exists but no card could ever reach it.
	harness_pcscd_listens "${HARNESS_PORT[@]}" || return 1
	HARNESS_NREADERS=$n
	return 0
}

# harness_start N: a private pcscd with N vpcd readers (1..16), slots 0..N-1.
harness_start() {
	local n=${1:-1} attempt
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 16 ] ||
		harness_die "harness_start needs a reader count from 1 to 16"
	command -v systemd-socket-activate >/dev/null || harness_die "systemd-socket-activate not found (package systemd)"
	[ -x /usr/sbin/pcscd ] || harness_die "pcscd not found (package pcscd)"
	[ -e "$HARNESS_VPCD_SO" ] || harness_die "$HARNESS_VPCD_SO not found (package vsmartcard-vpcd)"
	command -v opensc-tool >/dev/null || harness_die "opensc-tool not found (package opensc)"
	[ -z "$HARNESS_DIR" ] || harness_die "harness_start called twice"
	HARNESS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hsmadm-harness.XXXXXX")
	trap harness_stop EXIT
	for attempt in 1 2 3 4 5; do
		harness_try_start "$n" && return 0
		harness_stop_pcscd
		harness_log "retrying with other ports (attempt $attempt failed)"
	done
	harness_die "could not start a private pcscd"
}

# harness_restart_pcscd: stop pcscd and start it again with the same readers
# and ports (as when the smart card service restarts). The cards wait and
# reconnect; returns once every inserted card is present again.
harness_restart_pcscd() {
	local slot
	[ -n "$HARNESS_DIR" ] || harness_die "harness_restart_pcscd before harness_start"
	harness_stop_pcscd
	harness_launch_pcscd "$HARNESS_NREADERS" || { harness_log "pcscd did not come back"; return 1; }
	for slot in "${!HARNESS_CARD_PID[@]}"; do
		harness_wait_card "$slot" yes || { harness_log "card in slot $slot did not come back"; return 1; }
	done
}

# Wait until the reader of slot N shows a card (want=yes) or not (want=no).
harness_wait_card() {
	local slot=$1 want=$2 deadline=$((SECONDS + HARNESS_TIMEOUT))
	while :; do
		if [ "$want" = yes ]; then
			harness_card_present "$slot" && return 0
		else
			harness_card_present "$slot" || return 0
		fi
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# harness_card_launch FILE SLOT: start hsmadm-vcard on FILE in the reader of
# SLOT, without waiting for pcscd to see it.
harness_card_launch() {
	local file=$1 slot=$2 vcard
	[ -n "${HARNESS_PORT[$slot]:-}" ] || harness_die "no reader slot $slot"
	[ -z "${HARNESS_CARD_PID[$slot]:-}" ] || harness_die "slot $slot already holds a card"
	vcard=$(command -v hsmadm-vcard || echo "${HSMADM_BIN:-}/hsmadm-vcard")
	[ -x "$vcard" ] || harness_die "hsmadm-vcard not found (set PATH or HSMADM_BIN)"
	"$vcard" run "$file" --port "${HARNESS_PORT[$slot]}" >>"$HARNESS_DIR/card-$slot.log" 2>&1 &
	HARNESS_CARD_PID[$slot]=$!
}

# harness_cards_wait SLOT...: wait until pcscd sees a card in every SLOT, one
# deadline for all (pcscd polls its readers every 400 ms: cards inserted
# together are seen together). Fails at once if a card's process exits.
harness_cards_wait() {
	local deadline=$((SECONDS + HARNESS_TIMEOUT)) slot pid missing seen
	while :; do
		missing=
		seen=$(harness_readers)   # one listing per round, for every slot
		for slot in "$@"; do
			pid=${HARNESS_CARD_PID[$slot]:-}
			if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
				wait "$pid" 2>/dev/null || true
				unset 'HARNESS_CARD_PID[slot]'
				harness_log "hsmadm-vcard in ${HARNESS_READER[$slot]} exited; its log:"
				cat "$HARNESS_DIR/card-$slot.log" >&2
				return 1
			fi
			grep -qxF "yes	${HARNESS_READER[$slot]}" <<<"$seen" || missing="$missing $slot"
		done
		[ -n "$missing" ] || return 0
		if [ $SECONDS -ge $deadline ]; then
			for slot in $missing; do
				harness_log "no card appeared in ${HARNESS_READER[$slot]}; its log:"
				cat "$HARNESS_DIR/card-$slot.log" >&2
			done
			return 1
		fi
		sleep 0.05
	done
}

# harness_insert FILE SLOT: run hsmadm-vcard on FILE in the reader of SLOT
# and wait until pcscd sees the card.
harness_insert() {
	harness_card_launch "$1" "$2"
	harness_cards_wait "$2"
}

# harness_insert_all FILE:SLOT...: insert several cards at once and wait once.
harness_insert_all() {
	local pair slots=()
	for pair in "$@"; do
		harness_card_launch "${pair%:*}" "${pair##*:}"
		slots+=("${pair##*:}")
	done
	harness_cards_wait "${slots[@]}"
}

# harness_insert_after SECONDS FILE SLOT: insert the card SECONDS from now,
# without waiting (for tests of "wait for a card"). The card's PID is known
# at once (the delayed subshell execs into hsmadm-vcard), so harness_remove
# and harness_stop handle it like any other.
harness_insert_after() {
	local delay=$1 file=$2 slot=$3 vcard
	[ -n "${HARNESS_PORT[$slot]:-}" ] || harness_die "no reader slot $slot"
	[ -z "${HARNESS_CARD_PID[$slot]:-}" ] || harness_die "slot $slot already holds a card"
	vcard=$(command -v hsmadm-vcard || echo "${HSMADM_BIN:-}/hsmadm-vcard")
	[ -x "$vcard" ] || harness_die "hsmadm-vcard not found (set PATH or HSMADM_BIN)"
	(
		sleep "$delay"
		exec "$vcard" run "$file" --port "${HARNESS_PORT[$slot]}"
	) >>"$HARNESS_DIR/card-$slot.log" 2>&1 &
	HARNESS_CARD_PID[$slot]=$!
}

harness_kill_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# harness_remove SLOT: stop the card in SLOT and wait until pcscd sees it go.
harness_remove() {
	local slot=$1 pid=${HARNESS_CARD_PID[$1]:-}
	[ -n "$pid" ] || harness_die "no card in slot $slot"
	harness_kill_pid "$pid"
	unset 'HARNESS_CARD_PID[slot]'
	harness_wait_card "$slot" no || { harness_log "card in slot $slot still present"; return 1; }
}

# The PIDs the harness started and that are still running.
harness_pids() {
	local p
	for p in "$HARNESS_PCSCD_PID" "${HARNESS_CARD_PID[@]}"; do
		[ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
	done
	return 0
}

harness_stop_pcscd() {
	if [ -n "$HARNESS_PCSCD_PID" ]; then
		harness_kill_pid "$HARNESS_PCSCD_PID"
		HARNESS_PCSCD_PID=
	fi
	[ -z "$HARNESS_DIR" ] || rm -f "$HARNESS_DIR/pcscd.comm"
}

# harness_stop: stop every card and pcscd, remove the temp dir. Idempotent;
# installed as the EXIT trap by harness_start.
harness_stop() {
	local slot
	for slot in "${!HARNESS_CARD_PID[@]}"; do
		harness_kill_pid "${HARNESS_CARD_PID[$slot]}"
	done
	HARNESS_CARD_PID=()
	harness_stop_pcscd
	if [ -n "$HARNESS_DIR" ]; then
		if [ -n "${HARNESS_KEEP:-}" ]; then
			harness_log "keeping $HARNESS_DIR"
		else
			rm -rf "$HARNESS_DIR"
		fi
	fi
	HARNESS_DIR=
	unset PCSCLITE_CSOCK_NAME
	return 0
}
