#pragma once
// What every example program shares: the guarded main() that turns any error
// into one line on stderr and a non-zero exit, the corpus path lookup
// (--corpus or LEGATO_ESAC_DIR), and thread set-up with the build banner.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "legato/util/build_info.hpp"
#include "legato/util/cli.hpp"
#include "legato/util/error.hpp"
#include "legato/util/threads.hpp"

namespace legato::examples {

// An error message as one line: a line break that came in with the input
// (a --title, a file name) is shown as "\n", so that stderr holds one line.
inline std::string one_line(const std::string& message) {
  std::string out;
  for (char c : message) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

// Runs body(args) and maps failures to exit codes: 1 for legato::Error (bad
// input, named in the message), 2 for anything unexpected.
inline int guarded_main(const char* program, int argc, char** argv,
                        const std::function<int(const std::vector<std::string>&)>& body) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return body(args);
  } catch (const legato::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, one_line(e.what()).c_str());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", program);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", program, one_line(e.what()).c_str());
    return 2;
  }
}

// The corpus directory: the flag if given, else LEGATO_ESAC_DIR, else the
// fallback. It must exist.
inline std::string corpus_dir(CommandLine& cli, const std::string& fallback) {
  const char* env = std::getenv("LEGATO_ESAC_DIR");
  const std::string dir = cli.text("corpus", env && *env ? env : fallback,
                                   "folder of .krn files, searched recursively (or set LEGATO_ESAC_DIR)");
  return dir;
}

inline void require_directory(const std::string& dir, const char* what) {
  check(!dir.empty(), what, ": no corpus given (use --corpus DIR or set LEGATO_ESAC_DIR)");
  std::error_code ec;
  check(std::filesystem::exists(dir, ec), what, ": corpus directory '", dir, "' does not exist");
  check(std::filesystem::is_directory(dir, ec), what, ": corpus '", dir, "' is a file, not a directory");
}

// When --help was asked for, prints "usage: " + usage, then the declared
// flags, and returns true: the command then returns 0 and does nothing else.
inline bool answered_help(const CommandLine& cli, const std::string& usage) {
  if (!cli.wants_help()) return false;
  std::printf("usage: %s\n%s", usage.c_str(), cli.help().c_str());
  return true;
}

// Applies --threads (default: LEGATO_NUM_THREADS, else all cores) and prints
// the build banner on stderr.
inline int setup_threads(CommandLine& cli) {
  const int from_env = init_threads_from_env();
  const long threads = cli.integer("threads", from_env, "worker threads for OpenMP and Eigen");
  check(threads >= 1 && threads <= 1024, "--threads must be between 1 and 1024, got ", threads);
  set_num_threads(static_cast<int>(threads));
  std::fprintf(stderr, "%s\n", build_info().c_str());
  return static_cast<int>(threads);
}

}  // namespace legato::examples
