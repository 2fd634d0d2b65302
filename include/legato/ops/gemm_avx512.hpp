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

#include "legato/ops/bf16.hpp"
#include "legato/util/error.hpp"
#include "legato/util/team.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>

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
    std::int64_t s_begin, s_end;  // my rows of C
    my_share(strips, s_begin, s_end);
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


#if LEGATO_HAVE_BF16
// ------------------------------------------------ the same in bf16 ----
//
// C (M, N) = Aᵀ · B with A and B rounded to bf16 and all sums in float32
// (ops/bf16.hpp). vdpbf16ps multiplies pairs along K, so both operands are
// first converted into "pair" layouts, every 32-bit word holding the values
// of rows k and k+1 (K is padded to even with a zero row). The LSTM's
// backward writes dz straight into A's layout (gemm_at_b_bf16_pairs):
//
//   A → blocks of 48 columns (8 strips of 6):  (M/48, K/2, 48) words
//   B → panels of 64 columns:                 (N/64, K/2, 64) words
//
// A strip of 6 columns at pair kk is then 6 consecutive words, and a panel
// row 4 vectors. The conversion is one pass over A and B, shared by the
// threads; the tiles then run as in gemm_at_b, with one vdpbf16ps doing the
// work of two FMAs.

constexpr int kStripsPerBlock = 8;                   // 8 strips of 6 = 48 columns = 3 vectors
constexpr std::int64_t kBlockCols = kRows * kStripsPerBlock;
constexpr std::int64_t kPairsKC = kKC / 2;           // K pairs per block of the K loop

template <int NV>
[[gnu::noinline]] void tile_kernel_bf16(std::int64_t pairs, const std::uint32_t* __restrict strip /* stride 48 */,
                                        const std::uint32_t* __restrict panel /* stride 64 */, float* __restrict C,
                                        std::int64_t ldc, int mr, bool accumulate) {
  __m512 acc[kRows][NV];
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (std::int64_t kk = 0; kk < pairs; ++kk) {
    __m512i b[NV];
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_si512(panel + kk * 64 + 16 * v);
    for (int r = 0; r < kRows; ++r) {
      const __m512i a = _mm512_set1_epi32(static_cast<int>(strip[kk * kBlockCols + r]));
      for (int v = 0; v < NV; ++v) acc[r][v] = bf16::dot_pairs(acc[r][v], a, b[v]);
    }
  }
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < NV; ++v) {
      float* c = C + r * ldc + 16 * v;
      _mm512_storeu_ps(c, accumulate ? _mm512_add_ps(_mm512_loadu_ps(c), acc[r][v]) : acc[r][v]);
    }
}

inline void tile_bf16(int nv, std::int64_t pairs, const std::uint32_t* strip, const std::uint32_t* panel, float* C,
                      std::int64_t ldc, int mr, bool accumulate) {
  switch (nv) {
    case 4: return tile_kernel_bf16<4>(pairs, strip, panel, C, ldc, mr, accumulate);
    case 3: return tile_kernel_bf16<3>(pairs, strip, panel, C, ldc, mr, accumulate);
    case 2: return tile_kernel_bf16<2>(pairs, strip, panel, C, ldc, mr, accumulate);
    default: return tile_kernel_bf16<1>(pairs, strip, panel, C, ldc, mr, accumulate);
  }
}

// Words (rows k, k+1) of `cols` ≤ 16 columns of a row-major float matrix X,
// starting at column j, into out; rows at or past K read as zero.
inline void pair_rows(const float* X, std::int64_t ldx, std::int64_t K, std::int64_t k, std::int64_t j, int cols,
                      std::uint32_t* out) {
  const float* row0 = X + k * ldx + j;
  const float* row1 = k + 1 < K ? row0 + ldx : nullptr;
  _mm512_storeu_si512(out, bf16::pair_partial(row0, row1, cols));
}

// Where column m, pair kk of A lives in its pair layout of `pairs` pairs:
// blocks of 48 columns, each (pairs, 48) words.
inline std::int64_t a_word_index(std::int64_t m, std::int64_t kk, std::int64_t pairs) {
  return ((m / kBlockCols) * pairs + kk) * kBlockCols + m % kBlockCols;
}
inline std::int64_t a_words(std::int64_t M, std::int64_t pairs) {
  return (M + kBlockCols - 1) / kBlockCols * kBlockCols * pairs;
}

// The compute part: C (M, N) = or += Aᵀ B from A in the pair layout above
// (a_pairs = its pairs per block, so that a caller may start at pair kk0 by
// passing a + kk0 · 48) and B, K rows of floats, converted here. K may be odd.
inline void gemm_at_b_bf16_pairs(const std::uint32_t* a, std::int64_t a_pairs, const float* B, std::int64_t ldb,
                                 float* C, std::int64_t ldc, std::int64_t M, std::int64_t N, std::int64_t K,
                                 bool accumulate) {
  check(N % 16 == 0, "gemm_at_b_bf16: N = ", N, " is not a multiple of 16");
  if (M == 0 || N == 0) return;
  if (K == 0) return gemm_at_b(nullptr, 0, nullptr, 0, C, ldc, M, N, 0, accumulate);
  const std::int64_t pairs = (K + 1) / 2, panels = (N + 63) / 64, strips = (M + kRows - 1) / kRows;
  thread_local std::vector<std::uint32_t> b_buffer;
  b_buffer.resize(static_cast<std::size_t>(panels * pairs * 64));
  std::uint32_t* const packed_b = b_buffer.data();  // panels of 64 columns, each (pairs, 64) words
#pragma omp parallel if (!omp_in_parallel())
  {
#pragma omp for schedule(static)
    for (std::int64_t kk = 0; kk < pairs; ++kk)
      for (std::int64_t j = 0; j < N; j += 16)
        pair_rows(B, ldb, K, 2 * kk, j, 16, packed_b + ((j / 64) * pairs + kk) * 64 + j % 64);
    // (implicit barrier: every thread reads all of B)
    std::int64_t s_begin, s_end;  // my rows of C
    my_share(strips, s_begin, s_end);
    for (std::int64_t kk0 = 0; kk0 < pairs; kk0 += kPairsKC) {
      const std::int64_t kc = std::min(kPairsKC, pairs - kk0);
      for (std::int64_t s = s_begin; s < s_end; ++s) {
        const std::int64_t m0 = s * kRows;
        const int mr = static_cast<int>(std::min<std::int64_t>(kRows, M - m0));
        const std::uint32_t* strip = a + a_word_index(m0, kk0, a_pairs);
        for (std::int64_t p = 0; p < panels; ++p) {
          const int nv = static_cast<int>(std::min<std::int64_t>(64, N - 64 * p) / 16);
          tile_bf16(nv, kc, strip, packed_b + (p * pairs + kk0) * 64, C + m0 * ldc + 64 * p, ldc, mr,
                    accumulate || kk0 > 0);
        }
      }
    }
  }
}

// As gemm_at_b, in bf16 products with float sums: A converted to its pair
// layout (the threads sharing the rows), then gemm_at_b_bf16_pairs.
inline void gemm_at_b_bf16(const float* A, std::int64_t lda, const float* B, std::int64_t ldb, float* C,
                           std::int64_t ldc, std::int64_t M, std::int64_t N, std::int64_t K, bool accumulate) {
  check(N % 16 == 0, "gemm_at_b_bf16: N = ", N, " is not a multiple of 16");
  if (M == 0 || N == 0) return;
  const std::int64_t pairs = (K + 1) / 2, width = a_words(M, 1);
  thread_local std::vector<std::uint32_t> a_buffer;
  a_buffer.resize(static_cast<std::size_t>(a_words(M, pairs)));
  std::uint32_t* const packed_a = a_buffer.data();
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
  for (std::int64_t kk = 0; kk < pairs; ++kk)
    for (std::int64_t j = 0; j < width; j += 16)  // zero past column M
      pair_rows(A, lda, K, 2 * kk, j, static_cast<int>(std::clamp<std::int64_t>(M - j, 0, 16)),
                packed_a + a_word_index(j, kk, pairs));
  gemm_at_b_bf16_pairs(packed_a, pairs, B, ldb, C, ldc, M, N, K, accumulate);
}
#endif  // LEGATO_HAVE_BF16

}  // namespace legato::gemm_avx512
#endif  // __AVX512F__
