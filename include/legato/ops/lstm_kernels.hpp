#pragma once
// The fast engine of lstm_sequence (ops/lstm.hpp): packed recurrent GEMMs with
// the LSTM gate math fused into the register tile. Read docs/lstm.md first.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "legato/util/team.hpp"

namespace legato::lstm_kernels {

// ------------------------------------------------------- gate functions ----
// exp, sigmoid and tanh as straight-line float code with no library call, so
// that the compiler can vectorise the gate loops of the portable engine (GCC
// 12 does not always: docs/lstm.md); the AVX-512 engine below evaluates the
// very same formulas 16 lanes at a time.
// Accuracy: exp to about 2 ulp; sigmoid and tanh to about 1e-7 absolute,
// which is what the LSTM needs (their values live in [-1, 1]).

// e^x for x clamped to [-87.3, 88.3] (normal floats only): x = n·ln2 + r with
// |r| <= ln2/2, e^r by a degree-6 polynomial (Cephes' expf coefficients), and
// 2^n built directly in the exponent bits.
inline float exp_approx(float x) {
  if (x != x) return x;  // NaN: converting it to an int below would be undefined
  x = std::min(std::max(x, -87.3f), 88.3f);
  const float n = std::floor(x * 1.44269504f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // ln2 split in two for accuracy
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  return p * std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
}

inline float sigmoid(float x) { return 1.f / (1.f + exp_approx(-x)); }

// tanh(x) = sign(x)·(1 - e^{-2|x|}) / (1 + e^{-2|x|}); e^{-2|x|} <= 1 never overflows.
inline float tanh(float x) {
  const float e = exp_approx(-2.f * std::fabs(x));
  return std::copysign((1.f - e) / (1.f + e), x);
}

// The input term of step t, batch row b: a pointer to 4H floats that already
// include both biases. Dense input: rows of xw (T, B, 4H) = x·W_ihᵀ + b_ih + b_hh.
// Token ids: row ids[t, b] of the table (V, 4H) = W_ihᵀ + b_ih + b_hh.
// K ids per row (a multi-hot row): that row for the first id, plus
// extra_row(t, b, q) = row ids[t, b, q] of W_ihᵀ for each later id q; only
// the fused engines read them (the portable one is given xw instead).
struct InputRows {
  const float* xw = nullptr;          // (T, B, 4H), or null
  const float* table = nullptr;       // (V, 4H), with ids
  const std::int32_t* ids = nullptr;  // (T, B, ids_per_row)
  const float* w_ih_t = nullptr;      // (V, 4H) = W_ihᵀ, when ids_per_row > 1
  std::int64_t ids_per_row = 1;
  std::int64_t B = 0, G = 0;          // G = 4H
  const float* row(std::int64_t t, std::int64_t b) const {
    const std::int64_t r = t * B + b;
    return xw ? xw + r * G : table + static_cast<std::int64_t>(ids[r * ids_per_row]) * G;
  }
  const float* extra_row(std::int64_t t, std::int64_t b, std::int64_t q) const {
    return w_ih_t + static_cast<std::int64_t>(ids[(t * B + b) * ids_per_row + q]) * G;
  }
};

// The input terms of multi-hot rows, for the portable engine and the
// one-step inference layer (the fused engines' epilogue sums them itself, in the
// same order): out row r (4H) = table[ids[r, 0]] + Σ_{q≥1} w_ih_t[ids[r, q]],
// table (V, 4H) = W_ihᵀ + b_ih + b_hh and w_ih_t (V, 4H) = W_ihᵀ, so that the
// biases count once.
inline void multi_hot_rows(const std::int32_t* ids, std::int64_t rows, std::int64_t K, const float* table,
                           const float* w_ih_t, std::int64_t G, float* out) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* o = out + r * G;
    std::copy_n(table + std::int64_t(ids[r * K]) * G, G, o);
    for (std::int64_t q = 1; q < K; ++q) {
      const float* w = w_ih_t + std::int64_t(ids[r * K + q]) * G;
      for (std::int64_t k = 0; k < G; ++k) o[k] += w[k];
    }
  }
}

// What a backward pass writes. dc0 is always wanted; a null pointer means "not
// wanted". db and dw_ih_t are accumulated into (zero them first). dz is
// wanted unless dz_words is given instead.
struct BackwardOut {
  float* dz;                 // (T, B, 4H)  ∂L/∂z_t, or null with dz_words
  float* dh0;                // (B, H) or null
  float* dc0;                // (B, H)
  float* db;                 // (4H) or null: column sums of dz
  float* dw_ih_t;            // (V, 4H) or null: row ids[t, b, q] += dz_t[b] for each q
  const std::int32_t* ids;   // (T, B, ids_per_row), with dw_ih_t
  // bf16 engine only, B even: dz in bf16 words of rows (t, b), (t, b+1), laid
  // out as the A operand of gemm_avx512::gemm_at_b_bf16_pairs (T·B/2 pairs),
  // for dW_hh. Saves writing dz in float and converting it afterwards.
  std::uint32_t* dz_words = nullptr;
  // Token ids per (t, b): 1 for one-hot input, K for the sum of K one-hots
  // (a multi-hot row, e.g. a token and its position in the bar).
  std::int64_t ids_per_row = 1;
};

// Tests and benchmarks switch to the portable engine with this flag (or the
// environment variable LEGATO_LSTM_PORTABLE=1) to compare the two.
inline bool& force_portable_flag() {
  static bool flag = [] {
    const char* env = std::getenv("LEGATO_LSTM_PORTABLE");
    return env && env[0] == '1';
  }();
  return flag;
}
inline bool force_portable() { return force_portable_flag(); }

// ---- what both fused engines (AVX-512 here, AVX2 in lstm_kernels_avx2.hpp) share ----

// Packed weights live in a buffer kept from call to call (one per engine
// direction and calling thread), so that a training loop does not page-fault
// a fresh megabyte in on every step.
template <class T>
inline T* workspace(std::vector<T>& buffer, std::int64_t count) {
  if (static_cast<std::int64_t>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
  return buffer.data();
}

}  // namespace legato::lstm_kernels

// ====================================================================== //
//                        The AVX-512 engine                              //
// ====================================================================== //
//
// Forward step t computes Z = h_{t-1} · W_hhᵀ, (B, H)·(H, 4H), then the gates.
// Backward step t computes dh = dz_{t+1} · W_hh, (B, 4H)·(4H, H), then dz_t.
// Both are cut into register tiles of MR batch rows × 16·NV columns: the
// micro-kernel keeps MR·NV accumulators of 16 floats in zmm registers, walks
// the K dimension once, and hands the finished tile (L1-resident, 1.5 KB) to
// an epilogue that does the gate math for exactly those rows and columns.
//
// The trick is the column order of the packed forward weights: a panel holds
// 16 hidden units × the 4 gates, [i(16) f(16) g(16) o(16)] for every k, so one
// tile contains everything the gate math of those 16 units needs and nothing
// ever goes back to memory between the GEMM and the nonlinearity.
//
// Threads split the hidden units (panels), never the batch: each thread then
// reads only its share of W_hh, which stays in its core's L2 from step to step.
// One OpenMP region spans the whole sequence, with one barrier per step (every
// thread needs all of h_t before step t+1).

#if defined(__AVX512F__) && !defined(LEGATO_LSTM_FAST_ENGINE)
#define LEGATO_LSTM_FAST_ENGINE 1
#endif
#ifndef LEGATO_LSTM_FAST_ENGINE
#define LEGATO_LSTM_FAST_ENGINE 0
#endif

#if LEGATO_LSTM_FAST_ENGINE
#include <immintrin.h>

#include "legato/ops/bf16.hpp"
#include "legato/ops/gemm_avx512.hpp"

namespace legato::lstm_kernels {

// The fast engine handles hidden sizes that are a multiple of one vector.
inline bool fast_engine_supports(std::int64_t H) { return H % 16 == 0; }

namespace avx512 {

constexpr int kMR = 6;  // batch rows per tile: 6 rows × 4 vectors = 24 accumulators of 32 zmm

// ---- the gate functions of the portable engine, 16 lanes at a time ----

inline __m512 exp16(__m512 x) {
  // x second: vmaxps/vminps return their second operand when either is NaN,
  // so a NaN stays a NaN, as in the portable engine.
  x = _mm512_min_ps(_mm512_set1_ps(88.3f), _mm512_max_ps(_mm512_set1_ps(-87.3f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504f), _mm512_set1_ps(0.5f)),
                                        _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);  // p · 2^n
}

// 1/d for d in [1, 2^128): a 14-bit estimate refined by one Newton step,
// r' = r·(2 - d·r), to about 1e-8 relative. Cheaper than a 512-bit divide,
// which the gate math would otherwise issue five times per 16 units.
inline __m512 recip16(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.f)));
}

inline __m512 sigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  return recip16(_mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

inline __m512 tanh16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 e = exp16(_mm512_mul_ps(_mm512_set1_ps(-2.f), _mm512_abs_ps(x)));
  const __m512 t = _mm512_mul_ps(_mm512_sub_ps(one, e), recip16(_mm512_add_ps(one, e)));  // tanh|x| >= 0
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), sign));
}

inline __m512 load(const float* p) { return _mm512_loadu_ps(p); }

// The input terms of units j..j+15 of the four gates i, f, g, o of row (t, b),
// the later ids of a multi-hot row added in order (InputRows).
inline void load_input_16(const InputRows& input, std::int64_t t, std::int64_t b, std::int64_t j, std::int64_t H,
                          __m512 x[4]) {
  const float* in = input.row(t, b);
  for (int k = 0; k < 4; ++k) x[k] = load(in + k * H + j);
  for (std::int64_t q = 1; q < input.ids_per_row; ++q) {
    const float* extra = input.extra_row(t, b, q);
    for (int k = 0; k < 4; ++k) x[k] = _mm512_add_ps(x[k], load(extra + k * H + j));
  }
}
inline void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }

// ---- the micro-kernel ----

// C (MR, 16·NV) = A (MR, K) · P (K, 16·NV). A is row-major with row stride
// lda; P is a packed panel, K rows of 16·NV contiguous floats; C is a dense
// tile. The MR·NV accumulators live in registers for the whole K loop.
// noinline: inlined into a caller whose epilogue keeps its own constants in
// registers, GCC spills accumulators inside the K loop (measured: 6x slower).
template <int MR, int NV>
[[gnu::noinline]] void gemm_tile(const float* __restrict A, std::int64_t lda, const float* __restrict P, std::int64_t K,
                      float* __restrict C) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < K; ++k) {
    __m512 b[NV];
    for (int v = 0; v < NV; ++v) b[v] = load(P + k * 16 * NV + 16 * v);
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) store(C + r * 16 * NV + 16 * v, acc[r][v]);
}

#if LEGATO_HAVE_BF16
// The same tile in bf16 products (ops/bf16.hpp): A and P hold words of two
// bf16, the values at k = 2kk and 2kk+1, so K here counts pairs and lda is in
// words. One vdpbf16ps replaces two FMAs.
template <int MR, int NV>
[[gnu::noinline]] void gemm_tile(const std::uint32_t* __restrict A, std::int64_t lda,
                                 const std::uint32_t* __restrict P, std::int64_t K, float* __restrict C) {
  __m512 acc[MR][NV];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (std::int64_t kk = 0; kk < K; ++kk) {
    __m512i b[NV];
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_si512(P + kk * 16 * NV + 16 * v);
    for (int r = 0; r < MR; ++r) {
      const __m512i a = _mm512_set1_epi32(static_cast<int>(A[r * lda + kk]));
      for (int v = 0; v < NV; ++v) acc[r][v] = bf16::dot_pairs(acc[r][v], a, b[v]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) store(C + r * 16 * NV + 16 * v, acc[r][v]);
}
#endif

// The same for a runtime row count mr in 1..kMR. Elem is float, or a word of
// two bf16 (then K counts pairs).
template <int NV, class Elem>
inline void gemm_tile_rows(int mr, const Elem* A, std::int64_t lda, const Elem* P, std::int64_t K, float* C) {
  switch (mr) {
    case 6: return gemm_tile<6, NV>(A, lda, P, K, C);
    case 5: return gemm_tile<5, NV>(A, lda, P, K, C);
    case 4: return gemm_tile<4, NV>(A, lda, P, K, C);
    case 3: return gemm_tile<3, NV>(A, lda, P, K, C);
    case 2: return gemm_tile<2, NV>(A, lda, P, K, C);
    default: return gemm_tile<1, NV>(A, lda, P, K, C);
  }
}
template <class Elem>
inline void gemm_tile_any(int mr, int nv, const Elem* A, std::int64_t lda, const Elem* P, std::int64_t K, float* C) {
  switch (nv) {
    case 4: return gemm_tile_rows<4>(mr, A, lda, P, K, C);
    case 3: return gemm_tile_rows<3>(mr, A, lda, P, K, C);
    case 2: return gemm_tile_rows<2>(mr, A, lda, P, K, C);
    default: return gemm_tile_rows<1>(mr, A, lda, P, K, C);
  }
}

// ---- packing ----

// Forward panel p covers hidden units 16p..16p+15: for each k < H it holds the
// 64 floats W_hh[gH + 16p + l][k], gates g = 0..3, units l = 0..15. All H/16
// panels together are W_hhᵀ (H, 4H) with its columns regrouped by unit.
inline void pack_forward_panel(const float* w_hh, std::int64_t H, std::int64_t p, float* panel /* (H, 64) */) {
  for (std::int64_t g = 0; g < 4; ++g)
    for (std::int64_t l = 0; l < 16; ++l) {
      const float* row = w_hh + (g * H + 16 * p + l) * H;  // read rows of W_hh in order
      for (std::int64_t k = 0; k < H; ++k) panel[k * 64 + g * 16 + l] = row[k];
    }
}

// Backward panel q covers hidden units 64q .. 64q + 16·nv - 1 (nv = 4 vectors,
// fewer for the last panel when H is not a multiple of 64): for each k < 4H it
// holds W_hh[k][64q ..], contiguous. Panel q starts at q · 4H · 64.
inline int backward_panel_vectors(std::int64_t H, std::int64_t q) {
  return static_cast<int>(std::min<std::int64_t>(64, H - 64 * q) / 16);
}
inline void pack_backward_panel(const float* w_hh, std::int64_t H, std::int64_t q, float* panel /* (4H, 16nv) */) {
  const std::int64_t width = 16 * backward_panel_vectors(H, q);
  for (std::int64_t k = 0; k < 4 * H; ++k) std::copy_n(w_hh + k * H + 64 * q, width, panel + k * width);
}

#if LEGATO_HAVE_BF16
// The two panels in bf16 pairs along k (ops/bf16.hpp): word (kk, column) holds
// the values at k = 2kk and 2kk+1. Forward: a column is a row of W_hh, whose
// consecutive k are already neighbours, so a row converted to bf16 and read
// as words is its pairs. Backward: pairs of rows 2kk, 2kk+1 of W_hh.
inline void pack_forward_panel(const float* w_hh, std::int64_t H, std::int64_t p,
                               std::uint32_t* panel /* (H/2, 64) words */) {
  std::vector<std::uint32_t> row(static_cast<std::size_t>(H / 2));
  for (std::int64_t g = 0; g < 4; ++g)
    for (std::int64_t l = 0; l < 16; ++l) {
      bf16::convert(w_hh + (g * H + 16 * p + l) * H, reinterpret_cast<std::uint16_t*>(row.data()), H);
      for (std::int64_t kk = 0; kk < H / 2; ++kk) panel[kk * 64 + g * 16 + l] = row[static_cast<std::size_t>(kk)];
    }
}
inline void pack_backward_panel(const float* w_hh, std::int64_t H, std::int64_t q,
                                std::uint32_t* panel /* (2H, 16nv) words */) {
  const int nv = backward_panel_vectors(H, q);
  for (std::int64_t kk = 0; kk < 2 * H; ++kk)
    for (int v = 0; v < nv; ++v) {
      const float* row0 = w_hh + 2 * kk * H + 64 * q + 16 * v;
      _mm512_storeu_si512(panel + kk * 16 * nv + 16 * v, bf16::pair_16(load(row0), load(row0 + H)));
    }
}
#endif

}  // namespace avx512

// ------------------------------------------------------------- forward ----

// The whole forward recurrence. Buffers as in lstm.hpp:
//   out (T+1, B, H) receives h_1..h_T in rows 0..T-1; gates (T, B, 4H)
//   receives the activated gates; c (T+1, B, H) holds c_0 in row 0 on entry.
// Without keep_all (no backward will follow) gates is one step (B, 4H) and c
// two rows (2, B, H) used in turn: c_t lives in row t % 2.
// h0 (B, H) may be null (zeros).
//
// With bf16 (ops/bf16.hpp; the caller passes use_bf16() as it was when the
// forward ran) the recurrent product runs in bf16 pairs:
// W_hh is packed as bf16, and the epilogue also writes h_t rounded to bf16 into
// h_pairs, two (B, H) rows used in turn, which step t+1 reads as its A operand.
inline void forward_sequence(std::int64_t T, std::int64_t B, std::int64_t H, const InputRows& input, const float* h0,
                             const float* w_hh, float* out, float* gates, float* c, bool keep_all = true,
                             bool bf16 = false) {
  using namespace avx512;
  const std::int64_t G = 4 * H, panels = H / 16;
  const bool pairs = LEGATO_HAVE_BF16 && bf16;
  thread_local std::vector<float> buffer;
  float* packed = pairs ? nullptr : workspace(buffer, 4 * H * H);  // (H/16) panels of (H, 64)
#if LEGATO_HAVE_BF16
  thread_local std::vector<std::uint32_t> pair_buffer;
  thread_local std::vector<std::uint16_t> h_buffer;
  std::uint32_t* packed_pairs = pairs ? workspace(pair_buffer, 2 * H * H) : nullptr;  // (H/16) panels of (H/2, 64)
  std::uint16_t* h_pairs = pairs ? workspace(h_buffer, 2 * B * H) : nullptr;           // h_t in row t % 2
  if (pairs && h0) bf16::convert(h0, h_pairs, B * H);
#endif
#pragma omp parallel
  {
    // Each thread packs the panels it will use: in parallel, and into its own cache.
    std::int64_t p_begin, p_end;
    my_share(panels, p_begin, p_end);
    for (std::int64_t p = p_begin; p < p_end; ++p) {
#if LEGATO_HAVE_BF16
      if (pairs) {
        pack_forward_panel(w_hh, H, p, packed_pairs + p * H * 32);
        continue;
      }
#endif
      pack_forward_panel(w_hh, H, p, packed + p * H * 64);
    }
    alignas(64) float tile[kMR * 64];  // (MR, 64): 16 units × 4 gates
    for (std::int64_t t = 0; t < T; ++t) {
      const float* h_prev = t == 0 ? h0 : out + (t - 1) * B * H;  // (B, H)
      const float* c_prev = c + (keep_all ? t : t % 2) * B * H;  // (B, H)
      float* c_next = c + (keep_all ? t + 1 : (t + 1) % 2) * B * H;
      float* h_next = out + t * B * H;
      float* a_t = gates + (keep_all ? t : 0) * B * G;  // (B, 4H)
#if LEGATO_HAVE_BF16
      const std::uint16_t* h_prev_pairs = pairs ? h_pairs + (t % 2) * B * H : nullptr;
      std::uint16_t* h_next_bf16 = pairs ? h_pairs + ((t + 1) % 2) * B * H : nullptr;
#endif
      for (std::int64_t p = p_begin; p < p_end; ++p) {
        const std::int64_t j = 16 * p;  // first hidden unit of the panel
        for (std::int64_t r0 = 0; r0 < B; r0 += kMR) {
          const int mr = static_cast<int>(std::min<std::int64_t>(kMR, B - r0));
          if (!h_prev)
            std::fill_n(tile, mr * 64, 0.f);
#if LEGATO_HAVE_BF16
          else if (pairs)
            gemm_tile_rows<4>(mr, reinterpret_cast<const std::uint32_t*>(h_prev_pairs + r0 * H), H / 2,
                              packed_pairs + p * H * 32, H / 2, tile);
#endif
          else
            gemm_tile_rows<4>(mr, h_prev + r0 * H, H, packed + p * H * 64, H, tile);
          // Epilogue: gates, cell and output of units j..j+15 for rows r0..r0+mr-1.
          for (int r = 0; r < mr; ++r) {
            const std::int64_t b = r0 + r;
            __m512 x[4];
            load_input_16(input, t, b, j, H, x);
            const float* z = tile + r * 64;
            const __m512 i = sigmoid16(_mm512_add_ps(load(z), x[0]));
            const __m512 f = sigmoid16(_mm512_add_ps(load(z + 16), x[1]));
            const __m512 g = tanh16(_mm512_add_ps(load(z + 32), x[2]));
            const __m512 o = sigmoid16(_mm512_add_ps(load(z + 48), x[3]));
            const __m512 cell = _mm512_fmadd_ps(f, load(c_prev + b * H + j), _mm512_mul_ps(i, g));
            store(c_next + b * H + j, cell);
            const __m512 h = _mm512_mul_ps(o, tanh16(cell));
            store(h_next + b * H + j, h);
#if LEGATO_HAVE_BF16
            if (pairs) bf16::store_16(h_next_bf16 + b * H + j, h);
#endif
            float* a = a_t + b * G + j;
            store(a, i);
            store(a + H, f);
            store(a + 2 * H, g);
            store(a + 3 * H, o);
          }
        }
      }
#pragma omp barrier
    }
  }
}

// ------------------------------------------------------------ backward ----

// The whole BPTT recurrence. grad_out (T+1, B, H) is the gradient of the
// forward's output; fills `out` (see BackwardOut). Each thread owns a set of
// hidden units, hence the columns gH + n of dz for its units n: it alone adds
// them into db and dW_ihᵀ, so the epilogue accumulates both without locks.
inline void backward_sequence(std::int64_t T, std::int64_t B, std::int64_t H, const float* grad_out,
                              const float* w_hh, const float* gates, const float* c, const BackwardOut& out,
                              bool bf16 = false) {
  float* const dz = out.dz;
  [[maybe_unused]] std::uint32_t* const dz_words = out.dz_words;
  float* const dh0 = out.dh0;
  float* const db = out.db;
  float* const dw_ih_t = out.dw_ih_t;
  const std::int32_t* const ids = out.ids;
  const std::int64_t ids_per_row = out.ids_per_row;
  using namespace avx512;
  const std::int64_t G = 4 * H, panels = (H + 63) / 64;
  const bool pairs = LEGATO_HAVE_BF16 && bf16;
  thread_local std::vector<float> buffer;
  float* packed = pairs ? nullptr : workspace(buffer, 4 * H * H);  // ceil(H/64) panels of (4H, 16nv)
#if LEGATO_HAVE_BF16
  // bf16 (see forward_sequence): W_hh packed in pairs of rows, and dz_t also
  // written rounded to bf16, two (B, 4H) rows used in turn.
  thread_local std::vector<std::uint32_t> pair_buffer;
  thread_local std::vector<std::uint16_t> dz_buffer;
  std::uint32_t* packed_pairs = pairs ? workspace(pair_buffer, 2 * H * H) : nullptr;  // panels of (2H, 16nv)
  std::uint16_t* dz_pairs = pairs ? workspace(dz_buffer, 2 * B * G) : nullptr;         // dz_t in row t % 2
#endif
  float* dc = out.dc0;  // (B, H): ∂L/∂c_t, starting from the gradient of c_T
  std::copy_n(grad_out + T * B * H, B * H, dc);
#pragma omp parallel
  {
    std::int64_t q_begin, q_end;
    my_share(panels, q_begin, q_end);
    for (std::int64_t q = q_begin; q < q_end; ++q) {
#if LEGATO_HAVE_BF16
      if (pairs) {
        pack_backward_panel(w_hh, H, q, packed_pairs + q * G * 32);
        continue;
      }
#endif
      pack_backward_panel(w_hh, H, q, packed + q * G * 64);
    }
    alignas(64) float tile[kMR * 64];  // (MR, 16·nv): ∂L/∂h_t from step t+1
    // dh_rec for rows r0.. of panel q: dz_{t+1} (rows r0.., all 4H) · W_hh's panel.
    auto recurrent_tile = [&](std::int64_t t_next, std::int64_t q, std::int64_t r0, int mr) {
      const int nv = backward_panel_vectors(H, q);
#if LEGATO_HAVE_BF16
      if (pairs) {
        const std::uint16_t* rows = dz_pairs + (t_next % 2) * B * G + r0 * G;
        return gemm_tile_any(mr, nv, reinterpret_cast<const std::uint32_t*>(rows), G / 2, packed_pairs + q * G * 32,
                             G / 2, tile);
      }
#endif
      gemm_tile_any(mr, nv, dz + t_next * B * G + r0 * G, G, packed + q * G * 64, G, tile);
    };
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const float* a_t = gates + t * B * G;
      float* dz_t = dz ? dz + t * B * G : nullptr;
#if LEGATO_HAVE_BF16
      std::uint16_t* dz_t_bf16 = pairs ? dz_pairs + (t % 2) * B * G : nullptr;
#endif
      for (std::int64_t q = q_begin; q < q_end; ++q) {
        const int nv = backward_panel_vectors(H, q);
        const std::int64_t n0 = 64 * q;
        for (std::int64_t r0 = 0; r0 < B; r0 += kMR) {
          const int mr = static_cast<int>(std::min<std::int64_t>(kMR, B - r0));
          if (t + 1 < T)
            recurrent_tile(t + 1, q, r0, mr);  // dz_{t+1} is complete after the barrier
          else
            std::fill_n(tile, mr * 16 * nv, 0.f);
          // Units outer, rows inner: db's four vectors are summed over the
          // tile's rows in registers and written once per tile, instead of a
          // read-modify-write per row that waits on the previous row's store.
          for (int v = 0; v < nv; ++v) {
            const std::int64_t n = n0 + 16 * v;  // first of 16 hidden units
            const __m512 one = _mm512_set1_ps(1.f);
            __m512 db_tile[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
#if LEGATO_HAVE_BF16
            __m512 even_row[4];  // with dz_words: dz of the tile's last even row, waiting for its pair
#endif
            for (int r = 0; r < mr; ++r) {
              const std::int64_t b = r0 + r;
              const __m512 dh = _mm512_add_ps(load(grad_out + (t * B + b) * H + n), load(tile + r * 16 * nv + 16 * v));
              const float* a = a_t + b * G + n;
              const __m512 i = load(a), f = load(a + H), g = load(a + 2 * H), o = load(a + 3 * H);
              const __m512 tc = tanh16(load(c + ((t + 1) * B + b) * H + n));
              const __m512 dct = _mm512_fmadd_ps(_mm512_mul_ps(dh, o), _mm512_fnmadd_ps(tc, tc, one),
                                                 load(dc + b * H + n));  // ∂L/∂c_t
              const __m512 d[4] = {
                  _mm512_mul_ps(_mm512_mul_ps(dct, g), _mm512_mul_ps(i, _mm512_sub_ps(one, i))),  // dz_i
                  _mm512_mul_ps(_mm512_mul_ps(dct, load(c + (t * B + b) * H + n)),
                                _mm512_mul_ps(f, _mm512_sub_ps(one, f))),                          // dz_f
                  _mm512_mul_ps(_mm512_mul_ps(dct, i), _mm512_fnmadd_ps(g, g, one)),               // dz_g
                  _mm512_mul_ps(_mm512_mul_ps(dh, tc), _mm512_mul_ps(o, _mm512_sub_ps(one, o)))};  // dz_o
              store(dc + b * H + n, _mm512_mul_ps(dct, f));  // ∂L/∂c_{t-1}
              for (int k = 0; k < 4; ++k) {
                if (dz_t) store(dz_t + b * G + k * H + n, d[k]);
#if LEGATO_HAVE_BF16
                if (pairs) bf16::store_16(dz_t_bf16 + b * G + k * H + n, d[k]);
                if (dz_words) {  // tiles start on even rows and, B being even, hold an even count
                  if (r % 2 == 0)
                    even_row[k] = d[k];
                  else
                    _mm512_storeu_si512(
                        dz_words + gemm_avx512::a_word_index(k * H + n, (t * B + b) / 2, T * B / 2),
                        bf16::pair_16(even_row[k], d[k]));
                }
#endif
                db_tile[k] = _mm512_add_ps(db_tile[k], d[k]);
              }
              if (dw_ih_t)  // dW_ihᵀ: the dz row goes to the row of each of its ids
                for (std::int64_t id_q = 0; id_q < ids_per_row; ++id_q) {
                  float* w = dw_ih_t + std::int64_t(ids[(t * B + b) * ids_per_row + id_q]) * G + n;
                  for (int k = 0; k < 4; ++k) store(w + k * H, _mm512_add_ps(load(w + k * H), d[k]));
                }
            }
            if (db)
              for (int k = 0; k < 4; ++k) store(db + k * H + n, _mm512_add_ps(load(db + k * H + n), db_tile[k]));
          }
        }
      }
#pragma omp barrier
    }
    // ∂L/∂h_0 = dz_0 · W_hh, when the caller wants it.
    if (dh0) {
      for (std::int64_t q = q_begin; q < q_end; ++q) {
        const int nv = backward_panel_vectors(H, q);
        for (std::int64_t r0 = 0; r0 < B; r0 += kMR) {
          const int mr = static_cast<int>(std::min<std::int64_t>(kMR, B - r0));
          recurrent_tile(0, q, r0, mr);
          for (int r = 0; r < mr; ++r)
            std::copy_n(tile + r * 16 * nv, 16 * nv, dh0 + (r0 + r) * H + 64 * q);
        }
      }
    }
  }
}

}  // namespace legato::lstm_kernels
#endif  // LEGATO_LSTM_FAST_ENGINE
