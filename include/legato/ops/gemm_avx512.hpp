#pragma once
// A packed AVX-512 GEMM for the weight-gradient shape
//
//   C (M, N) = Aᵀ · B,   A stored (K, M) row-major, B stored (K, N) row-major,
//
// i.e. dW = Σ_rows dz_rowᵀ · x_row over all T·B rows of a sequence. The LSTM
// uses it for dW_hh (4H, H) = dzᵀ (4H, T·B) · h_prev (T·B, H) after the BPTT
// loop: one GEMM of 2·4H·H·T·B FLOPs, a third of a training step's work.
//
// How (the classic Goto/BLIS structure, cut down to this one case):
//   for each block of KC rows of K:                       (accumulators stay valid)
//     pack B's KC rows into panels of 64 columns          (KC, 64), contiguous
//     for each strip of 6 columns of A (= 6 rows of C):
//       pack the strip: for each k, its 6 values          (KC, 6), contiguous
//       for each panel: 6×64 register tile += strip · panel
// The micro-kernel keeps 6 × 4 zmm accumulators (24 of 32 registers) over
// the KC loop and reads one broadcast of A and four vectors of B per k, so it
// runs at the FMA unit's speed from L1/L2. Threads split the rows of C (the
// columns of A, the larger operand); each packs its own blocks, so they never
// wait for each other. N must be a multiple of 16 (checked).
//
// Measured on dW_hh's shape 1024×4032×256 (bench/RESULTS.md, gemm_at_b vs
// sgemm_eigen_at_b): 178 against 143 GFLOP/s on 2 threads, 93 against 74 on 1,
// where the FMA peak is about 230 and 115.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "legato/util/error.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace legato::gemm_avx512 {

constexpr std::int64_t kKC = 256;  // K rows per packed block: a (KC, 64) panel is 64 KB, L2-resident
constexpr int kRows = 6;           // rows of C per register tile

// C tile (mr ≤ 6 rows, 16·NV columns, row stride ldc) = or += strip · panel,
// strip (K, 6) and panel (K, 16·NV) packed as described above.
template <int NV>
[[gnu::noinline]] void tile_kernel(std::int64_t K, const float* __restrict strip, const float* __restrict panel,
                                   float* __restrict C, std::int64_t ldc, int mr, bool accumulate) {
  __m512 acc[kRows][NV];
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < K; ++k) {
    __m512 b[NV];
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_ps(panel + k * 16 * NV + 16 * v);
    for (int r = 0; r < kRows; ++r) {
      const __m512 a = _mm512_set1_ps(strip[k * kRows + r]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < NV; ++v) {
      float* c = C + r * ldc + 16 * v;
      _mm512_storeu_ps(c, accumulate ? _mm512_add_ps(_mm512_loadu_ps(c), acc[r][v]) : acc[r][v]);
    }
}

inline void tile(int nv, std::int64_t K, const float* strip, const float* panel, float* C, std::int64_t ldc, int mr,
                 bool accumulate) {
  switch (nv) {
    case 4: return tile_kernel<4>(K, strip, panel, C, ldc, mr, accumulate);
    case 3: return tile_kernel<3>(K, strip, panel, C, ldc, mr, accumulate);
    case 2: return tile_kernel<2>(K, strip, panel, C, ldc, mr, accumulate);
    default: return tile_kernel<1>(K, strip, panel, C, ldc, mr, accumulate);
  }
}

// C (M, N) = Aᵀ B (or += when accumulate), A (K, M) with row stride lda,
// B (K, N) with row stride ldb, C with row stride ldc.
inline void gemm_at_b(const float* A, std::int64_t lda, const float* B, std::int64_t ldb, float* C, std::int64_t ldc,
                      std::int64_t M, std::int64_t N, std::int64_t K, bool accumulate) {
  check(N % 16 == 0, "gemm_at_b: N = ", N, " is not a multiple of 16");
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate)
      for (std::int64_t m = 0; m < M; ++m) std::fill_n(C + m * ldc, N, 0.f);
    return;
  }
  const std::int64_t strips = (M + kRows - 1) / kRows, panels = (N + 63) / 64;
  // Inside someone else's parallel region, run on the calling thread alone
  // (as Eigen does) rather than open a nested team.
#pragma omp parallel if (!omp_in_parallel())
  {
#ifdef _OPENMP
    const int id = omp_get_thread_num(), count = omp_get_num_threads();
#else
    const int id = 0, count = 1;
#endif
    const std::int64_t s_begin = strips * id / count, s_end = strips * (id + 1) / count;  // my rows of C
    std::vector<float> packed_b(static_cast<std::size_t>(std::min(K, kKC) * 64 * panels));  // (KC, N) as panels
    std::vector<float> packed_a(static_cast<std::size_t>(kKC * kRows));                 // one strip (KC, 6)
    for (std::int64_t k0 = 0; k0 < K; k0 += kKC) {
      const std::int64_t kc = std::min(kKC, K - k0);
      // Pack B's rows k0..k0+kc into panels of 64 (16·nv for the last) columns.
      for (std::int64_t p = 0; p < panels; ++p) {
        const std::int64_t width = std::min<std::int64_t>(64, N - 64 * p);
        float* panel = packed_b.data() + p * std::min(K, kKC) * 64;
        for (std::int64_t k = 0; k < kc; ++k) std::copy_n(B + (k0 + k) * ldb + 64 * p, width, panel + k * width);
      }
      for (std::int64_t s = s_begin; s < s_end; ++s) {
        // Pack columns m0..m0+5 of A's rows k0..k0+kc, zero-padded past M.
        const std::int64_t m0 = s * kRows;
        const int mr = static_cast<int>(std::min<std::int64_t>(kRows, M - m0));
        for (std::int64_t k = 0; k < kc; ++k) {
          const float* row = A + (k0 + k) * lda + m0;
          for (int r = 0; r < kRows; ++r) packed_a[static_cast<std::size_t>(k * kRows + r)] = r < mr ? row[r] : 0.f;
        }
        for (std::int64_t p = 0; p < panels; ++p) {
          const int nv = static_cast<int>(std::min<std::int64_t>(64, N - 64 * p) / 16);
          tile(nv, kc, packed_a.data(), packed_b.data() + p * std::min(K, kKC) * 64, C + m0 * ldc + 64 * p, ldc, mr,
               accumulate || k0 > 0);
        }
      }
    }
  }
}

}  // namespace legato::gemm_avx512
#endif  // __AVX512F__
