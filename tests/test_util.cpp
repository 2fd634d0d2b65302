// Utilities: the command-line parser, atomic files, the random generator.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "legato/util/cli.hpp"
#include "legato/util/file.hpp"
#include "legato/util/random.hpp"
#include "legato/util/threads.hpp"

using namespace legato;

TEST_CASE("command line: values, defaults, switches and errors") {
  CommandLine cli("prog train", {"--epochs", "3", "--lr=0.01", "--smoke", "--out", "m.safetensors"});
  CHECK(cli.integer("epochs", 10, "epochs") == 3);
  CHECK(cli.real("lr", 1e-3, "learning rate") == doctest::Approx(0.01));
  CHECK(cli.flag("smoke", "tiny run"));
  CHECK(cli.text("out", "", "output") == "m.safetensors");
  CHECK(cli.integer("batch", 64, "batch") == 64);
  CHECK_NOTHROW(cli.finish());
  CHECK(cli.help().find("--batch VALUE") != std::string::npos);

  CommandLine unknown("prog train", {"--epoch", "3"});
  unknown.integer("epochs", 10, "epochs");
  CHECK_THROWS_WITH_AS(unknown.finish(), "prog train: unknown flag --epoch (see --help)", Error);
  CommandLine bad_number("prog", {"--epochs", "three"});
  CHECK_THROWS_WITH_AS(bad_number.integer("epochs", 1, ""), "prog: --epochs expects an integer, got 'three'", Error);
  CommandLine missing("prog", {"--out"});
  CHECK_THROWS_WITH_AS(missing.text("out", "", ""), "prog: --out needs a value", Error);
  CHECK_THROWS_AS(CommandLine("prog", {"stray"}), Error);

  // A flag given twice is a mistake, not an override; a value past its
  // type's range is refused rather than clamped (a clamped --epochs ran for ever).
  CHECK_THROWS_WITH_AS(CommandLine("prog", {"--epochs", "1", "--epochs=2"}), "prog: --epochs is given twice", Error);
  CommandLine huge("prog", {"--epochs", "99999999999999999999", "--lr", "1e400", "--clip", "0x1p-2"});
  CHECK_THROWS_WITH_AS(huge.integer("epochs", 1, ""), "prog: --epochs = '99999999999999999999' is out of range", Error);
  CHECK_THROWS_WITH_AS(huge.real("lr", 1, ""), "prog: --lr = '1e400' is out of range", Error);
  CHECK_THROWS_WITH_AS(huge.real("clip", 1, ""), "prog: --clip expects a decimal number, got '0x1p-2'", Error);
}

TEST_CASE("LEGATO_NUM_THREADS must be a whole number of threads when it is set") {
  const int before = num_threads();
  for (const char* bad : {"abc", "0", "-1", "1.5", "", "99999"}) {
    CAPTURE(bad);
    ::setenv("LEGATO_NUM_THREADS", bad, 1);
    CHECK_THROWS_WITH_AS(init_threads_from_env(),
                         ("LEGATO_NUM_THREADS = '" + std::string(bad) + "' is not a whole number of threads in 1..1024")
                             .c_str(),
                         Error);
  }
  ::setenv("LEGATO_NUM_THREADS", "1", 1);
  CHECK(init_threads_from_env() == 1);
  ::unsetenv("LEGATO_NUM_THREADS");
  set_num_threads(before);
}

TEST_CASE("output paths are checked before the work: folder missing, a folder for a file, a file for a folder") {
  const TemporaryFolder scratch("legato_test_output_paths");
  const std::filesystem::path& dir = scratch.path();
  const std::string file = (dir / "a_file").string();
  write_file_atomically(file, "x");
  CHECK_NOTHROW(check_output_file((dir / "m.safetensors").string(), "out"));
  CHECK_NOTHROW(check_output_file("", "out"));  // not asked for
  CHECK_THROWS_WITH_AS(check_output_file((dir / "no" / "m.json").string(), "metrics-json"),
                       ("--metrics-json '" + (dir / "no" / "m.json").string() + "': folder '" + (dir / "no").string() +
                        "' does not exist")
                           .c_str(),
                       Error);
  CHECK_THROWS_WITH_AS(check_output_file(dir.string(), "out"),
                       ("--out '" + dir.string() + "' is a folder, not a file").c_str(), Error);
  CHECK_NOTHROW(check_output_dir((dir / "new" / "deeper").string(), "out-dir"));  // made later
  CHECK_THROWS_WITH_AS(check_output_dir(file, "out-dir"), ("--out-dir '" + file + "' exists and is not a folder").c_str(),
                       Error);
  CHECK_THROWS_WITH_AS(check_output_dir(file + "/sub", "out-dir"),
                       ("--out-dir '" + file + "/sub' cannot be created: '" + file + "' is not a folder").c_str(), Error);
}

TEST_CASE("atomic writes replace the file whole and leave no temporary behind") {
  const TemporaryFolder scratch("legato_test_util");
  const std::filesystem::path& dir = scratch.path();
  const std::string path = (dir / "file.bin").string();
  write_file_atomically(path, "first");
  write_file_atomically(path, std::string("sec\0ond", 7));
  CHECK(read_file(path) == std::string("sec\0ond", 7));
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  CHECK(entries == 1);
  CHECK_THROWS_WITH_AS(read_file((dir / "missing").string()), doctest::Contains("cannot open for reading"), Error);
  CHECK_THROWS_AS(write_file_atomically((dir / "no/such/dir/x").string(), "x"), Error);
}

TEST_CASE("a temporary folder is the process's own and goes with everything in it, also on an error") {
  std::filesystem::path kept;
  try {
    const TemporaryFolder folder("legato_test_temporary");
    kept = folder.path();
    CHECK(kept.filename().string() == "legato_test_temporary_" + std::to_string(::getpid()));
    write_file_atomically(folder.file("b.txt"), "x");
    std::filesystem::create_directories(kept / "sub");
    write_file_atomically(kept / "sub" / "c.txt", "y");
    throw Error("the scope ends early");
  } catch (const Error&) {
  }
  CHECK_FALSE(kept.empty());
  CHECK_FALSE(std::filesystem::exists(kept));
}

TEST_CASE("a pipe is read to its end, a device is not read, and neither is replaced by a regular file") {
  const TemporaryFolder scratch("legato_test_special");
  const std::string fifo = scratch.file("pipe.krn");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  ::alarm(20);  // a hang here fails the test (SIGALRM) instead of stalling CI
  // A pipe, as /dev/stdin or <(…) give: read until its writer closes it.
  std::thread writer([&] { std::ofstream(fifo) << "60 _ _ 62"; });
  CHECK(read_file(fifo) == "60 _ _ 62");
  writer.join();
  CHECK_THROWS_WITH_AS(write_file_atomically(fifo, "x"),
                       (fifo + ": exists and is not a regular file; not replaced").c_str(), Error);
  CHECK(std::filesystem::is_fifo(fifo));  // still the pipe
  CHECK_THROWS_WITH_AS(check_output_file(fifo, "out"), ("--out '" + fifo + "' exists and is not a regular file").c_str(),
                       Error);
  // A device (/dev/zero would never end; /dev/null ends at once, so the
  // check is what refuses it).
  if (std::filesystem::is_character_file("/dev/null")) {
    CHECK_THROWS_WITH_AS(read_file("/dev/null"), "/dev/null: a device or a socket, not a file", Error);
  }
  ::alarm(0);
}

TEST_CASE("a folder that takes no new files is refused up front, for root too") {
  // /proc refuses new files to everyone, where access(W_OK) says yes to root.
  if (!std::filesystem::is_directory("/proc/self")) return;
  CHECK_THROWS_WITH_AS(check_output_file("/proc/m.safetensors", "out"),
                       doctest::Contains("--out '/proc/m.safetensors': folder '/proc' is not writable: "), Error);
  CHECK_THROWS_WITH_AS(check_output_dir("/proc/melodies", "out-dir"),
                       doctest::Contains("--out-dir '/proc/melodies' cannot be created: '/proc' is not writable: "),
                       Error);
}

TEST_CASE("a probe file left by an earlier run does not make a folder look writable") {
  // open(O_CREAT | O_EXCL) reports "exists" before "permission denied", so a
  // taken probe name must lead to another name, not to "writable".
  const TemporaryFolder scratch("legato_test_probe");
  for (int k = 0; k < 10; ++k)  // the first names this process would try (fewer than its 16 tries)
    write_file_atomically(scratch.file(".legato-probe-" + std::to_string(::getpid()) + "-" + std::to_string(k)), "");
  CHECK(detail::why_folder_refuses_files(scratch.path()).empty());  // writable: another name is found
  REQUIRE(::chmod(scratch.path().c_str(), 0500) == 0);
  if (::geteuid() != 0) {  // root may write into a read-only folder
    CHECK_FALSE(detail::why_folder_refuses_files(scratch.path()).empty());
  }
  ::chmod(scratch.path().c_str(), 0700);
}

TEST_CASE("two output flags that name one file are refused, however the path is spelt") {
  const TemporaryFolder scratch("legato_test_distinct");
  const std::string model = scratch.file("m.safetensors");
  const std::string other_spelling = (scratch.path() / "." / "m.safetensors").string();
  CHECK_NOTHROW(check_distinct_outputs({{"out", model}, {"best-out", scratch.file("best.safetensors")}, {"metrics-json", ""}}));
  CHECK_NOTHROW(check_distinct_outputs({{"out", model}, {"best-out", ""}, {"metrics-json", ""}}));  // unset flags
  CHECK_THROWS_WITH_AS(check_distinct_outputs({{"out", model}, {"metrics-json", other_spelling}}),
                       ("--metrics-json '" + other_spelling + "' is the same file as --out '" + model + "'").c_str(),
                       Error);
}

TEST_CASE("a kill while a file is being written removes its temporary, and only that one") {
  const TemporaryFolder scratch("legato_test_kill");  // the child dies by the signal, so only the parent removes it
  const std::filesystem::path& dir = scratch.path();
  const auto pending = dir / "melody.krn.tmp-pending";  // still being written when the signal lands
  const auto finished = dir / "done.krn";               // its guard ended: an ordinary file now
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // the child writes and is killed; it never returns to doctest
    try {
      { const TemporaryFileGuard released(finished); write_file_atomically(finished, "kept"); }
      const TemporaryFileGuard guard(pending);
      write_file_atomically(dir / "unrelated.bin", "x");
      { std::ofstream(pending) << "half a melo"; }
      // doctest handles SIGTERM and SIGINT itself during a test, so the cleanup
      // must have left those alone (exit 4 if not); it took SIGHUP.
      struct sigaction term = {};
      ::sigaction(SIGTERM, nullptr, &term);
      if (term.sa_handler == detail::remove_temporaries_and_reraise) ::_exit(4);
      ::raise(SIGHUP);
    } catch (...) {
      ::_exit(5);  // a failed write: never back into doctest (its TemporaryFolder would remove the parent's folder)
    }
    ::_exit(3);  // reached only if no handler removed the file and re-raised
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO("child exit status ", (WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  CHECK(WIFSIGNALED(status));
  if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGHUP);  // the kill still reads as a kill
  CHECK_FALSE(std::filesystem::exists(pending));
  CHECK(std::filesystem::exists(finished));
  CHECK(std::filesystem::exists(dir / "unrelated.bin"));
}

TEST_CASE("random generator: bounded integers stay in range and cover it") {
  Rng rng(5);
  int seen[7] = {};
  for (int i = 0; i < 7000; ++i) {
    const auto v = rng.below(7);
    REQUIRE(v < 7);
    ++seen[v];
  }
  for (int count : seen) CHECK(count > 800);
}
