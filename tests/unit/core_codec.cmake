# SPDX-License-Identifier: BSD-2-Clause
# lib/ core codecs: strict hex/base64, canonical JSON (RFC 8785), PGP words.
hsm_unit_test(test_codec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_codec.c LIBS hsmadm)
hsm_unit_test(test_cjson SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cjson.c LIBS hsmadm)
hsm_unit_test(test_words SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_words.c LIBS hsmadm)
