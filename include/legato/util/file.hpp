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

inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  // The process id keeps two programs apart, the counter two threads.
  static std::atomic<unsigned> counter{0};
  std::filesystem::path temporary = path;
  temporary += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    check(out.good(), temporary.string(), ": cannot open for writing");
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
