# SPDX-License-Identifier: BSD-2-Clause
# smartcard/ (area piv): status words, profile and envelope objects.
hsm_unit_test(test_piv SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_piv.c LIBS hsmadm_card)
# The card profile and envelope objects, encoded and decoded without a card (smartcard/cardprofile.c).
hsm_unit_test(test_cardprofile SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cardprofile.c
              LIBS hsmadm_card hsmadm LABELS piv)
