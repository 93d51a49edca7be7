# Starts `runwatch --demo --screenshot OUT` on a fresh data dir and checks that it exits 0 and
# leaves a PNG of a plausible size (a blank 1500x900 window compresses to a few KiB).
string(RANDOM LENGTH 8 suffix)
set(data "${CMAKE_CURRENT_BINARY_DIR}/screenshot-data-${suffix}")
file(REMOVE "${OUT}")
execute_process(
    COMMAND "${RUNWATCH}" --demo --port 0 --data-dir "${data}" --screenshot "${OUT}"
    RESULT_VARIABLE result
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err
    TIMEOUT 60)
file(REMOVE_RECURSE "${data}")
if(NOT result EQUAL 0)
    message(FATAL_ERROR "runwatch --demo --screenshot exited with ${result}\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT out MATCHES "runwatch listening on http://127.0.0.1:[0-9]+")
    message(FATAL_ERROR "no 'listening' line on stdout: ${out}")
endif()
if(NOT EXISTS "${OUT}")
    message(FATAL_ERROR "no screenshot written to ${OUT}")
endif()
file(SIZE "${OUT}" size)
file(READ "${OUT}" magic LIMIT 8 HEX)
if(NOT magic STREQUAL "89504e470d0a1a0a")
    message(FATAL_ERROR "${OUT} is not a PNG (starts with ${magic})")
endif()
if(size LESS 40000)
    message(FATAL_ERROR "screenshot is only ${size} bytes: the window looks empty")
endif()
message(STATUS "screenshot ${OUT}: ${size} bytes")
