// Elementwise ops: forward against the plain-loop references, and every op
// through the gradient checker, broadcasting cases included.
#include <doctest/doctest.h>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

namespace {
const std::vector<std::pair<Shape, Shape>> kBroadcastCases = {
    {{3, 4}, {3, 4}}, {{2, 3, 4}, {4}}, {{2, 1, 4}, {1, 3, 1}}, {{5}, {}}, {{1}, {2, 3}},
    {{2, 3, 4, 5}, {3, 1, 5}}, {{2, 1, 1, 5}, {1, 3, 4, 1}},
};
}

TEST_CASE("binary ops match the plain-loop reference under broadcasting") {
  Rng rng(1);
  for (auto& [sa, sb] : kBroadcastCases) {
    CAPTURE(shape_str(sa));
    CAPTURE(shape_str(sb));
    const Tensor a = Tensor::uniform(sa, 0.5f, 2.f, rng), b = Tensor::uniform(sb, 0.5f, 2.f, rng);
    CHECK(allclose(add(a, b), binary_ref(a, b, [](float x, float y) { return x + y; }), 0, 0));
    CHECK(allclose(sub(a, b), binary_ref(a, b, [](float x, float y) { return x - y; }), 0, 0));
    CHECK(allclose(mul(a, b), binary_ref(a, b, [](float x, float y) { return x * y; }), 0, 0));
    CHECK(allclose(div(a, b), binary_ref(a, b, [](float x, float y) { return x / y; }), 0, 0));
  }
}

TEST_CASE("binary ops pass the gradient checker under broadcasting") {
  Rng rng(2);
  for (auto& [sa, sb] : kBroadcastCases) {
    CAPTURE(shape_str(sa));
    CAPTURE(shape_str(sb));
    for (auto op : {+[](const Tensor& a, const Tensor& b) { return add(a, b); },
                    +[](const Tensor& a, const Tensor& b) { return sub(a, b); },
                    +[](const Tensor& a, const Tensor& b) { return mul(a, b); },
                    +[](const Tensor& a, const Tensor& b) { return div(a, b); }}) {
      CHECK_GRADIENTS([op](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
                      {random_leaf(sa, rng, 0.5f, 2.f), random_leaf(sb, rng, 0.5f, 2.f)});
    }
  }
}

TEST_CASE("scalar variants and unary ops") {
  Rng rng(3);
  const Shape shape{2, 3, 4};
  const Tensor x = Tensor::uniform(shape, 0.5f, 2.f, rng);
  CHECK(allclose(exp(x), unary_ref(x, [](float v) { return std::exp(v); }), 0, 0));
  CHECK(allclose(log(x), unary_ref(x, [](float v) { return std::log(v); }), 0, 0));
  CHECK(allclose(sqrt(x), unary_ref(x, [](float v) { return std::sqrt(v); }), 0, 0));
  CHECK(allclose(pow(x, 3.f), unary_ref(x, [](float v) { return std::pow(v, 3.f); }), 0, 0));
  CHECK(allclose(clamp(x, 1.f, 1.5f), unary_ref(x, [](float v) { return std::min(std::max(v, 1.f), 1.5f); }), 0, 0));
  CHECK(allclose(2.f - x, unary_ref(x, [](float v) { return 2.f - v; }), 0, 0));

  using F = Tensor (*)(const Tensor&);
  const std::vector<std::pair<const char*, F>> positive_domain = {
      {"neg", [](const Tensor& t) { return neg(t); }},
      {"exp", [](const Tensor& t) { return exp(t); }},
      {"log", [](const Tensor& t) { return log(t); }},
      {"sqrt", [](const Tensor& t) { return sqrt(t); }},
      {"pow", [](const Tensor& t) { return pow(t, 2.5f); }},
      {"add_scalar", [](const Tensor& t) { return add(t, 3.f); }},
      {"mul_scalar", [](const Tensor& t) { return mul(t, -1.5f); }},
      {"rsub", [](const Tensor& t) { return rsub(1.f, t); }},
      {"div_scalar", [](const Tensor& t) { return div(t, 4.f); }},
  };
  for (auto& [name, f] : positive_domain) {
    CAPTURE(name);
    CHECK_GRADIENTS([f](const std::vector<Tensor>& in) { return f(in[0]); }, {random_leaf(shape, rng, 0.5f, 2.f)});
  }
  // abs and clamp have kinks: keep the inputs away from them.
  Tensor away = Tensor::from({-1.5f, -0.7f, 0.4f, 0.9f, 1.6f, 2.2f}).set_requires_grad();
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return abs(in[0]); }, {away});
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { return clamp(in[0], -1.f, 1.f); }, {away});
}
