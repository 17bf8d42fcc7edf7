#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# DESIGN §10 invariants 1 and 6, checked on the built commands, not on the
# library:
#  1. every command that handles a secret (hsmadm-card, hsmadm-mkpart,
#     hsmadm-commit, hsmadm-domain) runs with core dumps off: while it waits
#     (for a PIN on a descriptor, for a card, or on its first message),
#     /proc/PID/limits says "Max core file size 0" and the process is not
#     dumpable. Dumpable shows in /proc/PID: the kernel gives a non-dumpable
#     process's /proc files to root, so the commands run as an unprivileged
#     user (nobody when this test runs as root) and a control process started
#     the same way (core limit raised, dumpable) must look different, or the
#     check proves nothing.
#  6. no command takes a PIN from argv or the environment: every option in the
#     --help texts that takes a PIN/PUK/password value is a *-fd option; a
#     PIN given as an option or in the usual environment variables is not
#     used (the right PIN there would have worked); the same PIN on a
#     descriptor does work; the sources read no environment variable but
#     HSMADM_HOME and HOME.
set -euo pipefail
. "${HSMADM_SRC:?}/tests/harness/pcsc.sh"
export PATH="$HSMADM_BIN:$PATH"

# Every check is reported, then the test says how many failed.
CHECK_KEEP_GOING=1
. "${HSMADM_SRC:?}/tests/harness/check.sh"
WAITERS=()
stop_waiters() {
	local p
	for p in "${WAITERS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
	WAITERS=()
}
trap 'stop_waiters; harness_stop' EXIT

harness_start 2   # slot 0: a factory-fresh card (PIN 123456); slot 1 stays empty
W=$HARNESS_DIR
hsmadm-vcard create "$W/c0.json" --serial 4242 >/dev/null
harness_insert "$W/c0.json" 0
R=$(harness_reader_name 0)

# The commands run as an unprivileged user: as root, /proc ownership cannot
# tell a non-dumpable process from a dumpable one.
AS=()
RUN_UID=$(id -u)
if [ "$RUN_UID" -eq 0 ]; then
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	RUN_UID=65534
	chmod 711 "$W"
	chmod 666 "$W/pcscd.comm" 2>/dev/null || true
fi
# Core files allowed in what we start, so a command that does not turn them
# off shows a non-zero limit.
ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -H -c)" 2>/dev/null || true
if [ "$(ulimit -c)" = 0 ]; then
	echo "note: the hard core limit is 0 here; the limit check cannot fail, the dumpable check still can"
fi

# Inputs that never come: a FIFO held open for writing by this shell (a
# reader blocks instead of seeing end of file), and a full FIFO for stderr
# (the command blocks on its first message, after its start-up).
mkfifo "$W/never"
exec 7<>"$W/never"
chmod 666 "$W/never"
full_fifo() {	# NAME: a FIFO on fd 8, its buffer filled
	mkfifo "$W/$1"
	exec 8<>"$W/$1"
	dd if=/dev/zero of="$W/$1" bs=4096 count=1024 oflag=nonblock conv=notrunc \
		status=none 2>/dev/null || true
}

core_limit() { awk '/^Max core file size/ { print $5 }' "/proc/$1/limits" 2>/dev/null; }
proc_owner() { stat -c %u "/proc/$1/status" 2>/dev/null; }
# secured PID: core limit 0 and /proc/PID given to root (not dumpable)
secured() { [ "$(core_limit "$1")" = 0 ] && [ "$(proc_owner "$1")" = 0 ]; }

# Control: the same start without the command's secure_init is seen as
# unsecured, so the check below can fail.
"${AS[@]}" sleep 60 &
ctl=$!
WAITERS+=("$ctl")
sleep 0.3
if secured "$ctl"; then
	fail "control: a plain process already looks secured (limit $(core_limit "$ctl"), owner $(proc_owner "$ctl")): the check cannot tell"
else
	ok "control: a plain process shows core limit $(core_limit "$ctl") and /proc owned by uid $(proc_owner "$ctl")"
fi
stop_waiters

# waiting NAME PID: within 20 s, PID is secured while it still waits.
waiting() {
	local name=$1 pid=$2 i
	for i in $(seq 1 200); do
		if ! kill -0 "$pid" 2>/dev/null; then
			fail "$name: exited before it could be checked"
			return 1
		fi
		if secured "$pid"; then
			ok "$name: core limit 0 and not dumpable while it waits"
			return 0
		fi
		sleep 0.1
	done
	fail "$name: core limit $(core_limit "$pid"), /proc owned by uid $(proc_owner "$pid") (want 0 and 0: not dumpable)"
	return 1
}

# hsmadm-card waits for the current PIN on descriptor 3; give it (and the
# new PIN) afterwards: the change goes through, so it was that wait.
"${AS[@]}" hsmadm-card pin change --reader "$R" --pin-fd 3 --new-pin-fd 3 3<&7 >"$W/card.out" 2>&1 &
pid=$!
WAITERS+=("$pid")
if waiting "hsmadm-card pin change (PIN on a descriptor)" "$pid"; then
	printf '123456\n24682468\n' >&7
	rc=0
	wait "$pid" || rc=$?
	WAITERS=()
	if [ "$rc" -eq 0 ]; then ok "hsmadm-card: took the PINs from the descriptor it waited on"; else
		fail "hsmadm-card: exit $rc after the PINs came"
		sed 's/^/    | /' "$W/card.out" >&2
	fi
fi
stop_waiters

# hsmadm-mkpart waits for a custodian card (there is none).
"${AS[@]}" hsmadm-mkpart generate --part inv-p1 --pin-fd 3 --timeout 60 \
	--allow-default-mgmt-key 3<&7 >/dev/null 2>"$W/mkpart.err" &
pid=$!
WAITERS+=("$pid")
if waiting "hsmadm-mkpart generate (waiting for a card)" "$pid"; then
	grep -qi "insert" "$W/mkpart.err" && ok "hsmadm-mkpart: it was asking for a card" ||
		{ fail "hsmadm-mkpart: not waiting for a card"; sed 's/^/    | /' "$W/mkpart.err" >&2; }
fi
stop_waiters

# hsmadm-commit and hsmadm-domain: blocked on their first message (stderr is
# the full FIFO), after start-up; then the message is drained and they exit
# with the error that message was about.
drain_and_wait() {	# FIFO PID WANT_RC NAME TEXT: read the FIFO until PID ends
	local pid=$2 want=$3 name=$4 rc=0 dr
	timeout 10 cat "$W/$1" >"$W/$1.txt" 2>/dev/null 8>&- &
	dr=$!
	wait "$pid" || rc=$?
	exec 8>&-   # the last writer: the reader sees the end once it has read all
	wait "$dr" 2>/dev/null || true
	WAITERS=()
	if [ "$rc" -eq "$want" ] && tr -d '\0' <"$W/$1.txt" | grep -q "$5"; then
		ok "$name: exit $rc once its message was read ($5)"
	else
		fail "$name: exit $rc (wanted $want), message: $(tr -d '\0' <"$W/$1.txt")"
	fi
}
mkdir -p "$W/home"
chmod 700 "$W/home"
[ "$(id -u)" -ne 0 ] || chown 65534:65534 "$W/home"
full_fifo full1
"${AS[@]}" hsmadm-commit status --group g1 --part p1 --part p2 --log "$W/no-such.log" \
	--home "$W/home" >/dev/null 2>&8 &
pid=$!
WAITERS+=("$pid")
waiting "hsmadm-commit (blocked on its first message)" "$pid" &&
	drain_and_wait full1 "$pid" 5 hsmadm-commit "no-such.log"
stop_waiters
full_fifo full2
"${AS[@]}" hsmadm-domain --home "$W/home" group show no-such-group >/dev/null 2>&8 &
pid=$!
WAITERS+=("$pid")
waiting "hsmadm-domain (blocked on its first message)" "$pid" &&
	drain_and_wait full2 "$pid" 5 hsmadm-domain "no-such-group"
stop_waiters

# ---- invariant 6 ----
# Every option that takes a PIN, PUK or password value is a descriptor. The
# one other form: hsmadm-simd --pin-file FILE names a file (a path, no
# secret) that must belong to the user and be unreadable to others (the
# token PIN of a pkcs11 module, read at every start; module_p11 shows a
# file others can read refused).
nfd=0
for c in "$HSMADM_BIN"/hsmadm-*; do
	name=$(basename "$c")
	help=$("$c" --help 2>&1) || true
	while read -r opt val; do
		[ -n "$opt" ] || continue
		case "$opt" in
		*-fd)
			nfd=$((nfd + 1))
			[ "$val" = N ] || fail "$name: $opt takes '$val', not a descriptor number N" ;;
		--pin-file)
			[ "$name/$val" = hsmadm-simd/FILE ] ||
				fail "$name: $opt takes '$val' (only hsmadm-simd's token PIN file is allowed)" ;;
		*) fail "$name: $opt takes a secret ($val) on the command line" ;;
		esac
	done < <(grep -oiE -- '--[a-z0-9-]*(pin|puk|pass|password|passphrase|secret)[a-z0-9-]*[ =][A-Z][A-Z_]*' \
		<<<"$help" | tr '=' ' ' | sort -u)
done
[ "$nfd" -ge 8 ] && ok "--help: $nfd PIN/PUK options, all *-fd N" ||
	fail "--help: only $nfd *-fd PIN options found (the check looks at nothing)"

# The right PIN on the command line or in the environment is not used: with
# no terminal and no descriptor the command says so and changes nothing.
setsid -w env HSMADM_PIN=24682468 HSMADM_NEW_PIN=13572468 PIN=24682468 NEW_PIN=13572468 \
	PIV_PIN=24682468 HSMADM_CARD_PIN=24682468 \
	hsmadm-card pin change --reader "$R" </dev/null >"$W/env.out" 2>&1 && rc=0 || rc=$?
[ "$rc" -ne 0 ] && grep -q "descriptor" "$W/env.out" &&
	ok "PIN in the environment not used (exit $rc: asks for a descriptor)" ||
	{ fail "PIN in the environment: exit $rc"; sed 's/^/    | /' "$W/env.out" >&2; }
for form in "--pin 24682468 --new-pin 13572468" "--pin=24682468 --new-pin=13572468"; do
	# shellcheck disable=SC2086
	setsid -w hsmadm-card pin change --reader "$R" $form </dev/null >"$W/argv.out" 2>&1 && rc=0 || rc=$?
	[ "$rc" -ne 0 ] && ok "PIN as '$form' refused (exit $rc)" ||
		fail "PIN as '$form': exit $rc"
done
# An option that looks like --pin VALUE is at most read as a descriptor
# number (getopt accepts --pin for --pin-fd) and refused as one.
while read -r c args; do
	# shellcheck disable=SC2086
	setsid -w "hsmadm-$c" $args --pin 24682468 </dev/null >"$W/argv.out" 2>&1 && rc=0 || rc=$?
	if [ "$rc" -eq 2 ] && grep -q -- "--pin-fd needs a file descriptor number" "$W/argv.out"; then
		ok "hsmadm-$c $args --pin VALUE: refused as a descriptor number (exit 2)"
	else
		fail "hsmadm-$c $args --pin VALUE: exit $rc"
		sed 's/^/    | /' "$W/argv.out" >&2
	fi
done <<EOT
mkpart generate --part inv-p2 --timeout 1
commit load --group g1 --part p1 --part p2 --log $W/no-such.log
EOT
# ...while the same PIN on a descriptor works: nothing above changed it.
hsmadm-card pin change --reader "$R" --pin-fd 3 --new-pin-fd 4 3<<<24682468 4<<<11223344 \
	>"$W/fd.out" 2>&1 && rc=0 || rc=$?
[ "$rc" -eq 0 ] && ok "the same PIN on a descriptor works (it was still the PIN)" ||
	{ fail "PIN on a descriptor: exit $rc"; sed 's/^/    | /' "$W/fd.out" >&2; }

# The sources read no other environment variable.
envs=$(cd "$HSMADM_SRC" && grep -rhoE 'getenv *\( *"[A-Za-z_0-9]+"' lib ops cmd smartcard evidence \
	--include='*.c' | sed 's/.*"\(.*\)"/\1/' | sort -u | tr '\n' ' ')
# Test-only hooks that make a program stop at a chosen point (crash tests)
# carry no secret and change no behaviour otherwise; each must be documented
# as such in its man page. Any other variable is a finding.
TEST_HOOKS='HSMADM_REENC_CRASH|HSMADM_CEREMONY_KILL_AT'
extra=$(tr ' ' '\n' <<<"$envs" | grep -vxE "HSMADM_HOME|HOME|$TEST_HOOKS|" || true)
[ -z "$extra" ] && ok "getenv only for: $envs" || fail "getenv of $(echo $extra) in the sources"
for v in ${TEST_HOOKS//|/ }; do
	if grep -rq "\"$v\"" "$HSMADM_SRC"/ops "$HSMADM_SRC"/cmd --include='*.c'; then
		grep -lq "$v" "$HSMADM_SRC"/docs/man/*.1 && ok "$v is documented (tests only)" ||
			fail "$v is read but no man page documents it"
	fi
done
if grep -rqE 'secure_getenv|environ\b' "$HSMADM_SRC"/lib "$HSMADM_SRC"/ops "$HSMADM_SRC"/cmd "$HSMADM_SRC"/smartcard \
	--include='*.c'; then
	fail "the sources read the environment another way (secure_getenv/environ)"
fi

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed" >&2
	exit 1
fi
echo "all checks passed"
