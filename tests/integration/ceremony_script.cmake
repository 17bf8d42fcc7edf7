# SPDX-License-Identifier: BSD-2-Clause
# area "ceremony scripts": hsmadm-ceremony run/resume/print/check-plan on
# virtual cards and emulated modules (set-up: ceremony_script_lib.bash).
foreach(t ceremony_script_run ceremony_script_resume ceremony_script_plan ceremony_script_commands
         ceremony_script_powercut
         ceremony_script_tty)
  hsm_script_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS "integration;facilitator" TIMEOUT 180)
endforeach()
