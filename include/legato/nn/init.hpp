#pragma once
// Initialisers, matching PyTorch's defaults so that a freshly built legato
// layer has the same distribution of weights as its PyTorch twin:
//
//   Linear, Conv1d, ConvTranspose1d   weight: kaiming_uniform(a = sqrt 5) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//                                     bias:   U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   Embedding                         weight: N(0, 1)
//   LSTM                              every weight and bias: U(-1/sqrt(H), 1/sqrt(H))
//   BatchNorm1d                       weight 1, bias 0, running mean 0, running var 1
//
// fan_in follows torch.nn.init: dimension 1 times the product of the
// dimensions after it (the kernel size). For ConvTranspose1d, whose weight is
// (C_in, C_out, K), that is C_out * K, as in PyTorch.
// The numbers come from a legato::Rng (global_rng() unless one is passed), so
// they are reproducible but not the same draws as PyTorch's.

#include <cmath>

#include "legato/tensor.hpp"

namespace legato::nn::init {

// fan_in of a weight of shape (O, I, K...) is I * K... ; of a 1-D tensor, its size.
inline std::int64_t fan_in(const Shape& shape) {
  check(!shape.empty(), "init::fan_in: a scalar has no fan-in");
  if (shape.size() == 1) return shape[0];
  std::int64_t n = shape[1];
  for (std::size_t k = 2; k < shape.size(); ++k) n *= shape[k];
  return n;
}

inline void uniform_(Tensor& t, float lo, float hi, Rng& rng = global_rng()) {
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(lo, hi);
}

inline void normal_(Tensor& t, float mean, float stddev, Rng& rng = global_rng()) {
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.normal(mean, stddev);
}

inline void constant_(Tensor& t, float value) { t.fill_(value); }

// He/Kaiming uniform for a leaky-ReLU slope a: bound = gain * sqrt(3 / fan_in)
// with gain = sqrt(2 / (1 + a^2)). PyTorch's layers use a = sqrt(5), which
// gives bound = 1 / sqrt(fan_in).
inline void kaiming_uniform_(Tensor& t, float a, Rng& rng = global_rng()) {
  const double gain = std::sqrt(2.0 / (1.0 + double(a) * a));
  const auto bound = static_cast<float>(gain * std::sqrt(3.0 / double(fan_in(t.shape()))));
  uniform_(t, -bound, bound, rng);
}

// The bias rule of Linear and Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the
// fan_in of the layer's weight.
inline void bias_uniform_(Tensor& bias, const Shape& weight_shape, Rng& rng = global_rng()) {
  const std::int64_t n = fan_in(weight_shape);
  const float bound = n > 0 ? 1.f / std::sqrt(static_cast<float>(n)) : 0.f;
  uniform_(bias, -bound, bound, rng);
}

}  // namespace legato::nn::init
