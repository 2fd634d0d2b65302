// LSTM benchmarks at the seed's shape (B=64, T=64, V=45, H=256) and at H=512,
// H=1024. The model is the melody generator's: token ids (one-hot over V) ->
// LSTM(H) -> Linear(H, V) -> softmax cross-entropy, trained with Adam.
//
//   lstm_train_last/B/T/V/H   forward, loss on the last step only (the seed's
//                             Keras model), backward, Adam update
//   lstm_train_seq/B/T/V/H    the same with the loss on every step
//   lstm_train_*_lanes/...    the same with the batch split between the threads
//                             (as melody_lstm train runs), one weight replica each
//   lstm_fwd_bwd/B/T/V/H      the LSTM alone, forward + backward (vs oneDNN's primitive)
//   lstm_fwd_bwd_onehot/...   the same through the dense entry point on one-hot rows
//   lstm_fwd_bwd_meter_bf16/... the same (bf16) with the three ids per step of
//                             melody_lstm's format-2 metric inputs (no beat)
//   lstm_fwd_bwd_lookback_bf16/... and with eight (metric with the beat, and the
//                             lookback: format 3's default; format 4's adds two
//                             repeat ids)
//   lstm_*_bf16/...           train_last, train_seq, fwd_bwd and generate_token with
//                             bf16 products and float sums in the recurrent GEMMs
//                             (ops/bf16.hpp)
//   lstm_forward/B/T/V/H      LSTM + head on every step, no graph
//   lstm_generate_token/1/1/V/H  one token at B=1: LSTM step, head, sampling
//   fma_peak                  the fp32 FMA peak of this machine (registers only)
//   bf16_dot_peak             the same for AVX512_BF16 dot products, where the CPU has them
//   sgemm_eigen/M/K/N         Eigen's GEMM, for the % of peak a library reaches
//   kernel_gemm_tile/K        the recurrent micro-kernel alone, one thread
//   gemm_at_b/M/K/N           the packed weight-gradient GEMM (dW_hh's shape),
//   gemm_at_b_bf16/M/K/N      the same GEMM in bf16 products,
//   sgemm_eigen_at_b/M/K/N    and Eigen on the same product
//
// Counters: ms/step, timesteps/s (T·B per step) and GFLOP/s, counting the
// matrix-product FLOPs actually executed (2 per multiply-add):
//   LSTM forward   2·B·4H·H·T            (the input projection is a gather: 0)
//   LSTM backward  2·B·4H·H·(T-1) for dh, 2·4H·H·B·(T-1) for dW_hh
//   head           2·R·H·V forward, twice that backward (R = rows with a loss)
// Threads: LEGATO_NUM_THREADS (default: all cores); the configuration is
// printed first. Run: build/<dir>/bench/lstm_bench --benchmark_filter=lstm_train

#include <benchmark/benchmark.h>

#include <cstdio>
#include <iostream>

#include "legato/nn/replicas.hpp"
#include "legato/ops/bf16.hpp"
#include "legato/ops/loss.hpp"
#include "legato/ops/lstm.hpp"
#include "legato/ops/lstm_infer.hpp"
#include "legato/ops/matmul.hpp"
#include "legato/ops/shape.hpp"
#include "legato/optim/adam.hpp"
#include "legato/util/build_info.hpp"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

using namespace legato;

namespace {

struct Model {
  std::int64_t B, T, V, H;
  Tensor w_ih, w_hh, b_ih, b_hh;  // (4H, V), (4H, H), (4H), (4H)
  Tensor w_out, b_out;            // (V, H), (V)
  Ids ids;                        // (T, B) inputs
  Ids last_targets, seq_targets;  // (B), (T·B)

  Model(std::int64_t B_, std::int64_t T_, std::int64_t V_, std::int64_t H_) : B(B_), T(T_), V(V_), H(H_) {
    Rng rng(42);
    const float k = 1.f / std::sqrt(float(H));  // PyTorch's default init range
    w_ih = Tensor::uniform({4 * H, V}, -k, k, rng).set_requires_grad();
    w_hh = Tensor::uniform({4 * H, H}, -k, k, rng).set_requires_grad();
    b_ih = Tensor::uniform({4 * H}, -k, k, rng).set_requires_grad();
    b_hh = Tensor::uniform({4 * H}, -k, k, rng).set_requires_grad();
    w_out = Tensor::uniform({V, H}, -k, k, rng).set_requires_grad();
    b_out = Tensor::uniform({V}, -k, k, rng).set_requires_grad();
    ids = {{T, B}, {}};
    for (std::int64_t i = 0; i < T * B; ++i) ids.values.push_back(std::int32_t(rng.below(std::uint64_t(V))));
    seq_targets = {{T * B}, {}};
    for (std::int64_t i = 0; i < T * B; ++i) seq_targets.values.push_back(std::int32_t(rng.below(std::uint64_t(V))));
    last_targets = {{B}, {seq_targets.values.begin(), seq_targets.values.begin() + B}};
  }
  std::vector<Tensor> params() const { return {w_ih, w_hh, b_ih, b_hh, w_out, b_out}; }
};

double lstm_flops(const Model& m, bool backward) {
  const double step = 2.0 * double(m.B) * 4.0 * double(m.H) * double(m.H);
  return step * double(m.T) + (backward ? 2.0 * step * double(m.T - 1) : 0.0);
}

void set_counters(benchmark::State& state, double timesteps, double flops) {
  using benchmark::Counter;
  state.counters["ms/step"] = Counter(1e-3, Counter::kIsIterationInvariantRate | Counter::kInvert);
  state.counters["timesteps/s"] = Counter(timesteps, Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = Counter(flops * 1e-9, Counter::kIsIterationInvariantRate);
}

// One full training step; loss on every step (seq) or on the last one.
void train_step(Model& m, optim::Adam& adam, bool every_step) {
  adam.zero_grad();
  const Tensor packed = lstm_sequence_ids(m.ids, Tensor(), Tensor(), m.w_ih, m.w_hh, m.b_ih, m.b_hh);  // (T+1, B, H)
  Tensor loss;
  if (every_step) {
    const Tensor hs = reshape(slice(packed, 0, 0, m.T), {m.T * m.B, m.H});  // (T·B, H)
    loss = cross_entropy(linear(hs, m.w_out, m.b_out), m.seq_targets);
  } else {
    const Tensor h_last = reshape(slice(packed, 0, m.T - 1, m.T), {m.B, m.H});  // (B, H)
    loss = cross_entropy(linear(h_last, m.w_out, m.b_out), m.last_targets);
  }
  loss.backward();
  adam.step();
}

// Every legato benchmark starts by claiming its threads: the libtorch
// comparison (same process) changes OpenMP's thread count.
void use_legato_threads() { set_num_threads(init_threads_from_env()); }

void BM_train(benchmark::State& state, bool every_step, MatmulPrecision precision = MatmulPrecision::fp32) {
  use_legato_threads();
  MatmulPrecisionScope scope(precision);
  Model m(state.range(0), state.range(1), state.range(2), state.range(3));
  optim::Adam adam(m.params(), 1e-3f);
  train_step(m, adam, every_step);  // warm-up: allocations, Adam state
  for (auto _ : state) train_step(m, adam, every_step);
  const double rows = every_step ? double(m.T * m.B) : double(m.B);
  set_counters(state, double(m.T * m.B), lstm_flops(m, true) + 6.0 * rows * double(m.H * m.V));
}

// The same step with the batch split between the threads instead of the
// hidden units ("lanes", what melody_lstm train runs by default:
// examples/melody_lstm/parallel.hpp). Thread k takes lanes [B·k/P, B·(k+1)/P)
// through its own replica (the master's weights, its own gradients), on one
// thread, with its loss weighted by its share of the rows; the replicas'
// gradients are added into the master's (each thread its share of the
// elements) and one Adam step follows, on all threads. The threads meet twice
// per step instead of twice per time step.
struct LaneShards {
  std::vector<Model> shards;  // shard 0 holds the master's tensors

  LaneShards(const Model& m, int count) {
    for (int k = 0; k < count; ++k) {
      const std::int64_t b0 = m.B * k / count, b1 = m.B * (k + 1) / count, n = b1 - b0;
      Model s(n, m.T, m.V, m.H);
      if (k == 0) {  // the master's parameters, so that Adam sees the summed gradients
        s.w_ih = m.w_ih, s.w_hh = m.w_hh, s.b_ih = m.b_ih, s.b_hh = m.b_hh, s.w_out = m.w_out, s.b_out = m.b_out;
      } else {  // a replica: the master's weights (shared storage), its own gradients
        std::vector<Tensor> mine = s.params();
        const std::vector<Tensor> master = m.params();
        for (std::size_t i = 0; i < mine.size(); ++i) mine[i].share_storage_of(master[i]);
      }
      for (std::int64_t t = 0; t < m.T; ++t)
        for (std::int64_t b = 0; b < n; ++b) {
          s.ids.values[std::size_t(t * n + b)] = m.ids.values[std::size_t(t * m.B + b0 + b)];
          s.seq_targets.values[std::size_t(t * n + b)] = m.seq_targets.values[std::size_t(t * m.B + b0 + b)];
        }
      for (std::int64_t b = 0; b < n; ++b) s.last_targets.values[std::size_t(b)] = m.last_targets.values[std::size_t(b0 + b)];
      shards.push_back(std::move(s));
    }
  }
};

void lanes_step(Model& m, LaneShards& lanes, optim::Adam& adam, bool every_step) {
  const int count = static_cast<int>(lanes.shards.size());
  adam.zero_grad();
  const std::vector<Tensor> master = m.params();
  int team = 1;  // threads OpenMP really gave: a shard without one would be missing from the sum
#pragma omp parallel num_threads(count)
  {
#ifdef _OPENMP
    const int k = omp_get_thread_num();
    if (k == 0) team = omp_get_num_threads();
    omp_set_num_threads(1);  // every kernel inside runs on this thread alone
#else
    const int k = 0;
#endif
    Model& s = lanes.shards[std::size_t(k)];
    if (k > 0)  // a replica's fresh gradients, on its own thread
      for (Tensor& t : s.params()) t.zero_grad();
    const Tensor packed = lstm_sequence_ids(s.ids, Tensor(), Tensor(), s.w_ih, s.w_hh, s.b_ih, s.b_hh);
    const Tensor loss =
        every_step ? cross_entropy(linear(reshape(slice(packed, 0, 0, s.T), {s.T * s.B, s.H}), s.w_out, s.b_out),
                                   s.seq_targets)
                   : cross_entropy(linear(reshape(slice(packed, 0, s.T - 1, s.T), {s.B, s.H}), s.w_out, s.b_out),
                                   s.last_targets);
    loss.backward(Tensor::scalar(float(s.B) / float(m.B)));
  }
  check(team == count, "lanes_step: OpenMP gave ", team, " threads for ", count, " shards");
  std::vector<std::vector<Tensor>> replicas;
  for (int k = 1; k < count; ++k) replicas.push_back(lanes.shards[std::size_t(k)].params());
  nn::add_replica_gradients(master, replicas, count);  // master += replica, in shard order, on all threads
  adam.step();  // on every thread (optim/adam.hpp)
}

void BM_train_lanes(benchmark::State& state, bool every_step, MatmulPrecision precision) {
  use_legato_threads();
  MatmulPrecisionScope scope(precision);
  Model m(state.range(0), state.range(1), state.range(2), state.range(3));
  LaneShards lanes(m, std::max(1, std::min<int>(num_threads(), int(m.B))));
  optim::Adam adam(m.params(), 1e-3f);
  lanes_step(m, lanes, adam, every_step);  // warm-up
  for (auto _ : state) lanes_step(m, lanes, adam, every_step);
  const double rows = every_step ? double(m.T * m.B) : double(m.B);
  set_counters(state, double(m.T * m.B), lstm_flops(m, true) + 6.0 * rows * double(m.H * m.V));
  state.counters["threads"] = double(lanes.shards.size());
}

void BM_lstm_train_last(benchmark::State& state) { BM_train(state, false); }
void BM_lstm_train_seq(benchmark::State& state) { BM_train(state, true); }
[[maybe_unused]] void BM_lstm_train_last_bf16(benchmark::State& state) { BM_train(state, false, MatmulPrecision::bf16); }
[[maybe_unused]] void BM_lstm_train_seq_bf16(benchmark::State& state) { BM_train(state, true, MatmulPrecision::bf16); }
void BM_lstm_train_last_lanes(benchmark::State& state) { BM_train_lanes(state, false, MatmulPrecision::fp32); }
void BM_lstm_train_seq_lanes(benchmark::State& state) { BM_train_lanes(state, true, MatmulPrecision::fp32); }
[[maybe_unused]] void BM_lstm_train_last_lanes_bf16(benchmark::State& state) { BM_train_lanes(state, false, MatmulPrecision::bf16); }
[[maybe_unused]] void BM_lstm_train_seq_lanes_bf16(benchmark::State& state) { BM_train_lanes(state, true, MatmulPrecision::bf16); }

// The LSTM alone, forward and backward with a fixed output gradient: no head,
// no optimiser. The like-for-like of oneDNN's primitive (dnnl_lstm_fwd_bwd).
// Inputs::meter: melody_lstm's metric inputs as format 2 coded them
// (examples/melody_lstm/data.hpp), three ids per step over V + 98 input
// columns (the token, its position in a 16-step bar, the bar's length); since
// format 3 they add the beat's length, a fourth id. Inputs::lookback: format
// 3's default, five more ids over 49 + 4 (V + 1) more columns (the beat's
// length, the tokens 1, 2, 4 and 8 bars back, or "none"); format 4's default
// adds two repeat ids, not measured here. What the extra ids cost the LSTM.
enum class Inputs { token, meter, lookback };

void fwd_bwd(benchmark::State& state, MatmulPrecision precision, Inputs inputs = Inputs::token) {
  use_legato_threads();
  MatmulPrecisionScope scope(precision);
  Model m(state.range(0), state.range(1), state.range(2), state.range(3));
  Rng rng(3);
  Tensor w_ih = m.w_ih;
  Ids ids = m.ids;
  if (inputs != Inputs::token) {
    const bool lookback = inputs == Inputs::lookback;
    const std::int64_t columns = m.V + 98 + (lookback ? 49 + 4 * (m.V + 1) : 0), K = lookback ? 8 : 3;
    const float k = 1.f / std::sqrt(float(m.H));
    w_ih = Tensor::uniform({4 * m.H, columns}, -k, k, rng).set_requires_grad();
    ids = {{m.T, m.B, K}, {}};
    auto token = [&](std::int64_t t, std::int64_t b) { return std::int64_t(m.ids.values[std::size_t(t * m.B + b)]); };
    for (std::int64_t t = 0; t < m.T; ++t)
      for (std::int64_t b = 0; b < m.B; ++b) {
        for (std::int64_t id : {token(t, b), m.V + t % 16, m.V + 49 + 16}) ids.values.push_back(std::int32_t(id));
        if (!lookback) continue;
        ids.values.push_back(std::int32_t(m.V + 98 + 4));  // a beat of 4 16ths
        for (std::int64_t n = 0, base = m.V + 98 + 49; n < 4; ++n, base += m.V + 1) {
          const std::int64_t back = t + 1 - 16 * (std::int64_t(1) << n);  // the predicted step t + 1, 1-8 bars back
          ids.values.push_back(std::int32_t(base + (back >= 0 ? token(back, b) : m.V)));
        }
      }
  }
  const Tensor seed = Tensor::uniform({m.T + 1, m.B, m.H}, -1e-3f, 1e-3f, rng);
  for (auto _ : state) {
    for (Tensor p : {w_ih, m.w_hh, m.b_ih, m.b_hh}) p.zero_grad();
    lstm_sequence_ids(ids, Tensor(), Tensor(), w_ih, m.w_hh, m.b_ih, m.b_hh).backward(seed);
  }
  set_counters(state, double(m.T * m.B), lstm_flops(m, true));
}

void BM_lstm_fwd_bwd(benchmark::State& state) { fwd_bwd(state, MatmulPrecision::fp32); }
[[maybe_unused]] void BM_lstm_fwd_bwd_bf16(benchmark::State& state) { fwd_bwd(state, MatmulPrecision::bf16); }
[[maybe_unused]] void BM_lstm_fwd_bwd_meter_bf16(benchmark::State& state) {
  fwd_bwd(state, MatmulPrecision::bf16, Inputs::meter);
}
[[maybe_unused]] void BM_lstm_fwd_bwd_lookback_bf16(benchmark::State& state) {
  fwd_bwd(state, MatmulPrecision::bf16, Inputs::lookback);
}

// The same LSTM fed the one-hot matrix (T, B, V) through the dense entry point:
// what the token-id gather saves (the input GEMM, dW_ih as a GEMM, and dx).
void BM_lstm_fwd_bwd_onehot(benchmark::State& state) {
  use_legato_threads();
  Model m(state.range(0), state.range(1), state.range(2), state.range(3));
  Tensor x = Tensor::zeros({m.T, m.B, m.V});
  for (std::int64_t r = 0; r < m.T * m.B; ++r) x.data()[r * m.V + m.ids.values[std::size_t(r)]] = 1.f;
  x.set_requires_grad();  // as a layer inside a network would: dx is computed
  Rng rng(3);
  const Tensor seed = Tensor::uniform({m.T + 1, m.B, m.H}, -1e-3f, 1e-3f, rng);
  for (auto _ : state) {
    for (Tensor& p : m.params()) p.zero_grad();
    x.zero_grad();
    lstm_sequence(x, Tensor(), Tensor(), m.w_ih, m.w_hh, m.b_ih, m.b_hh).backward(seed);
  }
  const double input = 2.0 * double(m.T * m.B) * 4.0 * double(m.H * m.V);  // x·W_ihᵀ, dW_ih, dx
  set_counters(state, double(m.T * m.B), lstm_flops(m, true) + 3.0 * input);
}

void BM_lstm_forward(benchmark::State& state) {
  use_legato_threads();
  Model m(state.range(0), state.range(1), state.range(2), state.range(3));
  NoGradGuard no_grad;
  for (auto _ : state) {
    const Tensor packed = lstm_sequence_ids(m.ids, Tensor(), Tensor(), m.w_ih, m.w_hh, m.b_ih, m.b_hh);
    const Tensor logits = linear(reshape(slice(packed, 0, 0, m.T), {m.T * m.B, m.H}), m.w_out, m.b_out);
    benchmark::DoNotOptimize(logits.data());
  }
  set_counters(state, double(m.T * m.B), lstm_flops(m, false) + 2.0 * double(m.T * m.B * m.H * m.V));
}

void generate_token(benchmark::State& state, MatmulPrecision precision) {
  use_legato_threads();
  Model m(1, 1, state.range(2), state.range(3));
  LstmInferLayer layer(m.w_ih, m.w_hh, m.b_ih, m.b_hh, precision);
  LinearInfer head(m.w_out, m.b_out);
  std::vector<float> h(std::size_t(m.H), 0.f), c(h), logits(std::size_t(m.V));
  Rng rng(7);
  std::int32_t token = 0;
  for (auto _ : state) {
    layer.step_ids(&token, 1, h.data(), c.data());
    head.logits(h.data(), logits.data());
    token = sample_logits(logits.data(), m.V, 0.7f, rng);
  }
  benchmark::DoNotOptimize(token);
  set_counters(state, 1.0, 2.0 * (4.0 * double(m.H * m.H) + double(m.H * m.V)));
  state.counters["us/token"] = benchmark::Counter(1e-6, benchmark::Counter::kIsIterationInvariantRate |
                                                            benchmark::Counter::kInvert);
}

void BM_lstm_generate_token(benchmark::State& state) { generate_token(state, MatmulPrecision::fp32); }
[[maybe_unused]] void BM_lstm_generate_token_bf16(benchmark::State& state) { generate_token(state, MatmulPrecision::bf16); }

// Peak arithmetic rates: every thread runs `chains(iterations)`, independent
// dependency chains on registers only; flops_per_iteration is what one
// iteration of one thread computes.
template <class Chains>
void measure_peak(benchmark::State& state, double flops_per_iteration, Chains chains) {
  use_legato_threads();
  constexpr long kIters = 1 << 20;
  int threads = 1;
  for (auto _ : state) {
#pragma omp parallel
    {
#pragma omp single
      threads = num_threads();
      chains(kIters);
    }
  }
  state.counters["GFLOP/s"] = benchmark::Counter(double(threads) * kIters * flops_per_iteration * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = threads;
}

#ifdef __AVX512F__
// Folds the 12 accumulators into one result the compiler cannot drop.
void keep(__m512 (&acc)[12]) {
  alignas(64) float sink[16];
  for (int k = 1; k < 12; ++k) acc[0] = _mm512_add_ps(acc[0], acc[k]);
  _mm512_store_ps(sink, acc[0]);
  benchmark::DoNotOptimize(sink);
}
#endif

// The FMA peak: 12 accumulators of 16 lanes hide the 4-cycle latency on 2 pipes
// (AVX-512); on AVX2 machines, 12 of 8 lanes, see below.
void BM_fma_peak(benchmark::State& state) {
  measure_peak(state, 12 * 16 * 2, [](long iterations) {
#ifdef __AVX512F__
    __m512 acc[12];
    for (int k = 0; k < 12; ++k) acc[k] = _mm512_set1_ps(float(k));
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    for (long i = 0; i < iterations; ++i)
      for (int k = 0; k < 12; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
    keep(acc);
#elif defined(__AVX2__) && defined(__FMA__)
    // 12 chains of 8 lanes, two FMAs per chain and iteration: the same count
    // of FLOPs per iteration, and 12 chains still cover latency × 256-bit
    // FMAs per cycle (5 × 1 on Zen 1, 5 × 2 on Zen 2 and 3, 4 × 2 on Intel).
    __m256 acc[12];
#pragma GCC unroll 12
    for (int k = 0; k < 12; ++k) acc[k] = _mm256_set1_ps(float(k));
    const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
    for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
      for (int k = 0; k < 12; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
#pragma GCC unroll 12
      for (int k = 0; k < 12; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
    }
#pragma GCC unroll 12
    for (int k = 1; k < 12; ++k) acc[0] = _mm256_add_ps(acc[0], acc[k]);
    alignas(32) float sink[8];
    _mm256_store_ps(sink, acc[0]);
    benchmark::DoNotOptimize(sink);
#else
    float acc[12][16];
    for (int k = 0; k < 12; ++k)
      for (int l = 0; l < 16; ++l) acc[k][l] = float(k + l);
    for (long i = 0; i < iterations; ++i)
      for (int k = 0; k < 12; ++k)
        for (int l = 0; l < 16; ++l) acc[k][l] = acc[k][l] * 0.999f + 1e-3f;
    benchmark::DoNotOptimize(acc);
#endif
  });
}

#ifdef __AVX512BF16__
// The bf16 dot-product peak (AVX512_BF16's vdpbf16ps: 32 bf16 products summed
// into 16 fp32 lanes per instruction). It is the peak that legato's opt-in
// bf16 path (the lstm_*_bf16 benchmarks, ops/bf16.hpp) runs against.
void BM_bf16_dot_peak(benchmark::State& state) {
  measure_peak(state, 12 * 32 * 2, [](long iterations) {
    __m512 acc[12];
    for (int k = 0; k < 12; ++k) acc[k] = _mm512_set1_ps(float(k));
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3a83);  // 1.0, 1e-3
    for (long i = 0; i < iterations; ++i)
      for (int k = 0; k < 12; ++k) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
    keep(acc);
  });
}
#endif

void BM_sgemm_eigen(benchmark::State& state) {
  use_legato_threads();
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const auto M = state.range(0), K = state.range(1), N = state.range(2);
  RowMatrix a = RowMatrix::Random(M, K), b = RowMatrix::Random(K, N), c(M, N);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(M * K * N) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

#if LEGATO_LSTM_FAST_ENGINE
// The recurrent micro-kernel alone, on one thread: a forward step's worth of
// 6×64 tiles (B = 64 rows, K = H, 4H/64 panels), no epilogue. Against fma_peak
// at one thread this is the kernel's efficiency.
void BM_kernel_gemm_tile(benchmark::State& state) {
  const std::int64_t B = 64, K = state.range(0), panels = 4 * K / 64;
  std::vector<float> A(std::size_t(B * K), 0.5f), P(std::size_t(panels * K * 64), 0.25f);
  alignas(64) float tile[6 * 64];
  for (auto _ : state)
    for (std::int64_t p = 0; p < panels; ++p)
      for (std::int64_t r0 = 0; r0 < B; r0 += 6) {
        lstm_kernels::avx512::gemm_tile_rows<4>(int(std::min<std::int64_t>(6, B - r0)), A.data() + r0 * K, K,
                                                P.data() + p * K * 64, K, tile);
        benchmark::DoNotOptimize(tile);
      }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(B * K * 64 * panels) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

#endif
#if LEGATO_LSTM_AVX2_ENGINE
// The AVX2 engine's micro-kernel alone, on one thread: a forward step's worth
// of 6×16 tiles (B = 64 rows, K = H, 4H/16 strips), no epilogue. Against
// fma_peak at one thread this is the kernel's efficiency.
void BM_kernel_gemm_tile(benchmark::State& state) {
  const std::int64_t B = 64, K = state.range(0), strips = 4 * K / 16;
  std::vector<float> A(std::size_t(B * K), 0.5f), P(std::size_t(strips * K * 16), 0.25f);
  alignas(32) float tile[6 * 16];
  for (auto _ : state)
    for (std::int64_t s = 0; s < strips; ++s)
      for (std::int64_t r0 = 0; r0 < B; r0 += 6) {
        lstm_kernels::avx2::gemm_tile_rows<2>(int(std::min<std::int64_t>(6, B - r0)), A.data() + r0 * K, K,
                                              P.data() + s * K * 16, 16, K, tile, 16);
        benchmark::DoNotOptimize(tile);
      }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(B * K * 16 * strips) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
#endif
#if LEGATO_LSTM_FAST_ENGINE

// dW_hh = dzᵀ h_prev with the packed GEMM (compare sgemm_eigen on the same
// shape), in fp32 or in bf16 products.
using GemmAtB = void (*)(const float*, std::int64_t, const float*, std::int64_t, float*, std::int64_t, std::int64_t,
                         std::int64_t, std::int64_t, bool);
void gemm_at_b_bench(benchmark::State& state, GemmAtB gemm) {
  use_legato_threads();
  const auto M = state.range(0), K = state.range(1), N = state.range(2);
  std::vector<float> a(std::size_t(K * M), 0.5f), b(std::size_t(K * N), 0.25f), c(std::size_t(M * N));
  for (auto _ : state) {
    gemm(a.data(), M, b.data(), N, c.data(), N, M, N, K, false);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(M * K * N) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
void BM_gemm_at_b(benchmark::State& state) { gemm_at_b_bench(state, gemm_avx512::gemm_at_b); }
#if LEGATO_HAVE_BF16
void BM_gemm_at_b_bf16(benchmark::State& state) { gemm_at_b_bench(state, gemm_avx512::gemm_at_b_bf16); }
#endif
#endif

// Eigen on dW_hh's shape, (4H, T·B)ᵀ... as the portable engine computes it.
void BM_sgemm_eigen_at_b(benchmark::State& state) {
  use_legato_threads();
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const auto M = state.range(0), K = state.range(1), N = state.range(2);
  RowMatrix a = RowMatrix::Random(K, M), b = RowMatrix::Random(K, N), c(M, N);
  for (auto _ : state) {
    c.noalias() = a.transpose() * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(M * K * N) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "T", "V", "H"});
  for (std::int64_t H : {256, 512, 1024}) b->Args({64, 64, 45, H});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

void generate_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "T", "V", "H"});
  for (std::int64_t H : {256, 512, 1024}) b->Args({1, 1, 45, H});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_lstm_train_last)->Name("lstm_train_last")->Apply(shapes);
BENCHMARK(BM_lstm_train_seq)->Name("lstm_train_seq")->Apply(shapes);
BENCHMARK(BM_lstm_fwd_bwd)->Name("lstm_fwd_bwd")->Apply(shapes);
#if LEGATO_HAVE_BF16
BENCHMARK(BM_lstm_train_last_bf16)->Name("lstm_train_last_bf16")->Apply(shapes);
BENCHMARK(BM_lstm_train_seq_bf16)->Name("lstm_train_seq_bf16")->Apply(shapes);
BENCHMARK(BM_lstm_fwd_bwd_bf16)->Name("lstm_fwd_bwd_bf16")->Apply(shapes);
BENCHMARK(BM_lstm_fwd_bwd_meter_bf16)->Name("lstm_fwd_bwd_meter_bf16")->Apply(shapes);
BENCHMARK(BM_lstm_fwd_bwd_lookback_bf16)->Name("lstm_fwd_bwd_lookback_bf16")->Apply(shapes);
#endif
BENCHMARK(BM_lstm_train_last_lanes)->Name("lstm_train_last_lanes")->Apply(shapes);
BENCHMARK(BM_lstm_train_seq_lanes)->Name("lstm_train_seq_lanes")->Apply(shapes);
#if LEGATO_HAVE_BF16
BENCHMARK(BM_lstm_train_last_lanes_bf16)->Name("lstm_train_last_lanes_bf16")->Apply(shapes);
BENCHMARK(BM_lstm_train_seq_lanes_bf16)->Name("lstm_train_seq_lanes_bf16")->Apply(shapes);
#endif
BENCHMARK(BM_lstm_fwd_bwd_onehot)->Name("lstm_fwd_bwd_onehot")->Apply(shapes);
BENCHMARK(BM_lstm_forward)->Name("lstm_forward")->Apply(shapes);
BENCHMARK(BM_lstm_generate_token)->Name("lstm_generate_token")->Apply(generate_shapes);
#if LEGATO_HAVE_BF16
BENCHMARK(BM_lstm_generate_token_bf16)->Name("lstm_generate_token_bf16")->Apply(generate_shapes);
#endif
BENCHMARK(BM_fma_peak)->Name("fma_peak")->Unit(benchmark::kMillisecond)->UseRealTime();
#ifdef __AVX512BF16__
BENCHMARK(BM_bf16_dot_peak)->Name("bf16_dot_peak")->Unit(benchmark::kMillisecond)->UseRealTime();
#endif
BENCHMARK(BM_sgemm_eigen)
    ->Name("sgemm_eigen")
    ->ArgNames({"M", "K", "N"})
    ->Args({1024, 1024, 1024})
    ->Args({64, 256, 1024})
    ->Args({1024, 4096, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

#if LEGATO_LSTM_FAST_ENGINE || LEGATO_LSTM_AVX2_ENGINE
BENCHMARK(BM_kernel_gemm_tile)->Name("kernel_gemm_tile")->ArgName("K")->Arg(256)->Arg(1024)->UseRealTime();
#endif
#if LEGATO_LSTM_FAST_ENGINE
BENCHMARK(BM_gemm_at_b)
    ->Name("gemm_at_b")
    ->ArgNames({"M", "K", "N"})
    ->Args({1024, 4032, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
#endif
#if LEGATO_HAVE_BF16
BENCHMARK(BM_gemm_at_b_bf16)
    ->Name("gemm_at_b_bf16")
    ->ArgNames({"M", "K", "N"})
    ->Args({1024, 4032, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
#endif
BENCHMARK(BM_sgemm_eigen_at_b)
    ->Name("sgemm_eigen_at_b")
    ->ArgNames({"M", "K", "N"})
    ->Args({1024, 4032, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

int main(int argc, char** argv) {
  set_num_threads(init_threads_from_env());
  const std::string engine = lstm_kernels::force_portable()   ? "portable (Eigen GEMM)"
                             : LEGATO_LSTM_FAST_ENGINE         ? "avx512 (lstm_kernels.hpp)"
                             : LEGATO_LSTM_AVX2_ENGINE         ? "avx2 (lstm_kernels_avx2.hpp)"
                                                               : "portable (Eigen GEMM)";
  std::cout << build_info() << "\n  lstm engine: " << engine << "\n";
  benchmark::AddCustomContext("legato_build", build_info());
  benchmark::AddCustomContext("lstm_engine", engine);
  benchmark::AddCustomContext("threads", std::to_string(num_threads()));
#ifdef LEGATO_BENCH_TORCH
  for (const char* name : {"OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "LEGATO_TORCH_THREADS", "OMP_WAIT_POLICY"}) {
    const char* value = std::getenv(name);
    std::cout << "  " << name << "=" << (value ? value : "(unset)") << "\n";
    benchmark::AddCustomContext(name, value ? value : "(unset)");
  }
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
