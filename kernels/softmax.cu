// Softmax and log-softmax along the last axis.
//
// Strategy: one warp per row. The row is read three times (max, sum of
// exponentials, write), all by the same warp, so after the first pass it is
// in L1; the two reductions are warp shuffles with no shared memory and no
// __syncthreads. This suits the short rows of sequence models (V = 45 tokens
// to a few thousand); very long rows would want a block per row.
// Numerically: subtract the row maximum before exp; log_softmax is
// x - max - log(sum), never log(softmax).

#include "common.cuh"
#include "legato/cuda/softmax.hpp"

namespace legato::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void softmax_forward_kernel(const float* x, std::int64_t rows, std::int64_t V, float* y, bool log_out) {
  const int lane = threadIdx.x % 32;
  const std::int64_t stride = std::int64_t(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t r = blockIdx.x * std::int64_t(kWarpsPerBlock) + threadIdx.x / 32; r < rows; r += stride) {
    const float* in = x + r * V;
    float* out = y + r * V;
    float m = -INFINITY;
    for (std::int64_t v = lane; v < V; v += 32) m = fmaxf(m, in[v]);
    m = detail::warp_max(m);
    float s = 0.f;
    for (std::int64_t v = lane; v < V; v += 32) s += expf(in[v] - m);
    s = detail::warp_sum(s);
    if (log_out) {
      const float log_s = logf(s);
      for (std::int64_t v = lane; v < V; v += 32) out[v] = in[v] - m - log_s;
    } else {
      const float inv = 1.f / s;
      for (std::int64_t v = lane; v < V; v += 32) out[v] = expf(in[v] - m) * inv;
    }
  }
}

__global__ void softmax_backward_kernel(const float* y, const float* g, std::int64_t rows, std::int64_t V, float* dx,
                                        bool log_out) {
  const int lane = threadIdx.x % 32;
  const std::int64_t stride = std::int64_t(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t r = blockIdx.x * std::int64_t(kWarpsPerBlock) + threadIdx.x / 32; r < rows; r += stride) {
    const float* yr = y + r * V;
    const float* gr = g + r * V;
    float* out = dx + r * V;
    float s = 0.f;
    for (std::int64_t v = lane; v < V; v += 32) s += log_out ? gr[v] : gr[v] * yr[v];
    s = detail::warp_sum(s);
    for (std::int64_t v = lane; v < V; v += 32)
      out[v] = log_out ? gr[v] - expf(yr[v]) * s : yr[v] * (gr[v] - s);
  }
}

int blocks_for_rows(std::int64_t rows) {
  return detail::grid_for((rows + kWarpsPerBlock - 1) / kWarpsPerBlock * 256, 256);
}

}  // namespace

void softmax_forward(const float* x, std::int64_t rows, std::int64_t V, float* y, bool log) {
  check(rows >= 0 && V > 0, "cuda softmax: shape (", rows, ", ", V, ") needs V > 0");
  if (rows == 0) return;
  softmax_forward_kernel<<<blocks_for_rows(rows), 32 * kWarpsPerBlock>>>(x, rows, V, y, log);
  LEGATO_CUDA_LAUNCHED("softmax_forward_kernel");
}

void softmax_backward(const float* y, const float* g, std::int64_t rows, std::int64_t V, float* dx, bool log) {
  check(rows >= 0 && V > 0, "cuda softmax_backward: shape (", rows, ", ", V, ") needs V > 0");
  if (rows == 0) return;
  softmax_backward_kernel<<<blocks_for_rows(rows), 32 * kWarpsPerBlock>>>(y, g, rows, V, dx, log);
  LEGATO_CUDA_LAUNCHED("softmax_backward_kernel");
}

}  // namespace legato::cuda
