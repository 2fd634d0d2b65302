#pragma once
// A fast transpose of a row-major float matrix, no autograd:
//
//   transpose_into(src, rows, cols, dst);   // dst (cols, rows) = srcᵀ
//
// The token-id LSTM (ops/lstm.hpp) turns W_ih (4H, I) into W_ihᵀ (I, 4H)
// every forward and dW_ihᵀ back into dW_ih every backward. With melody_lstm's
// default inputs (V + 147 + 5 (V + 1) + 8 = 430 columns at V = 45) and H = 256
// that is two 1.76 MB transposes per training step. At the 376 columns of the
// time they took about 8 % of it with Eigen's element-by-element copy
// (bench/RESULTS.md, optimisation 15). With
// AVX-512, 16 × 16 tiles are transposed in registers: sixteen rows loaded,
// three rounds of shuffles, sixteen columns stored; with AVX2, 8 × 8 tiles the
// same way. The edges, and other builds, copy element by element.

#include <cstdint>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace legato {

namespace transpose_detail {

// The element-by-element copy of rows [r0, r1) × columns [c0, c1).
inline void copy_block(const float* src, std::int64_t rows, std::int64_t cols, float* dst, std::int64_t r0,
                       std::int64_t r1, std::int64_t c0, std::int64_t c1) {
  for (std::int64_t r = r0; r < r1; ++r)
    for (std::int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
}

#if defined(__AVX512F__)
// Tile (16 rows from r0, 16 columns from c0) of src, transposed into dst.
// Round 1 interleaves pairs of rows by single floats, round 2 by pairs
// (as doubles): then vector u[k + 4q] holds, in its 128-bit lane L, column
// 4L + k of rows 4q .. 4q + 3. Round 3 gathers the four lanes L of
// u[k], u[4 + k], u[8 + k], u[12 + k] (whole-lane shuffles, two steps) into
// column 4L + k of all sixteen rows.
inline void tile_16x16(const float* src, std::int64_t cols, float* dst, std::int64_t rows) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * cols);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);      // lane L: a[4L] b[4L] a[4L+1] b[4L+1]
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);  // lane L: a[4L+2] b[4L+2] a[4L+3] b[4L+3]
  }
  __m512 u[16];
  for (int q = 0; q < 4; ++q) {  // rows 4q .. 4q+3 are t[4q .. 4q+3]
    const __m512d lo01 = _mm512_castps_pd(t[4 * q]), hi01 = _mm512_castps_pd(t[4 * q + 1]);
    const __m512d lo23 = _mm512_castps_pd(t[4 * q + 2]), hi23 = _mm512_castps_pd(t[4 * q + 3]);
    u[4 * q + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo01, lo23));  // column 4L
    u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo01, lo23));  // column 4L + 1
    u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi01, hi23));  // column 4L + 2
    u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi01, hi23));  // column 4L + 3
  }
  for (int k = 0; k < 4; ++k) {
    // Lanes 0 and 2 (imm 0x88) or 1 and 3 (0xdd) of the first operand, then of the second.
    const __m512 even_top = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);       // rows 0-3, 4-7: lanes 0, 2
    const __m512 odd_top = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xdd);        // lanes 1, 3
    const __m512 even_bottom = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);  // rows 8-11, 12-15
    const __m512 odd_bottom = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xdd);
    _mm512_storeu_ps(dst + (0 + k) * rows, _mm512_shuffle_f32x4(even_top, even_bottom, 0x88));   // column k
    _mm512_storeu_ps(dst + (4 + k) * rows, _mm512_shuffle_f32x4(odd_top, odd_bottom, 0x88));    // column 4 + k
    _mm512_storeu_ps(dst + (8 + k) * rows, _mm512_shuffle_f32x4(even_top, even_bottom, 0xdd));  // column 8 + k
    _mm512_storeu_ps(dst + (12 + k) * rows, _mm512_shuffle_f32x4(odd_top, odd_bottom, 0xdd));  // column 12 + k
  }
}
#elif defined(__AVX2__)
// Tile (8 rows from r0, 8 columns from c0) of src, transposed into dst. Round
// 1 interleaves pairs of rows by single floats, round 2 by pairs: then u[k +
// 4h], in its 128-bit half L, holds column 4L + k of rows 4h .. 4h + 3. Round
// 3 joins the halves L of u[k] and u[4 + k] into column 4L + k of all 8 rows.
inline void tile_8x8(const float* src, std::int64_t cols, float* dst, std::int64_t rows) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * cols);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // half L: a[4L] b[4L] a[4L+1] b[4L+1]
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // half L: a[4L+2] b[4L+2] a[4L+3] b[4L+3]
  }
  for (int h = 0; h < 2; ++h) {  // rows 4h .. 4h+3 are t[4h .. 4h+3]
    const __m256d lo01 = _mm256_castps_pd(t[4 * h]), hi01 = _mm256_castps_pd(t[4 * h + 1]);
    const __m256d lo23 = _mm256_castps_pd(t[4 * h + 2]), hi23 = _mm256_castps_pd(t[4 * h + 3]);
    u[4 * h + 0] = _mm256_castpd_ps(_mm256_unpacklo_pd(lo01, lo23));  // column 4L
    u[4 * h + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(lo01, lo23));  // column 4L + 1
    u[4 * h + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(hi01, hi23));  // column 4L + 2
    u[4 * h + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(hi01, hi23));  // column 4L + 3
  }
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_ps(dst + k * rows, _mm256_permute2f128_ps(u[k], u[4 + k], 0x20));        // halves 0: column k
    _mm256_storeu_ps(dst + (4 + k) * rows, _mm256_permute2f128_ps(u[k], u[4 + k], 0x31));  // halves 1: column 4 + k
  }
}
#endif

}  // namespace transpose_detail

// dst (cols, rows) = srcᵀ, src (rows, cols), both row-major; they must not overlap.
inline void transpose_into(const float* src, std::int64_t rows, std::int64_t cols, float* dst) {
  std::int64_t full_rows = 0, full_cols = 0;  // the part covered by whole 16 × 16 tiles
#if defined(__AVX512F__)
  full_rows = rows / 16 * 16;
  full_cols = cols / 16 * 16;
  for (std::int64_t r = 0; r < full_rows; r += 16)
    for (std::int64_t c = 0; c < full_cols; c += 16)
      transpose_detail::tile_16x16(src + r * cols + c, cols, dst + c * rows + r, rows);
#elif defined(__AVX2__)
  full_rows = rows / 8 * 8;
  full_cols = cols / 8 * 8;
  for (std::int64_t r = 0; r < full_rows; r += 8)
    for (std::int64_t c = 0; c < full_cols; c += 8)
      transpose_detail::tile_8x8(src + r * cols + c, cols, dst + c * rows + r, rows);
#endif
  transpose_detail::copy_block(src, rows, cols, dst, 0, full_rows, full_cols, cols);  // right edge
  transpose_detail::copy_block(src, rows, cols, dst, full_rows, rows, 0, cols);      // bottom edge
}

}  // namespace legato
