# SPDX-License-Identifier: BSD-2-Clause
# area "ceremony": key-part envelope parser.
hsm_fuzz_target(fuzz_envelope SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_envelope.c LIBS hsmadm)
# The wrapped key part of mk.load_part (both JSON forms) and its unwrap.
hsm_fuzz_target(fuzz_kpwrap SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_kpwrap.c LIBS hsmadm)
