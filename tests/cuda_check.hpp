#pragma once
// What every tests/test_cuda_*.cpp program needs: skipping cleanly without a
// GPU, moving vectors to and from the device, and comparing a device result
// with a reference computed in double, printing the first mismatches.
// Include it inside `#ifdef LEGATO_CUDA`.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "legato/cuda/cuda.hpp"
#include "legato/util/random.hpp"

// Passes the test case, with a message, on a machine without a CUDA device.
#define SKIP_WITHOUT_GPU()                \
  do {                                    \
    if (!legato::cuda::available()) {     \
      MESSAGE("skipped: no CUDA device"); \
      return;                             \
    }                                     \
  } while (0)

namespace legato::cuda_test {

using Vec = std::vector<float>;
using VecD = std::vector<double>;

// Sizes are int64 in the API and size_t in std::vector.
inline std::size_t sz(std::int64_t v) { return static_cast<std::size_t>(v); }

inline Vec random_uniform(std::size_t n, Rng& rng, float lo, float hi) {
  Vec v(n);
  for (auto& x : v) x = rng.uniform(lo, hi);
  return v;
}

inline cuda::Buffer upload(const Vec& v) {
  cuda::Buffer b(v.size());
  cuda::copy_to_device(b.data(), v.data(), v.size());
  return b;
}

inline cuda::IntBuffer upload_ints(const std::vector<std::int32_t>& v) {
  cuda::IntBuffer b(v.size());
  cuda::copy_ints_to_device(b.data(), v.data(), v.size());
  return b;
}

inline Vec download(const float* d, std::size_t n) {
  Vec v(n);
  cuda::copy_to_host(v.data(), d, n);
  return v;
}

// Checks |a - e| <= atol + per_unit · scale[i] for every entry i; reports
// the largest difference and the first five mismatches. A per-entry scale
// suits sums of many float terms added in any order (atomicAdd), whose
// rounding error grows with the terms' magnitudes, not with the final value.
inline void check_close_scaled(const Vec& actual, const VecD& expected, const VecD& scale, double atol, double per_unit,
                               const std::string& what) {
  REQUIRE(actual.size() == expected.size());
  REQUIRE(scale.size() == expected.size());
  std::ostringstream bad;
  int count = 0;
  double worst = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double d = std::fabs(actual[i] - expected[i]);
    worst = std::max(worst, d);
    if (!(d <= atol + per_unit * scale[i])) {
      if (count < 5) bad << " [" << i << "] " << actual[i] << " vs " << expected[i] << ";";
      ++count;
    }
  }
  INFO(what << ": max |diff| " << worst << ", " << count << " of " << actual.size() << " mismatch:" << bad.str());
  CHECK(count == 0);
}

// |a - e| <= atol + rtol |e| everywhere: the scale is the expected value.
inline void check_close(const Vec& actual, const VecD& expected, double atol, double rtol, const std::string& what) {
  VecD magnitude(expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) magnitude[i] = std::fabs(expected[i]);
  check_close_scaled(actual, expected, magnitude, atol, rtol, what);
}

}  // namespace legato::cuda_test
