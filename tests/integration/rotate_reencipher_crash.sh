#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# rotate_reencipher_crash.sh - the re-encipher job killed (SIGKILL) at 24
# chosen points of its batch commit (output written but not journaled, output
# torn, journal line written, journal line torn) and at 8 random moments
# (kill -9, seeded: REENC_SEED=N to replay), resumed each time; in the end
# every input blob has exactly one output line, under K2, in input order,
# and the one unreadable line exactly one failure line.
. "${HSMADM_SRC:?}/tests/integration/rotate_reencipher_common.sh"

SEED=${REENC_SEED:-$(( $(date +%s) % 100000 ))}
echo "seed $SEED (REENC_SEED=$SEED to replay)"
RANDOM=$SEED
rotation_setup "$T/ev.log"
mkdir -p "$T/c"
hsmadm-rotate blob generate pair --count 2000 --output "$T/c/gen.jsonl" --id-prefix c >/dev/null

# in.jsonl: the 2000 blobs with one unreadable line (777) and one blank line.
mkinput() {
	{ head -776 "$T/c/gen.jsonl"; echo 'garbage'; echo; tail -n +777 "$T/c/gen.jsonl"; } >"$1"
}

# exactly_once OUT FAILED LABEL: 2000 outputs, ids c-1..c-2000 in order,
# all under K2; one failure, for line 777.
exactly_once() {
	python3 - "$1" "$2" "${MK2:0:16}" <<'PY' && ok "$3: exactly once" || fail "$3: not exactly once"
import base64, json, sys
out, failed, want = sys.argv[1:4]
ids, bad = [], []
for l in open(out):
    o = json.loads(l)
    ids.append(o["id"])
    if base64.b64decode(o["blob"])[4:12].hex() != want:
        bad.append(o["id"])
f = [json.loads(l) for l in open(failed)]
ok = ids == ["c-%d" % i for i in range(1, 2001)] and not bad and \
     len(f) == 1 and f[0]["line"] == 777 and f[0]["reason"] == "bad_line"
if not ok:
    print("outputs %d, first ids %s, not under K2: %d, failures %s" % (len(ids), ids[:3], len(bad), f),
          file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}

run_job() {
	hsmadm-rotate reencipher pair --to pending --input "$1" --batch "$2" --quiet >"$T/job.out" 2>&1
}

# 1. Chosen points: each run dies in its 1st, 2nd or 3rd commit, at each phase.
mkinput "$T/c/in.jsonl"
phases=(out torn journal tornjournal)
killed=0
for i in $(seq 0 23); do
	rc=0
	HSMADM_REENC_CRASH="$(( 1 + i % 3 )):${phases[i % 4]}" run_job "$T/c/in.jsonl" 40 || rc=$?
	if [ "$rc" = 137 ]; then
		killed=$((killed + 1))
	else
		fail "crash point $i (${phases[i % 4]}): exit $rc, wanted 137 (killed)"
		sed 's/^/    | /' "$T/job.out" >&2
	fi
done
[ "$killed" = 24 ] && ok "killed at 24 chosen points" || fail "killed $killed times"
rc=0
run_job "$T/c/in.jsonl" 40 || rc=$?
[ "$rc" = 3 ] && ok "resumed to the end (exit 3: one unreadable line)" ||
	{ fail "final run: exit $rc"; cat "$T/job.out" >&2; }
grep -q "resumed" "$T/job.out" && ok "the last run resumed" || fail "no resume reported"
exactly_once "$T/c/in.reenciphered.jsonl" "$T/c/in.failed.jsonl" "chosen points"

# 2. Random moments: kill -9 while it runs, then resume.
mkinput "$T/c/r.jsonl"
for i in $(seq 1 8); do
	run_job "$T/c/r.jsonl" 20 &
	pid=$!
	sleep "0.$(( 5 + RANDOM % 30 ))"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done
ok "killed 8 times at random moments"
rc=0
run_job "$T/c/r.jsonl" 20 || rc=$?
[ "$rc" = 3 ] && ok "resumed to the end" || { fail "final run: exit $rc"; cat "$T/job.out" >&2; }
exactly_once "$T/c/r.reenciphered.jsonl" "$T/c/r.failed.jsonl" "random kills"

# A changed input is refused, not mixed in.
mkinput "$T/c/x.jsonl"
HSMADM_REENC_CRASH="2:journal" run_job "$T/c/x.jsonl" 40 || true
sed -i '1d' "$T/c/x.jsonl"
rc=0
run_job "$T/c/x.jsonl" 40 || rc=$?
[ "$rc" = 6 ] && grep -q "not the one the journal was made for" "$T/job.out" &&
	ok "a changed input is refused" || { fail "changed input: exit $rc"; cat "$T/job.out" >&2; }
finish
