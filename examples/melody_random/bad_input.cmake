# Bad input to melody_random: every case must exit with status 1 (not crash or
# hang) and print exactly one line on stderr that starts "melody_random: error: ".
#   cmake -DPROGRAM=path/to/melody_random -DWORK=scratch-dir -DCORPUS=data -P bad_input.cmake
# WORK is emptied first.

if(NOT PROGRAM OR NOT WORK OR NOT CORPUS)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=melody_random -DWORK=dir -DCORPUS=dir -P bad_input.cmake")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/../common/bad_input_cases.cmake)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/empty_corpus")
file(WRITE "${WORK}/a_file" "not a folder")
set(out_dir "${WORK}/out")
set(missing "${WORK}/no_such_folder")

expect_failure("no command")
expect_failure("unknown command" dance)
expect_failure("unknown flag" generate --no-such-flag 1)
expect_failure("bad --config" generate --config jazz --out-dir "${out_dir}")
expect_failure("--count 0" generate --count 0 --out-dir "${out_dir}")
expect_failure("a text file as --model" generate --model "${CMAKE_CURRENT_LIST_DIR}/CMakeLists.txt" --out-dir "${out_dir}")
expect_failure("train without --out" train --config chord)
# --quarters: whole 16ths, at least one, at most 4096 quarters.
expect_failure("--quarters 0.1" generate --config basic --quarters 0.1 --out-dir "${out_dir}")
expect_failure("--quarters 1e-300" generate --config basic --quarters 1e-300 --out-dir "${out_dir}")
expect_failure("--quarters inf" generate --config basic --quarters inf --out-dir "${out_dir}")
expect_failure("--quarters 5000" generate --config basic --quarters 5000 --out-dir "${out_dir}")
# Output paths and the corpus are checked before any work or banner.
expect_failure("generate --out-dir is a file" generate --out-dir "${WORK}/a_file")
expect_failure("generate --out-dir under a file" generate --out-dir "${WORK}/a_file/out")
expect_failure("generate --metrics-json in a missing folder" generate --out-dir "${out_dir}"
               --metrics-json "${missing}/m.json")
expect_failure("train --out in a missing folder" train --config chord --out "${missing}/chord.safetensors")
expect_failure("evaluate on an empty corpus" evaluate --corpus "${WORK}/empty_corpus")
expect_failure("evaluate --metrics-json in a missing folder" evaluate --corpus "${CORPUS}" --metrics-json "${missing}/m.json")
expect_failure("--smoke has no --work-dir" --smoke --work-dir "${WORK}/a_file")
expect_nothing_left("${out_dir}" "${missing}")

expect_help("--help wins over --smoke: it prints the flags and runs nothing" --smoke --help)

finish_bad_input_cases()
