# SPDX-License-Identifier: BSD-2-Clause
# lib/ core: errors, secure buffers, the checked byte reader, the file writer.
hsm_unit_test(test_err SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_err.c LIBS hsmadm)
hsm_unit_test(test_secbuf SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_secbuf.c LIBS hsmadm)
# The one checked byte reader (TLV too).
hsm_unit_test(test_bytes SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bytes.c LIBS hsmadm)
# The one file writer (temp file, fsync, rename).
hsm_unit_test(test_fileio SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fileio.c LIBS hsmadm)
# Starting a thread with a small stack.
hsm_unit_test(test_thread SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_thread.c LIBS hsmadm)
