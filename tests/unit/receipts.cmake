# SPDX-License-Identifier: BSD-2-Clause
# area "receipts": no module-signed receipt is lost. The group engine against
# the real emulator logic (hsmadm_sim) through an in-process driver: a lost
# answer's receipt is fetched again, and an evidence log's gaps are found.
hsm_unit_test(test_group_recover SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_group_recover.c
              ${CMAKE_CURRENT_LIST_DIR}/sim_driver.c LIBS hsmadm_ops hsmadm_sim hsmadm)
# grp_oa_fingerprint: what the engine has verified, to see it was done ahead
target_include_directories(test_group_recover PRIVATE ${CMAKE_SOURCE_DIR}/ops)
