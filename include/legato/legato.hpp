#pragma once
// legato: a header-only C++20 deep-learning framework for sequences.
//
//   #include <legato/legato.hpp>
//   using namespace legato;
//
//   int main() {
//     Rng rng(42);
//     Tensor x = Tensor::uniform({64, 2}, -1.f, 1.f, rng);        // (B, 2)
//     Tensor w = Tensor::normal({2, 1}, 0.f, 0.5f, rng).set_requires_grad();
//     Tensor b = Tensor::zeros({1}).set_requires_grad();
//     for (int step = 0; step < 100; ++step) {
//       Tensor y = tanh(add(matmul(x, w), b));                     // (B, 1)
//       Tensor loss = mean(mul(y, y));
//       w.zero_grad(); b.zero_grad();
//       loss.backward();                                           // fills w.grad(), b.grad()
//       NoGradGuard no_grad;
//       w = sub(w, mul(w.grad(), 0.1f)).set_requires_grad();      // or use optim::SGD
//       b = sub(b, mul(b.grad(), 0.1f)).set_requires_grad();
//     }
//   }
//
// Each header holds one concept; this one includes them all.

#include "legato/tensor.hpp"
#include "legato/autograd.hpp"
#include "legato/ops.hpp"
#include "legato/nn.hpp"
#include "legato/optim.hpp"
#include "legato/io.hpp"
#include "legato/music.hpp"
#include "legato/util/build_info.hpp"
#include "legato/util/error.hpp"
#include "legato/util/random.hpp"
#include "legato/util/threads.hpp"
