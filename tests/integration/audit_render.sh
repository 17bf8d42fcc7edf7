#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The auditor's HTML report as a browser shows and prints it: headless
# chromium renders a verified report and a failed one; the screenshots are
# not blank (text on the page), the failed one shows its red verdict, and
# printing gives a PDF of whole pages.
set -euo pipefail
: "${HSMADM_BUILD:?run through ctest}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp HOME=$tmp
CHECK_KEEP_GOING=1
. "${HSMADM_SRC:?}/tests/harness/check.sh"
command -v chromium >/dev/null || { echo "FAIL: chromium is missing; install it with: make deps"; exit 1; }
gen="$HSMADM_BUILD/tests/test_evlog_gen"
A=hsmadm-audit

d=$("$gen" --mk-full)
anc=(--module-ca "$d/module-ca.pem" --supervisor-key "$d/supervisor.pub.pem")
expect_output 0 "Report written" -- $A report "$d/ceremony.log" "${anc[@]}" --html "$tmp/ok.html"
sed '10s/part-1/part-9/' "$d/ceremony.log" >"$tmp/edit.log"
expect_output 30 "Report written" -- $A report "$tmp/edit.log" "${anc[@]}" --html "$tmp/bad.html"

shot() {	# HTML PNG: render at A4-ish width
	timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--window-size=1000,1400 --screenshot="$2" "file://$1" >"$tmp/chromium.log" 2>&1 ||
		{ cat "$tmp/chromium.log"; return 1; }
}
# pixels.py PNG: "NONWHITE_PERMILLE RED_PIXELS" of an 8-bit RGB(A) PNG
cat >"$tmp/pixels.py" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w = 8, b'', 0
while pos < len(data):
    n, t = struct.unpack('>I4s', data[pos:pos + 8])
    c = data[pos + 8:pos + 8 + n]
    if t == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', c[:10])
        assert depth == 8 and ctype in (2, 6), 'unexpected PNG format'
        bpp = 3 if ctype == 2 else 4
    elif t == b'IDAT':
        idat += c
    pos += 12 + n
raw, stride = zlib.decompress(idat), w * bpp
prev, nonwhite, red = bytearray(stride), 0, 0
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, cc = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - cc; pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else cc)) & 255
    for x in range(0, stride, bpp):
        r, g, bl = line[x], line[x + 1], line[x + 2]
        if r + g + bl < 600: nonwhite += 1
        if r > 140 and g < 60 and bl < 60: red += 1
    prev = line
print(nonwhite * 1000 // (w * h), red)
PY
shot "$tmp/ok.html" "$tmp/ok.png" || fail "chromium could not render the report"
read -r ink red < <(python3 "$tmp/pixels.py" "$tmp/ok.png")
[ "$ink" -ge 10 ] && ok "the verified report is not blank (${ink}‰ ink)" ||
	fail "the verified report renders blank (${ink}‰ ink)"
shot "$tmp/bad.html" "$tmp/bad.png" || fail "chromium could not render the failed report"
read -r ink red < <(python3 "$tmp/pixels.py" "$tmp/bad.png")
[ "$ink" -ge 10 ] && [ "$red" -gt 20 ] && ok "the failed report shows its red verdict ($red red pixels)" ||
	fail "the failed report: ${ink}‰ ink, $red red pixels"
timeout 90 chromium --headless --no-sandbox --disable-gpu --print-to-pdf="$tmp/ok.pdf" \
	"file://$tmp/ok.html" >"$tmp/chromium.log" 2>&1 || fail "chromium could not print the report"
pages=$(grep -ao '/Count [0-9]*' "$tmp/ok.pdf" | head -n 1 | tr -dc '0-9')
[ "$(head -c 4 "$tmp/ok.pdf")" = "%PDF" ] && [ "${pages:-0}" -ge 1 ] && ok "printed: $pages page(s)" ||
	fail "printing gave no PDF pages"
check_done
