# The bad-input scripts of the example programs (examples/*/bad_input.cmake)
# include this. Each case runs ${PROGRAM} with its arguments and must exit
# with status 1 (bad input: not 0, not a crash, not a timeout) and print
# exactly one line on stderr, starting "<program>: error: ".
#
#   include(${CMAKE_CURRENT_LIST_DIR}/../common/bad_input_cases.cmake)
#   expect_failure("unknown flag" train --bogus 1)
#   ...
#   finish_bad_input_cases()

get_filename_component(bad_input_program "${PROGRAM}" NAME_WE)
set(failures 0)

# Inside the functions below: counts a failed case in the script's
# `failures` (a macro, so that it updates the calling function's copy and
# passes it up; a macro's arguments are pasted as text, so the message stays
# at the call).
macro(count_failure)
  math(EXPR failures "${failures} + 1")
  set(failures ${failures} PARENT_SCOPE)
endmacro()

function(expect_failure name)
  expect_failure_saying("${name}" "" ${ARGN})
endfunction()

# The same, and the error must contain `expected`: for a case where other bad
# input on the same command line would be refused too, so that the case fails
# when the check it is about is gone.
function(expect_failure_saying name expected)
  execute_process(COMMAND "${PROGRAM}" ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  string(STRIP "${err}" err)
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines extra_lines)
  set(problem "")
  if(rc STREQUAL "0")
    set(problem "exited with 0")
  elseif(NOT rc STREQUAL "1")
    set(problem "exit status '${rc}' (expected 1: bad input, not a crash or a timeout)")
  elseif(NOT extra_lines EQUAL 0)
    set(problem "stderr has more than one line")
  elseif(NOT err MATCHES "^${bad_input_program}: error: ")
    set(problem "stderr does not start with '${bad_input_program}: error: '")
  elseif(NOT expected STREQUAL "")
    string(FIND "${err}" "${expected}" at)
    if(at EQUAL -1)
      set(problem "the error does not say '${expected}'")
    endif()
  endif()
  if(problem)
    message(SEND_ERROR "FAIL ${name}: ${problem}\n  stderr: ${err}")
    count_failure()
  else()
    message(STATUS "ok   ${name}: ${err}")
  endif()
endfunction()

# --help (alone or after other flags) answers with a usage on stdout, nothing
# on stderr, exit 0, and runs nothing else.
function(expect_help name)
  execute_process(COMMAND "${PROGRAM}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  if(NOT rc STREQUAL "0" OR NOT out MATCHES "^usage: " OR NOT err STREQUAL "")
    message(SEND_ERROR "FAIL ${name}: exit '${rc}', stdout must start with 'usage: ' and stderr be empty\n  stderr: ${err}")
    count_failure()
  else()
    message(STATUS "ok   ${name}")
  endif()
endfunction()

# After the refusals: none of these paths may exist (a refused command writes nothing).
function(expect_nothing_left)
  foreach(path ${ARGN})
    if(EXISTS "${path}")
      message(SEND_ERROR "FAIL a refused command left '${path}' behind")
      count_failure()
    endif()
  endforeach()
endfunction()

function(finish_bad_input_cases)
  if(failures GREATER 0)
    message(FATAL_ERROR "${failures} bad-input case(s) failed")
  endif()
  message(STATUS "all bad-input cases refused with one line")
endfunction()
