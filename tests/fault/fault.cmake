# SPDX-License-Identifier: BSD-2-Clause
# Failure injection (HSMADM_FAULT=ON, meant for an HSMADM_SANITIZE=ON build):
# fault_flows links our static libraries with -Wl,--wrap=SYMBOL for every
# call fault.c wraps, so that the Nth allocation, OpenSSL, PC/SC or file call
# made by our code fails (calls inside shared libraries are left alone).
# The symbol list is read from fault.c itself: a wrapper added there is
# wrapped here without a second list to keep in step.
file(READ ${CMAKE_CURRENT_LIST_DIR}/fault.c FAULT_SRC)
string(REGEX MATCHALL
  "WRAP_(CALL|SSL_PTR)\\([^,()]*, *[A-Za-z_0-9]+|WRAP_(SSL|PCSC)\\([A-Za-z_0-9]+|__wrap_[A-Za-z_0-9]+\\("
  FAULT_HITS "${FAULT_SRC}")
set(FAULT_SYMBOLS)
foreach(h ${FAULT_HITS})
  string(REGEX REPLACE "\\($" "" h "${h}")
  string(REGEX REPLACE "^.*[^A-Za-z_0-9]" "" h "${h}")
  string(REGEX REPLACE "^__wrap_" "" h "${h}")
  if(NOT h STREQUAL "name")   # the macros' own parameter
    list(APPEND FAULT_SYMBOLS ${h})
  endif()
endforeach()
list(REMOVE_DUPLICATES FAULT_SYMBOLS)
list(LENGTH FAULT_SYMBOLS FAULT_NSYM)
if(FAULT_NSYM LESS 40)
  message(FATAL_ERROR "tests/fault: only ${FAULT_NSYM} wrapped symbols found in fault.c")
endif()
list(JOIN FAULT_SYMBOLS ",--wrap=" FAULT_WRAP)

set(FAULT_UNIT ${CMAKE_SOURCE_DIR}/tests/unit)
add_executable(fault_flows
  ${CMAKE_CURRENT_LIST_DIR}/fault_flows.c ${CMAKE_CURRENT_LIST_DIR}/fault_fixture.c
  ${CMAKE_CURRENT_LIST_DIR}/fault_module.c ${CMAKE_CURRENT_LIST_DIR}/fault_card.c
  ${CMAKE_CURRENT_LIST_DIR}/fault.c
  ${FAULT_UNIT}/test_evlog_fixture.c ${FAULT_UNIT}/sim_driver.c)
set_target_properties(fault_flows PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_include_directories(fault_flows PRIVATE ${CMAKE_CURRENT_LIST_DIR} ${FAULT_UNIT})
target_link_libraries(fault_flows PRIVATE hsmadm_ops hsmadm_sim hsmadm_evidence hsmadm_card
                      hsmadm PkgConfig::PCSC)
target_link_options(fault_flows PRIVATE "LINKER:--wrap=${FAULT_WRAP}")
# One ctest per flow, so that ctest -j runs them side by side.
foreach(flow sign part append verify module)
  add_test(NAME fault_${flow} COMMAND fault_flows ${flow})
  # Leaks are checked by the test itself, batch by batch, in child processes.
  set_tests_properties(fault_${flow} PROPERTIES LABELS "fault" TIMEOUT 1800
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endforeach()
# The card flow needs a private pcscd with a virtual card: its script starts
# them (tests/harness), with the build's programs on PATH.
hsm_script_test(fault_card ${CMAKE_CURRENT_LIST_DIR}/fault_card.sh LABELS fault TIMEOUT 1800)
set_tests_properties(fault_card PROPERTIES ENVIRONMENT
  "HSMADM_BIN=${HSMADM_BIN_DIR};HSMADM_SRC=${CMAKE_SOURCE_DIR};HSMADM_BUILD=${CMAKE_BINARY_DIR};PATH=${HSMADM_BIN_DIR}:$ENV{PATH};ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
