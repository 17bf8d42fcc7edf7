# SPDX-License-Identifier: BSD-2-Clause
# area "module": protocol library, receipts, and the hsmadm-simd state machine.
# Listed one by one: a renamed or missing source is a configure error, never
# a test that silently stops running.
hsm_unit_test(test_modproto SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_modproto.c LIBS hsmadm)
hsm_unit_test(test_receipt SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_receipt.c LIBS hsmadm)
hsm_unit_test(test_merkle SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_merkle.c LIBS hsmadm)
hsm_unit_test(test_sim_domain SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_domain.c
              LIBS hsmadm_sim hsmadm)
# The same tests with the domain's keys on a SoftHSMv2 token.
hsm_unit_test(test_sim_domain_p11 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_domain.c
              LIBS hsmadm_sim hsmadm LABELS pkcs11)
target_compile_definitions(test_sim_domain_p11 PRIVATE SIM_DOMAIN_P11)
hsm_unit_test(test_sim_module SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_module.c
              LIBS hsmadm_sim hsmadm)
hsm_unit_test(test_simrcpt SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_simrcpt.c
              LIBS hsmadm_sim hsmadm)
# sim/p11.c against a SoftHSMv2 token made in the test's scratch folder.
hsm_unit_test(test_p11 SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_p11.c
              LIBS hsmadm_sim hsmadm LABELS pkcs11)
