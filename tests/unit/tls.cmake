# SPDX-License-Identifier: BSD-2-Clause
# lib/ certificates and TLS: x509util.c (the certificates hsmadm issues) and
# tlsctx.c (mutual TLS 1.3 between workstation and module, real handshakes).
hsm_unit_test(test_x509util SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_x509util.c LIBS hsmadm)
hsm_unit_test(test_tlsctx SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tlsctx.c LIBS hsmadm)
