# Bad input to melody_gan: every case must exit with status 1 (not crash or
# hang) and print exactly one line on stderr that starts "melody_gan: error: ".
#   cmake -DPROGRAM=path/to/melody_gan -DWORK=smoke-work-dir -DCORPUS=data -P bad_input.cmake
# WORK is the folder of a finished `melody_gan --smoke --work-dir WORK` run.

if(NOT PROGRAM OR NOT WORK OR NOT CORPUS)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=melody_gan -DWORK=dir -DCORPUS=dir -P bad_input.cmake")
endif()
set(model "${WORK}/simple.safetensors")
if(NOT EXISTS "${model}")
  message(FATAL_ERROR "${model} is missing: run melody_gan --smoke --work-dir ${WORK} first")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/../common/bad_input_cases.cmake)

file(WRITE "${WORK}/not_a_model.safetensors" "this is not a checkpoint")
file(WRITE "${WORK}/a_file" "not a folder")
file(MAKE_DIRECTORY "${WORK}/empty_corpus")
set(out "${WORK}/bad.safetensors")
set(missing "${WORK}/no_such_folder")
expect_failure("unknown command" fly)
expect_failure("unknown flag" train --corpus "${CORPUS}" --out "${out}" --bogus 1)
expect_failure("missing corpus" train --corpus "${WORK}/no_such_corpus" --out "${out}")
expect_failure("missing --out" train --corpus "${CORPUS}")
expect_failure("bad --arch" train --corpus "${CORPUS}" --out "${out}" --arch recurrent)
expect_failure("zero --d-steps" train --corpus "${CORPUS}" --out "${out}" --d-steps 0)
expect_failure("non-numeric --epochs" train --corpus "${CORPUS}" --out "${out}" --epochs many)
expect_failure("batch of one" train --corpus "${CORPUS}" --out "${out}" --batch 1)
expect_failure("sequence longer than E-2SEQ" train --corpus "${CORPUS}" --out "${out}" --seq-len 101)
expect_failure("negative learning rate" train --corpus "${CORPUS}" --out "${out}" --lr-g -0.1)
expect_failure("missing model" generate --model "${WORK}/no_such_model.safetensors" --out-dir "${WORK}/bad")
expect_failure("not a model" generate --model "${WORK}/not_a_model.safetensors" --out-dir "${WORK}/bad")
expect_failure("zero --count" generate --model "${model}" --out-dir "${WORK}/bad" --count 0)
expect_failure("upbeat as long as the bar" generate --model "${model}" --out-dir "${WORK}/bad" --pickup 4)
expect_failure("missing --out-dir" generate --model "${model}")
expect_failure("evaluate without a corpus" evaluate --model "${model}" --corpus "${WORK}/no_such_corpus")
expect_failure("evaluate --count 1" evaluate --model "${model}" --corpus "${CORPUS}" --count 1)
# Output paths and the corpus are checked before any work or banner.
expect_failure("--smoke --work-dir is a file" --smoke --work-dir "${WORK}/a_file" --corpus "${CORPUS}")
expect_failure("--smoke --work-dir under a file" --smoke --work-dir "${WORK}/a_file/smoke" --corpus "${CORPUS}")
expect_failure("train --out in a missing folder" train --corpus "${CORPUS}" --out "${missing}/m.safetensors" --epochs 1)
expect_failure("train --metrics-json in a missing folder" train --corpus "${CORPUS}" --out "${out}" --epochs 1
               --metrics-json "${missing}/m.json")
expect_failure("train on an empty corpus" train --corpus "${WORK}/empty_corpus" --out "${out}")
expect_failure("generate --out-dir is a file" generate --model "${model}" --out-dir "${WORK}/a_file")
expect_failure("evaluate on an empty corpus" evaluate --model "${model}" --corpus "${WORK}/empty_corpus")
expect_failure("evaluate --metrics-json in a missing folder" evaluate --model "${model}" --corpus "${CORPUS}"
               --metrics-json "${missing}/m.json")
expect_nothing_left("${out}" "${missing}")

finish_bad_input_cases()
