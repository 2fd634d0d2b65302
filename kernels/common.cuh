#pragma once
// Shared by every kernel file: error checking, launch sizes, warp and block
// reductions. Nothing here is specific to an op.

#include <cuda_runtime.h>

#include <cstdint>
#include <limits>

#include "legato/cuda/device.hpp"

namespace legato::cuda::detail {

[[noreturn]] void throw_cuda_error(cudaError_t code, const char* call, const char* file, int line);
// After a launch: throws if the launch failed; with LEGATO_CUDA_SYNC=1 also
// waits for the kernel so that a fault is reported against it.
void check_launch(const char* kernel, const char* file, int line);

// Checks that an index space fits the 32-bit ints a kernel uses.
void check_fits_int(std::int64_t count, const char* op, const char* what);

// Blocks for a grid-stride loop over n elements: enough to fill the GPU a few
// times over, never more than needed.
int grid_for(std::int64_t n, int threads);

}  // namespace legato::cuda::detail

#define LEGATO_CUDA_CHECK(call)                                                              \
  do {                                                                                       \
    const cudaError_t legato_cuda_status_ = (call);                                          \
    if (legato_cuda_status_ != cudaSuccess)                                                  \
      ::legato::cuda::detail::throw_cuda_error(legato_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)

// kernel<<<grid, block, smem>>>(args...); LEGATO_CUDA_LAUNCHED("kernel");
#define LEGATO_CUDA_LAUNCHED(name) ::legato::cuda::detail::check_launch(name, __FILE__, __LINE__)

namespace legato::cuda::detail {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Sum over the whole block (blockDim.x a multiple of 32); every thread gets
// the result. `scratch` holds 32
// floats of shared memory. Must be called by all threads of the block.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int warps = (blockDim.x + 31) / 32;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.f;
  return warp_sum(v);
}

// expf, not __expf: results are compared with the CPU path.
__device__ __forceinline__ float sigmoidf_(float x) { return 1.f / (1.f + expf(-x)); }

}  // namespace legato::cuda::detail
