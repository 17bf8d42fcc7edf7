# SPDX-License-Identifier: BSD-2-Clause
# lib/ core: errors and secure buffers.
hsm_unit_test(test_err SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_err.c LIBS hsmadm)
hsm_unit_test(test_secbuf SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_secbuf.c LIBS hsmadm)
