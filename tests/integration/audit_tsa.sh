#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# RFC 3161 time anchoring of a completed log: hsmadm-audit timestamp writes
# the query, openssl ts -reply plays the time-stamping authority (a CA and a
# TSA certificate with extendedKeyUsage critical timeStamping), timestamp
# records the token, verify --tsa-ca checks it. Refused: a reply to another
# query or another log, a TSA the given CA does not vouch for, a log with no
# completion; verify fails for a token under another CA, a token over
# another head, and a tampered token. --tsa-url asks the same TSA over HTTP
# (a small server that runs openssl ts -reply for each POST).
set -euo pipefail
tmp=$(mktemp -d)
TPID=
cleanup() {
	[ -n "$TPID" ] && kill "$TPID" 2>/dev/null && { wait "$TPID" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT
export TMPDIR=$tmp
gen="$HSMADM_BUILD/tests/test_evlog_gen"
A=hsmadm-audit
CHECK_KEEP_GOING=1
. "${HSMADM_SRC:?}/tests/harness/check.sh"

# ---- a time-stamping authority, and a stranger's CA ----
cd "$tmp"
mkca() {  # mkca NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
	    -out "$1.crt" -subj "/CN=$2" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
mkca ca "Test TSA Root"
mkca other "Some Other Root"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tsa.key \
    -out tsa.csr -subj "/CN=Test TSA" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n' > tsa.ext
openssl x509 -req -in tsa.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tsa.crt \
    -days 30 -extfile tsa.ext 2>/dev/null
echo 01 > tsaserial
cat > ts.cnf <<EOF
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = $tmp/tsaserial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_alg = sha256
EOF
tsa_reply() {  # tsa_reply QUERY OUT
	openssl ts -reply -config ts.cnf -queryfile "$1" -inkey tsa.key -signer tsa.crt \
	    -out "$2" 2>/dev/null
}

# ---- a completed ceremony log (the audit tests' fixture) ----
d=$("$gen")
log=$d/ceremony.log
anchors=(--module-ca "$d/module-ca.pem" --supervisor-key "$d/supervisor.pub.pem")

expect_output 2 "timestamp needs --query-out FILE" -- $A timestamp "$log"
expect_output 2 "timestamp needs --query-out FILE" -- $A timestamp "$log" --query-out q.tsq --reply r.tsr
expect_output 2 "sha256 or sha384" -- $A timestamp "$log" --query-out q.tsq --hash md5
i=$("$gen" --incomplete)
expect_output 6 "no completion record yet" -- $A timestamp "$i/ceremony.log" --query-out qi.tsq

# the query: SHA-256 of the completion line's hash, a nonce, certReq
expect_output 0 "for the completion at seq 18" -- $A timestamp "$log" --query-out q.tsq
openssl ts -query -in q.tsq -text > q.txt 2>&1
grep -q "Nonce: 0x" q.txt || fail "the query has no nonce"
grep -q "Certificate required: yes" q.txt || fail "the query does not ask for the certificate"
grep -q "Hash Algorithm: sha256" q.txt || fail "the query is not SHA-256"
tsa_reply q.tsq r.tsr || fail "openssl ts -reply"

# a reply to another query of the same log (another nonce): refused, exit 4
expect_output 0 "written to q2.tsq" -- $A timestamp "$log" --query-out q2.tsq
expect_output 4 "does not answer this query" -- $A timestamp "$log" --query q2.tsq --reply r.tsr
# a TSA the given CA does not vouch for: refused before writing, exit 22
lines=$(wc -l < "$log")
expect_output 22 "not vouched for by the TSA CA" -- $A timestamp "$log" --query q.tsq --reply r.tsr --tsa-ca other.crt
[ "$(wc -l < "$log")" = "$lines" ] || fail "a refused time-stamp was written"
# recorded, checked against the TSA's CA
expect_output 0 "Time-stamp recorded at seq 19: 20.*Test TSA.*checked against the TSA CA" -- $A timestamp "$log" --query q.tsq --reply r.tsr --tsa-ca ca.crt

# verify: the trusted time with --tsa-ca, "not checked" without
expect_output 0 "Time-stamp: trusted time 20[0-9-]*T[0-9:]*Z from .*Test TSA" -- $A verify "$log" "${anchors[@]}" --tsa-ca ca.crt
expect_output 0 '"status": "trusted time' -- $A verify "$log" "${anchors[@]}" --tsa-ca ca.crt --json
expect_output 0 "not checked (no --tsa-ca)" -- $A verify "$log" "${anchors[@]}"
expect_output 0 '"status": "not checked (no --tsa-ca)"' -- $A verify "$log" "${anchors[@]}" --json
expect_output 0 "RFC 3161 time-stamp by .*Test TSA" -- $A report "$log" "${anchors[@]}"
# the record matches its published schema
expect_output 0 "every record matches its schema" -- "$HSMADM_BUILD/tests/test_evlog_schema" "$log"
# ... under another CA: exit 30 at the record
expect_output 30 "seq 19: log.timestamped: the time-stamp token is not vouched for" -- $A verify "$log" "${anchors[@]}" --tsa-ca other.crt
expect_output 5 "cannot load the TSA CA" -- $A verify "$log" "${anchors[@]}" --tsa-ca "$tmp/none.crt"
# a completed log takes a time-stamp, nothing else
expect_output 6 "already ends with a completion" -- $A sign-completion "$log" --key-file "$d/supervisor.pem" --module-ca "$d/module-ca.pem"

# SHA-384 works the same
d3=$("$gen")
expect_output 0 "(sha384)" -- $A timestamp "$d3/ceremony.log" --query-out q3.tsq --hash sha384
tsa_reply q3.tsq r3.tsr || fail "openssl ts -reply (sha384)"
expect_output 0 "recorded at seq 19" -- $A timestamp "$d3/ceremony.log" --query q3.tsq --reply r3.tsr
expect_output 0 "trusted time" -- $A verify "$d3/ceremony.log" "${anchors[@]/$d/$d3}" --tsa-ca ca.crt

# another log's reply is not this log's: refused, exit 4
d2=$("$gen")
expect_output 4 "another log head\|does not answer" -- $A timestamp "$d2/ceremony.log" --query q3.tsq --reply r3.tsr

# a token over another head, spliced into this log's record: exit 30
cp "$log" spliced.log
python3 - "$d3/ceremony.log" spliced.log <<'EOF'
import json, sys
other = json.loads(open(sys.argv[1]).read().splitlines()[-1])["body"]
lines = open(sys.argv[2]).read().splitlines()
mine = json.loads(lines[-1])["body"]
last = lines[-1]
for k in ("token", "gen_time", "hash_alg"):
    last = last.replace('"%s":"%s"' % (k, mine[k]), '"%s":"%s"' % (k, other[k]), 1)
lines[-1] = last
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
EOF
expect_output 30 "seq 19: log.timestamped: the time-stamp is over another log head" -- $A verify spliced.log "${anchors[@]}" --tsa-ca ca.crt
expect_output 30 "seq 19: log.timestamped: the time-stamp is over another log head" -- $A verify spliced.log "${anchors[@]}"

# a tampered token (its genTime moved, the record's with it): the signature
# no longer verifies; without --tsa-ca nothing can tell
cp "$log" tampered.log
python3 - tampered.log <<'EOF'
import base64, json, re, sys
lines = open(sys.argv[1]).read().splitlines()
body = json.loads(lines[-1])["body"]
der = base64.b64decode(body["token"])
m = re.search(rb"\x18\x0f(\d{14})Z", der)
old = m.group(1)
new = str(int(old) - 10000000000).encode()   # one year earlier
der2 = der.replace(b"\x18\x0f" + old, b"\x18\x0f" + new, 1)
t2 = base64.b64encode(der2).decode()
g = body["gen_time"]
g2 = str(int(g[:4]) - 1) + g[4:]
last = lines[-1].replace(body["token"], t2, 1).replace('"gen_time":"%s"' % g, '"gen_time":"%s"' % g2, 1)
lines[-1] = last
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF
expect_output 30 "seq 19: log.timestamped: the time-stamp token is not vouched for" -- $A verify tampered.log "${anchors[@]}" --tsa-ca ca.crt
expect_output 0 "not checked (no --tsa-ca)" -- $A verify tampered.log "${anchors[@]}"

# ---- the same TSA over HTTP (RFC 3161 section 3.4) ----
cat > tsa_http.py <<'EOF'
import http.server, os, subprocess
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        q = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/tsa" or self.headers["Content-Type"] != "application/timestamp-query":
            self.send_response(400); self.end_headers(); return
        open("http.tsq", "wb").write(q)
        subprocess.run(["openssl", "ts", "-reply", "-config", "ts.cnf", "-queryfile", "http.tsq",
                        "-inkey", "tsa.key", "-signer", "tsa.crt", "-out", "http.tsr"],
                       check=True, capture_output=True)
        r = open("http.tsr", "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(r)))
        self.end_headers()
        self.wfile.write(r)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open("tsa.port.tmp", "w").write(str(s.server_port))
os.rename("tsa.port.tmp", "tsa.port")
s.serve_forever()
EOF
python3 tsa_http.py > tsa_http.log 2>&1 &
TPID=$!
for _ in $(seq 1 100); do [ -s tsa.port ] && break; sleep 0.05; done
[ -s tsa.port ] || fail "the HTTP TSA did not start"
url="http://127.0.0.1:$(cat tsa.port)/tsa"
d4=$("$gen")
expect_output 0 "Time-stamp recorded at seq 19: .*checked against the TSA CA" -- $A timestamp "$d4/ceremony.log" --tsa-url "$url" --tsa-ca ca.crt
expect_output 0 "trusted time" -- $A verify "$d4/ceremony.log" "${anchors[@]/$d/$d4}" --tsa-ca ca.crt
expect_output 0 '"record_seq": 20' -- $A timestamp "$d4/ceremony.log" --tsa-url "$url" --hash sha384 --json
expect_output 0 "2 token(s)" -- $A verify "$d4/ceremony.log" "${anchors[@]/$d/$d4}" --tsa-ca ca.crt
expect_output 23 "the TSA answered HTTP 400" -- $A timestamp "$d4/ceremony.log" --tsa-url "http://127.0.0.1:$(cat tsa.port)/other"
expect_output 2 "must be an http:// URL" -- $A timestamp "$d4/ceremony.log" --tsa-url "ftp://x/y"
expect_output 2 "or --tsa-url URL" -- $A timestamp "$d4/ceremony.log" --tsa-url "$url" --query-out q9.tsq

check_done
