# SPDX-License-Identifier: BSD-2-Clause
# area "domain": group engine fan-out benchmark (quick: about 5 s).
hsm_script_test(bench_group_apply ${CMAKE_CURRENT_LIST_DIR}/group_apply.sh
                LABELS "bench;quick" TIMEOUT 120)
