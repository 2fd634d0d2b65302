#pragma once
// Reading whole files and writing them atomically: the bytes go to a
// temporary file beside the target, which is then renamed over it, so a
// crash or a full disk never leaves a half-written file under the real name.
//
//   std::string bytes = read_file("song.mid");
//   write_file_atomically("out.krn", text);

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "legato/util/error.hpp"

namespace legato {

inline std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  check(!std::filesystem::is_directory(path, ec), path.string(), ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  check(in.good(), path.string(), ": cannot open for reading");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  check(!in.bad(), path.string(), ": read error");
  return bytes.str();
}

// Output paths, checked before a command starts its work, so that a typo
// costs a second rather than a training run and the error is the only line.
// `flag` is the flag's name without its dashes.
//
// A file (--out, --metrics-json) needs an existing, writable folder: nothing
// creates it, and the path must not be a folder.
inline void check_output_file(const std::string& path, const std::string& flag) {
  namespace fs = std::filesystem;
  if (path.empty()) return;
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  check(!fs::is_directory(path, ec), "--", flag, " '", path, "' is a folder, not a file");
  check(fs::is_directory(parent, ec), "--", flag, " '", path, "': folder '", parent.string(), "' does not exist");
  check(::access(parent.c_str(), W_OK) == 0, "--", flag, " '", path, "': folder '", parent.string(),
        "' is not writable");
}

// A folder that the command creates (--out-dir, --work-dir): the nearest part
// of the path that exists must be a writable folder, else creating it fails.
inline void check_output_dir(const std::string& dir, const std::string& flag) {
  namespace fs = std::filesystem;
  check(!dir.empty(), "--", flag, " needs a folder");
  std::error_code ec;
  const fs::path target = fs::absolute(dir, ec);
  fs::path p = target;
  while (p.has_relative_path() && !fs::exists(p, ec)) p = p.parent_path();
  check(fs::is_directory(p, ec), "--", flag, " '", dir, "' ",
        p == target ? "exists and is not a folder" : "cannot be created: '" + p.string() + "' is not a folder");
  check(::access(p.c_str(), W_OK) == 0, "--", flag, " '", dir, "' cannot be created: '", p.string(),
        "' is not writable");
}

inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  // The process id keeps two programs apart, the counter two threads.
  static std::atomic<unsigned> counter{0};
  std::filesystem::path temporary = path;
  temporary += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out.good()) {  // name the file asked for, and why (the temporary is an implementation detail)
      std::error_code ec;
      const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";
      if (!std::filesystem::is_directory(folder, ec))
        fail(path.string(), ": cannot write: folder '", folder.string(), "' does not exist");
      fail(path.string(), ": cannot write into folder '", folder.string(), "'");
    }
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out.good()) {
      out.close();
      std::remove(temporary.c_str());
      fail(path.string(), ": write failed (disk full?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::remove(temporary.c_str());
    fail(path.string(), ": cannot rename the temporary file into place: ", error.message());
  }
}

}  // namespace legato
