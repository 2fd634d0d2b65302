// Activations: forward against the plain-loop references (including inputs
// large enough to overflow a naive formula) and every op through the
// gradient checker on shapes of several ranks.
#include <doctest/doctest.h>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

namespace {
const std::vector<Shape> kShapes = {{}, {7}, {3, 1, 5}, {2, 3, 1, 2}};

// Values in +-[0.1, 2]: at least 0.1 away from the kink of relu and leaky_relu,
// far more than the checker's step of 1e-3.
Tensor away_from_zero(const Shape& shape, Rng& rng) {
  Tensor t = Tensor::uniform(shape, 0.1f, 2.f, rng);
  for (std::int64_t i = 0; i < t.numel(); ++i)
    if (rng.uniform() < 0.5f) t.data()[i] = -t.data()[i];
  return t.set_requires_grad();
}

using Unary = Tensor (*)(const Tensor&);
const std::vector<std::tuple<const char*, Unary, Unary>> kOps = {
    {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](const Tensor& x) { return sigmoid_ref(x); }},
    {"tanh", [](const Tensor& x) { return legato::tanh(x); }, [](const Tensor& x) { return tanh_ref(x); }},
    {"relu", [](const Tensor& x) { return relu(x); }, [](const Tensor& x) { return relu_ref(x); }},
    {"leaky_relu", [](const Tensor& x) { return leaky_relu(x); }, [](const Tensor& x) { return leaky_relu_ref(x); }},
    {"leaky_relu(0.2)", [](const Tensor& x) { return leaky_relu(x, 0.2f); },
     [](const Tensor& x) { return leaky_relu_ref(x, 0.2f); }},
    {"softplus", [](const Tensor& x) { return softplus(x); }, [](const Tensor& x) { return softplus_ref(x); }},
};
}  // namespace

TEST_CASE("activations match the references, far into the tails") {
  Rng rng(11);
  // Wide inputs: e^100 overflows float, so a naive sigmoid/softplus would give inf or NaN.
  const Tensor wide = Tensor::uniform({6, 50}, -100.f, 100.f, rng);
  const Tensor tails = Tensor::from({-100.f, -30.f, -1e-3f, 0.f, 1e-3f, 30.f, 100.f});
  const Tensor big = Tensor::uniform({300, 200}, -5.f, 5.f, rng);  // above the parallel grain
  for (auto& [name, op, ref] : kOps) {
    CAPTURE(name);
    for (const Tensor& x : {wide, tails, big}) {
      const Tensor y = op(x), expected = ref(x);
      CHECK_MESSAGE(allclose(y, expected, 1e-6f, 1e-5f), describe_mismatches(y, expected, 1e-6f, 1e-5f));
    }
  }
  CHECK(softplus(Tensor::from({100.f})).item() == doctest::Approx(100.f));
  CHECK(softplus(Tensor::from({-100.f})).item() == doctest::Approx(0.f));
  CHECK(sigmoid(Tensor::from({-100.f})).item() >= 0.f);
}

TEST_CASE("activations pass the gradient checker") {
  Rng rng(12);
  for (auto& [name, op, ref] : kOps) {
    for (const Shape& shape : kShapes) {
      CAPTURE(name);
      CAPTURE(shape_str(shape));
      CHECK_GRADIENTS([op = op](const std::vector<Tensor>& in) { return op(in[0]); }, {away_from_zero(shape, rng)});
    }
  }
}

TEST_CASE("activation gradients stay finite and correct in the tails") {
  Tensor x = Tensor::from({-100.f, -20.f, 20.f, 100.f}).set_requires_grad();
  sum(add(add(sigmoid(x), softplus(x)), legato::tanh(x))).backward();
  // d/dx [sigmoid + softplus + tanh] = s(1 - s) + s + (1 - tanh^2)
  const std::vector<double> expected = {0.0, 2 * 2.0611536e-9, 1.0, 1.0};
  for (std::size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(std::isfinite(x.grad().data()[i]));
    CHECK(x.grad().data()[i] == doctest::Approx(expected[i]).epsilon(1e-4));
  }
}

TEST_CASE("relu and leaky_relu send the documented gradient at and around 0") {
  Tensor x = Tensor::from({-2.f, 0.f, 3.f}).set_requires_grad();
  sum(relu(x)).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{0.f, 0.f, 1.f});
  x.zero_grad();
  sum(leaky_relu(x, 0.1f)).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{0.1f, 0.1f, 1.f});
}
