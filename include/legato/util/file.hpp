#pragma once
// Reading whole files and writing them atomically: the bytes go to a
// temporary file beside the target, which is then renamed over it, so a
// crash or a full disk never leaves a half-written file under the real name.
// Ctrl-C or a kill (SIGINT, SIGTERM, SIGHUP) while a file is being written
// removes its temporary too, unless the program handles those signals itself.
//
//   std::string bytes = read_file("song.mid");
//   write_file_atomically("out.krn", text);

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "legato/util/error.hpp"

namespace legato {

inline std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);  // through symbolic links
  check(!std::filesystem::is_directory(status), path.string(), ": is a directory, not a file");
  // A device such as /dev/zero never ends. A pipe is read (/dev/stdin, <(…)):
  // it ends when its writer closes it.
  check(!std::filesystem::is_character_file(status) && !std::filesystem::is_block_file(status) &&
            !std::filesystem::is_socket(status),
        path.string(), ": a device or a socket, not a file");
  std::ifstream in(path, std::ios::binary);
  check(in.good(), path.string(), ": cannot open for reading");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  check(!in.bad(), path.string(), ": read error");
  return bytes.str();
}

namespace detail {

// Why no file can be created in the folder: "" when one can. access(W_OK)
// cannot tell: it says yes to root even in /proc or on a read-only mount, so
// this creates a file and removes it. (A folder whose disk is full but has
// free inodes passes; the write then fails.)
inline std::string why_folder_refuses_files(const std::filesystem::path& folder) {
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 16; ++attempt) {  // EEXIST comes before any permission check
    const std::filesystem::path probe =
        folder / (".legato-probe-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      ::close(fd);
      ::unlink(probe.c_str());
      return "";
    }
    if (errno != EEXIST) return std::strerror(errno);
  }
  return "every probe name is taken";
}

// An existing path that a write would replace: a device or a pipe (as root,
// /dev/null itself) must not become a regular file.
inline bool replaceable(const std::filesystem::path& path) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);  // through symbolic links
  return !std::filesystem::exists(status) || std::filesystem::is_regular_file(status);
}

}  // namespace detail

// Output paths, checked before a command starts its work, so that a typo
// costs a second rather than a training run and the error is the only line.
// `flag` is the flag's name without its dashes.
//
// A file (--out, --metrics-json) needs an existing folder that takes new
// files: nothing creates it. The path must be a regular file, if it exists.
inline void check_output_file(const std::string& path, const std::string& flag) {
  namespace fs = std::filesystem;
  if (path.empty()) return;
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  check(!fs::is_directory(path, ec), "--", flag, " '", path, "' is a folder, not a file");
  check(detail::replaceable(path), "--", flag, " '", path, "' exists and is not a regular file");
  check(fs::is_directory(parent, ec), "--", flag, " '", path, "': folder '", parent.string(), "' does not exist");
  const std::string refused = detail::why_folder_refuses_files(parent);
  check(refused.empty(), "--", flag, " '", path, "': folder '", parent.string(), "' is not writable: ", refused);
}

// Two output flags naming one file, however spelt (x, ./x, /abs/x), would
// have the later write silently replace the earlier. Empty paths are skipped.
inline void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& flag_and_path) {
  namespace fs = std::filesystem;
  std::vector<fs::path> resolved;
  for (const auto& [flag, path] : flag_and_path) {
    std::error_code ec;
    resolved.push_back(path.empty() ? fs::path() : fs::weakly_canonical(fs::absolute(path, ec), ec));
  }
  for (std::size_t i = 0; i < resolved.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      check(resolved[i].empty() || resolved[i] != resolved[j], "--", flag_and_path[i].first, " '",
            flag_and_path[i].second, "' is the same file as --", flag_and_path[j].first, " '",
            flag_and_path[j].second, "'");
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
  const std::string refused = detail::why_folder_refuses_files(p);
  check(refused.empty(), "--", flag, " '", dir, "' ",
        p == target ? "is not writable: " : "cannot be created: '" + p.string() + "' is not writable: ", refused);
}

namespace detail {

// The temporaries being written right now, in fixed slots, because a signal
// handler may only read plain memory and make async-signal-safe calls
// (unlink, sigaction, raise). `ready` is set once `path` is complete.
struct PendingTemporary {
  std::atomic<bool> claimed{false};
  std::atomic<bool> ready{false};
  char path[4096] = {};
};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler reads these flags");
inline std::array<PendingTemporary, 32> pending_temporaries;
constexpr std::array<int, 3> kCleanupSignals = {SIGINT, SIGTERM, SIGHUP};

// Removes every pending temporary, then dies of the same signal with the
// default action, so the exit status still says what killed the program.
inline void remove_temporaries_and_reraise(int signal_number) {
  for (PendingTemporary& slot : pending_temporaries)
    if (slot.ready.load(std::memory_order_acquire)) ::unlink(slot.path);
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  ::sigaction(signal_number, &default_action, nullptr);
  ::raise(signal_number);
}

// Installed once, and only for signals still at their default action: a
// program that ignores or handles one of them keeps its own behaviour.
inline void install_temporary_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int signal_number : kCleanupSignals) {
      struct sigaction current = {};
      if (::sigaction(signal_number, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) continue;
      struct sigaction cleanup = {};
      cleanup.sa_handler = remove_temporaries_and_reraise;
      sigemptyset(&cleanup.sa_mask);
      ::sigaction(signal_number, &cleanup, nullptr);
    }
  });
}

}  // namespace detail

// Registers a temporary file for removal if the program is killed while it
// exists; the registration ends with the object. With every slot taken (32
// files written at once) the file is simply not registered.
class TemporaryFileGuard {
 public:
  explicit TemporaryFileGuard(const std::filesystem::path& temporary) {
    const std::string& name = temporary.native();
    if (name.size() >= sizeof(detail::PendingTemporary::path)) return;
    detail::install_temporary_cleanup();
    for (detail::PendingTemporary& candidate : detail::pending_temporaries) {
      bool expected = false;
      if (!candidate.claimed.compare_exchange_strong(expected, true)) continue;
      name.copy(candidate.path, name.size());
      candidate.path[name.size()] = '\0';
      candidate.ready.store(true, std::memory_order_release);
      slot_ = &candidate;
      return;
    }
  }
  ~TemporaryFileGuard() {
    if (slot_ == nullptr) return;
    slot_->ready.store(false, std::memory_order_release);
    slot_->claimed.store(false, std::memory_order_release);
  }
  TemporaryFileGuard(const TemporaryFileGuard&) = delete;
  TemporaryFileGuard& operator=(const TemporaryFileGuard&) = delete;

 private:
  detail::PendingTemporary* slot_ = nullptr;
};

// A folder of this process's own under the system's temporary folder
// (prefix_PID, so two runs side by side never share one), removed with
// everything in it when the object goes, even when an error ends the scope
// early. Tests and the programs' --smoke runs write their files there.
class TemporaryFolder {
 public:
  explicit TemporaryFolder(const std::string& prefix)
      : path_(std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()))) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);  // left by a killed run with a recycled process id
    std::filesystem::create_directories(path_, ec);
    check(!ec && std::filesystem::is_directory(path_), "temporary folder '", path_.string(),
          "' cannot be created: ", ec ? ec.message() : "a file has that name");
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  // The process id keeps two programs apart, the counter two threads.
  static std::atomic<unsigned> counter{0};
  check(detail::replaceable(path), path.string(), ": exists and is not a regular file; not replaced");
  std::filesystem::path temporary = path;
  temporary += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  // Registered before the file exists; after the rename the handler's unlink
  // finds nothing under the temporary's name, which is harmless.
  const TemporaryFileGuard remove_if_killed(temporary);
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
