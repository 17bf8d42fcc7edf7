# SPDX-License-Identifier: BSD-2-Clause
# area "facilitator": hsmadm-ceremony's record keeping, without cards (the
# card path is tests/integration/facilitator_card.sh).
if(TARGET hsmadm_evidence AND TARGET hsmadm_card)
  set(FAC_DIR ${CMAKE_SOURCE_DIR}/cmd/hsmadm-ceremony)
  hsm_unit_test(test_facilitator
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_facilitator.c ${FAC_DIR}/fac_log.c
                        ${FAC_DIR}/fac_roster.c ${FAC_DIR}/fac_scan.c
                LIBS hsmadm_evidence hsmadm_card hsmadm LABELS facilitator)
  target_include_directories(test_facilitator PRIVATE ${FAC_DIR})
endif()
