# SPDX-License-Identifier: BSD-2-Clause
# evidence/: the evidence log (writer, reader, verifier, replayer, schemas).
set(EVFIX ${CMAKE_CURRENT_LIST_DIR}/test_evlog_fixture.c)
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evlog SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evlog.c ${EVFIX}
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  hsm_unit_test(test_evlog_schema SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evlog_schema.c ${EVFIX}
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  hsm_unit_test(test_evrec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evrec.c ${EVFIX}
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  hsm_unit_test(test_evtorn SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evtorn.c ${EVFIX}
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  hsm_unit_test(test_evscan SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evscan.c ${EVFIX}
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  hsm_unit_test(test_evmem SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evmem.c ${EVFIX}
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  target_compile_definitions(test_evlog_schema PRIVATE
                             HSMADM_SCHEMA_DIR="${CMAKE_SOURCE_DIR}/evidence/schemas")
  # Not a test: writes a real ceremony log for the hsmadm-audit shell tests.
  add_executable(test_evlog_gen ${CMAKE_CURRENT_LIST_DIR}/test_evlog_gen.c ${EVFIX})
  set_target_properties(test_evlog_gen PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(test_evlog_gen PRIVATE hsmadm_evidence hsmadm)
endif()
# Not a test: drives a real hsmadm-simd and logs its receipts, for audit_live.
if(TARGET hsmadm_evidence)
  add_executable(test_evlog_live ${CMAKE_CURRENT_LIST_DIR}/test_evlog_live.c)
  set_target_properties(test_evlog_live PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(test_evlog_live PRIVATE hsmadm_ops hsmadm_evidence hsmadm)
endif()
# What "verified" rests on: trust anchors, parts loaded against parts generated.
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evverify SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evverify.c ${EVFIX}
                LIBS hsmadm_evidence hsmadm LABELS evidence)
endif()
# The rotation and decommissioning rules of the verifier (evidence/evlife.c).
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evlife SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evlife.c
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  target_include_directories(test_evlife PRIVATE ${CMAKE_SOURCE_DIR}/evidence)
endif()
# The evidence log's shared helpers (evidence/evutil.c, evint.h).
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evutil SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evutil.c
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  target_include_directories(test_evutil PRIVATE ${CMAKE_SOURCE_DIR}/evidence)
endif()
# The JSON Schema subset checker, one keyword at a time (evidence/evschema.c).
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evschema SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evschema.c
                LIBS hsmadm_evidence hsmadm LABELS evidence)
endif()
# The verifier's public-key cache (evidence/evkeys.c).
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evkeys SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evkeys.c
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  target_include_directories(test_evkeys PRIVATE ${CMAKE_SOURCE_DIR}/evidence)
endif()
# The verifier's signature checks on worker threads (evidence/evpar.c).
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evpar SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evpar.c
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  target_include_directories(test_evpar PRIVATE ${CMAKE_SOURCE_DIR}/evidence)
endif()
# Trust anchors and receipts checked against them (evidence/evanchor.c).
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evanchor SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evanchor.c ${EVFIX}
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  target_include_directories(test_evanchor PRIVATE ${CMAKE_SOURCE_DIR}/evidence)
endif()
# The checked reader of log bytes (evidence/evread.c).
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evread SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evread.c
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  target_include_directories(test_evread PRIVATE ${CMAKE_SOURCE_DIR}/evidence)
endif()
# RFC 3161 time-stamps of a completed log, with an in-process TSA (evidence/evtsa.c).
if(TARGET hsmadm_evidence)
  hsm_unit_test(test_evtsa SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evtsa.c ${EVFIX}
                LIBS hsmadm_evidence hsmadm LABELS evidence)
  target_include_directories(test_evtsa PRIVATE ${CMAKE_SOURCE_DIR}/evidence)
endif()
