#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Benchmark: one admin signature (select, verify PIN, sign with 9C) by hsmadm
# against yubico-piv-tool -a verify-pin -a test-signature, on the same virtual
# card through the same private pcscd. Prints APDUs and milliseconds per
# signature and the ratios. Fails if hsmadm sends more APDUs than
# yubico-piv-tool, or if a signature takes far longer than the 5 ms target
# (over 50 ms means something is broken, e.g. Nagle's algorithm on the wire).
. "${HSMADM_SRC:?}/tests/integration/card_common.sh"
N=${CARD_BENCH_N:-20}
HELPER=${HSMADM_BUILD:?}/tests/card_sign
[ -x "$HELPER" ] || fail "$HELPER not built"
card_setup 1
new_card 0
R=$(harness_reader_name 0)
init_card 0 admin "Ben Bench" 24682468 13571357 >/dev/null

line=$("$HELPER" "$R" "$N" 3<<<24682468) || fail "hsmadm signatures"
echo "hsmadm:          $line"
h_apdus=$(sed -E 's/.*apdus_per_sig=([0-9.]+).*/\1/' <<<"$line")
h_ms=$(sed -E 's/.*ms_per_sig=([0-9.]+).*/\1/' <<<"$line")

if command -v yubico-piv-tool >/dev/null; then
	yubico-piv-tool -r "$R" -a read-certificate -s 9c -o "$W/c.pem" >/dev/null 2>&1 || fail "read cert"
	y_apdus=$(yubico-piv-tool -r "$R" -v9 --pin=24682468 -a verify-pin -a test-signature -s 9c \
		-i "$W/c.pem" 2>&1 | grep -c '^> ') || fail "yubico-piv-tool test-signature"
	t0=$(date +%s%N)
	for ((i = 0; i < N; i++)); do
		yubico-piv-tool -r "$R" --pin=24682468 -a verify-pin -a test-signature -s 9c \
			-i "$W/c.pem" >/dev/null 2>&1 || fail "yubico-piv-tool run $i"
	done
	y_ms=$(awk -v a="$t0" -v b="$(date +%s%N)" -v n="$N" 'BEGIN { printf "%.3f", (b - a) / 1e6 / n }')
	echo "yubico-piv-tool: signatures=$N apdus_per_sig=$y_apdus ms_per_sig=$y_ms (whole process)"
	awk -v ha="$h_apdus" -v ya="$y_apdus" -v hm="$h_ms" -v ym="$y_ms" 'BEGIN {
		printf "ratio hsmadm/yubico-piv-tool: APDUs %.2f, time %.2f\n", ha / ya, hm / ym }'
	awk -v ha="$h_apdus" -v ya="$y_apdus" 'BEGIN { exit !(ha <= ya) }' ||
		fail "hsmadm sends more APDUs per signature ($h_apdus) than yubico-piv-tool ($y_apdus)"
	pass "hsmadm sends no more APDUs than yubico-piv-tool"
fi
awk -v m="$h_ms" 'BEGIN { exit !(m < 5) }' && pass "under 5 ms per signature" ||
	echo "WARN: $h_ms ms per signature, target is under 5 ms (a loaded machine?)"
awk -v m="$h_ms" 'BEGIN { exit !(m < 50) }' || fail "$h_ms ms per signature is far off the target"
echo "card_sign: done"
