// The hand-written GEMM.
//
// Strategy: classic shared-memory tiling. A block of 256 threads owns a
// 64 x 64 tile of C and walks K in steps of 16: it stages a 64 x 16 slice of
// op(A) and a 16 x 64 slice of op(B) in shared memory (both stored k-major,
// so the inner loop reads a row of each), then every thread accumulates a
// 4 x 4 register block of C. Each value loaded from shared memory is used four
// times from registers. A thread's rows and columns are strided by 16
// (rows ty + 16 i, columns tx + 16 j) so that neighbouring threads read
// neighbouring shared-memory words (no bank conflicts) and store neighbouring
// elements of C (coalesced). Tiles at the edges are zero-filled, so every
// size works, odd ones included. The transposes are template parameters: the
// staging loads walk whichever index is contiguous in memory.
//
// Split-K: when C has too few tiles to occupy every SM (the LSTM's weight
// gradients: M = 4H, N = H, K = T B), the K range is cut into slices, each
// block writes a partial tile to a workspace and a second kernel adds the
// slices in a fixed order (deterministic, no atomics), applying beta.
//
// Not done (yet): vectorised global loads, double buffering, tensor cores
// (TF32 would change results by ~1e-3 relative, and the tests compare with the
// CPU at 1e-5).

#include "common.cuh"
#include "legato/cuda/elementwise.hpp"
#include "legato/cuda/gemm.hpp"

#ifdef LEGATO_CUDA_CUBLAS
#include <cublas_v2.h>
#endif

namespace legato::cuda {

namespace {

constexpr int BM = 64, BN = 64, BK = 16, kThreads = 256;

template <bool TransA, bool TransB>
__global__ void __launch_bounds__(kThreads) gemm_tile_kernel(int M, int N, int K, int k_chunk, float alpha,
                                                             const float* __restrict__ A, const float* __restrict__ B,
                                                             float beta, float* C, float* partial) {
  __shared__ float As[BK][BM + 4];  // op(A) tile, k-major; +4 breaks store conflicts
  __shared__ float Bs[BK][BN];      // op(B) tile, k-major
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_begin = blockIdx.z * k_chunk, k_end = min(K, k_begin + k_chunk);

  float acc[4][4] = {};
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    // Stage op(A)[m0 .. m0+63][k0 .. k0+15]; consecutive threads take the
    // index that is contiguous in memory.
    for (int idx = tid; idx < BM * BK; idx += kThreads) {
      int m, k;
      if (TransA) {  // A stored (K, M): m contiguous
        k = idx / BM;
        m = idx % BM;
      } else {  // A stored (M, K): k contiguous
        m = idx / BK;
        k = idx % BK;
      }
      const int gm = m0 + m, gk = k0 + k;
      float v = 0.f;
      if (gm < M && gk < k_end) v = TransA ? A[std::int64_t(gk) * M + gm] : A[std::int64_t(gm) * K + gk];
      As[k][m] = v;
    }
    for (int idx = tid; idx < BK * BN; idx += kThreads) {
      int n, k;
      if (TransB) {  // B stored (N, K): k contiguous
        n = idx / BK;
        k = idx % BK;
      } else {  // B stored (K, N): n contiguous
        k = idx / BN;
        n = idx % BN;
      }
      const int gn = n0 + n, gk = k0 + k;
      float v = 0.f;
      if (gn < N && gk < k_end) v = TransB ? B[std::int64_t(gn) * K + gk] : B[std::int64_t(gk) * N + gn];
      Bs[k][n] = v;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[k][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty + 16 * i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int n = n0 + tx + 16 * j;
      if (n >= N) continue;
      const std::int64_t at = std::int64_t(m) * N + n;
      if (partial) {
        partial[std::int64_t(blockIdx.z) * M * N + at] = alpha * acc[i][j];
      } else {
        C[at] = beta == 0.f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * C[at];
      }
    }
  }
}

// C = sum over slices of partial + beta C, slices in a fixed order.
__global__ void split_k_reduce_kernel(const float* partial, int slices, std::int64_t MN, float beta, float* C) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < MN;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    float s = 0.f;
    for (int z = 0; z < slices; ++z) s += partial[z * MN + i];
    C[i] = beta == 0.f ? s : s + beta * C[i];
  }
}

template <bool TA, bool TB>
void launch(dim3 grid, int M, int N, int K, int k_chunk, float alpha, const float* A, const float* B, float beta,
            float* C, float* partial) {
  gemm_tile_kernel<TA, TB><<<grid, kThreads>>>(M, N, K, k_chunk, alpha, A, B, beta, C, partial);
  LEGATO_CUDA_LAUNCHED("gemm_tile_kernel");
}

}  // namespace

void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
          const float* B, float beta, float* C) {
  check(M >= 0 && N >= 0 && K >= 0, "cuda gemm: negative size (M ", M, ", N ", N, ", K ", K, ")");
  detail::check_fits_int(M * K, "gemm", "M K");
  detail::check_fits_int(K * N, "gemm", "K N");
  detail::check_fits_int(M * N, "gemm", "M N");
  if (M == 0 || N == 0) return;
  if (K == 0) {  // C = beta C
    if (beta == 0.f)
      fill(C, static_cast<std::size_t>(M * N), 0.f);
    else
      affine(C, M * N, beta, 0.f, C);
    return;
  }
  const int tiles_m = static_cast<int>((M + BM - 1) / BM), tiles_n = static_cast<int>((N + BN - 1) / BN);
  check(tiles_m <= 65535, "cuda gemm: M = ", M, " needs more than 65535 row tiles");
  // Split K when the tiles alone leave SMs idle and K is long enough to share.
  static const int sms = multiprocessor_count();
  int slices = 1;
  const int tiles = tiles_m * tiles_n;
  if (tiles < sms && K >= 4 * 64) {
    slices = std::min<int>((2 * sms + tiles - 1) / tiles, static_cast<int>(K / 64));
    slices = std::min(slices, 16);
  }
  // Each slice a whole number of BK steps.
  const int k_chunk = static_cast<int>(((K + slices - 1) / slices + BK - 1) / BK * BK);
  slices = static_cast<int>((K + k_chunk - 1) / k_chunk);
  const dim3 grid(static_cast<unsigned>(tiles_n), static_cast<unsigned>(tiles_m), static_cast<unsigned>(slices));

  Buffer workspace;
  float* partial = nullptr;
  if (slices > 1) {
    detail::check_fits_int(slices * M * N, "gemm", "split-K workspace");
    workspace = Buffer(static_cast<std::size_t>(slices * M * N));
    partial = workspace.data();
  }
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  if (!trans_a && !trans_b) launch<false, false>(grid, m, n, k, k_chunk, alpha, A, B, beta, C, partial);
  if (!trans_a && trans_b) launch<false, true>(grid, m, n, k, k_chunk, alpha, A, B, beta, C, partial);
  if (trans_a && !trans_b) launch<true, false>(grid, m, n, k, k_chunk, alpha, A, B, beta, C, partial);
  if (trans_a && trans_b) launch<true, true>(grid, m, n, k, k_chunk, alpha, A, B, beta, C, partial);
  if (partial) {
    split_k_reduce_kernel<<<detail::grid_for(M * N, 256), 256>>>(partial, slices, M * N, beta, C);
    LEGATO_CUDA_LAUNCHED("split_k_reduce_kernel");
  }
}

#ifdef LEGATO_CUDA_CUBLAS
namespace {
cublasHandle_t cublas_handle() {
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    check(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS, "cuda gemm_cublas: cublasCreate failed");
    return h;
  }();
  return handle;
}
}  // namespace

void gemm_cublas(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
                 const float* A, const float* B, float beta, float* C) {
  if (M == 0 || N == 0) return;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  const int lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const cublasStatus_t status =
      cublasSgemm(cublas_handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
                  &alpha, B, ldb, A, lda, &beta, C, n);
  check(status == CUBLAS_STATUS_SUCCESS, "cuda gemm_cublas: cublasSgemm failed with status ",
        static_cast<int>(status));
}
#endif

}  // namespace legato::cuda
