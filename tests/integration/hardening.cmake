# SPDX-License-Identifier: BSD-2-Clause
# area "hardening": hsmadm-simd under hostile clients. module_slowclient: 64
# connections that send a byte every 4 s neither outlive the handshake
# deadline nor lock a real workstation out (the per-client-address cap), and
# a dripped frame ends at the frame deadline. module_canonical: a frame whose
# JSON is not in canonical form is refused and the connection closed.
hsm_script_test(module_slowclient ${CMAKE_CURRENT_LIST_DIR}/module_slowclient.sh
                LABELS "integration;module" TIMEOUT 150)
hsm_script_test(module_canonical ${CMAKE_CURRENT_LIST_DIR}/module_canonical.sh
                LABELS "integration;module" TIMEOUT 60)
# domain_window: hsmadm-domain --valid-for and the command window limit.
hsm_script_test(domain_window ${CMAKE_CURRENT_LIST_DIR}/domain_window.sh
                LABELS "integration;domain" TIMEOUT 120)
