# SPDX-License-Identifier: BSD-2-Clause
# area "module": protocol library, receipts, and the hsmadm-simd state machine.
foreach(t test_modproto test_receipt)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.c)
    hsm_unit_test(${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c LIBS hsmadm)
  endif()
endforeach()
foreach(t test_sim_domain test_sim_module)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.c)
    hsm_unit_test(${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c LIBS hsmadm_sim hsmadm)
  endif()
endforeach()
