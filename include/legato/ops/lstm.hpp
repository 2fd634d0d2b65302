#pragma once
// lstm_sequence: one LSTM layer over a whole sequence as ONE autograd node,
// with a hand-written backward through time (BPTT). PyTorch's layout and gate
// order (i, f, g, o):
//
//   z_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh        (B, 4H), four blocks of H
//   i = σ(z_i)   f = σ(z_f)   g = tanh(z_g)   o = σ(z_o)
//   c_t = f ⊙ c_{t-1} + i ⊙ g                            (B, H)
//   h_t = o ⊙ tanh(c_t)                                  (B, H)
//
// Why fused: the composed cell (lstm_cell_step in nn/lstm.hpp) records ~15
// graph nodes per step and runs a small GEMM for the input of every step. Here
//   1. the input projection of all T steps is ONE GEMM (T·B, I)·(I, 4H), or for
//      token ids a gather of columns of W_ih (a one-hot row times W_ihᵀ is just
//      a column of W_ih), with both biases folded in;
//   2. each step runs one recurrent GEMM h_{t-1}·W_hhᵀ followed by the fused gate
//      nonlinearity, which saves the activated gates (T, B, 4H) and the cell
//      states (T+1, B, H) for the backward pass;
//   3. the backward pass walks t = T..1 with one GEMM per step, dz_t·W_hh, for
//      the gradient flowing into h_{t-1}, and stores dz_t (T, B, 4H);
//   4. after the loop the weight gradients are single big GEMMs over all steps:
//      dW_hh = Σ_t dz_tᵀ h_{t-1}, dW_ih = Σ_t dz_tᵀ x_t (a scatter-add of rows for
//      ids), db = column sums of dz.
//
// Two engines run steps 2 and 3: a portable one below (Eigen GEMM + Eigen
// array math per row; easy to read) and a fused one: when compiled with
// AVX-512 the one in lstm_kernels.hpp, with only AVX2 + FMA its 8-lane version
// in lstm_kernels_avx2.hpp (weights packed once per call, the gate math fused
// into the GEMM's register tile, the threads splitting the hidden units, each
// taking its share). They compute the same thing; tests/test_lstm_fused.cpp
// checks both against plain loops and finite differences. docs/lstm.md
// explains the kernels.
//
// The returned tensor packs outputs and final cell state so that the op has a
// single output (T+1, B, H): rows 0..T-1 are h_1..h_T, row T is c_T (h_T is
// row T-1). Gradients flow to x, h0, c0 and all four weights.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "legato/autograd.hpp"
#include "legato/ops/gemm_avx512.hpp"
#include "legato/ops/lstm_kernels.hpp"
#include "legato/ops/lstm_kernels_avx2.hpp"
#include "legato/ops/transpose_kernel.hpp"
#include "legato/util/threads.hpp"

namespace legato {

namespace lstm_detail {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;

struct Dims {
  std::int64_t T, B, I, H;  // I is V for the token-id variant
  // bf16 products (ops/bf16.hpp), decided when the forward runs: the
  // backward, which captures Dims, uses the same whatever the setting then.
  bool bf16 = false;
};

inline void check_cpu_tensor(const Tensor& t, const char* op, const char* name) {
  check(t.defined(), op, ": ", name, " is undefined");
  check(t.is_cpu(), op, ": ", name, " of shape ", shape_str(t.shape()), " is on ", device_name(t.device()),
        "; this op runs on the cpu");
}

// Checks the weights and the optional initial state against (T, B, I) and
// returns the dimensions. Every message names the op and both shapes.
inline Dims check_args(const char* op, std::int64_t T, std::int64_t B, std::int64_t I, const char* input_name,
                       const Shape& input_shape, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                       const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  check_cpu_tensor(w_ih, op, "w_ih");
  check_cpu_tensor(w_hh, op, "w_hh");
  check_cpu_tensor(b_ih, op, "b_ih");
  check_cpu_tensor(b_hh, op, "b_hh");
  check(w_hh.dim() == 2 && w_hh.size(1) > 0 && w_hh.size(0) == 4 * w_hh.size(1), op, ": w_hh of shape ",
        shape_str(w_hh.shape()), " is not (4H, H) with H > 0");
  const std::int64_t H = w_hh.size(1);
  check(T > 0 && B > 0, op, ": ", input_name, " of shape ", shape_str(input_shape),
        " is empty; the sequence needs T > 0 steps and B > 0 rows");
  check(w_ih.dim() == 2 && w_ih.size(0) == 4 * H && w_ih.size(1) == I, op, ": w_ih of shape ",
        shape_str(w_ih.shape()), " does not match ", input_name, " of shape ", shape_str(input_shape), " and w_hh of shape ",
        shape_str(w_hh.shape()), "; expected (", 4 * H, ", ", I, ")");
  check(b_ih.shape() == Shape{4 * H}, op, ": b_ih of shape ", shape_str(b_ih.shape()), " does not match w_hh of shape ",
        shape_str(w_hh.shape()), "; expected (", 4 * H, ",)");
  check(b_hh.shape() == Shape{4 * H}, op, ": b_hh of shape ", shape_str(b_hh.shape()), " does not match w_hh of shape ",
        shape_str(w_hh.shape()), "; expected (", 4 * H, ",)");
  for (auto [state, name] : {std::pair{&h0, "h0"}, std::pair{&c0, "c0"}}) {
    if (!state->defined()) continue;
    check_cpu_tensor(*state, op, name);
    check(state->shape() == Shape{B, H}, op, ": ", name, " of shape ", shape_str(state->shape()), " does not match ",
          input_name, " of shape ", shape_str(input_shape), " and w_hh of shape ", shape_str(w_hh.shape()),
          "; expected (", B, ", ", H, ")");
  }
  return {T, B, I, H, use_bf16()};
}

// ------------------------------------------------------------ forward ----

// The portable engine for one step's gate math on one batch row. z holds
// h_{t-1}·W_hhᵀ on entry (4H) and the activated gates (i, f, g, o) on exit;
// `in` is the input term of this row with both biases folded in (4H).
inline void gate_forward_row(float* __restrict z, const float* __restrict in, const float* __restrict c_prev,
                             float* __restrict c_next, float* __restrict h_next, std::int64_t H) {
  using lstm_kernels::sigmoid, lstm_kernels::tanh;
  // Written so that the compiler can vectorise it, but GCC 12 leaves it scalar
  // on the AVX2 build (perf annotate, docs/lstm.md section 4).
  for (std::int64_t j = 0; j < H; ++j) {
    const float i = sigmoid(z[j] + in[j]), f = sigmoid(z[H + j] + in[H + j]);
    const float g = tanh(z[2 * H + j] + in[2 * H + j]), o = sigmoid(z[3 * H + j] + in[3 * H + j]);
    const float c = f * c_prev[j] + i * g;
    c_next[j] = c;
    h_next[j] = o * tanh(c);
    z[j] = i, z[H + j] = f, z[2 * H + j] = g, z[3 * H + j] = o;
  }
}

// Portable forward: one Eigen GEMM per step, then the gate math row by row.
//   out   (T+1, B, H): h_1..h_T, then c_T
//   gates (T, B, 4H) activated; c (T+1, B, H) with c_0 in row 0
// Without keep_all (nothing to save for a backward pass): gates (1, B, 4H)
// and c (2, B, H), with c_t in row t % 2.
inline void forward_portable(const Dims& d, const lstm_kernels::InputRows& input, const float* h0, const float* w_hh,
                             float* out, float* gates, float* c, bool keep_all) {
  const std::int64_t B = d.B, H = d.H, G = 4 * d.H;
  const ConstMatrixMap W_hh(w_hh, G, H);  // (4H, H)
  for (std::int64_t t = 0; t < d.T; ++t) {
    const float* h_prev = t == 0 ? h0 : out + (t - 1) * B * H;  // (B, H) or null = zeros
    float* z = gates + (keep_all ? t : 0) * B * G;              // (B, 4H)
    if (h_prev)
      MatrixMap(z, B, G).noalias() = ConstMatrixMap(h_prev, B, H) * W_hh.transpose();
    else
      std::fill_n(z, B * G, 0.f);
    for (std::int64_t b = 0; b < B; ++b)
      gate_forward_row(z + b * G, input.row(t, b), c + ((keep_all ? t : t % 2) * B + b) * H,
                       c + ((keep_all ? t + 1 : (t + 1) % 2) * B + b) * H, out + (t * B + b) * H, H);
  }
}

// ----------------------------------------------------------- backward ----

// Portable gate backward for one row. dh = ∂L/∂h_t (H) is complete on entry;
// dc carries ∂L/∂c_t in and ∂L/∂c_{t-1} out (H); a = activated gates of the
// step (4H); dz receives ∂L/∂z_t (4H).
inline void gate_backward_row(const float* __restrict a, const float* __restrict c_prev,
                              const float* __restrict c_t, const float* __restrict dh, float* __restrict dc,
                              float* __restrict dz, std::int64_t H) {
  for (std::int64_t j = 0; j < H; ++j) {
    const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
    const float tc = lstm_kernels::tanh(c_t[j]);
    const float dct = dc[j] + dh[j] * o * (1.f - tc * tc);  // ∂L/∂c_t, through h = o·tanh(c) too
    dz[j] = dct * g * i * (1.f - i);                        // σ' = σ(1-σ)
    dz[H + j] = dct * c_prev[j] * f * (1.f - f);
    dz[2 * H + j] = dct * i * (1.f - g * g);                // tanh' = 1 - tanh²
    dz[3 * H + j] = dh[j] * tc * o * (1.f - o);
    dc[j] = dct * f;                                        // ∂L/∂c_{t-1}
  }
}

// Portable BPTT. grad_out (T+1, B, H) as the forward's output; fills
//   dz (T, B, 4H), dh0 (B, H) (when non-null), dc0 (B, H).
inline void backward_portable(const Dims& d, const float* grad_out, const float* w_hh, const float* gates,
                              const float* c, float* dz, float* dh0, float* dc0) {
  const std::int64_t B = d.B, H = d.H, G = 4 * d.H;
  const ConstMatrixMap W_hh(w_hh, G, H);                                        // (4H, H)
  std::vector<float> dh_rec(static_cast<std::size_t>(B * H), 0.f);               // (B, H): dz_{t+1}·W_hh
  std::vector<float> dh(static_cast<std::size_t>(H));                            // (H)
  std::memcpy(dc0, grad_out + d.T * B * H, sizeof(float) * static_cast<std::size_t>(B * H));  // ∂L/∂c_T
  for (std::int64_t t = d.T - 1; t >= 0; --t) {
    for (std::int64_t b = 0; b < B; ++b) {
      const float* g_out = grad_out + (t * B + b) * H;
      for (std::int64_t j = 0; j < H; ++j) dh[static_cast<std::size_t>(j)] = g_out[j] + dh_rec[static_cast<std::size_t>(b * H + j)];
      gate_backward_row(gates + (t * B + b) * G, c + (t * B + b) * H, c + ((t + 1) * B + b) * H, dh.data(), dc0 + b * H,
                        dz + (t * B + b) * G, H);
    }
    if (t > 0 || dh0)  // ∂L/∂h_{t-1} = dz_t · W_hh
      MatrixMap(dh_rec.data(), B, H).noalias() = ConstMatrixMap(dz + t * B * G, B, G) * W_hh;
  }
  if (dh0) std::memcpy(dh0, dh_rec.data(), sizeof(float) * static_cast<std::size_t>(B * H));
}

// ------------------------------------------------------ the shared core ----

// dz (T, B, 4H) is scratch of the backward closure: everything computed from it
// is computed before the closure returns. A buffer kept from call to call (one
// per thread) saves a fresh allocation - above glibc's mmap threshold, i.e. a
// page fault per 4 KB - on every training step.
inline float* dz_workspace(std::int64_t count) {
  thread_local std::vector<float> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
  return buffer.data();
}

// Whether a fused engine (AVX-512, or AVX2 on machines without it) runs this
// op, else the portable one.
inline bool fast_engine_runs(const Dims& d) {
#if LEGATO_LSTM_FAST_ENGINE || LEGATO_LSTM_AVX2_ENGINE
  return !lstm_kernels::force_portable() && lstm_kernels::fast_engine_supports(d.H);
#else
  (void)d;
  return false;
#endif
}

// Runs the forward recurrence with the fastest engine this build has.
// keep_all: save gates (T, B, 4H) and c (T+1, B, H) for the backward pass;
// otherwise gates (1, B, 4H) and c (2, B, H) are scratch (see forward_portable).
inline void run_forward(const Dims& d, const lstm_kernels::InputRows& input, const float* h0, const float* c0,
                        const float* w_hh, float* out, float* gates, float* c, bool keep_all) {
  // c (T+1, B, H): row 0 is c_0, zeros when undefined.
  if (c0)
    std::memcpy(c, c0, sizeof(float) * static_cast<std::size_t>(d.B * d.H));
  else
    std::fill_n(c, d.B * d.H, 0.f);
#if LEGATO_LSTM_FAST_ENGINE || LEGATO_LSTM_AVX2_ENGINE
  if (fast_engine_runs(d))
    lstm_kernels::forward_sequence(d.T, d.B, d.H, input, h0, w_hh, out, gates, c, keep_all, d.bf16);
  else
#endif
    forward_portable(d, input, h0, w_hh, out, gates, c, keep_all);
  const float* c_T = c + (keep_all ? d.T : d.T % 2) * d.B * d.H;
  std::memcpy(out + d.T * d.B * d.H, c_T, sizeof(float) * static_cast<std::size_t>(d.B * d.H));
}

// Runs BPTT with the fastest engine this build has and fills `grads`
// (lstm_kernels::BackwardOut: dz, dc0, and on request dh0, db, dW_ihᵀ). The
// fused engines sum db and scatter dW_ihᵀ inside their epilogue, while dz is
// still in cache; the portable one does it in two passes afterwards.
inline void run_backward(const Dims& d, const float* grad_out, const float* w_hh, const float* gates,
                         const float* c, const lstm_kernels::BackwardOut& grads) {
#if LEGATO_LSTM_FAST_ENGINE || LEGATO_LSTM_AVX2_ENGINE
  if (fast_engine_runs(d))
    return lstm_kernels::backward_sequence(d.T, d.B, d.H, grad_out, w_hh, gates, c, grads, d.bf16);
#endif
  backward_portable(d, grad_out, w_hh, gates, c, grads.dz, grads.dh0, grads.dc0);
  const std::int64_t rows = d.T * d.B, G = 4 * d.H;
  if (grads.db)  // db (4H) = column sums of dz (T·B, 4H)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t k = 0; k < G; ++k) grads.db[k] += grads.dz[r * G + k];
  if (grads.dw_ih_t)  // dW_ihᵀ[v] += dz row of every step with v among its ids
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t q = 0; q < grads.ids_per_row; ++q) {
        float* w = grads.dw_ih_t + std::int64_t(grads.ids[r * grads.ids_per_row + q]) * G;
        for (std::int64_t k = 0; k < G; ++k) w[k] += grads.dz[r * G + k];
      }
}

// With the bf16 engine and an even B, the backward writes dz straight in the
// pair layout of dW_hh's GEMM (lstm_kernels::BackwardOut::dz_words) instead
// of in float: a buffer kept from call to call, like dz_workspace. Null when
// that path does not apply.
// Tests turn the path off to compare it with converting a float dz.
inline bool& dz_words_enabled() {
  static bool enabled = true;
  return enabled;
}
inline std::uint32_t* dz_words_workspace(const Dims& d) {
#if LEGATO_LSTM_FAST_ENGINE && LEGATO_HAVE_BF16
  if (!dz_words_enabled() || !fast_engine_runs(d) || !d.bf16 || d.B % 2 != 0) return nullptr;
  thread_local std::vector<std::uint32_t> buffer;
  const std::int64_t count = gemm_avx512::a_words(4 * d.H, d.T * d.B / 2);
  if (static_cast<std::int64_t>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
  return buffer.data();
#else
  (void)d;
  return nullptr;
#endif
}

// dW_hh (4H, H) = Σ_t dz_tᵀ h_{t-1}, as one GEMM over the T·B rows: the rows
// h_1..h_{T-1} are rows 0..T-2 of the forward's output, h_0 is the input.
// dz is float (T, B, 4H), or null when dz_words (see dz_words_workspace) holds it.
inline Tensor recurrent_weight_grad(const Dims& d, const float* dz, const std::uint32_t* dz_words, const float* out,
                                    const float* h0) {
  const std::int64_t B = d.B, H = d.H, G = 4 * d.H;
  Tensor dW = Tensor::empty({G, H});
#if LEGATO_LSTM_FAST_ENGINE && LEGATO_HAVE_BF16
  if (dz_words) {  // pairs B/2.. are the rows of steps 1..T-1, pairs 0..B/2-1 those of step 0
    const std::int64_t pairs = d.T * B / 2;
    gemm_avx512::gemm_at_b_bf16_pairs(dz_words + (B / 2) * gemm_avx512::kBlockCols, pairs, out, H, dW.data(), H, G,
                                      H, (d.T - 1) * B, /*accumulate=*/false);
    if (h0) gemm_avx512::gemm_at_b_bf16_pairs(dz_words, pairs, h0, H, dW.data(), H, G, H, B, /*accumulate=*/true);
    return dW;
  }
#else
  (void)dz_words;
#endif
#if LEGATO_LSTM_FAST_ENGINE
  if (fast_engine_runs(d)) {
    // (4H, (T-1)·B) · ((T-1)·B, H) with the packed AVX-512 GEMM, then h_0's rows;
    // in bf16 products when the matmul precision says so (ops/bf16.hpp).
    auto gemm = gemm_avx512::gemm_at_b;
#if LEGATO_HAVE_BF16
    if (d.bf16) gemm = gemm_avx512::gemm_at_b_bf16;
#endif
    gemm(dz + B * G, G, out, H, dW.data(), H, G, H, (d.T - 1) * B, /*accumulate=*/false);
    if (h0) gemm(dz, G, h0, H, dW.data(), H, G, H, B, /*accumulate=*/true);
    return dW;
  }
#endif
  MatrixMap dw(dW.data(), G, H);
  if (d.T > 1)  // (4H, (T-1)·B) · ((T-1)·B, H)
    dw.noalias() = ConstMatrixMap(dz + B * G, (d.T - 1) * B, G).transpose() * ConstMatrixMap(out, (d.T - 1) * B, H);
  else
    dw.setZero();
  if (h0) dw.noalias() += ConstMatrixMap(dz, B, G).transpose() * ConstMatrixMap(h0, B, H);
  return dW;
}

}  // namespace lstm_detail

// ------------------------------------------------------------- dense input ----

// x (T, B, I); h0, c0 (B, H) or undefined (= zeros); w_ih (4H, I), w_hh (4H, H),
// b_ih, b_hh (4H). Returns (T+1, B, H): h_1..h_T, then c_T.
inline Tensor lstm_sequence(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                            const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  using namespace lstm_detail;
  constexpr const char* op = "lstm_sequence";
  check_cpu_tensor(x, op, "x");
  check(x.dim() == 3, op, ": x of shape ", shape_str(x.shape()), " is not (T, B, I)");
  const Dims d = check_args(op, x.size(0), x.size(1), x.size(2), "x", x.shape(), h0, c0, w_ih, w_hh, b_ih, b_hh);
  const std::int64_t T = d.T, B = d.B, I = d.I, H = d.H, G = 4 * d.H;

  // The input projection of every step as one GEMM, both biases folded in.
  Tensor xw = Tensor::empty({T, B, G});  // (T, B, 4H) = x·W_ihᵀ + b_ih + b_hh
  {
    MatrixMap XW(xw.data(), T * B, G);
    XW.noalias() = ConstMatrixMap(x.data(), T * B, I) * ConstMatrixMap(w_ih.data(), G, I).transpose();
    const Eigen::Map<const Eigen::RowVectorXf> bi(b_ih.data(), G), bh(b_hh.data(), G);
    XW.rowwise() += bi + bh;
  }
  lstm_kernels::InputRows input;
  input.xw = xw.data();
  input.B = B;
  input.G = G;

  // Saved for backward: activated i, f, g, o (T, B, 4H) and c_0..c_T (T+1, B, H).
  // With no graph to record, one step of each is scratch.
  const bool keep = needs_grad({x, h0, c0, w_ih, w_hh, b_ih, b_hh});
  Tensor out = Tensor::empty({T + 1, B, H});
  Tensor gates = Tensor::empty({keep ? T : 1, B, G});
  Tensor c = Tensor::empty({keep ? T + 1 : 2, B, H});
  run_forward(d, input, h0.defined() ? h0.data() : nullptr, c0.defined() ? c0.data() : nullptr, w_hh.data(),
              out.data(), gates.data(), c.data(), keep);

  // Inputs: x, h0, c0, w_ih, w_hh, b_ih, b_hh. The closure keeps the saved
  // buffers (no graph tensors) and reads x, h0 and the weights from `in`.
  record(out, op, {x, h0, c0, w_ih, w_hh, b_ih, b_hh},
         [d, gates, c](const Inputs& in, const Tensor& out, const Tensor& grad_out) {
           const std::int64_t T = d.T, B = d.B, I = d.I, H = d.H, G = 4 * d.H;
           const bool want_h0 = in[1].defined() && in[1].requires_grad();
           const bool want_b = in[5].requires_grad() || in[6].requires_grad();
           float* dz = dz_workspace(T * B * G);  // (T, B, 4H) = ∂L/∂z_t
           Tensor dh0 = want_h0 ? Tensor::empty({B, H}) : Tensor();
           Tensor dc0 = Tensor::empty({B, H});
           Tensor db = want_b ? Tensor::zeros({G}) : Tensor();  // b_ih and b_hh get the same gradient
           lstm_kernels::BackwardOut out_grads{dz, want_h0 ? dh0.data() : nullptr, dc0.data(),
                                               want_b ? db.data() : nullptr, nullptr, nullptr};
           run_backward(d, grad_out.data(), in[4].data(), gates.data(), c.data(), out_grads);

           Grads grads(7);
           const ConstMatrixMap DZ(dz, T * B, G);  // (T·B, 4H)
           if (in[0].requires_grad()) {                   // dx (T·B, I) = dz · W_ih
             grads[0] = Tensor::empty(in[0].shape());
             MatrixMap(grads[0].data(), T * B, I).noalias() = DZ * ConstMatrixMap(in[3].data(), G, I);
           }
           grads[1] = dh0;
           if (in[2].defined() && in[2].requires_grad()) grads[2] = dc0;
           if (in[3].requires_grad()) {  // dW_ih (4H, I) = dzᵀ · x
             grads[3] = Tensor::empty({G, I});
             MatrixMap(grads[3].data(), G, I).noalias() = DZ.transpose() * ConstMatrixMap(in[0].data(), T * B, I);
           }
           if (in[4].requires_grad())
             grads[4] = recurrent_weight_grad(d, dz, nullptr, out.data(), in[1].defined() ? in[1].data() : nullptr);
           grads[5] = db;
           grads[6] = db;
           return grads;
         });
  return out;
}

// ----------------------------------------------------------- token ids ----

// ids (T, B) with values in [0, V); w_ih (4H, V). Same as lstm_sequence with
// x = one_hot(ids, V), but the input projection gathers columns of W_ih and
// dW_ih is a scatter-add; ids get no gradient. Returns (T+1, B, H).
//
// ids (T, B, K): the input of step (t, b) is the sum of K one-hot rows, x =
// Σ_q one_hot(ids[t, b, q], V). With the K ids in disjoint ranges of V this
// is K one-hot features side by side (melody_lstm: a token, its position in
// the bar and the bar's length), and the input projection sums K columns.
inline Tensor lstm_sequence_ids(const Ids& ids, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                                const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  using namespace lstm_detail;
  constexpr const char* op = "lstm_sequence_ids";
  check(ids.shape.size() == 2 || (ids.shape.size() == 3 && ids.shape[2] >= 1), op, ": ids of shape ",
        shape_str(ids.shape), " are not (T, B) or (T, B, K)");
  check(static_cast<std::int64_t>(ids.values.size()) == numel_of(ids.shape), op, ": ids of shape ",
        shape_str(ids.shape), " hold ", ids.values.size(), " values");
  check(w_ih.defined() && w_ih.dim() == 2, op, ": w_ih must be (4H, V)");
  const std::int64_t V = w_ih.size(1);
  const std::int64_t K = ids.shape.size() == 3 ? ids.shape[2] : 1;  // ids per (t, b)
  const Dims d = check_args(op, ids.shape[0], ids.shape[1], V, "ids (one-hot over V = w_ih.size(1))", ids.shape, h0,
                            c0, w_ih, w_hh, b_ih, b_hh);
  const std::int64_t T = d.T, B = d.B, H = d.H, G = 4 * d.H;
  for (std::int64_t k = 0; k < T * B * K; ++k) {
    const std::int32_t id = ids.values[static_cast<std::size_t>(k)];
    if (id >= 0 && id < V) continue;  // the message is built only on failure: this loop runs per id
    fail(op, ": token id ", id, " at (t=", k / K / B, ", b=", k / K % B,
         K > 1 ? legato::detail::concat(", k=", k % K) : std::string(), ") is outside [0, ", V,
         ") for w_ih of shape ", shape_str(w_ih.shape()));
  }

  // One-hot row v times W_ihᵀ is column v of W_ih: a table (V, 4H) = W_ihᵀ + b_ih + b_hh.
  // With K > 1 ids per row, W_ihᵀ (V, 4H) itself too, for the ids after the first.
  Tensor table = Tensor::empty({V, G}), w_ih_t = K > 1 ? Tensor::empty({V, G}) : Tensor();
  {
    MatrixMap tab(table.data(), V, G);
    const Eigen::Map<const Eigen::RowVectorXf> bi(b_ih.data(), G), bh(b_hh.data(), G);
    if (K > 1) {
      transpose_into(w_ih.data(), G, V, w_ih_t.data());
      tab = MatrixMap(w_ih_t.data(), V, G).rowwise() + (bi + bh);
    } else {
      transpose_into(w_ih.data(), G, V, table.data());
      tab.rowwise() += bi + bh;
    }
  }
  lstm_kernels::InputRows input;
  input.B = B;
  input.G = G;
  input.table = table.data();
  input.ids = ids.values.data();
  input.ids_per_row = K;
  Tensor xw;  // K > 1 on the portable engine: the summed rows (T, B, 4H)
  if (K > 1) {
    input.w_ih_t = w_ih_t.data();
    if (!fast_engine_runs(d)) {  // the fused engines sum the rows themselves, in the same order
      xw = Tensor::empty({T, B, G});
      lstm_kernels::multi_hot_rows(ids.values.data(), T * B, K, table.data(), w_ih_t.data(), G, xw.data());
      input.xw = xw.data();
    }
  }

  const bool keep = needs_grad({h0, c0, w_ih, w_hh, b_ih, b_hh});  // see lstm_sequence
  Tensor out = Tensor::empty({T + 1, B, H});
  Tensor gates = Tensor::empty({keep ? T : 1, B, G});
  Tensor c = Tensor::empty({keep ? T + 1 : 2, B, H});
  run_forward(d, input, h0.defined() ? h0.data() : nullptr, c0.defined() ? c0.data() : nullptr, w_hh.data(),
              out.data(), gates.data(), c.data(), keep);

  // Inputs: h0, c0, w_ih, w_hh, b_ih, b_hh. The ids are copied into the closure (plain values).
  record(out, op, {h0, c0, w_ih, w_hh, b_ih, b_hh},
         [d, K, gates, c, ids = ids.values](const Inputs& in, const Tensor& out, const Tensor& grad_out) {
           const std::int64_t T = d.T, B = d.B, V = d.I, H = d.H, G = 4 * d.H;
           const bool want_h0 = in[0].defined() && in[0].requires_grad();
           const bool want_w = in[2].requires_grad(), want_b = in[4].requires_grad() || in[5].requires_grad();
           // dz (T, B, 4H) = ∂L/∂z_t in float, or (bf16 engine) only in dW_hh's pair layout.
           std::uint32_t* dz_words = in[3].requires_grad() ? dz_words_workspace(d) : nullptr;
           float* dz = dz_words ? nullptr : dz_workspace(T * B * G);
           Tensor dh0 = want_h0 ? Tensor::empty({B, H}) : Tensor();
           Tensor dc0 = Tensor::empty({B, H});
           Tensor db = want_b ? Tensor::zeros({G}) : Tensor();
           // dW_ih[:, v] = Σ of the dz rows of every step whose token is v: a
           // scatter-add of rows into dW_ihᵀ (V, 4H), then one transpose.
           Tensor dwt = want_w ? Tensor::zeros({V, G}) : Tensor();
           lstm_kernels::BackwardOut out_grads{dz, want_h0 ? dh0.data() : nullptr, dc0.data(),
                                               want_b ? db.data() : nullptr, want_w ? dwt.data() : nullptr,
                                               ids.data(), dz_words, K};
           run_backward(d, grad_out.data(), in[3].data(), gates.data(), c.data(), out_grads);

           Grads grads(6);
           grads[0] = dh0;
           if (in[1].defined() && in[1].requires_grad()) grads[1] = dc0;
           if (want_w) {
             grads[2] = Tensor::empty({G, V});
             transpose_into(dwt.data(), V, G, grads[2].data());
           }
           if (in[3].requires_grad())
             grads[3] = recurrent_weight_grad(d, dz, dz_words, out.data(), in[0].defined() ? in[0].data() : nullptr);
           grads[4] = db;
           grads[5] = db;
           return grads;
         });
  return out;
}

// ------------------------------------------------------------ reference ----

// Plain loops in double, no autograd: the definition the tests hold the fused
// op to. Same arguments and packed result (T+1, B, H) as lstm_sequence.
inline Tensor lstm_sequence_ref(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih,
                                const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  check(x.dim() == 3, "lstm_sequence_ref: x of shape ", shape_str(x.shape()), " is not (T, B, I)");
  const auto d = lstm_detail::check_args("lstm_sequence_ref", x.size(0), x.size(1), x.size(2), "x", x.shape(), h0, c0,
                                         w_ih, w_hh, b_ih, b_hh);
  const std::int64_t T = d.T, B = d.B, I = d.I, H = d.H;
  std::vector<double> h(static_cast<std::size_t>(B * H), 0.0), c(h), z(static_cast<std::size_t>(4 * H));
  for (std::int64_t k = 0; k < B * H; ++k) {
    if (h0.defined()) h[static_cast<std::size_t>(k)] = h0.data()[k];
    if (c0.defined()) c[static_cast<std::size_t>(k)] = c0.data()[k];
  }
  auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  Tensor out = Tensor::empty({T + 1, B, H});
  for (std::int64_t t = 0; t < T; ++t) {
    std::vector<double> h_next(h.size());
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t r = 0; r < 4 * H; ++r) {
        double acc = double(b_ih.data()[r]) + b_hh.data()[r];
        for (std::int64_t k = 0; k < I; ++k) acc += double(w_ih.data()[r * I + k]) * x.data()[(t * B + b) * I + k];
        for (std::int64_t k = 0; k < H; ++k) acc += double(w_hh.data()[r * H + k]) * h[static_cast<std::size_t>(b * H + k)];
        z[static_cast<std::size_t>(r)] = acc;
      }
      for (std::int64_t j = 0; j < H; ++j) {
        const auto u = static_cast<std::size_t>(j), n = static_cast<std::size_t>(H);
        const double i = sigmoid(z[u]), f = sigmoid(z[u + n]), g = std::tanh(z[u + 2 * n]), o = sigmoid(z[u + 3 * n]);
        double& cell = c[static_cast<std::size_t>(b * H + j)];
        cell = f * cell + i * g;
        h_next[static_cast<std::size_t>(b * H + j)] = o * std::tanh(cell);
      }
    }
    h = h_next;
    for (std::int64_t k = 0; k < B * H; ++k) out.data()[t * B * H + k] = static_cast<float>(h[static_cast<std::size_t>(k)]);
  }
  for (std::int64_t k = 0; k < B * H; ++k) out.data()[T * B * H + k] = static_cast<float>(c[static_cast<std::size_t>(k)]);
  return out;
}

}  // namespace legato
