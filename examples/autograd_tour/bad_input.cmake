# Bad input to autograd_tour: every case must exit 1 with exactly one line on
# stderr, "autograd_tour: error: ...", before any training; --help prints
# the usage and exits 0.
#   cmake -DPROGRAM=path/to/autograd_tour -P bad_input.cmake

if(NOT PROGRAM)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=autograd_tour -P bad_input.cmake")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/../common/bad_input_cases.cmake)

execute_process(COMMAND "${PROGRAM}" --help RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
if(NOT rc STREQUAL "0" OR NOT out MATCHES "^usage: autograd_tour")
  message(SEND_ERROR "FAIL --help: exit '${rc}', stdout does not start with 'usage: autograd_tour'\n  stderr: ${err}")
  math(EXPR failures "${failures} + 1")
else()
  message(STATUS "ok   --help")
endif()

# Integers are whole decimal numbers: no fraction, exponent or hex.
expect_failure("fractional --steps" --steps 1.5)
expect_failure("exponent --steps" --steps 1e3)
expect_failure("fractional --threads" --threads 1.5)
expect_failure("hex --seed" --seed 0x10)
expect_failure("huge --seed" --seed 99999999999999999999)
# Out of range. An empty value is given as --flag= (CMake drops "" from a list).
expect_failure("empty --steps" --steps=)
expect_failure("--steps 0" --steps 0)
expect_failure("negative --steps" --steps -5)
expect_failure("negative --seed" --seed -1)
expect_failure("--threads 0" --threads 0)
expect_failure("--lr 0" --lr 0)
expect_failure("--lr nan" --lr nan)
expect_failure("--lr without a value" --lr)
# Not flags of this program.
expect_failure("unknown flag" --bogus)
expect_failure("positional argument" xor)
expect_failure("value for a switch" --smoke 3)

finish_bad_input_cases()
