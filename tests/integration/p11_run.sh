#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# p11_run.sh SCRIPT: run an integration test with every hsmadm-simd module on
# the pkcs11 key store (SoftHSMv2 tokens in a private folder, p11_env.sh);
# the test's own checks (MKVPs recomputed from the parts, receipts, audit)
# are the same as on the file store, and the tests that know it
# (HSMADM_P11_CHECK set) check the tokens too (p11_objects.sh). Here: the
# test passed, and made at least one token (it did run on pkcs11).
set -euo pipefail
script=${1:?usage: p11_run.sh SCRIPT}
. "${HSMADM_SRC:?}/tests/integration/p11_env.sh"
trap 'rm -rf "$P11DIR"' EXIT
bash "$script"
n=$(ls "$P11DIR/tokens" | wc -l)
[ "$n" -ge 1 ] || { echo "FAIL: the test made no token: it did not run on pkcs11" >&2; exit 1; }
echo "ok - $(basename "$script") passed with its modules on $n SoftHSMv2 token(s)"
