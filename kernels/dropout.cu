// Dropout with Philox-4x32-10.
//
// Strategy: each thread draws one Philox block (four 32-bit words) and uses
// it for four consecutive elements, so the generator's cost is shared by four
// outputs and the mask is the same whatever the launch configuration: element
// i always uses word i % 4 of counter block i / 4 (legato/cuda/philox.hpp),
// which is also what the CPU reference in the tests computes.

#include "common.cuh"
#include "legato/cuda/dropout.hpp"

namespace legato::cuda {

namespace {

__global__ void dropout_forward_kernel(const float* x, std::int64_t n, float p, float scale, std::uint64_t seed,
                                       std::uint64_t offset, float* mask, float* out) {
  const std::int64_t blocks = (n + 3) / 4;
  for (std::int64_t b = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; b < blocks;
       b += std::int64_t(gridDim.x) * blockDim.x) {
    const Philox4 counter{{static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(std::uint64_t(b) >> 32),
                           static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(offset >> 32)}};
    const Philox4 r =
        philox4x32_10(counter, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
    for (int w = 0; w < 4; ++w) {
      const std::int64_t i = 4 * b + w;
      if (i >= n) break;
      const float m = philox_uniform(r.v[w]) >= p ? scale : 0.f;
      if (mask) mask[i] = m;
      out[i] = x[i] * m;
    }
  }
}

__global__ void dropout_backward_kernel(const float* g, const float* mask, std::int64_t n, float* dx) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    dx[i] = g[i] * mask[i];
}

}  // namespace

void dropout_forward(const float* x, std::int64_t n, float p, std::uint64_t seed, std::uint64_t offset, float* mask,
                     float* out) {
  check(p >= 0.f && p < 1.f, "cuda dropout: probability ", p, " is outside [0, 1)");
  check(n >= 0, "cuda dropout: negative size ", n);
  if (n == 0) return;
  const float scale = 1.f / (1.f - p);
  dropout_forward_kernel<<<detail::grid_for((n + 3) / 4, 256), 256>>>(x, n, p, scale, seed, offset, mask, out);
  LEGATO_CUDA_LAUNCHED("dropout_forward_kernel");
}

void dropout_backward(const float* g, const float* mask, std::int64_t n, float* dx) {
  check(n >= 0, "cuda dropout_backward: negative size ", n);
  check(n == 0 || mask != nullptr, "cuda dropout_backward: the forward kept no mask");
  if (n == 0) return;
  dropout_backward_kernel<<<detail::grid_for(n, 256), 256>>>(g, mask, n, dx);
  LEGATO_CUDA_LAUNCHED("dropout_backward_kernel");
}

}  // namespace legato::cuda
