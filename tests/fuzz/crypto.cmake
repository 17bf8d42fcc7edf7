# SPDX-License-Identifier: BSD-2-Clause
# area "crypto": SPKI DER/PEM keys, points, DER ECDSA signatures, RFC 5649 unwrap.
hsm_fuzz_target(fuzz_crypto SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_crypto.c LIBS hsmadm)
