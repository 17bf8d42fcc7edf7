# SPDX-License-Identifier: BSD-2-Clause
# area "examples": the EXAMPLES sections of hsmadm-commit(1) and
# hsmadm-domain(1), run as written against virtual cards and two
# hsmadm-simd modules.
foreach(t examples_commit examples_domain)
  hsm_script_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS integration TIMEOUT 120)
endforeach()
