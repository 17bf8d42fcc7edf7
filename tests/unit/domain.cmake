# SPDX-License-Identifier: BSD-2-Clause
# area "domain": signed admin commands, workstation config, group engine.
hsm_unit_test(test_admincmd SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_admincmd.c LIBS hsmadm)
hsm_unit_test(test_wsconfig SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_wsconfig.c LIBS hsmadm_ops hsmadm)
hsm_unit_test(test_group SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_group.c LIBS hsmadm_ops hsmadm)
