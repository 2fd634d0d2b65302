#pragma once
// Dropout with an explicit mask (inverted dropout).
//
//   Tensor mask = dropout_mask(x.shape(), 0.2f, rng);  // 0 or 1/(1-p) per element
//   Tensor y = dropout(x, mask);                        // y = x * mask
//
// The mask is made apart from the op so that a test can fix it and a module
// (nn::Dropout, nn::LSTM between layers) can draw it from its own generator.
// Scaling the kept elements by 1/(1-p) in training keeps the expected value
// of every element, so eval mode is the identity, as in PyTorch.

#include "legato/autograd.hpp"
#include "legato/ops/elementwise.hpp"

namespace legato {

// Each element is 1/(1-p) with probability 1-p and 0 otherwise; p = 1 drops all.
inline Tensor dropout_mask(const Shape& shape, float p, Rng& rng) {
  check(p >= 0.f && p <= 1.f, "dropout_mask: probability ", p, " is outside [0, 1]");
  Tensor mask = Tensor::empty(shape);
  const float keep_scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  float* m = mask.data();
  for (std::int64_t i = 0; i < mask.numel(); ++i) m[i] = rng.uniform() < p ? 0.f : keep_scale;
  return mask;
}

// x * mask, for a mask of x's shape. Gradient: g * mask (the mask gets none).
inline Tensor dropout(const Tensor& x, const Tensor& mask) {
  check(mask.shape() == x.shape(), "dropout: mask of shape ", shape_str(mask.shape()),
        " does not match the input of shape ", shape_str(x.shape()));
  Tensor out = detail::map_binary(x, mask, "dropout", [](float v, float m) { return v * m; });
  const Tensor saved_mask = mask.detach();  // a plain buffer, not a graph tensor
  record(out, "dropout", {x}, [saved_mask](const Inputs&, const Tensor&, const Tensor& g) {
    return Grads{detail::map_binary(g, saved_mask, "dropout_backward", [](float v, float m) { return v * m; })};
  });
  return out;
}

inline Tensor dropout_ref(const Tensor& x, const Tensor& mask) {
  Tensor out = Tensor::empty(x.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) out.data()[i] = x.data()[i] * mask.data()[i];
  return out;
}

}  // namespace legato
