// Batch normalisation, forward and backward, training and eval mode.
//
// Strategy: one block per channel. The channel's M = N L values are strided
// in memory (L contiguous values per sample, C L apart), and the block walks
// them with a grid-stride pattern, reducing in shared memory:
//   forward (training): pass 1 sums x (mean), pass 2 sums (x - mean)^2
//     (two passes, not E[x^2] - E[x]^2, which cancels badly), then thread 0
//     saves mean and invstd and moves the running statistics, and pass 3
//     writes y;
//   forward (eval): invstd from the running variance, one pass writes y;
//   backward: one pass sums dy and dy xhat, a second writes dx.
// Channels are few (tens to hundreds) and M is large, so a block per channel
// keeps every reduction on-chip with no atomics and no second kernel.

#include "common.cuh"
#include "legato/cuda/batchnorm.hpp"

namespace legato::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ std::int64_t at(std::int64_t q, int c, int C, int L) {
  const std::int64_t n = q / L, l = q % L;
  return (n * C + c) * L + l;
}

__global__ void bn_forward_kernel(const float* x, int N, int C, int L, const float* weight, const float* bias,
                                  float* running_mean, float* running_var, bool training, float momentum, float eps,
                                  float* y, float* save_mean, float* save_invstd) {
  __shared__ float scratch[32];
  __shared__ float stats[2];
  const int c = blockIdx.x;
  const std::int64_t M = std::int64_t(N) * L;
  if (training) {
    float s = 0.f;
    for (std::int64_t q = threadIdx.x; q < M; q += blockDim.x) s += x[at(q, c, C, L)];
    const float mean = detail::block_sum(s, scratch) / static_cast<float>(M);
    float v = 0.f;
    for (std::int64_t q = threadIdx.x; q < M; q += blockDim.x) {
      const float d = x[at(q, c, C, L)] - mean;
      v += d * d;
    }
    const float var = detail::block_sum(v, scratch) / static_cast<float>(M);
    if (threadIdx.x == 0) {
      stats[0] = mean;
      stats[1] = rsqrtf(var + eps);
      save_mean[c] = mean;
      save_invstd[c] = stats[1];
      if (running_mean) running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * mean;
      if (running_var)
        running_var[c] = (1.f - momentum) * running_var[c] +
                         momentum * var * static_cast<float>(M) / static_cast<float>(M - 1);
    }
  } else if (threadIdx.x == 0) {
    stats[0] = running_mean[c];
    stats[1] = rsqrtf(running_var[c] + eps);
    save_mean[c] = stats[0];
    save_invstd[c] = stats[1];
  }
  __syncthreads();
  const float mean = stats[0], invstd = stats[1];
  const float w = weight ? weight[c] : 1.f, b = bias ? bias[c] : 0.f;
  for (std::int64_t q = threadIdx.x; q < M; q += blockDim.x) {
    const std::int64_t i = at(q, c, C, L);
    y[i] = (x[i] - mean) * invstd * w + b;
  }
}

__global__ void bn_backward_kernel(const float* x, const float* dy, int N, int C, int L, const float* weight,
                                   const float* save_mean, const float* save_invstd, bool training, float* dx,
                                   float* dweight, float* dbias) {
  __shared__ float scratch[32];
  const int c = blockIdx.x;
  const std::int64_t M = std::int64_t(N) * L;
  const float mean = save_mean[c], invstd = save_invstd[c], w = weight ? weight[c] : 1.f;
  float s_dy = 0.f, s_dy_xhat = 0.f;
  for (std::int64_t q = threadIdx.x; q < M; q += blockDim.x) {
    const std::int64_t i = at(q, c, C, L);
    s_dy += dy[i];
    s_dy_xhat += dy[i] * (x[i] - mean) * invstd;
  }
  s_dy = detail::block_sum(s_dy, scratch);
  s_dy_xhat = detail::block_sum(s_dy_xhat, scratch);
  if (threadIdx.x == 0) {
    if (dweight) dweight[c] = s_dy_xhat;
    if (dbias) dbias[c] = s_dy;
  }
  if (!dx) return;
  // With dxhat = dy w: sum(dxhat) = w s_dy and sum(dxhat xhat) = w s_dy_xhat.
  const float inv_m = 1.f / static_cast<float>(M);
  for (std::int64_t q = threadIdx.x; q < M; q += blockDim.x) {
    const std::int64_t i = at(q, c, C, L);
    const float dxhat = dy[i] * w;
    if (training) {
      const float xhat = (x[i] - mean) * invstd;
      dx[i] = invstd * inv_m * (static_cast<float>(M) * dxhat - w * s_dy - xhat * w * s_dy_xhat);
    } else {
      dx[i] = dxhat * invstd;
    }
  }
}

void check_sizes(const char* op, std::int64_t N, std::int64_t C, std::int64_t L) {
  check(N > 0 && C > 0 && L > 0, "cuda ", op, ": empty input (N ", N, ", C ", C, ", L ", L, ")");
  detail::check_fits_int(N * C * L, op, "N C L");
  check(C <= 2147483647, "cuda ", op, ": too many channels");
}

}  // namespace

void batch_norm_forward(const float* x, std::int64_t N, std::int64_t C, std::int64_t L, const float* weight,
                        const float* bias, float* running_mean, float* running_var, bool training, float momentum,
                        float eps, float* y, float* save_mean, float* save_invstd) {
  check_sizes("batch_norm", N, C, L);
  check(!training || N * L > 1, "cuda batch_norm: expected more than 1 value per channel when training, got N ", N,
        ", L ", L);
  check(training || (running_mean && running_var), "cuda batch_norm: eval mode needs running_mean and running_var");
  check(save_mean && save_invstd, "cuda batch_norm: save_mean and save_invstd are required");
  bn_forward_kernel<<<static_cast<unsigned>(C), kThreads>>>(x, static_cast<int>(N), static_cast<int>(C),
                                                            static_cast<int>(L), weight, bias, running_mean,
                                                            running_var, training, momentum, eps, y, save_mean,
                                                            save_invstd);
  LEGATO_CUDA_LAUNCHED("bn_forward_kernel");
}

void batch_norm_backward(const float* x, const float* dy, std::int64_t N, std::int64_t C, std::int64_t L,
                         const float* weight, const float* save_mean, const float* save_invstd, bool training,
                         float* dx, float* dweight, float* dbias) {
  check_sizes("batch_norm_backward", N, C, L);
  bn_backward_kernel<<<static_cast<unsigned>(C), kThreads>>>(x, dy, static_cast<int>(N), static_cast<int>(C),
                                                             static_cast<int>(L), weight, save_mean, save_invstd,
                                                             training, dx, dweight, dbias);
  LEGATO_CUDA_LAUNCHED("bn_backward_kernel");
}

}  // namespace legato::cuda
