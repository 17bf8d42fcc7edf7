# SPDX-License-Identifier: BSD-2-Clause
# audit_bench: evlog_verify rate vs OpenSSL's P-384 verify rate, and flat memory.
# ctest runs 6,000 records (a few minutes on a busy 2-core machine are too many
# for make test); run `build/tests/audit_bench 100000` for the acceptance size.
if(TARGET hsmadm_evidence)
  add_executable(audit_bench ${CMAKE_CURRENT_LIST_DIR}/audit_bench.c)
  set_target_properties(audit_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(audit_bench PRIVATE hsmadm_evidence hsmadm Threads::Threads)
  add_test(NAME audit_bench COMMAND audit_bench 6000)
  set_tests_properties(audit_bench PROPERTIES LABELS "bench;evidence" TIMEOUT 300)
endif()
