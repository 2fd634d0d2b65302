#pragma once
// The folder a --smoke run works in: the one --work-dir names, kept for
// inspection (melody_lstm's bad-input checks read it), else a temporary
// folder of the run's own, removed when the run ends, whether its checks
// passed or not.

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "legato/util/error.hpp"
#include "legato/util/file.hpp"

namespace legato::examples {

class SmokeFolder {
 public:
  // program: the temporary folder's name prefix; work_dir: "" for a temporary folder.
  explicit SmokeFolder(const std::string& program, const std::string& work_dir = "") : kept_(work_dir) {
    if (work_dir.empty()) {
      temporary_.emplace(program + "_smoke");
      return;
    }
    std::error_code ec;
    std::filesystem::create_directories(kept_, ec);
    check(!ec && std::filesystem::is_directory(kept_), "smoke: folder '", kept_.string(), "' cannot be created: ",
          ec ? ec.message() : "a file has that name");
  }

  const std::filesystem::path& path() const { return temporary_ ? temporary_->path() : kept_; }

 private:
  std::filesystem::path kept_;
  std::optional<TemporaryFolder> temporary_;
};

}  // namespace legato::examples
