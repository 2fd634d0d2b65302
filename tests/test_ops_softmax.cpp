// softmax and log_softmax along the last axis: references, stability on huge
// inputs, and the gradient checker on several ranks.
#include <doctest/doctest.h>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

namespace {
const std::vector<Shape> kShapes = {{1}, {5}, {3, 4}, {2, 1, 3}, {2, 3, 1, 4}};
}

TEST_CASE("softmax and log_softmax match the references and rows sum to 1") {
  Rng rng(51);
  for (const Shape& shape : kShapes) {
    CAPTURE(shape_str(shape));
    const Tensor x = Tensor::uniform(shape, -4.f, 4.f, rng);
    const Tensor p = softmax(x), lp = log_softmax(x);
    CHECK_MESSAGE(allclose(p, softmax_ref(x), 1e-6f, 1e-5f), describe_mismatches(p, softmax_ref(x), 1e-6f, 1e-5f));
    CHECK(allclose(lp, log_softmax_ref(x), 1e-5f, 1e-5f));
    const Tensor row_sums = sum(p, -1);
    CHECK(allclose(row_sums, Tensor::ones(row_sums.shape()), 1e-5f, 0));
  }
  const Tensor big = Tensor::uniform({400, 100}, -4.f, 4.f, rng);  // above the parallel grain
  CHECK(allclose(softmax(big), softmax_ref(big), 1e-6f, 1e-5f));
  CHECK(allclose(log_softmax(big), log_softmax_ref(big), 1e-5f, 1e-5f));
}

TEST_CASE("softmax is stable for inputs whose exponentials overflow") {
  // e^1000 is inf in float and double; subtracting the row max avoids it.
  const Tensor x = Tensor::from({2, 3}, {1000.f, 1001.f, 1002.f, -1000.f, -1001.f, -1002.f});
  const Tensor small = Tensor::from({2, 3}, {0.f, 1.f, 2.f, 0.f, -1.f, -2.f});
  CHECK(allclose(softmax(x), softmax(small), 1e-6f, 1e-5f));
  CHECK(allclose(log_softmax(x), log_softmax(small), 1e-4f, 1e-5f));
  for (float v : log_softmax(x).to_vector()) CHECK(std::isfinite(v));
  // A row with one huge winner: probability 1 and log-probability 0, not NaN.
  const Tensor winner = Tensor::from({1, 3}, {0.f, 200.f, 0.f});
  CHECK(softmax(winner).to_vector() == std::vector<float>{0.f, 1.f, 0.f});
  CHECK(log_softmax(winner).at({0, 1}) == 0.f);
}

TEST_CASE("softmax and log_softmax pass the gradient checker") {
  Rng rng(52);
  for (const Shape& shape : kShapes) {
    CAPTURE(shape_str(shape));
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return softmax(in[0]); }, {random_leaf(shape, rng, -2.f, 2.f)});
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return log_softmax(in[0]); },
                    {random_leaf(shape, rng, -2.f, 2.f)});
  }
}

TEST_CASE("softmax needs at least one dimension") {
  CHECK_THROWS_WITH_AS(softmax(Tensor::scalar(1.f)), "softmax: needs at least 1 dimension, got shape ()", Error);
  CHECK_THROWS_WITH_AS(log_softmax(Tensor::scalar(1.f)), "log_softmax: needs at least 1 dimension, got shape ()",
                       Error);
  CHECK(softmax(Tensor::zeros({3, 0})).shape() == Shape{3, 0});  // empty rows are fine
}
