# SPDX-License-Identifier: BSD-2-Clause
# smartcard/ (area piv): every card-response parser.
hsm_fuzz_target(fuzz_tlv SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_tlv.c LIBS hsmadm_card hsmadm)
