# SPDX-License-Identifier: BSD-2-Clause
# area "evidence": log line parser, verifier and the writer's torn-tail scan.
if(TARGET hsmadm_evidence)
  hsm_fuzz_target(fuzz_evlog SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_evlog.c
                  LIBS hsmadm_evidence hsmadm)
endif()
