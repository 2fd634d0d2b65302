#pragma once
// Dropout on the device with a counter-based generator (legato/cuda/philox.hpp).
// Defined in kernels/dropout.cu.
//
// Element i is kept when philox_uniform_at(seed, offset, i) >= p; kept values
// are scaled by 1 / (1 - p) (inverted dropout), as in ops/dropout.hpp.
// The caller advances `offset` between calls (e.g. by the step number) so
// that every call draws fresh numbers from one seed.

#include <cstdint>

#include "legato/cuda/philox.hpp"

namespace legato::cuda {

// mask[i] = (u_i >= p) / (1 - p), out[i] = x[i] * mask[i]. p in [0, 1).
// Writes mask and out (=); out may equal x. mask may be null (inference of a
// dropout that is not needed again), but then the backward cannot run.
void dropout_forward(const float* x, std::int64_t n, float p, std::uint64_t seed, std::uint64_t offset, float* mask,
                     float* out);

// dx[i] = g[i] * mask[i]. Writes dx (=); dx may equal g.
void dropout_backward(const float* g, const float* mask, std::int64_t n, float* dx);

}  // namespace legato::cuda
