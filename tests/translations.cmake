# Every user-visible string has a German translation: lrelease must report no unfinished ones.
execute_process(COMMAND "${LRELEASE}" "${TS}" -qm "${QM}" OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE result)
if(NOT result EQUAL 0)
    message(FATAL_ERROR "lrelease failed: ${out}${err}")
endif()
if(NOT out MATCHES "\\(([0-9]+) finished and 0 unfinished\\)")
    message(FATAL_ERROR "${TS} has unfinished translations:\n${out}")
endif()
message(STATUS "${out}")
