# SPDX-License-Identifier: BSD-2-Clause
# area "pkcs11": the module key store on a PKCS#11 token (SoftHSMv2 tokens
# made in each test's private folder, never the system's). The ceremony, the
# rotation life and the blob re-encipher run again with every module on a
# token: same checks, same MKVPs from the same parts, the same blob bytes,
# plus the token checks of p11_objects.sh.
set_property(GLOBAL APPEND PROPERTY HSMADM_SCRIPT_TESTS
             ${CMAKE_CURRENT_LIST_DIR}/p11_run.sh ${CMAKE_CURRENT_LIST_DIR}/p11_objects.sh)
foreach(t ceremony_e2e rotate_life rotate_reencipher)
  add_test(NAME ${t}_p11 COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/p11_run.sh
           ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
  set_tests_properties(${t}_p11 PROPERTIES LABELS "integration;pkcs11" TIMEOUT 300
    ENVIRONMENT "HSMADM_BIN=${HSMADM_BIN_DIR};HSMADM_SRC=${CMAKE_SOURCE_DIR};HSMADM_BUILD=${CMAKE_BINARY_DIR};PATH=${HSMADM_BIN_DIR}:$ENV{PATH}")
endforeach()
# Power cuts around a change's token objects: only on a token.
set_property(GLOBAL APPEND PROPERTY HSMADM_SCRIPT_TESTS ${CMAKE_CURRENT_LIST_DIR}/module_p11_crash.sh)
add_test(NAME module_p11_crash COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/p11_run.sh
         ${CMAKE_CURRENT_LIST_DIR}/module_p11_crash.sh)
set_tests_properties(module_p11_crash PROPERTIES LABELS "integration;pkcs11" TIMEOUT 120
  ENVIRONMENT "HSMADM_BIN=${HSMADM_BIN_DIR};HSMADM_SRC=${CMAKE_SOURCE_DIR};HSMADM_BUILD=${CMAKE_BINARY_DIR};PATH=${HSMADM_BIN_DIR}:$ENV{PATH}")
hsm_script_test(module_p11 ${CMAKE_CURRENT_LIST_DIR}/module_p11.sh
                LABELS "integration;pkcs11" TIMEOUT 120)
# Registers written directly (rotate_reencipher_common.sh) on a token.
add_executable(p11_register ${CMAKE_CURRENT_LIST_DIR}/p11_register.c)
set_target_properties(p11_register PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(p11_register PRIVATE hsmadm_sim hsmadm)
