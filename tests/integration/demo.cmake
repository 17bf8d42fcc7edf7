# SPDX-License-Identifier: BSD-2-Clause
# area "demo": `make demo` runs tests/demo.sh; demo_runs runs it the same way
# against this build and checks what it claims (exit 0, equal MKVPs on both
# domains, the audit says verified, nothing secret or running left behind).
hsm_script_test(demo_runs ${CMAKE_CURRENT_LIST_DIR}/demo_runs.sh LABELS demo TIMEOUT 400)
