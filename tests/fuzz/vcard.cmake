# SPDX-License-Identifier: BSD-2-Clause
# vcard area: the virtual PIV card's APDU handler.
hsm_fuzz_target(fuzz_vcard_apdu SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_vcard_apdu.c
                LIBS hsmadm_vcard hsmadm)
# ... and its card file parser.
hsm_fuzz_target(fuzz_vcard_file SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_vcard_file.c
                LIBS hsmadm_vcard hsmadm)
