#pragma once
// Thread count. One owner at a time: Eigen's GEMM and legato's own OpenMP
// loops share this number and never nest. Set it with set_num_threads(), the
// programs' --threads flag, or the LEGATO_NUM_THREADS environment variable.

#include <Eigen/Core>
#include <cstdlib>

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
inline int init_threads_from_env() {
  if (const char* text = std::getenv("LEGATO_NUM_THREADS")) {
    const int n = std::atoi(text);
    if (n > 0) set_num_threads(n);
  }
  return num_threads();
}

}  // namespace legato
