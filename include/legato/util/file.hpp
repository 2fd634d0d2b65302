#pragma once
// Reading whole files and writing them atomically: the bytes go to a
// temporary file beside the target, which is then renamed over it, so a
// crash never leaves a half-written file under the real name.

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "legato/util/error.hpp"

namespace legato {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), path, ": cannot open for reading");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  check(!in.bad(), path, ": read error");
  return bytes.str();
}

inline void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    check(out.good(), temporary, ": cannot open for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out.good()) {
      std::remove(temporary.c_str());
      fail(temporary, ": write failed (disk full?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::remove(temporary.c_str());
    fail(path, ": cannot rename the temporary file into place: ", error.message());
  }
}

}  // namespace legato
