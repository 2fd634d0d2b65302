// Tensor: creation, views, element access, printing, comparison helpers.
#include <doctest/doctest.h>

#include <sstream>

#include "legato/legato.hpp"

using namespace legato;

TEST_CASE("creation fills the requested shape") {
  CHECK(Tensor::zeros({2, 3}).numel() == 6);
  CHECK(Tensor::ones({4}).data()[3] == 1.f);
  CHECK(Tensor::full({2, 2}, 7.f).at({1, 1}) == 7.f);
  CHECK(Tensor::scalar(3.f).item() == 3.f);
  CHECK(Tensor::scalar(3.f).dim() == 0);
  const Tensor r = Tensor::arange(5);
  CHECK(r.shape() == Shape{5});
  CHECK(r.data()[4] == 4.f);
  CHECK(Tensor::arange(0.f, 1.f, 0.25f).numel() == 4);
  const Tensor m = Tensor::from({2, 2}, {1, 2, 3, 4});
  CHECK(m.at({1, 0}) == 3.f);
  CHECK_THROWS_WITH_AS(Tensor::from({2, 2}, {1, 2, 3}), "Tensor::from_vector: 3 values do not fill shape (2, 2)",
                       Error);
  CHECK_THROWS_AS(Tensor::zeros({1, 1, 1, 1, 1}), Error);
}

TEST_CASE("seeded random tensors repeat exactly") {
  Rng a(7), b(7);
  const Tensor x = Tensor::normal({100}, 0.f, 1.f, a);
  const Tensor y = Tensor::normal({100}, 0.f, 1.f, b);
  CHECK(max_abs_diff(x, y) == 0.f);
  Rng c(8);
  CHECK(max_abs_diff(x, Tensor::normal({100}, 0.f, 1.f, c)) > 0.f);
  // Moments of 100k normals: mean ~ 0, variance ~ 1.
  Rng d(1);
  const Tensor z = Tensor::normal({100000}, 0.f, 1.f, d);
  double sum = 0, sq = 0;
  for (float v : z.to_vector()) sum += v, sq += double(v) * v;
  CHECK(std::abs(sum / 1e5) < 0.02);
  CHECK(std::abs(sq / 1e5 - 1.0) < 0.02);
  const Tensor u = Tensor::uniform({1000}, 2.f, 3.f, d);
  for (float v : u.to_vector()) CHECK((v >= 2.f && v < 3.f));
}

TEST_CASE("views share storage; clone does not") {
  Tensor x = Tensor::zeros({2, 3});
  Tensor v = x.view({3, 2});
  x.at({1, 2}) = 5.f;
  CHECK(v.at({2, 1}) == 5.f);
  CHECK(v.shares_storage_with(x));
  Tensor c = x.clone();
  x.at({0, 0}) = 1.f;
  CHECK(c.at({0, 0}) == 0.f);
  CHECK_THROWS_WITH_AS(x.view({4, 2}), "Tensor::view: cannot view shape (2, 3) as (4, 2)", Error);
}

TEST_CASE("element access is bounds-checked") {
  Tensor x = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(x.at({2, 0}), "Tensor::at: index 2 out of range for axis 0 of shape (2, 3)", Error);
  CHECK_THROWS_AS(x.at({0}), Error);
  CHECK_THROWS_WITH_AS(x.item(), "Tensor::item: tensor of shape (2, 3) has 6 elements, not 1", Error);
  CHECK(x.size(-1) == 3);
}

TEST_CASE("printing shows the shape and the values") {
  std::ostringstream out;
  out << Tensor::from({2, 2}, {1, 2, 3, 4});
  CHECK(out.str() == "Tensor(shape=(2, 2), cpu) [[1, 2], [3, 4]]");
  std::ostringstream big;
  big << Tensor::arange(10);
  CHECK(big.str() == "Tensor(shape=(10,), cpu) [0, 1, 2, ..., 7, 8, 9]");
}

TEST_CASE("comparison helpers report the first mismatches") {
  const Tensor a = Tensor::from({1.f, 2.f, 3.f});
  const Tensor b = Tensor::from({1.f, 2.5f, 3.f});
  CHECK(allclose(a, a));
  CHECK_FALSE(allclose(a, b));
  CHECK(max_abs_diff(a, b) == doctest::Approx(0.5));
  const std::string report = describe_mismatches(a, b, 1e-5f, 1e-4f);
  CHECK(report.find("[1] 2 vs 2.5") != std::string::npos);
  const auto nan = Tensor::from({std::nanf("")});
  CHECK_FALSE(allclose(nan, nan));  // NaN never passes
}
