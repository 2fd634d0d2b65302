# Bad input to melody_lstm: every case must exit non-zero (and not crash or
# hang) with exactly one line on stderr that says "error:".
#   cmake -DPROGRAM=path/to/melody_lstm -DWORK=smoke-work-dir -P bad_input.cmake
# WORK is the folder of a finished `melody_lstm --smoke --work-dir WORK` run:
# it holds model.safetensors, trained on the corpus in WORK/corpus or data/.

if(NOT PROGRAM OR NOT WORK)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=melody_lstm -DWORK=dir -P bad_input.cmake")
endif()
if(NOT EXISTS "${WORK}/model.safetensors")
  message(FATAL_ERROR "${WORK}/model.safetensors is missing: run melody_lstm --smoke --work-dir ${WORK} first")
endif()
set(failures 0)

function(expect_failure name)
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
  elseif(NOT err MATCHES "^melody_lstm: error: ")
    set(problem "stderr does not start with 'melody_lstm: error: '")
  endif()
  if(problem)
    message(SEND_ERROR "FAIL ${name}: ${problem}\n  stderr: ${err}")
    math(EXPR n "${failures} + 1")
    set(failures ${n} PARENT_SCOPE)
  else()
    message(STATUS "ok   ${name}: ${err}")
  endif()
endfunction()

# A second corpus whose vocabulary differs (low notes the first one lacks).
set(other "${WORK}/other_corpus")
file(MAKE_DIRECTORY "${other}")
file(WRITE "${other}/other01.krn"
  "!!!OTL: Low scale\n**kern\n*M4/4\n*k[]\n*C:\n=1\n4C\n4D\n4E\n4F\n=2\n4G\n4A\n4B\n4c\n==\n*-\n")
file(COPY "${WORK}/model.safetensors" DESTINATION "${WORK}/copy")
file(WRITE "${WORK}/not_a_model.safetensors" "this is not a checkpoint")

expect_failure("unknown command" fly)
expect_failure("unknown flag" train --bogus 1 --out "${WORK}/x.safetensors")
expect_failure("missing corpus" train --corpus "${WORK}/no_such_corpus" --out "${WORK}/x.safetensors")
expect_failure("missing --out" train --corpus "${other}")
expect_failure("bad --mode" train --corpus "${other}" --out "${WORK}/x.safetensors" --mode sideways)
expect_failure("--best-out equal to --out" train --corpus "${other}" --out "${WORK}/x.safetensors" --best-out "${WORK}/x.safetensors" --epochs 1)
expect_failure("non-numeric --epochs" train --corpus "${other}" --out "${WORK}/x.safetensors" --epochs many)
expect_failure("temperature 0" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --temperature 0)
expect_failure("negative temperature" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --temperature -1)
expect_failure("missing model" generate --model "${WORK}/no_such_model.safetensors" --out-dir "${WORK}/bad")
expect_failure("not a model" generate --model "${WORK}/not_a_model.safetensors" --out-dir "${WORK}/bad")
expect_failure("seed token outside the vocabulary" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --seed-melody "3")
expect_failure("missing primer" complete --model "${WORK}/model.safetensors" --primer "${WORK}/no_such.krn" --out-dir "${WORK}/bad")
expect_failure("evaluate on another vocabulary" evaluate --model "${WORK}/model.safetensors" --corpus "${other}")
expect_failure("resume on another vocabulary" train --resume --out "${WORK}/copy/model.safetensors" --corpus "${other}")

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} bad-input case(s) failed")
endif()
message(STATUS "all bad-input cases refused with one line")
