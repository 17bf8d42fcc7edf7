# SPDX-License-Identifier: BSD-2-Clause
# area "domain": acceptance tests of hsmadm-domain against two hsmadm-simd modules.
foreach(t domain_quorum domain_diverge domain_tls domain_cards domain_intent domain_race)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
    hsm_script_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS integration TIMEOUT 180)
  endif()
endforeach()
