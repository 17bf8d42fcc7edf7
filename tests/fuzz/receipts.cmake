# SPDX-License-Identifier: BSD-2-Clause
# area "receipts": the emulator's receipts-file reader (simrcpt_parse), which
# must never fail or misplace a receipt on a damaged or torn file.
hsm_fuzz_target(fuzz_rcptfile SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_rcptfile.c LIBS hsmadm_sim hsmadm)
