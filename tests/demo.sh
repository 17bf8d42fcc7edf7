#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/demo.sh - the main job of `make demo`: the initial master-key ceremony
# (ceremony-scripts/initial-master-key.script) run by the facilitator's runner,
# hsmadm-ceremony run, in rehearsal on the embedded default: a private pcscd
# with 13 virtual cards and two emulated crypto modules as a domain pair in
# two sites. The demo only builds that room and writes the plan and the
# rehearsal's answers; the runner says each step, who acts, which card goes
# into which reader, and runs the real commands. Then the auditor's part: the
# MKVP of both domains, the verification against the plan, the reports.
# See docs/demo.md for how to read it.
#
#   bash tests/demo.sh [BUILD_DIR]      (default: build)
#
# Environment: DEMO_PAUSE=1 waits for Enter between the demo's three parts
# (on a terminal); TMPDIR is where the demo's kept directory (log, reports)
# is made.
#
# Exit status: 0 if every part worked; 1 if a part failed (the message names
# it, and for the ceremony the script's step and the command); 2 if the
# build or a tool is missing.
#
# Everything runs in private temp dirs, on a private pcscd (tests/harness/
# pcsc.sh) and on free ports, so it runs beside a system pcscd and beside the
# test suite. Every process started here is stopped on exit, by its PID.
# The PINs are in the rehearsal's answers file (mode 0600, in the private dir
# removed on exit); the runner hands them to each command on a pipe.
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
NPARTS=3
PART=0
PART_TITLE="getting ready"
DONE=0
STOPPED=0
T_START=$SECONDS
SCRIPT=$SRC/ceremony-scripts/initial-master-key.script

# part N TITLE: announce one of the demo's parts.
part() {
	PART=$1
	PART_TITLE=$2
	if [ "${DEMO_PAUSE:-}" = 1 ] && [ -t 0 ] && [ "$PART" -gt 1 ]; then
		read -r -p "${DIM}(Enter for the next demo part)${N}" _
	fi
	printf '\n%s== Demo part %d of %d: %s ==%s\n' "$B" "$PART" "$NPARTS" "$PART_TITLE" "$N"
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

# A part's command failed: say which, and stop (the EXIT trap cleans up).
stop_here() {
	STOPPED=1
	printf '\n%sThe demo stopped in demo part %d of %d (%s).%s\n' "$RED$B" "$PART" "$NPARTS" \
		"$PART_TITLE" "$N" >&2
	printf '  %s\n' "$@" >&2
	exit 1
}

# shown CMD...: print the command, run it, show its output (indented, also
# kept in $PRIV/show.out); its exit code.
shown() {
	local rc=0
	printf '\n  %s$ %s%s\n' "$B" "$(quote_cmd "$@")" "$N"
	"$@" 2>&1 | tee "$PRIV/show.out" | sed -u 's/^/    /' || rc=$?
	return "$rc"
}

# show CMD...: the same, and the demo stops if CMD fails.
show() {
	local rc=0
	shown "$@" || rc=$?
	[ "$rc" = 0 ] || stop_here "$(quote_cmd "$@") exited with code $rc (see docs/exit-codes.md)." \
		"Its output is above."
}

# quiet DESC CMD...: run a command whose output is not the point; show its
# output only if it fails.
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
. "$SRC/tests/harness/room.sh"
cleanup() {
	local rc=$?
	trap - EXIT
	room_stop 2>/dev/null
	[ -z "${DEMO:-}" ] || rm -rf "$DEMO/private"
	if [ "$DONE" != 1 ]; then
		[ "$rc" != 0 ] || rc=1
		[ "$STOPPED" = 1 ] || printf '\n%sThe demo did not finish: it stopped in demo part %d of %d (%s).%s\n' \
			"$RED$B" "$PART" "$NPARTS" "$PART_TITLE" "$N" >&2
		[ -z "${DEMO:-}" ] || echo "  What was written so far is in $DEMO." >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The kept directory: evidence log, plan, module CA certificate, supervisor
# public key, trust file, reports, the signed thresholds command. Everything
# secret (module keys, card files, the workstation's client key, the answers
# file with the PINs) lives in $PRIV, removed on exit.
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/hsmadm-demo.XXXXXX") || { echo "demo: cannot make a temp dir" >&2; exit 2; }
mkdir -m 700 "$DEMO/private" || exit 2
cd "$DEMO" || exit 2
PRIV=private    # relative to $DEMO, so the commands shown stay short
LOG=ceremony.jsonl

printf '%shsmadm demo: the initial master-key ceremony, run from its script%s\n' "$B" "$N"
say "Two crypto modules in two data centres (DC1-M01 and DC2-M01, emulated by" \
	"hsmadm-simd) each get domain 3 loaded with one new master key. Three" \
	"administrators approve every change 2-of-3 with keys on their smart cards," \
	"three custodians each hold one part of the key, a supervisor signs the" \
	"end, a witness acknowledges each step, and an auditor checks everything" \
	"afterwards from the evidence log. The facilitator runs the ceremony from" \
	"its script with hsmadm-ceremony run; this is a rehearsal, on virtual PIV" \
	"cards (hsmadm-vcard) in the readers of a private pcscd. Everything is" \
	"written under $DEMO."

# ---- part 1 -------------------------------------------------------------
part 1 "the room: card readers, new cards, two crypto modules, the plan"
say "A private smart-card service (pcscd) with 13 virtual readers, so this demo" \
	"does not disturb real readers, and a factory-fresh virtual card in each," \
	"all inserted together. Then the two modules: DC2-M01 is made by the same" \
	"vendor CA as DC1-M01, and both accept workstations whose TLS certificate" \
	"comes from the same client CA; the workstation gets one."
t_room=$EPOCHREALTIME
room_start "$DEMO/$PRIV" || stop_here "the room could not be set up (the reason is above)."
t_room=$(awk -v a="$t_room" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
say "pcscd, 13 new cards and both modules are up in $t_room s."
say "Module DC1-M01 serves on 127.0.0.1:${ROOM_MPORT[m1]} (pid ${ROOM_MPID[m1]})."
say "Module DC2-M01 serves on 127.0.0.1:${ROOM_MPORT[m2]} (pid ${ROOM_MPID[m2]})."
cp "$PRIV/m1/ca.pem" module-ca.pem || stop_here "could not copy the module CA certificate"
room_plan plan.json module-ca.pem demo-bank || stop_here "could not write the plan plan.json"
say "The plan (plan.json) names the installation, the two sites, the modules and" \
	"the domain pair, and every person with the card they bring and the reader" \
	"it goes into:"
jq -r '.people[] | [.role, .name, ([(.card // empty), (.backups // [])[]]
	| map("\(.label) in \"\(.reader)\"") | join(", "))] | @tsv' plan.json >"$PRIV/people" ||
	stop_here "plan.json is not the JSON expected"
awk -F '\t' '{ printf "    %-11s %-15s %s\n", $1, $2, $3 }' "$PRIV/people"
room_answers "$PRIV/answers" || stop_here "could not write the rehearsal's answers file"
say "The rehearsal's answers ($PRIV/answers, readable by its owner only) stand" \
	"for the people at the keyboard: each holder's PIN and PUK, the factory PIN" \
	"of the new cards, and the module fingerprints the operators read aloud."

# ---- part 2 -------------------------------------------------------------
part 2 "the ceremony: hsmadm-ceremony run, in rehearsal"
say "The runner checks that every card of the plan is a virtual card, opens the" \
	"evidence log with the SHA-256 of the script and of the plan, and runs the" \
	"seven steps: each is begun and ended in the log, each command is shown and" \
	"run for real, and the witness acknowledges what the step's confirm lines" \
	"say. In a real ceremony the facilitator presses Enter before each step and" \
	"command, the witness types yes, and each person types their own PIN into" \
	"the command that asks for it. In a rehearsal the runner hands each PIN or" \
	"answer from the answers file to the command on a pipe: --pin-fd 20 in a" \
	"command shown names that pipe, never the PIN. At the end the supervisor" \
	"signs the completion with her card."
rc=0
shown hsmadm-ceremony run "$SCRIPT" --plan plan.json --log "$LOG" --rehearsal "$PRIV/answers" || rc=$?
if [ "$rc" != 0 ]; then
	# The runner's own message names the script's step that failed; the log
	# records that step ended "failed", with an exception.
	what=$(sed -n 's/^hsmadm-ceremony: \(step [0-9]* ([a-z]*)\) stopped: .*/\1/p' "$PRIV/show.out" | tail -1)
	stop_here "hsmadm-ceremony run exited with code $rc (see docs/exit-codes.md) in ${what:-no step (before the first step began)} of $(basename "$SCRIPT")." \
		"Its output is above; $LOG records the step as failed, with an exception."
fi

# ---- part 3 -------------------------------------------------------------
part 3 "the auditor: both domains' MKVP, the evidence verified, the report"
say "The workstation asks each domain of the pair for its registers. The MKVP is" \
	"the verification pattern of the master key, computed by each module:" \
	"equal patterns mean the same key, and a pattern tells nothing about it."
quiet "reading the group's state as JSON" hsmadm-domain --json group status pair
jq -r '.members[] | "\(.module) domain \(.domain) \(.registers.current.mkvp // "none")"' \
	"$PRIV/quiet.out" >"$PRIV/mkvps" 2>/dev/null || stop_here "the group's state is not the JSON expected"
echo
while read -r mod _ dom mkvp; do
	printf '  %sMKVP of %s domain %s: %s%s\n' "$B" "$mod" "$dom" "$mkvp" "$N"
done <"$PRIV/mkvps"
MKVP=$(awk '{ print $4 }' "$PRIV/mkvps" | sort -u)
if [ "$(wc -l <"$PRIV/mkvps")" -ne 2 ] || [ "$(wc -l <<<"$MKVP")" -ne 1 ] || [ "$MKVP" = none ]; then
	stop_here "the domains do not show one and the same current MKVP (see above)"
fi
ACT=$(jq -r 'select(.type == "mk.activated") | .body.domains[].mkvp' "$LOG" | sort -u)
[ "$ACT" = "$MKVP" ] || stop_here "the log's mk.activated records '$ACT', the domains show $MKVP"
say "Both domains hold the same new master key, and the log's activation record" \
	"holds that pattern."
say "The auditor pins two things from outside the log: the vendor's module CA" \
	"certificate and the supervisor's public key, taken here from the" \
	"certificate on her card with a standard PIV tool. The log alone proves" \
	"nothing: anyone could re-sign an edited copy with a key of their own."
show yubico-piv-tool -r "$(harness_reader_name 12)" -a read-certificate -s 9c -o "$PRIV/supervisor.crt"
show openssl x509 -in "$PRIV/supervisor.crt" -noout -pubkey -out supervisor.pub.pem
show hsmadm-audit export-trust "$LOG" --module-ca module-ca.pem --out trust.json
say "Offline, with the log, those two anchors and the plan: the hash chain, every" \
	"signature, every module receipt, that each command had its quorum, the" \
	"key-part and master-key patterns, the supervisor's completion, and that the" \
	"log fulfils the plan (every person and card, the thresholds, one key in" \
	"both domains of the pair). Exit code 0 means verified."
show hsmadm-audit verify "$LOG" --module-ca module-ca.pem --supervisor-key supervisor.pub.pem \
	--plan plan.json
say "The report for the audit file: the verdict, the domains and key parts" \
	"after the ceremony, every signature and receipt, and the timeline."
show hsmadm-audit report "$LOG" --module-ca module-ca.pem --supervisor-key supervisor.pub.pem
cp "$PRIV/show.out" report.txt || stop_here "the report could not be saved to report.txt"
show hsmadm-audit report "$LOG" --module-ca module-ca.pem --supervisor-key supervisor.pub.pem \
	--html report.html
[ -s report.html ] || stop_here "hsmadm-audit report --html wrote no report.html"

# ---- summary ------------------------------------------------------------
DONE=1
printf '\n%s%s== Done: the ceremony worked, every step of the script and every part of the demo ==%s\n' \
	"$GREEN" "$B" "$N"
say "The runner took the 13 new cards through initialization, 2 modules trusted," \
	"domain 3 of DC1-M01 and DC2-M01 administered by 3 people, 2 of whom must" \
	"sign each change; 3 key parts generated and copied to backup cards; the new" \
	"master key loaded, committed and active in both domains with MKVP"
printf '  %s%s%s\n' "$B" "$MKVP" "$N"
say "The supervisor signed the completion and the auditor's check says" \
	"verified, with the plan fulfilled. It took $((SECONDS - T_START)) seconds."
echo
say "Kept in $DEMO:"
say "  $LOG          the evidence log"
say "  plan.json               the ceremony plan it fulfils"
say "  report.html             the auditor's report (open it in a browser)"
say "  report.txt              the same as text"
say "  module-ca.pem, supervisor.pub.pem   what the auditor pins"
say "  trust.json              the same two anchors in one file (export-trust)"
say "  thresholds.json         the signed command that left imprint mode"
say "Check it again yourself:"
printf '    cd %s\n    %s/hsmadm-audit verify %s --module-ca module-ca.pem \\\n        --supervisor-key supervisor.pub.pem --plan plan.json\n' \
	"$DEMO" "$BIN" "$LOG"
say "The cards, modules and PINs were temporary and are gone. Remove the rest with:"
printf '    rm -rf %s\n' "$DEMO"
