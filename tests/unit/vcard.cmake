# SPDX-License-Identifier: BSD-2-Clause
# vcard area: the virtual PIV card's APDU handler and card file.
hsm_unit_test(test_vcard SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_vcard.c
              LIBS hsmadm_vcard hsmadm LABELS vcard)
