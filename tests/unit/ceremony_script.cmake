# SPDX-License-Identifier: BSD-2-Clause
# area "ceremony scripts": hsmadm-ceremony's script and plan parsers and the
# placeholder expansion (cmd/hsmadm-ceremony/fac_script.c, cmd/common/cer_plan.c,
# fac_expand.c, fac_words.c), with every script in ceremony-scripts/.
set(FSC_DIR ${CMAKE_SOURCE_DIR}/cmd/hsmadm-ceremony)
hsm_unit_test(test_fac_script
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fac_script.c ${FSC_DIR}/fac_script.c
                      ${CMAKE_SOURCE_DIR}/cmd/common/cer_plan.c ${FSC_DIR}/fac_expand.c ${FSC_DIR}/fac_words.c
              LIBS hsmadm LABELS facilitator)
target_include_directories(test_fac_script PRIVATE ${FSC_DIR} ${CMAKE_SOURCE_DIR}/cmd/common)
target_compile_definitions(test_fac_script PRIVATE FSC_SRC_DIR="${CMAKE_SOURCE_DIR}")
