# SPDX-License-Identifier: BSD-2-Clause
# vcard area: the private pcscd harness checks itself.
hsm_script_test(harness_selftest ${CMAKE_CURRENT_LIST_DIR}/../harness/selftest.sh
                LABELS integration TIMEOUT 120)
hsm_script_test(vcard_cli ${CMAKE_CURRENT_LIST_DIR}/vcard_cli.sh LABELS integration TIMEOUT 120)
