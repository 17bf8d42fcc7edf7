# SPDX-License-Identifier: BSD-2-Clause
# area "perf": DESIGN §10 invariants 1 (core dumps off while a secret-handling
# command waits) and 6 (PINs only from descriptors or the terminal), checked
# on the built commands with virtual cards (tests/harness/pcsc.sh).
hsm_script_test(invariants ${CMAKE_CURRENT_LIST_DIR}/invariants.sh
                LABELS "integration;invariants" TIMEOUT 120)
