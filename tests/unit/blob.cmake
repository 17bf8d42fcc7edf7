# SPDX-License-Identifier: BSD-2-Clause
# area "blob": key blobs (lib/blob.c) and the module's blob operations.
hsm_unit_test(test_blob SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_blob.c LIBS hsmadm)
