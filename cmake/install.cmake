# SPDX-License-Identifier: BSD-2-Clause
# Installing hsmadm like a tool: `cmake --install BUILD` puts the commands,
# the man pages, bash completion, the ceremony scripts (share/hsmadm) and the
# documentation in place; `cpack -G DEB` (in BUILD) makes a Debian package of
# the same files. tests/integration/install_package.sh checks both.
include(GNUInstallDirs)

set(HSMADM_INSTALL_PROGRAMS ${HSMADM_ALL_COMMANDS} hsmadm-simd hsmadm-vcard)
install(TARGETS ${HSMADM_INSTALL_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

file(GLOB HSMADM_MAN_PAGES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/*.1)
install(FILES ${HSMADM_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# One completion file, under every command's name (bash-completion loads a
# command's completion by its name).
foreach(prog ${HSMADM_INSTALL_PROGRAMS})
  install(FILES ${CMAKE_SOURCE_DIR}/contrib/bash-completion/hsmadm
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME ${prog})
endforeach()

if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/ceremony-scripts)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/ceremony-scripts/
          DESTINATION ${CMAKE_INSTALL_DATADIR}/hsmadm/ceremony-scripts)
endif()
file(GLOB HSMADM_DOCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/LICENSE ${HSMADM_DOCS}
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/formats/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/formats)

set(CPACK_PACKAGE_NAME hsmadm)
set(CPACK_PACKAGE_VENDOR "hsmadm")
set(CPACK_PACKAGE_CONTACT "hsmadm maintainers <hsmadm@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "HSM key ceremonies and domain administration with smart cards and an evidence log")
set(CPACK_PACKAGE_INSTALL_DIRECTORY hsmadm)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# the libraries (OpenSSL, jansson, pcsclite, readline) as dpkg-shlibdeps finds them
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "pcscd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "man-db, bash-completion")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "vsmartcard-vpcd, opensc, yubico-piv-tool")
set(CPACK_GENERATOR DEB)
include(CPack)
