# SPDX-License-Identifier: BSD-2-Clause
# area "module": frames, requests and the emulator's request handler
# (no TLS), plus the workstation's answer and receipt checks.
hsm_fuzz_target(fuzz_frame SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_frame.c LIBS hsmadm_sim hsmadm)
