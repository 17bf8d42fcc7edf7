# SPDX-License-Identifier: BSD-2-Clause
# cmd/common: the option and file helpers every main shares.
hsm_unit_test(test_cmdutil SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cmdutil.c
  LIBS hsmadm_cmdcommon hsmadm)
