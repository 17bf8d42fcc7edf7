# SPDX-License-Identifier: BSD-2-Clause
# area "core": canonical JSON parser/writer (parse, dump, re-parse, re-dump).
hsm_fuzz_target(fuzz_cjson SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_cjson.c LIBS hsmadm)
