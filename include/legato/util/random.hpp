#pragma once
// The one random-number generator of legato: xoshiro256** seeded through
// splitmix64, with uniform and normal draws written out here so that a seed
// gives the same numbers with every compiler and standard library
// (std::normal_distribution is implementation-defined).

#include <cmath>
#include <cstdint>

namespace legato {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0x1e6a70ULL) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& word : state_) word = splitmix64(x);
    has_spare_normal_ = false;
  }

  // 64 random bits.
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 24 bits, exactly representable as float.
  float uniform() { return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f; }

  // Uniform in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [0, n) (n > 0), by rejection so it has no bias.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = next_u64(); while (x >= limit);
    return x % n;
  }

  // Standard normal by the Box-Muller transform, in double for accuracy.
  float normal() {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return static_cast<float>(spare_normal_);
    }
    double u1;
    do u1 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53; while (u1 <= 0.0);
    const double u2 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * 3.14159265358979323846 * u2;
    spare_normal_ = radius * std::sin(angle);
    has_spare_normal_ = true;
    return static_cast<float>(radius * std::cos(angle));
  }

  float normal(float mean, float stddev) { return mean + stddev * normal(); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_[4];
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

// The process-wide generator that initialisers use when none is passed.
inline Rng& global_rng() {
  static Rng rng;
  return rng;
}
inline void manual_seed(std::uint64_t seed) { global_rng().reseed(seed); }

}  // namespace legato
