# area "ceremony": key-part envelope parser.
hsm_fuzz_target(fuzz_envelope SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_envelope.c LIBS hsmadm)
