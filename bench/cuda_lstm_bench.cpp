// The LSTM layer on the GPU: forward, and forward + backward, at given shapes
// and with each recurrence engine, timed with CUDA events after a warm-up.
// bench/device_check.sh runs it next to bench/cudnn_lstm.py (PyTorch's
// nn.LSTM on cuDNN) and prints the ratios.
//
//   cuda_lstm_bench [--shapes BxTxIxH,...] [--algos persistent,per_step] [--iters N] [--warmup N]
//
// What is timed, per iteration (the same work as nn.LSTM in PyTorch):
//   forward:          xw = x W_ihᵀ + b (one GEMM), then the T-step recurrence,
//                     saving gates and cell states for the backward;
//   forward+backward: the forward, then BPTT and every gradient: dx, dW_ih,
//                     dW_hh, db (both biases), with a fixed output gradient.
// Inputs and weights are random (PyTorch's init range); h0 = c0 = 0.
//
// This is a plain program rather than a Google Benchmark suite so that it
// builds on a GPU machine without libbenchmark. One line per measurement:
//   legato B=64 T=64 I=45 H=256 algo=persistent fwd_ms=... fwdbwd_ms=... fwd_gflops=... steps_per_s=...

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "legato/cuda/cuda.hpp"
#include "legato/util/random.hpp"

#ifndef LEGATO_CUDA
int main() {
  std::fprintf(stderr, "cuda_lstm_bench: legato was built without LEGATO_CUDA\n");
  return 1;
}
#else

namespace {

using namespace legato;

struct BenchShape {
  std::int64_t B, T, I, H;
};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, sep))
    if (!part.empty()) parts.push_back(part);
  return parts;
}

BenchShape parse_shape(const std::string& text) {
  const auto parts = split(text, 'x');
  check(parts.size() == 4, "cuda_lstm_bench: shape '", text, "' is not BxTxIxH");
  BenchShape s{};
  std::int64_t* fields[] = {&s.B, &s.T, &s.I, &s.H};
  for (std::size_t i = 0; i < 4; ++i) {
    char* end = nullptr;
    const long long v = std::strtoll(parts[i].c_str(), &end, 10);
    check(end && *end == '\0' && v > 0, "cuda_lstm_bench: bad number '", parts[i], "' in shape '", text, "'");
    *fields[i] = v;
  }
  return s;
}

cuda::LstmAlgo parse_algo(const std::string& name) {
  if (name == "persistent") return cuda::LstmAlgo::persistent;
  if (name == "per_step") return cuda::LstmAlgo::per_step;
  if (name == "automatic") return cuda::LstmAlgo::automatic;
  fail("cuda_lstm_bench: unknown algorithm '", name, "' (persistent, per_step, automatic)");
}

cuda::Buffer random_buffer(std::size_t n, Rng& rng, float bound) {
  std::vector<float> host(n);
  for (auto& v : host) v = rng.uniform(-bound, bound);
  cuda::Buffer b(n);
  cuda::copy_to_device(b.data(), host.data(), n);
  return b;
}

// Milliseconds per call of fn, averaged over `iters` after `warmup` calls.
template <class Fn>
double time_ms(Fn&& fn, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) fn();
  cuda::synchronize();
  cuda::EventTimer timer;
  timer.start();
  for (int i = 0; i < iters; ++i) fn();
  return static_cast<double>(timer.stop_ms()) / iters;
}

void run(const BenchShape& s, cuda::LstmAlgo algo, int warmup, int iters) {
  const std::int64_t G = 4 * s.H, TB = s.T * s.B;
  const auto n = [](std::int64_t v) { return static_cast<std::size_t>(v); };
  Rng rng(7);
  const float bound = 1.f / std::sqrt(static_cast<float>(s.H));
  auto x = random_buffer(n(TB * s.I), rng, 1.f);
  auto w_ih = random_buffer(n(G * s.I), rng, bound), w_hh = random_buffer(n(G * s.H), rng, bound);
  auto b_ih = random_buffer(n(G), rng, bound), b_hh = random_buffer(n(G), rng, bound);
  auto dh_out = random_buffer(n(TB * s.H), rng, 1.f);
  cuda::Buffer xw(n(TB * G)), h(n(TB * s.H)), gates(n(TB * G)), c(n((s.T + 1) * s.B * s.H)), dz(n(TB * G));
  cuda::Buffer dx(n(TB * s.I)), dw_ih(n(G * s.I)), dw_hh(n(G * s.H)), db_ih(n(G)), db_hh(n(G));
  const cuda::LstmWeights w{w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data()};
  cuda::LstmGrads grads;
  grads.dx = dx.data();
  grads.dw_ih = dw_ih.data();
  grads.dw_hh = dw_hh.data();
  grads.db_ih = db_ih.data();
  grads.db_hh = db_hh.data();

  auto forward = [&] {
    cuda::lstm_sequence_forward(x.data(), s.T, s.B, s.I, s.H, w, nullptr, nullptr, xw.data(), h.data(), gates.data(),
                                c.data(), algo);
  };
  auto forward_backward = [&] {
    forward();
    cuda::lstm_sequence_backward(x.data(), s.T, s.B, s.I, s.H, w, nullptr, h.data(), gates.data(), c.data(),
                                 dh_out.data(), nullptr, dz.data(), grads, algo);
  };
  const double fwd = time_ms(forward, warmup, iters);
  const double fwdbwd = time_ms(forward_backward, warmup, iters);
  // 2 flops per multiply-add: input projection and recurrence; backward ~2x.
  const double fwd_flops = 2.0 * static_cast<double>(TB) * static_cast<double>(G) * static_cast<double>(s.I + s.H);
  std::printf(
      "legato B=%lld T=%lld I=%lld H=%lld algo=%s fwd_ms=%.4f fwdbwd_ms=%.4f fwd_gflops=%.1f fwdbwd_gflops=%.1f "
      "steps_per_s=%.0f\n",
      static_cast<long long>(s.B), static_cast<long long>(s.T), static_cast<long long>(s.I),
      static_cast<long long>(s.H), cuda::lstm_algo_name(algo), fwd, fwdbwd, fwd_flops / (fwd * 1e6),
      3.0 * fwd_flops / (fwdbwd * 1e6), static_cast<double>(s.T) / (fwdbwd * 1e-3));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string shapes = "64x64x45x256,256x64x45x256,64x64x45x512,64x64x45x1024";
    std::string algos = "persistent,per_step";
    int warmup = 5, iters = 20;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      auto value = [&]() -> std::string {
        check(i + 1 < argc, "cuda_lstm_bench: ", arg, " needs a value");
        return argv[++i];
      };
      if (arg == "--shapes")
        shapes = value();
      else if (arg == "--algos")
        algos = value();
      else if (arg == "--iters")
        iters = std::atoi(value().c_str());
      else if (arg == "--warmup")
        warmup = std::atoi(value().c_str());
      else if (arg == "--help" || arg == "-h") {
        std::printf("usage: cuda_lstm_bench [--shapes BxTxIxH,...] [--algos persistent,per_step] [--iters N] "
                    "[--warmup N]\n");
        return 0;
      } else {
        fail("cuda_lstm_bench: unknown argument '", arg, "'");
      }
    }
    check(iters > 0 && warmup >= 0, "cuda_lstm_bench: --iters must be > 0 and --warmup >= 0");
    std::vector<BenchShape> shape_list;  // parsed before touching the GPU: bad flags fail fast
    for (const auto& text : split(shapes, ',')) shape_list.push_back(parse_shape(text));
    std::vector<cuda::LstmAlgo> algo_list;
    for (const auto& text : split(algos, ',')) algo_list.push_back(parse_algo(text));
    cuda::require_device();
    std::printf("device: %s\n", cuda::device_description().c_str());
    std::printf("iterations: %d after %d warm-up; fp32 everywhere (no TF32)\n", iters, warmup);
    for (const BenchShape& s : shape_list) {
      for (const cuda::LstmAlgo algo : algo_list) {
        std::string why;
        if (algo == cuda::LstmAlgo::persistent && !cuda::lstm_persistent_supported(s.B, s.H, &why)) {
          std::printf("legato B=%lld T=%lld I=%lld H=%lld algo=persistent unsupported: %s\n",
                      static_cast<long long>(s.B), static_cast<long long>(s.T), static_cast<long long>(s.I),
                      static_cast<long long>(s.H), why.c_str());
          continue;
        }
        run(s, algo, warmup, iters);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

#endif
