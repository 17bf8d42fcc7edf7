# SPDX-License-Identifier: BSD-2-Clause
# hsmadm-audit end to end (needs the log generator built with the unit tests).
if(TARGET hsmadm-audit AND TARGET hsmadm_evidence)
  hsm_script_test(audit_cli ${CMAKE_CURRENT_LIST_DIR}/audit_cli.sh LABELS "integration;evidence" TIMEOUT 120)
endif()
# ... and against a live hsmadm-simd (needs the module emulator).
if(TARGET hsmadm-audit AND TARGET hsmadm-simd AND TARGET hsmadm_evidence)
  hsm_script_test(audit_live ${CMAKE_CURRENT_LIST_DIR}/audit_live.sh LABELS "integration;evidence" TIMEOUT 120)
endif()
# ... and rendered by a browser, as auditors see and print it (needs chromium,
# one of the Makefile's packages).
if(TARGET hsmadm-audit AND TARGET hsmadm_evidence)
  hsm_script_test(audit_render ${CMAKE_CURRENT_LIST_DIR}/audit_render.sh LABELS "integration;evidence" TIMEOUT 300)
endif()
# ... time-stamped by an RFC 3161 authority that openssl ts -reply plays.
if(TARGET hsmadm-audit AND TARGET hsmadm_evidence)
  hsm_script_test(audit_tsa ${CMAKE_CURRENT_LIST_DIR}/audit_tsa.sh LABELS "integration;evidence" TIMEOUT 120)
endif()
# ... and replay --against with the trust file alone (it carries the module CA).
if(TARGET hsmadm-audit AND TARGET hsmadm-simd AND TARGET hsmadm_evidence)
  hsm_script_test(audit_live_trust ${CMAKE_CURRENT_LIST_DIR}/audit_live_trust.sh LABELS "integration;evidence" TIMEOUT 120)
endif()
