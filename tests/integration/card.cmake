# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-card against virtual cards on a private pcscd (area piv).
foreach(t card_init card_pin card_removed card_ykpiv card_env card_examples)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
    hsm_script_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS integration TIMEOUT 180)
  endif()
endforeach()
# Helper of card_env.sh: the envelope API against a card on the harness.
add_executable(test_piv_card ${CMAKE_CURRENT_LIST_DIR}/../unit/test_piv_card.c)
set_target_properties(test_piv_card PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(test_piv_card PRIVATE hsmadm_card hsmadm)
