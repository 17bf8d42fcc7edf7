# SPDX-License-Identifier: BSD-2-Clause
# area "ceremony scripts": hsmadm-ceremony's script parser and placeholder
# expansion (corpus: tests/fuzz/corpus/script, the shipped scripts' shapes).
set(FSC_DIR ${CMAKE_SOURCE_DIR}/cmd/hsmadm-ceremony)
hsm_fuzz_target(fuzz_script
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_script.c ${FSC_DIR}/fac_script.c
                        ${CMAKE_SOURCE_DIR}/cmd/common/cer_plan.c ${FSC_DIR}/fac_expand.c ${FSC_DIR}/fac_words.c
                LIBS hsmadm)
target_include_directories(fuzz_script PRIVATE ${FSC_DIR} ${CMAKE_SOURCE_DIR}/cmd/common)
