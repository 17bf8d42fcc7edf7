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

# pair_2of3 EVLOG: modules m1 (DC1-M01) and m2 (DC2-M01) running and trusted,
# group "pair" of domain 5 on both, admins alice, bob and carol (key files),
# thresholds 2 (signature) / 1 (revocation); every step recorded in EVLOG.
pair_2of3() {
	local a
	init_module m1 DC1-M01
	init_module m2 DC2-M01
	start_module m1
	start_module m2
	setup_workstation m1 m2
	for a in alice bob carol; do keyfile $a; done
	hsmadm-domain group create pair m1:5 m2:5 >/dev/null
	for a in alice bob carol; do
		hsmadm-domain admin add pair --pubkey-file "$T/$a.pem" --name "$a" --identity "$a" \
			--evidence "$1" >/dev/null
	done
	hsmadm-domain run pair thresholds.set --signature 2 --revocation 1 \
		--key-file "$T/alice.pem" --key-file "$T/bob.pem" --evidence "$1" >/dev/null
}

# audit_ok EVLOG DESCRIPTION: the log verifies (chain, receipts, no counter gap).
audit_ok() {
	expect_exit 0 "$2" -- hsmadm-audit verify "$1" --module-ca "$T/ca.pem" --allow-incomplete
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed" >&2
		exit 1
	fi
	echo "all checks passed"
}
