// The CUDA LSTM against a plain CPU loop in double: the fused gate kernels,
// the recurrence with both engines (persistent and per-step), a whole layer
// with dense input and with token ids, and one training step of a small
// melody model (embedding -> LSTM -> dense -> cross-entropy -> Adam) whose
// loss, gradients and updated parameters must equal the CPU's. Runs only
// with LEGATO_CUDA and a GPU; otherwise prints "skipped: no CUDA device".
//
// Tolerances: forward values 2e-5 + 1e-4 relative, gradients 1e-4 + 1e-3
// relative (float accumulation over up to 4H = 2800 terms per dot product
// and T steps of recurrence, against double).
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "legato/cuda/cuda.hpp"
#include "legato/tensor.hpp"

using namespace legato;

#ifdef LEGATO_CUDA

#include "cuda_check.hpp"

using namespace legato::cuda_test;

namespace {

// Random inputs in [lo, hi), this file's usual range by default.
Vec random_vector(std::size_t n, Rng& rng, float lo = -0.5f, float hi = 0.5f) { return random_uniform(n, rng, lo, hi); }

VecD to_double(const Vec& v) { return VecD(v.begin(), v.end()); }

constexpr double kFwdAtol = 2e-5, kFwdRtol = 1e-4, kGradAtol = 1e-4, kGradRtol = 1e-3;

double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

// ---------------------------------------------------- the CPU reference ----

struct Dims {
  std::int64_t T, B, I, H;
};

struct Weights {
  Vec w_ih, w_hh, b_ih, b_hh;  // (4H, I), (4H, H), (4H), (4H)
};

struct Reference {
  VecD h, c, gates;                                    // (T, B, H), (T+1, B, H), (T, B, 4H)
  VecD dz, dx, dw_ih, dw_hh, db, dh0, dc0;             // gradients
};

// Plain loops in double. h0, c0, dc_last may be empty (zeros).
Reference lstm_reference(const Dims& d, const Vec& x, const Weights& w, const Vec& h0, const Vec& c0,
                         const Vec& dh_out, const Vec& dc_last) {
  const std::int64_t T = d.T, B = d.B, I = d.I, H = d.H, G = 4 * H;
  Reference r;
  r.h.assign(sz(T * B * H), 0);
  r.c.assign(sz((T + 1) * B * H), 0);
  r.gates.assign(sz(T * B * G), 0);
  for (std::int64_t i = 0; i < B * H; ++i) r.c[sz(i)] = c0.empty() ? 0.0 : c0[sz(i)];
  auto h_prev = [&](std::int64_t t, std::int64_t b, std::int64_t k) -> double {
    if (t == 0) return h0.empty() ? 0.0 : h0[sz(b * H + k)];
    return r.h[sz(((t - 1) * B + b) * H + k)];
  };
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t b = 0; b < B; ++b) {
      VecD z(sz(G));
      for (std::int64_t q = 0; q < G; ++q) {
        double s = double(w.b_ih[sz(q)]) + w.b_hh[sz(q)];
        for (std::int64_t i = 0; i < I; ++i)
          s += double(x[sz((t * B + b) * I + i)]) * w.w_ih[sz(q * I + i)];
        for (std::int64_t k = 0; k < H; ++k) s += h_prev(t, b, k) * w.w_hh[sz(q * H + k)];
        z[sz(q)] = s;
      }
      for (std::int64_t k = 0; k < H; ++k) {
        const double ig = sigmoid(z[sz(k)]), fg = sigmoid(z[sz(H + k)]);
        const double gg = std::tanh(z[sz(2 * H + k)]), og = sigmoid(z[sz(3 * H + k)]);
        const double c = fg * r.c[sz((t * B + b) * H + k)] + ig * gg;
        r.c[sz(((t + 1) * B + b) * H + k)] = c;
        r.h[sz((t * B + b) * H + k)] = og * std::tanh(c);
        double* a = &r.gates[sz((t * B + b) * G)];
        a[k] = ig;
        a[H + k] = fg;
        a[2 * H + k] = gg;
        a[3 * H + k] = og;
      }
    }
  if (dh_out.empty()) return r;
  r.dz.assign(sz(T * B * G), 0);
  VecD dh_next(sz(B * H), 0), dc(sz(B * H), 0);
  if (!dc_last.empty()) dc = to_double(dc_last);
  for (std::int64_t t = T - 1; t >= 0; --t) {
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t k = 0; k < H; ++k) {
        const std::size_t bk = sz(b * H + k);
        const double* a = &r.gates[sz((t * B + b) * G)];
        const double ig = a[k], fg = a[H + k], gg = a[2 * H + k], og = a[3 * H + k];
        const double cp = r.c[sz((t * B + b) * H + k)], ct = r.c[sz(((t + 1) * B + b) * H + k)];
        const double dh = dh_out[sz((t * B + b) * H + k)] + dh_next[bk];
        const double tc = std::tanh(ct);
        const double dcv = dc[bk] + dh * og * (1 - tc * tc);
        double* dz = &r.dz[sz((t * B + b) * G)];
        dz[k] = dcv * gg * ig * (1 - ig);
        dz[H + k] = dcv * cp * fg * (1 - fg);
        dz[2 * H + k] = dcv * ig * (1 - gg * gg);
        dz[3 * H + k] = dh * tc * og * (1 - og);
        dc[bk] = dcv * fg;
      }
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t k = 0; k < H; ++k) {
        double s = 0;
        for (std::int64_t q = 0; q < G; ++q) s += r.dz[sz((t * B + b) * G + q)] * w.w_hh[sz(q * H + k)];
        dh_next[sz(b * H + k)] = s;
      }
  }
  r.dh0 = dh_next;
  r.dc0 = dc;
  r.dx.assign(sz(T * B * I), 0);
  r.dw_ih.assign(sz(G * I), 0);
  r.dw_hh.assign(sz(G * H), 0);
  r.db.assign(sz(G), 0);
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t q = 0; q < G; ++q) {
        const double g = r.dz[sz((t * B + b) * G + q)];
        r.db[sz(q)] += g;
        for (std::int64_t i = 0; i < I; ++i) {
          r.dx[sz((t * B + b) * I + i)] += g * w.w_ih[sz(q * I + i)];
          r.dw_ih[sz(q * I + i)] += g * x[sz((t * B + b) * I + i)];
        }
        for (std::int64_t k = 0; k < H; ++k) r.dw_hh[sz(q * H + k)] += g * h_prev(t, b, k);
      }
  return r;
}

Weights random_weights(const Dims& d, Rng& rng) {
  const float bound = 1.f / std::sqrt(static_cast<float>(d.H));  // PyTorch's default init range
  Weights w;
  w.w_ih = random_vector(sz(4 * d.H * d.I), rng, -bound, bound);
  w.w_hh = random_vector(sz(4 * d.H * d.H), rng, -bound, bound);
  w.b_ih = random_vector(sz(4 * d.H), rng, -bound, bound);
  w.b_hh = random_vector(sz(4 * d.H), rng, -bound, bound);
  return w;
}

std::string describe(const Dims& d) {
  std::ostringstream s;
  s << "T " << d.T << " B " << d.B << " I " << d.I << " H " << d.H;
  return s.str();
}

std::vector<cuda::LstmAlgo> algos_to_test(std::int64_t B, std::int64_t H) {
  std::vector<cuda::LstmAlgo> algos{cuda::LstmAlgo::per_step};
  std::string why;
  if (cuda::lstm_persistent_supported(B, H, &why))
    algos.push_back(cuda::LstmAlgo::persistent);
  else
    MESSAGE("persistent kernel not supported at B " << B << " H " << H << ": " << why);
  return algos;
}

}  // namespace

TEST_CASE("cuda: fused LSTM gate kernels, one step") {
  SKIP_WITHOUT_GPU();
  Rng rng(41);
  for (auto [B, H] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {5, 7}, {64, 256}}) {
    const std::size_t n = sz(B * H), g = sz(B * 4 * H);
    const Vec z = random_vector(g, rng, -3.f, 3.f), in = random_vector(g, rng, -1.f, 1.f);
    const Vec c_prev = random_vector(n, rng, -1.f, 1.f), dh = random_vector(n, rng), dc_in = random_vector(n, rng);
    auto dzbuf = upload(z);
    const auto din = upload(in), dcp = upload(c_prev), ddh = upload(dh);
    auto ddc = upload(dc_in);
    cuda::Buffer c_next(n), h_next(n), dz(g);
    cuda::lstm_gates_forward(dzbuf.data(), din.data(), dcp.data(), B, H, c_next.data(), h_next.data());
    cuda::lstm_gates_backward(dzbuf.data(), dcp.data(), c_next.data(), ddh.data(), ddc.data(), B, H, dz.data());
    VecD ea(g), ec(n), eh(n), edz(g), edc(n);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t k = 0; k < H; ++k) {
        const std::size_t r = sz(b * 4 * H), bk = sz(b * H + k);
        auto pre = [&](std::int64_t q) { return double(z[r + sz(q)]) + in[r + sz(q)]; };
        const double i = sigmoid(pre(k)), f = sigmoid(pre(H + k)), gg = std::tanh(pre(2 * H + k)),
                     o = sigmoid(pre(3 * H + k));
        const double c = f * c_prev[bk] + i * gg, tc = std::tanh(c);
        ea[r + sz(k)] = i;
        ea[r + sz(H + k)] = f;
        ea[r + sz(2 * H + k)] = gg;
        ea[r + sz(3 * H + k)] = o;
        ec[bk] = c;
        eh[bk] = o * tc;
        const double d = dc_in[bk] + dh[bk] * o * (1 - tc * tc);
        edz[r + sz(k)] = d * gg * i * (1 - i);
        edz[r + sz(H + k)] = d * c_prev[bk] * f * (1 - f);
        edz[r + sz(2 * H + k)] = d * i * (1 - gg * gg);
        edz[r + sz(3 * H + k)] = dh[bk] * tc * o * (1 - o);
        edc[bk] = d * f;
      }
    const std::string name = "gates B " + std::to_string(B) + " H " + std::to_string(H);
    check_close(download(dzbuf.data(), g), ea, 1e-6, 1e-5, name + " activations");
    check_close(download(c_next.data(), n), ec, 1e-6, 1e-5, name + " c");
    check_close(download(h_next.data(), n), eh, 1e-6, 1e-5, name + " h");
    check_close(download(dz.data(), g), edz, 1e-6, 1e-5, name + " dz");
    check_close(download(ddc.data(), n), edc, 1e-6, 1e-5, name + " dc");
  }
}

TEST_CASE("cuda: LSTM layer forward and backward, both engines, against the CPU") {
  SKIP_WITHOUT_GPU();
  MESSAGE("device: " << cuda::device_description());
  {
    // The GPUs this backend targets (H100, H200) run the persistent engine at
    // the seed's shape; without this check a wrong "unsupported" would leave
    // that engine untested while every test passes.
    std::string why;
    CHECK_MESSAGE(cuda::lstm_persistent_supported(64, 256, &why),
                  "the persistent engine must run at the seed's shape (B 64, H 256): " << why);
  }
  Rng rng(42);
  struct Case {
    Dims d;
    bool with_state;  // h0, c0 and dc_last given (otherwise null = zeros)
  };
  const Case cases[] = {
      {{1, 1, 1, 1}, false},    {{7, 5, 3, 13}, true},    {{3, 1, 4, 256}, false},  // B = 1: warps split K
      {{5, 33, 7, 300}, true},  {{4, 2, 5, 700}, false},  {{6, 64, 45, 256}, true}, // the seed's B, I, H
  };
  for (const auto& c : cases) {
    const Dims d = c.d;
    const std::int64_t G = 4 * d.H, TB = d.T * d.B;
    const Weights w = random_weights(d, rng);
    const Vec x = random_vector(sz(TB * d.I), rng, -1.f, 1.f);
    const Vec h0 = c.with_state ? random_vector(sz(d.B * d.H), rng) : Vec{};
    const Vec c0 = c.with_state ? random_vector(sz(d.B * d.H), rng) : Vec{};
    const Vec dh_out = random_vector(sz(TB * d.H), rng);
    const Vec dc_last = c.with_state ? random_vector(sz(d.B * d.H), rng) : Vec{};
    const Reference ref = lstm_reference(d, x, w, h0, c0, dh_out, dc_last);

    const auto dx_in = upload(x), dw_ih = upload(w.w_ih), dw_hh = upload(w.w_hh), db_ih = upload(w.b_ih),
               db_hh = upload(w.b_hh), dh0 = upload(h0), dc0 = upload(c0), ddh = upload(dh_out),
               ddc = upload(dc_last);
    const cuda::LstmWeights weights{dw_ih.data(), dw_hh.data(), db_ih.data(), db_hh.data()};
    const float* h0p = c.with_state ? dh0.data() : nullptr;
    const float* c0p = c.with_state ? dc0.data() : nullptr;
    const float* dclp = c.with_state ? ddc.data() : nullptr;

    for (cuda::LstmAlgo algo : algos_to_test(d.B, d.H)) {
      const std::string name = describe(d) + " " + cuda::lstm_algo_name(algo);
      cuda::Buffer xw(sz(TB * G)), h(sz(TB * d.H)), gates(sz(TB * G)),
          cst(sz((d.T + 1) * d.B * d.H)), dz(sz(TB * G));
      const auto ran = cuda::lstm_sequence_forward(dx_in.data(), d.T, d.B, d.I, d.H, weights, h0p, c0p, xw.data(),
                                                   h.data(), gates.data(), cst.data(), algo);
      CHECK(ran == algo);
      check_close(download(h.data(), h.size()), ref.h, kFwdAtol, kFwdRtol, name + " h");
      check_close(download(cst.data(), cst.size()), ref.c, kFwdAtol, kFwdRtol, name + " c");
      check_close(download(gates.data(), gates.size()), ref.gates, kFwdAtol, kFwdRtol, name + " gates");

      cuda::Buffer gx(x.size()), gw_ih(w.w_ih.size()), gw_hh(w.w_hh.size()), gb_ih(sz(G)),
          gb_hh(sz(G)), gh0(sz(d.B * d.H)), gc0(sz(d.B * d.H));
      cuda::LstmGrads grads{gx.data(), gh0.data(), gc0.data(), gw_ih.data(), gw_hh.data(), gb_ih.data(), gb_hh.data()};
      cuda::lstm_sequence_backward(dx_in.data(), d.T, d.B, d.I, d.H, weights, h0p, h.data(), gates.data(), cst.data(),
                                   ddh.data(), dclp, dz.data(), grads, algo);
      check_close(download(dz.data(), dz.size()), ref.dz, kGradAtol, kGradRtol, name + " dz");
      check_close(download(gx.data(), gx.size()), ref.dx, kGradAtol, kGradRtol, name + " dx");
      check_close(download(gw_ih.data(), gw_ih.size()), ref.dw_ih, kGradAtol, kGradRtol, name + " dW_ih");
      check_close(download(gw_hh.data(), gw_hh.size()), ref.dw_hh, kGradAtol, kGradRtol, name + " dW_hh");
      check_close(download(gb_ih.data(), gb_ih.size()), ref.db, kGradAtol, kGradRtol, name + " db_ih");
      check_close(download(gb_hh.data(), gb_hh.size()), ref.db, kGradAtol, kGradRtol, name + " db_hh");
      check_close(download(gh0.data(), gh0.size()), ref.dh0, kGradAtol, kGradRtol, name + " dh0");
      check_close(download(gc0.data(), gc0.size()), ref.dc0, kGradAtol, kGradRtol, name + " dc0");
    }
  }
}

TEST_CASE("cuda: LSTM with token ids equals the dense layer on one-hot input") {
  SKIP_WITHOUT_GPU();
  Rng rng(43);
  const Dims d{9, 4, 11, 17};  // I = V = 11
  const std::int64_t G = 4 * d.H, TB = d.T * d.B;
  const Weights w = random_weights(d, rng);
  std::vector<std::int32_t> ids(sz(TB));
  Vec onehot(sz(TB * d.I), 0.f);
  for (std::int64_t r = 0; r < TB; ++r) {
    ids[sz(r)] = static_cast<std::int32_t>(rng.below(std::uint64_t(d.I)));
    onehot[sz(r * d.I + ids[sz(r)])] = 1.f;
  }
  const Vec dh_out = random_vector(sz(TB * d.H), rng);
  const Reference ref = lstm_reference(d, onehot, w, {}, {}, dh_out, {});
  const auto did = upload_ints(ids);
  const auto dw_ih = upload(w.w_ih), dw_hh = upload(w.w_hh), db_ih = upload(w.b_ih), db_hh = upload(w.b_hh),
             ddh = upload(dh_out);
  const cuda::LstmWeights weights{dw_ih.data(), dw_hh.data(), db_ih.data(), db_hh.data()};
  for (cuda::LstmAlgo algo : algos_to_test(d.B, d.H)) {
    const std::string name = std::string("ids ") + cuda::lstm_algo_name(algo);
    cuda::Buffer xw(sz(TB * G)), h(sz(TB * d.H)), gates(sz(TB * G)),
        cst(sz((d.T + 1) * d.B * d.H)), dz(sz(TB * G));
    cuda::lstm_sequence_forward_ids(did.data(), d.T, d.B, d.I, d.H, weights, nullptr, nullptr, xw.data(), h.data(),
                                    gates.data(), cst.data(), algo);
    check_close(download(h.data(), h.size()), ref.h, kFwdAtol, kFwdRtol, name + " h");
    cuda::Buffer gw_ih(w.w_ih.size()), gw_hh(w.w_hh.size()), gb(sz(G));
    cuda::LstmGrads grads;
    grads.dw_ih = gw_ih.data();
    grads.dw_hh = gw_hh.data();
    grads.db_ih = gb.data();
    cuda::lstm_sequence_backward_ids(did.data(), d.T, d.B, d.I, d.H, weights, nullptr, h.data(), gates.data(),
                                     cst.data(), ddh.data(), nullptr, dz.data(), grads, algo);
    check_close(download(gw_ih.data(), gw_ih.size()), ref.dw_ih, kGradAtol, kGradRtol, name + " dW_ih");
    check_close(download(gw_hh.data(), gw_hh.size()), ref.dw_hh, kGradAtol, kGradRtol, name + " dW_hh");
    check_close(download(gb.data(), gb.size()), ref.db, kGradAtol, kGradRtol, name + " db");
  }
  const auto bad = upload_ints(std::vector<std::int32_t>(sz(TB), 11));  // = V: out of range
  cuda::Buffer xw(sz(TB * G)), h(sz(TB * d.H)), gates(sz(TB * G)),
      cst(sz((d.T + 1) * d.B * d.H));
  CHECK_THROWS_AS(cuda::lstm_sequence_forward_ids(bad.data(), d.T, d.B, d.I, d.H, weights, nullptr, nullptr,
                                                  xw.data(), h.data(), gates.data(), cst.data()),
                  Error);
}

// One training step of a small melody model, GPU against CPU:
//   ids (T, B) -> embedding (V, E) -> LSTM (E -> H) -> dense (H -> V) ->
//   cross-entropy against targets (some ignored) -> backward -> Adam step.
TEST_CASE("cuda: one LSTM training step on the GPU equals the CPU step") {
  SKIP_WITHOUT_GPU();
  Rng rng(44);
  const std::int64_t T = 9, B = 4, V = 11, E = 6, H = 13, G = 4 * H, TB = T * B;
  const int ignore = -100;
  const float lr = 1e-2f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  const Dims d{T, B, E, H};
  const Weights w = random_weights(d, rng);
  const Vec emb = random_vector(sz(V * E), rng, -1.f, 1.f);
  const Vec w_out = random_vector(sz(V * H), rng, -0.3f, 0.3f), b_out = random_vector(sz(V), rng);
  std::vector<std::int32_t> ids(sz(TB)), targets(sz(TB));
  for (std::int64_t r = 0; r < TB; ++r) {
    ids[sz(r)] = static_cast<std::int32_t>(rng.below(std::uint64_t(V)));
    targets[sz(r)] = r % 7 == 3 ? ignore : static_cast<std::int32_t>(rng.below(std::uint64_t(V)));
  }

  // ---- CPU, in double ----
  Vec x(sz(TB * E));
  for (std::int64_t r = 0; r < TB; ++r)
    for (std::int64_t e = 0; e < E; ++e) x[sz(r * E + e)] = emb[sz(ids[sz(r)] * E + e)];
  const Reference fwd = lstm_reference(d, x, w, {}, {}, {}, {});
  double loss = 0;
  int kept = 0;
  VecD dlogits(sz(TB * V), 0.0);
  for (std::int64_t r = 0; r < TB; ++r) {
    VecD logits(sz(V));
    for (std::int64_t v = 0; v < V; ++v) {
      double s = b_out[sz(v)];
      for (std::int64_t k = 0; k < H; ++k) s += fwd.h[sz(r * H + k)] * w_out[sz(v * H + k)];
      logits[sz(v)] = s;
    }
    const int t = targets[sz(r)];
    if (t == ignore) continue;
    ++kept;
    double m = -1e300, s = 0;
    for (double l : logits) m = std::max(m, l);
    for (double l : logits) s += std::exp(l - m);
    loss += m + std::log(s) - logits[sz(t)];
    for (std::int64_t v = 0; v < V; ++v)
      dlogits[sz(r * V + v)] = std::exp(logits[sz(v)] - m) / s - (v == t ? 1 : 0);
  }
  loss /= kept;
  for (auto& g : dlogits) g /= kept;
  VecD dw_out(sz(V * H), 0), db_out(sz(V), 0);
  Vec dh_out(sz(TB * H), 0.f);
  VecD dh_out_d(sz(TB * H), 0.0);
  for (std::int64_t r = 0; r < TB; ++r)
    for (std::int64_t v = 0; v < V; ++v) {
      const double g = dlogits[sz(r * V + v)];
      db_out[sz(v)] += g;
      for (std::int64_t k = 0; k < H; ++k) {
        dw_out[sz(v * H + k)] += g * fwd.h[sz(r * H + k)];
        dh_out_d[sz(r * H + k)] += g * w_out[sz(v * H + k)];
      }
    }
  // The reference backward takes dh_out in float; the rounding (1e-7 relative)
  // is far below the tolerance.
  for (std::size_t i = 0; i < dh_out.size(); ++i) dh_out[i] = static_cast<float>(dh_out_d[i]);
  const Reference bwd = lstm_reference(d, x, w, {}, {}, dh_out, {});
  VecD demb(sz(V * E), 0.0);
  for (std::int64_t r = 0; r < TB; ++r)
    for (std::int64_t e = 0; e < E; ++e) demb[sz(ids[sz(r)] * E + e)] += bwd.dx[sz(r * E + e)];
  // Adam, first step, as torch.optim.Adam: m = (1-b1) g, v = (1-b2) g^2,
  // p -= lr / (1-b1) m / (sqrt(v) / sqrt(1-b2) + eps).
  auto adam_ref = [&](const Vec& p, const VecD& g) {
    VecD out(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double m = (1 - double(beta1)) * g[i], v = (1 - double(beta2)) * g[i] * g[i];
      out[i] = p[i] - lr / (1 - double(beta1)) * m / (std::sqrt(v) / std::sqrt(1 - double(beta2)) + eps);
    }
    return out;
  };

  // ---- GPU ----
  const auto d_ids = upload_ints(ids), d_targets = upload_ints(targets);
  for (cuda::LstmAlgo algo : algos_to_test(B, H)) {
    const std::string name = std::string("training step ") + cuda::lstm_algo_name(algo);
    auto p_emb = upload(emb), p_wih = upload(w.w_ih), p_whh = upload(w.w_hh), p_bih = upload(w.b_ih),
         p_bhh = upload(w.b_hh), p_wout = upload(w_out), p_bout = upload(b_out);
    cuda::Buffer gx(sz(TB * E)), xw(sz(TB * G)), h(sz(TB * H)), gates(sz(TB * G)),
        cst(sz((T + 1) * B * H)), logits0(sz(TB * V)), logits(sz(TB * V)), dloss(1),
        lse(sz(TB)), count(1), one(1), dlog(sz(TB * V)), g_wout(w_out.size()),
        g_bout(b_out.size()), g_h(sz(TB * H)), dz(sz(TB * G)), g_x(sz(TB * E)),
        g_wih(w.w_ih.size()), g_whh(w.w_hh.size()), g_bih(sz(G)), g_bhh(sz(G)),
        g_emb(emb.size());
    const cuda::LstmWeights weights{p_wih.data(), p_whh.data(), p_bih.data(), p_bhh.data()};
    // forward
    cuda::embedding_forward(p_emb.data(), V, E, d_ids.data(), TB, gx.data());
    cuda::lstm_sequence_forward(gx.data(), T, B, E, H, weights, nullptr, nullptr, xw.data(), h.data(), gates.data(),
                                cst.data(), algo);
    cuda::gemm(false, true, TB, V, H, 1.f, h.data(), p_wout.data(), 0.f, logits0.data());
    cuda::binary(cuda::BinaryOp::add, logits0.data(), {TB, V}, p_bout.data(), {V}, logits.data());
    cuda::cross_entropy_forward(logits.data(), d_targets.data(), TB, V, ignore, dloss.data(), lse.data(),
                                count.data());
    // backward
    cuda::fill(one.data(), 1, 1.f);
    cuda::cross_entropy_backward(logits.data(), d_targets.data(), lse.data(), count.data(), one.data(), TB, V, ignore,
                                 dlog.data());
    cuda::gemm(true, false, V, H, TB, 1.f, dlog.data(), h.data(), 0.f, g_wout.data());   // (V, H) = dlogitsᵀ h
    cuda::sum_axis(dlog.data(), 1, TB, V, g_bout.data());                                 // (V)
    cuda::gemm(false, false, TB, H, V, 1.f, dlog.data(), p_wout.data(), 0.f, g_h.data()); // (T B, H) = dlogits W_out
    cuda::LstmGrads grads{g_x.data(), nullptr, nullptr, g_wih.data(), g_whh.data(), g_bih.data(), g_bhh.data()};
    cuda::lstm_sequence_backward(gx.data(), T, B, E, H, weights, nullptr, h.data(), gates.data(), cst.data(),
                                 g_h.data(), nullptr, dz.data(), grads, algo);
    cuda::fill(g_emb.data(), g_emb.size(), 0.f);
    cuda::embedding_backward(g_x.data(), d_ids.data(), TB, V, E, g_emb.data());

    check_close(download(dloss.data(), 1), {loss}, 1e-5, 1e-5, name + " loss");
    check_close(download(g_wout.data(), g_wout.size()), dw_out, 1e-5, kGradRtol, name + " dW_out");
    check_close(download(g_bout.data(), g_bout.size()), db_out, 1e-5, kGradRtol, name + " db_out");
    check_close(download(g_wih.data(), g_wih.size()), bwd.dw_ih, 1e-5, kGradRtol, name + " dW_ih");
    check_close(download(g_whh.data(), g_whh.size()), bwd.dw_hh, 1e-5, kGradRtol, name + " dW_hh");
    check_close(download(g_bih.data(), g_bih.size()), bwd.db, 1e-5, kGradRtol, name + " db_ih");
    check_close(download(g_emb.data(), g_emb.size()), demb, 1e-5, kGradRtol, name + " d embedding");

    // Adam step 1 on every parameter.
    struct Param {
      cuda::Buffer* p;
      cuda::Buffer* g;
      const Vec* before;
      const VecD* grad_ref;
      const char* label;
    };
    const Param params[] = {{&p_emb, &g_emb, &emb, &demb, "embedding"},  {&p_wih, &g_wih, &w.w_ih, &bwd.dw_ih, "W_ih"},
                            {&p_whh, &g_whh, &w.w_hh, &bwd.dw_hh, "W_hh"}, {&p_bih, &g_bih, &w.b_ih, &bwd.db, "b_ih"},
                            {&p_bhh, &g_bhh, &w.b_hh, &bwd.db, "b_hh"},    {&p_wout, &g_wout, &w_out, &dw_out, "W_out"},
                            {&p_bout, &g_bout, &b_out, &db_out, "b_out"}};
    for (const auto& prm : params) {
      const std::size_t n = prm.before->size();
      cuda::Buffer m(n), v(n);
      cuda::fill(m.data(), n, 0.f);
      cuda::fill(v.data(), n, 0.f);
      cuda::adam_step(prm.p->data(), prm.g->data(), m.data(), v.data(), static_cast<std::int64_t>(n), lr, beta1, beta2,
                      eps, 0.f, 1);
      check_close(download(prm.p->data(), n), adam_ref(*prm.before, *prm.grad_ref), 2e-5, 1e-5,
                  name + " updated " + prm.label);
    }
  }
}

#else

TEST_CASE("cuda: LSTM") { MESSAGE("skipped: no CUDA device (legato was built without LEGATO_CUDA)"); }

#endif
