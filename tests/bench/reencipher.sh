#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Benchmark: `hsmadm-rotate reencipher` end to end (process start, TLS, the
# JSON framing, the module's unwrap and wrap, the output and its fsync'ed
# journal) through ONE hsmadm-simd, against OpenSSL's own AES-256-GCM
# decrypt + encrypt of blobs of the same size (reencipher_ref), in the same
# run. Target: the job at 10% or more of the reference rate.
#
# Fair by construction: ROUNDS rounds (REENC_BENCH_ROUNDS, default 5), each
# running the reference for about as long as the job and then the job on
# its share of the blobs (REENC_BENCH_N in all: default 100000 under ctest,
# REENC_BENCH_N=1000000 for the acceptance size), alternating so that
# machine load hits both alike; the ratio is of the medians.
# Memory: the job's peak RSS on a round of N/ROUNDS blobs and on one of
# N/(4*ROUNDS) must be close (flat in the number of blobs).
# Fails hard only below REENC_BENCH_HARD (default 0.03):
# a loaded shared machine must not fail the build; MISS is printed.
. "$(dirname "$0")/../integration/rotate_reencipher_common.sh"

N=${REENC_BENCH_N:-100000}
ROUNDS=${REENC_BENCH_ROUNDS:-5}
HARD=${REENC_BENCH_HARD:-0.03}
REF=${HSMADM_BUILD:?}/tests/reencipher_ref
PER=$(( N / ROUNDS ))

rotation_setup "$T/ev.log"
# One module: a group of domain 5 of m1 only.
hsmadm-domain group create one m1:5 >/dev/null
mkdir -p "$T/b"
hsmadm-rotate blob generate one --count "$PER" --output "$T/b/gen.jsonl" >/dev/null
for r in $(seq 1 "$ROUNDS"); do cp "$T/b/gen.jsonl" "$T/b/r$r.jsonl"; done
head -n $(( PER / 4 )) "$T/b/gen.jsonl" >"$T/b/small.jsonl"

# rss_run CMD...: run it, print "SECONDS MAXRSS_KB" (its exit code must be 0).
rss_run() {
	python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
el = time.monotonic() - t
if r.returncode != 0:
    sys.exit("exit %d" % r.returncode)
print("%.4f %d" % (el, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
}

refs=() subs=() rss=()
ref_secs=0.5
for r in $(seq 1 "$ROUNDS"); do
	refs+=("$("$REF" "$ref_secs" | awk '{print $2}')")
	read -r secs kb < <(rss_run hsmadm-rotate reencipher one --to pending \
		--input "$T/b/r$r.jsonl" --quiet) || { echo "FAIL: the job failed" >&2; exit 1; }
	subs+=("$(python3 -c "print(round($PER / $secs))")")
	rss+=("$kb")
	ref_secs=$secs
	echo "round $r: reference ${refs[-1]} blobs/s, job ${subs[-1]} blobs/s (${secs}s, peak RSS ${kb} kB)"
done
read -r _ small_kb < <(rss_run hsmadm-rotate reencipher one --to pending --input "$T/b/small.jsonl" --quiet)

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mref=$(median "${refs[@]}")
msub=$(median "${subs[@]}")
mrss=$(median "${rss[@]}")
ratio=$(python3 -c "print('%.3f' % ($msub / $mref))")
echo "reencipher: $N blobs in $ROUNDS rounds, 84-byte blobs, one hsmadm-simd"
echo "  OpenSSL AES-256-GCM decrypt+encrypt (median) $mref blobs/s"
echo "  hsmadm-rotate reencipher end to end (median) $msub blobs/s"
echo "  ratio $ratio (target >= 0.10): $(python3 -c "print('PASS' if $ratio >= 0.10 else 'MISS')")"
echo "  peak RSS: ${small_kb} kB for $(( PER / 4 )) blobs, ${mrss} kB for $PER blobs"
python3 -c "import sys; sys.exit(0 if $mrss <= 1.5 * $small_kb + 8192 else 1)" &&
	ok "memory flat in the number of blobs" || fail "memory grows with the blobs"
python3 -c "import sys; sys.exit(0 if $ratio >= $HARD else 1)" &&
	ok "ratio $ratio >= hard limit $HARD" || fail "ratio $ratio below the hard limit $HARD"
finish
