#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-audit end to end on real ceremony logs (real keys, real module CA and
# OA-signed receipts): verify, replay, report, sign-completion, the tamper
# cases of DESIGN §10.5, crash recovery, and every documented exit code.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp
gen="$HSMADM_BUILD/tests/test_evlog_gen"
A=hsmadm-audit
# expect_output CODE PATTERN -- command...: tests/harness/check.sh
CHECK_KEEP_GOING=1
. "${HSMADM_SRC:?}/tests/harness/check.sh"

d=$("$gen")
log=$d/ceremony.log
ca=$d/module-ca.pem
sup=$d/supervisor.pub.pem

expect_output 0 "Usage: hsmadm-audit" -- $A --help
expect_output 0 "hsmadm-audit 0" -- $A --version
expect_output 2 "no command" -- $A
expect_output 2 "unknown command" -- $A frobnicate "$log"
expect_output 2 "unknown or incomplete option" -- $A verify "$log" --bogus
expect_output 5 "does not exist\|cannot open" -- $A verify "$tmp/none.log" --module-ca "$ca" --supervisor-key "$sup"

# a good log
expect_output 0 "verified. 18 records" -- $A verify "$log" --module-ca "$ca" --supervisor-key "$sup"
expect_output 0 '"verified": true' -- $A verify "$log" --module-ca "$ca" --supervisor-key "$sup" --json
expect_output 0 "Completed and signed by pinned supervisor Sam Supervisor" -- $A verify "$log" --module-ca "$ca" --supervisor-key "$sup"
expect_output 0 "counter 3, thresholds 2/1, admins: Alice Example, Bob Example" -- $A replay "$log" --module-ca "$ca" --supervisor-key "$sup"
expect_output 0 '"key_parts"' -- $A replay "$log" --module-ca "$ca" --supervisor-key "$sup" --json
expect_output 0 "part-1  KPVP 5a1b 2c3d" -- $A report "$log" --module-ca "$ca" --supervisor-key "$sup"
expect_output 0 "EXCEPTION: card reader swapped" -- $A report "$log" --module-ca "$ca" --supervisor-key "$sup"
expect_output 0 "Report written" -- $A report "$log" --module-ca "$ca" --supervisor-key "$sup" --html "$tmp/r.html"
grep -q '<span class="ok">VERIFIED' "$tmp/r.html" || { echo "FAIL: html verdict"; FAILS=$((FAILS+1)); }
if grep -qi '<script\|src=\|href=\|@import\|url(' "$tmp/r.html"; then
	echo "FAIL: html report is not self-contained"; FAILS=$((FAILS+1))
fi
expect_output 0 '"html"' -- $A report "$log" --module-ca "$ca" --supervisor-key "$sup" --html "$tmp/r2.html" --json

# trust anchors: the answer rests on keys from outside the log. Without them
# nothing is checked (usage error naming what to give); a pinned supervisor
# key must match.
expect_output 2 "give --supervisor-key FILE .* and --module-ca FILE" -- $A verify "$log"
expect_output 2 "seq 5: .*give --module-ca FILE" -- $A verify "$log" --supervisor-key "$sup"
expect_output 2 "supervisor-key" -- $A verify "$log" --module-ca "$ca"
expect_output 2 "supervisor-key" -- $A replay "$log" --module-ca "$ca"
expect_output 2 "supervisor-key" -- $A report "$log" --module-ca "$ca"
expect_output 2 "module-ca" -- $A sign-completion "$log" --key-file "$d/supervisor.pem"
expect_output 0 "Anchors: module CA .*supervisor key" -- $A verify "$log" --module-ca "$ca" --supervisor-key "$sup"
expect_output 0 '"anchored": true' -- $A verify "$log" --module-ca "$ca" --supervisor-key "$sup" --json
expect_output 0 '"supervisor_pinned": true' -- $A replay "$log" --module-ca "$ca" --supervisor-key "$sup" --json
expect_output 30 "seq 18: completion: .*pinned" -- $A verify "$log" --module-ca "$ca" --supervisor-key "$ca"
# a forger re-chains the log, puts their own key in the roster as supervisor
# and signs a new completion: consistent, but never "verified"
f=$("$gen" --forged)
expect_output 30 "seq 17: completion: .*pinned" -- $A verify "$f/ceremony.log" --module-ca "$f/module-ca.pem" --supervisor-key "$f/supervisor.pub.pem"
expect_output 2 "supervisor-key" -- $A verify "$f/ceremony.log" --module-ca "$f/module-ca.pem"
expect_output 22 "NOT verified: no trust anchors" -- $A verify "$f/ceremony.log" --no-anchors
expect_output 22 '"verified": false' -- $A verify "$f/ceremony.log" --no-anchors --json
if $A verify "$f/ceremony.log" --no-anchors 2>&1 | grep -q ': verified'; then
	echo "FAIL: --no-anchors said verified"; FAILS=$((FAILS+1))
fi
expect_output 2 "not both" -- $A verify "$log" --no-anchors --module-ca "$ca"
# an unfinished log may be checked with the module CA alone, but a finished
# one whose completion nothing pins is not verified
expect_output 22 "NOT verified: the completion is signed by a key found only in the log" -- $A verify "$f/ceremony.log" --module-ca "$f/module-ca.pem" --allow-incomplete
# the trust file: exported at the close, both anchors in one file
expect_output 0 "Trust file written" -- $A export-trust "$log" --module-ca "$ca" --out "$tmp/trust.json"
expect_output 0 "verified. 18 records" -- $A verify "$log" --trust "$tmp/trust.json"
expect_output 0 "Anchors: .*trust file" -- $A verify "$log" --trust "$tmp/trust.json"
expect_output 0 "VERIFIED" -- $A report "$log" --trust "$tmp/trust.json"
expect_output 30 "seq 17: completion: .*pinned" -- $A verify "$f/ceremony.log" --trust "$tmp/trust.json" --module-ca "$f/module-ca.pem"

# the loaded key is the custodians': parts loaded against parts generated
m=$("$gen" --mk-full)
expect_output 0 "verified. 24 records" -- $A verify "$m/ceremony.log" --module-ca "$m/module-ca.pem" --supervisor-key "$m/supervisor.pub.pem"
p=$("$gen" --foreign-part)
expect_output 30 "seq 16: command.applied: .*part" -- $A verify "$p/ceremony.log" --module-ca "$p/module-ca.pem" --supervisor-key "$p/supervisor.pub.pem"
q=$("$gen" --foreign-part --incomplete)
expect_output 30 "not signing" -- $A sign-completion "$q/ceremony.log" --module-ca "$q/module-ca.pem" --key-file "$q/supervisor.pem"

# tamper: an edited record (the next record's prev no longer matches)
sed '10s/part-1/part-9/' "$log" >"$tmp/edit.log"
expect_output 30 "seq 11: prev hash does not match seq 10" -- $A verify "$tmp/edit.log" --module-ca "$ca" --supervisor-key "$sup"
# a deleted record, two swapped, cut at a line boundary, cut mid-line
sed '7d' "$log" >"$tmp/del.log"
expect_output 30 "seq 7: missing or out of order" -- $A verify "$tmp/del.log" --module-ca "$ca" --supervisor-key "$sup"
awk 'NR==3{l=$0; next} NR==4{print; print l; next} {print}' "$log" >"$tmp/swap.log"
expect_output 30 "seq 3: " -- $A verify "$tmp/swap.log" --module-ca "$ca" --supervisor-key "$sup"
head -n 17 "$log" >"$tmp/cut.log"
expect_output 30 "seq 17: the log ends here without the supervisor's completion" -- $A verify "$tmp/cut.log" --module-ca "$ca" --supervisor-key "$sup"
size=$(stat -c %s "$tmp/cut.log")
head -c $((size + 40)) "$log" >"$tmp/torn.log"
expect_output 30 "seq 18: .*no line end" -- $A verify "$tmp/torn.log" --module-ca "$ca" --supervisor-key "$sup"
expect_output 30 "repairs it and records the cut" -- $A verify "$tmp/torn.log" --module-ca "$ca" --supervisor-key "$sup"
# a report of a failed log says so, and exits with the audit code
expect_output 30 "FAILED verification" -- $A report "$tmp/edit.log" --module-ca "$ca" --supervisor-key "$sup" --html "$tmp/bad.html"
grep -q '<span class="bad">FAILED at seq 11' "$tmp/bad.html" || { echo "FAIL: bad html verdict"; FAILS=$((FAILS+1)); }

# a command applied without its quorum (the module signed it anyway)
w=$("$gen" --weak-quorum)
expect_output 30 "seq 9: command.applied: thresholds.set on DC1-M01 domain 3.*1 more needed" -- $A verify "$w/ceremony.log" --module-ca "$w/module-ca.pem" --supervisor-key "$w/supervisor.pub.pem"

# write-ahead intents: three commands sent and applied, one sent with no outcome
s=$("$gen" --sent)
expect_output 0 "Commands sent: 4; 1 with no recorded outcome" -- $A verify "$s/ceremony.log" --module-ca "$s/module-ca.pem" --supervisor-key "$s/supervisor.pub.pem"
expect_output 0 '"sent_no_outcome": 1' -- $A verify "$s/ceremony.log" --module-ca "$s/module-ca.pem" --supervisor-key "$s/supervisor.pub.pem" --json
expect_output 0 "zeroize about to be sent" -- $A report "$s/ceremony.log" --module-ca "$s/module-ca.pem" --supervisor-key "$s/supervisor.pub.pem"
expect_output 0 "every record matches its schema" -- "$HSMADM_BUILD/tests/test_evlog_schema" "$s/ceremony.log"

# the supervisor's completion
i=$("$gen" --incomplete)
ilog=$i/ceremony.log
expect_output 30 "seq 17: the log ends here" -- $A verify "$ilog" --module-ca "$i/module-ca.pem" --supervisor-key "$i/supervisor.pub.pem"
expect_output 0 "Not completed yet" -- $A verify "$ilog" --module-ca "$i/module-ca.pem" --supervisor-key "$i/supervisor.pub.pem" --allow-incomplete
expect_output 2 "exactly one of" -- $A sign-completion "$ilog" --module-ca "$i/module-ca.pem"
expect_output 5 "not on the log's roster as a supervisor" -- $A sign-completion "$ilog" --module-ca "$i/module-ca.pem" --key-file "$i/alice.pem"
expect_output 0 "Completion signed: seq 18" -- $A sign-completion "$ilog" --module-ca "$i/module-ca.pem" --key-file "$i/supervisor.pem"
expect_output 0 "verified. 18 records" -- $A verify "$ilog" --module-ca "$i/module-ca.pem" --supervisor-key "$i/supervisor.pub.pem"
expect_output 6 "already ends with a completion" -- $A sign-completion "$ilog" --module-ca "$i/module-ca.pem" --key-file "$i/supervisor.pem"

# a crash cut the last record in half: the next writer repairs and records it
j=$("$gen" --incomplete --tail-witness)
jlog=$j/ceremony.log
size=$(stat -c %s "$jlog")
head -c $((size - 25)) "$jlog" >"$jlog.cut" && mv "$jlog.cut" "$jlog"
expect_output 30 "seq 18: .*no line end" -- $A verify "$jlog" --module-ca "$j/module-ca.pem" --supervisor-key "$j/supervisor.pub.pem" --allow-incomplete
expect_output 0 "Completion signed: seq 19" -- $A sign-completion "$jlog" --module-ca "$j/module-ca.pem" --key-file "$j/supervisor.pem"
expect_output 0 "torn record(s) were cut off" -- $A verify "$jlog" --module-ca "$j/module-ca.pem" --supervisor-key "$j/supervisor.pub.pem"
expect_output 0 "Torn last record cut off" -- $A report "$jlog" --module-ca "$j/module-ca.pem" --supervisor-key "$j/supervisor.pub.pem"
# ... but if the torn record was a step's end, the step is still open: no signing
k=$("$gen" --incomplete)
klog=$k/ceremony.log
size=$(stat -c %s "$klog")
head -c $((size - 25)) "$klog" >"$klog.cut" && mv "$klog.cut" "$klog"
expect_output 6 'step "setup" begun at seq 3 has not ended' -- $A sign-completion "$klog" --module-ca "$k/module-ca.pem" --key-file "$k/supervisor.pem"

# the EXAMPLES of the man page, run as written, in order, on an unfinished log
e=$("$gen" --incomplete --tail-witness)
(
	cd "$e"
	sed 's/\\e/\\/g; s/\\-/-/g' "$HSMADM_SRC/docs/man/hsmadm-audit.1" |
	awk '/^\.SH EXAMPLES/{on=1} /^\.SH FILES/{on=0} on' |
	awk '/^    hsmadm-audit [a-z]/{cmd=$0; while (cmd ~ /\\$/) {sub(/\\$/, "", cmd); getline nxt; cmd = cmd nxt} print cmd}' \
		>"$tmp/examples.sh"
	[ "$(wc -l <"$tmp/examples.sh")" -ge 4 ] || { echo "FAIL: no man page examples found"; exit 1; }
	while read -r line; do
		echo "example: $line"
		eval "$line" >/dev/null || { echo "FAIL: man page example: $line"; exit 1; }
	done <"$tmp/examples.sh"
	grep -q VERIFIED report.html
) || FAILS=$((FAILS + 1))

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all hsmadm-audit checks passed"
