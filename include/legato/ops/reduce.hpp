#pragma once
// Reductions: sum and mean over everything or along one axis (keepdim keeps
// the reduced axis with size 1), and max along an axis with its indices.
//
// Along an axis, x is seen as (outer, n, inner) (see ops/shape.hpp) and the
// result as (outer, inner): out[o, i] = reduce over k of x[o, k, i]. The
// backward spreads g[o, i] back over k.

#include <limits>

#include "legato/ops/elementwise.hpp"
#include "legato/ops/shape.hpp"

namespace legato {

namespace detail {

// Shape of a reduction of `shape` along `axis`.
inline Shape reduced_shape(const Shape& shape, int axis, bool keepdim) {
  Shape out = shape;
  if (keepdim) out[static_cast<std::size_t>(axis)] = 1;
  else out.erase(out.begin() + axis);
  return out;
}

// out[o, i] = scale * sum over k of x[o, k, i]. Parallel over o when large.
inline Tensor sum_along(const Tensor& x, int axis, bool keepdim, float scale) {
  const auto s = split_at(x.shape(), axis);
  Tensor out = Tensor::zeros(reduced_shape(x.shape(), axis, keepdim));
  const float* src = x.data();
  float* dst = out.data();
  parallel_for(
      s.outer,
      [&](std::int64_t o) {
        float* row = dst + o * s.inner;
        for (std::int64_t k = 0; k < s.n; ++k) {
          const float* in = src + (o * s.n + k) * s.inner;
          for (std::int64_t i = 0; i < s.inner; ++i) row[i] += in[i];  // contiguous in i: vectorises
        }
        for (std::int64_t i = 0; i < s.inner; ++i) row[i] *= scale;
      },
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, s.n * s.inner)));
  return out;
}

#ifdef LEGATO_CUDA
// sum_along on the GPU, with its backward (ops/cuda_ops.hpp).
inline Tensor sum_axis_on_cuda(const Tensor& x, int axis, bool keepdim, bool mean, const char* name) {
  const auto s = split_at(x.shape(), axis);
  return on_cuda::sum_axis(x, s.outer, s.n, s.inner, mean, reduced_shape(x.shape(), axis, keepdim), name);
}
#endif

// dx[o, k, i] = scale * g[o, i]: the backward of sum_along.
inline Tensor spread_along(const Tensor& g, const Shape& x_shape, int axis, float scale) {
  const auto s = split_at(x_shape, axis);
  Tensor dx = Tensor::empty(x_shape);
  const float* src = g.data();
  float* dst = dx.data();
  parallel_for(
      s.outer,
      [&](std::int64_t o) {
        for (std::int64_t k = 0; k < s.n; ++k)
          for (std::int64_t i = 0; i < s.inner; ++i) dst[(o * s.n + k) * s.inner + i] = scale * src[o * s.inner + i];
      },
      std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, s.n * s.inner)));
  return dx;
}

// Sum of all elements, accumulated in double so that a million floats lose
// no more than float rounding of the result.
inline double total_of(const Tensor& x) {
  double total = 0.0;
  const float* p = x.data();
  for (std::int64_t i = 0; i < x.numel(); ++i) total += p[i];
  return total;
}

}  // namespace detail

// ------------------------------------------------------------------- sum ----

// Sum of all elements, a scalar of shape (). Gradient: g everywhere.
inline Tensor sum(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::sum_axis(x, 1, x.numel(), 1, /*mean=*/false, {}, "sum");
#endif
  detail::check_cpu(x, "sum");
  Tensor out = Tensor::scalar(static_cast<float>(detail::total_of(x)));
  record(out, "sum", {x}, [](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{Tensor::full(in[0].shape(), g.item())};
  });
  return out;
}

// Sum along `axis`: (B, T, H) along 1 -> (B, H), or (B, 1, H) with keepdim.
// Gradient: g repeated along the axis.
inline Tensor sum(const Tensor& x, int axis, bool keepdim = false) {
  const int a = normalize_axis(axis, x.shape().size(), "sum");
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return detail::sum_axis_on_cuda(x, a, keepdim, /*mean=*/false, "sum_axis");
#endif
  detail::check_cpu(x, "sum");
  Tensor out = detail::sum_along(x, a, keepdim, 1.f);
  record(out, "sum_axis", {x}, [a](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{detail::spread_along(g, in[0].shape(), a, 1.f)};
  });
  return out;
}

// ------------------------------------------------------------------ mean ----

// Mean of all elements (NaN for an empty tensor, like 0/0). Gradient: g / n.
inline Tensor mean(const Tensor& x) {
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return on_cuda::sum_axis(x, 1, x.numel(), 1, /*mean=*/true, {}, "mean");
#endif
  detail::check_cpu(x, "mean");
  const auto n = static_cast<double>(x.numel());
  Tensor out = Tensor::scalar(static_cast<float>(detail::total_of(x) / n));
  record(out, "mean", {x}, [n](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{Tensor::full(in[0].shape(), static_cast<float>(g.item() / n))};
  });
  return out;
}

// Mean along `axis`. Gradient: g / n repeated along the axis.
inline Tensor mean(const Tensor& x, int axis, bool keepdim = false) {
  const int a = normalize_axis(axis, x.shape().size(), "mean");
#ifdef LEGATO_CUDA
  if (!x.is_cpu()) return detail::sum_axis_on_cuda(x, a, keepdim, /*mean=*/true, "mean_axis");
#endif
  detail::check_cpu(x, "mean");
  const float scale = 1.f / static_cast<float>(x.shape()[static_cast<std::size_t>(a)]);
  Tensor out = detail::sum_along(x, a, keepdim, scale);
  record(out, "mean_axis", {x}, [a, scale](const Inputs& in, const Tensor&, const Tensor& g) {
    return Grads{detail::spread_along(g, in[0].shape(), a, scale)};
  });
  return out;
}

// ------------------------------------------------------------------- max ----

struct MaxResult {
  Tensor values;  // the reduced shape
  Ids indices;    // same shape: position of the max along the axis
};

// Largest element along `axis` and where it is. Ties go to the first
// position; a NaN wins (it propagates, as in PyTorch).
// Gradient: g goes to the position of the max, 0 elsewhere.
inline MaxResult max(const Tensor& x, int axis, bool keepdim = false) {
  detail::check_cpu(x, "max");
  const int a = normalize_axis(axis, x.shape().size(), "max");
  const auto s = detail::split_at(x.shape(), a);
  check(s.n > 0, "max: cannot reduce axis ", axis, " of size 0 in shape ", shape_str(x.shape()));
  MaxResult result;
  result.values = Tensor::empty(detail::reduced_shape(x.shape(), a, keepdim));
  result.indices.shape = result.values.shape();
  result.indices.values.resize(static_cast<std::size_t>(s.outer * s.inner));
  const float* src = x.data();
  float* best = result.values.data();
  std::int32_t* where = result.indices.values.data();
  parallel_for(
      s.outer * s.inner,
      [&](std::int64_t r) {
        const std::int64_t o = r / s.inner, i = r % s.inner;
        const float* column = src + o * s.n * s.inner + i;  // stride s.inner along k
        float value = column[0];
        std::int64_t arg = 0;
        for (std::int64_t k = 1; k < s.n && !std::isnan(value); ++k) {
          const float v = column[k * s.inner];
          if (v > value || std::isnan(v)) value = v, arg = k;
        }
        best[r] = value;
        where[r] = static_cast<std::int32_t>(arg);
      },
      std::max<std::int64_t>(1, kParallelGrain / s.n));
  record(result.values, "max", {x},
         [a, index = result.indices.values](const Inputs& in, const Tensor&, const Tensor& g) {
           const auto s = detail::split_at(in[0].shape(), a);
           Tensor dx = Tensor::zeros(in[0].shape());
           for (std::int64_t r = 0; r < s.outer * s.inner; ++r) {
             const std::int64_t o = r / s.inner, i = r % s.inner;
             dx.data()[(o * s.n + index[std::size_t(r)]) * s.inner + i] = g.data()[r];
           }
           return Grads{dx};
         });
  return result;
}

// ------------------------------------------------------ references -------
// One input element at a time, through full multi-indices, in double.

inline Tensor sum_ref(const Tensor& x) {
  double total = 0.0;
  for (std::int64_t i = 0; i < x.numel(); ++i) total += x.data()[i];
  return Tensor::scalar(static_cast<float>(total));
}

inline Tensor sum_ref(const Tensor& x, int axis, bool keepdim = false) {
  const int a = normalize_axis(axis, x.shape().size(), "sum_ref");
  Shape kept = x.shape();
  kept[std::size_t(a)] = 1;
  std::vector<double> acc(static_cast<std::size_t>(numel_of(kept)), 0.0);
  for (std::int64_t j = 0; j < x.numel(); ++j) {
    auto index = detail::unravel(j, x.shape());
    index[std::size_t(a)] = 0;
    acc[std::size_t(detail::ravel(index, kept))] += x.data()[j];
  }
  Tensor out = Tensor::empty(keepdim ? kept : detail::reduced_shape(x.shape(), a, false));
  for (std::size_t r = 0; r < acc.size(); ++r) out.data()[r] = static_cast<float>(acc[r]);
  return out;
}

inline Tensor mean_ref(const Tensor& x) {
  return Tensor::scalar(sum_ref(x).item() / static_cast<float>(x.numel()));
}

inline Tensor mean_ref(const Tensor& x, int axis, bool keepdim = false) {
  Tensor out = sum_ref(x, axis, keepdim);
  const auto n = static_cast<float>(x.size(axis));
  for (std::int64_t r = 0; r < out.numel(); ++r) out.data()[r] /= n;
  return out;
}

// Values only; ties go to the first position as in max().
inline MaxResult max_ref(const Tensor& x, int axis, bool keepdim = false) {
  const int a = normalize_axis(axis, x.shape().size(), "max_ref");
  Shape kept = x.shape();
  kept[std::size_t(a)] = 1;
  MaxResult r;
  r.values = Tensor::full(keepdim ? kept : detail::reduced_shape(x.shape(), a, false),
                          -std::numeric_limits<float>::infinity());
  r.indices.shape = r.values.shape();
  r.indices.values.assign(static_cast<std::size_t>(r.values.numel()), -1);
  for (std::int64_t j = 0; j < x.numel(); ++j) {
    auto index = detail::unravel(j, x.shape());
    const std::int64_t k = index[std::size_t(a)];
    index[std::size_t(a)] = 0;
    const auto slot = detail::ravel(index, kept);
    if (r.indices.values[std::size_t(slot)] < 0 || x.data()[j] > r.values.data()[slot]) {
      r.values.data()[slot] = x.data()[j];
      r.indices.values[std::size_t(slot)] = static_cast<std::int32_t>(k);
    }
  }
  return r;
}

}  // namespace legato
