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
include(${CMAKE_CURRENT_LIST_DIR}/../common/bad_input_cases.cmake)

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
expect_failure("--patience without --best-out" train --corpus "${other}" --out "${WORK}/x.safetensors" --patience 3)
expect_failure("negative --patience" train --corpus "${other}" --out "${WORK}/x.safetensors" --best-out "${WORK}/b.safetensors" --patience -1)
expect_failure("bad --inputs" train --corpus "${other}" --out "${WORK}/x.safetensors" --inputs melody)
expect_failure("bad --precision" train --corpus "${other}" --out "${WORK}/x.safetensors" --precision fp16)
expect_failure("negative --weight-decay" train --corpus "${other}" --out "${WORK}/x.safetensors" --weight-decay -0.1)
expect_failure("--mid-song-starts 1" train --corpus "${other}" --out "${WORK}/x.safetensors" --mid-song-starts 1)
expect_failure("--mid-song-starts in window mode" train --corpus "${other}" --out "${WORK}/x.safetensors" --mode window --mid-song-starts 0.5)
expect_failure("non-numeric --epochs" train --corpus "${other}" --out "${WORK}/x.safetensors" --epochs many)
expect_failure("temperature 0" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --temperature 0)
expect_failure("negative temperature" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --temperature -1)
expect_failure("bad generate --precision" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --precision fp8)
expect_failure("tempo 0" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --bpm 0)
expect_failure("meter 3/5" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --meter 3/5)
expect_failure("transpose by 100" complete --model "${WORK}/model.safetensors" --primer "${CMAKE_CURRENT_LIST_DIR}/../../data/ah_vous_dirai_je_maman.krn" --out-dir "${WORK}/bad" --transpose 100)
expect_failure("upbeat as long as the bar" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --meter 3/4 --pickup 3)
expect_failure("upbeat not in 16ths" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --pickup 0.3)
expect_failure("bpm not a number" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --bpm fast)
expect_failure("missing model" generate --model "${WORK}/no_such_model.safetensors" --out-dir "${WORK}/bad")
expect_failure("not a model" generate --model "${WORK}/not_a_model.safetensors" --out-dir "${WORK}/bad")
expect_failure("seed token outside the vocabulary" generate --model "${WORK}/model.safetensors" --out-dir "${WORK}/bad" --seed-melody "3")
expect_failure("missing primer" complete --model "${WORK}/model.safetensors" --primer "${WORK}/no_such.krn" --out-dir "${WORK}/bad")
expect_failure("evaluate on another vocabulary" evaluate --model "${WORK}/model.safetensors" --corpus "${other}")
expect_failure("resume on another vocabulary" train --resume --out "${WORK}/copy/model.safetensors" --corpus "${other}")

finish_bad_input_cases()
