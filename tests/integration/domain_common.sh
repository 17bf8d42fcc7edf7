# SPDX-License-Identifier: BSD-2-Clause
# domain_common.sh - shared set-up for the domain-group acceptance tests:
# a private temp dir, two (or more) hsmadm-simd modules on free loopback
# ports sharing one module CA and one client CA, a workstation home, and
# admin key files. Every process started here is stopped on EXIT.
set -euo pipefail

: "${HSMADM_BIN:?run through ctest (HSMADM_BIN not set)}"
export PATH="$HSMADM_BIN:$PATH"
T=$(mktemp -d "${TMPDIR:-/tmp}/hsmadm-domain-test.XXXXXX")
export HSMADM_HOME="$T/home"
declare -A PID PORT

cleanup() {
	local p
	for p in "${PID[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

# Every check is reported, then finish says how many failed.
# expect_exit CODE LABEL -- command...: stdout+stderr kept in $T/out.
CHECK_KEEP_GOING=1
CHECK_OUT=$T/out
. "${HSMADM_SRC:?}/tests/harness/check.sh"
# The old name of expect_exit, while a test not yet renamed still uses it.
expect() { expect_exit "$@"; }
# out_has TEXT DESCRIPTION: the last expect's output contains TEXT.
out_has() {
	if grep -qF -- "$1" "$T/out"; then ok "$2"; else
		fail "$2: output lacks \"$1\""
		sed 's/^/    | /' "$T/out" >&2
	fi
}

# init_module NAME SERIAL [init args...]: the first one makes the module CA
# and the client CA; later ones reuse them.
init_module() {
	local name=$1 serial=$2
	shift 2
	if [ ! -f "$T/ca.pem" ]; then
		hsmadm-simd init --serial "$serial" --dir "$T/$name" --domains 8 "$@" >/dev/null
		cp "$T/$name/ca.pem" "$T/ca.pem"
		cp "$T/$name/ca.key" "$T/ca.key"
		cp "$T/$name/client-ca.pem" "$T/client-ca.pem"
		FIRST_MODULE=$name
	else
		hsmadm-simd init --serial "$serial" --dir "$T/$name" --domains 8 \
			--module-ca-key "$T/ca.key" --module-ca-cert "$T/ca.pem" \
			--client-ca "$T/client-ca.pem" "$@" >/dev/null
	fi
}

# start_module NAME [serve args...]: on its old port if it had one.
start_module() {
	local name=$1 listen="127.0.0.1:0" i
	shift
	[ -n "${PORT[$name]:-}" ] && listen="127.0.0.1:${PORT[$name]}"
	rm -f "$T/$name.port"
	hsmadm-simd serve --dir "$T/$name" --listen "$listen" --port-file "$T/$name.port" \
		"$@" >>"$T/$name.log" 2>&1 &
	PID[$name]=$!
	for i in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		sleep 0.05
	done
	[ -s "$T/$name.port" ] || { echo "module $name did not start" >&2; cat "$T/$name.log" >&2; exit 1; }
	PORT[$name]=$(tr -dc '0-9' <"$T/$name.port")
}

stop_module() {
	local name=$1
	if [ -n "${PID[$name]:-}" ]; then
		kill "${PID[$name]}" 2>/dev/null || true
		wait "${PID[$name]}" 2>/dev/null || true
		PID[$name]=
	fi
}

# wait until a module process that was told to crash has gone
wait_gone() {
	local name=$1
	wait "${PID[$name]}" 2>/dev/null || true
	PID[$name]=
}

# A workstation trusting every module named, with a client certificate.
setup_workstation() {
	local m
	hsmadm-simd issue-client --dir "$T/$FIRST_MODULE" --name ws1 \
		--out-key "$T/ws.key" --out-cert "$T/ws.pem" >/dev/null
	hsmadm-domain client set --cert "$T/ws.pem" --key "$T/ws.key" >/dev/null
	for m in "$@"; do
		hsmadm-domain module add "$m" "127.0.0.1:${PORT[$m]}" --ca "$T/ca.pem" --yes >/dev/null
	done
}

# keyfile NAME: a P-384 test admin key
keyfile() {
	openssl ecparam -name secp384r1 -genkey -noout 2>/dev/null |
		openssl pkcs8 -topk8 -nocrypt -out "$T/$1.pem"
	chmod 600 "$T/$1.pem"
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed" >&2
		exit 1
	fi
	echo "all checks passed"
}
