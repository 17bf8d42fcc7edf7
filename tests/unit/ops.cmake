# SPDX-License-Identifier: BSD-2-Clause
# area "ops": the workflows around a group command (signers, quorum, submit,
# recovery) against the emulator's module logic in-process and a real log.
hsm_unit_test(test_submit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_submit.c
              ${CMAKE_CURRENT_LIST_DIR}/sim_driver.c
              LIBS hsmadm_ops hsmadm_sim hsmadm LABELS ops)
hsm_unit_test(test_adminlook SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_adminlook.c
              LIBS hsmadm_ops hsmadm LABELS ops)
# Administrator signers from key files, and the card paths without PC/SC (ops/signers.c).
hsm_unit_test(test_signers SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_signers.c
              LIBS hsmadm_ops hsmadm LABELS ops)
# The quorum loop over members from the test driver (ops/quorum.c).
hsm_unit_test(test_quorum SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_quorum.c
              ${CMAKE_CURRENT_LIST_DIR}/fake_group.c
              LIBS hsmadm_ops hsmadm_evidence hsmadm LABELS ops)
# One command from proposal to sending, over test-driver members (ops/groupcmd.c).
hsm_unit_test(test_groupcmd SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_groupcmd.c
              ${CMAKE_CURRENT_LIST_DIR}/fake_group.c
              LIBS hsmadm_ops hsmadm_evidence hsmadm LABELS ops)
