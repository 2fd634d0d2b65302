#pragma once
// softmax and log_softmax along the last axis: (..., C) -> (..., C).
//
// Numerically stable: each row subtracts its max m before exponentiating, so
// the largest exponent is e^0 = 1 and nothing overflows, and the result does
// not change because softmax(x - m) = softmax(x).
//
//   softmax:      y_c = e^(x_c - m) / s,          s = sum_c e^(x_c - m)
//   log_softmax:  y_c = x_c - m - log(s)
//
// Backward, per row, with <g, y> the dot product over c:
//   softmax:      dx = y * (g - <g, y>)
//   log_softmax:  dx = g - softmax(x) * sum(g) = g - e^y * sum(g)

#include "legato/ops/elementwise.hpp"

namespace legato {

namespace detail {

// Softmax works on rows along the last dimension: there must be one.
inline void check_rows(const Tensor& x, const char* op) {
  check(x.dim() >= 1, op, ": needs at least 1 dimension, got shape ", shape_str(x.shape()));
}

// Calls body(row) for each of the numel / C rows, in parallel when large.
template <class Body>
void for_each_row(const Tensor& x, Body&& body) {
  const std::int64_t cols = x.shape().back();
  const std::int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  parallel_for(rows, body, std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, cols)));
}

}  // namespace detail

inline Tensor softmax(const Tensor& x) {
  detail::check_rows(x, "softmax");
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::softmax(x, /*log=*/false, "softmax");
#endif
  detail::check_cpu(x, "softmax");
  const std::int64_t C = x.shape().back();
  Tensor out = Tensor::empty(x.shape());
  const float* src = x.data();
  float* dst = out.data();
  detail::for_each_row(x, [&](std::int64_t r) {
    const float* in = src + r * C;
    float* y = dst + r * C;
    float m = in[0];
    for (std::int64_t c = 1; c < C; ++c) m = std::max(m, in[c]);
    float s = 0.f;
    for (std::int64_t c = 0; c < C; ++c) s += (y[c] = std::exp(in[c] - m));
    const float inv = 1.f / s;
    for (std::int64_t c = 0; c < C; ++c) y[c] *= inv;
  });
  record(out, "softmax", {x}, [C](const Inputs&, const Tensor& out, const Tensor& g) {
    Tensor dx = Tensor::empty(out.shape());
    detail::for_each_row(out, [&](std::int64_t r) {
      const float* y = out.data() + r * C;
      const float* gr = g.data() + r * C;
      float dot = 0.f;
      for (std::int64_t c = 0; c < C; ++c) dot += gr[c] * y[c];
      for (std::int64_t c = 0; c < C; ++c) dx.data()[r * C + c] = y[c] * (gr[c] - dot);
    });
    return Grads{dx};
  });
  return out;
}

inline Tensor log_softmax(const Tensor& x) {
  detail::check_rows(x, "log_softmax");
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::softmax(x, /*log=*/true, "log_softmax");
#endif
  detail::check_cpu(x, "log_softmax");
  const std::int64_t C = x.shape().back();
  Tensor out = Tensor::empty(x.shape());
  const float* src = x.data();
  float* dst = out.data();
  detail::for_each_row(x, [&](std::int64_t r) {
    const float* in = src + r * C;
    float m = in[0];
    for (std::int64_t c = 1; c < C; ++c) m = std::max(m, in[c]);
    float s = 0.f;
    for (std::int64_t c = 0; c < C; ++c) s += std::exp(in[c] - m);
    const float shift = m + std::log(s);  // log sum_c e^(x_c)
    for (std::int64_t c = 0; c < C; ++c) dst[r * C + c] = in[c] - shift;
  });
  record(out, "log_softmax", {x}, [C](const Inputs&, const Tensor& out, const Tensor& g) {
    Tensor dx = Tensor::empty(out.shape());
    detail::for_each_row(out, [&](std::int64_t r) {
      const float* y = out.data() + r * C;
      const float* gr = g.data() + r * C;
      float total = 0.f;
      for (std::int64_t c = 0; c < C; ++c) total += gr[c];
      for (std::int64_t c = 0; c < C; ++c) dx.data()[r * C + c] = gr[c] - std::exp(y[c]) * total;
    });
    return Grads{dx};
  });
  return out;
}

// ------------------------------------------------------ references -------
// Row by row in double (still subtracting the max: the reference must be
// right for the large inputs the stability test feeds it).

inline Tensor log_softmax_ref(const Tensor& x) {
  const std::int64_t C = x.shape().back();
  Tensor out = Tensor::empty(x.shape());
  for (std::int64_t r = 0; C > 0 && r < x.numel() / C; ++r) {
    double m = x.data()[r * C];
    for (std::int64_t c = 0; c < C; ++c) m = std::max(m, double(x.data()[r * C + c]));
    double s = 0.0;
    for (std::int64_t c = 0; c < C; ++c) s += std::exp(double(x.data()[r * C + c]) - m);
    for (std::int64_t c = 0; c < C; ++c)
      out.data()[r * C + c] = static_cast<float>(double(x.data()[r * C + c]) - m - std::log(s));
  }
  return out;
}

inline Tensor softmax_ref(const Tensor& x) {
  Tensor out = log_softmax_ref(x);
  for (std::int64_t i = 0; i < out.numel(); ++i) out.data()[i] = std::exp(out.data()[i]);
  return out;
}

}  // namespace legato
