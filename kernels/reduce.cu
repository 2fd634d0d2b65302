// Reductions.
//
// Strategy for sum_axis over (outer, n, inner):
//   - inner == 1 (reducing the last axis, rows contiguous): one warp per row,
//     lanes stride through the row, then a shuffle reduction;
//   - inner > 1: one thread per output (o, i), looping over k; neighbouring
//     threads read neighbouring i, so every load is coalesced.
// Both write each output exactly once (deterministic, no atomics).
//
// sum_all / sum_squares: a grid-stride loop of a fixed number of blocks, each
// reducing to one partial in shared memory, then one block adds the partials.
// The tree shape depends only on n, so results are reproducible bit for bit.

#include "common.cuh"
#include "legato/cuda/reduce.hpp"

namespace legato::cuda {

namespace {

__global__ void sum_rows_kernel(const float* x, std::int64_t rows, std::int64_t n, float* out, float scale) {
  const std::int64_t warps_total = std::int64_t(gridDim.x) * (blockDim.x / 32);
  const int lane = threadIdx.x % 32;
  for (std::int64_t row = blockIdx.x * std::int64_t(blockDim.x / 32) + threadIdx.x / 32; row < rows;
       row += warps_total) {
    const float* p = x + row * n;
    float s = 0.f;
    for (std::int64_t k = lane; k < n; k += 32) s += p[k];
    s = detail::warp_sum(s);
    if (lane == 0) out[row] = s * scale;
  }
}

__global__ void sum_middle_kernel(const float* x, std::int64_t outer, std::int64_t n, std::int64_t inner, float* out,
                                  float scale) {
  const std::int64_t total = outer * inner;
  for (std::int64_t j = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; j < total;
       j += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t o = j / inner, i = j % inner;
    const float* p = x + o * n * inner + i;
    float s = 0.f;
    for (std::int64_t k = 0; k < n; ++k) s += p[k * inner];
    out[j] = s * scale;
  }
}

__global__ void expand_kernel(const float* g, std::int64_t outer, std::int64_t n, std::int64_t inner, float* dx,
                              float scale) {
  const std::int64_t total = outer * n * inner;
  for (std::int64_t j = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; j < total;
       j += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t i = j % inner, o = j / (n * inner);
    dx[j] = g[o * inner + i] * scale;
  }
}

constexpr int kPartialBlocks = 256;  // fixed, so the summation order depends only on n
constexpr int kThreads = 256;

__global__ void partial_sums_kernel(const float* x, std::int64_t n, bool squares, float* partials) {
  __shared__ float scratch[32];
  float s = 0.f;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float v = x[i];
    s += squares ? v * v : v;
  }
  s = detail::block_sum(s, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void final_sum_kernel(const float* partials, int count, float* out) {
  __shared__ float scratch[32];
  float s = 0.f;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  s = detail::block_sum(s, scratch);
  if (threadIdx.x == 0) out[0] = s;
}

void total(const float* x, std::int64_t n, float* out, bool squares) {
  check(n >= 0, "cuda sum_all: negative size ", n);
  Buffer partials(kPartialBlocks);
  partial_sums_kernel<<<kPartialBlocks, kThreads>>>(x, n, squares, partials.data());
  LEGATO_CUDA_LAUNCHED("partial_sums_kernel");
  final_sum_kernel<<<1, kThreads>>>(partials.data(), kPartialBlocks, out);
  LEGATO_CUDA_LAUNCHED("final_sum_kernel");
}

}  // namespace

void sum_axis(const float* x, std::int64_t outer, std::int64_t n, std::int64_t inner, float* out, bool mean) {
  check(outer >= 0 && n >= 0 && inner >= 0, "cuda sum_axis: negative size (", outer, ", ", n, ", ", inner, ")");
  const std::int64_t outputs = outer * inner;
  if (outputs == 0) return;
  const float scale = mean ? (n > 0 ? 1.f / static_cast<float>(n) : 0.f) : 1.f;
  if (inner == 1) {
    const int warps_per_block = 8;
    const std::int64_t blocks = (outer + warps_per_block - 1) / warps_per_block;
    sum_rows_kernel<<<detail::grid_for(blocks * 256, 256), 256>>>(x, outer, n, out, scale);
    LEGATO_CUDA_LAUNCHED("sum_rows_kernel");
  } else {
    sum_middle_kernel<<<detail::grid_for(outputs, 256), 256>>>(x, outer, n, inner, out, scale);
    LEGATO_CUDA_LAUNCHED("sum_middle_kernel");
  }
}

void sum_axis_backward(const float* g, std::int64_t outer, std::int64_t n, std::int64_t inner, float* dx, bool mean) {
  check(outer >= 0 && n >= 0 && inner >= 0, "cuda sum_axis_backward: negative size (", outer, ", ", n, ", ",
        inner, ")");
  const std::int64_t total_count = outer * n * inner;
  if (total_count == 0) return;
  const float scale = mean ? 1.f / static_cast<float>(n) : 1.f;
  expand_kernel<<<detail::grid_for(total_count, 256), 256>>>(g, outer, n, inner, dx, scale);
  LEGATO_CUDA_LAUNCHED("expand_kernel");
}

void sum_all(const float* x, std::int64_t n, float* out) { total(x, n, out, false); }
void sum_squares(const float* x, std::int64_t n, float* out) { total(x, n, out, true); }

float sum_all_host(const float* x, std::int64_t n) {
  Buffer result(1);
  sum_all(x, n, result.data());
  float value = 0.f;
  copy_to_host(&value, result.data(), 1);
  return value;
}

}  // namespace legato::cuda
