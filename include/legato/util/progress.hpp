#pragma once
// A progress bar on stderr: a redrawn line on a terminal, plain lines (at
// most one every few seconds) when stderr is a file or a pipe.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace legato {

class ProgressBar {
 public:
  ProgressBar(std::string label, long total) : label_(std::move(label)), total_(total), tty_(isatty(2) != 0) {}

  // done: units finished so far; extra: text such as "loss 1.23  4.5k steps/s".
  void update(long done, const std::string& extra) {
    const double elapsed = seconds();
    if (!tty_ && done < total_ && elapsed - last_print_ < 5.0) return;
    last_print_ = elapsed;
    const double fraction = total_ > 0 ? double(done) / double(total_) : 0.0;
    const double eta = fraction > 0 ? elapsed * (1.0 - fraction) / fraction : 0.0;
    if (tty_) {
      constexpr int width = 24;
      const int filled = static_cast<int>(fraction * width);
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '.');
      std::fprintf(stderr, "\r%s [%s] %3.0f%%  %s  ETA %.0fs   ", label_.c_str(), bar.c_str(), fraction * 100,
                   extra.c_str(), eta);
    } else {
      std::fprintf(stderr, "%s %ld/%ld (%.0f%%)  %s  ETA %.0fs\n", label_.c_str(), done, total_, fraction * 100,
                   extra.c_str(), eta);
    }
    std::fflush(stderr);
  }

  void finish() {
    if (tty_) std::fputc('\n', stderr);
  }

  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::string label_;
  long total_;
  bool tty_;
  double last_print_ = -1e9;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace legato
