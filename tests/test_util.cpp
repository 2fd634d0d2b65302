// Utilities: the command-line parser, atomic files, the random generator.
#include <doctest/doctest.h>

#include <filesystem>

#include "legato/util/cli.hpp"
#include "legato/util/file.hpp"
#include "legato/util/random.hpp"

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
}

TEST_CASE("atomic writes replace the file whole and leave no temporary behind") {
  const auto dir = std::filesystem::temp_directory_path() / "legato_test_util";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "file.bin").string();
  write_file_atomically(path, "first");
  write_file_atomically(path, std::string("sec\0ond", 7));
  CHECK(read_file(path) == std::string("sec\0ond", 7));
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  CHECK(entries == 1);
  CHECK_THROWS_WITH_AS(read_file((dir / "missing").string()), doctest::Contains("cannot open for reading"), Error);
  CHECK_THROWS_AS(write_file_atomically((dir / "no/such/dir/x").string(), "x"), Error);
  std::filesystem::remove_all(dir);
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
