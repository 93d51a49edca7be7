# Runs at build time (cmake -P): npm ci into WORK, then build.mjs into OUT; on any failure writes a
# fallback page into OUT instead, so that the build never fails because of the dashboard.
#   -DNODE=... -DNPM=... (empty when not found) -DSRC=resources/web -DWORK=npm dir -DOUT=output dir
cmake_minimum_required(VERSION 3.21)

function(write_fallback reason)
    message(WARNING "Web dashboard NOT built: ${reason}\nGET / serves a page that says what is missing.")
    string(REPLACE "&" "&amp;" REASON "${reason}")
    string(REPLACE "<" "&lt;" REASON "${REASON}")
    string(REPLACE ">" "&gt;" REASON "${REASON}")
    configure_file(${SRC}/fallback.html.in ${OUT}/index.html @ONLY)
    file(WRITE ${OUT}/assets/app.js "/* The Runwatch web dashboard was not built: see index.html. */\n")
    # No stamp: the next build tries again (e.g. once the machine is online).
    file(REMOVE ${OUT}/built.stamp)
endfunction()

file(MAKE_DIRECTORY ${OUT}/assets ${WORK})
if(NOT NODE OR NOT NPM)
    write_fallback("node and npm were not found when CMake configured the build. Install nodejs and npm and reconfigure.")
    return()
endif()

# npm ci only when the lock file changed since the last successful install.
file(READ ${SRC}/package-lock.json lock)
set(installed "")
if(EXISTS ${WORK}/installed-lock.json AND EXISTS ${WORK}/node_modules/uplot/package.json)
    file(READ ${WORK}/installed-lock.json installed)
endif()
if(NOT installed STREQUAL lock)
    file(COPY ${SRC}/package.json ${SRC}/package-lock.json DESTINATION ${WORK})
    # Prefer the local npm cache, so an offline machine that installed once before still builds.
    execute_process(COMMAND ${NPM} ci --prefer-offline --no-audit --no-fund --ignore-scripts
                    WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        execute_process(COMMAND ${NPM} ci --offline --no-audit --no-fund --ignore-scripts
                        WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc OUTPUT_VARIABLE out2 ERROR_VARIABLE err2)
    endif()
    if(NOT rc EQUAL 0)
        string(STRIP "${err}${err2}" why)
        string(REGEX MATCHALL "[^\n]+" why_lines "${why}")
        list(LENGTH why_lines n)
        if(n GREATER 4)
            list(SUBLIST why_lines 0 4 why_lines)
        endif()
        list(JOIN why_lines " / " why)
        if(why STREQUAL "")
            set(why "exit code ${rc}")
        endif()
        write_fallback("'npm ci' could not install the chart library uPlot (offline, and not in the npm cache?): ${why}")
        return()
    endif()
    file(WRITE ${WORK}/installed-lock.json "${lock}")
endif()

execute_process(COMMAND ${NODE} ${SRC}/build.mjs --src ${SRC}/src --uplot ${WORK}/node_modules/uplot --out ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
    write_fallback("web/build.mjs failed: ${err}")
    return()
endif()
file(WRITE ${OUT}/built.stamp "")
message(STATUS "Web dashboard: ${out}")
