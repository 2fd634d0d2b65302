#pragma once
// Incremental LSTM inference: one step at a time, no autograd, O(1) per token.
// Generation carries the state (h, c) from token to token instead of
// re-running a window of 64 steps for every new token (the seed's method).
//
//   LstmInferLayer layer(w_ih, w_hh, b_ih, b_hh);   // a snapshot of the weights
//   std::vector<float> h(H), c(H);                  // zeros = the start state
//   layer.step_ids(&token, 1, h.data(), c.data());  // h, c now after `token`
//   head.logits(h.data(), logits.data());           // Linear head, B = 1
//   token = sample_logits(logits.data(), V, 0.7f, rng);
//
// The step computes exactly the forward of ops/lstm.hpp for one time step:
//   z = W_ih x + b_ih + b_hh + W_hh h    (4H), gates i, f, g, o
//   c = σ(f)·c + σ(i)·tanh(g),  h = σ(o)·tanh(c)
// with the token-id input as a row lookup in a table (V, 4H) = W_ihᵀ + b_ih + b_hh.
//
// Precision: a layer built under MatmulPrecision::bf16 (ops/bf16.hpp) keeps
// W_hh in bf16 and rounds h to bf16 for the recurrent product, summing in
// float, exactly as the training engine's bf16 forward does; the gates, c
// and the input table stay float. Half the bytes of W_hh then fit one core's
// L2 at H = 256, so one thread is as fast as two are in fp32.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "legato/ops/bf16.hpp"
#include "legato/ops/lstm_kernels.hpp"
#include "legato/ops/lstm_kernels_avx2.hpp"
#include "legato/tensor.hpp"
#include "legato/util/random.hpp"

namespace legato {

class LstmInferLayer {
 public:
  // w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H). The weights are copied: build
  // the layer after training or loading, and rebuild it if they change.
  // `precision` bf16 takes effect where the AVX-512 engine supports H (as in
  // training); elsewhere the step is float.
  LstmInferLayer(const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                 MatmulPrecision precision = matmul_precision()) {
    check(precision == MatmulPrecision::fp32 || bf16_supported(),
          "LstmInferLayer: bf16 needs a CPU with AVX512_BF16 and a build for it (-march=native on one)");
    check(w_hh.defined() && w_hh.dim() == 2 && w_hh.size(1) > 0 && w_hh.size(0) == 4 * w_hh.size(1),
          "LstmInferLayer: w_hh of shape ", w_hh.defined() ? shape_str(w_hh.shape()) : "undefined", " is not (4H, H)");
    H_ = w_hh.size(1);
    const std::int64_t G = 4 * H_;
    check(w_ih.defined() && w_ih.dim() == 2 && w_ih.size(0) == G, "LstmInferLayer: w_ih of shape ",
          w_ih.defined() ? shape_str(w_ih.shape()) : "undefined", " does not match w_hh of shape ",
          shape_str(w_hh.shape()), "; expected (", G, ", I)");
    for (const Tensor* b : {&b_ih, &b_hh})
      check(b->defined() && b->shape() == Shape{G}, "LstmInferLayer: bias of shape ",
            b->defined() ? shape_str(b->shape()) : "undefined", " does not match w_hh of shape ",
            shape_str(w_hh.shape()), "; expected (", G, ",)");
    I_ = w_ih.size(1);
    w_ih_.assign(w_ih.data(), w_ih.data() + G * I_);
    w_hh_.assign(w_hh.data(), w_hh.data() + G * H_);
    bias_.resize(static_cast<std::size_t>(G));
    table_.resize(static_cast<std::size_t>(I_ * G));  // (I, 4H): for token ids, I = V
    for (std::int64_t k = 0; k < G; ++k) bias_[std::size_t(k)] = b_ih.data()[k] + b_hh.data()[k];
    for (std::int64_t v = 0; v < I_; ++v)
      for (std::int64_t k = 0; k < G; ++k) table_[std::size_t(v * G + k)] = w_ih.data()[k * I_ + v] + bias_[std::size_t(k)];
    z_.resize(static_cast<std::size_t>(G));
    h_next_.resize(static_cast<std::size_t>(H_));
#if LEGATO_LSTM_FAST_ENGINE
    if (lstm_kernels::fast_engine_supports(H_)) {
      // The training engine's forward panels (16 units × 4 gates), then
      // interleaved by groups of four: for each k (each pair of k in bf16),
      // the 4 × 64 words of a group are adjacent, so the matrix-vector loop
      // reads one contiguous stream. A word is a float, or two bf16.
      bf16_ = LEGATO_HAVE_BF16 && precision == MatmulPrecision::bf16;
      const std::int64_t K = bf16_ ? H_ / 2 : H_;  // words per panel column
      std::vector<std::uint32_t> panels(static_cast<std::size_t>(H_ / 16 * K * 64));
      for (std::int64_t p = 0; p < H_ / 16; ++p) pack_panel(w_hh.data(), p, panels.data() + p * K * 64);
      packed_.resize(panels.size());
      for (std::int64_t p0 = 0; p0 < H_ / 16; p0 += 4) {
        const std::int64_t count = std::min<std::int64_t>(4, H_ / 16 - p0);
        for (std::int64_t k = 0; k < K; ++k)
          for (std::int64_t q = 0; q < count; ++q)
            std::copy_n(panels.data() + (p0 + q) * K * 64 + k * 64, 64,
                        packed_.data() + p0 * K * 64 + k * 64 * count + q * 64);
      }
      h_words_.resize(static_cast<std::size_t>(H_ / 2));
    }
#elif LEGATO_LSTM_AVX2_ENGINE
    if (lstm_kernels::fast_engine_supports(H_)) {  // the AVX2 training engine's forward panels, one after the other
      packed_fp32_.resize(static_cast<std::size_t>(4 * H_ * H_));
      for (std::int64_t p = 0; p < H_ / 8; ++p)
        lstm_kernels::avx2::pack_forward_panel(w_hh.data(), H_, p, packed_fp32_.data() + p * H_ * 32);
    }
#endif
  }

  std::int64_t input_size() const { return I_; }
  std::int64_t hidden_size() const { return H_; }
  // Whether the recurrent product runs in bf16 (see the top of the file).
  bool bf16() const { return bf16_; }

  // One step for B rows with token ids (B) in [0, I): h, c (B, H) in place.
  void step_ids(const std::int32_t* ids, std::int64_t B, float* h, float* c) {
    for (std::int64_t b = 0; b < B; ++b) {
      check(ids[b] >= 0 && ids[b] < I_, "LstmInferLayer::step_ids: token id ", ids[b], " at row ", b,
            " is outside [0, ", I_, ")");
      step_row(table_.data() + std::int64_t(ids[b]) * 4 * H_, nullptr, h + b * H_, c + b * H_);
    }
  }

  // One step for B rows whose input is the sum of K one-hot rows, ids (B, K)
  // in [0, I) (ops/lstm.hpp, lstm_sequence_ids with ids (T, B, K)): the input
  // term is the table row of the first id plus the W_ih columns of the others,
  // summed in the training op's order. h, c (B, H) in place.
  void step_multi_hot(const std::int32_t* ids, std::int64_t K, std::int64_t B, float* h, float* c) {
    check(K >= 1, "LstmInferLayer::step_multi_hot: K = ", K, " ids per row");
    const std::int64_t G = 4 * H_;
    if (K > 1 && w_ih_t_.empty()) {  // (I, 4H) = W_ihᵀ, for the ids after the first; built on first use
      w_ih_t_.resize(static_cast<std::size_t>(I_ * G));
      for (std::int64_t v = 0; v < I_; ++v)
        for (std::int64_t k = 0; k < G; ++k) w_ih_t_[std::size_t(v * G + k)] = w_ih_[std::size_t(k * I_ + v)];
    }
    multi_hot_.resize(static_cast<std::size_t>(G));
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t q = 0; q < K; ++q)
        check(ids[b * K + q] >= 0 && ids[b * K + q] < I_, "LstmInferLayer::step_multi_hot: id ", ids[b * K + q],
              " at row ", b, ", position ", q, " is outside [0, ", I_, ")");
      lstm_kernels::multi_hot_rows(ids + b * K, 1, K, table_.data(), w_ih_t_.data(), G, multi_hot_.data());
      step_row(multi_hot_.data(), nullptr, h + b * H_, c + b * H_);
    }
  }

  // One step for B rows with dense input x (B, I): h, c (B, H) in place.
  void step(const float* x, std::int64_t B, float* h, float* c) {
    for (std::int64_t b = 0; b < B; ++b) step_row(bias_.data(), x + b * I_, h + b * H_, c + b * H_);
  }

 private:
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  // z (4H) = base + W_ih x (if x) + W_hh h, then the gate math; h, c in place.
  void step_row(const float* base, const float* x, float* h, float* c) {
    const std::int64_t H = H_, G = 4 * H_;
    const float* in = base;  // (4H): everything but W_hh h
    if (x) {
      Eigen::Map<Eigen::VectorXf> z(z_.data(), G);
      z = Eigen::Map<const Eigen::VectorXf>(base, G);
      z.noalias() += Eigen::Map<const RowMatrix>(w_ih_.data(), G, I_) * Eigen::Map<const Eigen::VectorXf>(x, I_);
      in = z_.data();
    }
#if LEGATO_LSTM_FAST_ENGINE
    if (!packed_.empty()) return step_row_avx512(in, h, c);
#elif LEGATO_LSTM_AVX2_ENGINE
    if (!packed_fp32_.empty()) return step_row_avx2(in, h, c);
#endif
    // Portable: z = in + W_hh h as an Eigen matrix-vector product, then the gates.
    std::vector<float> z(in, in + G);
    Eigen::Map<Eigen::VectorXf>(z.data(), G).noalias() +=
        Eigen::Map<const RowMatrix>(w_hh_.data(), G, H) * Eigen::Map<const Eigen::VectorXf>(h, H);
    for (std::int64_t j = 0; j < H; ++j) {
      const float i = lstm_kernels::sigmoid(z[std::size_t(j)]), f = lstm_kernels::sigmoid(z[std::size_t(H + j)]);
      const float g = lstm_kernels::tanh(z[std::size_t(2 * H + j)]), o = lstm_kernels::sigmoid(z[std::size_t(3 * H + j)]);
      c[j] = f * c[j] + i * g;
      h[j] = o * lstm_kernels::tanh(c[j]);
    }
  }

#if LEGATO_LSTM_FAST_ENGINE
  // Panel p of W_hh as the training engine packs it, in words (a float, or a
  // pair of bf16 along k).
  void pack_panel(const float* w_hh, std::int64_t p, std::uint32_t* panel) const {
#if LEGATO_HAVE_BF16
    if (bf16_) return lstm_kernels::avx512::pack_forward_panel(w_hh, H_, p, panel);
#endif
    lstm_kernels::avx512::pack_forward_panel(w_hh, H_, p, reinterpret_cast<float*>(panel));
  }

  // W_hh h over the packed panels, four panels (16 accumulators, enough
  // independent FMA chains to keep the unit busy) at a time, each followed by
  // the gate math of its 16 units. The threads split the panels, always the
  // same way, so that each core keeps its share of W_hh in its own L2 from
  // token to token (in fp32 at H = 256 one core's L2 cannot hold all of W_hh
  // and the rest). h is read whole before any of it changes: the new h goes
  // to a scratch row first.
  void step_row_avx512(const float* in, float* h, float* c) {
    const std::int64_t panels = H_ / 16;
#if LEGATO_HAVE_BF16
    if (bf16_) bf16::convert(h, reinterpret_cast<std::uint16_t*>(h_words_.data()), H_);
#endif
#pragma omp parallel if (panels >= 8)
    {
      std::int64_t p_begin, p_end;
      my_share(panels, p_begin, p_end);
      gate_panels(in, h, c, p_begin, p_end);
    }
    std::copy(h_next_.begin(), h_next_.end(), h);
  }

  void gate_panels(const float* in, const float* h, float* c, std::int64_t p_begin, std::int64_t p_end) {
    const std::int64_t K = bf16_ ? H_ / 2 : H_;
    if (p_begin >= p_end) return;  // more threads than panels: nothing for this one
    // Groups of four panels start at multiples of 4 (the packing's groups); a
    // thread's range may start or end inside one, so it takes the panels of
    // each group that fall in [p_begin, p_end): 1 to 4 of them.
    for (std::int64_t g0 = p_begin / 4 * 4; g0 < p_end; g0 += 4) {
      const std::int64_t group = std::min<std::int64_t>(4, H_ / 16 - g0);  // panels in the packed group
      const std::int64_t p0 = std::max(g0, p_begin);
      const std::uint32_t* base = packed_.data() + g0 * K * 64 + (p0 - g0) * 64;
      switch (std::min(g0 + group, p_end) - p0) {  // a constant count keeps the accumulators in registers
        case 4: panel_run<4>(in, h, c, base, group, p0); break;
        case 3: panel_run<3>(in, h, c, base, group, p0); break;
        case 2: panel_run<2>(in, h, c, base, group, p0); break;
        case 1: panel_run<1>(in, h, c, base, group, p0); break;
      }
    }
  }

  // Panels p0 … p0 + Count - 1, read from `base` with a stride of `group`
  // panels (64·group words) per k, or per pair of k in bf16: z = in + W_hh h
  // for their 16·Count units, then the gates.
  template <int Count>
  void panel_run(const float* in, const float* h, float* c, const std::uint32_t* base, std::int64_t group,
                 std::int64_t p0) {
    using namespace lstm_kernels::avx512;
    const std::int64_t H = H_;
    __m512 acc[Count][4];
    for (int q = 0; q < Count; ++q)
      for (int v = 0; v < 4; ++v) acc[q][v] = _mm512_setzero_ps();
    if (!bf16_) {
      for (std::int64_t k = 0; k < H; ++k) {
        const __m512 hk = _mm512_set1_ps(h[k]);
        const float* w = reinterpret_cast<const float*>(base + k * 64 * group);
        for (int q = 0; q < Count; ++q)
          for (int v = 0; v < 4; ++v) acc[q][v] = _mm512_fmadd_ps(hk, load(w + 64 * q + 16 * v), acc[q][v]);
      }
    }
#if LEGATO_HAVE_BF16
    if (bf16_) {  // one vdpbf16ps takes two k at once: the pair (h[2kk], h[2kk+1])
      for (std::int64_t kk = 0; kk < H / 2; ++kk) {
        const __m512i hk = _mm512_set1_epi32(static_cast<int>(h_words_[static_cast<std::size_t>(kk)]));
        const std::uint32_t* w = base + kk * 64 * group;
        for (int q = 0; q < Count; ++q)
          for (int v = 0; v < 4; ++v)
            acc[q][v] = bf16::dot_pairs(acc[q][v], _mm512_loadu_si512(w + 64 * q + 16 * v), hk);
      }
    }
#endif
    for (int q = 0; q < Count; ++q) {
      const std::int64_t j = 16 * (p0 + q);
      const __m512 i = sigmoid16(_mm512_add_ps(acc[q][0], load(in + j)));
      const __m512 f = sigmoid16(_mm512_add_ps(acc[q][1], load(in + H + j)));
      const __m512 g = tanh16(_mm512_add_ps(acc[q][2], load(in + 2 * H + j)));
      const __m512 o = sigmoid16(_mm512_add_ps(acc[q][3], load(in + 3 * H + j)));
      const __m512 cell = _mm512_fmadd_ps(f, load(c + j), _mm512_mul_ps(i, g));
      store(c + j, cell);
      store(h_next_.data() + j, _mm512_mul_ps(o, tanh16(cell)));
    }
  }
#endif

#if LEGATO_LSTM_AVX2_ENGINE
  // The AVX2 version of step_row_avx512, in fp32: panels of 8 units × 4 gates
  // (H, 32) each, three at a time (12 accumulators), each followed by the
  // gate math of its 8 units; the threads split the panels as above.
  void step_row_avx2(const float* in, float* h, float* c) {
    const std::int64_t panels = H_ / 8;
#pragma omp parallel if (panels >= 16)
    {
      std::int64_t p_begin, p_end;
      my_share(panels, p_begin, p_end);
      for (std::int64_t p0 = p_begin; p0 < p_end; p0 += 3) {
        switch (std::min<std::int64_t>(3, p_end - p0)) {  // a constant count keeps the accumulators in registers
          case 3: panel_run_avx2<3>(in, h, c, p0); break;
          case 2: panel_run_avx2<2>(in, h, c, p0); break;
          case 1: panel_run_avx2<1>(in, h, c, p0); break;
        }
      }
    }
    std::copy(h_next_.begin(), h_next_.end(), h);
  }

  // Panels p0 … p0 + Count - 1: z = in + W_hh h for their 8·Count units, then the gates.
  template <int Count>
  void panel_run_avx2(const float* in, const float* h, float* c, std::int64_t p0) {
    using namespace lstm_kernels::avx2;
    const std::int64_t H = H_;
    const float* panel = packed_fp32_.data() + p0 * H * 32;
    __m256 acc[Count][4];
#pragma GCC unroll 4
    for (int q = 0; q < Count; ++q)
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[q][v] = _mm256_setzero_ps();
    for (std::int64_t k = 0; k < H; ++k) {
      const __m256 hk = _mm256_broadcast_ss(h + k);
#pragma GCC unroll 4
      for (int q = 0; q < Count; ++q)
#pragma GCC unroll 4
        for (int v = 0; v < 4; ++v) acc[q][v] = _mm256_fmadd_ps(hk, load(panel + q * H * 32 + k * 32 + 8 * v), acc[q][v]);
    }
#pragma GCC unroll 4
    for (int q = 0; q < Count; ++q) {
      const std::int64_t j = 8 * (p0 + q);
      const __m256 i = sigmoid8(_mm256_add_ps(acc[q][0], load(in + j)));
      const __m256 f = sigmoid8(_mm256_add_ps(acc[q][1], load(in + H + j)));
      const __m256 g = tanh8(_mm256_add_ps(acc[q][2], load(in + 2 * H + j)));
      const __m256 o = sigmoid8(_mm256_add_ps(acc[q][3], load(in + 3 * H + j)));
      const __m256 cell = _mm256_fmadd_ps(f, load(c + j), _mm256_mul_ps(i, g));
      store(c + j, cell);
      store(h_next_.data() + j, _mm256_mul_ps(o, tanh8(cell)));
    }
  }
#endif

  std::int64_t I_ = 0, H_ = 0;
  std::vector<float> w_ih_, w_hh_;  // (4H, I), (4H, H)
  std::vector<float> bias_;         // (4H) = b_ih + b_hh
  std::vector<float> table_;        // (I, 4H) = W_ihᵀ + b_ih + b_hh
  std::vector<float> w_ih_t_;       // (I, 4H) = W_ihᵀ, built by the first step_multi_hot with K > 1
  std::vector<float> multi_hot_;    // (4H): the input term of one multi-hot row
  std::vector<float> z_;            // (4H) scratch
  std::vector<float> h_next_;       // (H) scratch
  std::vector<std::uint32_t> packed_;  // W_hh as the AVX-512 engine's forward panels, in words (empty: portable)
  std::vector<std::uint32_t> h_words_;  // bf16 only: h rounded, two values per word (H/2)
  std::vector<float> packed_fp32_;      // AVX2 builds: W_hh as that engine's forward panels (empty: portable)
  bool bf16_ = false;
};

// A Linear head for one row without autograd: logits (V) = W h + b, W (V, H).
class LinearInfer {
 public:
  LinearInfer(const Tensor& w, const Tensor& b) {
    check(w.defined() && w.dim() == 2, "LinearInfer: weight must be (V, H)");
    check(!b.defined() || b.shape() == Shape{w.size(0)}, "LinearInfer: bias of shape ",
          b.defined() ? shape_str(b.shape()) : "", " does not match weight of shape ", shape_str(w.shape()));
    V_ = w.size(0);
    H_ = w.size(1);
    w_.assign(w.data(), w.data() + V_ * H_);
    b_.assign(static_cast<std::size_t>(V_), 0.f);
    if (b.defined()) b_.assign(b.data(), b.data() + V_);
  }
  std::int64_t out_features() const { return V_; }
  void logits(const float* h, float* out) const {
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<Eigen::VectorXf> y(out, V_);
    y = Eigen::Map<const Eigen::VectorXf>(b_.data(), V_);
    y.noalias() += Eigen::Map<const RowMatrix>(w_.data(), V_, H_) * Eigen::Map<const Eigen::VectorXf>(h, H_);
  }

 private:
  std::int64_t V_ = 0, H_ = 0;
  std::vector<float> w_, b_;
};

// Draws an index from softmax(logits / temperature) (temperature > 0) with
// one uniform draw. The largest logit is subtracted first, so the weights are
// in (0, 1] and a low temperature cannot overflow; the sum is in double. The
// difference is divided by the temperature rather than multiplied by its
// inverse, which is inf below about 3e-39 (and 0 · inf is NaN). A logit of
// -inf has weight 0 and is never drawn (a caller masks a token so).
inline std::int32_t sample_logits(const float* logits, std::int64_t V, float temperature, Rng& rng) {
  check(temperature > 0.f && std::isfinite(temperature), "sample_logits: temperature must be > 0, got ", temperature);
  check(V > 0, "sample_logits: no logits");
  constexpr float masked = -std::numeric_limits<float>::infinity();
  double top = logits[0];
  for (std::int64_t v = 1; v < V; ++v) top = std::max(top, double(logits[v]));
  check(top != double(masked), "sample_logits: every logit is -inf");
  double total = 0.0;
  thread_local std::vector<double> weights;
  weights.resize(static_cast<std::size_t>(V));
  for (std::int64_t v = 0; v < V; ++v)
    total += weights[std::size_t(v)] =
        logits[v] == masked ? 0.0 : lstm_kernels::exp_approx((logits[v] - float(top)) / temperature);
  double u = rng.uniform() * total;
  for (std::int64_t v = 0; v < V; ++v) {
    u -= weights[std::size_t(v)];
    if (u < 0.0) return static_cast<std::int32_t>(v);
  }
  // Rounding left u at ~0: the last token that can be drawn.
  std::int64_t last = V - 1;
  while (weights[std::size_t(last)] == 0.0) --last;
  return static_cast<std::int32_t>(last);
}

}  // namespace legato
