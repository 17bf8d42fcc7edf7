# hsmadm-card against virtual cards on a private pcscd (area piv).
foreach(t card_init card_pin card_removed card_ykpiv card_env)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.sh)
    hsm_script_test(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.sh LABELS integration TIMEOUT 180)
  endif()
endforeach()
