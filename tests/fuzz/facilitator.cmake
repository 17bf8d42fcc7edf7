# SPDX-License-Identifier: BSD-2-Clause
# area "facilitator": hsmadm-ceremony's reading of an evidence log.
if(TARGET hsmadm_evidence AND TARGET hsmadm_card)
  hsm_fuzz_target(fuzz_facilitator
                  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_facilitator.c
                          ${CMAKE_SOURCE_DIR}/cmd/hsmadm-ceremony/fac_scan.c
                  LIBS hsmadm_evidence hsmadm_card hsmadm)
  target_include_directories(fuzz_facilitator PRIVATE ${CMAKE_SOURCE_DIR}/cmd/hsmadm-ceremony)
endif()
