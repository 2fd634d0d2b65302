# Bad input to melody_vae: every case must exit with status 1 (not crash or
# hang) and print exactly one line on stderr that starts "melody_vae: error: ".
#   cmake -DPROGRAM=path/to/melody_vae -DWORK=scratch-dir -DCORPUS=data -P bad_input.cmake
# WORK is emptied first; a tiny model is trained there for the cases that need one.

if(NOT PROGRAM OR NOT WORK OR NOT CORPUS)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=melody_vae -DWORK=dir -DCORPUS=dir -P bad_input.cmake")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/../common/bad_input_cases.cmake)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/empty_corpus")
file(WRITE "${WORK}/a_file" "not a folder")
set(model "${WORK}/model.safetensors")
execute_process(COMMAND "${PROGRAM}" train --corpus "${CORPUS}" --out "${model}" --epochs 1 --hidden 8 --latent 2
                        --threads 1
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err TIMEOUT 120)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "training the test model failed (${rc}): ${err}")
endif()
set(out "${WORK}/bad.safetensors")
set(train train --corpus "${CORPUS}" --out "${out}" --epochs 1 --hidden 8 --latent 2 --threads 1)
set(missing "${WORK}/no_such_folder")

expect_failure("no command")
expect_failure("unknown command" dance)
expect_failure("unknown flag" train --no-such-flag 1)
expect_failure("non-numeric --epochs" train --epochs many)
expect_failure("bad --arch" train --arch transformer --corpus "${CORPUS}" --out "${out}")
expect_failure("missing corpus" train --corpus "${WORK}/no_such_corpus" --out "${out}")
expect_failure("missing --out" train --corpus "${CORPUS}")
expect_failure("negative --kl-weight" ${train} --kl-weight -1)
# Values the checkpoint loader refuses are refused by train (the same ranges).
expect_failure("--weight-decay inf" ${train} --weight-decay inf)
expect_failure("--weight-decay 5000" ${train} --weight-decay 5000)
expect_failure("--warmup inf" ${train} --warmup inf)
expect_failure("--warmup 1e300" ${train} --warmup 1e300)
expect_failure("--clip inf" ${train} --clip inf)
expect_failure("--kl-weight 1e30" ${train} --kl-weight 1e30)
expect_failure("--hidden beyond int" train --corpus "${CORPUS}" --out "${out}" --hidden 4294967304)
# Output paths are checked before training; corpus problems before the banner.
expect_failure("--out in a missing folder" train --corpus "${CORPUS}" --out "${missing}/m.safetensors" --epochs 1)
expect_failure("--out is a folder" train --corpus "${CORPUS}" --out "${WORK}" --epochs 1)
expect_failure("train --metrics-json in a missing folder" ${train} --metrics-json "${missing}/m.json")
expect_failure("train on an empty corpus" train --corpus "${WORK}/empty_corpus" --out "${out}")
expect_failure("evaluate on an empty corpus" evaluate --model "${model}" --corpus "${WORK}/empty_corpus")
expect_failure("evaluate --limit 1 (no held-out song)" evaluate --model "${model}" --corpus "${CORPUS}" --limit 1)
expect_failure("evaluate --metrics-json in a missing folder" evaluate --model "${model}" --corpus "${CORPUS}"
               --metrics-json "${missing}/m.json")
expect_failure("a source file as --model" evaluate --model "${CMAKE_CURRENT_LIST_DIR}/main.cpp" --corpus "${CORPUS}")
expect_failure("missing model" generate --model "${WORK}/no_such_model.safetensors" --out-dir "${WORK}/gen")
expect_failure("generate --out-dir is a file" generate --model "${model}" --out-dir "${WORK}/a_file")
expect_failure("generate --out-dir under a file" generate --model "${model}" --out-dir "${WORK}/a_file/gen")
expect_failure("generate --metrics-json in a missing folder" generate --model "${model}" --out-dir "${WORK}/gen"
               --metrics-json "${missing}/m.json")
expect_failure("--steps 1" generate --model "${model}" --interpolate a.krn b.krn --steps 1 --out-dir "${WORK}/gen")
expect_failure("--interpolate with one song" generate --model "${model}" --interpolate a.krn --out-dir "${WORK}/gen")
expect_failure("--temperature 0" generate --model "${model}" --decode sample --temperature 0 --out-dir "${WORK}/gen")
expect_failure("--smoke has no --work-dir" --smoke --work-dir "${WORK}/a_file")
expect_nothing_left("${WORK}/gen" "${missing}")

expect_help("--help wins over --smoke: it prints the flags and runs nothing" --smoke --help)

finish_bad_input_cases()
