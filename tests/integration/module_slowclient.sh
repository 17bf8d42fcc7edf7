#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# module_slowclient.sh - a slow client does not lock everyone out of a module.
# 64 connections from one address (127.0.0.2) each send a TLS record header
# and then one byte every 4 s: every read is quick, so only a deadline on the
# whole handshake ends them. The module keeps at most --max-per-client (16)
# of them, and closes those within the 10 s handshake deadline; meanwhile a
# real workstation (127.0.0.1) gets through within 2 s. An authenticated
# client that drips one frame is closed at the 30 s frame deadline.
. "$(dirname "$0")/domain_common.sh"
D=hsmadm-domain

init_module m1 DC1-M01
start_module m1
setup_workstation m1

expect_exit 2 "--max-per-client 0 is refused" -- hsmadm-simd serve --dir "$T/m1" --max-per-client 0
expect_exit 2 "--max-per-client above 64 is refused" -- hsmadm-simd serve --dir "$T/m1" --max-per-client 65

# slow.py MODE PORT OUT: MODE hs = 64 unauthenticated dripping connections,
# frame = one authenticated connection dripping a frame header.
cat >"$T/slow.py" <<'PY'
import select, socket, ssl, sys, time
mode, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def note(s):
    with open(out, 'a') as f:
        f.write(s + '\n')
t0 = time.monotonic()
socks = {}
if mode == 'hs':
    for i in range(64):
        s = socket.socket()
        s.bind(('127.0.0.2', 0))
        s.connect(('127.0.0.1', port))
        try:
            s.send(bytes([0x16, 0x03, 0x01, 0x02, 0x00]))   # a 512-byte record follows...
        except OSError:
            continue
        socks[s] = None
    end = 16
else:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(sys.argv[4])
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)))
    s.send(b'\x00')                                        # a frame header, slowly
    socks[s] = None
    t0 = time.monotonic()
    end = 40
last_send = time.monotonic()
noted = False
while time.monotonic() - t0 < end and any(v is None for v in socks.values()):
    live = [s for s, v in socks.items() if v is None]
    r, _, _ = select.select(live, [], [], 0.25)
    for s in r:
        try:
            gone = s.recv(4096) == b''
        except ssl.SSLWantReadError:
            gone = False
        except OSError:
            gone = True
        if gone:
            socks[s] = time.monotonic() - t0
    if not noted and time.monotonic() - t0 >= 1.5:
        note('open_at_1s=%d' % sum(v is None for v in socks.values()))
        noted = True
    if time.monotonic() - last_send >= 4:
        last_send = time.monotonic()
        for s, v in socks.items():
            if v is None:
                try:
                    s.send(b'\x00')
                except OSError:
                    socks[s] = time.monotonic() - t0
still = sum(v is None for v in socks.values())
closed = [v for v in socks.values() if v is not None]
note('still_open=%d' % still)
note('last_closed_at=%.1f' % (max(closed) if closed else -1))
PY

python3 "$T/slow.py" frame "${PORT[m1]}" "$T/frame.txt" "$T/ca.pem" "$T/ws.pem" "$T/ws.key" &
FRAME_PID=$!
PID[slowframe]=$FRAME_PID
python3 "$T/slow.py" hs "${PORT[m1]}" "$T/hs.txt" &
HS_PID=$!
PID[slowhs]=$HS_PID
for _ in $(seq 1 50); do
	[ -s "$T/hs.txt" ] && break
	sleep 0.1
done
grep -q open_at_1s "$T/hs.txt" || fail "the slow clients did not start"
n=$(sed -n 's/^open_at_1s=//p' "$T/hs.txt")
if [ "$n" -le 16 ]; then ok "one address holds at most 16 connections ($n)"; else
	fail "one address holds $n connections, more than the cap of 16"; fi

# The real workstation, while the slow clients hold their slots.
t1=$(date +%s%N)
rc=0
timeout 10 $D module show m1 >"$T/out" 2>&1 || rc=$?
t2=$(date +%s%N)
ms=$(( (t2 - t1) / 1000000 ))
if [ "$rc" = 0 ] && [ "$ms" -lt 2000 ]; then ok "a workstation still gets through within 2 s ($ms ms)"; else
	fail "the workstation got exit $rc after $ms ms: $(cat "$T/out")"; fi

wait "$HS_PID" || fail "slow client script failed"
if grep -q '^still_open=0$' "$T/hs.txt"; then ok "every slow handshake was closed"; else
	fail "slow handshakes outlived the deadline: $(tr '\n' ' ' <"$T/hs.txt")"; fi
last=$(sed -n 's/^last_closed_at=//p' "$T/hs.txt")
if awk -v t="$last" 'BEGIN { exit !(t >= 9 && t <= 13.5) }'; then
	ok "closed at the 10 s handshake deadline ($last s)"; else
	fail "the last slow handshake was closed after $last s, not about 10 s"; fi
grep -q 'refusing another' "$T/m1.log" && grep -q '127.0.0.2' "$T/m1.log" &&
	ok "the module says whose connection it refused" || fail "no refusal naming 127.0.0.2 in the log"

wait "$FRAME_PID" || fail "slow frame script failed"
last=$(sed -n 's/^last_closed_at=//p' "$T/frame.txt")
if grep -q '^still_open=0$' "$T/frame.txt" &&
   awk -v t="$last" 'BEGIN { exit !(t >= 29 && t <= 33) }'; then
	ok "a dripped frame is closed at the 30 s frame deadline ($last s)"; else
	fail "a dripped frame: $(tr '\n' ' ' <"$T/frame.txt")"; fi
expect_exit 0 "the workstation still works afterwards" -- $D module show m1
finish
