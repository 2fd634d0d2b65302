// Embedding gather and scatter-add.
//
// Strategy: forward is one warp per output row: the warp copies row ids[n] of
// the table, lanes walking the E columns, so reads and writes are coalesced.
// A bad id is flagged with atomicMin on a device int (the smallest position
// wins) and its row written as zeros; the host reads the flag and throws.
// Backward is the same walk with atomicAdd into the table gradient, because
// several positions may share one id (a token that occurs twice in a batch).
// For the small vocabularies of melody models contention is low; a sort by id
// followed by segmented sums would make it deterministic, at the price of a
// sort.

#include "common.cuh"
#include "legato/cuda/embedding.hpp"

namespace legato::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void embedding_forward_kernel(const float* weight, int V, std::int64_t E, const std::int32_t* ids,
                                         std::int64_t N, float* out, int* bad) {
  const int lane = threadIdx.x % 32;
  const std::int64_t stride = std::int64_t(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t n = blockIdx.x * std::int64_t(kWarpsPerBlock) + threadIdx.x / 32; n < N; n += stride) {
    const int id = ids[n];
    float* dst = out + n * E;
    if (id < 0 || id >= V) {
      if (lane == 0) atomicMin(bad, static_cast<int>(n));
      for (std::int64_t e = lane; e < E; e += 32) dst[e] = 0.f;
      continue;
    }
    const float* src = weight + std::int64_t(id) * E;
    for (std::int64_t e = lane; e < E; e += 32) dst[e] = src[e];
  }
}

__global__ void embedding_backward_kernel(const float* dout, const std::int32_t* ids, std::int64_t N, int V,
                                          std::int64_t E, float* dweight) {
  const int lane = threadIdx.x % 32;
  const std::int64_t stride = std::int64_t(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t n = blockIdx.x * std::int64_t(kWarpsPerBlock) + threadIdx.x / 32; n < N; n += stride) {
    const int id = ids[n];
    if (id < 0 || id >= V) continue;  // never write outside the table
    const float* src = dout + n * E;
    float* dst = dweight + std::int64_t(id) * E;
    for (std::int64_t e = lane; e < E; e += 32) atomicAdd(dst + e, src[e]);
  }
}

int blocks_for(std::int64_t rows) { return detail::grid_for((rows + kWarpsPerBlock - 1) / kWarpsPerBlock * 256, 256); }

}  // namespace

void embedding_forward(const float* weight, std::int64_t V, std::int64_t E, const std::int32_t* ids, std::int64_t N,
                       float* out) {
  check(V > 0 && E >= 0 && N >= 0, "cuda embedding: table (", V, ", ", E, ") with ", N, " ids");
  detail::check_fits_int(V, "embedding", "V");
  if (N == 0 || E == 0) return;
  IntBuffer bad(1);
  const std::int32_t none = std::numeric_limits<std::int32_t>::max();
  copy_ints_to_device(bad.data(), &none, 1);
  embedding_forward_kernel<<<blocks_for(N), 32 * kWarpsPerBlock>>>(weight, static_cast<int>(V), E, ids, N, out,
                                                                   bad.data());
  LEGATO_CUDA_LAUNCHED("embedding_forward_kernel");
  std::int32_t bad_at = none;
  copy_ints_to_host(&bad_at, bad.data(), 1);
  if (bad_at != none) {
    std::int32_t id = 0;
    copy_ints_to_host(&id, ids + bad_at, 1);
    fail("cuda embedding: id ", id, " at position ", bad_at, " is outside the table's [0, ", V, ")");
  }
}

void embedding_backward(const float* dout, const std::int32_t* ids, std::int64_t N, std::int64_t V, std::int64_t E,
                        float* dweight) {
  check(V > 0 && E >= 0 && N >= 0, "cuda embedding_backward: table (", V, ", ", E, ") with ", N, " ids");
  detail::check_fits_int(V, "embedding_backward", "V");
  if (N == 0 || E == 0) return;
  embedding_backward_kernel<<<blocks_for(N), 32 * kWarpsPerBlock>>>(dout, ids, N, static_cast<int>(V), E, dweight);
  LEGATO_CUDA_LAUNCHED("embedding_backward_kernel");
}

}  // namespace legato::cuda
