#pragma once
// Philox-4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers:
// as easy as 1, 2, 3", SC 2011): a counter-based generator. Ten rounds of a
// multiply-xor bijection turn a 128-bit counter and a 64-bit key into 128
// random bits, so element i of a dropout mask is a pure function of
// (seed, offset, i): any thread can draw any element, in any order, and the
// CPU can recompute the GPU's mask exactly (the tests do).
//
// Written for both compilers: __host__ __device__ under nvcc, plain inline
// functions otherwise.

#include <cstdint>

#if defined(__CUDACC__)
#define LEGATO_HOST_DEVICE __host__ __device__
#else
#define LEGATO_HOST_DEVICE
#endif

namespace legato::cuda {

struct Philox4 {
  std::uint32_t v[4];
};

namespace philox_detail {
constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;  // round multipliers
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule increments

LEGATO_HOST_DEVICE inline void mul_hi_lo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(product >> 32);
  lo = static_cast<std::uint32_t>(product);
}
}  // namespace philox_detail

// The 128 random bits for `counter` under `key`.
LEGATO_HOST_DEVICE inline Philox4 philox4x32_10(Philox4 counter, std::uint32_t key0, std::uint32_t key1) {
  using namespace philox_detail;
  Philox4 c = counter;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mul_hi_lo(kMul0, c.v[0], hi0, lo0);
    mul_hi_lo(kMul1, c.v[2], hi1, lo1);
    c = Philox4{{hi1 ^ c.v[1] ^ key0, lo1, hi0 ^ c.v[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return c;
}

// Uniform in [0, 1) from the top 24 bits (exactly representable as float).
LEGATO_HOST_DEVICE inline float philox_uniform(std::uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// The uniform number for element i of a stream: block i / 4 of the counter
// space, word i % 4. Counter = (i / 4 low, i / 4 high, offset low, offset high).
LEGATO_HOST_DEVICE inline float philox_uniform_at(std::uint64_t seed, std::uint64_t offset, std::uint64_t i) {
  const std::uint64_t block = i / 4;
  const Philox4 counter{{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                         static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(offset >> 32)}};
  const Philox4 r = philox4x32_10(counter, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  return philox_uniform(r.v[i % 4]);
}

}  // namespace legato::cuda
