// PyTorch's C++ API (Debian's libtorch-dev) on the same model as
// bench/lstm_bench.cpp, linked into lstm_bench when found (bench/compare.cmake).
// nn::LSTM has no token-id input, so it gets the one-hot matrix (T, B, V),
// exactly what nn.LSTM(input_size=V) does in the seed's PyTorch port.
//
//   torch_lstm_train_last, torch_lstm_train_seq, torch_lstm_forward,
//   torch_lstm_generate_token: the same definitions as the legato ones.
//
// libtorch's best configuration on this machine (see bench/RESULTS.md):
//   OPENBLAS_CORETYPE=SkylakeX  OpenBLAS's AVX-512 kernels (Haswell's are slower)
//   torch at LEGATO_TORCH_THREADS (default 1) intra-op threads, OpenBLAS at
//   OPENBLAS_NUM_THREADS (2): two thread pools that spin against each other
//   otherwise (or set OMP_WAIT_POLICY=PASSIVE).
// Both variables must be set before the process starts; the benchmark only
// reads them. GFLOP/s counts what libtorch executes, with the input GEMMs.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>

#include "legato/util/threads.hpp"

namespace {

int torch_threads() {
  const char* text = std::getenv("LEGATO_TORCH_THREADS");
  return text && std::atoi(text) > 0 ? std::atoi(text) : 1;
}

struct TorchModel {
  int64_t B, T, V, H;
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear head{nullptr};
  torch::Tensor x, last_targets, seq_targets;  // (T, B, V) one-hot, (B), (T·B)

  TorchModel(int64_t B_, int64_t T_, int64_t V_, int64_t H_) : B(B_), T(T_), V(V_), H(H_) {
    torch::manual_seed(42);
    lstm = torch::nn::LSTM(torch::nn::LSTMOptions(V, H));
    head = torch::nn::Linear(H, V);
    x = torch::one_hot(torch::randint(V, {T, B}), V).to(torch::kFloat32);
    seq_targets = torch::randint(V, {T * B});
    last_targets = seq_targets.slice(0, 0, B);
  }
  std::vector<torch::Tensor> params() {
    auto p = lstm->parameters();
    for (auto& q : head->parameters()) p.push_back(q);
    return p;
  }
};

double lstm_flops(double T, double B, double V, double H, bool backward) {
  const double fwd = 2.0 * T * B * 4.0 * H * (H + V);
  return backward ? 3.0 * fwd : fwd;
}

void counters(benchmark::State& state, double timesteps, double flops) {
  using benchmark::Counter;
  state.counters["ms/step"] = Counter(1e-3, Counter::kIsIterationInvariantRate | Counter::kInvert);
  state.counters["timesteps/s"] = Counter(timesteps, Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = Counter(flops * 1e-9, Counter::kIsIterationInvariantRate);
}

void BM_torch_train(benchmark::State& state, bool every_step) {
  torch::set_num_threads(torch_threads());
  TorchModel m(state.range(0), state.range(1), state.range(2), state.range(3));
  torch::optim::Adam adam(m.params(), torch::optim::AdamOptions(1e-3));
  auto step = [&] {
    adam.zero_grad();
    auto y = std::get<0>(m.lstm->forward(m.x));  // (T, B, H)
    torch::Tensor loss = every_step
                             ? torch::nn::functional::cross_entropy(m.head(y.reshape({m.T * m.B, m.H})), m.seq_targets)
                             : torch::nn::functional::cross_entropy(m.head(y[m.T - 1]), m.last_targets);
    loss.backward();
    adam.step();
  };
  step();
  for (auto _ : state) step();
  const double rows = every_step ? double(m.T * m.B) : double(m.B);
  counters(state, double(m.T * m.B),
           lstm_flops(double(m.T), double(m.B), double(m.V), double(m.H), true) + 6.0 * rows * double(m.H * m.V));
  legato::set_num_threads(legato::init_threads_from_env());  // torch changed OpenMP's thread count
}
void BM_torch_lstm_train_last(benchmark::State& state) { BM_torch_train(state, false); }
void BM_torch_lstm_train_seq(benchmark::State& state) { BM_torch_train(state, true); }

void BM_torch_lstm_forward(benchmark::State& state) {
  torch::set_num_threads(torch_threads());
  TorchModel m(state.range(0), state.range(1), state.range(2), state.range(3));
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    auto y = std::get<0>(m.lstm->forward(m.x));
    auto logits = m.head(y.reshape({m.T * m.B, m.H}));
    benchmark::DoNotOptimize(logits.data_ptr());
  }
  counters(state, double(m.T * m.B),
           lstm_flops(double(m.T), double(m.B), double(m.V), double(m.H), false) + 2.0 * double(m.T * m.B * m.H * m.V));
  legato::set_num_threads(legato::init_threads_from_env());
}

// One token at B = 1, carrying (h, c): LSTM step, head, temperature sampling.
void BM_torch_lstm_generate_token(benchmark::State& state) {
  torch::set_num_threads(torch_threads());
  TorchModel m(1, 1, state.range(2), state.range(3));
  torch::NoGradGuard no_grad;
  auto h = torch::zeros({1, 1, m.H}), c = torch::zeros({1, 1, m.H});
  int64_t token = 0;
  for (auto _ : state) {
    auto x = torch::one_hot(torch::full({1, 1}, token, torch::kLong), m.V).to(torch::kFloat32);
    auto out = m.lstm->forward(x, std::make_tuple(h, c));
    h = std::get<0>(std::get<1>(out));
    c = std::get<1>(std::get<1>(out));
    auto probs = torch::softmax(m.head(h.reshape({1, m.H})) / 0.7, -1);
    token = torch::multinomial(probs, 1).item<int64_t>();
  }
  benchmark::DoNotOptimize(token);
  counters(state, 1.0, 2.0 * (4.0 * double(m.H) * double(m.H + m.V) + double(m.H * m.V)));
  state.counters["us/token"] =
      benchmark::Counter(1e-6, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  legato::set_num_threads(legato::init_threads_from_env());
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "T", "V", "H"});
  for (int64_t H : {256, 512, 1024}) b->Args({64, 64, 45, H});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_torch_lstm_train_last)->Name("torch_lstm_train_last")->Apply(shapes);
BENCHMARK(BM_torch_lstm_train_seq)->Name("torch_lstm_train_seq")->Apply(shapes);
BENCHMARK(BM_torch_lstm_forward)->Name("torch_lstm_forward")->Apply(shapes);
BENCHMARK(BM_torch_lstm_generate_token)
    ->Name("torch_lstm_generate_token")
    ->ArgNames({"B", "T", "V", "H"})
    ->Args({1, 1, 45, 256})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
