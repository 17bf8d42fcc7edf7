# SPDX-License-Identifier: BSD-2-Clause
# area "module": hsmadm-simd over real TLS (trust both ways, robustness,
# faults, persistence, concurrency). module_client is the test's
# workstation side, built on tlsctx/modproto.
add_executable(module_client ${CMAKE_CURRENT_LIST_DIR}/module_client.c)
set_target_properties(module_client PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(module_client PRIVATE hsmadm)

hsm_script_test(module_tls ${CMAKE_CURRENT_LIST_DIR}/module_tls.sh LABELS "integration;module" TIMEOUT 120)
hsm_script_test(module_faults ${CMAKE_CURRENT_LIST_DIR}/module_faults.sh LABELS "integration;module" TIMEOUT 120)
hsm_script_test(module_man ${CMAKE_CURRENT_LIST_DIR}/module_man.sh LABELS "integration;module" TIMEOUT 60)
