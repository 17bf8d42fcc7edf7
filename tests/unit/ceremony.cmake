# SPDX-License-Identifier: BSD-2-Clause
# area "ceremony": key-part transport, key-part envelopes, ceremony logic.
hsm_unit_test(test_kpwrap SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_kpwrap.c LIBS hsmadm LABELS ceremony)
hsm_unit_test(test_envelope SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_envelope.c LIBS hsmadm LABELS ceremony)
hsm_unit_test(test_keypart SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keypart.c LIBS hsmadm LABELS ceremony)
