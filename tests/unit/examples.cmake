# SPDX-License-Identifier: BSD-2-Clause
# area "examples": the pure decisions of the master-key load (keypart_load.h)
# from register states, through a fixed-state module driver (no cards, no modules).
hsm_unit_test(test_keypart_load SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_keypart_load.c LIBS hsmadm_ops hsmadm)
