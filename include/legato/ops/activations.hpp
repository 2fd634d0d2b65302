#pragma once
// Activations: sigmoid, tanh, relu, leaky_relu, softplus. Elementwise maps
// whose backward needs only the input or the output at the same position.
// Each backward is one fused pass over (value, grad_out) instead of a chain
// of elementwise ops, because these sit inside every layer.

#include <cmath>

#include "legato/ops/elementwise.hpp"

namespace legato {

// 1 / (1 + e^-x). Gradient: g * y * (1 - y), from the saved output y.
// (For very negative x, e^-x overflows to inf and 1/inf gives the correct 0.)
inline Tensor sigmoid(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::unary(cuda::UnaryOp::sigmoid, x, "sigmoid");
#endif
  Tensor out = detail::map_unary(x, "sigmoid", [](float v) { return 1.f / (1.f + std::exp(-v)); });
  record(out, "sigmoid", {x}, [](const Inputs&, const Tensor& out, const Tensor& g) {
    return Grads{detail::map_binary(out, g, "sigmoid", [](float y, float dy) { return dy * y * (1.f - y); })};
  });
  return out;
}

// tanh(x). Gradient: g * (1 - y^2), from the saved output y.
inline Tensor tanh(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::unary(cuda::UnaryOp::tanh, x, "tanh");
#endif
  Tensor out = detail::map_unary(x, "tanh", [](float v) { return std::tanh(v); });
  record(out, "tanh", {x}, [](const Inputs&, const Tensor& out, const Tensor& g) {
    return Grads{detail::map_binary(out, g, "tanh", [](float y, float dy) { return dy * (1.f - y * y); })};
  });
  return out;
}

// max(x, 0). Gradient: g where x > 0, else 0 (at exactly 0 too, as PyTorch).
inline Tensor relu(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::unary(cuda::UnaryOp::relu, x, "relu");
#endif
  Tensor out = detail::map_unary(x, "relu", [](float v) { return v > 0.f ? v : 0.f; });
  record(out, "relu", {x}, [](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{detail::map_binary(in[0], g, "relu", [](float v, float dy) { return v > 0.f ? dy : 0.f; })};
  });
  return out;
}

// x for x > 0, slope * x otherwise. Gradient: g or slope * g.
inline Tensor leaky_relu(const Tensor& x, float slope = 0.01f) {
  Tensor out = detail::map_unary(x, "leaky_relu", [slope](float v) { return v > 0.f ? v : slope * v; });
  record(out, "leaky_relu", {x}, [slope](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{
        detail::map_binary(in[0], g, "leaky_relu", [slope](float v, float dy) { return v > 0.f ? dy : slope * dy; })};
  });
  return out;
}

// log(1 + e^x), written as max(x, 0) + log1p(e^-|x|) so that neither a large
// positive x (e^x overflows) nor a large negative one (1 + tiny rounds to 1)
// loses the answer. Gradient: g * sigmoid(x).
inline Tensor softplus(const Tensor& x) {
  Tensor out = detail::map_unary(x, "softplus",
                                 [](float v) { return std::max(v, 0.f) + std::log1p(std::exp(-std::fabs(v))); });
  record(out, "softplus", {x}, [](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{
        detail::map_binary(in[0], g, "softplus", [](float v, float dy) { return dy / (1.f + std::exp(-v)); })};
  });
  return out;
}

// ------------------------------------------------------ references -------
// Textbook formulas in double, one element at a time.

inline Tensor sigmoid_ref(const Tensor& x) {
  return unary_ref(x, [](float v) { return float(1.0 / (1.0 + std::exp(-double(v)))); });
}
inline Tensor tanh_ref(const Tensor& x) {
  return unary_ref(x, [](float v) {
    const double e2 = std::exp(2.0 * double(v));
    return std::isinf(e2) ? 1.f : float((e2 - 1.0) / (e2 + 1.0));
  });
}
inline Tensor relu_ref(const Tensor& x) {
  return unary_ref(x, [](float v) { return v > 0.f ? v : 0.f; });
}
inline Tensor leaky_relu_ref(const Tensor& x, float slope = 0.01f) {
  return unary_ref(x, [slope](float v) { return v > 0.f ? v : slope * v; });
}
// log(1 + e^x) in double: exact enough for |x| < 700, which the tests keep to.
inline Tensor softplus_ref(const Tensor& x) {
  return unary_ref(x, [](float v) { return float(std::log(1.0 + std::exp(double(v)))); });
}

}  // namespace legato
