// Autograd engine: accumulation, reuse, deep chains, NoGradGuard, detach and
// the error messages of misuse.
#include <doctest/doctest.h>

#include "gradcheck.hpp"

using namespace legato;
using namespace legato::testing;

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = Tensor::from({1.f, 2.f}).set_requires_grad();
  Tensor y = mul(x, x);  // dy/dx = 2x
  y.backward(Tensor::ones({2}));
  CHECK(x.grad().data()[1] == doctest::Approx(4.f));
  mul(x, x).backward(Tensor::ones({2}));
  CHECK(x.grad().data()[1] == doctest::Approx(8.f));
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a node used twice receives the sum of both gradients") {
  Tensor x = Tensor::from({3.f}).set_requires_grad();
  Tensor y = exp(x);
  Tensor z = add(mul(y, y), y);  // z = e^{2x} + e^x, dz/dx = 2e^{2x} + e^x
  z.backward();
  const double e = std::exp(3.0);
  CHECK(x.grad().item() == doctest::Approx(2 * e * e + e).epsilon(1e-5));
  CHECK_GRADIENTS([](const std::vector<Tensor>& in) { Tensor y = exp(in[0]); return add(mul(y, y), y); },
                  {Tensor::from({0.3f, -0.2f}).set_requires_grad()});
}

TEST_CASE("a chain of 100 000 nodes neither overflows the stack in backward nor in destruction") {
  Tensor x = Tensor::from({1.f}).set_requires_grad();
  {
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = add(y, 0.f);
    y.backward();
  }  // the chain is destroyed here
  CHECK(x.grad().item() == 1.f);
}

TEST_CASE("NoGradGuard and detach stop the graph") {
  Tensor x = Tensor::from({2.f}).set_requires_grad();
  {
    NoGradGuard guard;
    CHECK_FALSE(mul(x, x).requires_grad());
  }
  CHECK(mul(x, x).requires_grad());
  Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.shares_storage_with(x));
  // y = x * detach(x): gradient only through the first factor.
  mul(x, x.detach()).backward();
  CHECK(x.grad().item() == doctest::Approx(2.f));
}

TEST_CASE("misuse gives clear errors") {
  Tensor x = Tensor::from({1.f, 2.f}).set_requires_grad();
  Tensor y = mul(x, 2.f);
  CHECK_THROWS_WITH_AS(y.backward(),
                       "backward: output of shape (2,) is not a scalar; pass the output gradient explicitly: "
                       "backward(grad)",
                       Error);
  CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({3})),
                       "backward: gradient of shape (3,) does not match the output shape (2,)", Error);
  CHECK_THROWS_WITH_AS(add(Tensor::zeros({2, 3}), Tensor::zeros({4})),
                       "add: shapes (2, 3) and (4,) cannot be broadcast together", Error);
  CHECK_THROWS_WITH_AS(Tensor::zeros({1}).backward(),
                       doctest::Contains("backward: the tensor does not require grad"), Error);
  CHECK_THROWS_AS(y.set_requires_grad(), Error);  // not a leaf
}

TEST_CASE("a backward closure returning the wrong shape is reported with the op name") {
  Tensor x = Tensor::from({1.f, 2.f}).set_requires_grad();
  Tensor out = Tensor::zeros({2});
  record(out, "broken_op", {x}, [](const Inputs&, const Tensor&, const Tensor&) { return Grads{Tensor::zeros({3})}; });
  CHECK_THROWS_WITH_AS(out.backward(Tensor::ones({2})),
                       "broken_op: gradient for input 0 has shape (3,) but the input has shape (2,)", Error);
}
