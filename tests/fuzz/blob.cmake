# SPDX-License-Identifier: BSD-2-Clause
# area "blob": key blob header, JSON Lines line, base64 runs (lib/blob.c).
hsm_fuzz_target(fuzz_blob SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_blob.c LIBS hsmadm)
