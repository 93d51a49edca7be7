# Every user-visible string has a German translation. The sources are scanned again (lupdate into a
# copy of the .ts file), so a string added to the code without a translation fails this test too.
file(GLOB sources ${SOURCE_DIR}/app/*.cpp ${SOURCE_DIR}/widgets/*.cpp)
configure_file(${TS} ${COPY} COPYONLY)
execute_process(COMMAND "${LUPDATE}" ${sources} -ts "${COPY}" -no-obsolete -locations none
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE result)
if(NOT result EQUAL 0)
    message(FATAL_ERROR "lupdate failed: ${out}${err}")
endif()
execute_process(COMMAND "${LRELEASE}" "${COPY}" -qm "${QM}" OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE result)
if(NOT result EQUAL 0)
    message(FATAL_ERROR "lrelease failed: ${out}${err}")
endif()
if(NOT out MATCHES "\\(([0-9]+) finished and 0 unfinished\\)" OR out MATCHES "untranslated")
    message(FATAL_ERROR "${TS} lacks translations (run the update_translations target, then translate):\n${out}")
endif()
message(STATUS "${out}")
