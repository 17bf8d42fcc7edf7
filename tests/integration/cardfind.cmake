# SPDX-License-Identifier: BSD-2-Clause
# smartcard/cardfind: the card of a role and a person, on a private pcscd.
add_executable(cardfind_helper ${CMAKE_CURRENT_LIST_DIR}/cardfind_helper.c)
set_target_properties(cardfind_helper PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(cardfind_helper PRIVATE hsmadm_card hsmadm)
hsm_script_test(card_find ${CMAKE_CURRENT_LIST_DIR}/card_find.sh LABELS integration TIMEOUT 180)
