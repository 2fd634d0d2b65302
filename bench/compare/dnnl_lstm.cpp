// oneDNN's LSTM primitive on the same model as bench/lstm_bench.cpp, linked
// into lstm_bench when libdnnl-dev is found (bench/compare.cmake), so that one
// run prints both side by side. oneDNN has no token-id input: it gets the
// one-hot matrix (T, B, V), as PyTorch's nn.LSTM(input_size=V) would.
//
//   dnnl_lstm_fwd_bwd/B/T/V/H  forward_training + backward primitives, with the
//                              weight reorders a training step needs (the
//                              weights change after every optimiser step).
//                              Compare with legato's lstm_fwd_bwd (no head, no Adam).
//   dnnl_lstm_forward/...      forward_inference
//   dnnl_sgemm/M/K/N           oneDNN's sgemm: what a tuned GEMM reaches here
//
// GFLOP/s counts the matrix products oneDNN executes, including the input
// projection (2·T·B·V·4H forward; dW_ih and dx the same again in backward).
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <vector>

#include "legato/util/threads.hpp"

namespace {

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

struct DnnlLstm {
  memory::dim T, B, V, H;
  engine eng{engine::kind::cpu, 0};
  stream s{eng};
  // User-layout tensors: ldigo weights, ldgo bias, tnc activations.
  memory src_layer, w_layer, w_iter, bias, dst_layer, dst_iter, dst_iter_c;
  memory diff_dst_layer, diff_dst_iter, diff_dst_iter_c, diff_src_layer, diff_w_layer, diff_w_iter, diff_bias;
  memory fwd_w_layer, fwd_w_iter, bwd_w_layer, bwd_w_iter, bwd_diff_w_layer, bwd_diff_w_iter, workspace;
  lstm_forward fwd_train, fwd_infer;
  lstm_backward bwd;
  lstm_forward::primitive_desc fwd_pd, infer_pd;
  lstm_backward::primitive_desc bwd_pd;
  memory infer_w_layer, infer_w_iter;

  static void fill(memory& m, float lo, float hi, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(lo, hi);
    auto* p = static_cast<float*>(m.get_data_handle());
    for (size_t i = 0; i < m.get_desc().get_size() / sizeof(float); ++i) p[i] = dist(rng);
  }

  DnnlLstm(memory::dim T_, memory::dim B_, memory::dim V_, memory::dim H_) : T(T_), B(B_), V(V_), H(H_) {
    auto md = [](const memory::dims& d, tag t) { return memory::desc(d, dt::f32, t); };
    auto any = [](const memory::dims& d) { return memory::desc(d, dt::f32, tag::any); };
    const memory::dims src_d{T, B, V}, dst_d{T, B, H}, wl_d{1, 1, V, 4, H}, wi_d{1, 1, H, 4, H}, b_d{1, 1, 4, H},
        st_d{1, 1, B, H};
    src_layer = memory(md(src_d, tag::tnc), eng);
    w_layer = memory(md(wl_d, tag::ldigo), eng);
    w_iter = memory(md(wi_d, tag::ldigo), eng);
    bias = memory(md(b_d, tag::ldgo), eng);
    dst_layer = memory(md(dst_d, tag::tnc), eng);
    dst_iter = memory(md(st_d, tag::ldnc), eng);
    dst_iter_c = memory(md(st_d, tag::ldnc), eng);
    diff_dst_layer = memory(md(dst_d, tag::tnc), eng);
    diff_dst_iter = memory(md(st_d, tag::ldnc), eng);  // zeros: no loss on the final state
    diff_dst_iter_c = memory(md(st_d, tag::ldnc), eng);
    std::fill_n(static_cast<float*>(diff_dst_iter.get_data_handle()), B * H, 0.f);
    std::fill_n(static_cast<float*>(diff_dst_iter_c.get_data_handle()), B * H, 0.f);
    diff_src_layer = memory(md(src_d, tag::tnc), eng);
    diff_w_layer = memory(md(wl_d, tag::ldigo), eng);
    diff_w_iter = memory(md(wi_d, tag::ldigo), eng);
    diff_bias = memory(md(b_d, tag::ldgo), eng);
    std::mt19937 rng(42);
    const float k = 1.f / std::sqrt(float(H));
    fill(w_layer, -k, k, rng);
    fill(w_iter, -k, k, rng);
    fill(bias, -k, k, rng);
    fill(diff_dst_layer, -1e-3f, 1e-3f, rng);
    // One-hot input.
    auto* x = static_cast<float*>(src_layer.get_data_handle());
    std::fill_n(x, T * B * V, 0.f);
    for (memory::dim r = 0; r < T * B; ++r) x[r * V + memory::dim(rng() % unsigned(V))] = 1.f;

    const memory::desc none;  // no initial state: zeros
    lstm_forward::desc fwd_desc(prop_kind::forward_training, rnn_direction::unidirectional_left2right,
                                md(src_d, tag::tnc), none, none, any(wl_d), any(wi_d), md(b_d, tag::ldgo),
                                md(dst_d, tag::tnc), md(st_d, tag::ldnc), md(st_d, tag::ldnc));
    fwd_pd = lstm_forward::primitive_desc(fwd_desc, eng);
    fwd_train = lstm_forward(fwd_pd);
    fwd_w_layer = memory(fwd_pd.weights_layer_desc(), eng);
    fwd_w_iter = memory(fwd_pd.weights_iter_desc(), eng);
    workspace = memory(fwd_pd.workspace_desc(), eng);

    lstm_backward::desc bwd_desc(prop_kind::backward, rnn_direction::unidirectional_left2right, md(src_d, tag::tnc),
                                 none, none, any(wl_d), any(wi_d), md(b_d, tag::ldgo), md(dst_d, tag::tnc),
                                 md(st_d, tag::ldnc), md(st_d, tag::ldnc), md(src_d, tag::tnc), none, none,
                                 any(wl_d), any(wi_d), md(b_d, tag::ldgo), md(dst_d, tag::tnc), md(st_d, tag::ldnc),
                                 md(st_d, tag::ldnc));
    bwd_pd = lstm_backward::primitive_desc(bwd_desc, eng, fwd_pd);
    bwd = lstm_backward(bwd_pd);
    bwd_w_layer = memory(bwd_pd.weights_layer_desc(), eng);
    bwd_w_iter = memory(bwd_pd.weights_iter_desc(), eng);
    bwd_diff_w_layer = memory(bwd_pd.diff_weights_layer_desc(), eng);
    bwd_diff_w_iter = memory(bwd_pd.diff_weights_iter_desc(), eng);

    lstm_forward::desc infer_desc(prop_kind::forward_inference, rnn_direction::unidirectional_left2right,
                                  md(src_d, tag::tnc), none, none, any(wl_d), any(wi_d), md(b_d, tag::ldgo),
                                  md(dst_d, tag::tnc), md(st_d, tag::ldnc), md(st_d, tag::ldnc));
    infer_pd = lstm_forward::primitive_desc(infer_desc, eng);
    fwd_infer = lstm_forward(infer_pd);
    infer_w_layer = memory(infer_pd.weights_layer_desc(), eng);
    infer_w_iter = memory(infer_pd.weights_iter_desc(), eng);
    reorder(w_layer, infer_w_layer).execute(s, w_layer, infer_w_layer);
    reorder(w_iter, infer_w_iter).execute(s, w_iter, infer_w_iter);
    s.wait();
  }

  // One training step of the LSTM: weights to the primitives' layouts (they
  // changed since the last step), forward, backward, gradients back to ldigo.
  void fwd_bwd() {
    reorder(w_layer, fwd_w_layer).execute(s, w_layer, fwd_w_layer);
    reorder(w_iter, fwd_w_iter).execute(s, w_iter, fwd_w_iter);
    fwd_train.execute(s, {{DNNL_ARG_SRC_LAYER, src_layer},
                          {DNNL_ARG_WEIGHTS_LAYER, fwd_w_layer},
                          {DNNL_ARG_WEIGHTS_ITER, fwd_w_iter},
                          {DNNL_ARG_BIAS, bias},
                          {DNNL_ARG_DST_LAYER, dst_layer},
                          {DNNL_ARG_DST_ITER, dst_iter},
                          {DNNL_ARG_DST_ITER_C, dst_iter_c},
                          {DNNL_ARG_WORKSPACE, workspace}});
    reorder(w_layer, bwd_w_layer).execute(s, w_layer, bwd_w_layer);
    reorder(w_iter, bwd_w_iter).execute(s, w_iter, bwd_w_iter);
    bwd.execute(s, {{DNNL_ARG_SRC_LAYER, src_layer},
                    {DNNL_ARG_WEIGHTS_LAYER, bwd_w_layer},
                    {DNNL_ARG_WEIGHTS_ITER, bwd_w_iter},
                    {DNNL_ARG_BIAS, bias},
                    {DNNL_ARG_DST_LAYER, dst_layer},
                    {DNNL_ARG_DST_ITER, dst_iter},
                    {DNNL_ARG_DST_ITER_C, dst_iter_c},
                    {DNNL_ARG_WORKSPACE, workspace},
                    {DNNL_ARG_DIFF_DST_LAYER, diff_dst_layer},
                    {DNNL_ARG_DIFF_DST_ITER, diff_dst_iter},
                    {DNNL_ARG_DIFF_DST_ITER_C, diff_dst_iter_c},
                    {DNNL_ARG_DIFF_SRC_LAYER, diff_src_layer},
                    {DNNL_ARG_DIFF_WEIGHTS_LAYER, bwd_diff_w_layer},
                    {DNNL_ARG_DIFF_WEIGHTS_ITER, bwd_diff_w_iter},
                    {DNNL_ARG_DIFF_BIAS, diff_bias}});
    reorder(bwd_diff_w_layer, diff_w_layer).execute(s, bwd_diff_w_layer, diff_w_layer);
    reorder(bwd_diff_w_iter, diff_w_iter).execute(s, bwd_diff_w_iter, diff_w_iter);
    s.wait();
  }

  void forward() {
    fwd_infer.execute(s, {{DNNL_ARG_SRC_LAYER, src_layer},
                          {DNNL_ARG_WEIGHTS_LAYER, infer_w_layer},
                          {DNNL_ARG_WEIGHTS_ITER, infer_w_iter},
                          {DNNL_ARG_BIAS, bias},
                          {DNNL_ARG_DST_LAYER, dst_layer},
                          {DNNL_ARG_DST_ITER, dst_iter},
                          {DNNL_ARG_DST_ITER_C, dst_iter_c}});
    s.wait();
  }
};

double step_flops(double T, double B, double V, double H) { return 2.0 * T * B * 4.0 * H * (H + V); }

void counters(benchmark::State& state, double timesteps, double flops) {
  using benchmark::Counter;
  state.counters["ms/step"] = Counter(1e-3, Counter::kIsIterationInvariantRate | Counter::kInvert);
  state.counters["timesteps/s"] = Counter(timesteps, Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = Counter(flops * 1e-9, Counter::kIsIterationInvariantRate);
}

void BM_dnnl_lstm_fwd_bwd(benchmark::State& state) {
  legato::set_num_threads(legato::init_threads_from_env());
  DnnlLstm m(state.range(0), state.range(1), state.range(2), state.range(3));
  m.fwd_bwd();
  for (auto _ : state) m.fwd_bwd();
  const double T = double(m.T), B = double(m.B), V = double(m.V), H = double(m.H);
  counters(state, T * B, 3.0 * step_flops(T, B, V, H));
}

void BM_dnnl_lstm_forward(benchmark::State& state) {
  legato::set_num_threads(legato::init_threads_from_env());
  DnnlLstm m(state.range(0), state.range(1), state.range(2), state.range(3));
  m.forward();
  for (auto _ : state) m.forward();
  counters(state, double(m.T * m.B), step_flops(double(m.T), double(m.B), double(m.V), double(m.H)));
}

void BM_dnnl_sgemm(benchmark::State& state) {
  legato::set_num_threads(legato::init_threads_from_env());
  const auto M = state.range(0), K = state.range(1), N = state.range(2);
  std::vector<float> a(size_t(M * K), 0.5f), b(size_t(K * N), 0.25f), c(size_t(M * N));
  for (auto _ : state) {
    dnnl_sgemm('N', 'N', M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(M * K * N) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "T", "V", "H"});
  for (int64_t H : {256, 512, 1024}) b->Args({64, 64, 45, H});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_dnnl_lstm_fwd_bwd)->Name("dnnl_lstm_fwd_bwd")->Apply(shapes);
BENCHMARK(BM_dnnl_lstm_forward)->Name("dnnl_lstm_forward")->Apply(shapes);
BENCHMARK(BM_dnnl_sgemm)
    ->Name("dnnl_sgemm")
    ->ArgNames({"M", "K", "N"})
    ->Args({1024, 1024, 1024})
    ->Args({64, 256, 1024})
    ->Args({1024, 4096, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
