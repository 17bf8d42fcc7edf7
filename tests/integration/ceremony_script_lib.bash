# SPDX-License-Identifier: BSD-2-Clause
# Shared set-up of the ceremony-script tests (sourced): a private pcscd with
# 13 factory-fresh virtual cards, two emulated modules on free ports, the
# workstation's client certificate, and the plan and rehearsal answers for
# them (as tests/demo.sh sets up its room). Sets W, PLAN, ANSWERS, LOG, S.
. "${HSMADM_SRC:?}/tests/integration/ceremony_common.sh"

S=$HSMADM_SRC/ceremony-scripts
declare -A MPID=()
cs_cleanup() {
	local m
	for m in "${!MPID[@]}"; do kill "${MPID[$m]}" 2>/dev/null && wait "${MPID[$m]}" 2>/dev/null; done
	harness_stop
}

cs_module() {
	local m=$1 i
	hsmadm-simd serve --dir "$W/$m" --listen 127.0.0.1:0 --port-file "$W/$m.port" >>"$W/$m.log" 2>&1 &
	MPID[$m]=$!
	for i in $(seq 1 200); do [ -s "$W/$m.port" ] && break; sleep 0.05; done
	[ -s "$W/$m.port" ] || fail "module $m did not start"
}

# cs_setup [PIN_OF_CUSTODIAN_2]: the room; a wrong PIN may be planted.
cs_setup() {
	local i r c2pin=${1:-22220000}
	cer_setup 13
	trap 'cs_cleanup' EXIT
	export HSMADM_HOME=$W/home
	mkdir -p -m 700 "$HSMADM_HOME"
	for i in $(seq 0 12); do cards_new "$i"; done
	hsmadm-simd init --serial DC1-M01 --dir "$W/m1" --domains 4 >/dev/null || fail "simd init"
	hsmadm-simd init --serial DC2-M01 --dir "$W/m2" --domains 4 --module-ca-key "$W/m1/ca.key" \
		--module-ca-cert "$W/m1/ca.pem" --client-ca "$W/m1/client-ca.pem" >/dev/null || fail "simd init"
	cs_module m1
	cs_module m2
	hsmadm-simd issue-client --dir "$W/m1" --name ws --out-key "$W/ws.key" --out-cert "$W/ws.pem" >/dev/null
	hsmadm-domain client set --cert "$W/ws.pem" --key "$W/ws.key" >/dev/null || fail "client set"
	cp "$W/m1/ca.pem" "$W/module-ca.pem"
	r() { harness_reader_name "$1"; }
	card() { printf '{"label":"%s","reader":"%s","virtual":true}' "$1" "$(r "$2")"; }
	PLAN=$W/plan.json
	cat >"$PLAN" <<JSON
{"format":"hsmadm-ceremony-plan 1","name":"test-bank-2026","title":"Initial master key, pair DC1/DC2",
 "installation":"test-bank","parts":3,"thresholds":{"signature":2,"revocation":2},
 "sites":[{"id":"DC1","name":"Data centre 1"},{"id":"DC2","name":"Data centre 2"}],
 "modules":[{"name":"dc1","serial":"DC1-M01","site":"DC1","address":"127.0.0.1:$(tr -dc 0-9 <"$W/m1.port")","ca":"$W/module-ca.pem"},
            {"name":"dc2","serial":"DC2-M01","site":"DC2","address":"127.0.0.1:$(tr -dc 0-9 <"$W/m2.port")","ca":"$W/module-ca.pem"}],
 "pairs":[{"group":"pair","domains":[{"module":"dc1","domain":3},{"module":"dc2","domain":3}]}],
 "people":[
  {"role":"admin","name":"Admin 1","card":$(card A1 0),"backups":[$(card A1B 3)]},
  {"role":"admin","name":"Admin 2","card":$(card A2 1),"backups":[$(card A2B 4)]},
  {"role":"admin","name":"Admin 3","card":$(card A3 2),"backups":[$(card A3B 5)]},
  {"role":"custodian","name":"Custodian 1","part":"p1","card":$(card C1 6),"backups":[$(card C1B 9)]},
  {"role":"custodian","name":"Custodian 2","part":"p2","card":$(card C2 7),"backups":[$(card C2B 10)]},
  {"role":"custodian","name":"Custodian 3","part":"p3","card":$(card C3 8),"backups":[$(card C3B 11)]},
  {"role":"supervisor","name":"Sue Supervisor","card":$(card S1 12)},
  {"role":"witness","name":"Walt Witness"}]}
JSON
	ANSWERS=$W/answers
	{
		echo "answer factory-pin 123456"
		for i in 1 2 3; do echo "pin admin.$i 11110000"; echo "answer admin.$i.puk 87654321"; done
		for i in 1 3; do echo "pin custodian.$i 22220000"; done
		echo "pin custodian.2 $c2pin"
		for i in 1 2 3; do echo "answer custodian.$i.puk 87654321"; done
		echo "pin supervisor.1 33330000"
		echo "answer supervisor.1.puk 87654321"
		for i in 1 2; do
			echo "answer module.$i.fingerprint $(openssl x509 -in "$W/m$i/oa.pem" -outform DER | openssl dgst -sha256 -r | cut -c1-8)"
		done
	} >"$ANSWERS"
	LOG=$W/ceremony.jsonl
}
