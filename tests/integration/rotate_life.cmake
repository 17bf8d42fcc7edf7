# SPDX-License-Identifier: BSD-2-Clause
# area "rotate": the master key's whole life with custodian cards (stage,
# re-encipher, finalize, destroy-old; backout; decommission).
hsm_script_test(rotate_life ${CMAKE_CURRENT_LIST_DIR}/rotate_life.sh
                LABELS integration TIMEOUT 300)
