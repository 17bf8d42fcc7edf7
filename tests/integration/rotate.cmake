# SPDX-License-Identifier: BSD-2-Clause
# area "rotate": key blobs and the re-encipher job against two hsmadm-simd modules.
hsm_script_test(rotate_reencipher ${CMAKE_CURRENT_LIST_DIR}/rotate_reencipher.sh
                LABELS integration TIMEOUT 180)
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/rotate_reencipher_crash.sh)
  hsm_script_test(rotate_reencipher_crash ${CMAKE_CURRENT_LIST_DIR}/rotate_reencipher_crash.sh
                  LABELS integration TIMEOUT 180)
endif()
# Sourced by the tests above and by tests/bench/reencipher.sh (a helper,
# not a test of its own: marked as used for tests_registered).
set_property(GLOBAL APPEND PROPERTY HSMADM_SCRIPT_TESTS
             ${CMAKE_CURRENT_LIST_DIR}/rotate_reencipher_common.sh)
