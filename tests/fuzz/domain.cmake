# SPDX-License-Identifier: BSD-2-Clause
# area "domain": the signed admin command file parser.
hsm_fuzz_target(fuzz_admincmd SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_admincmd.c LIBS hsmadm)
hsm_fuzz_target(fuzz_groupstate SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_groupstate.c LIBS hsmadm_ops hsmadm)
