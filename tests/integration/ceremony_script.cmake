# SPDX-License-Identifier: BSD-2-Clause
# area "ceremony scripts": hsmadm-ceremony run/resume/print/check-plan on
# virtual cards and emulated modules.
foreach(t ceremony_script_run)
  hsm_script_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;facilitator" TIMEOUT 180)
endforeach()
