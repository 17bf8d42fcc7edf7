# SPDX-License-Identifier: BSD-2-Clause
# area "rotate": re-encipher job end to end vs OpenSSL's AES-256-GCM on the
# same blobs. ctest runs 100,000 blobs (about 10 s); the acceptance size:
#   REENC_BENCH_N=1000000 ctest --test-dir build -R bench_reencipher -V
add_executable(reencipher_ref ${CMAKE_CURRENT_LIST_DIR}/reencipher_ref.c)
set_target_properties(reencipher_ref PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_link_libraries(reencipher_ref PRIVATE OpenSSL::Crypto)
hsm_script_test(bench_reencipher ${CMAKE_CURRENT_LIST_DIR}/reencipher.sh
                LABELS "bench;quick" TIMEOUT 300)
# The same on both key stores, the token's ratio beside the file one
# (REENC_BENCH_N blobs each, default 10000; about 45 s).
hsm_script_test(bench_reencipher_p11 ${CMAKE_CURRENT_LIST_DIR}/reencipher_p11.sh
                LABELS "bench;pkcs11" TIMEOUT 300)
