// LSTMCell and nn::LSTM: the composed cell against plain loops, both nn::LSTM
// paths (fused op and composed cells) through the gradient checker on inputs,
// initial state and all parameters, and the two paths against each other on
// outputs and every gradient (1 and 2 layers, with and without initial state,
// T up to 100). Also token ids = one-hot input, batch_first, dropout between
// layers, and the error messages.
#include <doctest/doctest.h>

#include <cstring>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

namespace {

float sigmoid_f(float v) { return 1.f / (1.f + std::exp(-v)); }

// One LSTM step in plain loops (double accumulation), PyTorch's gate order i, f, g, o.
void cell_ref(const float* x, std::int64_t I, const float* h, const float* c, std::int64_t H, const Tensor& w_ih,
              const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh, float* h_out, float* c_out) {
  std::vector<double> z(static_cast<std::size_t>(4 * H));
  for (std::int64_t r = 0; r < 4 * H; ++r) {
    double s = double(b_ih.data()[r]) + b_hh.data()[r];
    for (std::int64_t k = 0; k < I; ++k) s += double(w_ih.data()[r * I + k]) * x[k];
    for (std::int64_t k = 0; k < H; ++k) s += double(w_hh.data()[r * H + k]) * h[k];
    z[static_cast<std::size_t>(r)] = s;
  }
  for (std::int64_t j = 0; j < H; ++j) {
    const auto at = [&](std::int64_t gate) { return static_cast<float>(z[static_cast<std::size_t>(gate * H + j)]); };
    const float i = sigmoid_f(at(0)), f = sigmoid_f(at(1)), g = std::tanh(at(2)), o = sigmoid_f(at(3));
    c_out[j] = f * c[j] + i * g;
    h_out[j] = o * std::tanh(c_out[j]);
  }
}

// Output, final h and final c flattened into one tensor, so that one gradient
// check covers all three.
Tensor flat_all(const nn::LSTMOutput& r) {
  return concat({reshape(r.output, {-1}), reshape(r.state.h, {-1}), reshape(r.state.c, {-1})}, 0);
}

std::vector<Tensor> with_parameters(std::vector<Tensor> inputs, const nn::Module& m) {
  for (const Tensor& p : m.parameters()) inputs.push_back(p);
  return inputs;
}

void copy_into(Tensor& dst, const Tensor& src) {
  REQUIRE(dst.shape() == src.shape());
  std::memcpy(dst.data(), src.data(), sizeof(float) * static_cast<std::size_t>(src.numel()));
}

// Compares two gradients (or values) and reports the worst difference.
void check_close(const char* what, const Tensor& a, const Tensor& b, float atol, float rtol) {
  CAPTURE(what);
  REQUIRE(a.defined());
  REQUIRE(b.defined());
  CHECK_MESSAGE(allclose(a, b, atol, rtol), describe_mismatches(a, b, atol, rtol));
}

}  // namespace

TEST_CASE("LSTMCell: one step matches plain loops; gradients on input, state and parameters") {
  Rng rng(21);
  const std::int64_t B = 3, I = 4, H = 5;
  nn::LSTMCell cell(I, H, rng);
  CHECK(cell.parameter_count() == 4 * H * (I + H) + 8 * H);
  const Tensor x = random_leaf({B, I}, rng), h = random_leaf({B, H}, rng), c = random_leaf({B, H}, rng);
  const nn::LSTMState state{h, c};
  const nn::LSTMState next = cell.forward(x, &state);
  Tensor h_ref = Tensor::empty({B, H}), c_ref = Tensor::empty({B, H});
  for (std::int64_t b = 0; b < B; ++b)
    cell_ref(x.data() + b * I, I, h.data() + b * H, c.data() + b * H, H, cell.weight_ih, cell.weight_hh, cell.bias_ih,
             cell.bias_hh, h_ref.data() + b * H, c_ref.data() + b * H);
  check_close("h", next.h, h_ref, 1e-6f, 1e-5f);
  check_close("c", next.c, c_ref, 1e-6f, 1e-5f);

  CHECK_GRADIENTS(
      [&](const std::vector<Tensor>& in) {
        const nn::LSTMState s{in[1], in[2]};
        const nn::LSTMState r = cell.forward(in[0], &s);
        return concat({r.h, r.c}, 1);
      },
      with_parameters({x, h, c}, cell));
  // Ids: the same as a one-hot input.
  const Ids ids{{B}, {3, 0, 3}};
  const nn::LSTMState by_id = cell.forward_ids(ids, &state);
  const nn::LSTMState by_one_hot = cell.forward(one_hot(ids, I), &state);
  check_close("h from ids", by_id.h, by_one_hot.h, 1e-6f, 1e-5f);
  CHECK_THROWS_WITH_AS(cell.forward(Tensor::zeros({B, I + 1})), "LSTMCell: input of shape (3, 5) is not (B, 4)",
                       Error);
}

TEST_CASE("LSTM: both paths pass the gradient checker on input, initial state and all parameters") {
  Rng rng(22);
  const std::int64_t T = 4, B = 2, I = 3, H = 4, L = 2;
  for (bool fused : {true, false}) {
    CAPTURE(fused);
    nn::LSTM lstm({.input_size = I, .hidden_size = H, .num_layers = L, .use_fused = fused}, rng);
    CHECK(lstm.parameters().size() == 8);
    const Tensor x = random_leaf({T, B, I}, rng), h0 = random_leaf({L, B, H}, rng), c0 = random_leaf({L, B, H}, rng);
    CHECK_GRADIENTS(
        [&](const std::vector<Tensor>& in) {
          const nn::LSTMState s{in[1], in[2]};
          return flat_all(lstm.forward(in[0], &s));
        },
        with_parameters({x, h0, c0}, lstm));
    // Without an initial state, from token ids, batch first.
    nn::LSTM by_ids({.input_size = 6, .hidden_size = H, .num_layers = L, .batch_first = true, .use_fused = fused},
                    rng);
    const Ids ids{{B, T}, {5, 0, 2, 2, 1, 3, 4, 0}};
    CHECK_GRADIENTS([&](const std::vector<Tensor>&) { return flat_all(by_ids.forward_ids(ids)); },
                    with_parameters({}, by_ids));
  }
}

TEST_CASE("LSTM: fused and composed paths agree on outputs and every gradient") {
  Rng rng(23);
  const std::int64_t B = 3, I = 5, H = 8;
  float worst_value = 0.f, worst_grad = 0.f;
  for (std::int64_t L : {1, 2})
    for (bool with_state : {false, true})
      for (std::int64_t T : {1, 7, 100}) {
        CAPTURE(L);
        CAPTURE(with_state);
        CAPTURE(T);
        nn::LSTM lstm({.input_size = I, .hidden_size = H, .num_layers = L}, rng);
        const Tensor x = random_leaf({T, B, I}, rng, -2.f, 2.f);
        const Tensor h0 = random_leaf({L, B, H}, rng), c0 = random_leaf({L, B, H}, rng);
        const Tensor w_out = Tensor::uniform({T * B * H + 2 * L * B * H}, -1.f, 1.f, rng);

        struct Run {
          Tensor value;
          std::vector<Tensor> grads;  // x, h0, c0, then every parameter
        };
        auto run = [&](bool fused) {
          lstm.set_use_fused(fused);
          lstm.zero_grad();
          for (Tensor t : {x, h0, c0}) t.zero_grad();
          const nn::LSTMState s{h0, c0};
          const Tensor out = flat_all(lstm.forward(x, with_state ? &s : nullptr));
          out.backward(w_out);
          Run r{out.detach(), {x.grad(), with_state ? h0.grad() : Tensor::zeros({1}),
                               with_state ? c0.grad() : Tensor::zeros({1})}};
          for (const Tensor& p : lstm.parameters()) r.grads.push_back(p.grad());
          return r;
        };
        const Run fused = run(true), composed = run(false);
        check_close("outputs and state", fused.value, composed.value, 1e-6f, 1e-5f);
        worst_value = std::max(worst_value, max_abs_diff(fused.value, composed.value));
        for (std::size_t k = 0; k < fused.grads.size(); ++k) {
          CAPTURE(k);
          check_close("gradient", fused.grads[k], composed.grads[k], 1e-5f, 1e-4f);
          worst_grad = std::max(worst_grad, max_abs_diff(fused.grads[k], composed.grads[k]));
        }
      }
  MESSAGE("fused vs composed, max |diff|: values " << worst_value << ", gradients " << worst_grad);
}

TEST_CASE("LSTM: token ids give the same results and gradients as one-hot input, on both paths") {
  Rng rng(24);
  const std::int64_t T = 6, B = 2, V = 7, H = 5;
  const Ids ids{{T, B}, {0, 6, 3, 3, 1, 2, 6, 6, 5, 4, 0, 1}};
  for (bool fused : {true, false}) {
    CAPTURE(fused);
    nn::LSTM lstm({.input_size = V, .hidden_size = H, .num_layers = 2, .use_fused = fused}, rng);
    const Tensor w_out = Tensor::uniform({T * B * H + 4 * B * H}, -1.f, 1.f, rng);
    auto grads_of = [&](const Tensor& out) {
      lstm.zero_grad();
      out.backward(w_out);
      std::vector<Tensor> g;
      for (const Tensor& p : lstm.parameters()) g.push_back(p.grad());
      return g;
    };
    const Tensor a = flat_all(lstm.forward_ids(ids));
    const auto ga = grads_of(a);
    const Tensor b = flat_all(lstm.forward(one_hot(ids, V)));
    const auto gb = grads_of(b);
    check_close("values", a, b, 1e-6f, 1e-5f);
    for (std::size_t k = 0; k < ga.size(); ++k) check_close("gradient", ga[k], gb[k], 1e-6f, 1e-5f);
  }
}

TEST_CASE("LSTM: batch_first is the time-major layout transposed, and shapes follow PyTorch") {
  Rng rng(25);
  const std::int64_t T = 5, B = 3, I = 4, H = 6;
  Rng same1(7), same2(7);
  nn::LSTM tm({.input_size = I, .hidden_size = H, .num_layers = 2}, same1);
  nn::LSTM bf({.input_size = I, .hidden_size = H, .num_layers = 2, .batch_first = true}, same2);
  const Tensor x = Tensor::uniform({T, B, I}, -1.f, 1.f, rng);
  const nn::LSTMOutput a = tm.forward(x), b = bf.forward(transpose(x, 0, 1));
  CHECK(a.output.shape() == Shape{T, B, H});
  CHECK(b.output.shape() == Shape{B, T, H});
  CHECK(a.state.h.shape() == Shape{2, B, H});
  CHECK(a.state.c.shape() == Shape{2, B, H});
  check_close("output", transpose(b.output, 0, 1), a.output, 0, 0);
  check_close("h", b.state.h, a.state.h, 0, 0);
  // The final h of the last layer is the last output row.
  check_close("h_T", reshape(slice(a.output, 0, T - 1, T), {B, H}), reshape(slice(a.state.h, 0, 1, 2), {B, H}), 0, 0);
  CHECK(a.output.shape() == Shape{T, B, H});
  CHECK(tm.describe() == "LSTM(input_size=4, hidden_size=6, num_layers=2, fused)");
  const std::string text = tm.summary({T, B, I});
  CHECK(text.find("(5, 3, 6)") != std::string::npos);
  CHECK(text.find(nn::detail::with_commas(tm.parameter_count())) != std::string::npos);
  CHECK(tm.named_parameters()[5].first == "weight_hh_l1");
}

TEST_CASE("LSTM: dropout between layers only, in training only, as PyTorch") {
  Rng rng(26);
  const std::int64_t T = 5, B = 2, I = 3, H = 4;
  const float p = 0.4f;
  const std::uint64_t seed = 77;
  nn::LSTM two({.input_size = I, .hidden_size = H, .num_layers = 2, .dropout = p, .dropout_seed = seed}, rng);
  // The same network built from two one-layer LSTMs with the dropout in between.
  nn::LSTM first({.input_size = I, .hidden_size = H}, rng), second({.input_size = H, .hidden_size = H}, rng);
  const auto params = two.parameters();
  for (int k = 0; k < 4; ++k) {
    Tensor a = first.parameters()[static_cast<std::size_t>(k)], b = second.parameters()[static_cast<std::size_t>(k)];
    copy_into(a, params[static_cast<std::size_t>(k)]);
    copy_into(b, params[static_cast<std::size_t>(k + 4)]);
  }
  const Tensor x = Tensor::uniform({T, B, I}, -1.f, 1.f, rng);
  for (bool fused : {true, false}) {
    two.set_use_fused(fused);
    two.reseed_dropout(seed);
    Rng masks(seed);
    const Tensor hidden = first.forward(x).output;
    const Tensor expected = second.forward(dropout(hidden, dropout_mask(hidden.shape(), p, masks))).output;
    check_close("training output", two.forward(x).output, expected, 1e-6f, 1e-5f);
    two.eval();
    check_close("eval output", two.forward(x).output, second.forward(hidden).output, 1e-6f, 1e-5f);
    two.train();
  }
  // One layer: nothing to drop between layers.
  nn::LSTM one({.input_size = I, .hidden_size = H, .dropout = 0.9f}, rng);
  const Tensor y1 = one.forward(x).output;
  one.eval();
  check_close("single layer", one.forward(x).output, y1, 0, 0);
}

TEST_CASE("LSTM: bad input gives clear errors") {
  nn::LSTM lstm({.input_size = 3, .hidden_size = 4, .num_layers = 2});
  CHECK_THROWS_WITH_AS(lstm.forward(Tensor::zeros({5, 2, 4})), "LSTM: input of shape (5, 2, 4) is not (T, B, 3)",
                       Error);
  const nn::LSTMState wrong{Tensor::zeros({1, 2, 4}), Tensor::zeros({2, 2, 4})};
  CHECK_THROWS_WITH_AS(lstm.forward(Tensor::zeros({5, 2, 3}), &wrong),
                       "LSTM: initial state h (1, 2, 4) and c (2, 2, 4) must both be (num_layers, B, H) = (2, 2, 4)",
                       Error);
  CHECK_THROWS_WITH_AS(lstm.forward(Tensor::zeros({0, 2, 3})), "LSTM: empty input: T = 0, B = 2", Error);
  CHECK_THROWS_WITH_AS(lstm.forward_ids(Ids{{2, 1}, {0, 3}}), doctest::Contains("token id 3"), Error);
  lstm.set_use_fused(false);
  CHECK_THROWS_WITH_AS(lstm.forward_ids(Ids{{2, 1}, {0, 3}}), doctest::Contains("id 3"), Error);
  CHECK_THROWS_AS(nn::LSTM({.input_size = 0, .hidden_size = 4}), Error);
}
