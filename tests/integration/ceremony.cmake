# SPDX-License-Identifier: BSD-2-Clause
# area "ceremony": hsmadm-mkpart and hsmadm-commit on virtual cards and
# emulated modules. ceremony_open is a test-only helper (see its header): it
# opens a key-part envelope from a virtual card's file so that the tests can
# recompute the MKVP independently; it writes no log record. The ceremony's
# own records (ceremony.open, roster, steps) are written by hsmadm-ceremony.
add_executable(ceremony_open ${CMAKE_CURRENT_LIST_DIR}/ceremony_open.c)
set_target_properties(ceremony_open PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(ceremony_open PRIVATE hsmadm)
foreach(t ceremony_mkpart ceremony_examples ceremony_e2e)
  hsm_script_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;ceremony" TIMEOUT 300)
endforeach()
