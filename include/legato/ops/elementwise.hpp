#pragma once
// Elementwise ops: add, sub, mul, div with NumPy broadcasting, their scalar
// variants, and the unary maps neg, exp, log, sqrt, pow, abs, clamp.
// Forward and backward sit together in each function; *_ref versions are
// plain index loops that the tests compare against. On GPU tensors (a build
// with LEGATO_CUDA) the ops that have a CUDA twin hand over to
// ops/cuda_ops.hpp; the others stop with "runs on the cpu only".

#include <cmath>

#include "legato/autograd.hpp"
#include "legato/ops/broadcast.hpp"
#include "legato/ops/cuda_ops.hpp"
#include "legato/util/parallel.hpp"

namespace legato {

namespace detail {

inline void check_cpu(const Tensor& t, const char* op) {
  check(t.is_cpu(), op, ": tensor of shape ", shape_str(t.shape()), " is on ", device_name(t.device()),
        ", and this op runs on the cpu only");
}

// out[i] = f(x[i]) for every element.
template <class F>
Tensor map_unary(const Tensor& x, const char* op, F f) {
  check_cpu(x, op);
  Tensor out = Tensor::empty(x.shape());
  const float* src = x.data();
  float* dst = out.data();
  parallel_for(x.numel(), [&](std::int64_t i) { dst[i] = f(src[i]); });
  return out;
}

// out = f(a, b) with broadcasting.
template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, const char* op, F f) {
  check_cpu(a, op);
  check_cpu(b, op);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(shape);
  const float* pa = a.data();
  const float* pb = b.data();
  float* dst = out.data();
  if (a.shape() == b.shape()) {  // the common case: no index arithmetic
    parallel_for(out.numel(), [&](std::int64_t i) { dst[i] = f(pa[i], pb[i]); });
  } else if (b.numel() == 1 && a.shape() == shape) {
    const float s = pb[0];
    parallel_for(out.numel(), [&](std::int64_t i) { dst[i] = f(pa[i], s); });
  } else {
    for_each_broadcast(a.shape(), b.shape(), shape,
                       [&](std::int64_t o, std::int64_t ia, std::int64_t ib) { dst[o] = f(pa[ia], pb[ib]); });
  }
  return out;
}

}  // namespace detail

// ------------------------------------------------------------- binary ----

Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);

// a + b. Gradient: g to both, summed over broadcast dimensions.
inline Tensor add(const Tensor& a, const Tensor& b) {
#ifdef LEGATO_CUDA
  if (common_device("add", a, b) == Device::cuda) return on_cuda::binary(cuda::BinaryOp::add, a, b, "add");
#endif
  Tensor out = detail::map_binary(a, b, "add", [](float x, float y) { return x + y; });
  record(out, "add", {a, b}, [](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{sum_to(g, in[0].shape()), sum_to(g, in[1].shape())};
  });
  return out;
}

// a - b. Gradient: g and -g.
inline Tensor sub(const Tensor& a, const Tensor& b) {
#ifdef LEGATO_CUDA
  if (common_device("sub", a, b) == Device::cuda) return on_cuda::binary(cuda::BinaryOp::sub, a, b, "sub");
#endif
  Tensor out = detail::map_binary(a, b, "sub", [](float x, float y) { return x - y; });
  record(out, "sub", {a, b}, [](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{sum_to(g, in[0].shape()), sum_to(neg(g), in[1].shape())};
  });
  return out;
}

// a * b. Gradient: g*b and g*a.
inline Tensor mul(const Tensor& a, const Tensor& b) {
#ifdef LEGATO_CUDA
  if (common_device("mul", a, b) == Device::cuda) return on_cuda::binary(cuda::BinaryOp::mul, a, b, "mul");
#endif
  Tensor out = detail::map_binary(a, b, "mul", [](float x, float y) { return x * y; });
  record(out, "mul", {a, b}, [](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{in[0].requires_grad() ? sum_to(mul(g, in[1]), in[0].shape()) : Tensor(),
                 in[1].requires_grad() ? sum_to(mul(g, in[0]), in[1].shape()) : Tensor()};
  });
  return out;
}

// a / b. Gradient: g/b and -g*a/b^2 = -g*out/b.
inline Tensor div(const Tensor& a, const Tensor& b) {
#ifdef LEGATO_CUDA
  if (common_device("div", a, b) == Device::cuda) return on_cuda::binary(cuda::BinaryOp::div, a, b, "div");
#endif
  Tensor out = detail::map_binary(a, b, "div", [](float x, float y) { return x / y; });
  record(out, "div", {a, b}, [](const Inputs& in, const Tensor& out, const Tensor& g) {
    return Grads{in[0].requires_grad() ? sum_to(div(g, in[1]), in[0].shape()) : Tensor(),
                 in[1].requires_grad() ? sum_to(neg(div(mul(g, out), in[1])), in[1].shape()) : Tensor()};
  });
  return out;
}

// ------------------------------------------------------ scalar variants ----

// x + s. Gradient: g.
inline Tensor add(const Tensor& x, float s) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::affine(x, 1.f, s, "add_scalar");
#endif
  Tensor out = detail::map_unary(x, "add_scalar", [s](float v) { return v + s; });
  record(out, "add_scalar", {x}, [](const Inputs&, const Tensor&, const Tensor& g) { return Grads{g}; });
  return out;
}
inline Tensor sub(const Tensor& x, float s) { return add(x, -s); }

// x * s. Gradient: g*s.
inline Tensor mul(const Tensor& x, float s) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::affine(x, s, 0.f, "mul_scalar");
#endif
  Tensor out = detail::map_unary(x, "mul_scalar", [s](float v) { return v * s; });
  record(out, "mul_scalar", {x}, [s](const Inputs&, const Tensor&, const Tensor& g) { return Grads{mul(g, s)}; });
  return out;
}
inline Tensor div(const Tensor& x, float s) { return mul(x, 1.f / s); }

// s - x. Gradient: -g.
inline Tensor rsub(float s, const Tensor& x) { return add(neg(x), s); }

// ---------------------------------------------------------------- unary ----

// -x. Gradient: -g.
inline Tensor neg(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::unary(cuda::UnaryOp::neg, x, "neg");
#endif
  Tensor out = detail::map_unary(x, "neg", [](float v) { return -v; });
  record(out, "neg", {x}, [](const Inputs&, const Tensor&, const Tensor& g) { return Grads{neg(g)}; });
  return out;
}

// exp(x). Gradient: g*exp(x) = g*out.
inline Tensor exp(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::unary(cuda::UnaryOp::exp, x, "exp");
#endif
  Tensor out = detail::map_unary(x, "exp", [](float v) { return std::exp(v); });
  record(out, "exp", {x}, [](const Inputs&, const Tensor& out, const Tensor& g) { return Grads{mul(g, out)}; });
  return out;
}

// log(x). Gradient: g/x.
inline Tensor log(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::unary(cuda::UnaryOp::log, x, "log");
#endif
  Tensor out = detail::map_unary(x, "log", [](float v) { return std::log(v); });
  record(out, "log", {x}, [](const Inputs& in, const Tensor&, const Tensor& g) { return Grads{div(g, in[0])}; });
  return out;
}

// sqrt(x). Gradient: g/(2*sqrt(x)) = g/(2*out).
inline Tensor sqrt(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::unary(cuda::UnaryOp::sqrt, x, "sqrt");
#endif
  Tensor out = detail::map_unary(x, "sqrt", [](float v) { return std::sqrt(v); });
  record(out, "sqrt", {x}, [](const Inputs&, const Tensor& out, const Tensor& g) {
    return Grads{div(g, mul(out, 2.f))};
  });
  return out;
}

// x^p. Gradient: g*p*x^(p-1).
inline Tensor pow(const Tensor& x, float p) {
  Tensor out = detail::map_unary(x, "pow", [p](float v) { return std::pow(v, p); });
  record(out, "pow", {x}, [p](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{mul(g, mul(pow(in[0], p - 1.f), p))};
  });
  return out;
}

// |x|. Gradient: g*sign(x), with sign(0) = 0 as in PyTorch.
inline Tensor abs(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::unary(cuda::UnaryOp::abs, x, "abs");
#endif
  Tensor out = detail::map_unary(x, "abs", [](float v) { return std::fabs(v); });
  record(out, "abs", {x}, [](const Inputs& in, const Tensor&, const Tensor& g) {
    const Tensor sign = detail::map_unary(in[0], "abs", [](float v) { return float((v > 0.f) - (v < 0.f)); });
    return Grads{mul(g, sign)};
  });
  return out;
}

// min(max(x, lo), hi). Gradient: g where lo <= x <= hi, else 0 (PyTorch's rule).
inline Tensor clamp(const Tensor& x, float lo, float hi) {
  check(lo <= hi, "clamp: lower bound ", lo, " exceeds upper bound ", hi);
  Tensor out = detail::map_unary(x, "clamp", [lo, hi](float v) { return std::min(std::max(v, lo), hi); });
  record(out, "clamp", {x}, [lo, hi](const Inputs& in, const Tensor&, const Tensor& g) {
    const Tensor inside = detail::map_unary(in[0], "clamp", [lo, hi](float v) { return float(v >= lo && v <= hi); });
    return Grads{mul(g, inside)};
  });
  return out;
}

// ------------------------------------------------------------ operators ----

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, float s) { return add(x, s); }
inline Tensor operator-(const Tensor& x, float s) { return sub(x, s); }
inline Tensor operator*(const Tensor& x, float s) { return mul(x, s); }
inline Tensor operator/(const Tensor& x, float s) { return div(x, s); }
inline Tensor operator+(float s, const Tensor& x) { return add(x, s); }
inline Tensor operator-(float s, const Tensor& x) { return rsub(s, x); }
inline Tensor operator*(float s, const Tensor& x) { return mul(x, s); }

// ------------------------------------------------------ references -------

// Plain-loop broadcasting, written independently of for_each_broadcast: for
// every output multi-index, find each operand's element by clamping the
// index to 0 on its stretched axes.
template <class F>
Tensor binary_ref(const Tensor& a, const Tensor& b, F f) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "binary_ref");
  Tensor out = Tensor::empty(shape);
  const std::size_t rank = shape.size();
  std::vector<std::int64_t> index(rank, 0);
  auto offset_in = [&](const Shape& s) {
    std::int64_t offset = 0;
    for (std::size_t k = 0; k < s.size(); ++k) {
      const std::int64_t i = index[rank - s.size() + k];
      offset = offset * s[k] + (s[k] == 1 ? 0 : i);
    }
    return offset;
  };
  for (std::int64_t o = 0; o < out.numel(); ++o) {
    std::int64_t rest = o;
    for (std::size_t k = rank; k-- > 0;) {
      index[k] = rest % shape[k];
      rest /= shape[k];
    }
    out.data()[o] = f(a.data()[offset_in(a.shape())], b.data()[offset_in(b.shape())]);
  }
  return out;
}

template <class F>
Tensor unary_ref(const Tensor& x, F f) {
  Tensor out = Tensor::empty(x.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) out.data()[i] = f(x.data()[i]);
  return out;
}

}  // namespace legato
