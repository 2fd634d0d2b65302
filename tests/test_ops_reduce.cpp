// Reductions: sum and mean (all, or along each axis with and without
// keepdim, negative axes too), and max with its indices, against the
// references and through the gradient checker.
#include <doctest/doctest.h>

#include <numeric>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

namespace {
const std::vector<Shape> kShapes = {{5}, {1, 4}, {3, 1, 5}, {2, 3, 1, 3}};

// A tensor whose values are a shuffled 0.1-spaced ladder: all distinct and
// at least 0.1 apart, so the checker's step (1e-3) never changes an argmax.
Tensor distinct_values(const Shape& shape, Rng& rng) {
  Tensor t = Tensor::empty(shape);
  std::vector<float> ladder(static_cast<std::size_t>(t.numel()));
  for (std::size_t i = 0; i < ladder.size(); ++i) ladder[i] = 0.1f * static_cast<float>(i) - 1.f;
  for (std::size_t i = ladder.size(); i > 1; --i) std::swap(ladder[i - 1], ladder[rng.below(i)]);
  std::copy(ladder.begin(), ladder.end(), t.data());
  return t.set_requires_grad();
}
}  // namespace

TEST_CASE("sum and mean match the references on every axis") {
  Rng rng(21);
  for (const Shape& shape : kShapes) {
    const Tensor x = Tensor::uniform(shape, -1.f, 1.f, rng);
    CAPTURE(shape_str(shape));
    CHECK(allclose(sum(x), sum_ref(x), 1e-6f, 1e-6f));
    CHECK(allclose(mean(x), mean_ref(x), 1e-6f, 1e-6f));
    CHECK(sum(x).shape() == Shape{});
    const int rank = static_cast<int>(shape.size());
    for (int axis = -rank; axis < rank; ++axis)
      for (bool keepdim : {false, true}) {
        CAPTURE(axis);
        CAPTURE(keepdim);
        const Tensor s = sum(x, axis, keepdim), m = mean(x, axis, keepdim);
        CHECK_MESSAGE(allclose(s, sum_ref(x, axis, keepdim), 1e-6f, 1e-5f),
                      describe_mismatches(s, sum_ref(x, axis, keepdim), 1e-6f, 1e-5f));
        CHECK(allclose(m, mean_ref(x, axis, keepdim), 1e-6f, 1e-5f));
        CHECK(s.dim() == (keepdim ? rank : rank - 1));
      }
  }
  // Large enough to take the parallel path, and an accuracy check: a million
  // 0.1s summed in float one by one would drift by about 1%.
  const Tensor big = Tensor::full({1000, 1000}, 0.1f);
  CHECK(sum(big).item() == doctest::Approx(1e5).epsilon(1e-6));
  const Tensor wide = Tensor::uniform({50, 700}, -1.f, 1.f, rng);
  CHECK(allclose(sum(wide, 1), sum_ref(wide, 1), 1e-5f, 1e-5f));
  CHECK(allclose(mean(wide, 0, true), mean_ref(wide, 0, true), 1e-6f, 1e-5f));
}

TEST_CASE("sum and mean pass the gradient checker") {
  Rng rng(22);
  for (const Shape& shape : kShapes) {
    CAPTURE(shape_str(shape));
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return sum(in[0]); }, {random_leaf(shape, rng)});
    CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return mean(in[0]); }, {random_leaf(shape, rng)});
    const int rank = static_cast<int>(shape.size());
    for (int axis = -rank; axis < rank; ++axis)
      for (bool keepdim : {false, true}) {
        CAPTURE(axis);
        CAPTURE(keepdim);
        CHECK_GRADIENTS([=](const std::vector<Tensor>& in) { return sum(in[0], axis, keepdim); },
                        {random_leaf(shape, rng)});
        CHECK_GRADIENTS([=](const std::vector<Tensor>& in) { return mean(in[0], axis, keepdim); },
                        {random_leaf(shape, rng)});
      }
  }
  // keepdim output broadcasts back against its input: x - mean(x, -1, keepdim).
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return sub(in[0], mean(in[0], -1, true)); },
                  {random_leaf({3, 4}, rng)});
}

TEST_CASE("max returns values and indices like the reference, and passes the gradient checker") {
  Rng rng(23);
  for (const Shape& shape : kShapes) {
    const int rank = static_cast<int>(shape.size());
    for (int axis = -rank; axis < rank; ++axis)
      for (bool keepdim : {false, true}) {
        CAPTURE(shape_str(shape));
        CAPTURE(axis);
        CAPTURE(keepdim);
        const Tensor x = distinct_values(shape, rng);
        const MaxResult got = max(x, axis, keepdim), want = max_ref(x, axis, keepdim);
        CHECK(allclose(got.values, want.values, 0, 0));
        CHECK(got.indices.shape == want.indices.shape);
        CHECK(got.indices.values == want.indices.values);
        CHECK_GRADIENTS([=](const std::vector<Tensor>& in) { return max(in[0], axis, keepdim).values; },
                        {distinct_values(shape, rng)});
      }
  }
}

TEST_CASE("max: ties go to the first position, NaN propagates, gradient goes to the argmax only") {
  Tensor x = Tensor::from({2, 3}, {1.f, 5.f, 5.f, 7.f, 7.f, 0.f}).set_requires_grad();
  const MaxResult r = max(x, 1);
  CHECK(r.values.to_vector() == std::vector<float>{5.f, 7.f});
  CHECK(r.indices.values == std::vector<std::int32_t>{1, 0});
  sum(r.values).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{0.f, 1.f, 0.f, 1.f, 0.f, 0.f});

  const Tensor with_nan = Tensor::from({1.f, NAN, 3.f});
  CHECK(std::isnan(max(with_nan, 0).values.item()));
  CHECK(max(with_nan, 0).indices.values[0] == 1);
}

TEST_CASE("reductions report bad axes and empty axes") {
  const Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(sum(x, 2), "sum: axis 2 is out of range for rank 2", Error);
  CHECK_THROWS_WITH_AS(mean(x, -3), "mean: axis -3 is out of range for rank 2", Error);
  CHECK_THROWS_WITH_AS(max(x, 5), "max: axis 5 is out of range for rank 2", Error);
  CHECK_THROWS_WITH_AS(max(Tensor::zeros({2, 0}), 1), "max: cannot reduce axis 1 of size 0 in shape (2, 0)", Error);
  // Summing an empty axis is well defined: zeros.
  CHECK(sum(Tensor::zeros({2, 0}), 1).to_vector() == std::vector<float>{0.f, 0.f});
}
