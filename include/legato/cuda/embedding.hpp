#pragma once
// Embedding lookup on the device. Defined in kernels/embedding.cu.

#include <cstdint>

namespace legato::cuda {

// out (N, E) row n = weight (V, E) row ids[n]. ids (N) int32 on the device.
// An id outside [0, V) is an error: the kernel flags the first such position
// (and writes zeros there) and this function throws a legato::Error naming
// it, after a synchronisation. Writes out (=).
void embedding_forward(const float* weight, std::int64_t V, std::int64_t E, const std::int32_t* ids, std::int64_t N,
                       float* out);

// dweight (V, E) row ids[n] += dout (N, E) row n, for every n. ADDS (+=):
// zero dweight first for a fresh gradient. Repeated ids are summed with
// atomicAdd, so the order of the additions (and the last bits) may vary from
// run to run. Ids must be valid (embedding_forward checked them).
void embedding_backward(const float* dout, const std::int32_t* ids, std::int64_t N, std::int64_t V, std::int64_t E,
                        float* dweight);

}  // namespace legato::cuda
