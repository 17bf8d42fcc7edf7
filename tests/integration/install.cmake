# SPDX-License-Identifier: BSD-2-Clause
# area "install": cmake --install, bash completion, the Debian package.
hsm_script_test(install_package ${CMAKE_CURRENT_LIST_DIR}/install_package.sh
                LABELS integration TIMEOUT 300)
