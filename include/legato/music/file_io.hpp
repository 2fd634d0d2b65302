#pragma once
// Whole-file reads and atomic writes for the music readers and writers.
// A write goes to a temporary file next to the target, then is renamed over
// it, so a crash or a full disk never leaves a half-written .mid or .krn.
//
//   std::string bytes = read_file_bytes("song.mid");
//   write_file_atomic("out.krn", text);

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>

#include "legato/util/error.hpp"

namespace legato::music {

inline std::string read_file_bytes(const std::filesystem::path& path) {
  std::error_code ec;
  check(!std::filesystem::is_directory(path, ec), path.string(), ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  check(bool(in), path.string(), ": cannot open for reading");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  check(!in.bad(), path.string(), ": read error");
  return bytes;
}

inline void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path temp = path;
  temp += ".tmp" + std::to_string(counter++);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    check(bool(out), path.string(), ": cannot open ", temp.string(), " for writing");
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      fail(path.string(), ": write error (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    fail(path.string(), ": cannot rename the temporary file into place: ", ec.message());
  }
}

}  // namespace legato::music
