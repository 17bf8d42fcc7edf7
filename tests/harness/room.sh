# SPDX-License-Identifier: BSD-2-Clause
# tests/harness/room.sh - the key room of the embedded default, the one place
# that builds it for tests/demo.sh and for the ceremony-script tests
# (sourced, bash, after pcsc.sh; the hsmadm commands on PATH):
#
#   room_start [PRIV]         a private pcscd with 13 readers, a factory-fresh
#                             virtual card in each (inserted together, one
#                             wait), modules DC1-M01 and DC2-M01 serving on free
#                             ports, the workstation's TLS client certificate.
#                             Secrets (card files, module keys, the client key,
#                             HSMADM_HOME) go into PRIV (default $HARNESS_DIR).
#   room_plan FILE CA INST    the ceremony plan naming that room: sites DC1 and
#                             DC2, the pair, 3 admins, 3 custodians (each with a
#                             backup card), a supervisor and a witness; CA is the
#                             module CA path as the plan's commands will see it,
#                             INST the installation id (the plan is INST-2026).
#   room_answers FILE [C2PIN] the rehearsal's PINs and answers, mode 0600
#                             (C2PIN: plant another PIN for custodian 2).
#   room_stop                 stop the modules, then the harness. Call it from
#                             the EXIT trap; room_start keeps the caller's trap.
#
# Cards by reader slot: 0-2 admins A1-A3, 3-5 their backups, 6-8 custodians
# C1-C3, 9-11 their backups, 12 the supervisor S1. The functions return 1 and
# say why on standard error; the caller decides what a failure means (the
# tests fail, the demo stops naming its step). Each module process is stopped
# by its PID; nothing is ever stopped by name.

ROOM_PRIV=
ROOM_PIN_ADMIN=11110000
ROOM_PIN_CUSTODIAN=22220000
ROOM_PIN_SUPERVISOR=33330000
ROOM_PUK=87654321
declare -A ROOM_MPID=()    # m1, m2 -> hsmadm-simd serve PID
declare -A ROOM_MPORT=()   # m1, m2 -> its TCP port on 127.0.0.1

room_say() { echo "room: $*" >&2; }

room_stop() {
	local m
	for m in "${!ROOM_MPID[@]}"; do
		kill "${ROOM_MPID[$m]}" 2>/dev/null && wait "${ROOM_MPID[$m]}" 2>/dev/null
		unset 'ROOM_MPID[$m]'
	done
	harness_stop
}

# room_cards: 13 new card files, then all into their readers at once. pcscd
# polls its readers every 400 ms, so one at a time costs a round each.
room_cards() {
	local slot pairs=()
	for slot in $(seq 0 12); do
		hsmadm-vcard create "$ROOM_PRIV/card$slot.json" >/dev/null ||
			{ room_say "hsmadm-vcard create $ROOM_PRIV/card$slot.json failed"; return 1; }
		pairs+=("$ROOM_PRIV/card$slot.json:$slot")
	done
	harness_insert_all "${pairs[@]}" || { room_say "a virtual card did not appear in its reader"; return 1; }
}

# room_module NAME: serve module NAME (its dir PRIV/NAME) on a free port,
# with ROOM_MODULE_ARGS (e.g. --delay-ms N: a test that must act between two
# commands gives itself time) if set.
room_module() {
	local m=$1 i
	# shellcheck disable=SC2086
	hsmadm-simd serve --dir "$ROOM_PRIV/$m" --listen 127.0.0.1:0 --port-file "$ROOM_PRIV/$m.port" \
		${ROOM_MODULE_ARGS:-} >>"$ROOM_PRIV/$m.log" 2>&1 &
	ROOM_MPID[$m]=$!
	for i in $(seq 1 200); do [ -s "$ROOM_PRIV/$m.port" ] && break; sleep 0.05; done
	if [ ! -s "$ROOM_PRIV/$m.port" ]; then
		sed 's/^/    /' "$ROOM_PRIV/$m.log" >&2
		room_say "module $m did not start (its log is above)"
		return 1
	fi
	ROOM_MPORT[$m]=$(tr -dc '0-9' <"$ROOM_PRIV/$m.port")
}

# room_modules: DC2-M01 is made by DC1-M01's vendor CA and trusts the same
# client CA, as two modules of one vendor and one installation would.
room_modules() {
	local p=$ROOM_PRIV
	hsmadm-simd init --serial DC1-M01 --dir "$p/m1" --domains 4 >/dev/null ||
		{ room_say "hsmadm-simd init DC1-M01 failed"; return 1; }
	hsmadm-simd init --serial DC2-M01 --dir "$p/m2" --domains 4 --module-ca-key "$p/m1/ca.key" \
		--module-ca-cert "$p/m1/ca.pem" --client-ca "$p/m1/client-ca.pem" >/dev/null ||
		{ room_say "hsmadm-simd init DC2-M01 failed"; return 1; }
	room_module m1 && room_module m2 || return 1
	hsmadm-simd issue-client --dir "$p/m1" --name workstation --out-key "$p/ws.key" \
		--out-cert "$p/ws.pem" >/dev/null || { room_say "hsmadm-simd issue-client failed"; return 1; }
	hsmadm-domain client set --cert "$p/ws.pem" --key "$p/ws.key" >/dev/null ||
		{ room_say "hsmadm-domain client set failed"; return 1; }
}

room_start() {
	local saved
	# harness_start installs its own EXIT trap; the caller's (which calls
	# room_stop) must stay, or the modules would outlive a failure.
	saved=$(trap -p EXIT)
	harness_start 13 >/dev/null || { room_say "the private pcscd did not start"; return 1; }
	[ -z "$saved" ] || eval "$saved"
	ROOM_PRIV=${1:-$HARNESS_DIR}
	mkdir -m 700 "$ROOM_PRIV/home" || return 1
	export HSMADM_HOME=$ROOM_PRIV/home
	room_cards && room_modules
}

# room_card LABEL SLOT: a card member of the plan (virtual: rehearsals only).
room_card() {
	printf '{"label":"%s","reader":"%s","virtual":true}' "$1" "$(harness_reader_name "$2")"
}

room_plan() {
	local f=$1 ca=$2 inst=$3
	cat >"$f" <<JSON || return 1
{"format":"hsmadm-ceremony-plan 1","name":"$inst-2026","title":"Initial master key, pair DC1/DC2",
 "installation":"$inst","parts":3,"thresholds":{"signature":2,"revocation":2},
 "sites":[{"id":"DC1","name":"Data centre 1"},{"id":"DC2","name":"Data centre 2"}],
 "modules":[{"name":"dc1","serial":"DC1-M01","site":"DC1","address":"127.0.0.1:${ROOM_MPORT[m1]}","ca":"$ca"},
            {"name":"dc2","serial":"DC2-M01","site":"DC2","address":"127.0.0.1:${ROOM_MPORT[m2]}","ca":"$ca"}],
 "pairs":[{"group":"pair","domains":[{"module":"dc1","domain":3},{"module":"dc2","domain":3}]}],
 "people":[
  {"role":"admin","name":"Admin 1","card":$(room_card A1 0),"backups":[$(room_card A1B 3)]},
  {"role":"admin","name":"Admin 2","card":$(room_card A2 1),"backups":[$(room_card A2B 4)]},
  {"role":"admin","name":"Admin 3","card":$(room_card A3 2),"backups":[$(room_card A3B 5)]},
  {"role":"custodian","name":"Custodian 1","part":"p1","card":$(room_card C1 6),"backups":[$(room_card C1B 9)]},
  {"role":"custodian","name":"Custodian 2","part":"p2","card":$(room_card C2 7),"backups":[$(room_card C2B 10)]},
  {"role":"custodian","name":"Custodian 3","part":"p3","card":$(room_card C3 8),"backups":[$(room_card C3B 11)]},
  {"role":"supervisor","name":"Sue Supervisor","card":$(room_card S1 12)},
  {"role":"witness","name":"Walt Witness"}]}
JSON
}

# The first 8 hex digits of module N's OA certificate fingerprint, which the
# operator reads aloud and the facilitator types (hsmadm-domain module add).
room_fingerprint() {
	openssl x509 -in "$ROOM_PRIV/m$1/oa.pem" -outform DER | openssl dgst -sha256 -r | cut -c1-8
}

room_answers() {
	local f=$1 c2pin=${2:-$ROOM_PIN_CUSTODIAN} i fp1 fp2
	fp1=$(room_fingerprint 1) || fp1=
	fp2=$(room_fingerprint 2) || fp2=
	if [ -z "$fp1" ] || [ -z "$fp2" ]; then
		room_say "cannot read the modules' OA certificates"
		return 1
	fi
	# The file holds every PIN: readable by its owner only, from its first byte.
	(
		umask 077
		{
			echo "answer factory-pin 123456"
			for i in 1 2 3; do
				echo "pin admin.$i $ROOM_PIN_ADMIN"
				echo "answer admin.$i.puk $ROOM_PUK"
			done
			echo "pin custodian.1 $ROOM_PIN_CUSTODIAN"
			echo "pin custodian.2 $c2pin"
			echo "pin custodian.3 $ROOM_PIN_CUSTODIAN"
			for i in 1 2 3; do echo "answer custodian.$i.puk $ROOM_PUK"; done
			echo "pin supervisor.1 $ROOM_PIN_SUPERVISOR"
			echo "answer supervisor.1.puk $ROOM_PUK"
			echo "answer module.1.fingerprint $fp1"
			echo "answer module.2.fingerprint $fp2"
		} >"$f"
	) && chmod 600 "$f"
}
