#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/demo.sh - the main job of `make demo`: the whole initial master-key
# ceremony on virtual smart cards and two emulated crypto modules, narrated
# for a person watching. Every command shown is the real one, with its real
# output. See docs/demo.md for what each step shows and how to read it.
#
#   bash tests/demo.sh [BUILD_DIR]      (default: build)
#
# Environment: DEMO_PAUSE=1 waits for Enter between steps (on a terminal);
# TMPDIR is where the demo's kept directory (log, reports) is made.
#
# Exit status: 0 if every step worked; 1 if a step failed (the message names
# the step and the command); 2 if the build or a tool is missing.
#
# Everything runs in private temp dirs, on a private pcscd (tests/harness/
# pcsc.sh) and on free ports, so it runs beside a system pcscd and beside the
# test suite. Every process started here is stopped on exit, by its PID.
# PINs reach the commands on file descriptors, never on a command line.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
if ! build=$(cd "$build" 2>/dev/null && pwd); then
	echo "demo: build directory '${1:-build}' not found; build first with: make build" >&2
	exit 2
fi
BIN=$build/bin
export PATH="$BIN:$PATH" HSMADM_BIN="$BIN" HSMADM_SRC="$SRC"

for exe in hsmadm-ceremony hsmadm-card hsmadm-domain hsmadm-mkpart hsmadm-commit hsmadm-audit hsmadm-simd hsmadm-vcard; do
	if [ ! -x "$BIN/$exe" ]; then
		echo "demo: $BIN/$exe is missing; build first with: make build" >&2
		exit 2
	fi
done
for tool in jq openssl yubico-piv-tool; do
	command -v "$tool" >/dev/null || {
		echo "demo: $tool not found; install what is missing with: make deps" >&2
		exit 2
	}
done

# ---- how the demo speaks ------------------------------------------------
if [ -t 1 ]; then
	B=$'\e[1m' DIM=$'\e[2m' GREEN=$'\e[32m' RED=$'\e[31m' N=$'\e[0m'
else
	B='' DIM='' GREEN='' RED='' N=''
fi
NSTEPS=9
STEP=0
STEP_ID=
STEP_TITLE="getting ready"
DONE=0
STOPPED=0
T_START=$SECONDS

# step N TITLE [ID]: announce a step. With ID, the facilitator records the
# step's beginning in the evidence log (ended by step_end).
step() {
	STEP=$1
	STEP_TITLE=$2
	STEP_ID=${3:-}
	if [ "${DEMO_PAUSE:-}" = 1 ] && [ -t 0 ] && [ "$STEP" -gt 1 ]; then
		read -r -p "${DIM}(Enter for the next step)${N}" _
	fi
	printf '\n%s== Step %d of %d: %s ==%s\n' "$B" "$STEP" "$NSTEPS" "$STEP_TITLE" "$N"
	[ -z "$STEP_ID" ] ||
		show hsmadm-ceremony step begin --log "$LOG" --step "$STEP_ID" --title "$STEP_TITLE"
}
step_end() {
	show hsmadm-ceremony step end --log "$LOG" --step "$STEP_ID" --result ok
	STEP_ID=
}

# say TEXT...: narration, wrapped.
say() { printf '%s\n' "$*" | fold -s -w 76 | sed 's/^/  /'; }

# The command line as one would type it (paths relative to the demo dir).
quote_cmd() {
	local a out=
	for a in "$@"; do
		case "$a" in
		*[!A-Za-z0-9_./:=@%+,-]* | '') out+=" '${a//\'/\'\\\'\'}'" ;;
		*) out+=" $a" ;;
		esac
	done
	printf '%s' "${out# }"
}

# A step's command failed: say which, and stop (the EXIT trap cleans up).
stop_here() {
	STOPPED=1
	# The log says so too: the open step ends as failed, with an exception.
	if [ -n "$STEP_ID" ]; then
		hsmadm-ceremony exception --log "$LOG" --text "demo step $STEP failed: $1" >/dev/null 2>&1
		hsmadm-ceremony step end --log "$LOG" --step "$STEP_ID" --result failed >/dev/null 2>&1
	fi
	printf '\n%sThe demo stopped at step %d of %d (%s).%s\n' "$RED$B" "$STEP" "$NSTEPS" \
		"$STEP_TITLE" "$N" >&2
	printf '  %s\n' "$@" >&2
	exit 1
}

# show CMD...: print the command, run it, show its output (indented); stop
# the demo if it fails. Redirections given to show (PINs on fds) reach CMD.
show() {
	local rc=0 a note=
	printf '\n  %s$ %s%s\n' "$B" "$(quote_cmd "$@")" "$N"
	for a in "$@"; do
		case "$a" in --pin-fd | --new-pin-fd | --backup-pin-fd | --admin-pin-fd) note=1 ;; esac
	done
	[ -z "$note" ] || printf '    %s(PINs arrive on the numbered file descriptors, as a PIN pad would type them)%s\n' "$DIM" "$N"
	"$@" 2>&1 | sed -u 's/^/    /' || rc=$?
	[ "$rc" = 0 ] || stop_here "$(quote_cmd "$@") exited with code $rc (see docs/exit-codes.md)." \
		"Its output is above."
}

# quiet DESC CMD...: run a set-up command whose output is not the point;
# show its output only if it fails.
quiet() {
	local desc=$1 rc=0
	shift
	"$@" >"$PRIV/quiet.out" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		sed 's/^/    /' "$PRIV/quiet.out" >&2
		stop_here "$desc failed (exit code $rc):" "  $(quote_cmd "$@")"
	fi
}

# ---- the room: private pcscd, card files, modules ----------------------
. "$SRC/tests/harness/pcsc.sh"
declare -A MPID=()
cleanup() {
	local rc=$? m
	trap - EXIT
	for m in "${!MPID[@]}"; do
		kill "${MPID[$m]}" 2>/dev/null && wait "${MPID[$m]}" 2>/dev/null
	done
	harness_stop 2>/dev/null
	[ -z "${DEMO:-}" ] || rm -rf "$DEMO/private"
	if [ "$DONE" != 1 ]; then
		[ "$rc" != 0 ] || rc=1
		[ "$STOPPED" = 1 ] || printf '\n%sThe demo did not finish: it stopped at step %d of %d (%s).%s\n' \
			"$RED$B" "$STEP" "$NSTEPS" "$STEP_TITLE" "$N" >&2
		[ -z "${DEMO:-}" ] || echo "  What was written so far is in $DEMO." >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The kept directory: evidence log, module CA certificate, reports, the
# signed thresholds command. Everything secret (module keys, card files,
# the workstation's client key, PIN files) lives in $PRIV, removed on exit.
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/hsmadm-demo.XXXXXX") || { echo "demo: cannot make a temp dir" >&2; exit 2; }
mkdir -m 700 "$DEMO/private" "$DEMO/private/home" || exit 2
export HSMADM_HOME=$DEMO/private/home
cd "$DEMO" || exit 2
PRIV=private    # relative to $DEMO, so the commands shown stay short

APIN=11110000 CPIN=22220000 SPIN=33330000 PUK=87654321
LOG=ceremony.jsonl
GROUP=pair
INSTALLATION=demo-bank

printf '%shsmadm demo: the initial master-key ceremony%s\n' "$B" "$N"
say "Two crypto modules in two data centres (DC1-M01 and DC2-M01, emulated by" \
	"hsmadm-simd) each get domain 3 loaded with one new master key. Three" \
	"administrators approve every change 2-of-3 with keys on their smart cards," \
	"three custodians each hold one part of the key, a supervisor signs the" \
	"end, and an auditor checks everything afterwards from the evidence log." \
	"The cards are virtual PIV cards (hsmadm-vcard) in the readers of a private" \
	"pcscd. Everything is written under $DEMO."

# ---- step 1 -------------------------------------------------------------
step 1 "the room: card readers, two crypto modules, the workstation"
say "A private smart-card service (pcscd) with 13 virtual readers, so this demo" \
	"does not disturb real readers. Then the two modules: DC2-M01 is made by" \
	"the same vendor CA as DC1-M01, and both accept workstations whose TLS" \
	"certificate comes from the same client CA."
harness_start 13 >/dev/null || stop_here "the private pcscd did not start (the harness said why, above)."
trap cleanup EXIT   # harness_start installed its own trap; ours also stops it
say "pcscd is up with 13 empty virtual readers."
show hsmadm-simd init --serial DC1-M01 --dir "$PRIV/m1" --domains 8
show hsmadm-simd init --serial DC2-M01 --dir "$PRIV/m2" --domains 8 \
	--module-ca-key "$PRIV/m1/ca.key" --module-ca-cert "$PRIV/m1/ca.pem" \
	--client-ca "$PRIV/m1/client-ca.pem"
cp "$PRIV/m1/ca.pem" module-ca.pem || stop_here "could not copy the module CA certificate"
declare -A MPORT=()
start_module() {
	local m=$1 i
	hsmadm-simd serve --dir "$PRIV/$m" --listen 127.0.0.1:0 --port-file "$PRIV/$m.port" \
		>>"$PRIV/$m.log" 2>&1 &
	MPID[$m]=$!
	for i in $(seq 1 200); do [ -s "$PRIV/$m.port" ] && break; sleep 0.05; done
	if [ ! -s "$PRIV/$m.port" ]; then
		sed 's/^/    /' "$PRIV/$m.log" >&2
		stop_here "module $m did not start (its log is above)"
	fi
	MPORT[$m]=$(tr -dc '0-9' <"$PRIV/$m.port")
	say "Module $2 serves on 127.0.0.1:${MPORT[$m]} (pid ${MPID[$m]})."
}
start_module m1 DC1-M01
start_module m2 DC2-M01
say "The workstation gets its TLS client certificate from the modules' client CA:"
quiet "issuing the workstation's client certificate" hsmadm-simd issue-client --dir "$PRIV/m1" \
	--name workstation --out-key "$PRIV/ws.key" --out-cert "$PRIV/ws.pem"
show hsmadm-domain client set --cert "$PRIV/ws.pem" --key "$PRIV/ws.key"
say "The facilitator opens the evidence log: from here on every step, every" \
	"signature and every module receipt is one signed, hash-chained line in" \
	"$LOG, which the auditor checks at the end."
show hsmadm-ceremony open --log "$LOG" --title "Initial master key, domain pair DC1/DC2" \
	--installation $INSTALLATION --site "demo key room"

# ---- step 2 -------------------------------------------------------------
step 2 "every person's smart card is initialized; the roster is recorded" cards
say "Readers 1-3 hold the administrators' cards, 4-6 their backup cards, 7-9" \
	"the custodians' cards, 10-12 their backups, 13 the supervisor's card." \
	"Each new card has the factory PIN 123456; init sets the holder's own PIN" \
	"and PUK, generates the P-384 keys on the card and writes a profile with a" \
	"new card id. A backup card names its primary card (--backup-of), so the" \
	"two count as one person."
R() { harness_reader_name "$1"; }
# All thirteen new virtual cards go into their readers together, and the demo
# waits once (pcscd sees cards inserted together in one polling round).
slots=()
for slot in $(seq 0 12); do
	quiet "creating a virtual card" hsmadm-vcard create "$PRIV/card$slot.json"
	slots+=("$PRIV/card$slot.json:$slot")
done
harness_insert_all "${slots[@]}" ||
	stop_here "a virtual card did not appear in its reader (the harness said which, above)."
# card SLOT ROLE HOLDER PIN [init options]: the new card in SLOT, initialized.
card() {
	local slot=$1 role=$2 holder=$3 pin=$4
	shift 4
	show hsmadm-card init --reader "$(R "$slot")" --role "$role" --holder "$holder" \
		--installation $INSTALLATION --allow-default-mgmt-key \
		--pin-fd 3 --new-pin-fd 4 --new-puk-fd 5 "$@" \
		3<<<123456 4<<<"$pin" 5<<<"$PUK"
	CARDID[slot]=$(hsmadm-card status --reader "$(R "$slot")" --json | jq -r .profile.card_id)
	[ -n "${CARDID[$slot]}" ] && [ "${CARDID[$slot]}" != null ] ||
		stop_here "the card in reader $((slot + 1)) shows no card id after init"
}
declare -a CARDID=()
for i in 0 1 2; do
	card $i admin "Admin $((i + 1))" $APIN
	card $((i + 3)) admin "Admin $((i + 1))" $APIN --backup-of "${CARDID[$i]}"
done
for i in 0 1 2; do
	card $((i + 6)) custodian "Custodian $((i + 1))" $CPIN
	card $((i + 9)) custodian "Custodian $((i + 1))" $CPIN --backup-of "${CARDID[$((i + 6))]}"
done
card 12 supervisor "Sue Supervisor" $SPIN
say "All thirteen cards, as the workstation sees them (no PIN needed):"
show hsmadm-card list
say "The roster: each person, with the key, card id and holder read from their" \
	"(primary) card, no PIN needed. The supervisor's completion signature will" \
	"be checked against this roster."
for i in 0 1 2; do
	show hsmadm-ceremony roster add --log "$LOG" --role admin --card --reader "$(R $i)"
done
for i in 6 7 8; do
	show hsmadm-ceremony roster add --log "$LOG" --role custodian --card --reader "$(R $i)"
done
show hsmadm-ceremony roster add --log "$LOG" --role supervisor --card --reader "$(R 12)"
say "The auditor will also pin the supervisor's public key, taken here from the" \
	"certificate on her card with a standard PIV tool:"
show yubico-piv-tool -r "$(R 12)" -a read-certificate -s 9c -o "$PRIV/supervisor.crt"
show openssl x509 -in "$PRIV/supervisor.crt" -noout -pubkey -out supervisor.pub.pem
step_end

# ---- step 3 -------------------------------------------------------------
step 3 "the workstation trusts the two modules; the domain group is made" trust
say "The workstation connects to each module over mutual TLS and checks that its" \
	"certificate chains to the vendor's module CA. It then shows the module's" \
	"OA certificate fingerprint; the module's operator reads it out and the" \
	"facilitator types its first 8 hex digits to confirm (here: fed on fd 3)."
trust() {
	local name=$1 m=$2 fp
	fp=$(openssl x509 -in "$PRIV/$m/oa.pem" -outform DER | openssl dgst -sha256 -r | cut -c1-8)
	show hsmadm-domain module add "$name" "127.0.0.1:${MPORT[$m]}" --ca module-ca.pem --confirm-fd 3 3<<<"$fp"
}
trust dc1 m1
trust dc2 m2
say "Domain 3 of each module forms one group: every command from now on is" \
	"signed once and applied to both, or to neither."
show hsmadm-domain group create $GROUP dc1:3 dc2:3
show hsmadm-domain group status $GROUP
step_end

# ---- step 4 -------------------------------------------------------------
step 4 "the administrators are registered; the domains leave imprint mode" admins
say "New domains are in imprint mode: they take administrators without" \
	"signatures. Each administrator's card key (slot 9C, read without a PIN)" \
	"is registered, primary and backup card under one identity, so a person" \
	"counts once even with two cards. Every command and every module receipt" \
	"goes into the evidence log (--evidence)."
for i in 0 1 2; do
	show hsmadm-domain admin add $GROUP --card --reader "$(R $i)" --evidence "$LOG"
	show hsmadm-domain admin add $GROUP --card --reader "$(R $((i + 3)))" --evidence "$LOG"
done
show hsmadm-domain admin list $GROUP
say "Leaving imprint mode: from now on 2 of the 3 administrators must sign" \
	"every command (signature threshold 2) and every removal of an" \
	"administrator (revocation threshold 2). The command is written to a file," \
	"each signer sees its summary and digest (also as words to read aloud)" \
	"before the PIN is asked, and the signed file is submitted to both modules."
show hsmadm-domain thresholds set $GROUP --signature 2 --revocation 2 --out thresholds.json
show hsmadm-domain sign thresholds.json --card --reader "$(R 0)" --pin-fd 3 --evidence "$LOG" 3<<<$APIN
show hsmadm-domain sign thresholds.json --card --reader "$(R 4)" --pin-fd 3 --evidence "$LOG" 3<<<$APIN
say "(Admin 2 signed with the backup card: the domains count identities, not cards.)"
show hsmadm-domain submit thresholds.json --evidence "$LOG"
show hsmadm-domain group status $GROUP
step_end

# ---- step 5 -------------------------------------------------------------
step 5 "the custodians generate their key parts and copy them to backups" keyparts
say "Each custodian generates one part of 32 random bytes directly onto their" \
	"card, sealed to the card's own key (slot 9D). Nobody sees a part: only" \
	"its pattern (KPVP) is shown and recorded. Then the part is copied to the" \
	"same custodian's backup card, which is checked to be that backup."
for i in 1 2 3; do
	show hsmadm-mkpart generate --part p$i --reader "$(R $((i + 5)))" --log "$LOG" --pin-fd 3 3<<<$CPIN
	show hsmadm-mkpart copy --part p$i --reader "$(R $((i + 5)))" --to-reader "$(R $((i + 8)))" \
		--log "$LOG" --pin-fd 3 --backup-pin-fd 4 3<<<$CPIN 4<<<$CPIN
done
show hsmadm-mkpart list --reader "$(R 9)"
step_end

# ---- step 6 -------------------------------------------------------------
step 6 "the new master key is loaded, committed and activated" masterkey
# PIN files: one line per use (a custodian's PIN per part, an admin's per signature).
for ((i = 0; i < 20; i++)); do echo $CPIN; done >"$PRIV/custodian.pins"
for ((i = 0; i < 20; i++)); do echo $APIN; done >"$PRIV/admin.pins"
COMMIT=(hsmadm-commit --group "$GROUP" --part p1 --part p2 --part p3 --log "$LOG")
ADMINS=(--admin-reader "$(R 0)" --admin-reader "$(R 1)" --admin-pin-fd 5)
say "Load: for each part, the custodian's card is found in the readers and its" \
	"pattern compared with the log; the part is opened on the card with the" \
	"PIN, wrapped for each domain's importer key, and sent in one command" \
	"signed by an administrator. The modules then report the pattern (MKVP)" \
	"of the key in their PENDING register; the workstation never computes it."
show "${COMMIT[@]}" load --pin-fd 4 "${ADMINS[@]}" 4<"$PRIV/custodian.pins" 5<"$PRIV/admin.pins"
say "Commit needs the signature threshold: two administrators sign."
show "${COMMIT[@]}" commit --pin-fd 4 "${ADMINS[@]}" 4<"$PRIV/custodian.pins" 5<"$PRIV/admin.pins"
say "Activate: CURRENT becomes OLD (empty here), PENDING becomes CURRENT."
show "${COMMIT[@]}" activate --pin-fd 4 "${ADMINS[@]}" 4<"$PRIV/custodian.pins" 5<"$PRIV/admin.pins"
step_end

# ---- step 7 -------------------------------------------------------------
step 7 "each domain shows its master-key pattern (MKVP); they are equal" mkvp
say "The workstation asks every domain for its registers. The MKVP is the" \
	"EP11 verification pattern of the master key, computed by each module:" \
	"equal patterns mean the same key, and a pattern tells nothing about it."
show hsmadm-domain group status $GROUP
show hsmadm-domain group compare $GROUP
quiet "reading the group's state as JSON" hsmadm-domain --json group status $GROUP
cp "$PRIV/quiet.out" "$PRIV/status.json"
jq -r '.members[] | "\(.module) domain \(.domain) \(.registers.current.mkvp // "none")"' \
	"$PRIV/status.json" >"$PRIV/mkvps" 2>/dev/null || stop_here "the group's state is not the JSON expected"
echo
while read -r mod _ dom mkvp; do
	printf '  %sMKVP of %s domain %s: %s%s\n' "$B" "$mod" "$dom" "$mkvp" "$N"
done <"$PRIV/mkvps"
MKVP=$(awk '{ print $4 }' "$PRIV/mkvps" | sort -u)
if [ "$(wc -l <"$PRIV/mkvps")" -ne 2 ] || [ "$(wc -l <<<"$MKVP")" -ne 1 ] || [ "$MKVP" = none ]; then
	stop_here "the domains do not show one and the same current MKVP (see above)"
fi
say "Both domains hold the same new master key."
step_end

# ---- step 8 -------------------------------------------------------------
step 8 "the supervisor signs the completion of the ceremony"
say "What the log holds so far, as the facilitator sees it:"
show hsmadm-ceremony show --log "$LOG"
say "The supervisor checks that the log verifies as it stands and that no step" \
	"is left open, then signs the whole log with her card. After this record" \
	"nothing can be added to the ceremony without it showing."
show hsmadm-audit sign-completion "$LOG" --card --reader "$(R 12)" --pin-fd 3 \
	--module-ca module-ca.pem 3<<<$SPIN
say "Then the trust file for the auditors: the module CA and the supervisor's" \
	"public key, written now, in front of her, and kept apart from the log. The" \
	"log alone proves nothing: anyone could re-sign an edited copy with a key" \
	"of their own."
show hsmadm-audit export-trust "$LOG" --module-ca module-ca.pem --out trust.json

# ---- step 9 ------------------------------------------------------------
step 9 "the auditor verifies the evidence log and writes the report"
say "Offline, with only the log, the vendor's module CA certificate and the" \
	"supervisor's public key: the hash chain, every signature, every module" \
	"receipt, that each command had its quorum, the key-part and master-key" \
	"patterns, and the supervisor's completion. Exit code 0 means verified."
show hsmadm-audit verify "$LOG" --module-ca module-ca.pem --supervisor-key supervisor.pub.pem
show hsmadm-audit verify "$LOG" --trust trust.json
say "The report for the audit file: the verdict, the domains and key parts" \
	"after the ceremony, every signature and receipt, and the timeline."
show hsmadm-audit report "$LOG" --module-ca module-ca.pem --supervisor-key supervisor.pub.pem
show hsmadm-audit report "$LOG" --module-ca module-ca.pem --supervisor-key supervisor.pub.pem \
	--html report.html
[ -s report.html ] || stop_here "hsmadm-audit report --html wrote no report.html"
say "The printable report is $DEMO/report.html (one self-contained page)."
hsmadm-audit report "$LOG" --module-ca module-ca.pem --supervisor-key supervisor.pub.pem \
	>report.txt 2>&1 || stop_here "hsmadm-audit report could not be saved to report.txt"

# ---- summary ------------------------------------------------------------
DONE=1
printf '\n%s%s== Done: the ceremony worked, every step of %d ==%s\n' "$GREEN" "$B" "$NSTEPS" "$N"
say "13 cards initialized; 2 modules trusted; domain 3 of DC1-M01 and DC2-M01" \
	"administered by 3 people, 2 of whom must sign each change; 3 key parts" \
	"generated and copied to backup cards; the new master key loaded," \
	"committed and active in both domains with MKVP"
printf '  %s%s%s\n' "$B" "$MKVP" "$N"
say "The supervisor signed the completion and the auditor's check says" \
	"verified. It took $((SECONDS - T_START)) seconds."
echo
say "Kept in $DEMO:"
say "  $LOG          the evidence log"
say "  report.html             the auditor's report (open it in a browser)"
say "  report.txt              the same as text"
say "  module-ca.pem, supervisor.pub.pem   what the auditor pins"
say "  trust.json              the same two anchors in one file (export-trust)"
say "  thresholds.json         the signed command that left imprint mode"
say "Check it again yourself:"
printf '    cd %s\n    %s/hsmadm-audit verify %s --module-ca module-ca.pem \\\n        --supervisor-key supervisor.pub.pem\n' \
	"$DEMO" "$BIN" "$LOG"
say "The cards, modules and PINs were temporary and are gone. Remove the rest with:"
printf '    rm -rf %s\n' "$DEMO"
