# Bad input to melody_data: every case must exit 1 with exactly one line on
# stderr, "melody_data: error: ...", and write no output file. The --help
# of the program and of each command must print a usage and exit 0.
#   cmake -DPROGRAM=path/to/melody_data -DWORK=scratch-dir -P bad_input.cmake

if(NOT PROGRAM OR NOT WORK)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=melody_data -DWORK=dir -P bad_input.cmake")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/../common/bad_input_cases.cmake)

# A clean scratch folder: a file left by an earlier run must not hide a new one.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/empty_corpus")
set(krn "${CMAKE_CURRENT_LIST_DIR}/../../data/ah_vous_dirai_je_maman.krn")
set(no_notes_mid "${CMAKE_CURRENT_LIST_DIR}/testdata/no_notes.mid")  # a tempo event and nothing else
file(WRITE "${WORK}/rests.tokens" "r _ _ _ r _\n")

expect_help("--help" --help)
expect_help("stats --help" stats --help)
expect_help("encode --help" encode --help)
expect_help("convert --help" convert --help)
expect_help("decode --help" decode --help)

# Command line. An empty value is given as --flag= (CMake drops "" from a list).
expect_failure("no command")
expect_failure("unknown command" frobnicate)
expect_failure("unknown flag" stats --bogus)
expect_failure("flag without its value" convert "${krn}" "${WORK}/a.mid" --tempo)
expect_failure("value for a switch" convert "${krn}" "${WORK}/a.mid" --transpose 2)
expect_failure("positional after the flags" convert "${krn}" --transpose "${WORK}/a.mid")
expect_failure("convert without OUT" convert "${krn}")
expect_failure("convert with three files" convert "${krn}" "${WORK}/a.mid" "${WORK}/b.mid")
expect_failure("stats with a positional" stats extra --corpus "${WORK}/empty_corpus")

# Corpus.
expect_failure("empty --corpus" stats --corpus=)
expect_failure("missing corpus" stats --corpus "${WORK}/no_such_folder")
expect_failure("corpus without .krn files" encode --corpus "${WORK}/empty_corpus")
expect_failure("bad --encoding" encode --corpus "${WORK}/empty_corpus" --encoding mp3)
expect_failure("empty --encoding" encode --corpus "${WORK}/empty_corpus" --encoding=)
expect_failure("bad --split" encode --corpus "${WORK}/empty_corpus" --split test)

# convert: flags that do not apply to the output are refused, not dropped.
expect_failure("--program for .krn output" convert "${krn}" "${WORK}/p.krn" --program 40)
expect_failure("--format for .krn output" convert "${krn}" "${WORK}/f.krn" --format 0)
expect_failure("--format 7" convert "${krn}" "${WORK}/a.mid" --format 7)
expect_failure("--format 0.5" convert "${krn}" "${WORK}/a.mid" --format 0.5)
expect_failure("--program 128" convert "${krn}" "${WORK}/a.mid" --program 128)
expect_failure("--tempo 0" convert "${krn}" "${WORK}/a.mid" --tempo 0)
expect_failure("--tempo fast" convert "${krn}" "${WORK}/a.mid" --tempo fast)
expect_failure("MIDI file without notes" convert "${no_notes_mid}" "${WORK}/no_notes.krn")
expect_failure("unknown output extension" convert "${krn}" "${WORK}/a.wav")
expect_failure("missing input" convert "${WORK}/missing.krn" "${WORK}/a.mid")
expect_failure("input is a folder" convert "${WORK}/empty_corpus" "${WORK}/a.mid")

# decode.
expect_failure("meter 3/5" decode "${WORK}/m.mid" --tokens "60 _ 62 _" --meter 3/5)
expect_failure("empty --meter" decode "${WORK}/m.mid" --tokens "60 _ 62 _" --meter=)
expect_failure("tokens: a rest only" decode "${WORK}/r.mid" --tokens "r")
expect_failure("tokens: a hold only" decode "${WORK}/h.mid" --tokens "_")
expect_failure("tokens: the end only" decode "${WORK}/d.mid" --tokens "/")
expect_failure("tokens: nothing" decode "${WORK}/e.mid" --tokens=)
expect_failure("tokens file of rests" decode "${WORK}/rf.krn" --tokens-file "${WORK}/rests.tokens")
expect_failure("empty --tokens-file" decode "${WORK}/t.mid" --tokens-file=)
expect_failure("both --tokens and --tokens-file" decode "${WORK}/t.mid" --tokens "60" --tokens-file "${WORK}/rests.tokens")
expect_failure("no tokens" decode "${WORK}/t.mid")
expect_failure("token out of range" decode "${WORK}/t.mid" --tokens "60 _ 128")
expect_failure("--program for .krn output" decode "${WORK}/t.krn" --tokens "60 _" --program 40)
expect_failure("--tempo 1000" decode "${WORK}/t.mid" --tokens "60 _" --tempo 1000)

# None of the refused commands left a file behind.
file(GLOB_RECURSE left RELATIVE "${WORK}" "${WORK}/*.mid" "${WORK}/*.krn" "${WORK}/*.wav" "${WORK}/*.tmp-*")
if(left)
  message(SEND_ERROR "FAIL refused commands wrote files: ${left}")
  math(EXPR failures "${failures} + 1")
endif()

# And a flag that applies is applied: --tempo is written into a .krn as *MM.
execute_process(COMMAND "${PROGRAM}" convert "${krn}" "${WORK}/tempo.krn" --tempo 90
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc STREQUAL "0" OR NOT EXISTS "${WORK}/tempo.krn")
  message(SEND_ERROR "FAIL convert --tempo 90 to .krn: exit '${rc}': ${err}")
  math(EXPR failures "${failures} + 1")
else()
  file(READ "${WORK}/tempo.krn" written)
  if(NOT written MATCHES "\n\\*MM90\n")
    message(SEND_ERROR "FAIL convert --tempo 90 to .krn: no *MM90 in the output")
    math(EXPR failures "${failures} + 1")
  endif()
endif()

# A line break that comes in with the input still gives one line of error.
expect_failure("a two-line --title" decode "${WORK}/two_lines.krn" --tokens "60 _ _ _" --title "a\nb")
expect_nothing_left("${WORK}/two_lines.krn")

finish_bad_input_cases()
