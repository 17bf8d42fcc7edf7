# SPDX-License-Identifier: BSD-2-Clause
# Interoperability of hsmadm-vcard with independent PIV clients, each on its
# own private pcscd (tests/harness/pcsc.sh), so they run in parallel.
hsm_script_test(interop_ykpiv ${CMAKE_CURRENT_LIST_DIR}/ykpiv.sh LABELS interop TIMEOUT 180)
hsm_script_test(interop_opensc ${CMAKE_CURRENT_LIST_DIR}/opensc.sh LABELS interop TIMEOUT 180)
