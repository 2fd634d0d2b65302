#pragma once
// The Tensor ops on the GPU: what an op of ops/*.hpp runs when its inputs
// live on Device::cuda. Each function here is the device twin of the op of
// the same name, forward and backward side by side, written on legato's
// CUDA kernels (include/legato/cuda/*.hpp, kernels/*.cu). The ops check
// their arguments (shapes, ranges) as on the CPU, ask common_device() where
// their inputs are, and hand over here; an op with no twin stops with "this
// op runs on the cpu only".
//
// The backward closures call the kernels directly rather than other ops, so
// this header depends on no op header. Results are fresh device tensors;
// nothing is copied to the host except a loss that item() reads.
//
// Compiled only in programs built with LEGATO_CUDA (which link legato::cuda).

#ifdef LEGATO_CUDA

#include <cstdint>
#include <memory>

#include "legato/autograd.hpp"
#include "legato/cuda/cuda.hpp"
#include "legato/cuda/tensor_device.hpp"

namespace legato::on_cuda {

inline cuda::Dims dims(const Shape& shape) { return cuda::Dims(shape.begin(), shape.end()); }
inline Tensor empty(const Shape& shape) { return Tensor::empty(shape, Device::cuda); }

// ----------------------------------------------------------- elementwise ----

// g summed down to shape `to`: the gradient of broadcasting.
inline Tensor sum_to(const Tensor& g, const Shape& to) {
  if (g.shape() == to) return g;
  Tensor out = empty(to);
  cuda::sum_to(g.data(), dims(g.shape()), dims(to), out.data());
  return out;
}

// alpha x + beta, no graph.
inline Tensor affine_raw(const Tensor& x, float alpha, float beta) {
  Tensor out = empty(x.shape());
  cuda::affine(x.data(), x.numel(), alpha, beta, out.data());
  return out;
}

// a (op) b with broadcasting, no graph.
inline Tensor binary_raw(cuda::BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  const cuda::Dims shape = cuda::broadcast_shape(dims(a.shape()), dims(b.shape()), name);
  Tensor out = empty(Shape(shape.begin(), shape.end()));
  cuda::binary(op, a.data(), dims(a.shape()), b.data(), dims(b.shape()), out.data());
  return out;
}

// add, sub, mul, div with broadcasting. Gradients as on the CPU
// (ops/elementwise.hpp), each summed back to its input's shape.
inline Tensor binary(cuda::BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  using Op = cuda::BinaryOp;
  check(op == Op::add || op == Op::sub || op == Op::mul || op == Op::div, name, ": no GPU version");
  Tensor out = binary_raw(op, a, b, name);
  record(out, name, {a, b}, [op, name](const Inputs& in, const Tensor& out, const Tensor& g) {
    const Tensor& x = in[0];
    const Tensor& y = in[1];
    Grads grads(2);
    if (x.requires_grad())  // d/dx: g for add and sub, g·y for mul, g / y for div
      grads[0] = on_cuda::sum_to(op == Op::mul || op == Op::div ? binary_raw(op, g, y, name) : g, x.shape());
    if (y.requires_grad()) {  // d/dy: g, -g, g·x, -g·out / y
      if (op == Op::add) grads[1] = on_cuda::sum_to(g, y.shape());
      if (op == Op::sub) grads[1] = affine_raw(on_cuda::sum_to(g, y.shape()), -1.f, 0.f);
      if (op == Op::mul) grads[1] = on_cuda::sum_to(binary_raw(Op::mul, g, x, name), y.shape());
      if (op == Op::div) {
        const Tensor g_out_over_y = binary_raw(Op::div, binary_raw(Op::mul, g, out, name), y, name);
        grads[1] = affine_raw(on_cuda::sum_to(g_out_over_y, y.shape()), -1.f, 0.f);
      }
    }
    return grads;
  });
  return out;
}

// alpha x + beta (the scalar variants: x + s, x · s). Gradient: alpha g.
inline Tensor affine(const Tensor& x, float alpha, float beta, const char* name) {
  Tensor out = affine_raw(x, alpha, beta);
  record(out, name, {x}, [alpha](const Inputs&, const Tensor&, const Tensor& g) {
    return Grads{affine_raw(g, alpha, 0.f)};
  });
  return out;
}

// neg, exp, log, sqrt, abs, tanh, sigmoid, relu. Gradient: g · f'(x), from x
// and the saved output (cuda::unary_backward).
inline Tensor unary(cuda::UnaryOp op, const Tensor& x, const char* name) {
  Tensor out = empty(x.shape());
  cuda::unary(op, x.data(), x.numel(), out.data());
  record(out, name, {x}, [op](const Inputs& in, const Tensor& out, const Tensor& g) {
    Tensor dx = empty(in[0].shape());
    cuda::unary_backward(op, in[0].data(), out.data(), g.data(), g.numel(), dx.data());
    return Grads{dx};
  });
  return out;
}

// ------------------------------------------------------------ products ----

// out (batches · rows, N) = a (batches · rows, K) b, per batch: b holds one
// (K, N) matrix per batch, or batches = 1 and the caller (ops/matmul.hpp)
// has folded a shared b's batch into the rows. Gradients: da = g bᵀ and
// db = aᵀ g, per batch (for a shared b, its one GEMM sums over every row).
inline Tensor matmul(const Tensor& a, const Tensor& b, std::int64_t batches, std::int64_t rows, std::int64_t K,
                     std::int64_t N, const Shape& shape) {
  const std::int64_t b_stride = batches > 1 ? K * N : 0;
  Tensor out = empty(shape);
  for (std::int64_t i = 0; i < batches; ++i)
    cuda::gemm(false, false, rows, N, K, 1.f, a.data() + i * rows * K, b.data() + i * b_stride, 0.f,
               out.data() + i * rows * N);
  record(out, "matmul", {a, b}, [=](const Inputs& in, const Tensor&, const Tensor& g) {
    Grads grads(2);
    if (in[0].requires_grad()) {
      grads[0] = empty(in[0].shape());
      for (std::int64_t i = 0; i < batches; ++i)
        cuda::gemm(false, true, rows, K, N, 1.f, g.data() + i * rows * N, in[1].data() + i * b_stride, 0.f,
                   grads[0].data() + i * rows * K);
    }
    if (in[1].requires_grad()) {
      grads[1] = empty(in[1].shape());
      for (std::int64_t i = 0; i < batches; ++i)
        cuda::gemm(true, false, K, N, rows, 1.f, in[0].data() + i * rows * K, g.data() + i * rows * N, 0.f,
                   grads[1].data() + i * b_stride);
    }
    return grads;
  });
  return out;
}

// y (R, O) = x (R, I) wᵀ + b. Gradients: dx = g w, dw = gᵀ x, db = column sums of g.
inline Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t R, std::int64_t I,
                     std::int64_t O, const Shape& shape) {
  Tensor out = empty(shape);
  cuda::gemm(false, true, R, O, I, 1.f, x.data(), w.data(), 0.f, out.data());
  if (b.defined()) out = binary_raw(cuda::BinaryOp::add, out, b, "linear");
  record(out, "linear", {x, w, b}, [R, I, O](const Inputs& in, const Tensor&, const Tensor& g) {
    Grads grads(3);
    if (in[0].requires_grad()) {
      grads[0] = empty(in[0].shape());
      cuda::gemm(false, false, R, I, O, 1.f, g.data(), in[1].data(), 0.f, grads[0].data());
    }
    if (in[1].requires_grad()) {
      grads[1] = empty(in[1].shape());
      cuda::gemm(true, false, O, I, R, 1.f, g.data(), in[0].data(), 0.f, grads[1].data());
    }
    if (in[2].defined() && in[2].requires_grad()) {
      grads[2] = empty({O});
      cuda::sum_axis(g.data(), 1, R, O, grads[2].data());
    }
    return grads;
  });
  return out;
}

// Swaps the last two axes of (batches, R, C). Gradient: the same swap of g.
inline Tensor transpose_last(const Tensor& x, std::int64_t batches, std::int64_t R, std::int64_t C,
                             const Shape& shape) {
  Tensor out = empty(shape);
  for (std::int64_t i = 0; i < batches; ++i)
    cuda::transpose(x.data() + i * R * C, R, C, out.data() + i * R * C);
  record(out, "transpose", {x}, [=](const Inputs& in, const Tensor&, const Tensor& g) {
    Tensor dx = empty(in[0].shape());
    for (std::int64_t i = 0; i < batches; ++i)
      cuda::transpose(g.data() + i * R * C, C, R, dx.data() + i * R * C);
    return Grads{dx};
  });
  return out;
}

// ------------------------------------------------------------ reductions ----

// Sum (or mean) of x seen as (outer, n, inner) along n, into `shape`
// (everything: outer = inner = 1, shape ()). Gradient: g spread along n
// (times 1/n for the mean).
inline Tensor sum_axis(const Tensor& x, std::int64_t outer, std::int64_t n, std::int64_t inner, bool mean,
                       const Shape& shape, const char* name) {
  Tensor out = empty(shape);
  if (outer == 1 && inner == 1) {  // a total: the deterministic tree
    cuda::sum_all(x.data(), n, out.data());
    if (mean) cuda::affine(out.data(), 1, 1.f / static_cast<float>(n), 0.f, out.data());
  } else {
    cuda::sum_axis(x.data(), outer, n, inner, out.data(), mean);
  }
  record(out, name, {x}, [=](const Inputs& in, const Tensor&, const Tensor& g) {
    Tensor dx = empty(in[0].shape());
    cuda::sum_axis_backward(g.data(), outer, n, inner, dx.data(), mean);
    return Grads{dx};
  });
  return out;
}

// softmax or log_softmax along the last axis (rows of V).
inline Tensor softmax(const Tensor& x, bool log, const char* name) {
  const std::int64_t V = x.shape().back(), rows = V > 0 ? x.numel() / V : 0;
  Tensor out = empty(x.shape());
  cuda::softmax_forward(x.data(), rows, V, out.data(), log);
  record(out, name, {x}, [rows, V, log](const Inputs& in, const Tensor& out, const Tensor& g) {
    Tensor dx = empty(in[0].shape());
    cuda::softmax_backward(out.data(), g.data(), rows, V, dx.data(), log);
    return Grads{dx};
  });
  return out;
}

// Mean cross-entropy of logits (N, V) against targets (N), rows whose target
// is ignore_index left out (kernels/cross_entropy.cu). The targets go to the
// device once; the closure keeps them with the per-row log-sum-exp.
inline Tensor cross_entropy(const Tensor& logits, const Ids& targets, int ignore_index) {
  const std::int64_t N = logits.shape()[0], V = logits.shape()[1];
  auto ids = std::make_shared<cuda::IntBuffer>(static_cast<std::size_t>(N));
  cuda::copy_ints_to_device(ids->data(), targets.values.data(), static_cast<std::size_t>(N));
  auto lse = std::make_shared<cuda::Buffer>(static_cast<std::size_t>(N));
  auto count = std::make_shared<cuda::Buffer>(1);
  Tensor loss = empty({});
  cuda::cross_entropy_forward(logits.data(), ids->data(), N, V, ignore_index, loss.data(), lse->data(),
                              count->data());
  record(loss, "cross_entropy", {logits},
         [ids, lse, count, N, V, ignore_index](const Inputs& in, const Tensor&, const Tensor& g) {
           Tensor dx = empty(in[0].shape());
           cuda::cross_entropy_backward(in[0].data(), ids->data(), lse->data(), count->data(), g.data(), N, V,
                                        ignore_index, dx.data());
           return Grads{dx};
         });
  return loss;
}

}  // namespace legato::on_cuda

#endif  // LEGATO_CUDA
