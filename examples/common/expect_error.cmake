# ctest helper: runs a command that must reject its input cleanly, i.e. exit
# non-zero with exactly one line on stderr that says "error:" (no crash, no
# stack of messages). Usage:
#   cmake -DCOMMAND="prog;arg;arg" -P expect_error.cmake
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(STRIP "${err}" err)
string(REGEX MATCHALL "\n" newlines "${err}")
list(LENGTH newlines extra_lines)
if(rc EQUAL 0)
  message(FATAL_ERROR "expected a non-zero exit, got 0; stderr: ${err}")
endif()
if(NOT rc MATCHES "^[0-9]+$" OR rc GREATER 2)
  message(FATAL_ERROR "expected exit code 1 or 2, got '${rc}' (a crash?); stderr: ${err}")
endif()
if(NOT extra_lines EQUAL 0 OR NOT err MATCHES "error:")
  message(FATAL_ERROR "expected one error line on stderr, got:\n${err}")
endif()
message(STATUS "rejected as expected (exit ${rc}): ${err}")
