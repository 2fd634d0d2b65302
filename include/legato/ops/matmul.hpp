#pragma once
// Matrix products and transposes.
//
//   matmul(a, b)       (M, K) x (K, N)       -> (M, N)
//                      (B, M, K) x (B, K, N) -> (B, M, N)   one GEMM per batch
//                      (B, M, K) x (K, N)    -> (B, M, N)   one GEMM on (B*M, K)
//   linear(x, w, b)    (..., I), (O, I), (O,) -> (..., O)  = x w^T + b, one GEMM
//   transpose(x)       swaps the last two axes; transpose(x, a0, a1) any two
//
// All products go through Eigen's GEMM on Eigen::Map views of our buffers,
// except large Aᵀ B products (weight gradients) on AVX-512 machines, which go
// to ops/gemm_avx512.hpp (see detail::gemm). The maps say RowMajor explicitly: Eigen's default is column-major, and
// mapping a row-major buffer without it silently transposes everything.
// Eigen's GEMM may use its own OpenMP threads, so nothing here calls it from
// inside a parallel_for (the two would nest).

// GCC 12 reports false -W(maybe-)uninitialized warnings inside the AVX-512 intrinsics
// that Eigen's GEMM inlines (GCC PR 105593, fixed in GCC 13), which breaks
// -Werror builds. The warning is judged at the intrinsic headers' own lines,
// so this silences it only when Eigen is first included here (as it is
// through legato.hpp and ops.hpp); a compiler flag would be the real fix.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#endif
#include <Eigen/Core>

#include "legato/ops/elementwise.hpp"
#include "legato/ops/gemm_avx512.hpp"
#include "legato/ops/shape.hpp"

namespace legato {

namespace detail {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;

inline ConstMatrixMap as_matrix(const float* p, std::int64_t rows, std::int64_t cols) {
  return ConstMatrixMap(p, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
}
inline MatrixMap as_matrix(float* p, std::int64_t rows, std::int64_t cols) {
  return MatrixMap(p, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
}

// The one GEMM every product here goes through:
//   C (M, N) = op(A) op(B), with op(X) = X or X^T, and A, B, C row-major.
// A is (M, K) or, when transpose_a, stored as (K, M); likewise B.
inline void gemm(const float* a, bool transpose_a, const float* b, bool transpose_b, float* c, std::int64_t m,
                 std::int64_t k, std::int64_t n) {
#if defined(__AVX512F__)
  // Aᵀ B summed over many rows (k >= 256) with at least one register strip
  // of rows (m >= 6) is a weight gradient (dW = Gᵀ X). Eigen splits it badly
  // between threads; the packed kernel of gemm_avx512.hpp takes it when the
  // work pays for its packing. The LSTM head's dW (45 × 4096 × 256): 0.64 ms
  // against Eigen's 2.31 ms on 2 threads (bench/RESULTS.md). Short sums (a
  // conv's dx, k = channels) stay with Eigen, which is faster there.
  if (transpose_a && !transpose_b && n % 16 == 0 && k >= 256 && m >= 6 && m * n * k >= (std::int64_t(1) << 20)) {
    gemm_avx512::gemm_at_b(a, m, b, n, c, n, m, n, k, /*accumulate=*/false);
    return;
  }
#endif
  auto C = as_matrix(c, m, n);
  const auto A = transpose_a ? as_matrix(a, k, m) : as_matrix(a, m, k);
  const auto B = transpose_b ? as_matrix(b, n, k) : as_matrix(b, k, n);
  if (!transpose_a && !transpose_b) C.noalias() = A * B;
  else if (!transpose_a && transpose_b) C.noalias() = A * B.transpose();
  else if (transpose_a && !transpose_b) C.noalias() = A.transpose() * B;
  else C.noalias() = A.transpose() * B.transpose();
}

[[noreturn]] inline void fail_matmul(const Tensor& a, const Tensor& b) {
  fail("matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()), " are incompatible");
}

}  // namespace detail

// --------------------------------------------------------------- matmul ----

// See the table at the top. Gradients: dA = g B^T and dB = A^T g, per batch;
// for (B, M, K) x (K, N), dB sums over the batch, which the single GEMM on
// (B*M, K)^T x (B*M, N) does by itself.
inline Tensor matmul(const Tensor& a, const Tensor& b) {
  [[maybe_unused]] const Device device = common_device("matmul", a, b);
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const bool batched = sa.size() == 3 && sb.size() == 3;
  const bool shared_b = sa.size() == 3 && sb.size() == 2;  // (B, M, K) x (K, N)
  if (!(sa.size() == 2 && sb.size() == 2) && !batched && !shared_b) detail::fail_matmul(a, b);
  if (batched && sa[0] != sb[0]) detail::fail_matmul(a, b);
  const std::int64_t K = sa.back();
  if (sb[sb.size() - 2] != K) detail::fail_matmul(a, b);
  const std::int64_t N = sb.back();
  const std::int64_t M = sa[sa.size() - 2];
  // Separate GEMMs per batch only for (B, M, K) x (B, K, N); the other two
  // cases are a single GEMM over every row of a.
  const std::int64_t batches = batched ? sa[0] : 1;
  const std::int64_t all_rows = shared_b ? sa[0] * M : M;  // rows of a per GEMM

  Shape shape = sa;
  shape.back() = N;
#ifdef LEGATO_CUDA
  if (device == Device::cuda) return on_cuda::matmul(a, b, batches, all_rows, K, N, shape);
#endif
  detail::check_cpu(a, "matmul");
  Tensor out = Tensor::empty(shape);
  for (std::int64_t i = 0; i < batches; ++i)
    detail::gemm(a.data() + i * M * K, false, b.data() + i * K * N, false, out.data() + i * M * N, all_rows, K, N);

  record(out, "matmul", {a, b}, [batches, all_rows, K, N](const Inputs& in, const Tensor&, const Tensor& g) {
    Grads grads(2);
    if (in[0].requires_grad()) {  // dA (rows, K) = g (rows, N) x B^T
      grads[0] = Tensor::empty(in[0].shape());
      for (std::int64_t i = 0; i < batches; ++i)
        detail::gemm(g.data() + i * all_rows * N, false, in[1].data() + i * K * N, true,
                     grads[0].data() + i * all_rows * K, all_rows, N, K);
    }
    if (in[1].requires_grad()) {  // dB (K, N) = A^T (K, rows) x g (rows, N)
      grads[1] = Tensor::empty(in[1].shape());
      for (std::int64_t i = 0; i < batches; ++i)
        detail::gemm(in[0].data() + i * all_rows * K, true, g.data() + i * all_rows * N, false,
                     grads[1].data() + i * K * N, K, all_rows, N);
    }
    return grads;
  });
  return out;
}

// -------------------------------------------------------------- transpose ----

// Swaps two axes (negative counts from the end). Tensors are contiguous, so
// this copies. Gradient: the same swap applied to g.
inline Tensor transpose(const Tensor& x, int axis0, int axis1) {
  const int a0 = normalize_axis(axis0, x.shape().size(), "transpose");
  const int a1 = normalize_axis(axis1, x.shape().size(), "transpose");
  Shape shape = x.shape();
  std::swap(shape[std::size_t(a0)], shape[std::size_t(a1)]);
#ifdef LEGATO_CUDA
  const int rank = x.dim();  // on the GPU: the last two axes, (batches, R, C) -> (batches, C, R)
  if (!x.is_cpu() && rank >= 2 && std::min(a0, a1) == rank - 2 && std::max(a0, a1) == rank - 1) {
    const std::int64_t R = x.shape()[std::size_t(rank - 2)], C = x.shape()[std::size_t(rank - 1)];
    return on_cuda::transpose_last(x, R * C == 0 ? 0 : x.numel() / (R * C), R, C, shape);
  }
#endif
  detail::check_cpu(x, "transpose");
  Tensor out = Tensor::empty(shape);
  // Walk the output in order, stepping through x with x's strides permuted.
  // Both shapes are padded on the left to rank 4 (the pad has size 1).
  const std::size_t pad = 4 - shape.size();
  const auto dims = padded_dims(shape);
  const auto x_dims = padded_dims(x.shape());
  std::array<std::int64_t, 4> x_strides{};
  std::int64_t stride = 1;
  for (std::size_t k = 4; k-- > 0;) {
    x_strides[k] = stride;
    stride *= x_dims[k];
  }
  std::swap(x_strides[pad + std::size_t(a0)], x_strides[pad + std::size_t(a1)]);
  const float* src = x.data();
  float* dst = out.data();
  std::int64_t o = 0;
  for (std::int64_t i0 = 0; i0 < dims[0]; ++i0)
    for (std::int64_t i1 = 0; i1 < dims[1]; ++i1)
      for (std::int64_t i2 = 0; i2 < dims[2]; ++i2)
        for (std::int64_t i3 = 0; i3 < dims[3]; ++i3)
          dst[o++] = src[i0 * x_strides[0] + i1 * x_strides[1] + i2 * x_strides[2] + i3 * x_strides[3]];
  record(out, "transpose", {x}, [a0, a1](const Inputs&, const Tensor&, const Tensor& g) {
    return Grads{transpose(g, a0, a1)};
  });
  return out;
}

// Swaps the last two axes: (B, M, N) -> (B, N, M).
inline Tensor transpose(const Tensor& x) {
  check(x.dim() >= 2, "transpose: needs at least 2 dimensions, got shape ", shape_str(x.shape()));
  return transpose(x, -2, -1);
}

// ----------------------------------------------------------------- linear ----

// x (..., I), w (O, I), optional b (O,) -> (..., O): y = x w^T + b, as one GEMM
// over all leading positions flattened to R rows (PyTorch's nn.Linear layout).
// Gradients, with X (R, I) and G (R, O):
//   dX = G W (R, I),   dW = G^T X (O, I),   db = column sums of G (O,).
inline Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor()) {
  [[maybe_unused]] const Device device = common_device("linear", x, w, b);
  check(w.dim() == 2 && x.dim() >= 1 && x.shape().back() == w.shape()[1], "linear: input ", shape_str(x.shape()),
        " and weight ", shape_str(w.shape()), " are incompatible (expected (..., I) and (O, I))");
  const std::int64_t I = w.shape()[1], O = w.shape()[0];
  if (b.defined()) {
    check(b.shape() == Shape{O}, "linear: bias ", shape_str(b.shape()), " does not match weight ",
          shape_str(w.shape()), " (expected (", O, ",))");
  }
  const std::int64_t R = numel_of(Shape(x.shape().begin(), x.shape().end() - 1));  // leading positions
  Shape shape = x.shape();
  shape.back() = O;
#ifdef LEGATO_CUDA
  if (device == Device::cuda) return on_cuda::linear(x, w, b, R, I, O, shape);
#endif
  detail::check_cpu(x, "linear");
  Tensor out = Tensor::empty(shape);
  detail::gemm(x.data(), false, w.data(), true, out.data(), R, I, O);
  if (b.defined()) detail::as_matrix(out.data(), R, O).rowwise() += detail::as_matrix(b.data(), 1, O).row(0);

  record(out, "linear", {x, w, b}, [R, I, O](const Inputs& in, const Tensor&, const Tensor& g) {
    Grads grads(3);
    if (in[0].requires_grad()) {
      grads[0] = Tensor::empty(in[0].shape());
      detail::gemm(g.data(), false, in[1].data(), false, grads[0].data(), R, O, I);
    }
    if (in[1].requires_grad()) {
      grads[1] = Tensor::empty(in[1].shape());
      detail::gemm(g.data(), true, in[0].data(), false, grads[1].data(), O, R, I);
    }
    if (in[2].defined() && in[2].requires_grad()) {
      grads[2] = Tensor::empty({O});
      detail::as_matrix(grads[2].data(), 1, O).row(0) = detail::as_matrix(g.data(), R, O).colwise().sum();
    }
    return grads;
  });
  return out;
}

// ------------------------------------------------------ references -------
// Triple loops in double.

inline Tensor matmul_ref(const Tensor& a, const Tensor& b) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const std::int64_t batches = sa.size() == 3 ? sa[0] : 1;
  const std::int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
  const bool b_batched = sb.size() == 3;
  Shape shape = sa;
  shape.back() = N;
  Tensor out = Tensor::empty(shape);
  for (std::int64_t t = 0; t < batches; ++t)
    for (std::int64_t i = 0; i < M; ++i)
      for (std::int64_t j = 0; j < N; ++j) {
        double acc = 0.0;
        for (std::int64_t k = 0; k < K; ++k)
          acc += double(a.data()[(t * M + i) * K + k]) * b.data()[((b_batched ? t : 0) * K + k) * N + j];
        out.data()[(t * M + i) * N + j] = static_cast<float>(acc);
      }
  return out;
}

inline Tensor transpose_ref(const Tensor& x, int axis0, int axis1) {
  const int a0 = normalize_axis(axis0, x.shape().size(), "transpose_ref");
  const int a1 = normalize_axis(axis1, x.shape().size(), "transpose_ref");
  Shape shape = x.shape();
  std::swap(shape[std::size_t(a0)], shape[std::size_t(a1)]);
  Tensor out = Tensor::empty(shape);
  for (std::int64_t o = 0; o < out.numel(); ++o) {
    auto index = detail::unravel(o, shape);
    std::swap(index[std::size_t(a0)], index[std::size_t(a1)]);
    out.data()[o] = x.data()[detail::ravel(index, x.shape())];
  }
  return out;
}

inline Tensor linear_ref(const Tensor& x, const Tensor& w, const Tensor& b = Tensor()) {
  const std::int64_t O = w.shape()[0], I = w.shape()[1];
  const std::int64_t R = numel_of(Shape(x.shape().begin(), x.shape().end() - 1));
  Shape shape = x.shape();
  shape.back() = O;
  Tensor out = Tensor::empty(shape);
  for (std::int64_t r = 0; r < R; ++r)
    for (std::int64_t o = 0; o < O; ++o) {
      double acc = b.defined() ? b.data()[o] : 0.0;
      for (std::int64_t i = 0; i < I; ++i) acc += double(x.data()[r * I + i]) * w.data()[o * I + i];
      out.data()[r * O + o] = static_cast<float>(acc);
    }
  return out;
}

}  // namespace legato
