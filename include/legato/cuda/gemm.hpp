#pragma once
// Matrix multiplication on the device. Defined in kernels/gemm.cu.
//
//   C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C
//
// Row-major and contiguous. op(A) = A when A is stored (M, K), or A^T when
// trans_a and A is stored (K, M); likewise B is stored (K, N) or, with
// trans_b, (N, K). With beta = 0, C is only written (it may hold garbage).

#include <cstdint>

namespace legato::cuda {

// The hand-written tiled GEMM (shared-memory tiles, 4x4 register blocks,
// split-K when the output is too small to fill the GPU).
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
          const float* B, float beta, float* C);

#ifdef LEGATO_CUDA_CUBLAS
// The same through cuBLAS (built with -DLEGATO_CUDA_CUBLAS=ON), for
// comparison in tests and benchmarks only; legato itself never calls it.
void gemm_cublas(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
                 const float* A, const float* B, float beta, float* C);
#endif

}  // namespace legato::cuda
