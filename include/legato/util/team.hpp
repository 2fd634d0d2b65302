#pragma once
// Inside an OpenMP parallel region: which thread of the team this is, and how
// work is shared out in contiguous blocks. Outside one (or without OpenMP) the
// caller is a team of one.

#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace legato {

inline int team_rank() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

inline int team_size() {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

// The share [begin, end) of n items that the calling thread takes: the team's
// shares are contiguous, in rank order, and differ in size by at most one.
inline void my_share(std::int64_t n, std::int64_t& begin, std::int64_t& end) {
  begin = n * team_rank() / team_size();
  end = n * (team_rank() + 1) / team_size();
}

}  // namespace legato
