#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Benchmark: the re-encipher bench (reencipher.sh) on both key stores with
# the same number of blobs, one after the other: the module's registers in
# its files, then on a SoftHSMv2 token (p11_run.sh: every blob unwrapped
# and wrapped by AES-GCM in the token). Prints the two ratios to OpenSSL's
# own AES-256-GCM side by side. REENC_BENCH_N (default 10000) blobs each.
# Both runs fail hard only below REENC_BENCH_P11_HARD (default 0.001): at
# this size process start and TLS weigh on the file store too, and a token
# is expected to be far slower than OpenSSL in memory; the file store's
# target is bench_reencipher's, on 100,000 blobs.
set -euo pipefail
: "${HSMADM_SRC:?run through ctest}"
export REENC_BENCH_N=${REENC_BENCH_N:-10000}
out=$(mktemp -d "${TMPDIR:-/tmp}/hsmadm-bench-p11.XXXXXX")
trap 'rm -rf "$out"' EXIT
export REENC_BENCH_HARD=${REENC_BENCH_P11_HARD:-0.001}
bash "$HSMADM_SRC/tests/bench/reencipher.sh" >"$out/file" 2>&1 ||
	{ cat "$out/file" >&2; echo "FAIL: the bench on the file store" >&2; exit 1; }
bash "$HSMADM_SRC/tests/integration/p11_run.sh" "$HSMADM_SRC/tests/bench/reencipher.sh" \
	>"$out/p11" 2>&1 || { cat "$out/p11" >&2; echo "FAIL: the bench on the token" >&2; exit 1; }
grep -q "passed with its modules on 2 SoftHSMv2 token" "$out/p11" ||
	{ cat "$out/p11" >&2; echo "FAIL: the token run did not run on tokens" >&2; exit 1; }
row() {   # row NAME FILE: the job's and the reference's medians, the ratio
	awk -v n="$1" '/OpenSSL AES-256-GCM/ { r = $(NF-1) } /reencipher end to end/ { j = $(NF-1) }
		/^  ratio / { q = $2 } END { printf "  %-8s %10s %12s %8s\n", n, j, r, q }' "$2"
}
echo "reencipher: $REENC_BENCH_N blobs on each key store, one hsmadm-simd"
printf '  %-8s %10s %12s %8s\n' store "job/s" "OpenSSL/s" ratio
row file "$out/file"
row pkcs11 "$out/p11"
echo "ok: both key stores re-encipher (pkcs11: AES-GCM in the token, per blob)"
