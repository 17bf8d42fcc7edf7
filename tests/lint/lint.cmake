# SPDX-License-Identifier: BSD-2-Clause
# area "lint": the house rules of docs/architecture.md on the sources (the
# one-way rule between layers, records spelled only in evidence/, function
# and main() lengths, SPDX lines).
find_package(Python3 COMPONENTS Interpreter REQUIRED)
add_test(NAME structure COMMAND ${Python3_EXECUTABLE}
         ${CMAKE_CURRENT_LIST_DIR}/structure.py ${CMAKE_SOURCE_DIR})
set_tests_properties(structure PROPERTIES LABELS "lint;quick" TIMEOUT 60)
