#pragma once
// The AVX2 engine of lstm_sequence (ops/lstm.hpp), for x86 machines without
// AVX-512 (most laptops, AMD before Zen 4). Same design as the AVX-512 engine
// of lstm_kernels.hpp, on 8-lane vectors and in fp32 only:
//   - W_hh is packed once per call into panels that the micro-kernel streams;
//   - the gate math runs on the finished register tile, while it is in L1;
//   - the threads split the hidden units, one barrier per step.
// What differs is the register budget: 16 ymm registers instead of 32 zmm.
// The tile is the classic 6 × 16 of AVX2 GEMMs (12 accumulators, 2 panel
// vectors, 1 broadcast), so a forward panel of 8 units × 4 gates (32 columns)
// is computed as two tiles, gates (i, f) then (g, o), into one L1 buffer.
// docs/lstm.md explains the engines; tests/test_lstm_fused.cpp holds this one
// to the plain-loop reference and to finite differences.

#include "legato/ops/lstm_kernels.hpp"  // InputRows, BackwardOut, force_portable, workspace, my_share (util/team.hpp)

#if !LEGATO_LSTM_FAST_ENGINE && defined(__AVX2__) && defined(__FMA__) && !defined(LEGATO_LSTM_AVX2_ENGINE)
#define LEGATO_LSTM_AVX2_ENGINE 1
#endif
#ifndef LEGATO_LSTM_AVX2_ENGINE
#define LEGATO_LSTM_AVX2_ENGINE 0
#endif

#if LEGATO_LSTM_AVX2_ENGINE
#include <immintrin.h>

namespace legato::lstm_kernels {

// Hidden sizes that are a whole number of vectors.
inline bool fast_engine_supports(std::int64_t H) { return H % 8 == 0; }

namespace avx2 {

constexpr int kMR = 6;    // batch rows per tile
constexpr int kNV = 2;    // vectors of 8 columns per tile: 6 × 2 = 12 accumulators
constexpr int kUnits = 8;  // hidden units per forward panel, 4 gates each: 32 columns

// The batch rows cut into tiles of at most kMR rows, of balanced sizes: 8
// rows (a lane of melody_lstm's batch of 16 on two threads) as 4 + 4, not
// 6 + 2, whose 2-row tile has too few accumulators to hide the FMA latency.
struct RowTiles {
  std::int64_t B, count;
  explicit RowTiles(std::int64_t rows) : B(rows), count((rows + kMR - 1) / kMR) {}
  std::int64_t first(std::int64_t tile) const { return B * tile / count; }
  int rows(std::int64_t tile) const { return static_cast<int>(first(tile + 1) - first(tile)); }
};

inline __m256 load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
inline __m256 splat(float v) { return _mm256_set1_ps(v); }

// ---- the gate functions of lstm_kernels.hpp (exp_approx, sigmoid, tanh), 8 lanes at a time ----

inline __m256 exp8(__m256 x) {
  // The clamp of exp_approx. vmaxps/vminps return their second operand when
  // either is NaN, so x goes second: a NaN stays a NaN, as in the portable engine.
  x = _mm256_min_ps(splat(88.3f), _mm256_max_ps(splat(-87.3f), x));
  const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, splat(1.44269504f), splat(0.5f)));
  __m256 r = _mm256_fnmadd_ps(n, splat(0.693359375f), x);
  r = _mm256_fmadd_ps(n, splat(2.12194440e-4f), r);
  __m256 p = splat(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, splat(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, splat(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, splat(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, splat(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, splat(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, splat(1.f)));
  // 2^n built in the exponent bits: n is in [-126, 127] after the clamp.
  const __m256i two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(two_n));
}

inline __m256 sigmoid8(__m256 x) {
  const __m256 one = splat(1.f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

inline __m256 tanh8(__m256 x) {
  const __m256 one = splat(1.f), sign_bit = splat(-0.f);
  const __m256 e = exp8(_mm256_mul_ps(splat(-2.f), _mm256_andnot_ps(sign_bit, x)));  // e^{-2|x|} <= 1
  const __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));        // tanh|x| >= 0
  return _mm256_or_ps(t, _mm256_and_ps(x, sign_bit));
}

// The input terms of units j..j+7 of the four gates i, f, g, o of row (t, b),
// the later ids of a multi-hot row added in order (InputRows).
inline void load_input_8(const InputRows& input, std::int64_t t, std::int64_t b, std::int64_t j, std::int64_t H,
                         __m256 x[4]) {
  const float* in = input.row(t, b);
  for (int k = 0; k < 4; ++k) x[k] = load(in + k * H + j);
  for (std::int64_t q = 1; q < input.ids_per_row; ++q) {
    const float* extra = input.extra_row(t, b, q);
    for (int k = 0; k < 4; ++k) x[k] = _mm256_add_ps(x[k], load(extra + k * H + j));
  }
}

// ---- the micro-kernel ----

// C (MR, 8·NV) = A (MR, K) · P (K, 8·NV). A is row-major with row stride lda;
// P's rows are ldp floats apart (the tile reads the first 8·NV of each); C's
// rows are ldc floats apart. The MR·NV accumulators stay in registers for the
// whole K loop. noinline for the reason given in lstm_kernels.hpp: inlined
// into the epilogue's caller, GCC spills the accumulators. The unroll
// pragmas matter too: without them GCC 12 at -O3 keeps a copy of the
// accumulator array on the stack and stores it on every k (measured: the
// 6 × 2 tile at half speed, docs/lstm.md 4.7).
template <int MR, int NV>
[[gnu::noinline]] void gemm_tile(const float* __restrict A, std::int64_t lda, const float* __restrict P,
                                 std::int64_t ldp, std::int64_t K, float* __restrict C, std::int64_t ldc) {
  __m256 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (std::int64_t k = 0; k < K; ++k) {
    __m256 b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) b[v] = load(P + k * ldp + 8 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) store(C + r * ldc + 8 * v, acc[r][v]);
}

// The same for a runtime row count mr in 1..kMR and nv in 1..kNV.
template <int NV>
inline void gemm_tile_rows(int mr, const float* A, std::int64_t lda, const float* P, std::int64_t ldp, std::int64_t K,
                           float* C, std::int64_t ldc) {
  switch (mr) {
    case 6: return gemm_tile<6, NV>(A, lda, P, ldp, K, C, ldc);
    case 5: return gemm_tile<5, NV>(A, lda, P, ldp, K, C, ldc);
    case 4: return gemm_tile<4, NV>(A, lda, P, ldp, K, C, ldc);
    case 3: return gemm_tile<3, NV>(A, lda, P, ldp, K, C, ldc);
    case 2: return gemm_tile<2, NV>(A, lda, P, ldp, K, C, ldc);
    default: return gemm_tile<1, NV>(A, lda, P, ldp, K, C, ldc);
  }
}
inline void gemm_tile_any(int mr, int nv, const float* A, std::int64_t lda, const float* P, std::int64_t ldp,
                          std::int64_t K, float* C, std::int64_t ldc) {
  if (nv == 2) return gemm_tile_rows<2>(mr, A, lda, P, ldp, K, C, ldc);
  gemm_tile_rows<1>(mr, A, lda, P, ldp, K, C, ldc);
}

// ---- packing ----

// Forward panel p covers hidden units 8p..8p+7: for each k < H it holds the
// 32 floats W_hh[gH + 8p + l][k], gates g = 0..3, units l = 0..7.
inline void pack_forward_panel(const float* w_hh, std::int64_t H, std::int64_t p, float* panel /* (H, 32) */) {
  for (std::int64_t g = 0; g < 4; ++g)
    for (std::int64_t l = 0; l < kUnits; ++l) {
      const float* row = w_hh + (g * H + kUnits * p + l) * H;  // read rows of W_hh in order
      for (std::int64_t k = 0; k < H; ++k) panel[k * 4 * kUnits + g * kUnits + l] = row[k];
    }
}

// Backward panel q covers hidden units 16q .. 16q + 8·nv - 1 (nv = 2 vectors,
// 1 for the last panel when H is an odd number of vectors): for each k < 4H
// it holds W_hh[k][16q ..], contiguous. Panel q starts at q · 4H · 16.
inline int backward_panel_vectors(std::int64_t H, std::int64_t q) {
  return static_cast<int>(std::min<std::int64_t>(8 * kNV, H - 8 * kNV * q) / 8);
}
inline void pack_backward_panel(const float* w_hh, std::int64_t H, std::int64_t q, float* panel /* (4H, 8nv) */) {
  const std::int64_t width = 8 * backward_panel_vectors(H, q);
  for (std::int64_t k = 0; k < 4 * H; ++k) std::copy_n(w_hh + k * H + 8 * kNV * q, width, panel + k * width);
}

}  // namespace avx2

// ------------------------------------------------------------- forward ----

// The whole forward recurrence, with the arguments and buffers of the AVX-512
// engine's forward_sequence (lstm_kernels.hpp). fp32 only: `bf16` is never
// set on a machine without AVX-512 (ops/bf16.hpp).
inline void forward_sequence(std::int64_t T, std::int64_t B, std::int64_t H, const InputRows& input, const float* h0,
                             const float* w_hh, float* out, float* gates, float* c, bool keep_all = true,
                             [[maybe_unused]] bool bf16 = false) {
  using namespace avx2;
  const std::int64_t G = 4 * H, panels = H / kUnits, panel_width = 4 * kUnits;
  const RowTiles row_tiles(B);
  thread_local std::vector<float> buffer;
  float* packed = workspace(buffer, 4 * H * H);  // (H/8) panels of (H, 32)
#pragma omp parallel
  {
    // Each thread packs the panels it will use: in parallel, and into its own cache.
    std::int64_t p_begin, p_end;
    my_share(panels, p_begin, p_end);
    for (std::int64_t p = p_begin; p < p_end; ++p) pack_forward_panel(w_hh, H, p, packed + p * H * panel_width);
    alignas(32) float tile[kMR * 4 * kUnits];  // (MR, 32): 8 units × 4 gates
    for (std::int64_t t = 0; t < T; ++t) {
      const float* h_prev = t == 0 ? h0 : out + (t - 1) * B * H;  // (B, H)
      const float* c_prev = c + (keep_all ? t : t % 2) * B * H;  // (B, H)
      float* c_next = c + (keep_all ? t + 1 : (t + 1) % 2) * B * H;
      float* h_next = out + t * B * H;
      float* a_t = gates + (keep_all ? t : 0) * B * G;  // (B, 4H)
      for (std::int64_t p = p_begin; p < p_end; ++p) {
        const std::int64_t j = kUnits * p;  // first hidden unit of the panel
        const float* panel = packed + p * H * panel_width;
        for (std::int64_t tile_index = 0; tile_index < row_tiles.count; ++tile_index) {
          const std::int64_t r0 = row_tiles.first(tile_index);
          const int mr = row_tiles.rows(tile_index);
          if (!h_prev) {
            std::fill_n(tile, mr * panel_width, 0.f);
          } else {  // columns 0..15 (gates i, f), then 16..31 (g, o)
            gemm_tile_rows<kNV>(mr, h_prev + r0 * H, H, panel, panel_width, H, tile, panel_width);
            gemm_tile_rows<kNV>(mr, h_prev + r0 * H, H, panel + 16, panel_width, H, tile + 16, panel_width);
          }
          // Epilogue: gates, cell and output of units j..j+7 for rows r0..r0+mr-1.
          for (int r = 0; r < mr; ++r) {
            const std::int64_t b = r0 + r;
            __m256 x[4];
            load_input_8(input, t, b, j, H, x);
            const float* z = tile + r * panel_width;
            const __m256 i = sigmoid8(_mm256_add_ps(load(z), x[0]));
            const __m256 f = sigmoid8(_mm256_add_ps(load(z + 8), x[1]));
            const __m256 g = tanh8(_mm256_add_ps(load(z + 16), x[2]));
            const __m256 o = sigmoid8(_mm256_add_ps(load(z + 24), x[3]));
            const __m256 cell = _mm256_fmadd_ps(f, load(c_prev + b * H + j), _mm256_mul_ps(i, g));
            store(c_next + b * H + j, cell);
            store(h_next + b * H + j, _mm256_mul_ps(o, tanh8(cell)));
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

// The whole BPTT recurrence, as the AVX-512 engine's backward_sequence: each
// thread owns a set of hidden units, so it alone adds their columns of dz
// into db and dW_ihᵀ. out.dz is required (there is no bf16 pair layout here).
inline void backward_sequence(std::int64_t T, std::int64_t B, std::int64_t H, const float* grad_out,
                              const float* w_hh, const float* gates, const float* c, const BackwardOut& out,
                              [[maybe_unused]] bool bf16 = false) {
  using namespace avx2;
  float* const dz = out.dz;
  float* const dh0 = out.dh0;
  float* const db = out.db;
  float* const dw_ih_t = out.dw_ih_t;
  const std::int32_t* const ids = out.ids;
  const std::int64_t ids_per_row = out.ids_per_row;
  const std::int64_t G = 4 * H, panel_cols = 8 * kNV, panels = (H + panel_cols - 1) / panel_cols;
  const RowTiles row_tiles(B);
  thread_local std::vector<float> buffer;
  float* packed = workspace(buffer, 4 * H * H);  // ceil(H/16) panels of (4H, 8nv)
  float* dc = out.dc0;                           // (B, H): ∂L/∂c_t, starting from the gradient of c_T
  std::copy_n(grad_out + T * B * H, B * H, dc);
#pragma omp parallel
  {
    std::int64_t q_begin, q_end;
    my_share(panels, q_begin, q_end);
    for (std::int64_t q = q_begin; q < q_end; ++q) pack_backward_panel(w_hh, H, q, packed + q * G * panel_cols);
    alignas(32) float tile[kMR * 8 * kNV];  // (MR, 8·nv): ∂L/∂h_t from step t+1
    // dh_rec for rows r0.. of panel q: dz_{t+1} (rows r0.., all 4H) · W_hh's panel.
    auto recurrent_tile = [&](std::int64_t t_next, std::int64_t q, std::int64_t r0, int mr) {
      const int nv = backward_panel_vectors(H, q);
      gemm_tile_any(mr, nv, dz + t_next * B * G + r0 * G, G, packed + q * G * panel_cols, 8 * nv, G, tile, 8 * nv);
    };
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const float* a_t = gates + t * B * G;
      float* dz_t = dz + t * B * G;
      for (std::int64_t q = q_begin; q < q_end; ++q) {
        const int nv = backward_panel_vectors(H, q);
        for (std::int64_t tile_index = 0; tile_index < row_tiles.count; ++tile_index) {
          const std::int64_t r0 = row_tiles.first(tile_index);
          const int mr = row_tiles.rows(tile_index);
          if (t + 1 < T)
            recurrent_tile(t + 1, q, r0, mr);  // dz_{t+1} is complete after the barrier
          else
            std::fill_n(tile, mr * 8 * nv, 0.f);
          // Units outer, rows inner, as in the AVX-512 engine: db is summed
          // over the tile's rows in registers.
          for (int v = 0; v < nv; ++v) {
            const std::int64_t n = panel_cols * q + 8 * v;  // first of 8 hidden units
            const __m256 one = splat(1.f);
            __m256 db_tile[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int r = 0; r < mr; ++r) {
              const std::int64_t b = r0 + r;
              const __m256 dh = _mm256_add_ps(load(grad_out + (t * B + b) * H + n), load(tile + r * 8 * nv + 8 * v));
              const float* a = a_t + b * G + n;
              const __m256 i = load(a), f = load(a + H), g = load(a + 2 * H), o = load(a + 3 * H);
              const __m256 tc = tanh8(load(c + ((t + 1) * B + b) * H + n));
              const __m256 dct = _mm256_fmadd_ps(_mm256_mul_ps(dh, o), _mm256_fnmadd_ps(tc, tc, one),
                                                 load(dc + b * H + n));  // ∂L/∂c_t
              const __m256 d[4] = {
                  _mm256_mul_ps(_mm256_mul_ps(dct, g), _mm256_mul_ps(i, _mm256_sub_ps(one, i))),  // dz_i
                  _mm256_mul_ps(_mm256_mul_ps(dct, load(c + (t * B + b) * H + n)),
                                _mm256_mul_ps(f, _mm256_sub_ps(one, f))),                          // dz_f
                  _mm256_mul_ps(_mm256_mul_ps(dct, i), _mm256_fnmadd_ps(g, g, one)),               // dz_g
                  _mm256_mul_ps(_mm256_mul_ps(dh, tc), _mm256_mul_ps(o, _mm256_sub_ps(one, o)))};  // dz_o
              store(dc + b * H + n, _mm256_mul_ps(dct, f));  // ∂L/∂c_{t-1}
              for (int k = 0; k < 4; ++k) {
                store(dz_t + b * G + k * H + n, d[k]);
                db_tile[k] = _mm256_add_ps(db_tile[k], d[k]);
              }
              if (dw_ih_t)  // dW_ihᵀ: the dz row goes to the row of each of its ids
                for (std::int64_t id_q = 0; id_q < ids_per_row; ++id_q) {
                  float* w = dw_ih_t + std::int64_t(ids[(t * B + b) * ids_per_row + id_q]) * G + n;
                  for (int k = 0; k < 4; ++k) store(w + k * H, _mm256_add_ps(load(w + k * H), d[k]));
                }
            }
            if (db)
              for (int k = 0; k < 4; ++k) store(db + k * H + n, _mm256_add_ps(load(db + k * H + n), db_tile[k]));
          }
        }
      }
#pragma omp barrier
    }
    // ∂L/∂h_0 = dz_0 · W_hh, when the caller wants it.
    if (dh0) {
      for (std::int64_t q = q_begin; q < q_end; ++q) {
        const int nv = backward_panel_vectors(H, q);
        for (std::int64_t tile_index = 0; tile_index < row_tiles.count; ++tile_index) {
          const std::int64_t r0 = row_tiles.first(tile_index);
          const int mr = row_tiles.rows(tile_index);
          recurrent_tile(0, q, r0, mr);
          for (int r = 0; r < mr; ++r)
            std::copy_n(tile + r * 8 * nv, 8 * nv, dh0 + (r0 + r) * H + panel_cols * q);
        }
      }
    }
  }
}

}  // namespace legato::lstm_kernels
#endif  // LEGATO_LSTM_AVX2_ENGINE
