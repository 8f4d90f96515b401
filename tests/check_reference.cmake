# Fails when docs/reference/kinds.md differs from `laminar describe --markdown`.
execute_process(COMMAND ${LAMINAR} describe --markdown OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "laminar describe --markdown failed (${rc})")
endif()
file(READ ${REFERENCE} committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "${REFERENCE} is out of date: regenerate it with\n  build/laminar describe --markdown > docs/reference/kinds.md")
endif()
