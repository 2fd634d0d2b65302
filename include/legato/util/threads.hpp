#pragma once
// Thread count. One owner at a time: Eigen's GEMM and legato's own OpenMP
// loops share this number and never nest. Set it with set_num_threads(), the
// programs' --threads flag, or the LEGATO_NUM_THREADS environment variable.

#include <Eigen/Core>
#include <cerrno>
#include <cstdlib>

#include "legato/util/error.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace legato {

inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline void set_num_threads(int n) {
  if (n < 1) n = 1;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
}

// Apply LEGATO_NUM_THREADS when it is set; returns the thread count in force.
// A value that is set but not a whole number in 1..1024 is an error, not
// something to ignore: the caller asked for a thread count.
inline int init_threads_from_env() {
  if (const char* text = std::getenv("LEGATO_NUM_THREADS")) {
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(text, &end, 10);
    check(*text != '\0' && *end == '\0' && errno == 0 && n >= 1 && n <= 1024, "LEGATO_NUM_THREADS = '", text,
          "' is not a whole number of threads in 1..1024");
    set_num_threads(static_cast<int>(n));
  }
  return num_threads();
}

}  // namespace legato
