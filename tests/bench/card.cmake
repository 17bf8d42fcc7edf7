# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-card benchmark (area piv): APDUs and ms per admin signature against
# yubico-piv-tool on the same virtual card. Quick (20 signatures), so it runs
# in `make test` too.
add_executable(card_sign ${CMAKE_CURRENT_LIST_DIR}/card_sign.c)
set_target_properties(card_sign PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(card_sign PRIVATE hsmadm_card hsmadm)
hsm_script_test(card_sign_bench ${CMAKE_CURRENT_LIST_DIR}/card_sign.sh LABELS bench TIMEOUT 120)
