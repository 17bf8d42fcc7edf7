# SPDX-License-Identifier: BSD-2-Clause
# area "chaos": faults at random moments of a master-key load (seeded; replay
# one with CHAOS_SEED=N CHAOS_ITER=1, soak with CHAOS_ITER=80).
hsm_script_test(chaos_commit ${CMAKE_CURRENT_LIST_DIR}/chaos_commit.sh
                LABELS "integration;chaos" TIMEOUT 400)
