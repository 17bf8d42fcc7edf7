# SPDX-License-Identifier: BSD-2-Clause
# p11_env.sh - sourced: a private SoftHSMv2 token directory (its own
# SOFTHSM2_CONF under P11DIR, never the system's) and an hsmadm-simd on PATH
# that makes every "init" a pkcs11 module: one token per module serial,
# labelled "hs-SERIAL", user PIN in an owner-only file. Everything else is
# passed through; HSMADM_BIN becomes a folder of the build's programs with
# that wrapper in it. P11DIR is the caller's to remove.
: "${HSMADM_BIN:?run through ctest}"
P11LIB=${HSMADM_P11_LIB:-/usr/lib/softhsm/libsofthsm2.so}
[ -r "$P11LIB" ] || { echo "p11_env: no SoftHSMv2 library at $P11LIB (make deps installs softhsm2)" >&2; exit 1; }
P11DIR=$(mktemp -d "${TMPDIR:-/tmp}/hsmadm-p11.XXXXXX")
mkdir -p "$P11DIR/tokens" "$P11DIR/bin"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$P11DIR" >"$P11DIR/softhsm2.conf"
export SOFTHSM2_CONF=$P11DIR/softhsm2.conf
P11PIN=24680135
( umask 077 && printf '%s\n' "$P11PIN" >"$P11DIR/pin" )
cat >"$P11DIR/bin/hsmadm-simd" <<WRAP
#!/usr/bin/env bash
# test wrapper (p11_env.sh): init on a fresh SoftHSMv2 token
set -euo pipefail
real="$HSMADM_BIN/hsmadm-simd"
[ "\${1:-}" = init ] || exec "\$real" "\$@"
serial=
prev=
for a in "\$@"; do [ "\$prev" = --serial ] && serial=\$a; prev=\$a; done
[ -n "\$serial" ] || exec "\$real" "\$@"
softhsm2-util --init-token --free --label "hs-\$serial" --so-pin 11223344 \
	--pin "$P11PIN" >/dev/null
exec "\$real" "\$@" --keystore pkcs11 --p11-lib "$P11LIB" --token-label "hs-\$serial" \
	--pin-file "$P11DIR/pin"
WRAP
chmod 755 "$P11DIR/bin/hsmadm-simd"
# The other programs as they are: tests put HSMADM_BIN first on PATH.
for f in "$HSMADM_BIN"/*; do
	[ -e "$P11DIR/bin/${f##*/}" ] || ln -s "$f" "$P11DIR/bin/${f##*/}"
done
export HSMADM_BIN=$P11DIR/bin
export PATH=$P11DIR/bin:$PATH
# The tests that know they may run on a token check it with this.
export HSMADM_P11_CHECK=${HSMADM_SRC:?}/tests/integration/p11_objects.sh P11DIR P11LIB P11PIN
