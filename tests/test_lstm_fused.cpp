// The fused whole-sequence LSTM (ops/lstm.hpp): against plain loops, against a
// cell composed here from primitive ops (T up to 100), against PyTorch
// (tests/fixtures/lstm_fused_fixture.txt), through the gradient checker for
// every input and weight, and its errors. Every case runs on both engines:
// the portable one and, when the build has one, the fused one (AVX-512, or
// AVX2 on machines without it).
#include <doctest/doctest.h>

#include "legato/ops/lstm.hpp"
#include "legato/ops/lstm_infer.hpp"
#include "legato/nn/lstm.hpp"
#include "legato/ops/reduce.hpp"

#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "gradcheck.hpp"
#include "legato/ops/activations.hpp"
#include "legato/ops/matmul.hpp"
#include "legato/ops/shape.hpp"

using namespace legato;
using namespace legato::testing;

namespace {

struct Weights {
  Tensor w_ih, w_hh, b_ih, b_hh;  // (4H, I), (4H, H), (4H), (4H)
};

Weights random_weights(std::int64_t I, std::int64_t H, Rng& rng, float scale = 0.5f) {
  return {random_leaf({4 * H, I}, rng, -scale, scale), random_leaf({4 * H, H}, rng, -scale, scale),
          random_leaf({4 * H}, rng, -scale, scale), random_leaf({4 * H}, rng, -scale, scale)};
}

Ids random_ids(std::int64_t T, std::int64_t B, std::int64_t V, Rng& rng) {
  Ids ids{{T, B}, {}};
  for (std::int64_t k = 0; k < T * B; ++k) ids.values.push_back(static_cast<std::int32_t>(rng.below(std::uint64_t(V))));
  return ids;
}

// ids (T, B, K): id q of each row drawn from its own range [q·V/K, (q+1)·V/K)
// (K features side by side), except that the last row repeats its first id
// (a column counted twice must get twice the input and twice the gradient).
Ids random_multi_hot_ids(std::int64_t T, std::int64_t B, std::int64_t K, std::int64_t V, Rng& rng) {
  Ids ids{{T, B, K}, {}};
  const std::int64_t span = V / K;
  for (std::int64_t r = 0; r < T * B; ++r)
    for (std::int64_t q = 0; q < K; ++q)
      ids.values.push_back(static_cast<std::int32_t>(q * span + std::int64_t(rng.below(std::uint64_t(span)))));
  ids.values.back() = ids.values[ids.values.size() - std::size_t(K)];
  return ids;
}

// x (T, B, V) = Σ_q one_hot(ids[t, b, q]) for ids (T, B, K), by hand.
Tensor multi_hot_by_hand(const Ids& ids, std::int64_t V) {
  const std::int64_t K = ids.shape[2];
  Tensor x = Tensor::zeros({ids.shape[0], ids.shape[1], V});
  for (std::size_t k = 0; k < ids.values.size(); ++k) x.data()[std::int64_t(k) / K * V + ids.values[k]] += 1.f;
  return x;
}

// x (T, B, V) = one_hot(ids), built by hand so it does not depend on shape.hpp.
Tensor one_hot_by_hand(const Ids& ids, std::int64_t V) {
  Tensor x = Tensor::zeros({ids.shape[0], ids.shape[1], V});
  for (std::size_t k = 0; k < ids.values.size(); ++k) x.data()[std::int64_t(k) * V + ids.values[k]] = 1.f;
  return x;
}

// Runs the body once per engine: the portable one, and the fused one (AVX-512
// or AVX2) when built.
template <class Body>
void for_each_engine(Body body) {
  std::vector<bool> engines{true};
  if (LEGATO_LSTM_FAST_ENGINE || LEGATO_LSTM_AVX2_ENGINE) engines.push_back(false);
  for (bool portable : engines) {
    lstm_kernels::force_portable_flag() = portable;
    CAPTURE(portable);
    body();
  }
  lstm_kernels::force_portable_flag() = false;
}

// The LSTM as a cell composed of primitive ops, one graph node per op, step by
// step. Returns the same packed (T+1, B, H) as the fused op.
Tensor composed_lstm(const Tensor& x, const Tensor& h0, const Tensor& c0, const Weights& w) {
  const std::int64_t T = x.size(0), B = x.size(1), H = w.w_hh.size(1);
  Tensor h = h0.defined() ? h0 : Tensor::zeros({B, H});
  Tensor c = c0.defined() ? c0 : Tensor::zeros({B, H});
  std::vector<Tensor> rows;
  for (std::int64_t t = 0; t < T; ++t) {
    const Tensor x_t = squeeze(slice(x, 0, t, t + 1), 0);                       // (B, I)
    const Tensor z = add(linear(x_t, w.w_ih, w.b_ih), linear(h, w.w_hh, w.b_hh));  // (B, 4H)
    const Tensor i = sigmoid(slice(z, 1, 0, H)), f = sigmoid(slice(z, 1, H, 2 * H));
    const Tensor g = tanh(slice(z, 1, 2 * H, 3 * H)), o = sigmoid(slice(z, 1, 3 * H, 4 * H));
    c = add(mul(f, c), mul(i, g));
    h = mul(o, tanh(c));
    rows.push_back(h);
  }
  rows.push_back(c);
  return stack(rows, 0);
}

std::vector<Tensor> leaves_of(const Tensor& x, const Tensor& h0, const Tensor& c0, const Weights& w) {
  return {x, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh};
}

void zero_grads(std::vector<Tensor> leaves) {
  for (auto& t : leaves)
    if (t.defined()) t.zero_grad();
}

// Back-propagates `seed` through reference() and through tested(), each with
// the leaves' gradients zeroed first, and checks that outputs and every
// leaf's gradient agree within tol (a leaf no gradient reached in the
// reference must get none from the tested op either).
template <class Reference, class Tested>
void check_same_backward(const std::vector<Tensor>& leaves, const Tensor& seed, Reference reference, Tested tested,
                         float tol) {
  zero_grads(leaves);
  const Tensor want = reference();
  want.backward(seed);
  std::vector<Tensor> expected;
  for (const Tensor& t : leaves) expected.push_back(t.defined() && t.grad().defined() ? t.grad().clone() : Tensor());
  zero_grads(leaves);
  const Tensor got = tested();
  got.backward(seed);
  CHECK_MESSAGE(allclose(got, want, tol, tol), describe_mismatches(got, want, tol, tol));
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    CAPTURE(k);
    if (!expected[k].defined()) {
      CHECK((!leaves[k].defined() || !leaves[k].grad().defined()));
      continue;
    }
    REQUIRE(leaves[k].grad().defined());
    CHECK_MESSAGE(allclose(leaves[k].grad(), expected[k], tol, tol),
                  describe_mismatches(leaves[k].grad(), expected[k], tol, tol));
  }
}

}  // namespace

TEST_CASE("lstm_sequence matches the plain-loop reference") {
  Rng rng(11);
  for (auto [T, B, I, H] : {std::array<std::int64_t, 4>{1, 1, 1, 1}, {5, 3, 4, 7}, {9, 2, 5, 16}, {4, 7, 3, 32},
                            {3, 64, 45, 64}, {6, 13, 3, 24}}) {
    CAPTURE(T);
    CAPTURE(B);
    CAPTURE(H);
    const Weights w = random_weights(I, H, rng);
    const Tensor x = Tensor::uniform({T, B, I}, -1.f, 1.f, rng);
    const Tensor h0 = Tensor::uniform({B, H}, -1.f, 1.f, rng), c0 = Tensor::uniform({B, H}, -1.f, 1.f, rng);
    for_each_engine([&] {
      for (bool with_state : {false, true}) {
        const Tensor s_h = with_state ? h0 : Tensor(), s_c = with_state ? c0 : Tensor();
        const Tensor expected = lstm_sequence_ref(x, s_h, s_c, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
        const Tensor got = lstm_sequence(x, s_h, s_c, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
        CHECK_MESSAGE(allclose(got, expected, 2e-6f, 1e-5f), describe_mismatches(got, expected, 2e-6f, 1e-5f));
      }
    });
  }
}

TEST_CASE("lstm_sequence passes the gradient checker on x, h0, c0 and every weight") {
  Rng rng(12);
  for (auto [T, B, I, H] : {std::array<std::int64_t, 4>{3, 2, 3, 4}, {4, 3, 2, 16}}) {
    CAPTURE(H);
    const Weights w = random_weights(I, H, rng);
    const Tensor x = random_leaf({T, B, I}, rng);
    const Tensor h0 = random_leaf({B, H}, rng), c0 = random_leaf({B, H}, rng);
    for_each_engine([&] {
      CHECK_GRADIENTS(
          [](const std::vector<Tensor>& in) { return lstm_sequence(in[0], in[1], in[2], in[3], in[4], in[5], in[6]); },
          {x, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh});
      // Without initial state (undefined h0, c0 = zeros).
      CHECK_GRADIENTS(
          [](const std::vector<Tensor>& in) {
            return lstm_sequence(in[0], Tensor(), Tensor(), in[1], in[2], in[3], in[4]);
          },
          {x, w.w_ih, w.w_hh, w.b_ih, w.b_hh});
    });
  }
}

TEST_CASE("lstm_sequence_ids, one or K ids per row, passes the gradient checker on h0, c0 and every weight") {
  Rng rng(13);
  for (auto [T, B, K, V, H] : {std::array<std::int64_t, 5>{3, 2, 1, 5, 4}, {4, 3, 1, 6, 16}, {3, 2, 3, 9, 4}, {4, 4, 2, 10, 16}}) {
    CAPTURE(H);
    CAPTURE(K);
    const Ids ids = K == 1 ? random_ids(T, B, V, rng) : random_multi_hot_ids(T, B, K, V, rng);
    const Weights w = random_weights(V, H, rng);
    const Tensor h0 = random_leaf({B, H}, rng), c0 = random_leaf({B, H}, rng);
    for_each_engine([&] {
      CHECK_GRADIENTS(
          [&ids](const std::vector<Tensor>& in) {
            return lstm_sequence_ids(ids, in[0], in[1], in[2], in[3], in[4], in[5]);
          },
          {h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh});
      CHECK_GRADIENTS(
          [&ids](const std::vector<Tensor>& in) {
            return lstm_sequence_ids(ids, Tensor(), Tensor(), in[0], in[1], in[2], in[3]);
          },
          {w.w_ih, w.w_hh, w.b_ih, w.b_hh});
    });
  }
}

TEST_CASE("lstm_sequence_ids equals lstm_sequence on one-hot input, outputs and gradients") {
  Rng rng(14);
  const std::int64_t T = 12, B = 5, V = 9, H = 32;
  const Ids ids = random_ids(T, B, V, rng);
  const Tensor x = one_hot_by_hand(ids, V).set_requires_grad();
  const Weights w = random_weights(V, H, rng);
  const Tensor h0 = random_leaf({B, H}, rng), c0 = random_leaf({B, H}, rng);
  const Tensor seed = Tensor::uniform({T + 1, B, H}, -1.f, 1.f, rng);
  for_each_engine([&] {
    for (bool with_state : {false, true}) {
      CAPTURE(with_state);
      const Tensor s_h = with_state ? h0 : Tensor(), s_c = with_state ? c0 : Tensor();
      zero_grads(leaves_of(x, h0, c0, w));
      const Tensor dense = lstm_sequence(x, s_h, s_c, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
      dense.backward(seed);
      std::vector<Tensor> dense_grads;
      for (auto& t : leaves_of(x, h0, c0, w))
        dense_grads.push_back(t.grad().defined() ? t.grad().clone() : Tensor());
      zero_grads(leaves_of(x, h0, c0, w));
      const Tensor sparse = lstm_sequence_ids(ids, s_h, s_c, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
      sparse.backward(seed);
      CHECK_MESSAGE(allclose(sparse, dense, 1e-6f, 1e-6f), describe_mismatches(sparse, dense, 1e-6f, 1e-6f));
      const auto leaves = leaves_of(x, h0, c0, w);
      for (std::size_t k = 1; k < leaves.size(); ++k) {  // every gradient but x's
        CAPTURE(k);
        if (!with_state && (k == 1 || k == 2)) {
          CHECK(!leaves[k].grad().defined());
          continue;
        }
        REQUIRE(leaves[k].grad().defined());
        CHECK_MESSAGE(allclose(leaves[k].grad(), dense_grads[k], 1e-5f, 1e-5f),
                      describe_mismatches(leaves[k].grad(), dense_grads[k], 1e-5f, 1e-5f));
      }
    }
  });
}

TEST_CASE("lstm_sequence_ids with K ids per row equals lstm_sequence on the multi-hot input") {
  Rng rng(24);
  const std::int64_t T = 10, K = 3, V = 15;
  // Even B takes the bf16 engine's pair route when bf16 is on; H = 24 gives
  // the AVX2 engine a backward panel one vector wide.
  for (auto [B, H] : {std::array<std::int64_t, 2>{4, 32}, {5, 32}, {3, 24}}) {
    CAPTURE(B);
    CAPTURE(H);
    const Ids ids = random_multi_hot_ids(T, B, K, V, rng);
    const Tensor x = multi_hot_by_hand(ids, V);
    const Weights w = random_weights(V, H, rng);
    const Tensor h0 = random_leaf({B, H}, rng), c0 = random_leaf({B, H}, rng);
    const Tensor seed = Tensor::uniform({T + 1, B, H}, -1.f, 1.f, rng);
    for_each_engine([&] {
      check_same_backward(
          {h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh}, seed,
          [&] { return lstm_sequence(x, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh); },
          [&] { return lstm_sequence_ids(ids, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh); }, 1e-5f);
    });
  }
}

TEST_CASE("nn::LSTM reads (T, B, K) and batch-first (B, T, K) ids the same, fused and composed") {
  Rng rng(25);
  const std::int64_t T = 6, B = 3, K = 2, V = 8, H = 16;
  const Ids ids = random_multi_hot_ids(T, B, K, V, rng);
  Ids batch_first{{B, T, K}, std::vector<std::int32_t>(ids.values.size())};
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t q = 0; q < K; ++q)
        batch_first.values[std::size_t((b * T + t) * K + q)] = ids.values[std::size_t((t * B + b) * K + q)];
  nn::LSTMOptions options;
  options.input_size = V;
  options.hidden_size = H;
  Rng init(3);
  nn::LSTM fused(options, init);
  options.batch_first = true;
  Rng init2(3);
  nn::LSTM first(options, init2);
  options.batch_first = false;
  options.use_fused = false;
  Rng init3(3);
  nn::LSTM composed(options, init3);
  const Tensor a = fused.forward_ids(ids).output;                           // (T, B, H)
  const Tensor b = transpose(first.forward_ids(batch_first).output, 0, 1);  // (B, T, H) -> (T, B, H)
  const Tensor c = composed.forward_ids(ids).output;
  CHECK_MESSAGE(allclose(a, b, 0.f, 0.f), describe_mismatches(a, b, 0.f, 0.f));
  CHECK_MESSAGE(allclose(a, c, 1e-6f, 1e-5f), describe_mismatches(a, c, 1e-6f, 1e-5f));
  sum(c).backward();
  sum(a).backward();
  const Tensor want = composed.parameters()[0].grad(), got = fused.parameters()[0].grad();
  CHECK_MESSAGE(allclose(got, want, 1e-5f, 1e-5f), describe_mismatches(got, want, 1e-5f, 1e-5f));
}

TEST_CASE("LstmInferLayer::step_multi_hot reproduces lstm_sequence_ids with K ids per row, step by step") {
  Rng rng(26);
  for (auto [B, K, V, H] : {std::array<std::int64_t, 4>{1, 3, 143, 256}, {3, 2, 10, 7}, {2, 3, 12, 48}}) {
    CAPTURE(H);
    const std::int64_t T = 7;
    const Weights w = random_weights(V, H, rng, 0.3f);
    const Ids ids = random_multi_hot_ids(T, B, K, V, rng);
    const Tensor h0 = Tensor::uniform({B, H}, -1.f, 1.f, rng), c0 = Tensor::uniform({B, H}, -1.f, 1.f, rng);
    NoGradGuard no_grad;
    const Tensor want = lstm_sequence_ids(ids, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
    LstmInferLayer layer(w.w_ih, w.w_hh, w.b_ih, w.b_hh, MatmulPrecision::fp32);
    Tensor h = h0.clone(), c = c0.clone();
    for (std::int64_t t = 0; t < T; ++t) {
      CAPTURE(t);
      layer.step_multi_hot(ids.values.data() + t * B * K, K, B, h.data(), c.data());
      const Tensor want_t = Tensor::from_vector({B, H}, std::vector<float>(want.data() + t * B * H, want.data() + (t + 1) * B * H));
      // Same sums in the same order; the matrix-vector product may group them
      // differently from the batched engine, hence a tolerance.
      CHECK_MESSAGE(allclose(h, want_t, 1e-6f, 1e-5f), describe_mismatches(h, want_t, 1e-6f, 1e-5f));
    }
    const std::int32_t bad[3] = {0, std::int32_t(V), 0};
    CHECK(error_of([&] { layer.step_multi_hot(bad, K, 1, h.data(), c.data()); }).find("outside [0, ") != std::string::npos);
  }
}

TEST_CASE("lstm_sequence agrees with the composed cell on outputs and every gradient, T up to 100") {
  Rng rng(15);
  for (auto [T, B, I, H] : {std::array<std::int64_t, 4>{1, 3, 4, 8}, {17, 4, 6, 16}, {100, 3, 5, 32}, {5, 13, 4, 24},
                            {3, 1, 2, 8}, {4, 8, 3, 8}, {2, 7, 3, 40}}) {
    CAPTURE(T);
    const Weights w = random_weights(I, H, rng, 0.3f);
    const Tensor x = random_leaf({T, B, I}, rng);
    const Tensor h0 = random_leaf({B, H}, rng), c0 = random_leaf({B, H}, rng);
    const Tensor seed = Tensor::uniform({T + 1, B, H}, -1.f, 1.f, rng);
    for_each_engine([&] {
      for (bool with_state : {false, true}) {
        CAPTURE(with_state);
        const Tensor s_h = with_state ? h0 : Tensor(), s_c = with_state ? c0 : Tensor();
        check_same_backward(
            leaves_of(x, h0, c0, w), seed, [&] { return composed_lstm(x, s_h, s_c, w); },
            [&] { return lstm_sequence(x, s_h, s_c, w.w_ih, w.w_hh, w.b_ih, w.b_hh); }, 1e-5f);
      }
    });
  }
}

TEST_CASE("lstm_sequence records no graph under NoGradGuard and gives the same values") {
  // Without a graph the op keeps only one step of gates and two rows of c.
  Rng rng(16);
  for (std::int64_t H : {16, 7}) {
    CAPTURE(H);
    const Weights w = random_weights(3, H, rng);
    const Tensor x = random_leaf({6, 4, 3}, rng), c0 = random_leaf({4, H}, rng);
    const Ids ids = random_ids(6, 4, 3, rng);
    for_each_engine([&] {
      const Tensor tracked = lstm_sequence(x, Tensor(), c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
      const Tensor tracked_ids = lstm_sequence_ids(ids, Tensor(), c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
      CHECK(tracked.requires_grad());
      NoGradGuard no_grad;
      const Tensor untracked = lstm_sequence(x, Tensor(), c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
      const Tensor untracked_ids = lstm_sequence_ids(ids, Tensor(), c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
      CHECK(!untracked.requires_grad());
      CHECK(allclose(untracked, tracked, 0.f, 0.f));
      CHECK(allclose(untracked_ids, tracked_ids, 0.f, 0.f));
    });
  }
}

TEST_CASE("LstmInferLayer steps reproduce lstm_sequence, token by token") {
  Rng rng(19);
  for (auto [B, V, H] : {std::array<std::int64_t, 3>{1, 45, 256}, {3, 7, 7}, {2, 5, 48}, {2, 6, 160}, {2, 5, 40}}) {
    CAPTURE(H);
    const std::int64_t T = 9;
    const Weights w = random_weights(V, H, rng, 0.3f);
    const Ids ids = random_ids(T, B, V, rng);
    const Tensor h0 = Tensor::uniform({B, H}, -1.f, 1.f, rng), c0 = Tensor::uniform({B, H}, -1.f, 1.f, rng);
    const Tensor x = Tensor::uniform({T, B, V}, -1.f, 1.f, rng);
    NoGradGuard no_grad;
    const Tensor by_ids = lstm_sequence_ids(ids, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
    const Tensor dense = lstm_sequence(x, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
    LstmInferLayer layer(w.w_ih, w.w_hh, w.b_ih, w.b_hh);
    Tensor h = h0.clone(), c = c0.clone(), h2 = h0.clone(), c2 = c0.clone();
    for (std::int64_t t = 0; t < T; ++t) {
      CAPTURE(t);
      layer.step_ids(ids.values.data() + t * B, B, h.data(), c.data());
      layer.step(x.data() + t * B * V, B, h2.data(), c2.data());
      const Tensor want = Tensor::from_vector({B, H}, std::vector<float>(by_ids.data() + t * B * H, by_ids.data() + (t + 1) * B * H));
      const Tensor want2 = Tensor::from_vector({B, H}, std::vector<float>(dense.data() + t * B * H, dense.data() + (t + 1) * B * H));
      CHECK_MESSAGE(allclose(h, want, 1e-6f, 1e-5f), describe_mismatches(h, want, 1e-6f, 1e-5f));
      CHECK_MESSAGE(allclose(h2, want2, 1e-6f, 1e-5f), describe_mismatches(h2, want2, 1e-6f, 1e-5f));
    }
    const Tensor c_T = Tensor::from_vector({B, H}, std::vector<float>(by_ids.data() + T * B * H, by_ids.data() + (T + 1) * B * H));
    CHECK(allclose(c, c_T, 1e-6f, 1e-5f));
    const std::int32_t bad = std::int32_t(V);
    CHECK(error_of([&] { layer.step_ids(&bad, 1, h.data(), c.data()); }).find("outside [0, ") != std::string::npos);
  }
}

TEST_CASE("the fused engine the build has runs for the hidden sizes it supports") {
  // Guards the preprocessor logic that picks the engine: were it to fall back
  // to the portable one, for_each_engine would compare that engine with itself.
  if (!LEGATO_LSTM_FAST_ENGINE && !LEGATO_LSTM_AVX2_ENGINE) return;
  lstm_detail::Dims d{4, 3, 5, 16};
  CHECK(lstm_detail::fast_engine_runs(d));
  lstm_kernels::force_portable_flag() = true;
  CHECK(!lstm_detail::fast_engine_runs(d));
  lstm_kernels::force_portable_flag() = false;
  d.H = 7;  // not a whole number of vectors: the portable engine
  CHECK(!lstm_detail::fast_engine_runs(d));
}

TEST_CASE("lstm_sequence_ids gives the same bits forward and backward on any thread count") {
  // The fused engines split hidden units between threads: no result may
  // depend on where the split falls, or on a thread owning no panel at all.
  // H = 24 and 40 are odd numbers of 8-lane vectors, so on an AVX2 build the
  // forward panels hold 8 units and the backward ones 16, the last one 8. They
  // are not multiples of 16, so an AVX-512 build runs the portable engine here
  // (fast_engine_supports is false): only the AVX2 engine's split is tested.
  Rng rng(25);
  const std::int64_t T = 5, B = 13, K = 3, V = 12;
  for (std::int64_t H : {24, 40}) {
    CAPTURE(H);
    const Ids ids = random_multi_hot_ids(T, B, K, V, rng);
    const Weights w = random_weights(V, H, rng, 0.3f);
    const Tensor h0 = random_leaf({B, H}, rng), c0 = random_leaf({B, H}, rng);
    const Tensor seed = Tensor::uniform({T + 1, B, H}, -1.f, 1.f, rng);
    auto run = [&](int threads) {
      ThreadCountScope scope(threads);
      const std::vector<Tensor> leaves{h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh};
      zero_grads(leaves);
      const Tensor out = lstm_sequence_ids(ids, h0, c0, w.w_ih, w.w_hh, w.b_ih, w.b_hh);
      out.backward(seed);
      std::vector<float> bits(out.data(), out.data() + out.numel());
      for (const Tensor& leaf : leaves) bits.insert(bits.end(), leaf.grad().data(), leaf.grad().data() + leaf.numel());
      return bits;
    };
    const std::vector<float> one = run(1);
    for (int threads : {2, 3, 7}) {
      CAPTURE(threads);
      const std::vector<float> many = run(threads);
      REQUIRE(many.size() == one.size());
      std::size_t differ = 0, first = 0;
      for (std::size_t k = 0; k < one.size(); ++k)
        if (one[k] != many[k] && differ++ == 0) first = k;
      INFO("first difference at value ", first, " of ", one.size());
      CHECK(differ == 0);
    }
  }
}

TEST_CASE("a NaN in the input comes out as NaN on every engine") {
  // The fused engines clamp the argument of exp; the clamp must not turn a
  // NaN into a number, or a diverged model would look healthy.
  Rng rng(26);
  const std::int64_t T = 3, B = 2, I = 4, H = 16;
  const Weights w = random_weights(I, H, rng);
  Tensor x = Tensor::uniform({T, B, I}, -1.f, 1.f, rng);
  x.data()[0] = std::nanf("");  // step 0, row 0: reaches every later step of row 0 through h
  for_each_engine([&] {
    const Tensor out = lstm_sequence(x, Tensor(), Tensor(), w.w_ih, w.w_hh, w.b_ih, w.b_hh);
    std::int64_t nan_in_row0 = 0, nan_in_row1 = 0;
    for (std::int64_t t = 0; t <= T; ++t)
      for (std::int64_t j = 0; j < H; ++j) {
        nan_in_row0 += std::isnan(out.data()[(t * B + 0) * H + j]);
        nan_in_row1 += std::isnan(out.data()[(t * B + 1) * H + j]);
      }
    CHECK(nan_in_row0 == (T + 1) * H);  // h_1..h_T and c_T of row 0
    CHECK(nan_in_row1 == 0);
  });
}

TEST_CASE("LstmInferLayer gives the same bits on any thread count, in fp32 and bf16") {
  // From H = 128 on (8 panels of 16 units on AVX-512, 16 of 8 units on AVX2)
  // the threads split the panels of W_hh. AVX-512 packs them in groups of
  // four: 3 threads start ranges inside a group, and 2H/16 threads (two per
  // panel) leave some with no panel at all. AVX2 runs a thread's panels three
  // at a time: 2 or 3 threads leave shorter last runs, and 2H/16 threads take
  // one panel each.
  if (!LEGATO_LSTM_FAST_ENGINE && !LEGATO_LSTM_AVX2_ENGINE) return;
  Rng rng(23);
  std::vector<MatmulPrecision> precisions{MatmulPrecision::fp32};
  if (bf16_supported()) precisions.push_back(MatmulPrecision::bf16);
  for (MatmulPrecision precision : precisions)
    for (std::int64_t H : {192, 272, 320}) {
      CAPTURE(precision_name(precision));
      CAPTURE(H);
      const std::int64_t V = 7, T = 5;
      const Weights w = random_weights(V, H, rng, 0.3f);
      const Ids ids = random_ids(T, 1, V, rng);
      auto run = [&](int threads) {
        ThreadCountScope scope(threads);
        LstmInferLayer layer(w.w_ih, w.w_hh, w.b_ih, w.b_hh, precision);
        std::vector<float> h(std::size_t(H), 0.f), c(h);
        for (std::int64_t t = 0; t < T; ++t) layer.step_ids(ids.values.data() + t, 1, h.data(), c.data());
        h.insert(h.end(), c.begin(), c.end());
        return h;
      };
      const std::vector<float> one = run(1);
      for (int threads : {2, 3, int(2 * H / 16)}) {
        CAPTURE(threads);
        const std::vector<float> many = run(threads);
        std::size_t differ = 0;
        for (std::size_t k = 0; k < one.size(); ++k) differ += one[k] != many[k];
        CHECK_MESSAGE(differ == 0, differ, " of ", one.size(), " values of h and c differ from one thread's");
      }
    }
}

TEST_CASE("sample_logits follows softmax(logits / temperature)") {
  Rng rng(20);
  const std::vector<float> logits{0.f, 1.f, 2.f, -1.f};
  for (float temperature : {0.5f, 1.f, 2.f}) {
    CAPTURE(temperature);
    std::vector<double> expected(4), counts(4, 0.0);
    double total = 0;
    for (int v = 0; v < 4; ++v) total += expected[std::size_t(v)] = std::exp(logits[std::size_t(v)] / temperature);
    const int draws = 200000;
    for (int n = 0; n < draws; ++n) counts[std::size_t(sample_logits(logits.data(), 4, temperature, rng))] += 1;
    for (int v = 0; v < 4; ++v) CHECK(counts[std::size_t(v)] / draws == doctest::Approx(expected[std::size_t(v)] / total).epsilon(0.02));
  }
  CHECK(error_of([&] { sample_logits(logits.data(), 4, 0.f, rng); }).find("temperature must be > 0") != std::string::npos);
}

TEST_CASE("sample_logits at a temperature near 0 draws the largest logit, down to the smallest float") {
  // 1 / 1e-40 overflows float: the scaled logits must not become inf - inf.
  Rng rng(22);
  const std::vector<float> logits{0.f, 1.f, 2.f, -1.f};
  for (float temperature : {1e-3f, 1e-30f, 1e-40f, std::numeric_limits<float>::denorm_min()}) {
    CAPTURE(temperature);
    for (int n = 0; n < 100; ++n) REQUIRE(sample_logits(logits.data(), 4, temperature, rng) == 2);
  }
  const std::vector<float> tie{2.f, 0.f, 2.f};  // a tie at the top is still a fair draw
  std::vector<double> counts(3, 0.0);
  for (int n = 0; n < 20000; ++n) counts[std::size_t(sample_logits(tie.data(), 3, 1e-40f, rng))] += 1;
  CHECK(counts[1] == 0);
  CHECK(counts[0] / 20000 == doctest::Approx(0.5).epsilon(0.05));
}

TEST_CASE("sample_logits never draws a logit of -inf (a masked token)") {
  Rng rng(21);
  const float masked = -std::numeric_limits<float>::infinity();
  const std::vector<float> logits{masked, 0.f, 1.f, masked};
  std::vector<double> counts(4, 0.0);
  const int draws = 100000;
  for (int n = 0; n < draws; ++n) counts[std::size_t(sample_logits(logits.data(), 4, 1.f, rng))] += 1;
  CHECK(counts[0] == 0);
  CHECK(counts[3] == 0);
  CHECK(counts[2] / draws == doctest::Approx(std::exp(1.0) / (1.0 + std::exp(1.0))).epsilon(0.02));
  const std::vector<float> none{masked, masked};
  CHECK(error_of([&] { sample_logits(none.data(), 2, 1.f, rng); }).find("every logit is -inf") != std::string::npos);
}

// ------------------------------------------------------------- PyTorch ----

namespace {
// tests/fixtures/lstm_fused_fixture.txt: blocks of "name rank dims... values...".
std::map<std::string, Tensor> read_fixture(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, Tensor> out;
  if (!in) return out;
  std::string name;
  while (in >> name) {
    int rank = 0;
    in >> rank;
    Shape shape(static_cast<std::size_t>(rank));
    for (auto& d : shape) in >> d;
    Tensor t = Tensor::empty(shape);
    for (std::int64_t k = 0; k < t.numel(); ++k) in >> t.data()[k];
    REQUIRE_MESSAGE(in.good(), "fixture ", path, " is truncated at tensor ", name);
    out[name] = t;
  }
  return out;
}
}  // namespace

TEST_CASE("lstm_sequence and lstm_sequence_ids match PyTorch's nn.LSTM (fixture)") {
  const std::string path = LEGATO_SOURCE_DIR "/tests/fixtures/lstm_fused_fixture.txt";
  auto f = read_fixture(path);
  REQUIRE_MESSAGE(!f.empty(), "missing ", path, "; regenerate with: python3 tests/fixtures/make_lstm_fixture.py");
  const float atol = 1e-5f, rtol = 1e-4f;
  const char* regenerate = " (regenerate: python3 tests/fixtures/make_lstm_fixture.py)";
  for_each_engine([&] {
    Tensor w_ih = f["w_ih"].clone().set_requires_grad(), w_hh = f["w_hh"].clone().set_requires_grad();
    Tensor b_ih = f["b_ih"].clone().set_requires_grad(), b_hh = f["b_hh"].clone().set_requires_grad();
    Tensor h0 = f["h0"].clone().set_requires_grad(), c0 = f["c0"].clone().set_requires_grad();
    Tensor x = f["x"].clone().set_requires_grad();
    // Dense input: the loss is sum(out * seed) over the outputs and the final c.
    const Tensor out = lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh);
    CHECK_MESSAGE(allclose(out, f["out"], atol, rtol), describe_mismatches(out, f["out"], atol, rtol), regenerate);
    out.backward(f["seed"]);
    for (auto [got, name] : {std::pair{x, "dx"}, {h0, "dh0"}, {c0, "dc0"}, {w_ih, "dw_ih"}, {w_hh, "dw_hh"},
                             {b_ih, "db_ih"}, {b_hh, "db_hh"}}) {
      CAPTURE(name);
      CHECK_MESSAGE(allclose(got.grad(), f[name], atol, rtol), describe_mismatches(got.grad(), f[name], atol, rtol),
                    regenerate);
    }
    // Token ids, no initial state.
    const Tensor ids_f = f["ids"];
    Ids ids{ids_f.shape(), {}};
    for (std::int64_t k = 0; k < ids_f.numel(); ++k) ids.values.push_back(static_cast<std::int32_t>(ids_f.data()[k]));
    Tensor v_ih = f["v_w_ih"].clone().set_requires_grad(), v_hh = f["v_w_hh"].clone().set_requires_grad();
    Tensor v_bi = f["v_b_ih"].clone().set_requires_grad(), v_bh = f["v_b_hh"].clone().set_requires_grad();
    const Tensor vout = lstm_sequence_ids(ids, Tensor(), Tensor(), v_ih, v_hh, v_bi, v_bh);
    CHECK_MESSAGE(allclose(vout, f["v_out"], atol, rtol), describe_mismatches(vout, f["v_out"], atol, rtol));
    vout.backward(f["v_seed"]);
    for (auto [got, name] : {std::pair{v_ih, "v_dw_ih"}, {v_hh, "v_dw_hh"}, {v_bi, "v_db_ih"}, {v_bh, "v_db_hh"}}) {
      CAPTURE(name);
      CHECK_MESSAGE(allclose(got.grad(), f[name], atol, rtol), describe_mismatches(got.grad(), f[name], atol, rtol),
                    regenerate);
    }
  });
}

// -------------------------------------------------------------- errors ----

TEST_CASE("lstm_sequence rejects bad shapes and ids with a message naming the op and the shapes") {
  Rng rng(17);
  const Weights w = random_weights(3, 4, rng);
  const Tensor x = Tensor::zeros({5, 2, 3});
  std::string msg = error_of([&] { lstm_sequence(Tensor::zeros({5, 2, 7}), {}, {}, w.w_ih, w.w_hh, w.b_ih, w.b_hh); });
  CHECK(msg.find("lstm_sequence") != std::string::npos);
  CHECK(msg.find("(16, 3)") != std::string::npos);
  CHECK(msg.find("(5, 2, 7)") != std::string::npos);
  msg = error_of([&] { lstm_sequence(x, Tensor::zeros({3, 4}), {}, w.w_ih, w.w_hh, w.b_ih, w.b_hh); });
  CHECK(msg.find("h0 of shape (3, 4)") != std::string::npos);
  CHECK(msg.find("(2, 4)") != std::string::npos);
  msg = error_of([&] { lstm_sequence(x, {}, {}, w.w_ih, Tensor::zeros({16, 5}), w.b_ih, w.b_hh); });
  CHECK(msg.find("w_hh of shape (16, 5)") != std::string::npos);
  msg = error_of([&] { lstm_sequence(x, {}, {}, w.w_ih, w.w_hh, Tensor::zeros({15}), w.b_hh); });
  CHECK(msg.find("b_ih of shape (15,)") != std::string::npos);
  msg = error_of([&] { lstm_sequence(Tensor::zeros({0, 2, 3}), {}, {}, w.w_ih, w.w_hh, w.b_ih, w.b_hh); });
  CHECK(msg.find("empty") != std::string::npos);
  msg = error_of([&] { lstm_sequence(Tensor::zeros({5, 3}), {}, {}, w.w_ih, w.w_hh, w.b_ih, w.b_hh); });
  CHECK(msg.find("(T, B, I)") != std::string::npos);

  const Ids bad{{2, 2}, {0, 1, 3, 2}};  // V = 3
  msg = error_of([&] { lstm_sequence_ids(bad, {}, {}, w.w_ih, w.w_hh, w.b_ih, w.b_hh); });
  CHECK(msg.find("lstm_sequence_ids") != std::string::npos);
  CHECK(msg.find("token id 3 at (t=1, b=0)") != std::string::npos);
  const Ids short_ids{{2, 2}, {0, 1, 2}};
  msg = error_of([&] { lstm_sequence_ids(short_ids, {}, {}, w.w_ih, w.w_hh, w.b_ih, w.b_hh); });
  CHECK(msg.find("hold 3 values") != std::string::npos);
}

#if defined(__AVX512F__)
TEST_CASE("gemm_avx512::gemm_at_b matches a plain loop, with and without accumulation") {
  Rng rng(18);
  for (auto [M, N, K] : {std::array<std::int64_t, 3>{1, 16, 1}, {7, 48, 300}, {13, 80, 513}, {64, 256, 40}}) {
    CAPTURE(M);
    CAPTURE(N);
    CAPTURE(K);
    const Tensor A = Tensor::uniform({K, M}, -1.f, 1.f, rng), Bm = Tensor::uniform({K, N}, -1.f, 1.f, rng);
    const Tensor C0 = Tensor::uniform({M, N}, -1.f, 1.f, rng);
    Tensor expected = Tensor::empty({M, N});
    for (std::int64_t m = 0; m < M; ++m)
      for (std::int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (std::int64_t k = 0; k < K; ++k) acc += double(A.data()[k * M + m]) * Bm.data()[k * N + n];
        expected.data()[m * N + n] = float(acc);
      }
    Tensor C = Tensor::empty({M, N});
    gemm_avx512::gemm_at_b(A.data(), M, Bm.data(), N, C.data(), N, M, N, K, false);
    CHECK_MESSAGE(allclose(C, expected, 1e-4f, 1e-5f), describe_mismatches(C, expected, 1e-4f, 1e-5f));
    Tensor C2 = C0.clone();
    gemm_avx512::gemm_at_b(A.data(), M, Bm.data(), N, C2.data(), N, M, N, K, true);
    const Tensor expected2 = expected + C0;
    CHECK_MESSAGE(allclose(C2, expected2, 1e-4f, 1e-5f), describe_mismatches(C2, expected2, 1e-4f, 1e-5f));
  }
  CHECK(error_of([] { float x = 0; gemm_avx512::gemm_at_b(&x, 1, &x, 1, &x, 1, 1, 1, 1, false); })
            .find("multiple of 16") != std::string::npos);
}
#endif
