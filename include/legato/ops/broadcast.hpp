#pragma once
// NumPy broadcasting for rank <= 4: shapes are aligned on the right, and a
// dimension of 1 stretches to match the other operand.
//
//   (B, T, H) + (H,)      -> (B, T, H)
//   (B, 1, H) * (1, T, 1) -> (B, T, H)
//
// The backward of a broadcast op must sum the gradient back over the
// stretched dimensions: sum_to() does that.

#include <array>

#include "legato/tensor.hpp"

#include "legato/ops/cuda_ops.hpp"

namespace legato {

// The broadcast result shape, or an error naming the op and both shapes.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    check(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
          " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Element strides of `shape` seen as broadcast to `out` (rank 4, padded on
// the left): a stretched dimension gets stride 0.
inline std::array<std::int64_t, 4> broadcast_strides(const Shape& shape, const Shape& out) {
  std::array<std::int64_t, 4> strides{0, 0, 0, 0};
  std::int64_t stride = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    const int slot = 4 - static_cast<int>(shape.size()) + i;
    const std::int64_t out_dim = out[out.size() - shape.size() + static_cast<std::size_t>(i)];
    strides[static_cast<std::size_t>(slot)] = (shape[static_cast<std::size_t>(i)] == 1 && out_dim != 1) ? 0 : stride;
    stride *= shape[static_cast<std::size_t>(i)];
  }
  return strides;
}

inline std::array<std::int64_t, 4> padded_dims(const Shape& shape) {
  std::array<std::int64_t, 4> dims{1, 1, 1, 1};
  for (std::size_t i = 0; i < shape.size(); ++i) dims[4 - shape.size() + i] = shape[i];
  return dims;
}

// Calls visit(out_index, a_index, b_index) for every element of the broadcast
// result, in row-major order of the result.
template <class Visit>
void for_each_broadcast(const Shape& a, const Shape& b, const Shape& out, Visit&& visit) {
  const auto dims = padded_dims(out);
  const auto sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  std::int64_t o = 0;
  for (std::int64_t i0 = 0; i0 < dims[0]; ++i0)
    for (std::int64_t i1 = 0; i1 < dims[1]; ++i1)
      for (std::int64_t i2 = 0; i2 < dims[2]; ++i2) {
        const std::int64_t base_a = i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
        const std::int64_t base_b = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
        for (std::int64_t i3 = 0; i3 < dims[3]; ++i3, ++o) visit(o, base_a + i3 * sa[3], base_b + i3 * sb[3]);
      }
}

// Sums `grad` (shape `from`, a broadcast of `to`) down to shape `to`.
inline Tensor sum_to(const Tensor& grad, const Shape& to) {
  if (grad.shape() == to) return grad;
#ifdef LEGATO_CUDA
  if (!grad.is_cpu()) return on_cuda::sum_to(grad, to);
#endif
  Tensor out = Tensor::zeros(to);
  float* dst = out.data();
  const float* src = grad.data();
  for_each_broadcast(to, to, grad.shape(), [&](std::int64_t o, std::int64_t t, std::int64_t) { dst[t] += src[o]; });
  return out;
}

}  // namespace legato
