#pragma once
// The folder a --smoke run works in: the one --work-dir names, kept for
// inspection (melody_lstm's bad-input checks read it), else a folder of the
// run's own under the system's temporary folder, removed when the run ends,
// whether its checks passed or not.

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "legato/util/error.hpp"

namespace legato::examples {

class SmokeFolder {
 public:
  // program: the folder's name prefix; work_dir: "" for a temporary folder.
  explicit SmokeFolder(const std::string& program, const std::string& work_dir = "")
      : temporary_(work_dir.empty()),
        path_(temporary_ ? std::filesystem::temp_directory_path() / (program + "_smoke_" + std::to_string(::getpid()))
                         : std::filesystem::path(work_dir)) {
    std::error_code ec;
    if (temporary_) std::filesystem::remove_all(path_, ec);  // a killed run with a recycled process id
    std::filesystem::create_directories(path_, ec);
    check(!ec && std::filesystem::is_directory(path_), "smoke: folder '", path_.string(),
          "' cannot be created: ", ec ? ec.message() : "a file has that name");
  }
  ~SmokeFolder() {
    std::error_code ignored;
    if (temporary_) std::filesystem::remove_all(path_, ignored);
  }
  SmokeFolder(const SmokeFolder&) = delete;
  SmokeFolder& operator=(const SmokeFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  bool temporary_;
  std::filesystem::path path_;
};

}  // namespace legato::examples
