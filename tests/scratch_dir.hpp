#pragma once
// A scratch folder for the files one test writes.
//
// The name carries the process id, so two test runs side by side (two
// checkouts, or CTest -j with the same binary twice) never share a folder,
// and the destructor removes it even when a REQUIRE ends the test early.

#include <filesystem>
#include <string>
#include <system_error>
#include <unistd.h>

namespace legato::testing {

struct ScratchDir {
  std::filesystem::path path;

  // tag: what the folder is for, readable in /tmp if a run is killed.
  explicit ScratchDir(const std::string& tag)
      : path(std::filesystem::temp_directory_path() / ("legato_test_" + tag + "_" + std::to_string(::getpid()))) {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);  // a killed run with a recycled process id
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace legato::testing
