#pragma once
// parallel_for: legato's own OpenMP loop. Small loops stay on one thread,
// where waking the team would cost more than the work.

#include <cstdint>

namespace legato {

constexpr std::int64_t kParallelGrain = 1 << 15;  // elements below which a loop runs serially

template <class Body>
void parallel_for(std::int64_t n, Body&& body, std::int64_t grain = kParallelGrain) {
#pragma omp parallel for schedule(static) if (n >= grain)
  for (std::int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace legato
