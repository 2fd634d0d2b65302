// Softmax cross-entropy with ignore_index.
//
// Strategy: forward is one warp per row (as softmax.cu): max, log-sum-exp,
// then lane 0 writes the row's loss, or 0 for an ignored row, and its lse.
// A second single-block kernel adds the row losses and the kept count in a
// fixed order (deterministic) and divides. Bad targets never index memory:
// the row is flagged with atomicMin on a device int (the smallest bad row
// wins) and the host throws after reading the flag back.
// Backward is elementwise over (N, V): softmax from the saved lse, minus one
// at the target, times g / count.

#include "common.cuh"
#include "legato/cuda/loss.hpp"

namespace legato::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void ce_rows_kernel(const float* logits, const std::int32_t* targets, std::int64_t N, std::int64_t V,
                               int ignore_index, float* row_loss, float* lse, int* bad_row) {
  const int lane = threadIdx.x % 32;
  const std::int64_t stride = std::int64_t(gridDim.x) * kWarpsPerBlock;
  for (std::int64_t n = blockIdx.x * std::int64_t(kWarpsPerBlock) + threadIdx.x / 32; n < N; n += stride) {
    const float* x = logits + n * V;
    float m = -INFINITY;
    for (std::int64_t v = lane; v < V; v += 32) m = fmaxf(m, x[v]);
    m = detail::warp_max(m);
    float s = 0.f;
    for (std::int64_t v = lane; v < V; v += 32) s += expf(x[v] - m);
    s = detail::warp_sum(s);
    if (lane == 0) {
      const float l = m + logf(s);
      lse[n] = l;
      const int t = targets[n];
      if (t == ignore_index) {
        row_loss[n] = 0.f;
      } else if (t < 0 || t >= V) {
        row_loss[n] = 0.f;
        atomicMin(bad_row, static_cast<int>(n));
      } else {
        row_loss[n] = l - x[t];
      }
    }
  }
}

// One block: loss = sum(row_loss) / count, count = rows whose target is kept.
__global__ void ce_mean_kernel(const float* row_loss, const std::int32_t* targets, std::int64_t N, int ignore_index,
                               float* loss, float* count) {
  __shared__ float scratch[32];
  float s = 0.f, c = 0.f;
  for (std::int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    s += row_loss[n];
    c += targets[n] != ignore_index ? 1.f : 0.f;
  }
  s = detail::block_sum(s, scratch);
  c = detail::block_sum(c, scratch);
  if (threadIdx.x == 0) {
    *count = c;
    *loss = c > 0.f ? s / c : 0.f;
  }
}

__global__ void ce_backward_kernel(const float* logits, const std::int32_t* targets, const float* lse,
                                   const float* count, const float* grad_loss, std::int64_t N, std::int64_t V,
                                   int ignore_index, float* dlogits) {
  const float c = *count;
  const float scale = c > 0.f ? *grad_loss / c : 0.f;
  const std::int64_t total = N * V;
  for (std::int64_t j = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; j < total;
       j += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t n = j / V, v = j % V;
    const int t = targets[n];
    if (t == ignore_index || t < 0 || t >= V) {
      dlogits[j] = 0.f;
    } else {
      const float p = expf(logits[j] - lse[n]);
      dlogits[j] = (p - (v == t ? 1.f : 0.f)) * scale;
    }
  }
}

}  // namespace

void cross_entropy_forward(const float* logits, const std::int32_t* targets, std::int64_t N, std::int64_t V,
                           int ignore_index, float* loss, float* lse, float* count) {
  check(N >= 0 && V > 0, "cuda cross_entropy: logits shape (", N, ", ", V, ") needs V > 0");
  detail::check_fits_int(N, "cross_entropy", "N");
  if (N == 0) {
    fill(loss, 1, 0.f);
    fill(count, 1, 0.f);
    return;
  }
  Buffer row_loss(static_cast<std::size_t>(N));
  IntBuffer bad(1);
  const std::int32_t none = std::numeric_limits<std::int32_t>::max();
  copy_ints_to_device(bad.data(), &none, 1);
  const int blocks = detail::grid_for((N + kWarpsPerBlock - 1) / kWarpsPerBlock * 256, 256);
  ce_rows_kernel<<<blocks, 32 * kWarpsPerBlock>>>(logits, targets, N, V, ignore_index, row_loss.data(), lse,
                                                  bad.data());
  LEGATO_CUDA_LAUNCHED("ce_rows_kernel");
  ce_mean_kernel<<<1, 256>>>(row_loss.data(), targets, N, ignore_index, loss, count);
  LEGATO_CUDA_LAUNCHED("ce_mean_kernel");
  std::int32_t bad_row = none;
  copy_ints_to_host(&bad_row, bad.data(), 1);
  if (bad_row != none) {
    std::int32_t target = 0;
    copy_ints_to_host(&target, targets + bad_row, 1);
    fail("cuda cross_entropy: target ", target, " of row ", bad_row, " is outside [0, ", V,
         ") and is not ignore_index ", ignore_index);
  }
}

void cross_entropy_backward(const float* logits, const std::int32_t* targets, const float* lse, const float* count,
                            const float* grad_loss, std::int64_t N, std::int64_t V, int ignore_index,
                            float* dlogits) {
  check(N >= 0 && V > 0, "cuda cross_entropy_backward: logits shape (", N, ", ", V, ") needs V > 0");
  if (N == 0) return;
  ce_backward_kernel<<<detail::grid_for(N * V, 256), 256>>>(logits, targets, lse, count, grad_loss, N, V,
                                                             ignore_index, dlogits);
  LEGATO_CUDA_LAUNCHED("ce_backward_kernel");
}

}  // namespace legato::cuda
