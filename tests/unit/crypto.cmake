# SPDX-License-Identifier: BSD-2-Clause
# lib/ cryptography: crypto.c (known-answer vectors and refusals), vp.c (MKVP/KPVP),
# signer.c (key-file signers and key agreement).
hsm_unit_test(test_crypto SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_crypto.c LIBS hsmadm
              LABELS crypto)
hsm_unit_test(test_vp SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vp.c LIBS hsmadm LABELS crypto)
hsm_unit_test(test_signer SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_signer.c LIBS hsmadm
              LABELS crypto)
