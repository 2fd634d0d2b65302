// Elementwise ops with broadcasting.
//
// Strategy: every shape is padded on the left to rank 4 and each operand gets
// element strides in the output's index space, 0 along a stretched dimension.
// One thread per output element (grid-stride loop) decomposes its linear index
// into four coordinates and dots them with each operand's strides. When both
// operands already have the output's shape (the common case) a second kernel
// skips the index arithmetic. Memory-bound either way: reads and writes are
// coalesced along the last axis.
//
// sum_to (the broadcast gradient) runs one thread per element of the small
// shape, looping over the stretched coordinates; it writes every output once,
// so it needs no atomics and is deterministic.

#include <algorithm>
#include <array>
#include <string>

#include "common.cuh"
#include "legato/cuda/elementwise.hpp"

namespace legato::cuda {

namespace {

struct Index4 {
  std::int64_t dims[4];     // output dims, padded with leading 1s
  std::int64_t stride_a[4]; // element strides of a in output index space
  std::int64_t stride_b[4];
};

std::string dims_str(const Dims& d) {
  std::string s = "(";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  if (d.size() == 1) s += ",";
  return s + ")";
}

std::int64_t numel(const Dims& d) {
  std::int64_t n = 1;
  for (auto x : d) n *= x;
  return n;
}

void check_dims(const Dims& d, const char* op) {
  check(d.size() <= 4, "cuda ", op, ": rank ", d.size(), " of shape ", dims_str(d), " exceeds 4");
  for (auto x : d) check(x >= 0, "cuda ", op, ": negative dimension in ", dims_str(d));
}

// Strides of `shape` seen through broadcasting to `out` (rank 4, padded left).
void strides_into(const Dims& shape, const Dims& out, std::int64_t* strides) {
  for (int i = 0; i < 4; ++i) strides[i] = 0;
  std::int64_t stride = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    const int slot = 4 - static_cast<int>(shape.size()) + i;
    const std::int64_t out_dim = out[out.size() - shape.size() + static_cast<std::size_t>(i)];
    strides[slot] = (shape[static_cast<std::size_t>(i)] == 1 && out_dim != 1) ? 0 : stride;
    stride *= shape[static_cast<std::size_t>(i)];
  }
}

__device__ __forceinline__ float apply(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::maximum: return fmaxf(a, b);
    case BinaryOp::minimum: return fminf(a, b);
  }
  return 0.f;
}

__global__ void binary_broadcast_kernel(BinaryOp op, const float* a, const float* b, float* out, std::int64_t n,
                                        Index4 ix) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    std::int64_t rest = i, oa = 0, ob = 0;
    for (int d = 3; d >= 0; --d) {
      const std::int64_t coord = rest % ix.dims[d];
      rest /= ix.dims[d];
      oa += coord * ix.stride_a[d];
      ob += coord * ix.stride_b[d];
    }
    out[i] = apply(op, a[oa], b[ob]);
  }
}

__global__ void binary_same_shape_kernel(BinaryOp op, const float* a, const float* b, float* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = apply(op, a[i], b[i]);
}

__device__ __forceinline__ float apply(UnaryOp op, float x) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return expf(x);
    case UnaryOp::log: return logf(x);
    case UnaryOp::tanh: return tanhf(x);
    case UnaryOp::sigmoid: return detail::sigmoidf_(x);
    case UnaryOp::relu: return x > 0.f ? x : 0.f;
    case UnaryOp::sqrt: return sqrtf(x);
    case UnaryOp::square: return x * x;
    case UnaryOp::abs: return fabsf(x);
  }
  return 0.f;
}

// f'(x), given x and y = f(x).
__device__ __forceinline__ float derivative(UnaryOp op, float x, float y) {
  switch (op) {
    case UnaryOp::neg: return -1.f;
    case UnaryOp::exp: return y;
    case UnaryOp::log: return 1.f / x;
    case UnaryOp::tanh: return 1.f - y * y;
    case UnaryOp::sigmoid: return y * (1.f - y);
    case UnaryOp::relu: return x > 0.f ? 1.f : 0.f;
    case UnaryOp::sqrt: return 0.5f / y;
    case UnaryOp::square: return 2.f * x;
    case UnaryOp::abs: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
  }
  return 0.f;
}

bool needs_y(UnaryOp op) {
  return op == UnaryOp::exp || op == UnaryOp::tanh || op == UnaryOp::sigmoid || op == UnaryOp::sqrt;
}

__global__ void unary_kernel(UnaryOp op, const float* x, float* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = apply(op, x[i]);
}

__global__ void unary_backward_kernel(UnaryOp op, const float* x, const float* y, const float* g, float* dx,
                                      std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const float xv = x ? x[i] : 0.f;
    const float yv = y ? y[i] : 0.f;
    dx[i] = g[i] * derivative(op, xv, yv);
  }
}

__global__ void affine_kernel(const float* x, float* out, std::int64_t n, float alpha, float beta) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = alpha * x[i] + beta;
}

__global__ void axpy_kernel(float alpha, const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] += alpha * x[i];
}

// One thread per element of `to`. big_dims: the broadcast (large) shape;
// to_stride: strides of the small shape in the big index space (0 where
// stretched); reduced[d] = 1 where dimension d is stretched.
struct SumToIndex {
  std::int64_t big_dims[4];
  std::int64_t big_strides[4];  // contiguous strides of the big shape
  std::int64_t small_dims[4];   // dims of `to`, padded; 1 where stretched
  int reduced[4];
};

__global__ void sum_to_kernel(const float* g, float* out, std::int64_t n_small, SumToIndex ix) {
  for (std::int64_t s = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; s < n_small;
       s += std::int64_t(gridDim.x) * blockDim.x) {
    // Coordinates of s in the small shape; stretched dims have coordinate 0.
    std::int64_t coord[4], rest = s;
    for (int d = 3; d >= 0; --d) {
      coord[d] = rest % ix.small_dims[d];
      rest /= ix.small_dims[d];
    }
    const std::int64_t n0 = ix.reduced[0] ? ix.big_dims[0] : 1, n1 = ix.reduced[1] ? ix.big_dims[1] : 1;
    const std::int64_t n2 = ix.reduced[2] ? ix.big_dims[2] : 1, n3 = ix.reduced[3] ? ix.big_dims[3] : 1;
    float total = 0.f;
    for (std::int64_t i0 = 0; i0 < n0; ++i0)
      for (std::int64_t i1 = 0; i1 < n1; ++i1)
        for (std::int64_t i2 = 0; i2 < n2; ++i2)
          for (std::int64_t i3 = 0; i3 < n3; ++i3) {
            const std::int64_t c0 = ix.reduced[0] ? i0 : coord[0], c1 = ix.reduced[1] ? i1 : coord[1];
            const std::int64_t c2 = ix.reduced[2] ? i2 : coord[2], c3 = ix.reduced[3] ? i3 : coord[3];
            total += g[c0 * ix.big_strides[0] + c1 * ix.big_strides[1] + c2 * ix.big_strides[2] +
                       c3 * ix.big_strides[3]];
          }
    out[s] = total;
  }
}

}  // namespace

Dims broadcast_shape(const Dims& a, const Dims& b, const char* op) {
  check_dims(a, op);
  check_dims(b, op);
  const std::size_t rank = std::max(a.size(), b.size());
  Dims out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    check(da == db || da == 1 || db == 1, "cuda ", op, ": shapes ", dims_str(a), " and ", dims_str(b),
          " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void binary(BinaryOp op, const float* a, const Dims& a_shape, const float* b, const Dims& b_shape, float* out) {
  const Dims out_shape = broadcast_shape(a_shape, b_shape, "binary");
  const std::int64_t n = numel(out_shape);
  if (n == 0) return;
  if (a_shape == b_shape) {
    binary_same_shape_kernel<<<detail::grid_for(n, 256), 256>>>(op, a, b, out, n);
    LEGATO_CUDA_LAUNCHED("binary_same_shape_kernel");
    return;
  }
  Index4 ix{};
  Dims padded(4 - out_shape.size(), 1);
  padded.insert(padded.end(), out_shape.begin(), out_shape.end());
  for (int d = 0; d < 4; ++d) ix.dims[d] = padded[static_cast<std::size_t>(d)];
  strides_into(a_shape, out_shape, ix.stride_a);
  strides_into(b_shape, out_shape, ix.stride_b);
  binary_broadcast_kernel<<<detail::grid_for(n, 256), 256>>>(op, a, b, out, n, ix);
  LEGATO_CUDA_LAUNCHED("binary_broadcast_kernel");
}

void unary(UnaryOp op, const float* x, std::int64_t n, float* out) {
  check(n >= 0, "cuda unary: negative size ", n);
  if (n == 0) return;
  unary_kernel<<<detail::grid_for(n, 256), 256>>>(op, x, out, n);
  LEGATO_CUDA_LAUNCHED("unary_kernel");
}

void unary_backward(UnaryOp op, const float* x, const float* y, const float* g, std::int64_t n, float* dx) {
  check(n >= 0, "cuda unary_backward: negative size ", n);
  if (n == 0) return;
  check(!needs_y(op) || y != nullptr, "cuda unary_backward: this op needs the forward output y");
  check(needs_y(op) || op == UnaryOp::neg || x != nullptr, "cuda unary_backward: this op needs the input x");
  unary_backward_kernel<<<detail::grid_for(n, 256), 256>>>(op, x, y, g, dx, n);
  LEGATO_CUDA_LAUNCHED("unary_backward_kernel");
}

void affine(const float* x, std::int64_t n, float alpha, float beta, float* out) {
  if (n <= 0) return;
  affine_kernel<<<detail::grid_for(n, 256), 256>>>(x, out, n, alpha, beta);
  LEGATO_CUDA_LAUNCHED("affine_kernel");
}

void axpy(float alpha, const float* x, std::int64_t n, float* y) {
  if (n <= 0) return;
  axpy_kernel<<<detail::grid_for(n, 256), 256>>>(alpha, x, y, n);
  LEGATO_CUDA_LAUNCHED("axpy_kernel");
}

void sum_to(const float* g, const Dims& from, const Dims& to, float* out) {
  check_dims(from, "sum_to");
  check_dims(to, "sum_to");
  check(broadcast_shape(from, to, "sum_to") == from, "cuda sum_to: shape ", dims_str(from),
        " is not a broadcast of ", dims_str(to));
  const std::int64_t n_small = numel(to);
  if (n_small == 0) return;
  if (numel(from) == 0) {
    fill(out, static_cast<std::size_t>(n_small), 0.f);
    return;
  }
  SumToIndex ix{};
  Dims big(4 - from.size(), 1), small(4 - to.size(), 1);
  big.insert(big.end(), from.begin(), from.end());
  small.insert(small.end(), to.begin(), to.end());
  std::int64_t stride = 1;
  for (int d = 3; d >= 0; --d) {
    const auto k = static_cast<std::size_t>(d);
    ix.big_dims[d] = big[k];
    ix.big_strides[d] = stride;
    stride *= big[k];
    ix.small_dims[d] = small[k];
    ix.reduced[d] = small[k] == 1 && big[k] != 1;
  }
  sum_to_kernel<<<detail::grid_for(n_small, 256), 256>>>(g, out, n_small, ix);
  LEGATO_CUDA_LAUNCHED("sum_to_kernel");
}

}  // namespace legato::cuda
