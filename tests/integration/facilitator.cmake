# SPDX-License-Identifier: BSD-2-Clause
# area "facilitator": hsmadm-ceremony, the facilitator's record keeping.
foreach(t facilitator_cli facilitator_card facilitator_examples)
  hsm_script_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;facilitator" TIMEOUT 180)
endforeach()
